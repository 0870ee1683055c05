package yara

import "sort"

// Hex strings with jumps longer than chainThreshold, and regexes with
// long lazy gaps, are matched as a chain of pieces, as yara does: every
// piece is found on its own, then each match of the head piece is
// extended through the following pieces, each of which must start within
// its gap after the previous one ends. yara confirms a head match when
// the first last-piece match that completes a chain from it is found, so
// of all complete chains from one head offset, the one whose last piece
// was found first (in scan order) gives the match's end.

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
	// order records the discovery order: sortDedupe keeps the first
	// match found at an offset, and chains prefer the first found end.
	m.pieceSeq++
	m.pieces[v] = append(ps, matchRec{off: int64(start), length: int32(n), order: m.pieceSeq})
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
		links := head.chain
		// Work from the last piece back: best[j][i] is the complete
		// chain from match i of piece j whose last piece match was found
		// first. A segment tree over each piece's matches (by offset)
		// answers "best chain starting in this offset range".
		k := len(links)
		lists := make([][]matchRec, k+1)
		lists[0] = m.pieces[head]
		for j, l := range links {
			lists[j+1] = m.pieces[m.r.variants[head.idx+l.rel]]
		}
		next := newChainTree(lists[k], nil)
		for j := k - 1; j >= 0; j-- {
			vals := make([]chainBest, len(lists[j]))
			for i, p := range lists[j] {
				vals[i] = next.query(p.off+int64(p.length), links[j])
			}
			if j == 0 {
				for i, h := range lists[0] {
					if vals[i].state == chainFound {
						m.addResult(head, int(h.off), int(vals[i].end-h.off))
					}
				}
				break
			}
			next = newChainTree(lists[j], vals)
			if m.st.tick() {
				return
			}
		}
	}
}

// chainBest is the complete chain chosen from one piece match.
type chainBest struct {
	state int8
	end   int64 // end of the chain
	seq   int32 // discovery order of the last piece's match
}

const chainFound = 1

func (a chainBest) better(b chainBest) bool {
	return a.state == chainFound && (b.state != chainFound || a.seq < b.seq)
}

// chainTree answers range queries over the matches of one piece, sorted
// by offset: the best chain among those starting in an offset range.
type chainTree struct {
	ms   []matchRec
	size int
	t    []chainBest
}

// newChainTree builds the tree; vals nil means the piece is the last one
// (each match is a complete chain ending where it ends).
func newChainTree(ms []matchRec, vals []chainBest) *chainTree {
	size := 1
	for size < len(ms) {
		size *= 2
	}
	c := &chainTree{ms: ms, size: size, t: make([]chainBest, 2*size)}
	for i, p := range ms {
		if vals == nil {
			c.t[size+i] = chainBest{state: chainFound, end: p.off + int64(p.length), seq: p.order}
		} else {
			c.t[size+i] = vals[i]
		}
	}
	for i := size - 1; i >= 1; i-- {
		a, b := c.t[2*i], c.t[2*i+1]
		if b.better(a) {
			a = b
		}
		c.t[i] = a
	}
	return c
}

// query returns the best chain from a match starting within l's gap
// after prevEnd.
func (c *chainTree) query(prevEnd int64, l chainLink) chainBest {
	lo := prevEnd + int64(l.min)
	i := sort.Search(len(c.ms), func(i int) bool { return c.ms[i].off >= lo })
	j := len(c.ms)
	if l.max >= 0 {
		hi := prevEnd + int64(l.max)
		j = sort.Search(len(c.ms), func(i int) bool { return c.ms[i].off > hi })
	}
	var best chainBest
	for a, b := i+c.size, j+c.size; a < b; a, b = a/2, b/2 {
		if a&1 == 1 {
			if c.t[a].better(best) {
				best = c.t[a]
			}
			a++
		}
		if b&1 == 1 {
			b--
			if c.t[b].better(best) {
				best = c.t[b]
			}
		}
	}
	return best
}
