package re

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
	set       ByteSet // byte nodes and yRangeAny: the bytes matched
	val, mask byte    // atom bytes of yLit, yMasked, yAny
	subs      []*ynode
	min, max  int // yRange, yRangeAny
	greedy    bool

	fwd, bwd int32 // entry points in the forward and backward code; -1 none
}

// toYara converts n, with the compile options applied, into yara's tree.
// It never fails: every Node has a yara equivalent.
func toYara(n *Node, opt CompileOptions) *ynode {
	y := &ynode{fwd: -1, bwd: -1}
	switch n.Op {
	case OpEmpty:
		y.op = yEmpty
	case OpClass:
		y.set = n.Set
		if opt.Nocase {
			y.set = foldClass(n)
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
		for _, s := range n.Subs {
			y.subs = append(y.subs, toYara(s, opt))
		}
	case OpAlt:
		// a|b|c is (a|b)|c.
		y = toYara(n.Subs[0], opt)
		for _, s := range n.Subs[1:] {
			y = &ynode{op: yAlt, subs: []*ynode{y, toYara(s, opt)}, fwd: -1, bwd: -1}
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
			y.set = sub.Set
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
		y.subs = []*ynode{toYara(sub, opt)}
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
