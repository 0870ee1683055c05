package re

import (
	"math/bits"
	"sync"
)

// yara's code layout (re.c's emitter in yara 4.2.3), in Vigil's own
// instruction set. The layout matters, not only the language: an atom's
// forward code starts at the instruction where yara's emitter recorded
// the atom's node, and yara records some nodes at surprising places
// (X? is recorded at X itself, past the split that makes it optional).

type yiop uint8

const (
	yiByte     yiop = iota // consume one character from set
	yiSplit                // fork: x is the jump target
	yiJmp                  // continue at x
	yiRepStart             // counted loop start: min, max; x is past the loop
	yiRepEnd               // counted loop end: x is the loop body
	yiRepAny               // min..max characters from set (yara's REPEAT_ANY)
	yiBegin                // ^
	yiEnd                  // $
	yiWordB                // \b
	yiNotWordB             // \B
	yiMatch                // success
)

// yinst is one instruction. It holds no pointer, so that programs cost
// the garbage collector nothing to keep and little to build.
type yinst struct {
	op       yiop
	prefJump bool     // yiSplit: the preferred branch is the jump (yara's SPLIT_B)
	greedy   bool     // yiRep*
	test     byteTest // yiByte, yiRepAny: the bytes matched
	id       int32    // yiSplit: split id (a loop's copies share none: no unrolling)
	x        int32
	min, max int32
}

// byteTest is a set of bytes as an instruction tests it: the bytes c with
// c&mask == val (negated by neg), which is every set a hex string or a
// literal (case folded or not) makes, or, when class > 0, the bytes of
// the program's sets[class-1].
type byteTest struct {
	val, mask byte
	neg       bool
	class     int32
}

func (t *byteTest) has(sets []ByteSet, c byte) bool {
	if t.class > 0 {
		return sets[t.class-1].Has(c)
	}
	return (c&t.mask == t.val) != t.neg
}

// maskTest returns the byteTest of s when s is of the mask form.
func maskTest(s *ByteSet) (byteTest, bool) {
	t, n, neg := *s, s.Len(), false
	if n > 128 {
		t, n, neg = t.Complement(), 256-n, true
	}
	if n == 0 {
		// No byte (c&0 is never 1), or every byte.
		return byteTest{val: 1, mask: 0, neg: neg}, true
	}
	if n&(n-1) != 0 {
		return byteTest{}, false
	}
	v := t.Min()
	var free byte
	for i, w := range t {
		for ; w != 0; w &= w - 1 {
			free |= byte(i*64+bits.TrailingZeros64(w)) ^ v
		}
	}
	if 1<<bits.OnesCount8(free) != n {
		return byteTest{}, false
	}
	return byteTest{val: v &^ free, mask: ^free, neg: neg}, true
}

// Emission flags (yara's EMIT_DONT_SET_*).
const (
	keepFwd = 1 << iota // do not record forward entry points
	keepBwd             // do not record backward entry points
)

type yemitter struct {
	code      []yinst
	splits    int32
	backwards bool
	fast      []finst // scratch for fast code before packFast
}

func (e *yemitter) pc() int32 { return int32(len(e.code)) }

func (e *yemitter) add(in yinst) int32 {
	e.code = append(e.code, in)
	return int32(len(e.code) - 1)
}

func (e *yemitter) split(prefJump bool) int32 {
	id := e.splits
	e.splits++
	return e.add(yinst{op: yiSplit, prefJump: prefJump, id: id})
}

// emit emits n and returns its entry point (yara's instruction_ref), -1
// for an empty node. It records n.fwd or n.bwd as yara does.
func (e *yemitter) emit(n *ynode, flags int) int32 {
	ref := int32(-1)
	switch n.op {
	case yLit, yMasked, yAny, yClass:
		ref = e.add(yinst{op: yiByte, test: n.test})
	case yBegin:
		ref = e.add(yinst{op: yiBegin})
	case yEnd:
		ref = e.add(yinst{op: yiEnd})
	case yWordB:
		ref = e.add(yinst{op: yiWordB})
	case yNotWordB:
		ref = e.add(yinst{op: yiNotWordB})
	case yConcat:
		for i := range n.subs {
			s := n.subs[i]
			if e.backwards {
				s = n.subs[len(n.subs)-1-i]
			}
			r := e.emit(s, flags)
			if i == 0 {
				ref = r
			}
		}
	case yPlus:
		ref = e.emit(n.subs[0], flags)
		sp := e.split(n.greedy)
		e.code[sp].x = ref
	case yStar:
		ref = e.split(!n.greedy)
		e.emit(n.subs[0], flags)
		e.add(yinst{op: yiJmp, x: ref})
		e.code[ref].x = e.pc()
	case yAlt:
		ref = e.split(false)
		e.emit(n.subs[0], flags)
		j := e.add(yinst{op: yiJmp})
		e.code[ref].x = e.pc()
		e.emit(n.subs[1], flags)
		e.code[j].x = e.pc()
	case yRangeAny:
		ref = e.add(yinst{op: yiRepAny, greedy: n.greedy, min: int32(n.min), max: int32(n.max), test: n.test})
	case yRange:
		ref = e.emitRange(n, flags)
	}
	if e.backwards {
		if flags&keepBwd == 0 {
			n.bwd = e.pc()
		}
	} else if flags&keepFwd == 0 {
		n.fwd = ref
	}
	return ref
}

// emitRange lays out sub{min,max} as yara does: a first copy (prolog)
// when min > 0, a counted loop for the middle copies, then an optional
// or required last copy (epilog).
func (e *yemitter) emitRange(n *ynode, flags int) int32 {
	sub := n.subs[0]
	lo, hi := n.min, n.max
	prolog := lo > 0
	repeat := hi > lo+1 || hi > 2
	split := hi > lo
	epilog := hi > lo || hi > 1
	ref := int32(-1)
	if prolog {
		ref = e.emit(sub, flags)
	}
	if repeat {
		rmin, rmax := lo, hi
		if prolog {
			rmin--
			rmax--
		}
		if split {
			rmax--
		} else {
			rmin--
			rmax--
		}
		start := e.add(yinst{op: yiRepStart, greedy: n.greedy, min: int32(rmin), max: int32(rmax)})
		if !prolog {
			ref = start
		}
		body := e.pc()
		e.emit(sub, flags|keepFwd|keepBwd)
		e.add(yinst{op: yiRepEnd, greedy: n.greedy, min: int32(rmin), max: int32(rmax), x: body})
		e.code[start].x = e.pc()
	}
	sp := int32(-1)
	if split {
		sp = e.split(!n.greedy)
	}
	if epilog {
		f := flags
		if prolog {
			f |= keepFwd
		}
		r := e.emit(sub, f)
		if !prolog && !repeat {
			ref = r
		}
	}
	if split {
		e.code[sp].x = e.pc()
	}
	return ref
}

// maxSplits is yara's RE_MAX_SPLIT_ID: a pattern whose code needs more
// splits (alternatives and optional or repeated items, counted in every
// copy yara emits) is rejected.
const maxSplits = 128

// yprog is a pattern compiled the yara way.
type yprog struct {
	fwd, bwd  []yinst    // the code (not fast)
	ffwd      fcode      // fast: the forward code
	fbwd      fcode      // fast: the backward code; nil: ffwd reversed (see reversedOf)
	sets      []ByteSet  // the byte classes of the code (byteTest.class)
	root      int32      // forward entry of the whole pattern
	atoms     []YaraAtom // see atomList
	atomsOnce sync.Once
	chosen    []chosen // the atoms before expansion
	quality   int      // yara's quality of the chosen atoms (PatternQuality)
	atomOpts  [3]bool  // ascii, wide, nocase
	search    *ysearch // nil: no shorter equivalent of atoms
	greedy    bool     // yara's STRING_IS_GREEDY_REGEXP: later matches replace
	fast      bool     // hex string without alternatives: yara's fast matcher
	wide      bool     // characters are two bytes (wide only)
	both      bool     // ascii and wide: try ascii, then wide
	preOnce   sync.Once
	pre       *yprefix // see rootPrefix
}

// reverseFast lets fast programs run their backward code from the
// forward code; tests turn it off to compare.
var reverseFast = true

// yemitters are reused: the code is laid out in a scratch buffer, then
// copied to a slice of its exact size (growing slices by appending left
// up to half of their capacity unused, for the life of the rules).
var yemitters = sync.Pool{New: func() any { return new(yemitter) }}

// layout lays out the forward or backward code of root, ending with a
// match, in e's scratch buffer, and returns it with the number of splits.
func (e *yemitter) layout(root *ynode, backwards bool) ([]yinst, int32) {
	e.code, e.splits, e.backwards = e.code[:0], 0, backwards
	e.emit(root, 0)
	e.add(yinst{op: yiMatch})
	return e.code, e.splits
}

func getEmitter() *yemitter { return yemitters.Get().(*yemitter) }

func putEmitter(e *yemitter) {
	if cap(e.code) > 1<<16 {
		e.code = nil // do not keep the buffer of a huge pattern
	}
	if cap(e.fast) > 1<<16 {
		e.fast = nil
	}
	yemitters.Put(e)
}

// reversedOf reports whether bwd is fwd reversed, both ending with their
// match: the backward code of a hex string without alternatives, which
// the fast matcher then runs from the forward code (yfast.exec).
func reversedOf(bwd, fwd []yinst) bool {
	n := len(fwd) - 1
	if len(bwd) != len(fwd) || bwd[n] != fwd[n] {
		return false
	}
	for k := 0; k < n; k++ {
		if bwd[k] != fwd[n-1-k] {
			return false
		}
	}
	return true
}

// compileYara lays out the forward and backward code of n and picks its
// atoms. The code is laid out in scratch buffers, then copied to slices of
// its exact size: for the fast matcher as finst (a hex string without
// alternatives), with no backward code when it is the forward code
// reversed; otherwise as yinst.
func compileYara(n *Node, opt CompileOptions, greedy bool) (*yprog, error) {
	if flatHexPath && opt == (CompileOptions{}) && flatHex(n) {
		return compileFlatHex(n, greedy)
	}
	a := newYarena()
	defer a.release()
	root := toYara(a, n, CompileOptions{Nocase: opt.Nocase})
	ef, eb := getEmitter(), getEmitter()
	defer putEmitter(ef)
	defer putEmitter(eb)
	fwd, splits := ef.layout(root, false)
	if splits > maxSplits {
		return nil, &Error{0, "regular expression is too complex"}
	}
	bwd, _ := eb.layout(root, true)
	p := &yprog{sets: a.sets, root: root.fwd, greedy: greedy, wide: opt.Wide && !opt.ASCII, both: opt.Wide && opt.ASCII}
	p.fast = n.hex && fastCode(fwd)
	if p.fast {
		ef.fast = fastInsts(ef.fast, fwd)
		p.ffwd = packFast(ef.fast)
		if !reverseFast || !reversedOf(bwd, fwd) {
			ef.fast = fastInsts(ef.fast, bwd)
			p.fbwd = packFast(ef.fast)
		}
	} else {
		p.fwd = append(make([]yinst, 0, len(fwd)), fwd...)
		p.bwd = append(make([]yinst, 0, len(bwd)), bwd...)
	}
	list, q := buildAtomTree(a, root).choose()
	return p.withAtoms(list, q, opt)
}

// withAtoms completes p with the chosen atoms of quality q.
func (p *yprog) withAtoms(list []chosen, q int, opt CompileOptions) (*yprog, error) {
	p.quality = q
	ascii := !opt.Wide || opt.ASCII
	if len(list) == 1 && !(ascii && opt.Wide) {
		p.search = newSearch(list[0], opt.Wide, opt.Nocase)
	}
	if countAtoms(list, ascii, opt.Wide, opt.Nocase) > maxYaraAtoms {
		return nil, &Error{0, "regular expression too complex (too many atoms)"}
	}
	p.chosen = list
	p.atomOpts = [3]bool{ascii, opt.Wide, opt.Nocase}
	if p.search == nil {
		p.atomList()
	}
	return p, nil
}

// flatHexPath lets compileYara compile flat hex strings directly; tests
// turn it off to compare.
var flatHexPath = true

// flatHex reports whether n is a hex string of bytes and jumps only (no
// alternatives), whose yara tree is a sequence of leaves.
func flatHex(n *Node) bool {
	if !n.hex {
		return false
	}
	if n.Op != OpConcat {
		return flatHexItem(n)
	}
	for _, s := range n.Subs {
		if !flatHexItem(s) {
			return false
		}
	}
	return true
}

func flatHexItem(s *Node) bool {
	switch s.Op {
	case OpClass:
		return true
	case OpRepeat:
		return s.Lazy && s.quant == '{' && s.Subs[0].Op == OpClass && s.Subs[0].kind == kindAny
	}
	return false
}

// compileFlatHex is compileYara for a flat hex string (see flatHex). Its
// tree would be a sequence of bytes and jumps, each one instruction of
// the fast matcher, with the backward code the forward code reversed:
// the code and the atoms are made from the nodes without building the
// tree, the same way (TestFlatHex compares).
func compileFlatHex(n *Node, greedy bool) (*yprog, error) {
	subs := n.Subs
	if n.Op != OpConcat {
		subs = []*Node{n}
	}
	p := &yprog{root: 0, greedy: greedy, fast: true}
	e := getEmitter()
	defer putEmitter(e)
	code := append(e.fast[:0], make([]finst, len(subs)+1)...)
	e.fast = code
	top := &atree{kind: atOr}
	w := atomWalk{bestQ: -1}
	w.attach(top)
	for i, s := range subs {
		f := &code[i]
		if s.Op == OpRepeat {
			// toYara's yRangeAny: a boundary of atoms.
			f.op, f.a, f.b = yiRepAny, int32(s.Min), int32(s.Max)
			if s.Max < 0 {
				f.b = yRangeMax
			}
			p.test(&s.Subs[0].Set) // as toYara does
			w.attach(w.cur)
			continue
		}
		f.op = yiByte
		var t byteTest
		if s.kind == kindLit && s.Set.Len() == 1 && s.Set.Has(s.val) {
			t = byteTest{val: s.val, mask: 0xFF}
		} else {
			t = p.test(&s.Set)
		}
		f.val, f.mask, f.neg, f.a = t.val, t.mask, t.neg, t.class
		switch s.kind {
		case kindLit, kindMasked:
			// The backward code of byte i ends after the bytes from the
			// end down to i: it is the one of the code reversed.
			w.leaf(aleaf{val: s.val, mask: s.mask, fwd: int32(i), bwd: int32(len(subs) - i)})
		case kindAny:
			w.leaf(aleaf{fwd: int32(i), bwd: int32(len(subs) - i)})
		default:
			w.attach(w.cur) // a yClass node: a boundary too
		}
	}
	w.attach(top)
	code[len(subs)] = finst{op: yiMatch}
	p.ffwd = packFast(code)
	if !reverseFast {
		bwd := make([]finst, len(code))
		for i := range subs {
			bwd[i] = code[len(subs)-1-i]
		}
		bwd[len(subs)] = code[len(subs)]
		p.fbwd = packFast(bwd)
	}
	list, q := top.choose()
	return p.withAtoms(list, q, CompileOptions{})
}

// test is yarena.test for a program built without an arena.
func (p *yprog) test(s *ByteSet) byteTest {
	if *s == fullSet {
		return byteTest{val: 1, mask: 0, neg: true} // maskTest's, quicker
	}
	if t, ok := maskTest(s); ok {
		return t
	}
	for i := range p.sets {
		if p.sets[i] == *s {
			return byteTest{class: int32(i + 1)}
		}
	}
	p.sets = append(p.sets, *s)
	return byteTest{class: int32(len(p.sets))}
}

// finst is an instruction of the fast matcher (yfast): a yinst cut down
// to what that matcher reads. Programs keep it packed (fcode).
type finst struct {
	op        yiop
	val, mask byte  // yiByte: the byteTest
	neg       bool  // yiByte: the byteTest
	a, b      int32 // yiByte: the byteTest's class; yiRepAny: min, max
}

func (in *finst) has(sets []ByteSet, c byte) bool {
	if in.a > 0 {
		return sets[in.a-1].Has(c)
	}
	return (c&in.mask == in.val) != in.neg
}

// fastInsts converts code that fastCode accepts, into out's memory.
func fastInsts(out []finst, code []yinst) []finst {
	out = append(out[:0], make([]finst, len(code))...)
	for i := range code {
		in := &code[i]
		f := finst{op: in.op}
		switch in.op {
		case yiByte:
			f.val, f.mask, f.neg, f.a = in.test.val, in.test.mask, in.test.neg, in.test.class
		case yiRepAny:
			f.a, f.b = in.min, in.max
		}
		out[i] = f
	}
	return out
}

// atomList returns the atoms, computed when first needed (the rule
// engine does not need them when the pattern has search atoms).
func (p *yprog) atomList() []YaraAtom {
	p.atomsOnce.Do(func() {
		p.atoms = yaraAtoms(p.chosen, p.atomOpts[0], p.atomOpts[1], p.atomOpts[2])
	})
	return p.atoms
}

// fastCode reports whether code has only what yara's fast matcher runs:
// bytes, lazy jumps and the final match (a hex string without
// alternatives).
func fastCode(code []yinst) bool {
	for _, in := range code {
		switch in.op {
		case yiByte, yiMatch:
		case yiRepAny:
			if in.greedy {
				return false
			}
		default:
			return false
		}
	}
	return true
}
