package re

import (
	"bytes"
	"testing"

	"vigil/yara/syntax"
)

func FuzzParse(f *testing.F) {
	for _, tc := range matchTests {
		if tc.src != "" {
			f.Add(tc.src, false, false)
		}
	}
	for _, tc := range parseErrors {
		f.Add(tc.src, true, true)
	}
	f.Add(`((((a{1,32767}){2}`, false, false)
	f.Fuzz(func(t *testing.T, src string, nocase, dotall bool) {
		n, err := Parse(src, Flags{Nocase: nocase, Dotall: dotall})
		if err != nil {
			e, ok := err.(*Error)
			if !ok || e.Offset < 0 || e.Offset > len(src) {
				t.Fatalf("Parse(%q): bad error %v", src, err)
			}
			return
		}
		p, err := Compile(n, CompileOptions{Nocase: nocase, Wide: dotall})
		if err != nil {
			return
		}
		_ = p.String()
		_ = p.Atoms()
	})
}

// FuzzMatch checks invariants of matching: MatchAt stays within the scan
// window, agrees with a match of the reported length, Find is true when
// MatchAt found something within the first ScanLimit bytes, and every
// match contains one of the atoms at an allowed offset.
func FuzzMatch(f *testing.F) {
	f.Add(`a.{1,3}b`, []byte("a_b_b"), false)
	f.Add(`(a|ab)(c|bcd)`, []byte("abcd"), true)
	f.Add(`\bfoo[^x]*?bar$`, []byte("xx foo  bar"), false)
	f.Add(`(a*)*b`, bytes.Repeat([]byte("a"), 50), false)
	f.Fuzz(func(t *testing.T, src string, data []byte, wide bool) {
		n, err := Parse(src, Flags{})
		if err != nil {
			return
		}
		p, err := Compile(n, CompileOptions{Wide: wide})
		if err != nil || p.Size() > 300 || len(data) > 256 {
			return // linear, but too slow for fuzzing at every offset
		}
		any := false
		for i := range data {
			l := p.MatchAt(data, i)
			if l == -1 {
				continue
			}
			if l <= 0 || l > ScanLimit || i+l > len(data) {
				t.Fatalf("MatchAt(%d) = %d", i, l)
			}
			if i+l <= ScanLimit {
				any = true
			}
			if atoms := p.Atoms(); atoms != nil && !containsAtom(data[i:i+l], atoms) {
				t.Fatalf("%q at %d len %d contains none of the atoms %v", src, i, l, atoms)
			}
		}
		if any && !p.Find(data) {
			t.Fatalf("%q: MatchAt found a match, Find did not", src)
		}
		checkYaraScan(t, p, data)
	})
}

// checkYaraScan checks YaraScan's invariants: matches lie in the data
// and within ScanLimit of an atom on each side, the only error is
// ErrTooManyFibers, and the search atoms, when there are some, find the
// same matches.
func checkYaraScan(t *testing.T, p *Prog, data []byte) {
	ms, err := p.YaraScan(data)
	if err != nil {
		if err != ErrTooManyFibers {
			t.Fatalf("YaraScan: %v", err)
		}
		return
	}
	for _, m := range ms {
		if m.Start < 0 || m.Len < 0 || m.Start+m.Len > len(data) || m.Len > 2*ScanLimit+yMaxAtom {
			t.Fatalf("YaraScan match %+v in %d bytes", m, len(data))
		}
	}
	if _, ok := p.YaraSearchAtoms(); ok {
		want := resultString(ourMatches(p, data))
		if got := resultString(searchScan(t, p, data)); got != want {
			t.Fatalf("search atoms find %q, yara atoms %q", got, want)
		}
	}
}

func containsAtom(m []byte, atoms []Atom) bool {
	for _, a := range atoms {
		for off := a.MinOff; off <= a.MaxOff && off+len(a.Bytes) <= len(m); off++ {
			if bytes.Equal(m[off:off+len(a.Bytes)], a.Bytes) {
				return true
			}
		}
	}
	return false
}

// FuzzFromHex builds hex strings from the fuzzer's bytes and checks that
// FromHex, Chain and Compile never fail badly and that matches stay
// within bounds and contain an atom.
func FuzzFromHex(f *testing.F) {
	f.Add([]byte{0x61, 0x00, 0x62, 0xFF, 0x03, 0x01, 0x05, 0x63}, []byte("a_b_c"))
	f.Add([]byte{0x04, 0x61, 0x62, 0x06, 0x63, 0x07, 0x64}, []byte("abcd"))
	f.Fuzz(func(t *testing.T, prog, data []byte) {
		toks, _ := hexFromBytes(prog, 0)
		if len(toks) == 0 || len(data) > 256 {
			return
		}
		n, err := FromHex(&syntax.HexString{Tokens: toks})
		if err != nil {
			return
		}
		for _, piece := range Chain(n) {
			p, err := Compile(piece.Node, CompileOptions{})
			if err != nil || p.Size() > 300 {
				continue
			}
			for i := range data {
				l := p.MatchAt(data, i)
				if l == 0 || l > ScanLimit || i+l > len(data) {
					t.Fatalf("MatchAt(%d) = %d", i, l)
				}
				if l > 0 && p.Atoms() != nil && !containsAtom(data[i:i+l], p.Atoms()) {
					t.Fatalf("match at %d has no atom", i)
				}
			}
			checkYaraScan(t, p, data)
		}
	})
}

// hexFromBytes decodes a token list: 0x03 jump (next two bytes are the
// bounds, 0xFF upper means unbounded), 0x04 opens an alternation, 0x05
// separates alternatives, 0x06 closes it, 0x07 is ??, 0x08 a nibble mask,
// anything else a literal byte.
func hexFromBytes(b []byte, depth int) ([]syntax.HexToken, []byte) {
	var toks []syntax.HexToken
	for len(b) > 0 {
		c := b[0]
		b = b[1:]
		switch {
		case c == 0x03 && len(b) >= 2:
			hi := int(b[1])
			if b[1] == 0xFF {
				hi = -1
			}
			toks = append(toks, &syntax.HexJump{Min: int(b[0]), Max: hi})
			b = b[2:]
		case c == 0x04 && depth < 3:
			alt := &syntax.HexAlt{}
			for {
				var seq []syntax.HexToken
				seq, b = hexFromBytes(b, depth+1)
				alt.Alts = append(alt.Alts, seq)
				if len(b) == 0 || b[0] != 0x05 {
					break
				}
				b = b[1:]
			}
			if len(b) > 0 && b[0] == 0x06 {
				b = b[1:]
			}
			toks = append(toks, alt)
		case (c == 0x05 || c == 0x06) && depth > 0:
			return toks, append([]byte{c}, b...)
		case c == 0x07:
			toks = append(toks, &syntax.HexByte{})
		case c == 0x08 && len(b) >= 1:
			toks = append(toks, &syntax.HexByte{Value: b[0], Mask: 0xF0, Not: b[0]&1 == 1})
			b = b[1:]
		default:
			toks = append(toks, &syntax.HexByte{Value: c, Mask: 0xFF})
		}
	}
	return toks, b
}
