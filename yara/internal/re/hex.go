package re

import (
	"fmt"
	"sync/atomic"

	"vigil/yara/syntax"
)

// Limits on hex strings, as yara 4.2.3 enforces them.
const (
	// MaxAltJump is the largest jump allowed inside an alternation
	// ("jumps over 200 not allowed inside alternation (|)"); yara's
	// STRING_CHAINING_THRESHOLD.
	MaxAltJump = 200

	// maxHexTokens bounds the size of a hex string.
	maxHexTokens = 1 << 16
)

// FromHex converts a hex string AST into a Node. Jumps become lazy repeats
// of any byte ([n-m] is `.{n,m}?` with dotall), as in yara. yara splits a
// hex string at jumps over ChainThreshold into chained pieces (see Chain);
// FromHex keeps such jumps as written (Compile bounds them by ScanLimit).
// Errors are *Error with Offset 0 and yara's messages.
func FromHex(h *syntax.HexString) (*Node, error) {
	if h == nil || len(h.Tokens) == 0 {
		return nil, &Error{0, "empty hex string"}
	}
	count := 0
	n, err := hexSeq(h.Tokens, false, &count)
	if err != nil {
		return nil, err
	}
	root := *n
	root.hex = true
	root.chain = root.Op == OpConcat
	return &root, nil
}

// Hex string leaves are shared: a hex string is mostly single bytes, and
// building a node (and its byte set) per byte dominated compiling rule
// sets. Nodes are never modified once built (transform, piece and FromHex
// copy what they change), so sharing them is safe.
var (
	// hexLeaves caches the nodes of hex bytes by negation, mask (FF, F0,
	// 0F, 00) and value; other masks are built each time.
	hexLeaves [2][4][256]atomic.Pointer[Node]
	// hexAnyByte is the byte of a hex jump: yara's RE_NODE_ANY.
	hexAnyByte = &Node{Op: OpClass, Set: fullSet, any: true, kind: kindAny}
	// hexJumpOne is [1]: a masked byte with mask 00 for yara.
	hexJumpOne = &Node{Op: OpClass, Set: fullSet, kind: kindMasked}
	fullSet    = ByteSet{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
)

// hexByteNode returns the node of the hex byte val with mask, negated by
// not (~XX).
func hexByteNode(val, mask byte, not bool) *Node {
	mi := -1
	switch mask {
	case 0xFF:
		mi = 0
	case 0xF0:
		mi = 1
	case 0x0F:
		mi = 2
	case 0x00:
		mi = 3
	}
	v := val & mask
	var slot *atomic.Pointer[Node]
	if mi >= 0 {
		ni := 0
		if not {
			ni = 1
		}
		slot = &hexLeaves[ni][mi][v]
		if n := slot.Load(); n != nil {
			return n
		}
	}
	s := maskSet(val, mask)
	if not {
		s = s.Complement()
	}
	n := &Node{Op: OpClass, Set: s}
	switch {
	case not:
	case mask == 0xFF:
		n.kind, n.val, n.mask = kindLit, val, 0xFF
	case mask == 0:
		n.kind, n.any = kindAny, true
	default:
		n.kind, n.val, n.mask = kindMasked, v, mask
	}
	if slot != nil {
		if !slot.CompareAndSwap(nil, n) {
			return slot.Load()
		}
	}
	return n
}

// maskSet returns the bytes c with c&mask == val&mask.
func maskSet(val, mask byte) ByteSet {
	// val with every subset of the free bits.
	var s ByteSet
	v, free := val&mask, ^mask
	for x := free; ; x = (x - 1) & free {
		s.Add(v | x)
		if x == 0 {
			break
		}
	}
	return s
}

func hexSeq(toks []syntax.HexToken, inAlt bool, count *int) (*Node, error) {
	subs := make([]*Node, 0, len(toks))
	for _, t := range toks {
		*count++
		if *count > maxHexTokens {
			return nil, &Error{0, "hex string too long"}
		}
		switch t := t.(type) {
		case *syntax.HexByte:
			subs = append(subs, hexByteNode(t.Value, t.Mask, t.Not))
		case *syntax.HexJump:
			if t.Min < 0 || (t.Max >= 0 && t.Max < t.Min) {
				return nil, &Error{0, "invalid jump range"}
			}
			// [0-0] matches nothing; yara accepts it ([0] is a parse error)
			// and keeps it as a node, which matters for atom selection.
			if inAlt && t.Max < 0 {
				return nil, &Error{0, "unbounded jumps not allowed inside alternation (|)"}
			}
			if inAlt && t.Max > MaxAltJump {
				return nil, &Error{0, fmt.Sprintf("jumps over %d not allowed inside alternation (|)", MaxAltJump)}
			}
			if t.Min == 1 && t.Max == 1 && !t.Range {
				// yara reads [1] as a masked byte with mask 00; [1-1]
				// is a one-byte jump.
				subs = append(subs, hexJumpOne)
				continue
			}
			subs = append(subs, &Node{Op: OpRepeat, Subs: []*Node{hexAnyByte}, Min: t.Min, Max: t.Max, Lazy: true, quant: '{'})
		case *syntax.HexAlt:
			if len(t.Alts) == 0 {
				return nil, &Error{0, "empty alternation"}
			}
			alt := &Node{Op: OpAlt}
			for _, a := range t.Alts {
				if len(a) == 0 {
					return nil, &Error{0, "empty alternative"}
				}
				n, err := hexSeq(a, true, count)
				if err != nil {
					return nil, err
				}
				alt.Subs = append(alt.Subs, n)
			}
			subs = append(subs, alt)
		default:
			return nil, &Error{0, fmt.Sprintf("unknown hex token %T", t)}
		}
	}
	switch len(subs) {
	case 0:
		return &Node{Op: OpEmpty}, nil
	case 1:
		return subs[0], nil
	}
	return &Node{Op: OpConcat, Subs: subs}, nil
}

// ChainThreshold is yara's STRING_CHAINING_THRESHOLD: a top-level hex
// jump whose lower or upper bound exceeds it (or that is unbounded) splits
// the string into chained pieces.
const ChainThreshold = 200

// ChainPiece is one piece of a chained pattern (see Chain). GapMin and GapMax
// bound the number of bytes between the end of this piece and the start
// of the next (GapMax -1: unbounded); they are zero for the last piece.
type ChainPiece struct {
	Node           *Node
	GapMin, GapMax int
}

// HexChain splits a hex string as Chain does (FromHex, then Chain).
func HexChain(h *syntax.HexString) ([]ChainPiece, error) {
	n, err := FromHex(h)
	if err != nil {
		return nil, err
	}
	return Chain(n), nil
}

// Chain splits a pattern the way yara does before compiling it: at every
// lazy repeat of "any byte" in the top-level sequence (a hex jump, or
// `.{n,m}?` / `.{n,}?` in a regex, not inside a group) whose bounds exceed
// ChainThreshold or are unbounded, except first or last. The gap between
// two pieces is then any bytes at all: `.` loses its \n exception and the
// wide 0x00 bytes are not checked (/a.{1,}?b/ matches "a\nb" in yara). yara
// reports a chain match from the first piece's start to the last piece's
// end, and the gaps may exceed ScanLimit: matching the pieces and checking
// the gaps is the rule compiler's job. A pattern that is not split is one
// piece with zero gaps. Pieces keep the pattern's match semantics.
func Chain(n *Node) []ChainPiece {
	whole := []ChainPiece{{Node: n}}
	if n == nil || n.Op != OpConcat || !n.chain {
		return whole
	}
	var out []ChainPiece
	start := 0
	for i := 1; i < len(n.Subs)-1; i++ {
		s := n.Subs[i]
		if !isChainGap(s) {
			continue
		}
		gapMax := s.Max
		if gapMax < 0 && !n.hex {
			gapMax = yRangeMax // a regex's .{n,}? is .{n,32767}? for yara
		}
		out = append(out, ChainPiece{Node: piece(n, n.Subs[start:i]), GapMin: s.Min, GapMax: gapMax})
		start = i + 1
	}
	if out == nil {
		return whole
	}
	return append(out, ChainPiece{Node: piece(n, n.Subs[start:])})
}

func isChainGap(s *Node) bool {
	// yara splits at a lazy REPEAT_ANY: .{n,m}? or a hex jump, never at
	// .*? or .+?, nor at (.){n,m}? (a group repeated is a RANGE node).
	return s.Op == OpRepeat && s.Lazy && s.quant == '{' && s.Subs[0].Op == OpClass && s.Subs[0].any &&
		!s.ofGroup && (s.Min > ChainThreshold || s.Max > ChainThreshold || s.Max < 0)
}

func piece(root *Node, subs []*Node) *Node {
	if len(subs) == 1 {
		n := *subs[0]
		n.hex = root.hex
		return &n
	}
	return &Node{Op: OpConcat, Subs: subs, hex: root.hex}
}
