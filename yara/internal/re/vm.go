package re

import (
	"bytes"
	"sync"
)

// queue is a sparse set of program counters that keeps insertion order:
// the order is the threads' priority.
type queue struct {
	sparse []int32
	dense  []int32
}

func newQueue(n int) queue {
	return queue{sparse: make([]int32, n), dense: make([]int32, 0, n)}
}

func (q *queue) has(pc int32) bool {
	i := q.sparse[pc]
	return int(i) < len(q.dense) && q.dense[i] == pc
}

func (q *queue) add(pc int32) {
	q.sparse[pc] = int32(len(q.dense))
	q.dense = append(q.dense, pc)
}

// machine is the scratch state of one match; machines are pooled per Prog.
type machine struct {
	clist, nlist queue
	stack        []int32
	steps        int // instructions visited, for the linearity test
}

type machinePool struct{ p sync.Pool }

func (p *Prog) get() *machine {
	p.pike()
	if m, ok := p.pool.p.Get().(*machine); ok {
		m.steps = 0
		return m
	}
	n := len(p.insts)
	return &machine{clist: newQueue(n), nlist: newQueue(n)}
}

func (p *Prog) put(m *machine) { p.pool.p.Put(m) }

// isWordAt reports whether a word character starts at data[i]: a byte of
// [A-Za-z0-9_], followed by 0x00 in wide mode (yara's
// _yr_re_is_word_char).
func (p *Prog) isWordAt(data []byte, i int) bool {
	if i < 0 || i >= len(data) || !isWordByte(data[i]) {
		return false
	}
	return !p.wide || (i+1 < len(data) && data[i+1] == 0)
}

// wordBoundary tells whether pos is at a word boundary, as yara decides:
// where less than a character (1 byte, 2 in wide mode) is left before pos
// in the data or after pos in the scanned window, there is one;
// otherwise the character before (one or, in wide mode, two bytes back)
// and the one at pos must differ in wordness.
func (p *Prog) wordBoundary(data []byte, pos, end int) bool {
	size := 1
	if p.wide {
		size = 2
	}
	if pos < size || pos+size > end {
		return true // no full character before, or none after
	}
	return p.isWordAt(data, pos-size) != p.isWordAt(data, pos)
}

// addThread adds pc and everything reachable from it by empty transitions
// to q, in priority order (depth first, preferred branch first).
func (p *Prog) addThread(m *machine, q *queue, pc0 int32, data []byte, pos, end int) {
	m.stack = append(m.stack[:0], pc0)
	for len(m.stack) > 0 {
		pc := m.stack[len(m.stack)-1]
		m.stack = m.stack[:len(m.stack)-1]
		if q.has(pc) {
			continue
		}
		q.add(pc)
		m.steps++
		in := &p.insts[pc]
		switch in.op {
		case opJmp:
			m.stack = append(m.stack, in.x)
		case opSplit:
			m.stack = append(m.stack, in.y, in.x)
		case opBegin:
			if pos == 0 {
				m.stack = append(m.stack, pc+1)
			}
		case opEnd:
			if pos == len(data) {
				m.stack = append(m.stack, pc+1)
			}
		case opWordB:
			if p.wordBoundary(data, pos, end) {
				m.stack = append(m.stack, pc+1)
			}
		case opNotWordB:
			if !p.wordBoundary(data, pos, end) {
				m.stack = append(m.stack, pc+1)
			}
		}
	}
}

// MatchAt returns the length of the match anchored at data[start], or -1.
// The match is the one yara's VM prefers (leftmost-first: alternatives in
// order, greedy or lazy quantifiers) and is searched within
// data[start:min(len(data), start+ScanLimit)]; ^, $ and \b see the whole
// of data. An empty match counts as no match (yara never reports one).
func (p *Prog) MatchAt(data []byte, start int) int {
	p.pike()
	if start < 0 || start >= len(data) || !p.first.Has(data[start]) {
		return -1
	}
	if p.lit != nil {
		if len(p.lit) <= ScanLimit && bytes.HasPrefix(data[start:], p.lit) {
			return len(p.lit)
		}
		return -1
	}
	if p.seq != nil {
		if len(data)-start < len(p.seq) {
			return -1
		}
		for i := range p.seq {
			if !p.seq[i].Has(data[start+i]) {
				return -1
			}
		}
		return len(p.seq)
	}
	m := p.get()
	n := p.matchAt(m, data, start)
	p.put(m)
	return n
}

func (p *Prog) matchAt(m *machine, data []byte, start int) int {
	end := min(len(data), start+ScanLimit)
	clist, nlist := &m.clist, &m.nlist
	clist.dense = clist.dense[:0]
	matched := -1
	p.addThread(m, clist, 0, data, start, end)
run:
	for pos := start; len(clist.dense) > 0; pos++ {
		nlist.dense = nlist.dense[:0]
	threads:
		for _, pc := range clist.dense {
			m.steps++
			in := &p.insts[pc]
			switch in.op {
			case opMatch:
				matched = pos - start
				if p.shortest {
					break run // yara stops at the first match of a hex string
				}
				break threads // lower-priority threads lose
			case opByte:
				if pos < end && in.set.Has(data[pos]) {
					p.addThread(m, nlist, pc+1, data, pos+1, end)
				}
			}
		}
		if pos >= end {
			break
		}
		clist, nlist = nlist, clist
	}
	if matched == 0 {
		return -1
	}
	return matched
}

// Find reports whether the pattern matches anywhere in data, as yara's
// `matches` operator does: only the first ScanLimit bytes of data are
// searched (a match must lie within them), a match may be empty, and an
// empty data never matches.
func (p *Prog) Find(data []byte) bool {
	if len(data) == 0 {
		return false
	}
	m := p.get()
	ok := p.find(m, data)
	p.put(m)
	return ok
}

func (p *Prog) find(m *machine, data []byte) bool {
	end := min(len(data), ScanLimit)
	clist, nlist := &m.clist, &m.nlist
	clist.dense = clist.dense[:0]
	for pos := 0; ; pos++ {
		if pos < end {
			p.addThread(m, clist, 0, data, pos, end) // a new start, lowest priority
		}
		if len(clist.dense) == 0 {
			return false
		}
		nlist.dense = nlist.dense[:0]
		for _, pc := range clist.dense {
			m.steps++
			in := &p.insts[pc]
			switch in.op {
			case opMatch:
				return true
			case opByte:
				if pos < end && in.set.Has(data[pos]) {
					p.addThread(m, nlist, pc+1, data, pos+1, end)
				}
			}
		}
		if pos >= end {
			return false
		}
		clist, nlist = nlist, clist
	}
}
