package re

import (
	"flag"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"vigil/yara/syntax"
)

var (
	diffN    = flag.Int("re.n", 150, "number of random patterns in the differential tests against yara")
	diffSeed = flag.Int64("re.seed", 0, "added to the random seeds of the differential tests")
)

// genRegex produces a small random regex over the alphabet abc. All
// quantifiers of one pattern are greedy or all lazy (yara rejects mixes).
func genRegex(r *rand.Rand, depth int, lazy bool) string {
	var b strings.Builder
	n := 1 + r.Intn(4)
	for i := 0; i < n; i++ {
		var item string
		switch k := r.Intn(12); {
		case k < 5:
			item = string("abc"[r.Intn(3)])
		case k == 5:
			item = "."
		case k == 6:
			item = []string{"[ab]", "[^a]", "[a-c]", "\\w", "[^\\n]"}[r.Intn(5)]
		case k == 7 && depth < 2:
			alts := []string{genRegex(r, depth+1, lazy)}
			for j := r.Intn(2); j >= 0; j-- {
				alts = append(alts, genRegex(r, depth+1, lazy))
			}
			item = "(" + strings.Join(alts, "|") + ")"
		case k == 8:
			item = []string{"^", "$", "\\b", "\\B"}[r.Intn(4)]
			b.WriteString(item)
			continue
		default:
			item = string("abc"[r.Intn(3)])
		}
		b.WriteString(item)
		if r.Intn(3) == 0 {
			q := []string{"*", "+", "?", "{2}", "{1,2}", "{0,2}", "{2,}"}[r.Intn(7)]
			b.WriteString(q)
			if lazy {
				b.WriteString("?")
			}
		}
	}
	return b.String()
}

func genInputs(r *rand.Rand, n int, alphabet string) [][]byte {
	in := make([][]byte, n)
	for i := range in {
		l := 1 + r.Intn(12)
		b := make([]byte, l)
		for j := range b {
			b[j] = alphabet[r.Intn(len(alphabet))]
		}
		in[i] = b
	}
	return in
}

// diffCase compares our matches with yara's for one definition.
type diffCase struct {
	def  string
	prog *Prog
	err  error
}

func runDiff(t *testing.T, cases []diffCase, inputs [][]byte) (agree, differ int) {
	defs := make([]string, len(cases))
	for i, c := range cases {
		defs[i] = c.def
	}
	res, yerrs := runYara(t, defs, inputs)
	for i, c := range cases {
		if res[i] == nil {
			if scanFailed[c.def] {
				continue
			}
			if c.err == nil {
				t.Errorf("%s: yara rejects (%s), we accept", c.def, yerrs[i])
			}
			continue
		}
		if c.err != nil {
			t.Errorf("%s: yara accepts, we reject: %v", c.def, c.err)
			continue
		}
		for j, in := range inputs {
			got, want := resultString(ourMatches(c.prog, in)), resultString(res[i][j])
			if got == want {
				agree++
				continue
			}
			differ++
			if *verboseDiff {
				t.Logf("%s on %q: yara %s, we %s", c.def, in, want, got)
			}
		}
	}
	return agree, differ
}

var verboseDiff = flag.Bool("re.v", false, "log every disagreement with yara")

// maxDiffRate is the share of (pattern, input) pairs allowed to differ
// from yara: none.
const maxDiffRate = 0

func TestDiffRegex(t *testing.T) {
	if !haveYara() {
		t.Skip("yara not installed")
	}
	r := rand.New(rand.NewSource(1 + *diffSeed))
	var cases []diffCase
	for i := 0; i < *diffN; i++ {
		src := genRegex(r, 0, r.Intn(3) == 0)
		flags := ""
		if r.Intn(4) == 0 {
			flags += "s"
		}
		def := "/" + src + "/" + flags
		n, err := Parse(src, Flags{Dotall: strings.Contains(flags, "s")})
		if err == nil && len(Chain(n)) > 1 {
			continue // yara matches chained pieces: the compiler's job
		}
		var p *Prog
		if err == nil {
			p, err = Compile(n, CompileOptions{})
		}
		cases = append(cases, diffCase{def, p, err})
	}
	inputs := genInputs(r, 20, "abc\n ")
	agree, differ := runDiff(t, cases, inputs)
	t.Logf("regex: %d agree, %d differ", agree, differ)
	if float64(differ) > maxDiffRate*float64(agree+differ) {
		t.Errorf("too many differences from yara: %d of %d (run with -re.v)", differ, agree+differ)
	}
}

func TestDiffRegexModifiers(t *testing.T) {
	if !haveYara() {
		t.Skip("yara not installed")
	}
	r := rand.New(rand.NewSource(2 + *diffSeed))
	var cases []diffCase
	for i := 0; i < *diffN; i++ {
		src := genRegex(r, 0, r.Intn(3) == 0)
		opt := CompileOptions{Nocase: r.Intn(2) == 0, Wide: r.Intn(2) == 0}
		def := "/" + src + "/"
		if opt.Nocase {
			def += " nocase"
		}
		if opt.Wide {
			def += " wide"
		}
		n, err := Parse(src, Flags{})
		if err == nil && len(Chain(n)) > 1 {
			continue // yara matches chained pieces: the compiler's job
		}
		var p *Prog
		if err == nil {
			p, err = Compile(n, opt)
		}
		cases = append(cases, diffCase{def, p, err})
	}
	inputs := genInputs(r, 12, "aBc\n ")
	for _, in := range genInputs(r, 12, "aBc\x00\x00\x00 ") {
		inputs = append(inputs, in)
	}
	agree, differ := runDiff(t, cases, inputs)
	t.Logf("regex modifiers: %d agree, %d differ", agree, differ)
	if float64(differ) > maxDiffRate*float64(agree+differ) {
		t.Errorf("too many differences from yara: %d of %d (run with -re.v)", differ, agree+differ)
	}
}

// TestDiffRegexASCIIWide covers `ascii wide` strings, which yara matches
// as one string: ascii first, then wide, from the same atom hit.
func TestDiffRegexASCIIWide(t *testing.T) {
	if !haveYara() {
		t.Skip("yara not installed")
	}
	r := rand.New(rand.NewSource(8 + *diffSeed))
	var cases []diffCase
	for i := 0; i < *diffN/2; i++ {
		src := genRegex(r, 0, r.Intn(3) == 0)
		opt := CompileOptions{Nocase: r.Intn(3) == 0, Wide: true, ASCII: true}
		def := "/" + src + "/ ascii wide"
		if opt.Nocase {
			def += " nocase"
		}
		n, err := Parse(src, Flags{})
		if err == nil && len(Chain(n)) > 1 {
			continue // yara matches chained pieces: the compiler's job
		}
		var p *Prog
		if err == nil {
			p, err = Compile(n, opt)
		}
		cases = append(cases, diffCase{def, p, err})
	}
	inputs := genInputs(r, 12, "aBc\x00\x00 ")
	agree, differ := runDiff(t, cases, inputs)
	t.Logf("regex ascii wide: %d agree, %d differ", agree, differ)
	if float64(differ) > maxDiffRate*float64(agree+differ) {
		t.Errorf("too many differences from yara: %d of %d (run with -re.v)", differ, agree+differ)
	}
}

// genHex produces a random hex string and its source text.
func genHex(r *rand.Rand, depth int) ([]syntax.HexToken, string) {
	var toks []syntax.HexToken
	var parts []string
	n := 1 + r.Intn(4)
	for i := 0; i < n; i++ {
		switch k := r.Intn(10); {
		case k < 5:
			c := byte(0x61 + r.Intn(3))
			toks = append(toks, &syntax.HexByte{Value: c, Mask: 0xFF})
			parts = append(parts, fmt.Sprintf("%02X", c))
		case k == 5:
			toks = append(toks, &syntax.HexByte{Mask: 0})
			parts = append(parts, "??")
		case k == 6:
			toks = append(toks, &syntax.HexByte{Value: 0x60, Mask: 0xF0})
			parts = append(parts, "6?")
		case k == 7 && i > 0 && i < n-1:
			lo := r.Intn(3)
			hi := lo + r.Intn(3)
			if hi == 0 {
				hi = 1
			}
			if lo == hi && r.Intn(2) == 0 {
				// [n] and [n-n] differ for yara when n is 1.
				toks = append(toks, &syntax.HexJump{Min: lo, Max: hi})
				parts = append(parts, fmt.Sprintf("[%d]", lo))
			} else {
				toks = append(toks, &syntax.HexJump{Min: lo, Max: hi, Range: true})
				parts = append(parts, fmt.Sprintf("[%d-%d]", lo, hi))
			}
		case k >= 8 && depth < 1:
			alt := &syntax.HexAlt{}
			var alts []string
			for j := 0; j < 2+r.Intn(2); j++ {
				t, s := genHex(r, depth+1)
				alt.Alts = append(alt.Alts, t)
				alts = append(alts, s)
			}
			toks = append(toks, alt)
			parts = append(parts, "( "+strings.Join(alts, " | ")+" )")
		default:
			toks = append(toks, &syntax.HexByte{Value: 0x62, Mask: 0xFF})
			parts = append(parts, "62")
		}
	}
	// A hex string cannot start or end with a jump: the generator never
	// puts one first or last.
	return toks, strings.Join(parts, " ")
}

func TestDiffHex(t *testing.T) {
	if !haveYara() {
		t.Skip("yara not installed")
	}
	r := rand.New(rand.NewSource(3 + *diffSeed))
	var cases []diffCase
	for i := 0; i < *diffN; i++ {
		toks, src := genHex(r, 0)
		wide := r.Intn(4) == 0
		def := "{ " + src + " }"
		if wide {
			// yara has no wide modifier on hex strings; keep plain.
			wide = false
		}
		n, err := FromHex(&syntax.HexString{Tokens: toks})
		var p *Prog
		if err == nil {
			p, err = Compile(n, CompileOptions{Wide: wide})
		}
		cases = append(cases, diffCase{def, p, err})
	}
	inputs := genInputs(r, 20, "abc")
	agree, differ := runDiff(t, cases, inputs)
	t.Logf("hex: %d agree, %d differ", agree, differ)
	if float64(differ) > maxDiffRate*float64(agree+differ) {
		t.Errorf("too many differences from yara: %d of %d (run with -re.v)", differ, agree+differ)
	}
}
