package ahocorasick

import (
	"bytes"
	"encoding/binary"
)

// Scan calls fn for every occurrence of every pattern in data, in increasing
// order of end position, with the pattern index and the offset where the
// occurrence starts. Occurrences that end at the same position are reported
// by decreasing pattern length and, for equal patterns, increasing index. If
// fn returns false, Scan stops at once. Scan does not allocate.
func (m *Matcher) Scan(data []byte, fn func(pattern int, start int) bool) {
	if len(m.patLen) == 0 {
		return
	}
	trans, class := m.trans, &m.class
	matchMin, denseEnd, outCol := m.matchMin, m.denseEnd, m.stride-1
	// The table loop stops on references s with s-low >= matchMin-low
	// (unsigned): dense shallow states (s < low), and states with outputs
	// and sparse states (s >= matchMin).
	low := m.shallowEnd
	stop := matchMin - low
	// s is the state after reading data[:i].
	s := uint32(0)
	i, n := 0, len(data)
	for {
		switch {
		case s < low:
			if i, s = m.skipShallow(data, i, s); i >= n {
				return
			}
			s = m.next(s, class[data[i]])
			i++
		case s < matchMin:
			for i < n {
				s = trans[s+uint32(class[data[i]])]
				i++
				if s-low >= stop {
					break
				}
			}
			if i >= n && s < matchMin {
				return
			}
		case s < denseEnd:
			if !m.report(trans[s+outCol], i-1, fn) || i >= n {
				return
			}
			s = trans[s+uint32(class[data[i]])]
			i++
		default:
			sp := s - denseEnd
			if k := m.sparse[sp].out; k != noOutput {
				if !m.report(k, i-1, fn) {
					return
				}
			} else if m.sparse[sp].depth <= m.skipDepth && m.skip != skipNone {
				if i, s = m.skipShallow(data, i, s); i >= n {
					return
				}
				s = m.next(s, class[data[i]])
				i++
				continue
			}
			if i >= n {
				return
			}
			s = m.sparseNext(sp, class[data[i]])
			i++
		}
	}
}

// next returns the state reached from state s on class c.
func (m *Matcher) next(s uint32, c uint8) uint32 {
	if s < m.denseEnd {
		return m.trans[s+uint32(c)]
	}
	return m.sparseNext(s-m.denseEnd, c)
}

// skipShallow is called in a shallow state s, entered on data[i-1] (or the
// start state at i == 0). It returns the index j of the next byte that may
// lead out of the shallow states and the state before reading data[j]; or
// j == len(data).
func (m *Matcher) skipShallow(data []byte, i int, s uint32) (int, uint32) {
	switch m.skip {
	case skipIndexByte:
		j := bytes.IndexByte(data[i:], m.skipByte)
		if j < 0 {
			return len(data), 0
		}
		return i + j, 0
	case skipTable:
		return m.scanTable(data, i), 0
	case skipPairs:
		if i < 1 {
			return i, s
		}
		j := m.scanPairs(data, i)
		if j == i || j >= len(data) {
			return j, s
		}
		return j, m.trans[m.class[data[j-1]]]
	case skipTriples:
		if i < 2 {
			return i, s
		}
		j := m.scanTriples(data, i)
		if j == i || j >= len(data) {
			return j, s
		}
		return j, m.next(m.trans[m.class[data[j-2]]], m.class[data[j-1]])
	}
	return i, s
}

// scanTable returns the index of the first byte at or after i that leaves
// the start state, or len(data).
func (m *Matcher) scanTable(data []byte, i int) int {
	leaves := &m.leaves
	for ; i+8 <= len(data); i += 8 {
		d := data[i : i+8 : i+8]
		if leaves[d[0]]|leaves[d[1]]|leaves[d[2]]|leaves[d[3]]|
			leaves[d[4]]|leaves[d[5]]|leaves[d[6]]|leaves[d[7]] != 0 {
			break
		}
	}
	for i < len(data) && leaves[data[i]] == 0 {
		i++
	}
	return i
}

// pairBit returns bit p of pairs in its lowest bit.
func pairBit(pairs *[1 << 16 / 64]uint64, p uint16) bool {
	return pairs[p/64]&(1<<(p%64)) != 0
}

// scanPairs returns the first j >= i (i >= 1) such that the pair
// data[j-1], data[j] is in the pairs bitmap, or len(data).
func (m *Matcher) scanPairs(data []byte, i int) int {
	pairs := &m.pairs
	for ; i+8 <= len(data); i += 8 {
		d := data[i-1 : i+8 : i+8]
		if pairBit(pairs, le16(d[0:])) ||
			pairBit(pairs, le16(d[1:])) ||
			pairBit(pairs, le16(d[2:])) ||
			pairBit(pairs, le16(d[3:])) ||
			pairBit(pairs, le16(d[4:])) ||
			pairBit(pairs, le16(d[5:])) ||
			pairBit(pairs, le16(d[6:])) ||
			pairBit(pairs, le16(d[7:])) {
			break
		}
	}
	for ; i < len(data); i++ {
		if pairBit(pairs, uint16(data[i-1])|uint16(data[i])<<8) {
			break
		}
	}
	return i
}

// tripleBit returns, in its lowest bit, whether the triple in the low three
// bytes of v is in triples.
func tripleBit(triples []uint64, mask, v uint32) bool {
	h := hash3(v)
	return triples[h/64&mask]&(1<<(h%64)) != 0
}

// outBit returns, in its lowest bit, whether the pair in bytes 1 and 2 of v
// is in pairs.
func outBit(pairs *[1 << 16 / 64]uint64, v uint32) bool {
	return pairBit(pairs, uint16(v>>8))
}

// scanTriples returns the first j >= i (i >= 2) such that data[j-2:j+1]
// may lead out of the shallow states, or len(data).
func (m *Matcher) scanTriples(data []byte, i int) int {
	if m.outPairs {
		return m.scanTriplesOut(data, i)
	}
	triples, mask := m.triples, m.tripleMask
	for ; i+10 <= len(data); i += 8 {
		d := data[i-2 : i+10 : i+10]
		if tripleBit(triples, mask, le32(d[0:])) ||
			tripleBit(triples, mask, le32(d[1:])) ||
			tripleBit(triples, mask, le32(d[2:])) ||
			tripleBit(triples, mask, le32(d[3:])) ||
			tripleBit(triples, mask, le32(d[4:])) ||
			tripleBit(triples, mask, le32(d[5:])) ||
			tripleBit(triples, mask, le32(d[6:])) ||
			tripleBit(triples, mask, le32(d[7:])) {
			break
		}
	}
	for ; i < len(data); i++ {
		v := uint32(data[i-2]) | uint32(data[i-1])<<8 | uint32(data[i])<<16
		if tripleBit(triples, mask, v) {
			break
		}
	}
	return i
}

// scanTriplesOut is scanTriples for automata with one- or two-byte patterns:
// it also looks up the last two bytes in pairs.
func (m *Matcher) scanTriplesOut(data []byte, i int) int {
	pairs, triples, mask := &m.pairs, m.triples, m.tripleMask
	for ; i+10 <= len(data); i += 8 {
		d := data[i-2 : i+10 : i+10]
		v0, v1, v2, v3 := le32(d[0:]), le32(d[1:]), le32(d[2:]), le32(d[3:])
		v4, v5, v6, v7 := le32(d[4:]), le32(d[5:]), le32(d[6:]), le32(d[7:])
		if tripleBit(triples, mask, v0) ||
			tripleBit(triples, mask, v1) ||
			tripleBit(triples, mask, v2) ||
			tripleBit(triples, mask, v3) ||
			tripleBit(triples, mask, v4) ||
			tripleBit(triples, mask, v5) ||
			tripleBit(triples, mask, v6) ||
			tripleBit(triples, mask, v7) ||
			outBit(pairs, v0) ||
			outBit(pairs, v1) ||
			outBit(pairs, v2) ||
			outBit(pairs, v3) ||
			outBit(pairs, v4) ||
			outBit(pairs, v5) ||
			outBit(pairs, v6) ||
			outBit(pairs, v7) {
			break
		}
	}
	for ; i < len(data); i++ {
		v := uint32(data[i-2]) | uint32(data[i-1])<<8 | uint32(data[i])<<16
		if tripleBit(triples, mask, v) ||
			outBit(pairs, v) {
			break
		}
	}
	return i
}

// le16 loads 2 bytes little endian.
func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }

// le32 loads 4 bytes little endian.
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

// sparseNext returns the state reached from sparse state sp on class c,
// following failure links until a child matches or a dense state answers.
func (m *Matcher) sparseNext(sp uint32, c uint8) uint32 {
	for {
		st := &m.sparse[sp]
		kids := m.children[st.first:][:st.count]
		lo, hi := 0, len(kids)
		for lo < hi {
			mid := int(uint(lo+hi) >> 1)
			if uint8(kids[mid]>>32) < c {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		if lo < len(kids) && uint8(kids[lo]>>32) == c {
			return uint32(kids[lo])
		}
		if st.fail < m.denseEnd {
			return m.trans[st.fail+uint32(c)]
		}
		sp = st.fail - m.denseEnd
	}
}

// report calls fn for the patterns of output state k and of the output
// states on its suffix chain, whose last byte is data[end]. It returns false
// if fn asked to stop.
func (m *Matcher) report(k uint32, end int, fn func(pattern int, start int) bool) bool {
	for {
		for _, p := range m.outList[m.outStart[k]:m.outStart[k+1]] {
			if !fn(int(p), end+1-int(m.patLen[p])) {
				return false
			}
		}
		l := m.outLink[k]
		if l == 0 {
			return true
		}
		k = l - 1
	}
}
