package re

import "math/bits"

// Limits of atom selection.
const (
	maxAtomLen  = 4  // bytes in one atom
	maxAtomAlts = 64 // alternatives in the returned atom set
	maxUnroll   = 4  // class repeats expanded into single positions
)

// Atom is a literal that every match contains at an offset in
// [MinOff, MaxOff] from the match start.
type Atom struct {
	Bytes          []byte
	MinOff, MaxOff int
}

// Atoms returns a set of alternative atoms: every match contains at least
// one of them, at an offset within its bounds. Nocase and Wide are already
// accounted for (case variants are separate atoms). Offsets after an
// unbounded part are capped at ScanLimit (no match is longer). Atoms
// returns nil when no useful atom exists: the caller must then try
// MatchAt at every offset. The returned slice must not be modified.
func (p *Prog) Atoms() []Atom {
	p.atomsOnce.Do(func() {
		p.pike()
		p.atoms = chooseAtoms(p.tree)
	})
	return p.atoms
}

type candidate struct {
	atoms []Atom
	q     int // quality: higher is better; meaningless when atoms is nil
}

func chooseAtoms(n *Node) []Atom {
	c := bestAtoms(n, 0)
	if c.atoms == nil || c.q <= 0 {
		return nil
	}
	return c.atoms
}

// flatten turns n into a sequence of elements: concatenations are opened,
// alternations of single classes become one class, and short class
// repeats are unrolled, so that neighbouring classes can form one atom.
func flatten(n *Node, out []*Node) []*Node {
	switch n.Op {
	case OpConcat:
		for _, s := range n.Subs {
			out = flatten(s, out)
		}
		return out
	case OpAlt:
		var u ByteSet
		for _, s := range n.Subs {
			if s.Op != OpClass {
				return append(out, n)
			}
			u = u.Union(s.Set)
		}
		return append(out, &Node{Op: OpClass, Set: u})
	case OpRepeat:
		sub := n.Subs[0]
		if sub.Op != OpClass || n.Min == 0 {
			return append(out, n)
		}
		k := min(n.Min, maxUnroll)
		for i := 0; i < k; i++ {
			out = append(out, sub)
		}
		if n.Max == n.Min && k == n.Min {
			return out
		}
		rest := &Node{Op: OpRepeat, Subs: n.Subs, Min: n.Min - k, Max: n.Max, Lazy: n.Lazy}
		if n.Max > 0 {
			rest.Max = n.Max - k
		}
		return append(out, rest)
	case OpEmpty, OpBegin, OpEnd, OpWordBoundary, OpNotWordBoundary:
		return out
	}
	return append(out, n)
}

// bestAtoms finds the best atom set for n; offsets are relative to the
// start of n. depth bounds recursion on hostile nesting.
func bestAtoms(n *Node, depth int) candidate {
	var best candidate
	if depth > maxNesting {
		return best
	}
	elems := flatten(n, nil)
	lo, hi := 0, 0
	consider := func(c candidate) {
		if c.atoms != nil && (best.atoms == nil || c.q > best.q) {
			best = c
		}
	}
	for i, e := range elems {
		if lo > ScanLimit {
			break // no match reaches here
		}
		switch e.Op {
		case OpClass:
			consider(windowAtoms(elems[i:], lo, hi))
		case OpAlt:
			consider(altAtoms(e, lo, hi, depth))
		case OpRepeat:
			if e.Min > 0 {
				consider(shift(bestAtoms(e.Subs[0], depth+1), lo, hi))
			}
		}
		lo = satAdd(lo, e.MinLen())
		if l := e.MaxLen(); l < 0 || hi+l > ScanLimit {
			hi = ScanLimit
		} else {
			hi += l
		}
	}
	return best
}

// windowAtoms builds the best atom from consecutive classes at the start
// of elems, which sit at offset [lo, hi].
func windowAtoms(elems []*Node, lo, hi int) candidate {
	var best candidate
	count := 1
	q := 0
	for j := 0; j < len(elems) && j < maxAtomLen && elems[j].Op == OpClass; j++ {
		k := elems[j].Set.Len()
		if k == 0 || count*k > maxAtomAlts {
			break
		}
		count *= k
		q += posQuality(elems[j].Set)
		qq := q - runPenalty(elems[:j+1]) - spreadPenalty(hi-lo)
		if best.atoms == nil || qq > best.q {
			best = candidate{atoms: expand(elems[:j+1], lo, hi), q: qq}
		}
	}
	return best
}

// posQuality rates one atom position: rare single bytes are worth most,
// 00/FF/20/CC/90 less, sets of bytes less the larger they are.
func posQuality(s ByteSet) int {
	k := s.Len()
	if k == 1 {
		switch s.Min() {
		case 0x00, 0xFF:
			return 6
		case 0x20, 0xCC, 0x90:
			return 10
		}
		return 20
	}
	q := 18 - 4*bits.Len(uint(k-1))
	return max(q, 0)
}

// runPenalty discourages atoms made of one repeated byte ("AAAA", 00 00).
func runPenalty(elems []*Node) int {
	if len(elems) < 2 || elems[0].Set.Len() != 1 {
		return 0
	}
	for _, e := range elems[1:] {
		if e.Set != elems[0].Set {
			return 0
		}
	}
	return 8 * (len(elems) - 1)
}

// spreadPenalty discourages atoms whose offset is uncertain: the caller
// must try every start in the range.
func spreadPenalty(spread int) int {
	if spread <= 0 {
		return 0
	}
	return 2 * bits.Len(uint(spread))
}

// expand lists every byte string the classes match, in order.
func expand(elems []*Node, lo, hi int) []Atom {
	strs := [][]byte{nil}
	for _, e := range elems {
		var next [][]byte
		for _, s := range strs {
			for _, b := range e.Set.Bytes() {
				t := append(append([]byte(nil), s...), b)
				next = append(next, t)
			}
		}
		strs = next
	}
	atoms := make([]Atom, len(strs))
	for i, s := range strs {
		atoms[i] = Atom{Bytes: s, MinOff: lo, MaxOff: hi}
	}
	return atoms
}

// altAtoms combines the best atoms of every alternative; all must have one.
func altAtoms(n *Node, lo, hi, depth int) candidate {
	var out candidate
	q := -1
	for _, s := range n.Subs {
		c := bestAtoms(s, depth+1)
		if c.atoms == nil || len(out.atoms)+len(c.atoms) > maxAtomAlts {
			return candidate{}
		}
		out.atoms = append(out.atoms, c.atoms...)
		if q < 0 || c.q < q {
			q = c.q
		}
	}
	c := shift(out, lo, hi)
	c.q = q - 2*bits.Len(uint(len(n.Subs)-1)) - spreadPenalty(hi-lo)
	return c
}

// shift moves atoms found inside a sub-pattern that starts at [lo, hi].
func shift(c candidate, lo, hi int) candidate {
	if c.atoms == nil {
		return c
	}
	out := candidate{atoms: make([]Atom, len(c.atoms)), q: c.q - spreadPenalty(hi-lo)}
	for i, a := range c.atoms {
		a.MinOff = min(a.MinOff+lo, ScanLimit)
		a.MaxOff = min(a.MaxOff+hi, ScanLimit)
		out.atoms[i] = a
	}
	return out
}
