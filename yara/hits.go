package yara

import "encoding/binary"

// Quick checks of atom hits.
//
// An atom shared by many strings (85 C0 0F 84 in dozens of hex strings)
// makes the matcher look at every one of them at each hit, and each look
// follows pointers to the variant, its prog and its prefilter. A hitCheck
// keeps, next to the atom's refs, eight bytes the data must have near the
// hit for the ref to find anything: the prefilter's word for hex strings,
// eight bytes of the literal for text strings. A ref whose check fails is
// passed over without touching the variant. When an atom has many refs,
// a hitSieve first picks, by one byte near the hit, the refs that may find
// something. Checks and sieves only reject hits that the full test would
// reject too, with no side effect skipped (see matcher.candidates).
//
// Over 64 MB of /usr/bin with the shared corpus, the atoms hit 480,000
// times and their refs 4.2 million times; 1.3 million refs are left for
// the checks after the sieves, and 120,000 for the full test.

// hitWord is one quick test: data[pos+off:pos+off+8], read little
// endian and masked with mask, must equal val when the atom occurs at pos
// and the eight bytes are in data.
type hitWord struct {
	val, mask uint64
	off       int
}

// fails reports whether the word rules out a hit at pos.
func (w *hitWord) fails(data []byte, pos int) bool {
	i := pos + w.off
	return i >= 0 && i+8 <= len(data) && binary.LittleEndian.Uint64(data[i:])&w.mask != w.val
}

// hitCheck is the quick check of one atomRef: the ref can find something
// only if one of the words r.hitWords[lo:hi] does not fail. lo == hi: no
// check.
type hitCheck struct {
	lo, hi uint32
}

// reject reports whether the check rules out the ref for a hit at pos.
func (c hitCheck) reject(words []hitWord, data []byte, pos int) bool {
	if c.lo == c.hi {
		return false
	}
	for i := c.lo; i < c.hi; i++ {
		if !words[i].fails(data, pos) {
			return false
		}
	}
	return true
}

// useHitChecks is turned off by tests to compare results without them.
var useHitChecks = true

// buildHitChecks fills r.hitChecks, parallel to r.atomIndex, and
// r.hitWords.
func (r *Rules) buildHitChecks() {
	r.hitChecks = make([][]hitCheck, len(r.atomIndex))
	r.hitWords, r.hitSieves = nil, nil
	for p, refs := range r.atomIndex {
		cs := make([]hitCheck, len(refs))
		for k, ref := range refs {
			if !useHitChecks {
				break
			}
			ws := r.variants[ref.v].hitWords(ref)
			if len(ws) == 0 {
				continue
			}
			lo := len(r.hitWords)
			r.hitWords = append(r.hitWords, ws...)
			cs[k] = hitCheck{lo: uint32(lo), hi: uint32(len(r.hitWords))}
		}
		r.hitChecks[p] = cs
		if !useHitChecks {
			continue
		}
		if s := r.buildSieve(refs, r.ac.PatternLen(p)); s != nil {
			if r.hitSieves == nil {
				r.hitSieves = make([]*hitSieve, len(r.atomIndex))
			}
			r.hitSieves[p] = s
		}
	}
}

// maxHitWords bounds the words of one check.
const maxHitWords = 16

// hitWords returns the words of the quick check of one of the variant's
// refs; nil means none.
func (v *variant) hitWords(ref atomRef) []hitWord {
	if v.prog == nil {
		if w := litWord(v.lit, v.nocase, ref.minOff); w.mask != 0 {
			return []hitWord{w}
		}
		return nil
	}
	p, ok := v.prog.(*prefilterProg)
	if !ok || len(p.filters)*len(p.shifts) > maxHitWords {
		return nil
	}
	// prefilterProg.Verify returns at once, with nothing found, when no
	// filter passes at pos-shift for any shift; a filter does not pass
	// when its word at off64 is there and differs. A filter without a
	// word always may pass.
	var ws []hitWord
	for _, d := range p.shifts {
		for i := range p.filters {
			f := &p.filters[i]
			if f.mask64 == 0 {
				return nil
			}
			ws = append(ws, hitWord{val: f.val64 & f.mask64, mask: f.mask64, off: f.off64 - d})
		}
	}
	return ws
}

// litWord is the check of a literal that starts minOff bytes before its
// atom: eight of its bytes (all of them if it is shorter), those after
// the atom if possible. For nocase literals, letters are compared without
// their case bit.
func litWord(lit []byte, nocase bool, minOff int) hitWord {
	w := 0
	if len(lit) > 8 {
		w = min(minOff+maxAtomLen, len(lit)-8)
	}
	var c hitWord
	for k := 0; k < 8 && w+k < len(lit); k++ {
		b, m := lit[w+k], byte(0xFF)
		if nocase && lower(b) != upper(b) {
			m = 0xDF
		}
		c.val |= uint64(b&m) << (8 * k)
		c.mask |= uint64(m) << (8 * k)
	}
	c.off = w - minOff
	return c
}

// A hitSieve picks, by one byte near the hit, the refs of an atom that
// may find something: for an atom shared by dozens of strings, most of
// them want a different byte there, so most refs are passed over without
// a look at their checks.
type hitSieve struct {
	off   int      // data[pos+off] picks the row
	words int      // uint64 words per row
	rows  []uint64 // 256 rows: bit k set if ref k may find something
}

// minSieveRefs is the fewest refs an atom needs for a sieve.
const minSieveRefs = 8

// Sieve bytes are looked for in data[pos+sieveLo:pos+sieveHi].
const (
	sieveLo = -8
	sieveHi = maxPrefilterLen
)

// covers reports whether the sieve applies to a hit at pos.
func (s *hitSieve) covers(pos, n int) bool {
	return pos+s.off >= 0 && pos+s.off < n
}

// row returns the refs that may find something when the atom occurs at
// data[pos].
func (s *hitSieve) row(data []byte, pos int) []uint64 {
	b := int(data[pos+s.off])
	return s.rows[b*s.words : (b+1)*s.words]
}

// allows reports whether the ref may find something when the atom occurs
// at pos and data[pos+r] is b: a literal must have b there (in either
// case for nocase), and one of a hex prefilter's places must accept it.
func (v *variant) allows(ref atomRef, r int, b byte) bool {
	if v.prog == nil {
		k := r + ref.minOff
		if k < 0 || k >= len(v.lit) {
			return true
		}
		if v.nocase {
			return lower(b) == lower(v.lit[k])
		}
		return b == v.lit[k]
	}
	p, ok := v.prog.(*prefilterProg)
	if !ok {
		return true
	}
	// prefilterProg.Verify finds nothing unless a filter passes at
	// pos-d for a shift d; a filter fails if one of its bytes differs.
	for _, d := range p.shifts {
		for i := range p.filters {
			f := &p.filters[i]
			k := r + d
			if k < 0 || k >= len(f.val) {
				return true
			}
			neg := f.not != nil && f.not[k]
			if (b&f.mask[k] == f.val[k]) != neg {
				return true
			}
		}
	}
	return false
}

// allowed is about how many byte values allows accepts at r (at least
// as many), without trying each.
func (v *variant) allowed(ref atomRef, r int) int {
	if v.prog == nil {
		k := r + ref.minOff
		switch {
		case k < 0 || k >= len(v.lit):
			return 256
		case v.nocase && lower(v.lit[k]) != upper(v.lit[k]):
			return 2
		}
		return 1
	}
	p, ok := v.prog.(*prefilterProg)
	if !ok {
		return 256
	}
	n := 0
	for _, d := range p.shifts {
		for i := range p.filters {
			f := &p.filters[i]
			k := r + d
			if k < 0 || k >= len(f.val) {
				return 256
			}
			c := 256 >> bits8(f.mask[k])
			if f.not != nil && f.not[k] {
				c = 256 - c
			}
			n += c
		}
	}
	return min(n, 256)
}

// buildSieve returns the sieve of the refs of an atom of n bytes, or nil
// when no byte after or before it would leave out at least half of them.
func (r *Rules) buildSieve(refs []atomRef, atomLen int) *hitSieve {
	n := len(refs)
	if n < minSieveRefs {
		return nil
	}
	best, bestCost := 0, 256*n/2
	for off := sieveLo; off < sieveHi; off++ {
		if off == 0 {
			off = atomLen // the atom's own bytes say nothing
		}
		cost := 0
		for k := 0; k < n && cost < bestCost; k++ {
			cost += r.variants[refs[k].v].allowed(refs[k], off)
		}
		if cost < bestCost {
			best, bestCost = off, cost
		}
	}
	if bestCost == 256*n/2 {
		return nil
	}
	s := &hitSieve{off: best, words: (n + 63) / 64}
	s.rows = make([]uint64, 256*s.words)
	for k := range n {
		v := r.variants[refs[k].v]
		for b := 0; b < 256; b++ {
			if v.allows(refs[k], best, byte(b)) {
				s.rows[b*s.words+k/64] |= 1 << (k % 64)
			}
		}
	}
	return s
}
