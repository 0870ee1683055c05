package yara

import "sort"

// Hex strings with jumps longer than chainThreshold are matched as a chain
// of pieces, as yara does: every piece is found on its own, then each match
// of the head piece is extended through the following pieces, each of
// which must start within its gap after the previous one ends. For one head
// offset, the chain ending earliest is the match.

func (m *matcher) addPiece(v *variant, start, n int) {
	if m.pieces == nil {
		m.pieces = map[*variant][]matchRec{}
	}
	ps := m.pieces[v]
	if len(ps) == 0 {
		m.pieceTouched = append(m.pieceTouched, v)
	}
	if len(ps) >= m.maxMatches {
		return
	}
	m.pieces[v] = append(ps, matchRec{off: int64(start), length: int32(n)})
}

func (m *matcher) resolveChains(data []byte) {
	if len(m.pieceTouched) == 0 {
		return
	}
	for _, v := range m.pieceTouched {
		m.pieces[v] = sortDedupe(m.pieces[v])
	}
	for _, head := range m.pieceTouched {
		if head.chain == nil {
			continue
		}
		hi := head.idx
		// memo[k][i]: earliest chain end from match i of link k's piece
		// (-1: no chain, 0: not computed yet), so each piece match is
		// extended once.
		memo := make([][]int64, len(head.chain))
		for k, l := range head.chain {
			memo[k] = make([]int64, len(m.pieces[m.r.variants[hi+l.rel]]))
		}
		for _, h := range m.pieces[head] {
			end, ok := m.chainEnd(hi, head.chain, memo, 0, h.off+int64(h.length))
			if !ok {
				continue
			}
			m.addResult(head, int(h.off), int(end-h.off))
		}
	}
}

// chainEnd finds the earliest end of the chain from link k on, the
// previous piece ending at prevEnd.
func (m *matcher) chainEnd(hi int, links []chainLink, memo [][]int64, k int, prevEnd int64) (int64, bool) {
	if k == len(links) {
		return prevEnd, true
	}
	l := links[k]
	ps := m.pieces[m.r.variants[hi+l.rel]]
	lo := prevEnd + int64(l.min)
	i := sort.Search(len(ps), func(i int) bool { return ps[i].off >= lo })
	best, found := int64(0), false
	for ; i < len(ps); i++ {
		p := ps[i]
		if l.max >= 0 && p.off > prevEnd+int64(l.max) {
			break
		}
		if found && p.off >= best {
			break // later pieces cannot end earlier
		}
		e := memo[k][i]
		if e == 0 {
			e = -1
			if x, ok := m.chainEnd(hi, links, memo, k+1, p.off+int64(p.length)); ok {
				e = x
			}
			memo[k][i] = e
		}
		if e >= 0 && (!found || e < best) {
			best, found = e, true
		}
		if st := m.st; st.tick() {
			break
		}
	}
	return best, found
}
