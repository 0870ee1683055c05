package re

import (
	"sort"
	"sync"
)

// yscratch is the per-call state of the yara matchers.
type yscratch struct {
	vm   yvm
	fast yfast
}

var yscratchPool = sync.Pool{New: func() any { return new(yscratch) }}

// YaraScratch is the state of YaraVerifyScratch kept between calls: one
// per goroutine (the rule engine's Scanner keeps one). The zero value is
// ready to use. Besides the machines' memory it keeps, for a pattern
// without atoms verified at increasing offsets of one data slice, where
// the next start that can match is (see yreject.go); Reset forgets it and
// must be called when the bytes of a slice change under the same address
// before a new pass over it.
type YaraScratch struct {
	s       yscratch
	scan    prefixScan
	skipEnd int // see TakeSkipEnd
}

// Reset forgets what earlier calls found about the data.
func (s *YaraScratch) Reset() { s.scan.reset(); s.skipEnd = 0 }

// TakeSkipEnd returns, right after YaraVerifyScratch(s, data, -1, pos,
// found), an offset e such that the calls at every start in (pos, e)
// would find nothing either (0 or pos+1: nothing is known), and forgets
// it: the caller may skip those calls.
func (s *YaraScratch) TakeSkipEnd() int {
	e := s.skipEnd
	s.skipEnd = 0
	return e
}

// YaraAtoms returns the atoms yara 4.2.3 searches for the pattern, in
// the order yara lists them (which decides the verification order of
// atoms found at the same place). nil means yara's zero-length atom: the
// pattern is verified at every offset (YaraVerify with atom -1). The
// slice must not be modified.
func (p *Prog) YaraAtoms() []YaraAtom { return p.y.atomList() }

// YaraGreedy reports whether, as in yara, a later match at an offset
// replaces an earlier one (a regex with greedy quantifiers); otherwise
// the first match at an offset stays.
func (p *Prog) YaraGreedy() bool { return p.y.greedy }

// YaraVerify does what yara does when atom i (-1: the zero-length atom)
// is found at data[pos]: it runs the code after the atom forwards and,
// when the atom is not at the start of the pattern, the code before it
// backwards, and calls found for every match, in yara's order (one per
// way the backward code matches). wide tells whether the match is the
// wide form. The only error is ErrTooManyFibers.
func (p *Prog) YaraVerify(data []byte, i, pos int, found func(start, n int, wide bool)) error {
	if pos < 0 || pos >= len(data) {
		return nil
	}
	fwd, bwd := p.y.root, int32(-1)
	if i >= 0 {
		a := &p.y.atomList()[i]
		fwd, bwd = a.fwd, a.bwd
	}
	return p.yaraVerify(data, fwd, bwd, pos, found)
}

// YaraVerifyScratch is YaraVerify with the caller's scratch. For the
// zero-length atom (i = -1) it skips, without running the machine, the
// starts where a match cannot begin (see yreject.go); it is fastest when
// called at every offset of a slice in increasing order.
func (p *Prog) YaraVerifyScratch(s *YaraScratch, data []byte, i, pos int, found func(start, n int, wide bool)) error {
	s.skipEnd = 0
	if pos < 0 || pos >= len(data) {
		return nil
	}
	if i >= 0 {
		a := &p.y.atomList()[i]
		return p.yaraVerifyWith(&s.s, data, a.fwd, a.bwd, pos, found)
	}
	y := p.y
	ascii, wide := !y.wide, y.wide || y.both
	if pre := y.rootPrefix(); pre != nil && usePrefix {
		if ascii {
			ascii = s.scan.asciiOK(y, pre, data, pos)
			if !wide {
				// Only the ascii form: the next start with the prefix
				// is the next that can match.
				s.skipEnd = s.scan.next
			}
		}
		if wide {
			wide = pre.wideOK(data, pos)
		}
		if !ascii && !wide {
			return nil
		}
	}
	return p.yaraVerifyForms(&s.s, data, y.root, -1, pos, found, ascii, wide)
}

// YaraSearchVerifyScratch is YaraSearchVerify with the caller's scratch.
func (p *Prog) YaraSearchVerifyScratch(s *YaraScratch, data []byte, q int, found func(start, n int, wide bool)) error {
	return p.yaraSearchVerifyWith(&s.s, data, q, found)
}

func (p *Prog) yaraSearchVerifyWith(s *yscratch, data []byte, q int, found func(start, n int, wide bool)) error {
	ys := p.y.search
	pos := q - ys.delta
	if pos < 0 || pos+len(ys.sets) > len(data) {
		return nil
	}
	for i := range ys.sets {
		if !ys.sets[i].Has(data[pos+i]) {
			return nil
		}
	}
	return p.yaraVerifyWith(s, data, ys.fwd, ys.bwd, pos, found)
}

func (p *Prog) yaraVerify(data []byte, fwd, bwd int32, pos int, found func(start, n int, wide bool)) error {
	s := yscratchPool.Get().(*yscratch)
	defer yscratchPool.Put(s)
	return p.yaraVerifyWith(s, data, fwd, bwd, pos, found)
}

func (p *Prog) yaraVerifyWith(s *yscratch, data []byte, fwd, bwd int32, pos int, found func(start, n int, wide bool)) error {
	return p.yaraVerifyForms(s, data, fwd, bwd, pos, found, !p.y.wide, p.y.wide || p.y.both)
}

// yaraVerifyForms verifies the ascii form when ascii is set, then, when
// that found nothing, the wide form when wide is set. A form is left out
// only when it is known to find nothing (yreject.go).
func (p *Prog) yaraVerifyForms(s *yscratch, data []byte, fwd, bwd int32, pos int, found func(start, n int, wide bool), ascii, wide bool) error {
	y := p.y
	if fwd < 0 {
		// No forward code: the piece is empty (a chain piece between two
		// long jumps), and an empty match is no match for yara.
		return nil
	}
	run := func(code []yinst, pc int32, backwards, wide, exhaustive bool, cb func(int)) (int, error) {
		if y.fast {
			fc, rev := y.ffwd, false
			if backwards {
				fc, rev = y.fbwd, y.fbwd == nil
				if rev {
					fc = y.ffwd
				}
			}
			return s.fast.exec(fc, rev, y.sets, pc, data, pos, backwards, exhaustive, cb), nil
		}
		m := &s.vm
		m.code, m.sets, m.data, m.p, m.backwards = code, y.sets, data, pos, backwards
		m.cs = 1
		if wide {
			m.cs = 2
		}
		n := m.exec(pc, exhaustive, cb)
		m.data = nil
		return n, m.err
	}
	n, isWide := -1, false
	var err error
	if ascii {
		if n, err = run(y.fwd, fwd, false, false, false, nil); err != nil {
			return err
		}
	}
	if n < 0 && wide {
		isWide = true
		if n, err = run(y.fwd, fwd, false, true, false, nil); err != nil {
			return err
		}
	}
	if n < 0 || (n == 0 && bwd < 0) {
		return nil
	}
	if bwd < 0 {
		found(pos, n, isWide)
		return nil
	}
	_, err = run(y.bwd, bwd, true, isWide, true, func(back int) {
		found(pos-back, back+n, isWide)
	})
	return err
}

// YaraSearchAtoms returns, when the pattern has one, a short equivalent of
// YaraAtoms for a prefilter: every occurrence of one of the returned
// strings at data[q] asks for YaraSearchVerify(data, q). Scanning with
// it finds what scanning with YaraAtoms finds (TestYaraSearch). ok is
// false when the pattern has none.
func (p *Prog) YaraSearchAtoms() (atoms [][]byte, ok bool) {
	if p.y.search == nil {
		return nil, false
	}
	return p.y.search.atoms, true
}

// YaraSearchVerify verifies the pattern where one of its
// YaraSearchAtoms occurs at data[q]: if a yara atom occurs there, it
// does what YaraVerify does for it.
func (p *Prog) YaraSearchVerify(data []byte, q int, found func(start, n int, wide bool)) error {
	s := yscratchPool.Get().(*yscratch)
	defer yscratchPool.Put(s)
	return p.yaraSearchVerifyWith(s, data, q, found)
}

// YaraMatch is one match of a pattern.
type YaraMatch struct {
	Start, Len int
	Wide       bool
}

// YaraScan finds the matches of the pattern in data the way yara 4.2.3
// scans for one string: every atom occurrence in yara's order (by end
// offset, longer atoms first, later-listed atoms first), verified with
// YaraVerify, a match at an offset already matched replacing the old one
// only for greedy regexes. Matches are sorted by offset. YaraScan is
// meant for tests and for patterns alone; the rule engine runs its own
// atom automaton and calls YaraVerify.
func (p *Prog) YaraScan(data []byte) ([]YaraMatch, error) {
	got := map[int]YaraMatch{}
	add := func(start, n int, wide bool) {
		if _, ok := got[start]; ok && !p.y.greedy {
			return
		}
		got[start] = YaraMatch{start, n, wide}
	}
	atoms := p.y.atomList()
	if len(atoms) == 0 {
		sc := new(YaraScratch)
		for pos := 0; pos < len(data); pos++ {
			if err := p.YaraVerifyScratch(sc, data, -1, pos, add); err != nil {
				return nil, err
			}
			if e := sc.TakeSkipEnd(); e > pos+1 {
				pos = e - 1 // starts that find nothing
			}
		}
	} else {
		byBytes := map[string][]int{}
		for i, a := range atoms {
			byBytes[string(a.Bytes)] = append(byBytes[string(a.Bytes)], i)
		}
		for end := 1; end <= len(data); end++ {
			for l := min(end, yMaxAtom); l >= 1; l-- {
				idx := byBytes[string(data[end-l:end])]
				for k := len(idx) - 1; k >= 0; k-- {
					if err := p.YaraVerify(data, idx[k], end-l, add); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	out := make([]YaraMatch, 0, len(got))
	for _, m := range got {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out, nil
}
