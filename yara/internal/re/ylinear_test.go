package re

import (
	"bytes"
	"testing"

	"vigil/yara/syntax"
)

// yaraSteps verifies every atom occurrence in data with one scratch and
// returns the work done (fibers and positions visited).
func yaraSteps(t *testing.T, p *Prog, data []byte) int {
	s := new(yscratch)
	nop := func(int, int, bool) {}
	for pos := range data {
		if len(p.y.atomList()) == 0 {
			if err := p.yaraVerifyWith(s, data, p.y.root, -1, pos, nop); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			continue
		}
		for _, a := range p.y.atomList() {
			if bytes.HasPrefix(data[pos:], a.Bytes) {
				if err := p.yaraVerifyWith(s, data, a.fwd, a.bwd, pos, nop); err != nil {
					t.Fatalf("%s: %v", p, err)
				}
			}
		}
	}
	return s.vm.steps + s.fast.steps
}

// TestYaraLinear checks that yara-style verification does work linear in
// the data: doubling data that is past the scan windows at most about
// doubles the steps, on patterns that make many fibers or positions.
func TestYaraLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	block := append(bytes.Repeat([]byte("a"), 63), 'c')
	cases := []struct {
		src  string
		hex  []syntax.HexToken
		data []byte
	}{
		{src: `(a|aa)*c`, data: block},
		{src: `c(a|aa)*?c`, data: block},
		{src: `(a*)*c`, data: block},
		{src: `a.*c`, data: block},
		{src: `[a-z]{1,40}c`, data: block},
		{src: `\ba*\Bc`, data: block},
		{hex: hx(0x61, jump(0, 30), 0x61, jump(0, 30), 0x63), data: block},
		{hex: hx(0x63, jump(0, 30), alt(hx(0x61), hx(0x61, 0x61)), 0x63), data: block},
	}
	for _, tc := range cases {
		p := compileCase(t, tc.src, Flags{}, CompileOptions{}, tc.hex)
		const n = 3 * ScanLimit
		small := bytes.Repeat(tc.data, n/len(tc.data))
		big := bytes.Repeat(tc.data, 2*n/len(tc.data))
		s1, s2 := yaraSteps(t, p, small), yaraSteps(t, p, big)
		t.Logf("%s%v: %d steps on %d bytes, %d on %d", tc.src, tc.hex, s1, len(small), s2, len(big))
		if s1 == 0 || float64(s2) > 2.5*float64(s1) {
			t.Errorf("%s%v: %d steps on %d bytes, %d on %d", tc.src, tc.hex, s1, len(small), s2, len(big))
		}
	}
}
