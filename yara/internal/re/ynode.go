package re

import "sync"

// yara's view of a pattern. yara 4.2.3 does not match a regex or hex
// string from its start: it picks atoms from the pattern's syntax tree,
// and on an atom hit runs the code that follows the atom (forwards) and
// the code that precedes it (backwards, reversed). To report the same
// matches, Vigil rebuilds yara's tree shape (ynode), its atom choice
// (yatoms.go), its code layout (yemit.go) and its matching machines
// (yvm.go, yfast.go). This file converts a Node into that shape.

type yop uint8

const (
	yLit      yop = iota // one byte: LITERAL
	yMasked              // one byte: MASKED_LITERAL
	yAny                 // one byte: ANY
	yClass               // one byte from a class (\w, [..], ...): no atom
	yRangeAny            // .{n,m} or a hex jump: REPEAT_ANY
	yConcat              // subs in order
	yAlt                 // exactly two subs (yara's alternation is binary)
	yStar                // sub*
	yPlus                // sub+
	yRange               // sub{min,max}, max -1 unbounded; ? is {0,1}
	yEmpty               // empty alternative
	yBegin               // ^
	yEnd                 // $
	yWordB               // \b
	yNotWordB            // \B
)

// yRangeMax is yara's RE_MAX_RANGE, the upper bound of {n,}.
const yRangeMax = 32767

type ynode struct {
	op        yop
	test      byteTest // byte nodes and yRangeAny: the bytes matched
	val, mask byte     // atom bytes of yLit, yMasked, yAny
	subs      []*ynode
	min, max  int // yRange, yRangeAny
	greedy    bool

	fwd, bwd int32 // entry points in the forward and backward code; -1 none
}

// yarena allocates the nodes of one conversion: a hex string has a node
// per byte, and allocating them one by one was a large part of compiling
// rule sets. Arenas are reused (yarenas); the nodes live only while one
// pattern is compiled.
type yarena struct {
	chunks [][]ynode
	ci     int            // the chunk nodes are taken from
	used   int            // nodes taken from it
	sets   []ByteSet      // the classes that are not of the mask form (byteTest)
	stack  []atomWalkItem // buildAtomTree's
	// The nodes' subs slices, cut from chunks the same way.
	subChunks [][]*ynode
	sci       int
	subUsed   int
}

const (
	yarenaChunk    = 256
	yarenaSubChunk = 4096
)

var yarenas = sync.Pool{New: func() any { return new(yarena) }}

func newYarena() *yarena { return yarenas.Get().(*yarena) }

// release returns the arena to the pool: its nodes must not be used any
// more. The sets belong to the caller.
func (a *yarena) release() {
	a.ci, a.used, a.sets = 0, 0, nil
	a.sci, a.subUsed = 0, 0
	if len(a.chunks) > 64 || cap(a.stack) > 1<<16 || len(a.subChunks) > 4 {
		// Do not keep the arena of a huge pattern.
		a.chunks, a.stack, a.subChunks = nil, nil, nil
	}
	yarenas.Put(a)
}

// subs returns a slice of n nodes for a node's subs.
func (a *yarena) subs(n int) []*ynode {
	for {
		if a.sci == len(a.subChunks) {
			a.subChunks = append(a.subChunks, make([]*ynode, max(n, yarenaSubChunk)))
		}
		c := a.subChunks[a.sci]
		if end := a.subUsed + n; end <= len(c) {
			s := c[a.subUsed:end:end]
			a.subUsed = end
			return s
		}
		a.sci++
		a.subUsed = 0
	}
}

func (a *yarena) node() *ynode {
	if a.ci < len(a.chunks) && a.used == len(a.chunks[a.ci]) {
		a.ci++
		a.used = 0
	}
	if a.ci == len(a.chunks) {
		a.chunks = append(a.chunks, make([]ynode, yarenaChunk))
	}
	y := &a.chunks[a.ci][a.used]
	a.used++
	*y = ynode{fwd: -1, bwd: -1}
	return y
}

// test returns the byteTest of s, adding s to a.sets when needed.
func (a *yarena) test(s *ByteSet) byteTest {
	if t, ok := maskTest(s); ok {
		return t
	}
	for i := range a.sets {
		if a.sets[i] == *s {
			return byteTest{class: int32(i + 1)}
		}
	}
	a.sets = append(a.sets, *s)
	return byteTest{class: int32(len(a.sets))}
}

// toYara converts n, with the compile options applied, into yara's tree.
// It never fails: every Node has a yara equivalent.
// The nodes come from a, which must not be released while they are used.
func toYara(a *yarena, n *Node, opt CompileOptions) *ynode {
	return a.toYara(n, opt)
}

func (a *yarena) toYara(n *Node, opt CompileOptions) *ynode {
	y := a.node()
	switch n.Op {
	case OpEmpty:
		y.op = yEmpty
	case OpClass:
		switch {
		case opt.Nocase:
			f := foldClass(n)
			y.test = a.test(&f)
		case n.kind == kindLit && n.Set.Len() == 1 && n.Set.Has(n.val):
			y.test = byteTest{val: n.val, mask: 0xFF} // most hex bytes
		default:
			y.test = a.test(&n.Set)
		}
		y.val, y.mask = n.val, n.mask
		switch n.kind {
		case kindLit:
			y.op = yLit
		case kindMasked:
			y.op = yMasked
		case kindAny:
			y.op = yAny
			y.val, y.mask = 0, 0
		default:
			y.op = yClass
		}
	case OpBegin:
		y.op = yBegin
	case OpEnd:
		y.op = yEnd
	case OpWordBoundary:
		y.op = yWordB
	case OpNotWordBoundary:
		y.op = yNotWordB
	case OpConcat:
		y.op = yConcat
		y.subs = a.subs(len(n.Subs))
		for i, s := range n.Subs {
			y.subs[i] = a.toYara(s, opt)
		}
	case OpAlt:
		// a|b|c is (a|b)|c.
		y = a.toYara(n.Subs[0], opt)
		for _, s := range n.Subs[1:] {
			alt := a.node()
			alt.op, alt.subs = yAlt, a.subs(2)
			alt.subs[0], alt.subs[1] = y, a.toYara(s, opt)
			y = alt
		}
	case OpRepeat:
		sub := n.Subs[0]
		y.greedy = !n.Lazy
		y.min, y.max = n.Min, n.Max
		isAny := sub.Op == OpClass && sub.kind == kindAny
		switch {
		case n.quant == '*':
			y.op = yStar
		case n.quant == '+':
			y.op = yPlus
		case isAny:
			y.op = yRangeAny
			y.test = a.test(&sub.Set)
			if y.max < 0 {
				y.max = yRangeMax
			}
			return y
		default:
			y.op = yRange
			if y.max < 0 {
				y.max = yRangeMax
			}
		}
		y.subs = a.subs(1)
		y.subs[0] = a.toYara(sub, opt)
	}
	return y
}

// YaraLiteral returns the bytes of a pattern made only of literal
// characters (no class, group, quantifier or anchor), which yara searches
// as a text string. The caller must also check the source for groups:
// /(ab)/ parses to the same Node as /ab/ but is not a literal for yara.
func (n *Node) YaraLiteral() ([]byte, bool) {
	subs := []*Node{n}
	if n.Op == OpConcat {
		subs = n.Subs
	}
	out := make([]byte, 0, len(subs))
	for _, s := range subs {
		if s.Op != OpClass || s.kind != kindLit {
			return nil, false
		}
		out = append(out, s.val)
	}
	return out, len(out) > 0
}
