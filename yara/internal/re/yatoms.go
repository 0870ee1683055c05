package re

import (
	"math/bits"
	"slices"
)

// yara's atom selection for regexes and hex strings (atoms.c in yara
// 4.2.3), rebuilt from its documented behaviour: the tree is walked in
// order, runs of up to yMaxAtom literal-like nodes form candidate atoms,
// every alternation opens an AND of two ORs, and the best leaf of each OR
// is kept by quality.

const (
	yMaxAtom        = 4   // YR_MAX_ATOM_LENGTH
	yMaxAtomQuality = 255 // YR_MAX_ATOM_QUALITY
)

// yatom is an atom with yara's byte masks, before expansion.
type yatom struct {
	b, m [yMaxAtom]byte
	n    int
}

// qualityOffset is the constant yara adds to every atom quality
// (YR_MAX_ATOM_QUALITY - 22 * YR_MAX_ATOM_LENGTH). The exported quality
// functions leave it out: their scale is yara's minus qualityOffset.
const qualityOffset = yMaxAtomQuality - 22*yMaxAtom

// Qualities on the exported scale (yara's without qualityOffset): the
// best an atom can score (YR_MAX_ATOM_QUALITY) and what a pattern without
// atoms scores (YR_MIN_ATOM_QUALITY).
const (
	MaxQuality = yMaxAtomQuality - qualityOffset
	MinQuality = -qualityOffset
)

// heuristicQuality is yara's yr_atoms_heuristic_quality without
// qualityOffset, for an atom of bytes b with masks m (0xFF: the byte,
// 0xF0 or 0x0F: a nibble, 0x00: any byte); m nil means every byte is
// exact. Rare bytes score best; 00 20 CC FF and letters less; an atom of
// one repeated common byte least.
func heuristicQuality(b, m []byte) int {
	var seen ByteSet
	q, unique := 0, 0
	for i, c := range b {
		mask := byte(0xFF)
		if m != nil {
			mask = m[i]
		}
		switch mask {
		case 0x00:
			q -= 10
			continue
		case 0x0F, 0xF0:
			q += 4
			continue
		case 0xFF:
		default:
			continue
		}
		switch {
		case c == 0x00 || c == 0x20 || c == 0xCC || c == 0xFF:
			q += 12
		case c|0x20 >= 'a' && c|0x20 <= 'z':
			q += 18
		default:
			q += 20
		}
		if !seen.Has(c) {
			seen.Add(c)
			unique++
		}
	}
	if unique == 1 && (seen.Has(0x00) || seen.Has(0x20) || seen.Has(0x90) || seen.Has(0xCC) || seen.Has(0xFF)) {
		return q - 10*len(b)
	}
	return q + 2*unique
}

// AtomQuality is yara's quality of an exact atom (see heuristicQuality),
// without yara's constant offset.
func AtomQuality(a []byte) int { return heuristicQuality(a, nil) }

// quality is yara's heuristic atom quality.
func (a *yatom) quality() int {
	return qualityOffset + heuristicQuality(a.b[:a.n], a.m[:a.n])
}

// trim drops unknown bytes (mask 00) at both ends and returns how many
// were dropped at the start. When unknown bytes are at least as many as
// known ones, only the first known byte is kept.
func (a *yatom) trim() int {
	left := 0
	for left < a.n && a.m[left] == 0 {
		left++
	}
	for a.n > left && a.m[a.n-1] == 0 {
		a.n--
	}
	a.n -= left
	if a.n == 0 {
		return 0
	}
	known, unknown := 0, 0
	for i := 0; i < a.n; i++ {
		switch a.m[left+i] {
		case 0xFF:
			known++
		case 0x00:
			unknown++
		}
	}
	if unknown >= known {
		a.n = 1
	}
	if left == 0 {
		return 0
	}
	for i := 0; i+left < yMaxAtom; i++ {
		a.b[i], a.m[i] = a.b[i+left], a.m[i+left]
	}
	return left
}

type atreeKind uint8

const (
	atLeaf atreeKind = iota
	atOr
	atAnd
)

type atree struct {
	kind  atreeKind
	atom  yatom
	nodes [yMaxAtom]aleaf // leaf: the atom's bytes with their entry points
	subs  []*atree
}

// aleaf is a byte of the tree that can be part of an atom (yLit, yMasked,
// yAny), with its entry points in the code.
type aleaf struct {
	val, mask byte
	fwd, bwd  int32
}

func leafOf(y *ynode) aleaf { return aleaf{y.val, y.mask, y.fwd, y.bwd} }

// chosen is one atom picked for the pattern with its code entry points.
type chosen struct {
	atom     yatom
	fwd, bwd int32
}

type atomWalkItem struct {
	n      *ynode
	attach *atree // non-nil: switch the OR node leaves are added to
}

// maxAtomWalk bounds the steps of buildAtomTree. Counted repeats are
// walked min(n, 4) times, so nested ones multiply the work; a pattern
// Compile accepts takes far fewer steps (its Pike program, which unrolls
// every repeat, has at most maxInsts instructions), so the bound only
// matters to PatternQuality, which scores patterns Compile may reject.
// Past it, the nodes left are skipped.
const maxAtomWalk = 1 << 22

// atomWalk is the state of yara's walk over the leaves of the tree: the
// last yMaxAtom leaves of the current run and the best atom seen in it.
type atomWalk struct {
	recent   [yMaxAtom]aleaf
	n        int
	best     yatom
	bestLeaf [yMaxAtom]aleaf
	bestQ    int
	cur      *atree
}

func (w *atomWalk) window() yatom {
	var a yatom
	a.n = w.n
	for i := 0; i < w.n; i++ {
		a.b[i], a.m[i] = w.recent[i].val, w.recent[i].mask
	}
	return a
}

// attach ends the current run, adding its best atom to the OR node, and
// makes t the OR node later runs go to.
func (w *atomWalk) attach(t *atree) {
	if w.n > 0 {
		a := w.window()
		shift := a.trim()
		leaf := &atree{kind: atLeaf}
		if a.quality() > w.bestQ {
			leaf.atom = a
			copy(leaf.nodes[:], w.recent[shift:])
		} else {
			leaf.atom = w.best
			leaf.nodes = w.bestLeaf
		}
		w.cur.subs = append(w.cur.subs, leaf)
		w.n = 0
	}
	w.cur = t
	w.bestQ = -1
}

// leaf adds a byte to the current run.
func (w *atomWalk) leaf(y aleaf) {
	if w.n < yMaxAtom {
		w.recent[w.n] = y
		w.bestLeaf[w.n] = y
		w.best.b[w.n], w.best.m[w.n] = y.val, y.mask
		w.n++
		w.best.n = w.n
	} else if w.bestQ < yMaxAtomQuality {
		a := w.window()
		shift := a.trim()
		if q := a.quality(); q > w.bestQ {
			for i := 0; i < a.n; i++ {
				w.bestLeaf[i] = w.recent[i+shift]
			}
			w.best = a
			w.bestQ = q
		}
		copy(w.recent[:], w.recent[1:])
		w.recent[yMaxAtom-1] = y
	}
}

// buildAtomTree walks the tree the way yara does and returns the root OR
// node of the atom tree. The nodes' entry points must be laid out.
// a lends its walk stack.
func buildAtomTree(a *yarena, root *ynode) *atree {
	top := &atree{kind: atOr}
	stack := append(a.stack[:0], atomWalkItem{nil, top}, atomWalkItem{root, top})
	defer func() {
		clear(stack[:cap(stack)])
		a.stack = stack[:0]
	}()
	w := atomWalk{bestQ: -1}
	for steps := 0; len(stack) > 0; steps++ {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if steps > maxAtomWalk && it.n != nil {
			continue
		}
		if it.attach != nil {
			w.attach(it.attach)
		}
		if it.n == nil {
			continue
		}
		cur := w.cur
		switch y := it.n; y.op {
		case yLit, yMasked, yAny:
			w.leaf(leafOf(y))
		case yConcat:
			stack = slices.Grow(stack, len(y.subs))
			for i := len(y.subs) - 1; i >= 0; i-- {
				stack = append(stack, atomWalkItem{y.subs[i], nil})
			}
		case yAlt:
			left, right := &atree{kind: atOr}, &atree{kind: atOr}
			cur.subs = append(cur.subs, &atree{kind: atAnd, subs: []*atree{left, right}})
			stack = append(stack, atomWalkItem{nil, cur}, atomWalkItem{y.subs[1], right}, atomWalkItem{y.subs[0], left})
		case yPlus:
			stack = append(stack, atomWalkItem{nil, cur}, atomWalkItem{y.subs[0], nil})
		case yRange:
			stack = append(stack, atomWalkItem{nil, cur})
			for i := 0; i < min(y.min, yMaxAtom); i++ {
				stack = append(stack, atomWalkItem{y.subs[0], nil})
			}
		default:
			stack = append(stack, atomWalkItem{nil, cur})
		}
	}
	return top
}

// choose picks atoms from the tree: the best child of an OR, all
// children of an AND (later children's atoms first, as yara lists them).
func (t *atree) choose() ([]chosen, int) {
	switch t.kind {
	case atLeaf:
		a := t.atom
		shift := a.trim()
		if a.n == 0 {
			return nil, 0
		}
		nd := &t.nodes[shift]
		return []chosen{{atom: a, fwd: nd.fwd, bwd: nd.bwd}}, a.quality()
	case atOr:
		var out []chosen
		maxQ := 0
		for _, s := range t.subs {
			items, q := s.choose()
			if q > maxQ {
				maxQ = q
				out = items
			}
			if maxQ == yMaxAtomQuality {
				break
			}
		}
		return out, maxQ
	}
	var out []chosen
	minQ := yMaxAtomQuality
	for _, s := range t.subs {
		items, q := s.choose()
		minQ = min(minQ, q)
		if items != nil {
			out = append(append([]chosen(nil), items...), out...)
		}
	}
	return out, minQ
}

// expandWildcards replaces atoms with masked bytes by every exact atom
// they stand for, in yara's list order: an atom becomes itself with every
// masked byte at its lowest value, followed by the other values of the
// last masked byte, then of the one before, and so on, each expanded in
// turn the same way.
func expandWildcards(list []chosen) []chosen {
	var out []chosen
	for _, c := range list {
		out = expandOne(c, out)
	}
	return out
}

func expandOne(c chosen, out []chosen) []chosen {
	orig := c
	type alt struct {
		pos    int
		values []byte
	}
	var alts []alt
	for j := 0; j < c.atom.n; j++ {
		var s, e, incr int
		switch c.atom.m[j] {
		case 0x00:
			s, e, incr = 0, 0xFF, 1
		case 0x0F:
			s, e, incr = int(c.atom.b[j]), int(c.atom.b[j]|0xF0), 0x10
		case 0xF0:
			s, e, incr = int(c.atom.b[j]), int(c.atom.b[j]|0x0F), 1
		default:
			continue
		}
		var vs []byte
		for v := s + incr; v <= e; v += incr {
			vs = append(vs, byte(v))
		}
		alts = append(alts, alt{j, vs})
		c.atom.b[j], c.atom.m[j] = byte(s), 0xFF
	}
	out = append(out, c)
	// Clones made at the t-th masked byte have the earlier ones at their
	// lowest value and the later ones still masked.
	for t := len(alts) - 1; t >= 0; t-- {
		for _, v := range alts[t].values {
			d := orig
			for _, a := range alts[:t] {
				d.atom.b[a.pos], d.atom.m[a.pos] = c.atom.b[a.pos], 0xFF
			}
			d.atom.b[alts[t].pos], d.atom.m[alts[t].pos] = v, 0xFF
			out = expandOne(d, out)
		}
	}
	return out
}

// caseCombinations lists the other-case spellings of an atom in yara's
// order (the atom itself is not included).
func caseCombinations(a []byte, off int, out [][]byte) [][]byte {
	if off+1 < len(a) {
		out = caseCombinations(a, off+1, out)
	}
	c := a[off]
	if c|0x20 >= 'a' && c|0x20 <= 'z' {
		b := append([]byte(nil), a...)
		b[off] ^= 0x20
		out = append(out, b)
		if off+1 < len(a) {
			out = caseCombinations(b, off+1, out)
		}
	}
	return out
}

// YaraAtom is an atom as yara 4.2.3 picks it for a regex or hex string,
// with the code it runs on a hit (see Prog.YaraVerify).
type YaraAtom struct {
	Bytes    []byte
	fwd, bwd int32 // bwd -1: no backward code
	wide     bool  // a wide atom of an ascii+wide pattern
}

// yaraAtoms computes the final atom list: chosen atoms expanded, made
// wide and case-varied as the options ask. nil means yara's zero-length
// atom: the pattern is tried at every offset from the start of its code.
func yaraAtoms(list []chosen, ascii, wide, nocase bool) []YaraAtom {
	list = expandWildcards(list)
	var out []YaraAtom
	for _, c := range list {
		out = append(out, YaraAtom{Bytes: append([]byte(nil), c.atom.b[:c.atom.n]...), fwd: c.fwd, bwd: c.bwd})
	}
	if wide {
		var w []YaraAtom
		for i := len(out) - 1; i >= 0; i-- {
			a := out[i]
			n := min(2*len(a.Bytes), yMaxAtom)
			b := make([]byte, n)
			for j := 0; 2*j < n; j++ {
				b[2*j] = a.Bytes[j]
			}
			w = append(w, YaraAtom{Bytes: b, fwd: a.fwd, bwd: a.bwd, wide: true})
		}
		if ascii {
			out = append(out, w...)
		} else {
			out = w
		}
	}
	if nocase {
		// yara prepends each variant to its list: reversed order.
		var cs []YaraAtom
		for _, a := range out {
			for _, b := range caseCombinations(a.Bytes, 0, nil) {
				cs = append(cs, YaraAtom{Bytes: b, fwd: a.fwd, bwd: a.bwd, wide: a.wide})
			}
		}
		for i := len(cs) - 1; i >= 0; i-- {
			out = append(out, cs[i])
		}
	}
	return out
}

// maxYaraAtoms bounds the atoms of one pattern: masked bytes expand to up
// to 65536 atoms per chosen atom, and an alternation may choose many.
const maxYaraAtoms = 1 << 18

// countAtoms is an upper bound of len(yaraAtoms(list, ...)).
func countAtoms(list []chosen, ascii, wide, nocase bool) int {
	total := 0
	for _, c := range list {
		n := 1
		for i := 0; i < c.atom.n; i++ {
			switch c.atom.m[i] {
			case 0x00:
				n *= 256
			case 0x0F, 0xF0:
				n *= 16
			}
		}
		if nocase {
			n *= 1 << c.atom.n
		}
		if ascii && wide {
			n *= 2
		}
		total += n
		if total > maxYaraAtoms {
			break
		}
	}
	return total
}

// ysearch is a shorter equivalent of a yara atom list made from a single
// chosen atom. Such a list is every string of a product of byte sets
// (masked bytes expanded, cases, wide zeros), all with the same code. Then
// what yara does is: at every offset where some atom occurs, in
// increasing order, verify the code once (verifying twice changes
// nothing). The same is found by searching a few bytes of the product
// (atoms, at delta in the atom) and checking the other positions.
type ysearch struct {
	sets     []ByteSet
	atoms    [][]byte
	delta    int
	fwd, bwd int32
}

// maxSearchAtoms bounds the strings a search window may expand to.
const maxSearchAtoms = 16

func newSearch(c chosen, wide, nocase bool) *ysearch {
	sets := make([]ByteSet, c.atom.n)
	for i := range sets {
		sets[i] = maskSet(c.atom.b[i], c.atom.m[i])
	}
	if wide {
		var w []ByteSet
		var zero ByteSet
		zero.Add(0)
		for _, s := range sets {
			w = append(w, s, zero)
		}
		sets = w[:min(len(w), yMaxAtom)]
	}
	if nocase {
		for i := range sets {
			sets[i] = sets[i].Fold()
		}
	}
	// The longest window that expands to few strings, then the fewest.
	bestLo, bestHi, bestN := -1, -1, 0
	for lo := range sets {
		n := 1
		for hi := lo; hi < len(sets); hi++ {
			n *= sets[hi].Len()
			if n > maxSearchAtoms {
				break
			}
			l := hi - lo + 1
			if bestLo < 0 || l > bestHi-bestLo+1 || (l == bestHi-bestLo+1 && n < bestN) {
				bestLo, bestHi, bestN = lo, hi, n
			}
		}
	}
	if bestLo < 0 {
		return nil
	}
	return &ysearch{sets: sets, atoms: product(sets[bestLo:bestHi+1], bestN), delta: bestLo, fwd: c.fwd, bwd: c.bwd}
}

// product lists the n strings of the product of sets (at most
// maxSearchAtoms), the first set varying slowest, each byte in
// increasing order; the strings share one backing array.
func product(sets []ByteSet, n int) [][]byte {
	var vals [yMaxAtom][maxSearchAtoms]byte
	var cnt [yMaxAtom]int
	for j, s := range sets {
		for i, w := range s {
			for ; w != 0; w &= w - 1 {
				vals[j][cnt[j]] = byte(i*64 + bits.TrailingZeros64(w))
				cnt[j]++
			}
		}
	}
	k := len(sets)
	buf := make([]byte, n*k)
	out := make([][]byte, n)
	for i := range out {
		a := buf[i*k : (i+1)*k : (i+1)*k]
		r := i
		for j := k - 1; j >= 0; j-- {
			a[j] = vals[j][r%cnt[j]]
			r /= cnt[j]
		}
		out[i] = a
	}
	return out
}

// PatternQuality is the quality yara 4.2.3 gives the atoms it chooses for
// a regex or hex string pattern (_yr_atoms_extract_from_re and
// _yr_atoms_choose: the lowest quality of the atoms it keeps), without
// yara's constant offset; MinQuality when it finds none. The "may slow
// down scanning" warning compares it with a threshold. wide and nocase do
// not change it. yara scores each piece of a chained pattern (see Chain)
// as a string of its own: pass one piece.
func PatternQuality(n *Node) int {
	a := newYarena()
	defer a.release()
	_, q := buildAtomTree(a, toYara(a, n, CompileOptions{})).choose()
	return q - qualityOffset
}

// RegexQuality is the quality yara 4.2.3 gives the atoms of a regex
// string: n is the regex parsed without case folding (so that letters
// stay single bytes, as in yara's tree), the flags are the string's
// modifiers. yara splits the regex at long lazy gaps (see Chain) and
// scores each piece as a string of its own, the lowest score counting: a
// piece made only of literal bytes, not in a group, is a literal string
// to yara (LiteralQuality), any other piece a pattern (PatternQuality).
func RegexQuality(n *Node, ascii, wide, nocase bool) int {
	piece := func(subs []*Node) int {
		lit := make([]byte, 0, len(subs))
		for _, s := range subs {
			if s.Op != OpClass || s.kind != kindLit || s.group {
				if len(subs) == 1 {
					return PatternQuality(s)
				}
				return PatternQuality(&Node{Op: OpConcat, Subs: subs})
			}
			lit = append(lit, s.val)
		}
		return LiteralQuality(lit, ascii, wide, nocase, false, 0, 0)
	}
	if n.Op != OpConcat || !n.chain {
		return piece([]*Node{n})
	}
	q, start := MaxQuality, 0
	for i := 1; i < len(n.Subs)-1; i++ {
		if isChainGap(n.Subs[i]) {
			q = min(q, piece(n.Subs[start:i]))
			start = i + 1
		}
	}
	return min(q, piece(n.Subs[start:]))
}

// YaraQuality is PatternQuality of the compiled pattern (computed by
// Compile, which chooses the same atoms).
func (p *Prog) YaraQuality() int { return p.y.quality - qualityOffset }

// LiteralQuality is the quality yara 4.2.3 gives the atoms of a literal
// string (yr_atoms_extract_from_string), without its constant offset:
// the best window of up to 4 bytes of s, then that window made wide,
// case-varied and xored as the modifiers say; the lowest quality of the
// window and of every atom derived from it counts. s must not be empty.
func LiteralQuality(s []byte, ascii, wide, nocase, xor bool, xorMin, xorMax int) int {
	best := s[:min(len(s), yMaxAtom)]
	bestQ := AtomQuality(best)
	for i := yMaxAtom; i < len(s) && bestQ < MaxQuality; i++ {
		if q := AtomQuality(s[i-yMaxAtom+1 : i+1]); q > bestQ {
			best, bestQ = s[i-yMaxAtom+1:i+1], q
		}
	}
	minQ := bestQ
	atoms := [][]byte{best}
	if wide {
		w := make([]byte, min(2*len(best), yMaxAtom))
		for i := 0; 2*i < len(w); i++ {
			w[2*i] = best[i]
		}
		if ascii {
			atoms = append(atoms, w)
		} else {
			atoms = [][]byte{w}
		}
	}
	if nocase {
		for _, a := range atoms {
			atoms = caseCombinations(a, 0, atoms)
		}
	}
	if xor {
		var xored [][]byte
		for _, a := range atoms {
			for k := xorMin; k <= xorMax; k++ {
				x := make([]byte, len(a))
				for i := range a {
					x[i] = a[i] ^ byte(k)
				}
				xored = append(xored, x)
			}
		}
		atoms = xored
	}
	for _, a := range atoms {
		minQ = min(minQ, AtomQuality(a))
	}
	return minQ
}
