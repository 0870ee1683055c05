package re

import "sync"

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

type yinst struct {
	op       yiop
	prefJump bool  // yiSplit: the preferred branch is the jump (yara's SPLIT_B)
	greedy   bool  // yiRep*
	id       int32 // yiSplit: split id (a loop's copies share none: no unrolling)
	x        int32
	min, max int32
	set      ByteSet
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
		ref = e.add(yinst{op: yiByte, set: n.set})
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
		ref = e.add(yinst{op: yiRepAny, greedy: n.greedy, min: int32(n.min), max: int32(n.max), set: n.set})
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
	fwd, bwd  []yinst
	root      int32      // forward entry of the whole pattern
	atoms     []YaraAtom // see atomList
	atomsOnce sync.Once
	chosen    []chosen // the atoms before expansion
	atomOpts  [3]bool  // ascii, wide, nocase
	search    *ysearch // nil: no shorter equivalent of atoms
	greedy    bool     // yara's STRING_IS_GREEDY_REGEXP: later matches replace
	fast      bool     // hex string without alternatives: yara's fast matcher
	wide      bool     // characters are two bytes (wide only)
	both      bool     // ascii and wide: try ascii, then wide
}

// compileYara lays out the forward and backward code of n and picks its
// atoms.
func compileYara(n *Node, opt CompileOptions, greedy bool) (*yprog, error) {
	root := toYara(n, CompileOptions{Nocase: opt.Nocase})
	f := &yemitter{}
	f.emit(root, 0)
	f.add(yinst{op: yiMatch})
	if f.splits > maxSplits {
		return nil, &Error{0, "regular expression is too complex"}
	}
	b := &yemitter{backwards: true}
	b.emit(root, 0)
	b.add(yinst{op: yiMatch})
	p := &yprog{fwd: f.code, bwd: b.code, root: root.fwd, greedy: greedy, wide: opt.Wide && !opt.ASCII, both: opt.Wide && opt.ASCII}
	p.fast = n.hex && fastCode(f.code)
	list, _ := buildAtomTree(root).choose()
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
