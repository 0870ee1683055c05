package yara

import (
	"vigil/yara/internal/re"
	"vigil/yara/syntax"
)

// The "string may slow down scanning" warning (W200) follows yara 4.2.3:
// yara takes the atoms it would put in its automaton for the string, scores
// each with its heuristic (yr_atoms_heuristic_quality) and warns when the
// lowest score is under YR_ATOM_QUALITY_WARNING_THRESHOLD. Scores here are
// yara's without its constant offset (YR_MAX_ATOM_QUALITY - 22 *
// YR_MAX_ATOM_LENGTH), so the threshold is atomQualityWarning.
//
// Vigil's own atoms (atoms.go, re.Prog.Atoms) are chosen differently; this
// file models how yara chooses, only to decide the warning:
//
//   - literal strings (text, and hex strings or regexes made only of plain
//     bytes): the best 4-byte window of the plain text, then that window
//     widened, case-folded and xored as the modifiers say; the lowest
//     score of the plain window and of every derived atom counts;
//   - hex strings and regexes: runs of literal, nibble-masked and any-byte
//     nodes give one atom each (the best 4-node window of the run); a
//     class, repeat or anchor ends a run; alternatives must all be found
//     (the lowest of their scores), and of the atoms of one sequence the
//     best is used. wide and nocase do not change the score;
//   - base64 strings: the atoms of each encoded form (an approximation).

const (
	// qualityCeil and qualityFloor are yara's YR_MAX_ATOM_QUALITY and
	// YR_MIN_ATOM_QUALITY on this scale.
	qualityCeil  = 22 * maxAtomLen
	qualityFloor = -(255 - 22*maxAtomLen)
	// maxQualitySteps bounds the work of modelling yara's atom choice for
	// one string (nested counted repeats multiply it); past it the string
	// is scored with what was seen so far.
	maxQualitySteps = 1 << 16
)

// qAtom is an atom as yara's heuristic sees it: bytes with masks (0xFF: the
// byte, 0xF0 or 0x0F: a nibble, 0x00: any byte).
type qAtom struct {
	n     int
	bytes [maxAtomLen]byte
	mask  [maxAtomLen]byte
}

// heuristicQuality is yara's yr_atoms_heuristic_quality without its
// constant offset.
func heuristicQuality(a *qAtom) int {
	var seen [256]bool
	q, unique := 0, 0
	for i := 0; i < a.n; i++ {
		switch a.mask[i] {
		case 0x00:
			q -= 10
			continue
		case 0x0F, 0xF0:
			q += 4
			continue
		}
		b := a.bytes[i]
		q += byteQuality(b)
		if !seen[b] {
			seen[b] = true
			unique++
		}
	}
	if unique == 1 && (seen[0x00] || seen[0x20] || seen[0x90] || seen[0xCC] || seen[0xFF]) {
		return q - 10*a.n
	}
	return q + 2*unique
}

// trimAtom is yara's _yr_atoms_trim: it drops any-byte positions at both
// ends, keeps only the first byte when at least half of the rest is
// any-byte, and returns how many positions were dropped on the left.
func trimAtom(a *qAtom) int {
	left := 0
	for left < a.n && a.mask[left] == 0 {
		left++
	}
	for a.n > left && a.mask[a.n-1] == 0 {
		a.n--
	}
	a.n -= left
	if a.n == 0 {
		return 0
	}
	known, unknown := 0, 0
	for i := 0; i < a.n; i++ {
		switch a.mask[left+i] {
		case 0xFF:
			known++
		case 0x00:
			unknown++
		}
	}
	if unknown >= known {
		a.n = 1
	}
	if left > 0 {
		copy(a.bytes[:], a.bytes[left:])
		copy(a.mask[:], a.mask[left:])
	}
	return left
}

func exactAtom(b []byte) qAtom {
	var a qAtom
	a.n = copy(a.bytes[:], b)
	for i := range a.n {
		a.mask[i] = 0xFF
	}
	return a
}

// literalQuality scores a literal string as yara's
// yr_atoms_extract_from_string does.
func literalQuality(s []byte, ascii, wide, nocase, xor bool, xorMin, xorMax int) int {
	best := exactAtom(s[:min(len(s), maxAtomLen)])
	bestQ := heuristicQuality(&best)
	for i := maxAtomLen; i < len(s) && bestQ < qualityCeil; i++ {
		a := exactAtom(s[i-maxAtomLen+1 : i+1])
		if q := heuristicQuality(&a); q > bestQ {
			best, bestQ = a, q
		}
	}
	minQ := bestQ
	atoms := []qAtom{best}
	if wide {
		var w qAtom
		for i := 0; i < best.n && 2*i < maxAtomLen; i++ {
			w.bytes[2*i] = best.bytes[i]
		}
		w.n = min(2*best.n, maxAtomLen)
		for i := range w.mask {
			w.mask[i] = 0xFF
		}
		if ascii {
			atoms = append(atoms, w)
		} else {
			atoms = []qAtom{w}
		}
	}
	if nocase {
		var folded []qAtom
		for _, a := range atoms {
			for _, p := range casePermutations(a.bytes[:a.n]) {
				folded = append(folded, exactAtom(p))
			}
		}
		atoms = append(atoms, folded...)
	}
	if xor {
		var xored []qAtom
		for _, a := range atoms {
			for k := xorMin; k <= xorMax; k++ {
				x := a
				for i := 0; i < x.n; i++ {
					x.bytes[i] ^= byte(k)
				}
				xored = append(xored, x)
			}
		}
		atoms = xored
	}
	for i := range atoms {
		minQ = min(minQ, heuristicQuality(&atoms[i]))
	}
	return minQ
}

// textQuality scores a text string.
func textQuality(s *syntax.StringDef, vs []*variant) int {
	m := s.Modifiers
	if m.Base64 || m.Base64Wide {
		q := qualityCeil
		for _, v := range vs {
			q = min(q, v.quality())
		}
		return q
	}
	return literalQuality(s.Text, m.ASCII || !m.Wide, m.Wide, m.Nocase, m.Xor, m.XorMin, m.XorMax)
}

// hexQuality scores a hex string: each piece of a chained string is a
// string of its own to yara, and the lowest score counts.
func hexQuality(h *syntax.HexString) int {
	pieces, _ := splitHexChain(h)
	q := qualityCeil
	for _, toks := range pieces {
		n, err := re.FromHex(&syntax.HexString{Pos: h.Pos, Tokens: toks})
		if err != nil {
			return qualityFloor
		}
		if lit, ok := yaraLiteral(n); ok {
			q = min(q, literalQuality(lit, true, false, false, false, 0, 0))
		} else {
			q = min(q, patternQuality(n, true))
		}
	}
	return q
}

// regexQuality scores a regex string. The regex is parsed again without
// case folding, so that letters stay single bytes as in yara's tree.
func regexQuality(r *syntax.Regexp, m syntax.Modifiers) int {
	n, err := re.Parse(r.Source, re.Flags{Dotall: r.Dotall})
	if err != nil {
		return qualityFloor
	}
	if lit, ok := yaraLiteral(n); ok {
		return literalQuality(lit, m.ASCII || !m.Wide, m.Wide, m.Nocase || r.Nocase, false, 0, 0)
	}
	return patternQuality(n, false)
}

// yaraLiteral is yara's yr_re_ast_extract_literal: a single byte, or a
// sequence of single bytes.
func yaraLiteral(n *re.Node) ([]byte, bool) {
	one := func(n *re.Node) (byte, bool) {
		if n.Op == re.OpClass && !n.Neg && n.Set.Len() == 1 {
			return n.Set.Min(), true
		}
		return 0, false
	}
	if b, ok := one(n); ok {
		return []byte{b}, true
	}
	if n.Op != re.OpConcat || len(n.Subs) == 0 {
		return nil, false
	}
	out := make([]byte, 0, len(n.Subs))
	for _, c := range n.Subs {
		b, ok := one(c)
		if !ok {
			return nil, false
		}
		out = append(out, b)
	}
	return out, true
}

// Kinds of yara regex nodes, as far as atom choice cares.
const (
	qkBreak  = iota // ends the current run (class, star, anchor, jump...)
	qkByte          // literal, masked literal or any byte
	qkConcat        // children in sequence
	qkAlt           // alternatives
	qkPlus          // child once, then the run ends
	qkRange         // child min(Min, 4) times, then the run ends
)

// classify maps a node to yara's node kinds; for a byte it returns the
// value and mask. hex says the node comes from a hex string, where nibble
// sets are masked literals and every repeat is a jump.
func classify(n *re.Node, hex bool) (kind int, val, mask byte) {
	switch n.Op {
	case re.OpClass:
		switch l := n.Set.Len(); {
		case l == 1 && !n.Neg:
			return qkByte, n.Set.Min(), 0xFF
		case l == 256 || (n.Neg && l == 255 && !n.Set.Has('\n')):
			return qkByte, 0, 0x00 // '.', '??'
		case hex && l == 16:
			lo := n.Set.Min()
			var hi, lowNib re.ByteSet
			for c := 0; c < 16; c++ {
				hi.Add(lo&0xF0 | byte(c))
				lowNib.Add(byte(c)<<4 | lo&0x0F)
			}
			if hi == n.Set {
				return qkByte, lo & 0xF0, 0xF0
			}
			if lowNib == n.Set {
				return qkByte, lo & 0x0F, 0x0F
			}
		}
	case re.OpConcat:
		return qkConcat, 0, 0
	case re.OpAlt:
		return qkAlt, 0, 0
	case re.OpRepeat:
		if hex {
			return qkBreak, 0, 0
		}
		if k, _, m := classify(n.Subs[0], false); k == qkByte && m == 0 {
			// .* is a star; .+ a plus of any byte; .? and .{n,m} are
			// yara's RANGE_ANY.
			if n.Min == 1 && n.Max == -1 {
				return qkPlus, 0, 0
			}
			return qkBreak, 0, 0
		}
		switch {
		case n.Min == 0:
			return qkBreak, 0, 0 // * and ? and {0,m}: no byte is certain
		case n.Min == 1 && n.Max == -1:
			return qkPlus, 0, 0
		}
		return qkRange, 0, 0
	}
	return qkBreak, 0, 0
}

// qNode is a node of yara's atom tree.
type qNode struct {
	and  bool // otherwise OR, or a leaf when it has an atom
	leaf bool
	atom qAtom
	kids []*qNode
}

// patternQuality builds yara's atom tree for a hex string or regex
// (_yr_atoms_extract_from_re) and scores the atoms yara would choose
// (_yr_atoms_choose).
func patternQuality(root *re.Node, hex bool) int {
	type item struct {
		n   *re.Node
		app *qNode // when set: the run ends and leaves go to app from now on
	}
	top := &qNode{}
	stack := []item{{nil, top}, {root, top}}
	var recent qAtom // the last bytes of the current run
	var best qAtom
	bestQ := qualityFloor - 1
	cur := top
	for steps := 0; len(stack) > 0; steps++ {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if steps > maxQualitySteps && it.n != nil {
			continue
		}
		if it.app != nil {
			if recent.n > 0 {
				a := recent
				trimAtom(&a)
				leaf := &qNode{leaf: true, atom: best}
				if heuristicQuality(&a) > bestQ {
					leaf.atom = a
				}
				cur.kids = append(cur.kids, leaf)
				recent.n = 0
			}
			cur = it.app
			bestQ = qualityFloor - 1
		}
		if it.n == nil {
			continue
		}
		kind, val, mask := classify(it.n, hex)
		switch kind {
		case qkByte:
			if recent.n < maxAtomLen {
				recent.bytes[recent.n], recent.mask[recent.n] = val, mask
				recent.n++
				best = recent
			} else if bestQ < qualityCeil {
				a := recent
				trimAtom(&a)
				if q := heuristicQuality(&a); q > bestQ {
					best, bestQ = a, q
				}
				copy(recent.bytes[:], recent.bytes[1:])
				copy(recent.mask[:], recent.mask[1:])
				recent.bytes[maxAtomLen-1], recent.mask[maxAtomLen-1] = val, mask
			}
		case qkConcat:
			for i := len(it.n.Subs) - 1; i >= 0; i-- {
				stack = append(stack, item{it.n.Subs[i], nil})
			}
		case qkAlt:
			and := &qNode{and: true}
			for range it.n.Subs {
				and.kids = append(and.kids, &qNode{})
			}
			cur.kids = append(cur.kids, and)
			stack = append(stack, item{nil, cur})
			for i := len(it.n.Subs) - 1; i >= 0; i-- {
				stack = append(stack, item{it.n.Subs[i], and.kids[i]})
			}
		case qkPlus:
			stack = append(stack, item{nil, cur}, item{it.n.Subs[0], nil})
		case qkRange:
			stack = append(stack, item{nil, cur})
			for range min(it.n.Min, maxAtomLen) {
				stack = append(stack, item{it.n.Subs[0], nil})
			}
		default:
			stack = append(stack, item{nil, cur})
		}
	}
	return chooseQuality(top)
}

// chooseQuality is the score of the atoms yara's _yr_atoms_choose picks: a
// leaf's own, the best child of an OR, the worst child of an AND.
func chooseQuality(t *qNode) int {
	if t.leaf {
		a := t.atom
		trimAtom(&a)
		if a.n == 0 {
			return qualityFloor
		}
		return heuristicQuality(&a)
	}
	if t.and {
		q := qualityCeil
		for _, k := range t.kids {
			q = min(q, chooseQuality(k))
		}
		return q
	}
	q := qualityFloor
	for _, k := range t.kids {
		q = max(q, chooseQuality(k))
		if q == qualityCeil {
			break
		}
	}
	return q
}
