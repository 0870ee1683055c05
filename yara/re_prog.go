package yara

import "vigil/yara/internal/re"

// reProg adapts a compiled re.Prog to matchProg. Its atoms are yara's
// (re.Prog.YaraAtoms), or their shorter equivalent when the pattern has
// one (re.Prog.YaraSearchAtoms). Each atom's minOff and maxOff both hold
// what Verify needs back: the atom's index in the yara list, or 0 for
// search atoms (see matcher.candidates).
type reProg struct {
	p      *re.Prog
	atoms  []atom
	search bool // atoms are search atoms
}

func compileNode(n *re.Node, opt re.CompileOptions) (matchProg, error) {
	p, err := re.Compile(n, opt)
	if err != nil {
		return nil, err
	}
	rp := &reProg{p: p}
	if as, ok := p.YaraSearchAtoms(); ok {
		rp.search = true
		for _, a := range as {
			rp.atoms = append(rp.atoms, atom{bytes: a})
		}
	} else if as := p.YaraAtoms(); len(as) > 0 {
		rp.atoms = make([]atom, len(as))
		for i, a := range as {
			rp.atoms[i] = atom{bytes: a.Bytes, minOff: i, maxOff: i}
		}
	}
	return rp, nil
}

func (p *reProg) Find(data []byte) bool { return p.p.Find(data) }
func (p *reProg) Atoms() []atom         { return p.atoms }
func (p *reProg) Greedy() bool          { return p.p.YaraGreedy() }

func (p *reProg) Verify(s *re.YaraScratch, data []byte, atom, pos int, found func(start, n int, wide bool)) error {
	if p.search && atom >= 0 {
		return p.p.YaraSearchVerifyScratch(s, data, pos, found)
	}
	return p.p.YaraVerifyScratch(s, data, atom, pos, found)
}
