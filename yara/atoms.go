package yara

import "vigil/yara/internal/re"

// Atoms are the short literal pieces of a pattern that go into the
// Aho-Corasick automaton. A hit on an atom makes the pattern a candidate at
// a few offsets, which are then verified.

// maxAtomLen is the longest atom taken from a literal (yara: 4).
const maxAtomLen = 4

// atomQualityWarning is the quality under which yara warns that a string
// "may slow down scanning" (yara: YR_ATOM_QUALITY_WARNING_THRESHOLD,
// expressed here without yara's constant offset; see atom_quality.go).
const atomQualityWarning = 38

type atom struct {
	bytes          []byte
	minOff, maxOff int
}

// atomQuality scores a literal atom (higher is better) with yara's
// heuristic (re.AtomQuality).
func atomQuality(a []byte) int {
	if len(a) == 0 {
		return -1000
	}
	return re.AtomQuality(a)
}

// bestWindow returns the offset of the best atom of length
// min(maxAtomLen, len(lit)) in lit.
func bestWindow(lit []byte) (int, int) {
	n := min(maxAtomLen, len(lit))
	best, bestQ := 0, -1<<30
	for i := 0; i+n <= len(lit); i++ {
		if q := atomQuality(lit[i : i+n]); q > bestQ {
			best, bestQ = i, q
		}
	}
	return best, n
}

// quality is the quality of the atom the variant is searched with; the
// "slow down scanning" warning uses it for base64 strings.
func (v *variant) quality() int {
	if v.prog != nil {
		atoms := v.prog.Atoms()
		if len(atoms) == 0 {
			return -1000
		}
		q := 1 << 30
		for _, a := range atoms {
			q = min(q, atomQuality(a.bytes))
		}
		return q
	}
	off, n := bestWindow(v.lit)
	return atomQuality(v.lit[off : off+n])
}

// atoms returns the atoms of a variant; nil means it has none and must be
// tried at every offset.
func (v *variant) atoms() []atom {
	if v.prog != nil {
		return v.prog.Atoms()
	}
	off, n := bestWindow(v.lit)
	a := v.lit[off : off+n]
	if !v.nocase {
		return []atom{{bytes: a, minOff: off, maxOff: off}}
	}
	var out []atom
	for _, p := range casePermutations(a) {
		out = append(out, atom{bytes: p, minOff: off, maxOff: off})
	}
	return out
}

// casePermutations returns every upper/lower case spelling of a.
func casePermutations(a []byte) [][]byte {
	out := [][]byte{append([]byte(nil), a...)}
	for i, b := range a {
		l := lower(b)
		u := upper(b)
		if l == u {
			continue
		}
		n := len(out)
		for j := 0; j < n; j++ {
			p := append([]byte(nil), out[j]...)
			p[i] = l
			out[j][i] = u
			out = append(out, p)
		}
	}
	return out
}

func lower(b byte) byte {
	if b >= 'A' && b <= 'Z' {
		return b + 32
	}
	return b
}

func upper(b byte) byte {
	if b >= 'a' && b <= 'z' {
		return b - 32
	}
	return b
}

// isAlnum is the fullword test yara applies to the neighbouring bytes.
func isAlnum(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}
