package re

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

func TestForwardPrefix(t *testing.T) {
	for _, c := range []struct {
		src  string
		opt  CompileOptions
		k    int // 0: no prefix
		in   string
		outs string // bytes not in the first character's set
	}{
		{`[A-Za-z0-9+\/]{40,}={0,2}`, CompileOptions{}, 40, "aZ09+/", "=- \n"},
		{`\b[a-f0-9]{64}\b`, CompileOptions{}, 64, "af09", "gA "},
		{`[0-9a-fA-F]{64,}`, CompileOptions{}, 64, "09afAF", "gG "},
		{`\b[a-f0-9]{32}\b`, CompileOptions{}, 32, "af09", "g "},
		{`\b[13][a-km-zA-HJ-NP-Z1-9]{25,34}\b`, CompileOptions{}, 26, "13", "02a"},
		{`[a-f]{4}`, CompileOptions{Nocase: true}, 4, "aAfF", "gG"},
		{`[a-f]{2,3}x`, CompileOptions{}, 2, "af", "g"},
		{`([a-f][0-9]){3}`, CompileOptions{}, 6, "af", "0g"},
		{`[a-f]*x`, CompileOptions{}, 0, "", ""},
		{`(ab|cd)`, CompileOptions{}, 0, "", ""},
		{`(x|y)[a-f]{4}`, CompileOptions{}, 0, "", ""},
		// yara's code for X? starts at X, past its split.
		{`x?[a-f]{4}`, CompileOptions{}, 5, "x", "a"},
		{`\b`, CompileOptions{}, 0, "", ""},
	} {
		n, err := Parse(c.src, Flags{})
		if err != nil {
			t.Fatal(err)
		}
		p, err := Compile(n, c.opt)
		if err != nil {
			t.Fatal(err)
		}
		pre := p.y.rootPrefix()
		k := 0
		if pre != nil {
			k = pre.k
		}
		if k != c.k {
			t.Errorf("%s: prefix of %d characters, want %d", c.src, k, c.k)
			continue
		}
		for _, b := range []byte(c.in) {
			if !pre.has(0, b) {
				t.Errorf("%s: %q not in the first set", c.src, b)
			}
		}
		for _, b := range []byte(c.outs) {
			if pre.has(0, b) {
				t.Errorf("%s: %q in the first set", c.src, b)
			}
		}
	}
}

// genClassRegex produces a random regex led by byte classes, of the
// kind whose starts are rejected without running the machine.
func genClassRegex(r *rand.Rand, depth int, lazy bool) string {
	classes := []string{`[a-f0-9]`, `[A-Za-z0-9+\/]`, `[a-c]`, `\w`, `\d`, `.`, `[^a]`, `[ab]`, `a`, `[0-9a-fA-F]`, `[13]`}
	var b strings.Builder
	n := 1 + r.Intn(4)
	for i := 0; i < n; i++ {
		var item string
		switch k := r.Intn(14); {
		case k < 8:
			item = classes[r.Intn(len(classes))]
		case k < 10 && depth < 2:
			alts := []string{genClassRegex(r, depth+1, lazy)}
			for j := r.Intn(2); j > 0; j-- {
				alts = append(alts, genClassRegex(r, depth+1, lazy))
			}
			item = "(" + strings.Join(alts, "|") + ")"
		case k < 12:
			b.WriteString([]string{`\b`, `\B`, `^`, `$`}[r.Intn(4)])
			continue
		default:
			item = classes[r.Intn(len(classes))]
		}
		b.WriteString(item)
		if strings.HasPrefix(item, "(") && r.Intn(2) == 0 {
			// Groups repeated without bound make yara slow: keep
			// their counts small.
			b.WriteString([]string{"?", "{2}", "{1,2}"}[r.Intn(3)])
			if lazy {
				b.WriteString("?")
			}
		} else if !strings.HasPrefix(item, "(") && r.Intn(3) > 0 {
			lo := r.Intn(6)
			var q string
			switch r.Intn(7) {
			case 0:
				q = "*"
			case 1:
				q = "+"
			case 2:
				q = "?"
			case 3:
				q = fmt.Sprintf("{%d}", lo+1)
			case 4:
				q = fmt.Sprintf("{%d,}", lo)
			default:
				q = fmt.Sprintf("{%d,%d}", lo, lo+r.Intn(4))
			}
			b.WriteString(q)
			if lazy {
				b.WriteString("?")
			}
		}
	}
	return b.String()
}

// genClassInput produces data dense in class bytes, sometimes wide.
func genClassInput(r *rand.Rand) []byte {
	const alphabet = "abcf019Z+/=- \n"
	b := make([]byte, 0, 96)
	for n := r.Intn(80); len(b) < n; {
		run := 1 + r.Intn(20)
		wide := r.Intn(4) == 0
		for j := 0; j < run; j++ {
			c := alphabet[r.Intn(len(alphabet))]
			if r.Intn(3) > 0 {
				c = alphabet[r.Intn(4)] // long class runs
			}
			b = append(b, c)
			if wide {
				b = append(b, 0)
			}
		}
	}
	return b
}

type verifyCall struct {
	start, n int
	wide     bool
}

// rootVerify verifies the pattern from its start at every offset of
// data, the way the rule engine does for patterns without atoms: with
// one scratch, skipping the starts a call says find nothing. It also
// returns the number of starts skipped or rejected.
func rootVerify(p *Prog, data []byte) ([]verifyCall, error, int) {
	var out []verifyCall
	add := func(start, n int, wide bool) { out = append(out, verifyCall{start, n, wide}) }
	s := new(YaraScratch)
	skipped := 0
	for pos := 0; pos < len(data); pos++ {
		steps := s.s.vm.steps + s.s.fast.steps
		if err := p.YaraVerifyScratch(s, data, -1, pos, add); err != nil {
			return out, err, skipped
		}
		if s.s.vm.steps+s.s.fast.steps == steps {
			skipped++
		}
		if e := s.TakeSkipEnd(); e > pos+1 {
			skipped += e - pos - 1
			pos = e - 1
		}
	}
	return out, nil, skipped
}

// TestPrefixReject compares the verification of random class-led
// patterns from their start at every offset with and without the
// rejection of yreject.go.
func TestPrefixReject(t *testing.T) {
	r := rand.New(rand.NewSource(21 + *diffSeed))
	n := 5 * *diffN
	tried, skipped := 0, 0
	for i := 0; i < n; i++ {
		src := genClassRegex(r, 0, r.Intn(4) == 0)
		opt := CompileOptions{Nocase: r.Intn(4) == 0}
		switch r.Intn(4) {
		case 0:
			opt.Wide = true
		case 1:
			opt.Wide, opt.ASCII = true, true
		}
		node, err := Parse(src, Flags{Dotall: r.Intn(4) == 0})
		if err != nil {
			continue
		}
		p, err := Compile(node, opt)
		if err != nil {
			continue
		}
		if p.y.rootPrefix() != nil {
			tried++
		}
		for j := 0; j < 8; j++ {
			data := genClassInput(r)
			if r.Intn(8) == 0 {
				data = []byte(strings.Repeat("abcf09", 15)) // past maxPrefix
			}
			usePrefix = true
			got, gotErr, sk := rootVerify(p, data)
			skipped += sk
			usePrefix = false
			want, wantErr, _ := rootVerify(p, data)
			usePrefix = true
			if fmt.Sprint(got, gotErr) != fmt.Sprint(want, wantErr) {
				t.Fatalf("/%s/ %+v on %q:\n with rejection %v %v\n without        %v %v", src, opt, data, got, gotErr, want, wantErr)
			}
		}
	}
	t.Logf("%d patterns with a prefix, %d starts rejected", tried, skipped)
	if tried < n/10 || skipped == 0 {
		t.Errorf("the rejection was hardly tried: %d patterns, %d starts", tried, skipped)
	}
}

// TestDiffPrefixReject compares class-led patterns without atoms with
// yara itself, on data dense in class bytes.
func TestDiffPrefixReject(t *testing.T) {
	if !haveYara() {
		t.Skip("yara not installed")
	}
	r := rand.New(rand.NewSource(22 + *diffSeed))
	var cases []diffCase
	for len(cases) < *diffN {
		src := genClassRegex(r, 0, r.Intn(4) == 0)
		opt := CompileOptions{Nocase: r.Intn(4) == 0}
		def := "/" + src + "/"
		switch r.Intn(4) {
		case 0:
			opt.Wide = true
			def += " wide"
		case 1:
			opt.Wide, opt.ASCII = true, true
			def += " ascii wide"
		}
		if opt.Nocase {
			def += " nocase"
		}
		n, err := Parse(src, Flags{})
		if err != nil || len(Chain(n)) > 1 {
			continue
		}
		p, err := Compile(n, opt)
		if err != nil || len(p.YaraAtoms()) > 0 || p.y.rootPrefix() == nil {
			continue // only patterns verified at every offset, with a prefix
		}
		cases = append(cases, diffCase{def, p, nil})
	}
	var inputs [][]byte
	for i := 0; i < 16; i++ {
		inputs = append(inputs, genClassInput(r))
	}
	agree, differ := runDiff(t, cases, inputs)
	t.Logf("class-led regex: %d agree, %d differ", agree, differ)
	if differ > 0 {
		t.Errorf("%d of %d differ from yara (run with -re.v)", differ, agree+differ)
	}
}

// TestPrefixScan asks prefixScan about increasing offsets with gaps, a
// new slice and a restart, and compares with a direct check.
func TestPrefixScan(t *testing.T) {
	r := rand.New(rand.NewSource(23 + *diffSeed))
	for _, src := range []string{`[a-c]{3}`, `\b[13][a-c0-9]{5}\b`, `[ab]c[^a]{2}`} {
		n, err := Parse(src, Flags{})
		if err != nil {
			t.Fatal(err)
		}
		p, err := Compile(n, CompileOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pre := p.y.rootPrefix()
		var s prefixScan
		for round := 0; round < 200; round++ {
			data := make([]byte, 1+r.Intn(60))
			for i := range data {
				data[i] = "abc013 "[r.Intn(7)]
			}
			for pos := r.Intn(3); pos < len(data); pos += 1 + r.Intn(1+r.Intn(8)) {
				want := pos+pre.k <= len(data)
				for i := 0; want && i < pre.k; i++ {
					want = pre.has(i, data[pos+i])
				}
				if got := s.asciiOK(p.y, pre, data, pos); got != want {
					t.Fatalf("%s on %q at %d: %v, want %v", src, data, pos, got, want)
				}
			}
		}
	}
}

// FuzzPrefixReject verifies a pattern from its start at every offset of
// the data (as the rule engine does for patterns without atoms) with and
// without the rejection of yreject.go: the matches and the error must be
// the same.
func FuzzPrefixReject(f *testing.F) {
	f.Add(`\b[a-f0-9]{32}\b`, []byte("x 0123456789abcdef0123456789abcdef y"), uint8(0))
	f.Add(`[A-Za-z0-9+\/]{4,}={0,2}`, []byte("QUJD== abc"), uint8(1))
	f.Add(`[13][a-km-zA-HJ-NP-Z1-9]{5,8}`, []byte("1aaaaaaaaa 3bbbb"), uint8(2))
	f.Add(`[ab]{3}c?`, []byte("a\x00b\x00a\x00c\x00"), uint8(3))
	f.Fuzz(func(t *testing.T, src string, data []byte, mode uint8) {
		if len(data) > 64 {
			return // up to 1,024 fibers at each of the starts: keep it small
		}
		n, err := Parse(src, Flags{Nocase: mode&4 != 0, Dotall: mode&8 != 0})
		if err != nil {
			return
		}
		opt := CompileOptions{Nocase: mode&4 != 0}
		switch mode & 3 {
		case 1:
			opt.Wide = true
		case 2:
			opt.Wide, opt.ASCII = true, true
		}
		p, err := Compile(n, opt)
		if err != nil || p.Size() > 100 {
			return
		}
		defer func() { usePrefix = true }()
		usePrefix = true
		got, gotErr, _ := rootVerify(p, data)
		usePrefix = false
		want, wantErr, _ := rootVerify(p, data)
		if fmt.Sprint(got, gotErr) != fmt.Sprint(want, wantErr) {
			t.Fatalf("/%s/ %+v on %q:\n with rejection %v %v\n without        %v %v", src, opt, data, got, gotErr, want, wantErr)
		}
	})
}
