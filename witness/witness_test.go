package witness

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"vigil/server/api"
	"vigil/translog"
)

func newKey(t *testing.T, name string) (note.Signer, note.Verifier, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v, vkey
}

func huntEntry(t *testing.T, id string) []byte {
	t.Helper()
	sum := sha256.Sum256([]byte("rule " + id + " { condition: true }"))
	h := &translog.HuntEntry{
		HuntID: id, RulesSHA256: hex.EncodeToString(sum[:]), Paths: []string{"/srv"},
		Requester: "alice", Why: "incident " + id,
		Created:   time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
		Expires:   time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
		LintClass: translog.LintCode, ApprovalsRequired: 1,
	}
	b, err := h.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// appendHunts appends hunt entries named prefix+i for i in [from, to).
func appendHunts(t *testing.T, l *translog.Log, prefix string, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if _, err := l.Append(context.Background(), translog.KindHunt, huntEntry(t, fmt.Sprintf("%s%d", prefix, i))); err != nil {
			t.Fatal(err)
		}
	}
}

func newLog(t *testing.T, s note.Signer) *translog.Log {
	t.Helper()
	l, err := translog.New(translog.NewMemoryStorage(), s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// fakeServer serves the public log routes of a Vigil server from a real
// translog.Log, which the test may swap for a forked one.
type fakeServer struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	log      *translog.Log
	key      string
	served   []byte   // the checkpoint served; a fresh one of the log when nil
	cosigns  [][]byte // bodies POSTed to /cosign
	witness  note.Verifier
	rejectCo bool
}

func newFakeServer(t *testing.T, l *translog.Log, key string) *fakeServer {
	f := &fakeServer{t: t, log: l, key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/log/key", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		json.NewEncoder(w).Encode(api.LogKey{Key: f.key, Origin: f.log.Origin()})
	})
	mux.HandleFunc("GET /api/v1/log/checkpoint", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.served == nil {
			cp, err := f.log.Checkpoint(r.Context())
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			f.served = cp
		}
		w.Write(f.served)
	})
	mux.HandleFunc("GET /api/v1/log/proof/tree", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		l := f.log
		f.mu.Unlock()
		old, _ := strconv.ParseInt(r.URL.Query().Get("old"), 10, 64)
		nw, _ := strconv.ParseInt(r.URL.Query().Get("new"), 10, 64)
		p, err := l.ConsistencyProof(r.Context(), old, nw)
		if err != nil {
			w.WriteHeader(400)
			json.NewEncoder(w).Encode(api.Error{Error: err.Error()})
			return
		}
		var out api.Proof
		for _, h := range p {
			out.Proof = append(out.Proof, append([]byte(nil), h[:]...))
		}
		json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("POST /api/v1/log/cosign", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		f.mu.Lock()
		defer f.mu.Unlock()
		f.cosigns = append(f.cosigns, b)
		if f.rejectCo {
			w.WriteHeader(403)
			json.NewEncoder(w).Encode(api.Error{Error: "unknown witness"})
			return
		}
		// Serve the cosigned note from now on, as the real server does.
		f.served = b
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// set swaps the log served and forgets the served checkpoint.
func (f *fakeServer) set(l *translog.Log) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log, f.served = l, nil
}

// refresh makes the server sign a new checkpoint of its log.
func (f *fakeServer) refresh() { f.set(f.log) }

func (f *fakeServer) posted() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.cosigns...)
}

func newWitness(t *testing.T, f *fakeServer, signer note.Signer, dir, logKey string) *Witness {
	t.Helper()
	w, err := New(Options{Server: f.srv.URL, Signer: signer, StateDir: dir, LogKey: logKey, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// checkCosigned checks that b is a checkpoint of size n signed by the log
// and by the witness.
func checkCosigned(t *testing.T, b []byte, logV, witV note.Verifier, n int64) {
	t.Helper()
	nt, err := note.Open(b, note.VerifierList(logV, witV))
	if err != nil {
		t.Fatalf("cosigned note does not verify: %v\n%s", err, b)
	}
	names := map[string]bool{}
	for _, s := range nt.Sigs {
		names[s.Name] = true
	}
	if !names[logV.Name()] || !names[witV.Name()] {
		t.Fatalf("cosigned note signed by %v, want the log and the witness", names)
	}
	_, tree, err := translog.ParseCheckpoint([]byte(nt.Text))
	if err != nil {
		t.Fatal(err)
	}
	if tree.N != n {
		t.Fatalf("cosigned tree size %d, want %d", tree.N, n)
	}
}

func TestCosignsConsistentGrowthAndRefusesFork(t *testing.T) {
	ctx := context.Background()
	logS, logV, logKey := newKey(t, "vigil-log")
	witS, witV, _ := newKey(t, "witness-1")
	honest := newLog(t, logS)
	appendHunts(t, honest, "h", 0, 3)
	f := newFakeServer(t, honest, logKey)
	dir := t.TempDir()
	w := newWitness(t, f, witS, dir, "")

	// First round: the key is pinned on first use and size 3 is cosigned.
	if err := w.Once(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.posted(); len(got) != 1 {
		t.Fatalf("%d cosignatures posted, want 1", len(got))
	} else {
		checkCosigned(t, got[0], logV, witV, 3)
	}
	if k, err := os.ReadFile(filepath.Join(dir, LogKeyFile)); err != nil || strings.TrimSpace(string(k)) != logKey {
		t.Fatalf("pinned key %q, %v; want %q", k, err, logKey)
	}

	// Nothing new: the server already serves our cosignature, no POST.
	if err := w.Once(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(f.posted()); got != 1 {
		t.Fatalf("%d cosignatures posted after an unchanged round, want 1", got)
	}

	// Growth: 3 -> 5 is proven consistent and cosigned.
	appendHunts(t, honest, "h", 3, 5)
	f.refresh()
	if err := w.Once(ctx); err != nil {
		t.Fatal(err)
	}
	got := f.posted()
	if len(got) != 2 {
		t.Fatalf("%d cosignatures posted, want 2", len(got))
	}
	checkCosigned(t, got[1], logV, witV, 5)
	saved, err := os.ReadFile(filepath.Join(dir, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, tree := w.Trusted(); tree.N != 5 {
		t.Fatalf("trusted size %d, want 5", tree.N)
	}

	// Fork: same key, history diverges at index 2, and the log is longer.
	forked := newLog(t, logS)
	appendHunts(t, forked, "h", 0, 2)
	appendHunts(t, forked, "evil", 2, 7)
	f.set(forked)
	err = w.Once(ctx)
	var fe *translog.ForkError
	if !errors.As(err, &fe) {
		t.Fatalf("Once on a forked log = %v, want a ForkError", err)
	}
	if fe.Proven {
		t.Fatalf("fork of different sizes reported as proven by the notes alone")
	}
	if len(f.posted()) != 2 {
		t.Fatalf("the witness posted a cosignature of a forked checkpoint")
	}
	after, err := os.ReadFile(filepath.Join(dir, CheckpointFile))
	if err != nil || string(after) != string(saved) {
		t.Fatalf("state changed after a fork: %v", err)
	}
	evs, err := ReadEvidence(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Fatalf("%d fork files, want 1", len(evs))
	}
	ev := evs[0]
	if ev.TrustedSize != 5 || ev.OfferedSize != 7 || ev.Trusted != string(saved) || ev.Error == "" || len(ev.Proof) == 0 {
		t.Fatalf("evidence %+v", ev)
	}
	// The evidence holds two notes the log key really signed.
	lv := translog.NewVerifier(logV)
	for _, n := range []string{ev.Trusted, ev.Offered} {
		if _, err := lv.VerifyCheckpoint([]byte(n)); err != nil {
			t.Fatalf("evidence note does not verify: %v", err)
		}
	}
	// The failed proof is the one the server gave, and it does fail.
	var proof tlog.TreeProof
	for _, b := range ev.Proof {
		var h tlog.Hash
		copy(h[:], b)
		proof = append(proof, h)
	}
	_, tt, _ := translog.ParseCheckpoint([]byte(strings.SplitN(ev.Trusted, "\n\n", 2)[0] + "\n"))
	_, ot, _ := translog.ParseCheckpoint([]byte(strings.SplitN(ev.Offered, "\n\n", 2)[0] + "\n"))
	if tlog.CheckTree(proof, ot.N, ot.Hash, tt.N, tt.Hash) == nil {
		t.Fatal("the recorded proof verifies: not a fork")
	}

	// It keeps refusing, and does not duplicate the evidence.
	if err := w.Once(ctx); !errors.As(err, &fe) {
		t.Fatalf("second round on the fork = %v", err)
	}
	if evs, _ := ReadEvidence(dir); len(evs) != 1 {
		t.Fatalf("%d fork files after a second round, want 1", len(evs))
	}

	// A restarted witness remembers size 5 and still refuses the fork.
	w2 := newWitness(t, f, witS, dir, "")
	if _, tree := w2.Trusted(); tree.N != 5 {
		t.Fatalf("restarted witness trusts size %d, want 5", tree.N)
	}
	if err := w2.Once(ctx); !errors.As(err, &fe) {
		t.Fatalf("restarted witness on the fork = %v", err)
	}
	// Back to the honest log, grown: cosigned again.
	appendHunts(t, honest, "h", 5, 9)
	f.set(honest)
	if err := w2.Once(ctx); err != nil {
		t.Fatal(err)
	}
	got = f.posted()
	checkCosigned(t, got[len(got)-1], logV, witV, 9)
}

func TestRefusesSameSizeFork(t *testing.T) {
	ctx := context.Background()
	logS, _, logKey := newKey(t, "vigil-log")
	witS, _, _ := newKey(t, "witness-1")
	honest := newLog(t, logS)
	appendHunts(t, honest, "h", 0, 4)
	f := newFakeServer(t, honest, logKey)
	dir := t.TempDir()
	w := newWitness(t, f, witS, dir, logKey)
	if err := w.Once(ctx); err != nil {
		t.Fatal(err)
	}
	forked := newLog(t, logS)
	appendHunts(t, forked, "h", 0, 3)
	appendHunts(t, forked, "x", 3, 4)
	f.set(forked)
	var fe *translog.ForkError
	if err := w.Once(ctx); !errors.As(err, &fe) || !fe.Proven {
		t.Fatalf("same-size fork: %v", err)
	}
	evs, err := ReadEvidence(dir)
	if err != nil || len(evs) != 1 || !evs[0].Proven || evs[0].TrustedHash == evs[0].OfferedHash {
		t.Fatalf("evidence %+v, %v", evs, err)
	}
	if len(f.posted()) != 1 {
		t.Fatalf("%d cosignatures posted, want only the honest one", len(f.posted()))
	}
}

func TestPinnedKey(t *testing.T) {
	ctx := context.Background()
	logS, _, logKey := newKey(t, "vigil-log")
	_, _, otherKey := newKey(t, "vigil-log")
	witS, _, _ := newKey(t, "witness-1")
	l := newLog(t, logS)
	appendHunts(t, l, "h", 0, 2)
	f := newFakeServer(t, l, logKey)

	// Pinned to another key (same name): the server's checkpoints are refused.
	dir := t.TempDir()
	w := newWitness(t, f, witS, dir, otherKey)
	if err := w.Once(ctx); err == nil {
		t.Fatal("checkpoint signed by another key accepted")
	}
	if len(f.posted()) != 0 {
		t.Fatal("cosignature posted for a checkpoint of another key")
	}
	// A different --log-key than the pinned one is refused at start.
	if _, err := New(Options{Server: f.srv.URL, Signer: witS, StateDir: dir, LogKey: logKey}); err == nil {
		t.Fatal("New accepted a log key different from the pinned one")
	}
	// A witness key named like the log is refused.
	sameName, _, _ := newKey(t, "vigil-log")
	w2, err := New(Options{Server: f.srv.URL, Signer: sameName, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := w2.Once(ctx); err == nil {
		t.Fatal("witness with the log's name cosigned")
	}
}

func TestKeepsOtherCosignaturesAndReportsRejection(t *testing.T) {
	ctx := context.Background()
	logS, logV, logKey := newKey(t, "vigil-log")
	w1S, w1V, _ := newKey(t, "witness-1")
	w2S, w2V, _ := newKey(t, "witness-2")
	l := newLog(t, logS)
	appendHunts(t, l, "h", 0, 3)
	f := newFakeServer(t, l, logKey)
	a := newWitness(t, f, w1S, t.TempDir(), "")
	b := newWitness(t, f, w2S, t.TempDir(), "")
	if err := a.Once(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Once(ctx); err != nil {
		t.Fatal(err)
	}
	got := f.posted()
	if len(got) != 2 {
		t.Fatalf("%d posts, want 2", len(got))
	}
	n, err := note.Open(got[1], note.VerifierList(logV, w1V, w2V))
	if err != nil || len(n.Sigs) != 3 {
		t.Fatalf("second witness's note lost a signature: %v\n%s", err, got[1])
	}

	// A server that refuses the cosignature makes Once fail.
	appendHunts(t, l, "h", 3, 4)
	f.mu.Lock()
	f.rejectCo = true
	f.mu.Unlock()
	f.refresh()
	if err := a.Once(ctx); err == nil || !strings.Contains(err.Error(), "unknown witness") {
		t.Fatalf("rejected cosignature: %v", err)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	logS, _, logKey := newKey(t, "vigil-log")
	witS, _, _ := newKey(t, "witness-1")
	l := newLog(t, logS)
	appendHunts(t, l, "h", 0, 1)
	f := newFakeServer(t, l, logKey)
	w, err := New(Options{Server: f.srv.URL, Signer: witS, StateDir: t.TempDir(), Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for len(f.posted()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not stop")
	}
	if len(f.posted()) == 0 {
		t.Fatal("Run never cosigned")
	}
}

func TestBadOptionsAndProofs(t *testing.T) {
	witS, _, _ := newKey(t, "witness-1")
	for name, o := range map[string]Options{
		"no server":   {Signer: witS, StateDir: t.TempDir()},
		"no signer":   {Server: "http://x", StateDir: t.TempDir()},
		"no state":    {Server: "http://x", Signer: witS},
		"bad log key": {Server: "http://x", Signer: witS, StateDir: t.TempDir(), LogKey: "garbage"},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := toHashes([][]byte{make([]byte, 31)}); err == nil {
		t.Error("short proof hash accepted")
	}
	if _, err := toHashes(make([][]byte, maxProofHashes+1)); err == nil {
		t.Error("overlong proof accepted")
	}
}
