package re

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// atomTests: the chosen atoms, as "hex[min,max]" sorted as returned.
func TestAtoms(t *testing.T) {
	tests := []struct {
		src  string
		opt  CompileOptions
		want string
	}{
		{`abcdef`, CompileOptions{}, "61626364[0,0]"},
		{`\x00\x00\x00\x00abc`, CompileOptions{}, "00616263[3,3]"},
		{`.{2}xyz`, CompileOptions{}, "78797a[2,2]"},
		{`.{2,5}xyz`, CompileOptions{}, "78797a[2,5]"},
		{`(foo|bar)x`, CompileOptions{}, "666f6f[0,0] 626172[0,0]"},
		{`ab`, CompileOptions{Nocase: true}, "4142[0,0] 4162[0,0] 6142[0,0] 6162[0,0]"},
		{`ab`, CompileOptions{Wide: true}, "61006200[0,0]"},
		{`.*`, CompileOptions{}, ""},
		{`a*`, CompileOptions{}, ""},
		{`a?bc`, CompileOptions{}, "6263[0,1]"},
	}
	for _, tc := range tests {
		p := compileCase(t, tc.src, Flags{}, tc.opt, nil)
		var parts []string
		for _, a := range p.Atoms() {
			parts = append(parts, fmt.Sprintf("%x[%d,%d]", a.Bytes, a.MinOff, a.MaxOff))
		}
		if got := strings.Join(parts, " "); got != tc.want {
			t.Errorf("%s %+v: atoms %q, want %q", tc.src, tc.opt, got, tc.want)
		}
	}
}

// TestAtomsSound checks on random patterns and inputs that every match
// contains one of the atoms at an allowed offset.
func TestAtomsSound(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	for i := 0; i < 2000; i++ {
		src := genRegex(r, 0, r.Intn(3) == 0)
		n, err := Parse(src, Flags{})
		if err != nil {
			continue
		}
		opt := CompileOptions{Nocase: r.Intn(2) == 0, Wide: r.Intn(3) == 0}
		p, err := Compile(n, opt)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range genInputs(r, 5, "aBc\x00 \n") {
			for off := range in {
				l := p.MatchAt(in, off)
				if l > 0 && p.Atoms() != nil && !containsAtom(in[off:off+l], p.Atoms()) {
					t.Fatalf("%s %+v: match %q has no atom of %v", src, opt, in[off:off+l], p.Atoms())
				}
			}
		}
	}
}
