package ahocorasick

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// hit is one reported occurrence.
type hit struct {
	pattern, start int
}

func (h hit) String() string { return fmt.Sprintf("%d@%d", h.pattern, h.start) }

// naive finds all occurrences with bytes.Index at every position and orders
// them as Scan documents: by end offset, then longer pattern first, then
// lower index.
func naive(patterns [][]byte, data []byte) []hit {
	var hits []hit
	for p, pat := range patterns {
		for off := 0; off < len(data); {
			j := bytes.Index(data[off:], pat)
			if j < 0 {
				break
			}
			hits = append(hits, hit{p, off + j})
			off += j + 1
		}
	}
	slices.SortFunc(hits, func(a, b hit) int {
		ea, eb := a.start+len(patterns[a.pattern]), b.start+len(patterns[b.pattern])
		if ea != eb {
			return ea - eb
		}
		if la, lb := len(patterns[a.pattern]), len(patterns[b.pattern]); la != lb {
			return lb - la
		}
		return a.pattern - b.pattern
	})
	return hits
}

// scanAll collects what Scan reports, stopping after limit hits if limit>=0.
func scanAll(m *Matcher, data []byte, limit int) []hit {
	var hits []hit
	m.Scan(data, func(p, start int) bool {
		hits = append(hits, hit{p, start})
		return limit < 0 || len(hits) < limit
	})
	return hits
}

func strs(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// TestScanTable checks small cases whose expected hits were worked out by
// hand.
func TestScanTable(t *testing.T) {
	tests := []struct {
		name     string
		patterns [][]byte
		data     string
		want     string
	}{
		{"classic", strs("he", "she", "his", "hers"), "ushers", "[1@1 0@2 3@2]"},
		{"overlap", strs("aa"), "aaaa", "[0@0 0@1 0@2]"},
		{"prefix", strs("a", "ab", "abc"), "abcab", "[0@0 1@0 2@0 0@3 1@3]"},
		{"suffix", strs("c", "bc", "abc"), "xabc", "[2@1 1@2 0@3]"},
		{"duplicates", strs("ab", "x", "ab"), "abab", "[0@0 2@0 0@2 2@2]"},
		{"no hits", strs("needle"), "haystack", "[]"},
		{"empty data", strs("a"), "", "[]"},
		{"zero bytes", strs("\x00", "\x00\xff"), "\xff\x00\xff\x00", "[0@1 1@1 0@3]"},
		{"no patterns", nil, "abc", "[]"},
		{"inner suffix", strs("abcd", "bc"), "abcabcd", "[1@1 1@4 0@3]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, budget := range []int{denseBudget, 0} {
				m, err := build(tt.patterns, budget, autoSkip)
				if err != nil {
					t.Fatal(err)
				}
				if got := fmt.Sprint(scanAll(m, []byte(tt.data), -1)); got != tt.want {
					t.Errorf("budget %d: Scan(%q) = %s, want %s", budget, tt.data, got, tt.want)
				}
			}
			m, err := Build(tt.patterns)
			if err != nil {
				t.Fatal(err)
			}
			if m.NumPatterns() != len(tt.patterns) {
				t.Errorf("NumPatterns() = %d, want %d", m.NumPatterns(), len(tt.patterns))
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name     string
		patterns [][]byte
		want     error
	}{
		{"empty pattern", strs("a", ""), ErrPatternLength},
		{"too long", [][]byte{make([]byte, MaxPatternLen+1)}, ErrPatternLength},
		{"longest ok", [][]byte{make([]byte, MaxPatternLen)}, nil},
		{"nil set", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(tt.patterns)
			if !errors.Is(err, tt.want) {
				t.Errorf("Build error = %v, want %v", err, tt.want)
			}
		})
	}
}

// randomSet makes patterns over an alphabet of alpha byte values (starting
// at base), some of them duplicates, prefixes or suffixes of others, and
// data over the same alphabet with some patterns planted in it.
func randomSet(r *rand.Rand, n, maxLen, alpha, base, dataLen int) ([][]byte, []byte) {
	randBytes := func(k int) []byte {
		b := make([]byte, k)
		for i := range b {
			b[i] = byte(base + r.IntN(alpha))
		}
		return b
	}
	patterns := make([][]byte, 0, n)
	for len(patterns) < n {
		if len(patterns) > 0 && r.IntN(4) == 0 {
			q := patterns[r.IntN(len(patterns))]
			switch r.IntN(3) {
			case 0: // duplicate
				patterns = append(patterns, slices.Clone(q))
			case 1: // prefix
				patterns = append(patterns, slices.Clone(q[:1+r.IntN(len(q))]))
			case 2: // suffix
				patterns = append(patterns, slices.Clone(q[r.IntN(len(q)):]))
			}
			continue
		}
		patterns = append(patterns, randBytes(1+r.IntN(maxLen)))
	}
	data := randBytes(dataLen)
	for k := 0; k < dataLen/16 && len(patterns) > 0; k++ {
		q := patterns[r.IntN(len(patterns))]
		if len(q) <= len(data) {
			copy(data[r.IntN(len(data)-len(q)+1):], q)
		}
	}
	return patterns, data
}

func TestScanRandom(t *testing.T) {
	configs := []struct {
		n, maxLen, alpha, base, dataLen int
	}{
		{1, 1, 2, 'a', 100},
		{1, 4, 256, 0, 5000},
		{3, 3, 2, 'a', 300},
		{10, 4, 3, 'x', 1000},
		{50, 8, 4, 0, 2000},
		{200, 4, 256, 0, 20000},
		{100, 64, 2, 0xfe, 3000},
		{30, 64, 256, 0, 5000},
		{500, 6, 16, 'A', 5000},
		{20, 5, 1, 'z', 200}, // one byte value: maximal overlap
		{5, 4, 3, 'a', 0},    // empty data
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range configs {
		for round := 0; round < 3; round++ {
			name := fmt.Sprintf("n%d_len%d_alpha%d_data%d_%d", c.n, c.maxLen, c.alpha, c.dataLen, round)
			patterns, data := randomSet(r, c.n, c.maxLen, c.alpha, c.base, c.dataLen)
			t.Run(name, func(t *testing.T) {
				checkScan(t, patterns, data)
			})
		}
	}
}

// checkScan compares Scan with the naive search, in full and stopped early.
// It does so with the default layout and with dense rows for only the
// start state or the first few states, so that sparse states are exercised.
func checkScan(t *testing.T, patterns [][]byte, data []byte) {
	t.Helper()
	for _, budget := range []int{denseBudget, 0, 3 * 4 * 256} {
		for mode := range autoSkip + 1 {
			m, err := build(patterns, budget, mode)
			if err != nil {
				t.Fatal(err)
			}
			if mode == skipIndexByte && m.skip != skipIndexByte {
				continue // more than one byte leaves the start state
			}
			if mode != autoSkip && m.skip != mode {
				t.Fatalf("build with skip mode %d made mode %d", mode, m.skip)
			}
			checkMatcher(t, m, patterns, data)
		}
	}
}

func checkMatcher(t *testing.T, m *Matcher, patterns [][]byte, data []byte) {
	t.Helper()
	total := totalLen(patterns)
	if m.NumStates() > total+1 {
		t.Errorf("NumStates() = %d, more than total pattern bytes + 1 = %d", m.NumStates(), total+1)
	}
	// The bound documented in doc.go, section Memory.
	states, stride := total+1, int(m.stride)
	bound := max(denseBudget, 257*4*stride) + 24*states + 8*(states+1) +
		5*len(patterns) + 8704 + m.triplesBytes()
	if got := m.MemoryBytes(); got > bound || got < 4*len(m.trans) {
		t.Errorf("MemoryBytes() = %d, want at least the dense rows (%d) and at most %d",
			got, 4*len(m.trans), bound)
	}
	want := naive(patterns, data)
	got := scanAll(m, data, -1)
	if !slices.Equal(got, want) {
		t.Fatalf("skip mode %d, %d dense states: Scan: %d hits, naive: %d hits\nfirst difference: %s",
			m.skip, m.denseEnd/m.stride, len(got), len(want), firstDiff(got, want))
	}
	for _, limit := range []int{1, 2, len(want) / 2, len(want)} {
		if limit == 0 || limit > len(want) {
			continue
		}
		got := scanAll(m, data, limit)
		if !slices.Equal(got, want[:limit]) {
			t.Fatalf("Scan stopped after %d: got %d hits, first difference: %s",
				limit, len(got), firstDiff(got, want[:limit]))
		}
	}
}

func totalLen(patterns [][]byte) int {
	n := 0
	for _, p := range patterns {
		n += len(p)
	}
	return n
}

func firstDiff(got, want []hit) string {
	for i := 0; i < len(got) || i < len(want); i++ {
		var g, w any = "none", "none"
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("at %d: got %v, want %v", i, g, w)
		}
	}
	return "none"
}

// TestAllByteValues uses every byte value as a pattern and in the data.
func TestAllByteValues(t *testing.T) {
	var patterns [][]byte
	for b := 0; b < 256; b++ {
		patterns = append(patterns, []byte{byte(b)}, []byte{byte(b), byte(255 - b)})
	}
	data := make([]byte, 0, 1024)
	for b := 0; b < 256; b++ {
		data = append(data, byte(b), byte(255-b), byte(b))
	}
	checkScan(t, patterns, data)
}

// TestSkipStart covers the path that jumps between occurrences of the only
// byte leaving the start state.
func TestSkipStart(t *testing.T) {
	patterns := strs("\x00abc", "\x00a", "\x00\x00", "\x00")
	r := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 10000)
	for i := range data {
		if r.IntN(10) == 0 {
			data[i] = 0
		} else {
			data[i] = "abcd"[r.IntN(4)]
		}
	}
	m, err := Build(patterns)
	if err != nil {
		t.Fatal(err)
	}
	if m.skip != skipIndexByte {
		t.Fatal("expected the skip path to be used")
	}
	checkScan(t, patterns, data)
	checkScan(t, patterns, data[:1])
	checkScan(t, patterns, []byte("\x00"))
}

func TestScanAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 100, 101} {
		patterns, data := randomSet(r, n, 4, 8, 'a', 10000)
		budget := denseBudget
		if n == 101 {
			budget = 0 // sparse states
		}
		m, err := build(patterns, budget, autoSkip)
		if err != nil {
			t.Fatal(err)
		}
		count := 0
		fn := func(int, int) bool { count++; return true }
		if a := testing.AllocsPerRun(10, func() { m.Scan(data, fn) }); a != 0 {
			t.Errorf("n=%d: Scan allocates %v times per run, want 0", n, a)
		}
		if count == 0 {
			t.Errorf("n=%d: no hits, test data too weak", n)
		}
	}
}

// FuzzScan decodes a pattern set and data from the input and compares Scan
// with the naive search. Input layout: the first byte is the number of
// patterns; each pattern is a length byte (mod MaxPatternLen, plus one)
// followed by its bytes; the rest is the data.
func FuzzScan(f *testing.F) {
	f.Add([]byte("\x04\x02he\x03she\x03his\x04hersushers"))
	f.Add([]byte("\x02\x01a\x02aaaaaaaa"))
	f.Add([]byte("\x01\x00\x00\x00\x00\x00"))
	f.Add([]byte("\x03\x01x\x02xy\x03zxyzxyxzyxxxy"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		n := int(in[0]) % 64
		in = in[1:]
		var patterns [][]byte
		for ; n > 0 && len(in) > 0; n-- {
			l := int(in[0])%MaxPatternLen + 1
			in = in[1:]
			if l > len(in) {
				l = len(in)
			}
			if l == 0 {
				break
			}
			patterns = append(patterns, in[:l])
			in = in[l:]
		}
		checkScan(t, patterns, in)
	})
}

// TestLongerPatterns uses only patterns of three or more bytes, so that the
// triple skip runs without the pair lookups for short patterns.
func TestLongerPatterns(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for round := range 4 {
		alpha := []int{3, 8, 64, 256}[round]
		patterns, data := randomSet(r, 300, 6, alpha, 0, 20000)
		patterns = slices.DeleteFunc(patterns, func(p []byte) bool { return len(p) < 3 })
		m, err := build(patterns, denseBudget, skipTriples)
		if err != nil {
			t.Fatal(err)
		}
		if m.outPairs {
			t.Fatal("pair lookups set up without short patterns")
		}
		checkScan(t, patterns, data)
	}
}

// TestConcurrentScan scans with one Matcher from several goroutines (run
// with -race to check that Scan does not write to the Matcher).
func TestConcurrentScan(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	patterns, data := randomSet(r, 100, 4, 16, 'a', 5000)
	m, err := Build(patterns)
	if err != nil {
		t.Fatal(err)
	}
	want := naive(patterns, data)
	errs := make(chan string, 4)
	for range 4 {
		go func() {
			got := scanAll(m, data, -1)
			if !slices.Equal(got, want) {
				errs <- firstDiff(got, want)
				return
			}
			errs <- ""
		}()
	}
	for range 4 {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
}
