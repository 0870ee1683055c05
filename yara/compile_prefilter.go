package yara

import (
	"encoding/binary"

	"vigil/yara/internal/re"
	"vigil/yara/syntax"
)

// Hex string prefilters.
//
// Common atoms of hex strings (85 C0 0F 84: test eax,eax; je) occur
// hundreds of thousands of times in ordinary binaries, and one atom is
// often shared by dozens of strings; running each string's verification
// code at every occurrence dominates scans with real rule sets. When an
// atom can sit at only one place in the pattern, every match found from
// it has the bytes that follow the atom, up to the first jump of variable
// length, at known distances from it. prefilterProg compares those bytes
// (with their masks) before running the verification, and skips it when
// they differ: the verification could not have found a match.
//
// Only the bytes from the atom onwards are compared: yara's verification
// runs the code after the atom first, with one thread until the first
// variable-length jump, so a mismatch there ends it before it could find
// a match or fail for too many threads. Skipping it changes nothing.

// Prefilter limits: bytes compared per place, yara atoms examined per
// pattern (masked bytes expand to many), places checked per candidate.
const (
	maxPrefilterLen    = 32
	maxPrefilterAtoms  = 1024
	maxPrefilterPlaces = 16
)

// usePrefilters is turned off by tests to compare results without them.
var usePrefilters = true

// hexPos is one byte position of a linear run of a hex string.
type hexPos struct {
	val, mask byte
	not       bool
}

func (p hexPos) matches(b byte) bool { return (b&p.mask == p.val&p.mask) != p.not }

// atomFilter is the check of one atom: the bytes at data[pos:] when the
// atom occurs at data[pos].
type atomFilter struct {
	// Eight positions from off64 on as one word (negated positions and
	// the atom's own left out), checked first when the bytes are there:
	// the window where they say the most.
	val64, mask64 uint64
	off64         int
	val           []byte // compared as data[pos+k]&mask[k] == val[k]
	mask          []byte
	not           []bool // nil when no position is negated
}

func (f *atomFilter) pass(data []byte, pos int) bool {
	if pos < 0 || pos+len(f.val) > len(data) {
		return false
	}
	if w := pos + f.off64; w+8 <= len(data) && binary.LittleEndian.Uint64(data[w:])&f.mask64 != f.val64 {
		return false
	}
	d := data[pos : pos+len(f.val)]
	if f.not == nil {
		for k, b := range d {
			if b&f.mask[k] != f.val[k] {
				return false
			}
		}
		return true
	}
	for k, b := range d {
		if (b&f.mask[k] == f.val[k]) == f.not[k] {
			return false
		}
	}
	return true
}

// prefilterProg is a hex string's matchProg with a prefilter in front of
// Verify.
type prefilterProg struct {
	matchProg
	filters []atomFilter // one per place an atom of the pattern sits at
	// shifts are the possible distances from an automaton atom back to
	// the yara atom it stands for: 0 unless the prog searches with
	// shorter atoms taken from inside yara's (reProg.search).
	shifts []int
}

// Verify runs the pattern's verification unless the bytes at data[pos]
// fit none of the places an atom can sit at.
func (p *prefilterProg) Verify(s *re.YaraScratch, data []byte, atom, pos int, found func(start, n int, wide bool)) error {
	if pos >= 0 && len(p.shifts) == 1 && len(p.filters) == 1 {
		if !p.filters[0].pass(data, pos-p.shifts[0]) {
			return nil
		}
	} else if pos >= 0 {
		ok := false
	check:
		for _, d := range p.shifts {
			for i := range p.filters {
				if p.filters[i].pass(data, pos-d) {
					ok = true
					break check
				}
			}
		}
		if !ok {
			return nil
		}
	}
	return p.matchProg.Verify(s, data, atom, pos, found)
}

// addHexPrefilters wraps the progs of a hex string's variants (one per
// chain piece, see splitHexChain) in prefilters where that is safe.
func addHexPrefilters(h *syntax.HexString, vs []*variant) {
	if !usePrefilters {
		return
	}
	pieces, _ := splitHexChain(h)
	if len(pieces) != len(vs) {
		return
	}
	for i, v := range vs {
		if v.prog == nil {
			continue
		}
		if p := hexPrefilter(pieces[i], v.prog); p != nil {
			v.prog = p
		}
	}
}

// hexPrefilter returns prog with a prefilter, or nil when some atom of
// prog could sit at more than one place in the pattern (or the pattern
// has alternatives, or nothing would be gained).
func hexPrefilter(toks []syntax.HexToken, prog matchProg) matchProg {
	rp, ok := prog.(*reProg)
	if !ok {
		return nil
	}
	// Whatever atoms the automaton looks for, a verification only finds
	// a match where one of yara's atoms occurs, at its place.
	yatoms := rp.p.YaraAtoms()
	if len(yatoms) == 0 || len(yatoms) > maxPrefilterAtoms {
		return nil
	}
	// The linear runs of the pattern, split at variable-length jumps
	// (fixed jumps are runs of wildcards).
	var runs [][]hexPos
	cur := make([]hexPos, 0, len(toks))
	for _, tk := range toks {
		switch t := tk.(type) {
		case *syntax.HexByte:
			cur = append(cur, hexPos{val: t.Value & t.Mask, mask: t.Mask, not: t.Not})
		case *syntax.HexJump:
			if t.Min == t.Max && t.Min <= 4*maxPrefilterLen {
				for range t.Min {
					cur = append(cur, hexPos{})
				}
				continue
			}
			runs = append(runs, cur)
			cur = []hexPos{}
		default:
			return nil // alternatives: atoms may come from inside them
		}
	}
	runs = append(runs, cur)
	seen := map[[2]int]bool{}
	gain := false
	var filters []atomFilter
	for _, a := range yatoms {
		places := atomPlaces(runs, a.Bytes, maxPrefilterPlaces)
		if len(places) == 0 {
			return nil // unexpected: verify everything
		}
		for _, pl := range places {
			if seen[pl] {
				continue
			}
			seen[pl] = true
			if len(seen) > maxPrefilterPlaces {
				return nil
			}
			f, g := placeFilter(runs[pl[0]][pl[1]:], len(a.Bytes))
			gain = gain || g
			filters = append(filters, f)
		}
	}
	if !gain {
		return nil
	}
	shifts := []int{0}
	if rp.search {
		shifts = searchShifts(yatoms, prog.Atoms())
		if len(shifts) == 0 || len(shifts) > maxPrefilterPlaces {
			return nil
		}
	}
	return &prefilterProg{matchProg: prog, filters: filters, shifts: shifts}
}

// placeFilter is the filter of an atom of n bytes at the start of fwd.
// gain tells whether it checks a byte the atom does not decide.
func placeFilter(fwd []hexPos, n int) (f atomFilter, gain bool) {
	if len(fwd) > maxPrefilterLen {
		fwd = fwd[:maxPrefilterLen]
	}
	f = atomFilter{val: make([]byte, len(fwd)), mask: make([]byte, len(fwd))}
	for k, p := range fwd {
		f.val[k], f.mask[k] = p.val&p.mask, p.mask
		if p.not {
			if f.not == nil {
				f.not = make([]bool, len(fwd))
			}
			f.not[k] = true
		}
		if k >= n && p.mask != 0 {
			gain = true
		}
	}
	best := -1
	for w := 0; w == 0 || w+8 <= len(fwd); w++ {
		var v, m uint64
		bits := 0
		for k := w; k < min(w+8, len(fwd)); k++ {
			p := fwd[k]
			if p.not || k < n {
				continue
			}
			v |= uint64(p.val&p.mask) << (8 * (k - w))
			m |= uint64(p.mask) << (8 * (k - w))
			bits += bits8(p.mask)
		}
		if bits > best {
			best, f.off64, f.val64, f.mask64 = bits, w, v, m
		}
	}
	return f, gain
}

// searchShifts returns the offsets d at which every search atom occurs in
// some yara atom: the search atom found at q stands for a yara atom at
// q-d, for one of these d.
func searchShifts(yatoms []re.YaraAtom, search []atom) []int {
	var out []int
	maxLen := 0
	for _, a := range yatoms {
		maxLen = max(maxLen, len(a.Bytes))
	}
	for d := 0; d < maxLen; d++ {
		all := true
		for _, s := range search {
			found := false
			for _, a := range yatoms {
				if d+len(s.bytes) <= len(a.Bytes) && string(a.Bytes[d:d+len(s.bytes)]) == string(s.bytes) {
					found = true
					break
				}
			}
			if !found {
				all = false
				break
			}
		}
		if all {
			out = append(out, d)
		}
	}
	return out
}

// atomPlaces returns the places in runs where the atom's bytes fit, at
// most limit+1 of them. yara takes an atom from one run (a jump ends it)
// and trims unknown bytes (??) from both of its ends, so only places
// whose first and last bytes are known count.
func atomPlaces(runs [][]hexPos, a []byte, limit int) [][2]int {
	var out [][2]int
	if len(a) == 0 {
		return nil
	}
	for ri, r := range runs {
		for o := 0; o+len(a) <= len(r); o++ {
			ps := r[o : o+len(a)]
			if ps[0].mask != 0 && ps[len(ps)-1].mask != 0 && fits(ps, a) {
				out = append(out, [2]int{ri, o})
				if len(out) > limit {
					return out
				}
			}
		}
	}
	return out
}

func bits8(b byte) int {
	n := 0
	for ; b != 0; b &= b - 1 {
		n++
	}
	return n
}

func fits(ps []hexPos, a []byte) bool {
	for k, p := range ps {
		if !p.matches(a[k]) {
			return false
		}
	}
	return true
}
