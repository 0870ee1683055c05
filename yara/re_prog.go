package yara

import "vigil/yara/internal/re"

// reProg adapts a compiled re.Prog to matchProg. Its atoms are yara's
// (re.Prog.YaraAtoms): each atom's minOff and maxOff both hold the
// atom's index in that list, which YaraVerify takes back (see
// matcher.candidates).
type reProg struct {
	p     *re.Prog
	atoms []atom
}

func compileNode(n *re.Node, opt re.CompileOptions) (matchProg, error) {
	p, err := re.Compile(n, opt)
	if err != nil {
		return nil, err
	}
	rp := &reProg{p: p}
	if as := p.YaraAtoms(); len(as) > 0 {
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
func (p *reProg) Verify(data []byte, atom, pos int, found func(start, n int, wide bool)) error {
	return p.p.YaraVerify(data, atom, pos, found)
}
