package translog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const logName = "vigil.example/log"

func entry(t testing.TB, i int, variant string) []byte {
	t.Helper()
	h := testHunt(fmt.Sprintf("h%d%s", i, variant))
	b, err := h.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newTestLog(t testing.TB, st Storage, signer note.Signer) *Log {
	t.Helper()
	l, err := New(st, signer)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func appendN(t testing.TB, l *Log, from, to int, variant string) {
	t.Helper()
	for i := from; i < to; i++ {
		idx, err := l.Append(context.Background(), KindHunt, entry(t, i, variant))
		if err != nil {
			t.Fatal(err)
		}
		if idx != int64(i) {
			t.Fatalf("Append = %d, want %d", idx, i)
		}
	}
}

func TestAppendRefusesBadEntries(t *testing.T) {
	s, _, _ := testKey(t, logName)
	l := newTestLog(t, NewMemoryStorage(), s)
	ctx := context.Background()
	good := entry(t, 0, "")
	for name, c := range map[string]struct {
		kind string
		b    []byte
	}{
		"kind mismatch": {KindApproval, good},
		"unknown kind":  {"other", []byte(strings.Replace(string(good), "kind hunt", "kind other", 1))},
		"non-canonical": {KindHunt, []byte(strings.Replace(string(good), "max-files 1000", "max-files 01000", 1))},
		"garbage":       {KindHunt, []byte("hello")},
	} {
		if _, err := l.Append(ctx, c.kind, c.b); err == nil {
			t.Errorf("%s: appended", name)
		}
	}
	if n, _ := l.Size(ctx); n != 0 {
		t.Fatalf("size %d after refused appends", n)
	}
}

func TestInclusionEveryIndex(t *testing.T) {
	ctx := context.Background()
	s, v, _ := testKey(t, logName)
	l := newTestLog(t, NewMemoryStorage(), s)
	ver := NewVerifier(v)
	sizes := map[int]bool{1: true, 2: true, 3: true, 7: true, 8: true, 9: true, 16: true, 17: true, 33: true}
	for i := 0; i < 33; i++ {
		appendN(t, l, i, i+1, "")
		if !sizes[i+1] {
			continue
		}
		cp, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tree, err := ver.VerifyCheckpoint(cp)
		if err != nil {
			t.Fatal(err)
		}
		if tree.N != int64(i+1) {
			t.Fatalf("checkpoint size %d, want %d", tree.N, i+1)
		}
		for j := int64(0); j < tree.N; j++ {
			// Against the current tree and against every smaller size.
			for _, ts := range []int64{tree.N, j + 1} {
				p, err := l.InclusionProof(ctx, j, ts)
				if err != nil {
					t.Fatal(err)
				}
				th, err := tlog.TreeHash(ts, tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
					return l.Storage().ReadHashes(ctx, ix)
				}))
				if err != nil {
					t.Fatal(err)
				}
				e, err := l.Entry(ctx, j)
				if err != nil {
					t.Fatal(err)
				}
				if err := ver.VerifyEntry(e, j, p, tlog.Tree{N: ts, Hash: th}); err != nil {
					t.Fatalf("entry %d in tree %d: %v", j, ts, err)
				}
				// A tampered entry, or the right entry at another index, fails.
				bad := append([]byte(nil), e...)
				bad[len(bad)-2] ^= 1
				if err := ver.VerifyEntry(bad, j, p, tlog.Tree{N: ts, Hash: th}); err == nil {
					t.Fatalf("tampered entry %d verified", j)
				}
				if ts > 1 {
					other := (j + 1) % ts
					if err := ver.VerifyEntry(e, other, p, tlog.Tree{N: ts, Hash: th}); err == nil {
						t.Fatalf("entry %d verified at index %d", j, other)
					}
				}
			}
		}
	}
	if _, err := l.InclusionProof(ctx, 33, 33); err == nil {
		t.Fatal("proof for an index outside the tree")
	}
	if _, err := l.InclusionProof(ctx, 0, 34); err == nil {
		t.Fatal("proof for a tree larger than the log")
	}
}

func TestConsistencyAcrossGrowth(t *testing.T) {
	ctx := context.Background()
	s, v, _ := testKey(t, logName)
	l := newTestLog(t, NewMemoryStorage(), s)
	ver := NewVerifier(v)
	var cps [][]byte
	var trees []tlog.Tree
	prev := int64(0)
	for _, size := range []int{0, 1, 2, 5, 8, 13, 32, 33, 50} {
		appendN(t, l, int(prev), size, "")
		cp, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, trusted := ver.Trusted()
		p, err := l.ConsistencyProof(ctx, trusted.N, int64(size))
		if err != nil {
			t.Fatal(err)
		}
		if err := ver.Advance(cp, p); err != nil {
			t.Fatalf("advance to %d: %v", size, err)
		}
		if _, tr := ver.Trusted(); tr.N != int64(size) {
			t.Fatalf("trusted size %d, want %d", tr.N, size)
		}
		tree, _ := ver.VerifyCheckpoint(cp)
		cps, trees = append(cps, cp), append(trees, tree)
		prev = int64(size)
	}
	// Every pair of checkpoints is consistent through a proof from the log.
	for i := range trees {
		for j := i; j < len(trees); j++ {
			p, err := l.ConsistencyProof(ctx, trees[i].N, trees[j].N)
			if err != nil {
				t.Fatal(err)
			}
			if err := consistent(trees[i], trees[j], p); err != nil {
				t.Fatalf("%d -> %d: %v", trees[i].N, trees[j].N, err)
			}
			if trees[i].N > 0 && trees[i].N < trees[j].N && len(p) > 0 {
				bad := append(tlog.TreeProof(nil), p...)
				bad[0][0] ^= 1
				if err := consistent(trees[i], trees[j], bad); err == nil {
					t.Fatalf("%d -> %d: damaged proof accepted", trees[i].N, trees[j].N)
				}
			}
		}
	}
	// An older checkpoint, consistent, is accepted without moving back.
	p, _ := l.ConsistencyProof(ctx, trees[3].N, trees[len(trees)-1].N)
	if err := ver.Advance(cps[3], p); err != nil {
		t.Fatal(err)
	}
	if _, tr := ver.Trusted(); tr.N != 50 {
		t.Fatalf("trusted moved back to %d", tr.N)
	}
	// State survives marshalling.
	v2 := NewVerifier(v)
	if err := v2.UnmarshalState(ver.MarshalState()); err != nil {
		t.Fatal(err)
	}
	if _, tr := v2.Trusted(); tr != trees[len(trees)-1] {
		t.Fatalf("restored %v", tr)
	}
	st := ver.MarshalState()
	st[len(logName)+2] ^= 1 // damage the size line
	if err := v2.UnmarshalState(st); err == nil {
		t.Fatal("damaged state restored")
	}
}

// forkedLogs returns two logs under the same key sharing the first shared
// entries, then holding different entries up to sizes a and b.
func forkedLogs(t *testing.T, shared, a, b int) (*Log, *Log, note.Verifier) {
	s, v, _ := testKey(t, logName)
	la := newTestLog(t, NewMemoryStorage(), s)
	lb := newTestLog(t, NewMemoryStorage(), s)
	appendN(t, la, 0, shared, "")
	appendN(t, lb, 0, shared, "")
	appendN(t, la, shared, a, "a")
	appendN(t, lb, shared, b, "b")
	return la, lb, v
}

func TestForkDetected(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ shared, a, b int }{{3, 5, 6}, {3, 6, 5}, {4, 7, 7}, {0, 2, 3}} {
		t.Run(fmt.Sprintf("%d-%d-%d", c.shared, c.a, c.b), func(t *testing.T) {
			la, lb, v := forkedLogs(t, c.shared, c.a, c.b)
			cpa, _ := la.Checkpoint(ctx)
			cpb, _ := lb.Checkpoint(ctx)
			agent := NewVerifier(v)
			if err := agent.Advance(cpa, nil); err != nil {
				t.Fatal(err)
			}
			// The best proof log b can give from a's size (or to it).
			lo, hi := int64(c.a), int64(c.b)
			if lo > hi {
				lo, hi = hi, lo
			}
			// Log b cannot prove its smaller tree is a prefix of a's larger
			// one; try the proof log a gives for its own prefix of that size.
			prover := lb
			if c.a > c.b {
				prover = la
			}
			p, err := prover.ConsistencyProof(ctx, lo, hi)
			if err != nil {
				t.Fatal(err)
			}
			err = agent.Advance(cpb, p)
			var fe *ForkError
			if !errors.As(err, &fe) {
				t.Fatalf("Advance = %v, want a ForkError", err)
			}
			if string(fe.Trusted) != string(cpa) || string(fe.Offered) != string(cpb) {
				t.Fatal("ForkError does not carry both checkpoints")
			}
			if fe.Proven != (c.a == c.b) {
				t.Fatalf("Proven = %v", fe.Proven)
			}
			if _, tr := agent.Trusted(); tr.N != int64(c.a) {
				t.Fatal("trusted checkpoint changed after a fork")
			}
			// Both evidence notes verify under the log key.
			for _, cp := range [][]byte{fe.Trusted, fe.Offered} {
				if _, err := NewVerifier(v).VerifyCheckpoint(cp); err != nil {
					t.Fatal(err)
				}
			}
			// A witness that saw log a refuses to cosign log b.
			ws, _, _ := testKey(t, "witness.example/w1")
			wv := NewVerifier(v)
			if _, err := Cosign(ws, wv, cpa, nil); err != nil {
				t.Fatal(err)
			}
			out, err := Cosign(ws, wv, cpb, p)
			if !errors.As(err, &fe) || out != nil {
				t.Fatalf("Cosign of a fork = %q, %v", out, err)
			}
		})
	}
}

func TestForeignKeyRefused(t *testing.T) {
	ctx := context.Background()
	s, v, _ := testKey(t, logName)
	other, _, _ := testKey(t, logName) // same name, different key
	third, _, _ := testKey(t, "evil.example/log")
	ver := NewVerifier(v)
	for name, signer := range map[string]note.Signer{"same name": other, "other name": third} {
		l := newTestLog(t, NewMemoryStorage(), signer)
		appendN(t, l, 0, 2, "")
		cp, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ver.VerifyCheckpoint(cp); err == nil {
			t.Errorf("%s: foreign checkpoint verified", name)
		}
		if err := ver.Advance(cp, nil); err == nil {
			t.Errorf("%s: foreign checkpoint advanced", name)
		}
	}
	// A checkpoint signed by the right key but naming another origin.
	text := FormatCheckpoint("other.example/log", tlog.Tree{N: 0})
	cp, err := note.Sign(&note.Note{Text: string(text)}, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ver.VerifyCheckpoint(cp); err == nil {
		t.Fatal("checkpoint of another origin verified")
	}
	// A genuine checkpoint with its text altered.
	l := newTestLog(t, NewMemoryStorage(), s)
	appendN(t, l, 0, 3, "")
	good, _ := l.Checkpoint(ctx)
	if _, err := ver.VerifyCheckpoint(good); err != nil {
		t.Fatal(err)
	}
	bad := []byte(strings.Replace(string(good), "\n3\n", "\n2\n", 1))
	if _, err := ver.VerifyCheckpoint(bad); err == nil {
		t.Fatal("altered checkpoint verified")
	}
}

func TestWitnesses(t *testing.T) {
	ctx := context.Background()
	s, v, _ := testKey(t, logName)
	l := newTestLog(t, NewMemoryStorage(), s)
	appendN(t, l, 0, 4, "")
	cp, _ := l.Checkpoint(ctx)

	var wsigners []note.Signer
	var wverifs []note.Verifier
	var wviews []*Verifier
	for i := 0; i < 3; i++ {
		ws, wv, _ := testKey(t, fmt.Sprintf("witness.example/w%d", i))
		wsigners, wverifs, wviews = append(wsigners, ws), append(wverifs, wv), append(wviews, NewVerifier(v))
	}
	agent := NewVerifier(v)
	if err := agent.RequireWitnesses(2, wverifs...); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.VerifyCheckpoint(cp); err == nil {
		t.Fatal("checkpoint with no cosignature accepted")
	}
	one, err := Cosign(wsigners[0], wviews[0], cp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := agent.VerifyCheckpoint(one); err == nil {
		t.Fatal("checkpoint with 1 of 2 cosignatures accepted")
	}
	// The same witness signing twice still counts once.
	again, err := Cosign(wsigners[0], wviews[0], one, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := agent.VerifyCheckpoint(again); err == nil {
		t.Fatal("one witness counted twice")
	}
	// A cosignature by an unknown witness does not count.
	us, _, _ := testKey(t, "witness.example/unknown")
	unk, err := Cosign(us, NewVerifier(v), one, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := agent.VerifyCheckpoint(unk); err == nil {
		t.Fatal("unknown witness counted")
	}
	two, err := Cosign(wsigners[2], wviews[2], unk, nil)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := agent.VerifyCheckpoint(two)
	if err != nil {
		t.Fatalf("2 of 3 cosignatures refused: %v", err)
	}
	if tree.N != 4 {
		t.Fatalf("tree size %d", tree.N)
	}
	if err := agent.Advance(two, nil); err != nil {
		t.Fatal(err)
	}
	// A damaged cosignature by a known witness makes the note unacceptable.
	lines := strings.Split(string(two), "\n")
	damaged := false
	for i, line := range lines {
		if strings.HasPrefix(line, "— witness.example/w2 ") {
			b := []byte(line)
			k := len(b) - 10
			if b[k] == 'A' {
				b[k] = 'B'
			} else {
				b[k] = 'A'
			}
			lines[i], damaged = string(b), true
		}
	}
	if !damaged {
		t.Fatal("no w2 signature line")
	}
	if _, err := agent.VerifyCheckpoint([]byte(strings.Join(lines, "\n"))); err == nil {
		t.Fatal("damaged cosignature accepted")
	}
	if err := agent.RequireWitnesses(4, wverifs...); err == nil {
		t.Fatal("required more witnesses than known")
	}
}

func TestConcurrentAppend(t *testing.T) {
	ctx := context.Background()
	s, v, _ := testKey(t, logName)
	for name, st := range map[string]Storage{"memory": NewMemoryStorage(), "file": openFS(t, t.TempDir())} {
		t.Run(name, func(t *testing.T) {
			l := newTestLog(t, st, s)
			const workers, each = 8, 25
			var wg sync.WaitGroup
			idx := make([][]int64, workers)
			errs := make(chan error, workers)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := 0; i < each; i++ {
						n, err := l.Append(ctx, KindHunt, entry(t, w*1000+i, ""))
						if err != nil {
							errs <- err
							return
						}
						idx[w] = append(idx[w], n)
						if i%5 == 0 {
							if _, err := l.Checkpoint(ctx); err != nil {
								errs <- err
								return
							}
						}
					}
				}(w)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			seen := map[int64]bool{}
			for _, xs := range idx {
				for _, x := range xs {
					if seen[x] {
						t.Fatalf("index %d given twice", x)
					}
					seen[x] = true
				}
			}
			cp, err := l.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ver := NewVerifier(v)
			tree, err := ver.VerifyCheckpoint(cp)
			if err != nil {
				t.Fatal(err)
			}
			if tree.N != workers*each || len(seen) != workers*each {
				t.Fatalf("tree of %d, %d indexes", tree.N, len(seen))
			}
			for w, xs := range idx {
				for i, x := range xs {
					e, err := l.Entry(ctx, x)
					if err != nil {
						t.Fatal(err)
					}
					if string(e) != string(entry(t, w*1000+i, "")) {
						t.Fatalf("entry %d is not what was appended", x)
					}
					p, err := l.InclusionProof(ctx, x, tree.N)
					if err != nil {
						t.Fatal(err)
					}
					if err := ver.VerifyEntry(e, x, p, tree); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}

func BenchmarkAppend100k(b *testing.B) {
	ctx := context.Background()
	s, v, _ := testKey(b, logName)
	const n = 100_000
	entries := make([][]byte, n)
	for i := range entries {
		entries[i] = entry(b, i, "")
	}
	var appendTime, proofTime time.Duration
	proofs := 0
	for b.Loop() {
		l := newTestLog(b, NewMemoryStorage(), s)
		start := time.Now()
		for i := 0; i < n; i++ {
			if _, err := l.Append(ctx, KindHunt, entries[i]); err != nil {
				b.Fatal(err)
			}
		}
		appendTime += time.Since(start)
		start = time.Now()
		cp, err := l.Checkpoint(ctx)
		if err != nil {
			b.Fatal(err)
		}
		ver := NewVerifier(v)
		tree, err := ver.VerifyCheckpoint(cp)
		if err != nil {
			b.Fatal(err)
		}
		for i := int64(0); i < n; i += 97 {
			p, err := l.InclusionProof(ctx, i, n)
			if err != nil {
				b.Fatal(err)
			}
			if err := ver.VerifyEntry(entries[i], i, p, tree); err != nil {
				b.Fatal(err)
			}
			if _, err := l.ConsistencyProof(ctx, i+1, n); err != nil {
				b.Fatal(err)
			}
			proofs += 2
		}
		proofTime += time.Since(start)
	}
	b.ReportMetric(float64(n*b.N)/appendTime.Seconds(), "appends/s")
	b.ReportMetric(float64(proofs)/proofTime.Seconds(), "proofs/s")
}

func BenchmarkFileAppend(b *testing.B) {
	ctx := context.Background()
	s, _, _ := testKey(b, logName)
	l := newTestLog(b, openFS(b, b.TempDir()), s)
	e := entry(b, 0, "")
	for b.Loop() {
		if _, err := l.Append(ctx, KindHunt, e); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}
