package re

import (
	"bytes"
	"math/rand"
	"testing"

	"vigil/yara/syntax"
)

// searchScan scans like YaraScan but with YaraSearchAtoms, as the rule
// engine does.
func searchScan(t *testing.T, p *Prog, data []byte) yaraResult {
	atoms, ok := p.YaraSearchAtoms()
	if !ok {
		t.Fatal("no search atoms")
	}
	r := yaraResult{}
	add := func(start, n int, wide bool) {
		if _, ok := r[start]; ok && !p.YaraGreedy() {
			return
		}
		r[start] = n
	}
	for q := range data {
		for _, a := range atoms {
			if bytes.HasPrefix(data[q:], a) {
				if err := p.YaraSearchVerify(data, q, add); err != nil {
					r[-1] = -1
					return r
				}
			}
		}
	}
	return r
}

// TestYaraSearch checks that scanning with the short search atoms finds
// what scanning with yara's atoms finds, on random patterns and inputs.
func TestYaraSearch(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	inputs := genInputs(r, 30, "abcB\x00 ")
	tried := 0
	for i := 0; i < 600; i++ {
		var n *Node
		var err error
		opt := CompileOptions{Nocase: r.Intn(2) == 0, Wide: r.Intn(3) == 0}
		if i%2 == 0 {
			n, err = Parse(genRegex(r, 0, r.Intn(3) == 0), Flags{})
		} else {
			toks, _ := genHex(r, 0)
			n, err = FromHex(&syntax.HexString{Tokens: toks})
			opt = CompileOptions{}
		}
		if err != nil {
			continue
		}
		p, err := Compile(n, opt)
		if err != nil {
			continue
		}
		if _, ok := p.YaraSearchAtoms(); !ok {
			continue
		}
		tried++
		for _, in := range inputs {
			want := resultString(ourMatches(p, in))
			if got := resultString(searchScan(t, p, in)); got != want {
				t.Errorf("pattern %d %+v on %q: search %q, atoms %q", i, opt, in, got, want)
			}
		}
	}
	if tried < 100 {
		t.Errorf("only %d patterns have search atoms", tried)
	}
}
