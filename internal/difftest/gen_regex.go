package difftest

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// reOp is the kind of a generated regular expression node.
type reOp int

const (
	reLit    reOp = iota // one byte
	reDot                // .
	reClass              // [...], \d, \w, ...
	reBegin              // ^
	reEnd                // $
	reWordB              // \b
	reNWordB             // \B
	reConcat             // subs in a row
	reAlt                // subs separated by |
	reGroup              // ( sub )
	reRepeat             // sub with a quantifier
)

// reNode is a node of a generated regular expression. The generator keeps
// the tree to render it and to sample strings it matches.
type reNode struct {
	op       reOp
	b        byte
	set      *[256]bool // reClass: the bytes it matches (without /i)
	src      string     // reClass: its source text
	subs     []*reNode
	min, max int  // reRepeat; max < 0: unbounded
	lazy     bool // reRepeat
	form     int  // reRepeat: which way to write the quantifier
}

func (g *ruleGen) genRegex(s *genString) {
	lazy := g.f.RegexLazy && g.chance(4)
	var top []*reNode
	if g.f.RegexAnchors && g.chance(8) {
		top = append(top, &reNode{op: reBegin})
	}
	top = append(top, g.reAlt(0, lazy))
	if g.f.RegexAnchors && g.chance(8) {
		top = append(top, &reNode{op: reEnd})
	}
	s.re = &reNode{op: reConcat, subs: top}
	flags := ""
	if g.chance(5) {
		s.reI = true
		flags += "i"
	}
	if g.chance(5) {
		s.reDot = true
		flags += "s"
	}
	var mods []string
	if g.f.TextModifiers {
		if g.chance(6) {
			s.mods.nocase = true
			mods = append(mods, "nocase")
		}
		if g.chance(5) {
			s.mods.wide = true
			mods = append(mods, "wide")
		}
		if g.chance(6) {
			s.mods.ascii = true
			mods = append(mods, "ascii")
		}
		if g.chance(6) {
			s.mods.fullword = true
			mods = append(mods, "fullword")
		}
		if g.chance(8) {
			s.mods.private = true
			mods = append(mods, "private")
		}
	}
	s.src = "/" + renderRe(s.re) + "/" + flags
	if len(mods) > 0 {
		s.src += " " + strings.Join(mods, " ")
	}
}

func (g *ruleGen) reAlt(depth int, lazy bool) *reNode {
	if depth < 2 && g.chance(5) {
		n := &reNode{op: reAlt}
		for k := 2 + g.r.IntN(2); k > 0; k-- {
			n.subs = append(n.subs, g.reConcat(depth+1, lazy))
		}
		return n
	}
	return g.reConcat(depth, lazy)
}

func (g *ruleGen) reConcat(depth int, lazy bool) *reNode {
	n := &reNode{op: reConcat}
	for k := 1 + g.r.IntN(4); k > 0; k-- {
		a := g.reAtom(depth, lazy)
		if a.op != reWordB && a.op != reNWordB && g.chance(3) {
			a = g.reQuant(a, lazy)
		}
		n.subs = append(n.subs, a)
	}
	return n
}

func (g *ruleGen) reQuant(a *reNode, lazy bool) *reNode {
	q := &reNode{op: reRepeat, subs: []*reNode{a}, lazy: lazy}
	q.form = g.r.IntN(7)
	if canBeEmpty(a) {
		// yara 4.2.3 loops for minutes on an unbounded repeat of what
		// can match the empty string, such as /a(\b)+?b/: bounded only.
		q.form = []int{2, 3, 5, 6}[g.r.IntN(4)]
	}
	switch q.form {
	case 0:
		q.min, q.max = 0, -1 // *
	case 1:
		q.min, q.max = 1, -1 // +
	case 2:
		q.min, q.max = 0, 1 // ?
	case 3:
		q.min = 1 + g.r.IntN(3) // {0} is rejected
		q.max = q.min           // {n}
	case 4:
		q.min, q.max = g.r.IntN(3), -1 // {n,}
	case 5:
		q.min = g.r.IntN(3)
		q.max = max(q.min, 1) + g.r.IntN(4) // {n,m}, not {0,0}
	default:
		q.min, q.max = 0, 1+g.r.IntN(3) // {,m}
	}
	return q
}

func (g *ruleGen) reAtom(depth int, lazy bool) *reNode {
	switch k := g.r.IntN(20); {
	case k < 2 && depth < 2:
		return &reNode{op: reGroup, subs: []*reNode{g.reAlt(depth+1, lazy)}}
	case k < 4:
		return g.reClassNode()
	case k < 5:
		return &reNode{op: reDot}
	case k < 6 && g.f.RegexAnchors:
		if g.chance(2) {
			return &reNode{op: reWordB}
		}
		return &reNode{op: reNWordB}
	default:
		return &reNode{op: reLit, b: g.hexByte()}
	}
}

var shorthands = map[string]func(c byte) bool{
	`\d`: func(c byte) bool { return c >= '0' && c <= '9' },
	`\w`: isWordByte,
	`\s`: func(c byte) bool { return c == ' ' || c >= '\t' && c <= '\r' },
}

func isWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func (g *ruleGen) reClassNode() *reNode {
	var set [256]bool
	n := &reNode{op: reClass, set: &set}
	if g.chance(4) {
		sh := g.pick(`\d`, `\w`, `\s`, `\D`, `\W`, `\S`)
		f := shorthands[strings.ToLower(sh)]
		neg := sh != strings.ToLower(sh)
		for c := 0; c < 256; c++ {
			set[c] = f(byte(c)) != neg
		}
		n.src = sh
		return n
	}
	neg := g.chance(4)
	var b strings.Builder
	b.WriteByte('[')
	if neg {
		b.WriteByte('^')
	}
	for k := 1 + g.r.IntN(3); k > 0; k-- {
		switch g.r.IntN(4) {
		case 0:
			lo := g.hexByte()
			hi := lo + byte(g.r.IntN(int(255-lo)+1)%6)
			b.WriteString(classChar(lo) + "-" + classChar(hi))
			for c := int(lo); c <= int(hi); c++ {
				set[c] = true
			}
		case 1:
			sh := g.pick(`\d`, `\w`, `\s`)
			b.WriteString(sh)
			for c := 0; c < 256; c++ {
				if shorthands[sh](byte(c)) {
					set[c] = true
				}
			}
		default:
			c := g.hexByte()
			b.WriteString(classChar(c))
			set[c] = true
		}
	}
	b.WriteByte(']')
	if neg {
		for c := range set {
			set[c] = !set[c]
		}
	}
	n.src = b.String()
	return n
}

// classChar renders c inside a character class.
func classChar(c byte) string {
	switch {
	case c == ']' || c == '\\' || c == '^' || c == '-' || c == '[' || c == '/':
		return `\` + string(rune(c))
	case c >= 0x21 && c < 0x7f:
		return string(rune(c))
	default:
		return fmt.Sprintf(`\x%02x`, c)
	}
}

// litChar renders c as a literal outside a class.
func litChar(c byte) string {
	switch {
	case strings.IndexByte(`\/^$.|?*+()[]{}`, c) >= 0:
		return `\` + string(rune(c))
	case c == '\n':
		return `\n`
	case c == '\t':
		return `\t`
	case c >= 0x21 && c < 0x7f || c == ' ':
		return string(rune(c))
	default:
		return fmt.Sprintf(`\x%02x`, c)
	}
}

func renderRe(n *reNode) string {
	switch n.op {
	case reLit:
		return litChar(n.b)
	case reDot:
		return "."
	case reClass:
		return n.src
	case reBegin:
		return "^"
	case reEnd:
		return "$"
	case reWordB:
		return `\b`
	case reNWordB:
		return `\B`
	case reConcat:
		var b strings.Builder
		for _, s := range n.subs {
			b.WriteString(renderRe(s))
		}
		return b.String()
	case reAlt:
		var parts []string
		for _, s := range n.subs {
			parts = append(parts, renderRe(s))
		}
		return strings.Join(parts, "|")
	case reGroup:
		return "(" + renderRe(n.subs[0]) + ")"
	case reRepeat:
		sub := renderRe(n.subs[0])
		if n.subs[0].op == reAlt || n.subs[0].op == reConcat && len(n.subs[0].subs) != 1 {
			sub = "(" + sub + ")"
		}
		var q string
		switch n.form {
		case 0:
			q = "*"
		case 1:
			q = "+"
		case 2:
			q = "?"
		case 3:
			q = fmt.Sprintf("{%d}", n.min)
		case 4:
			q = fmt.Sprintf("{%d,}", n.min)
		case 5:
			q = fmt.Sprintf("{%d,%d}", n.min, n.max)
		default:
			q = fmt.Sprintf("{,%d}", n.max)
		}
		if n.lazy {
			q += "?"
		}
		return sub + q
	}
	return ""
}

// canBeEmpty reports whether n can match the empty string.
func canBeEmpty(n *reNode) bool {
	switch n.op {
	case reBegin, reEnd, reWordB, reNWordB:
		return true
	case reConcat:
		for _, s := range n.subs {
			if !canBeEmpty(s) {
				return false
			}
		}
		return true
	case reAlt:
		for _, s := range n.subs {
			if canBeEmpty(s) {
				return true
			}
		}
		return false
	case reGroup:
		return canBeEmpty(n.subs[0])
	case reRepeat:
		return n.min == 0 || canBeEmpty(n.subs[0])
	}
	return false
}

// sampleRe returns bytes that the regex likely matches (word boundaries
// and anchors are not taken into account).
func sampleRe(r *rand.Rand, n *reNode, dotAll bool) []byte {
	switch n.op {
	case reLit:
		return []byte{n.b}
	case reDot:
		for {
			c := randByte(r)
			if c != '\n' || dotAll {
				return []byte{c}
			}
		}
	case reClass:
		var in []byte
		for c := 0; c < 256; c++ {
			if n.set[c] {
				in = append(in, byte(c))
			}
		}
		if len(in) == 0 {
			return nil
		}
		// Prefer bytes of the text alphabet when the class has some.
		for k := 0; k < 4; k++ {
			c := randByte(r)
			if n.set[c] {
				return []byte{c}
			}
		}
		return []byte{in[r.IntN(len(in))]}
	case reConcat:
		var out []byte
		for _, s := range n.subs {
			out = append(out, sampleRe(r, s, dotAll)...)
		}
		return out
	case reAlt:
		return sampleRe(r, n.subs[r.IntN(len(n.subs))], dotAll)
	case reGroup:
		return sampleRe(r, n.subs[0], dotAll)
	case reRepeat:
		hi := n.max
		if hi < 0 {
			hi = n.min + 3
		}
		var out []byte
		for k := n.min + r.IntN(hi-n.min+1); k > 0; k-- {
			out = append(out, sampleRe(r, n.subs[0], dotAll)...)
		}
		return out
	}
	return nil
}
