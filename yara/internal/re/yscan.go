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

func (p *Prog) yaraVerify(data []byte, fwd, bwd int32, pos int, found func(start, n int, wide bool)) error {
	s := yscratchPool.Get().(*yscratch)
	defer yscratchPool.Put(s)
	return p.yaraVerifyWith(s, data, fwd, bwd, pos, found)
}

func (p *Prog) yaraVerifyWith(s *yscratch, data []byte, fwd, bwd int32, pos int, found func(start, n int, wide bool)) error {
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
	n, wide := -1, false
	var err error
	if !y.wide {
		if n, err = run(y.fwd, fwd, false, false, false, nil); err != nil {
			return err
		}
	}
	if n < 0 && (y.wide || y.both) {
		wide = true
		if n, err = run(y.fwd, fwd, false, true, false, nil); err != nil {
			return err
		}
	}
	if n < 0 || (n == 0 && bwd < 0) {
		return nil
	}
	if bwd < 0 {
		found(pos, n, wide)
		return nil
	}
	_, err = run(y.bwd, bwd, true, wide, true, func(back int) {
		found(pos-back, back+n, wide)
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
	s := p.y.search
	pos := q - s.delta
	if pos < 0 || pos+len(s.sets) > len(data) {
		return nil
	}
	for i := range s.sets {
		if !s.sets[i].Has(data[pos+i]) {
			return nil
		}
	}
	return p.yaraVerify(data, s.fwd, s.bwd, pos, found)
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
		for pos := range data {
			if err := p.YaraVerify(data, -1, pos, add); err != nil {
				return nil, err
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
