package re

import (
	"fmt"
	"strings"
	"sync"
)

// maxInsts bounds the size of a compiled program. Counted repeats are
// unrolled, so /(a{1000}){1000}/ (accepted by yara, which uses counter
// instructions) is rejected here with "regular expression too large".
const maxInsts = 1 << 17 // a{32767} wide needs 65535 + 1

// ScanLimit is yara's RE_SCAN_LIMIT: a match never extends more than this
// many bytes from its start, and the `matches` operator only looks at the
// first ScanLimit bytes of its subject.
const ScanLimit = 4096

// CompileOptions are the string modifiers that change matching.
type CompileOptions struct {
	Nocase bool // ASCII case folding of every byte class
	Wide   bool // every matched byte is followed by 0x00 (yara's `wide`)
	// ASCII, with Wide, is yara's `ascii wide`: one string matched both
	// ways (see Prog.YaraVerify). It only changes the yara matcher; the
	// rest of Prog (MatchAt, Find, Atoms) sees Wide alone.
	ASCII bool
}

type opcode uint8

const (
	opByte     opcode = iota // consume one byte in set, go to pc+1
	opSplit                  // continue at x (preferred) and at y
	opJmp                    // continue at x
	opMatch                  // success
	opBegin                  // assert position 0
	opEnd                    // assert end of data
	opWordB                  // assert \b
	opNotWordB               // assert \B
)

type inst struct {
	op   opcode
	x, y int32
	set  ByteSet
}

// Prog is a compiled pattern. It is immutable and safe for concurrent use.
//
// A Prog holds two matchers: yara's (y, built by Compile: the rule
// engine verifies strings with it) and a Pike VM (MatchAt, Find, Atoms),
// built from src when first used. Most patterns are strings of a rule set
// and never need the Pike VM, so building it eagerly cost most of the
// compile time and memory of large rule sets.
type Prog struct {
	src       *Node // the pattern, for the Pike VM
	opt       CompileOptions
	pikeOnce  sync.Once
	insts     []inst
	wide      bool // \b and \B look two bytes back
	first     ByteSet
	lit       []byte    // non-nil when the program is a plain literal
	seq       []ByteSet // non-nil when the program is a plain sequence of classes
	atoms     []Atom
	tree      *Node // the transformed pattern, for Atoms
	atomsOnce sync.Once
	minLen    int
	maxLen    int // -1: unbounded
	greedy    bool
	shortest  bool // hex string: the first match in input order wins
	pool      machinePool
	y         *yprog // yara's layout, atoms and matchers (yscan.go)
}

// Compile compiles n with the given options. n must not be modified
// afterwards (the Prog keeps it).
func Compile(n *Node, opt CompileOptions) (*Prog, error) {
	if n == nil {
		return nil, fmt.Errorf("re: nil node")
	}
	if size := progSize(n, opt.Wide); size > maxInsts {
		return nil, &Error{0, "regular expression too large"}
	}
	p := &Prog{
		src:      n,
		opt:      opt,
		wide:     opt.Wide,
		greedy:   n.HasGreedy(),
		shortest: n.hex,
	}
	y, err := compileYara(n, opt, p.greedy)
	if err != nil {
		return nil, err
	}
	p.y = y
	if y.fast && n.hex && opt == (CompileOptions{}) {
		// A hex string's node has a pointer per byte; its fast code says
		// the same (see fastNode), and the Pike VM is rarely needed.
		p.src = nil
	}
	return p, nil
}

// fastNode rebuilds the pattern of a fast program from its forward code:
// its bytes and jumps in order, which is what the Pike VM needs of a hex
// string without alternatives.
func (y *yprog) fastNode() *Node {
	subs := make([]*Node, y.ffwd.len()-1) // without the match
	for i := range subs {
		in := y.ffwd.inst(i)
		switch in.op {
		case yiByte:
			var s ByteSet
			if in.a > 0 {
				s = y.sets[in.a-1]
			} else if in.val&^in.mask == 0 {
				s = maskSet(in.val, in.mask)
			}
			if in.neg {
				s = s.Complement()
			}
			subs[i] = &Node{Op: OpClass, Set: s}
		case yiRepAny:
			subs[i] = &Node{Op: OpRepeat, Subs: []*Node{hexAnyByte}, Min: int(in.a), Max: int(in.b), Lazy: true, quant: '{'}
		}
	}
	if len(subs) == 1 {
		n := *subs[0]
		n.hex = true
		return &n
	}
	return &Node{Op: OpConcat, Subs: subs, hex: true}
}

// pike builds the Pike VM program when first needed.
func (p *Prog) pike() {
	p.pikeOnce.Do(func() {
		src := p.src
		if src == nil {
			src = p.y.fastNode()
		}
		t := transform(src, p.opt)
		c := &compiler{}
		c.emit(t)
		c.add(inst{op: opMatch})
		p.insts = c.insts
		p.minLen, p.maxLen = t.MinLen(), t.MaxLen()
		p.first, _ = firstSet(t)
		if b, ok := t.IsLiteral(); ok {
			p.lit = b
		} else {
			p.seq = classSequence(p.insts)
		}
		p.tree = t
	})
}

// transform applies the options to a copy of n: classes are case folded
// (Nocase) and followed by a 0x00 class (Wide).
func transform(n *Node, opt CompileOptions) *Node {
	switch n.Op {
	case OpClass:
		s := n.Set
		if opt.Nocase {
			s = foldClass(n)
		}
		c := &Node{Op: OpClass, Set: s}
		if opt.Wide {
			z := &Node{Op: OpClass}
			z.Set.Add(0)
			return &Node{Op: OpConcat, Subs: []*Node{c, z}}
		}
		return c
	case OpConcat, OpAlt, OpRepeat:
		m := *n
		if n.Op == OpRepeat {
			// No match is longer than ScanLimit: larger counts change
			// nothing but the program size.
			m.Min = min(m.Min, ScanLimit+1)
			if m.Max > ScanLimit {
				m.Max = -1
			}
		}
		m.Subs = make([]*Node, len(n.Subs))
		for i, s := range n.Subs {
			m.Subs[i] = transform(s, opt)
		}
		return &m
	}
	m := *n
	return &m
}

// progSize is the number of instructions emit produces for
// transform(n, opt) (wide: opt.Wide), saturated.
func progSize(n *Node, wide bool) int {
	const big = maxInsts + 1
	switch n.Op {
	case OpEmpty:
		return 0
	case OpClass:
		if wide {
			return 2
		}
		return 1
	case OpConcat:
		s := 0
		for _, c := range n.Subs {
			s = min(s+progSize(c, wide), big)
		}
		return s
	case OpAlt:
		s := 0
		for _, c := range n.Subs {
			s = min(s+progSize(c, wide)+2, big)
		}
		return s
	case OpRepeat:
		// transform bounds the counts by ScanLimit.
		lo, hi := min(n.Min, ScanLimit+1), n.Max
		if hi > ScanLimit {
			hi = -1
		}
		b := progSize(n.Subs[0], wide) + 2
		copies := lo
		if hi < 0 {
			copies++
		} else {
			copies = hi
		}
		if copies > 0 && b > big/copies {
			return big
		}
		return min(b*copies+1, big)
	}
	return 1
}

type compiler struct {
	insts []inst
	lazy  map[int]bool // splits whose exit branch is preferred
}

func (c *compiler) add(i inst) int {
	c.insts = append(c.insts, i)
	return len(c.insts) - 1
}

func (c *compiler) pc() int32 { return int32(len(c.insts)) }

// split emits a split whose first branch is the next instruction; patch
// sets the other branch later. For a lazy split the other branch (the
// exit) is the preferred one.
func (c *compiler) split(lazy bool) int {
	pc := c.add(inst{op: opSplit, x: c.pc() + 1, y: -1})
	if lazy {
		if c.lazy == nil {
			c.lazy = map[int]bool{}
		}
		c.lazy[pc] = true
	}
	return pc
}

// patch sets the branch of the split at pc that leaves the body.
func (c *compiler) patch(pc int, target int32) {
	in := &c.insts[pc]
	if c.lazy[pc] {
		in.x, in.y = target, in.x
		return
	}
	in.y = target
}

func (c *compiler) emit(n *Node) {
	switch n.Op {
	case OpEmpty:
	case OpClass:
		c.add(inst{op: opByte, set: n.Set})
	case OpBegin:
		c.add(inst{op: opBegin})
	case OpEnd:
		c.add(inst{op: opEnd})
	case OpWordBoundary:
		c.add(inst{op: opWordB})
	case OpNotWordBoundary:
		c.add(inst{op: opNotWordB})
	case OpConcat:
		for _, s := range n.Subs {
			c.emit(s)
		}
	case OpAlt:
		var jumps []int
		for i, s := range n.Subs {
			if i == len(n.Subs)-1 {
				c.emit(s)
				break
			}
			sp := c.split(false)
			c.emit(s)
			jumps = append(jumps, c.add(inst{op: opJmp}))
			c.patch(sp, c.pc())
		}
		for _, j := range jumps {
			c.insts[j].x = c.pc()
		}
	case OpRepeat:
		c.emitRepeat(n)
	}
}

func (c *compiler) emitRepeat(n *Node) {
	sub := n.Subs[0]
	for i := 0; i < n.Min; i++ {
		c.emit(sub)
	}
	if n.Max < 0 {
		// L: split body, exit; body; jmp L
		l := c.split(n.Lazy)
		c.emit(sub)
		c.add(inst{op: opJmp, x: int32(l)})
		c.patch(l, c.pc())
		return
	}
	// (sub (sub (...)?)?)? with every split exiting to the common end.
	var splits []int
	for i := n.Min; i < n.Max; i++ {
		splits = append(splits, c.split(n.Lazy))
		c.emit(sub)
	}
	for _, s := range splits {
		c.patch(s, c.pc())
	}
}

// classSequence returns the classes of a program made only of byte
// instructions (a hex string without jumps or alternatives), else nil.
func classSequence(insts []inst) []ByteSet {
	if len(insts) < 2 || len(insts) > ScanLimit+1 {
		return nil
	}
	seq := make([]ByteSet, 0, len(insts)-1)
	for _, in := range insts[:len(insts)-1] {
		if in.op != opByte {
			return nil
		}
		seq = append(seq, in.set)
	}
	return seq
}

// String dumps the program, one instruction per line.
func (p *Prog) String() string {
	p.pike()
	var b strings.Builder
	for pc, in := range p.insts {
		fmt.Fprintf(&b, "%d\t", pc)
		switch in.op {
		case opByte:
			b.WriteString("byte " + setString(in.set))
		case opSplit:
			fmt.Fprintf(&b, "split %d, %d", in.x, in.y)
		case opJmp:
			fmt.Fprintf(&b, "jmp %d", in.x)
		case opMatch:
			b.WriteString("match")
		case opBegin:
			b.WriteString("begin")
		case opEnd:
			b.WriteString("end")
		case opWordB:
			b.WriteString("wordb")
		case opNotWordB:
			b.WriteString("notwordb")
		}
		b.WriteByte('\n')
	}
	for _, a := range p.Atoms() {
		fmt.Fprintf(&b, "atom %x [%d,%d]\n", a.Bytes, a.MinOff, a.MaxOff)
	}
	return b.String()
}

// setString renders a byte set compactly: 61, [61 41], [00-ff], [^0a].
func setString(s ByteSet) string {
	if s.Len() == 1 {
		return fmt.Sprintf("%02x", s.Min())
	}
	prefix := "["
	if s.Len() > 128 {
		s = s.Complement()
		prefix = "[^"
	}
	var parts []string
	for c := 0; c < 256; {
		if !s.Has(byte(c)) {
			c++
			continue
		}
		d := c
		for d+1 < 256 && s.Has(byte(d+1)) {
			d++
		}
		if d == c {
			parts = append(parts, fmt.Sprintf("%02x", c))
		} else {
			parts = append(parts, fmt.Sprintf("%02x-%02x", c, d))
		}
		c = d + 1
	}
	return prefix + strings.Join(parts, " ") + "]"
}

// MinLen is the length of the shortest string n matches.
func (n *Node) MinLen() int {
	switch n.Op {
	case OpClass:
		return 1
	case OpConcat:
		s := 0
		for _, c := range n.Subs {
			s = satAdd(s, c.MinLen())
		}
		return s
	case OpAlt:
		m := -1
		for _, c := range n.Subs {
			if l := c.MinLen(); m < 0 || l < m {
				m = l
			}
		}
		return max(m, 0)
	case OpRepeat:
		return satMul(n.Min, n.Subs[0].MinLen())
	}
	return 0
}

// MaxLen is the length of the longest string n matches, or -1 when
// unbounded. Lengths saturate at 1<<30.
func (n *Node) MaxLen() int {
	switch n.Op {
	case OpClass:
		return 1
	case OpConcat:
		s := 0
		for _, c := range n.Subs {
			l := c.MaxLen()
			if l < 0 {
				return -1
			}
			s = satAdd(s, l)
		}
		return s
	case OpAlt:
		m := 0
		for _, c := range n.Subs {
			l := c.MaxLen()
			if l < 0 {
				return -1
			}
			m = max(m, l)
		}
		return m
	case OpRepeat:
		l := n.Subs[0].MaxLen()
		if l == 0 {
			return 0
		}
		if l < 0 || n.Max < 0 {
			return -1
		}
		return satMul(n.Max, l)
	}
	return 0
}

const satLimit = 1 << 30

func satAdd(a, b int) int { return min(a+b, satLimit) }

func satMul(a, b int) int {
	if a != 0 && b > satLimit/a {
		return satLimit
	}
	return a * b
}

// IsLiteral reports whether n matches exactly one string, and returns it.
func (n *Node) IsLiteral() ([]byte, bool) {
	switch n.Op {
	case OpClass:
		if n.Set.Len() == 1 {
			return []byte{n.Set.Min()}, true
		}
	case OpConcat:
		var out []byte
		for _, c := range n.Subs {
			b, ok := c.IsLiteral()
			if !ok {
				return nil, false
			}
			out = append(out, b...)
		}
		return out, len(out) > 0
	}
	return nil, false
}

// HasGreedy reports whether n contains a greedy quantifier (yara's
// RE_FLAGS_GREEDY; see doc.go for how yara uses it).
func (n *Node) HasGreedy() bool {
	if n.Op == OpRepeat && !n.Lazy {
		return true
	}
	for _, c := range n.Subs {
		if c.HasGreedy() {
			return true
		}
	}
	return false
}

// firstSet returns the bytes a non-empty match of n can start with, and
// whether n can match the empty string.
func firstSet(n *Node) (ByteSet, bool) {
	switch n.Op {
	case OpClass:
		return n.Set, false
	case OpConcat:
		var s ByteSet
		for _, c := range n.Subs {
			f, nullable := firstSet(c)
			s = s.Union(f)
			if !nullable {
				return s, false
			}
		}
		return s, true
	case OpAlt:
		var s ByteSet
		null := false
		for _, c := range n.Subs {
			f, nullable := firstSet(c)
			s = s.Union(f)
			null = null || nullable
		}
		return s, null
	case OpRepeat:
		f, nullable := firstSet(n.Subs[0])
		if n.Max == 0 {
			return ByteSet{}, true
		}
		return f, nullable || n.Min == 0
	}
	return ByteSet{}, true
}

// MinLen is the length of the shortest match (after the compile options).
func (p *Prog) MinLen() int { p.pike(); return p.minLen }

// MaxLen is the length of the longest match, or -1 when unbounded (a match
// is still never longer than ScanLimit).
func (p *Prog) MaxLen() int { p.pike(); return p.maxLen }

// Size is the number of instructions. Matching costs up to
// Size × ScanLimit steps per MatchAt call; a rule compiler may warn about
// (or refuse) patterns with a large Size, as yara warns that a string
// "slows down scanning".
func (p *Prog) Size() int { p.pike(); return len(p.insts) }

// Greedy reports whether the pattern has a greedy quantifier.
func (p *Prog) Greedy() bool { return p.greedy }
