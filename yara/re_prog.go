package yara

import "vigil/yara/internal/re"

// reProg adapts a compiled re.Prog to matchProg, converting its atoms once.
type reProg struct {
	p     *re.Prog
	atoms []atom
}

func compileNode(n *re.Node, nocase, wide bool) (matchProg, error) {
	p, err := re.Compile(n, re.CompileOptions{Nocase: nocase, Wide: wide})
	if err != nil {
		return nil, err
	}
	rp := &reProg{p: p}
	if as := p.Atoms(); as != nil {
		rp.atoms = make([]atom, len(as))
		for i, a := range as {
			rp.atoms[i] = atom{bytes: a.Bytes, minOff: a.MinOff, maxOff: a.MaxOff}
		}
	}
	return rp, nil
}

func (p *reProg) MatchAt(data []byte, start int) int { return p.p.MatchAt(data, start) }
func (p *reProg) Find(data []byte) bool              { return p.p.Find(data) }
func (p *reProg) Atoms() []atom                      { return p.atoms }
