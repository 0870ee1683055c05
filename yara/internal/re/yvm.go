package re

import "errors"

// ErrTooManyFibers is yara's ERROR_TOO_MANY_RE_FIBERS (error 46): a
// pattern needed more than MaxFibers simultaneous threads on some input.
// yara then fails the whole scan; so does Vigil.
var ErrTooManyFibers = errors.New("too many regular expression fibers (yara error 46)")

// MaxFibers is yara's RE_MAX_FIBERS.
const MaxFibers = 1024

// yfiber is one thread of yara's backtracking-free matcher: a program
// counter, the counters of the enclosing counted loops and the counter
// of a REPEAT_ANY in progress (-1: none).
type yfiber struct {
	dead       bool
	pc         int32
	rc         int32
	stack      []int32
	prev, next int32
}

// yvm runs yara's matcher (yr_re_exec) on a yara-layout program: an
// ordered list of fibers, the order being the priority. Every fiber
// moves in lockstep over the input; a fiber is forked at splits and
// counted loops, fibers identical to an earlier one are dropped, and a
// split met twice while advancing one fiber is not taken again.
type yvm struct {
	code       []yinst
	sets       []ByteSet
	executed   []int32 // split ids taken, per sync call (a stack of sets)
	seen       map[uint64]int32
	fibers     []yfiber
	free       []int32
	head, tail int32
	live       int
	err        error

	data      []byte
	p         int // where the run starts (the atom)
	cs        int // character size: 1, or 2 when wide
	backwards bool
	steps     int
}

const nilFiber = -1

func (m *yvm) alloc() int32 {
	if m.live >= MaxFibers {
		m.err = ErrTooManyFibers
		return nilFiber
	}
	m.live++
	if n := len(m.free); n > 0 {
		i := m.free[n-1]
		m.free = m.free[:n-1]
		return i
	}
	n := len(m.fibers)
	if n < cap(m.fibers) {
		m.fibers = m.fibers[:n+1] // keeps the old stack's storage
		m.fibers[n].stack = m.fibers[n].stack[:0]
	} else {
		m.fibers = append(m.fibers, yfiber{})
	}
	return int32(n)
}

// clone inserts a copy of fiber i right after it.
func (m *yvm) clone(i int32) int32 {
	j := m.alloc()
	if j == nilFiber {
		return nilFiber
	}
	f, g := &m.fibers[i], &m.fibers[j]
	g.dead, g.pc, g.rc = false, f.pc, f.rc
	g.stack = append(g.stack[:0], f.stack...)
	g.prev, g.next = i, f.next
	if f.next != nilFiber {
		m.fibers[f.next].prev = j
	} else {
		m.tail = j
	}
	f.next = j
	return j
}

// kill removes fiber i and returns the one after it.
func (m *yvm) kill(i int32) int32 {
	f := &m.fibers[i]
	next := f.next
	if f.prev != nilFiber {
		m.fibers[f.prev].next = next
	} else {
		m.head = next
	}
	if next != nilFiber {
		m.fibers[next].prev = f.prev
	} else {
		m.tail = f.prev
	}
	f.dead = true
	m.free = append(m.free, i)
	m.live--
	return next
}

func (m *yvm) killFrom(i int32) {
	for i != nilFiber {
		i = m.kill(i)
	}
}

// sync advances fiber i, and the fibers forked from it, to instructions
// that read input (or assert, or match).
func (m *yvm) sync(i int32) {
	last := m.fibers[i].next
	base := len(m.executed) // m.executed[base:] are the ids taken by this call
	defer func() { m.executed = m.executed[:base] }()
	cur := i
	for cur != last && cur != nilFiber && m.err == nil {
		m.steps++
		f := &m.fibers[cur]
		in := &m.code[f.pc]
		switch in.op {
		case yiSplit:
			taken := false
			for _, id := range m.executed[base:] {
				if id == in.id {
					taken = true
					break
				}
			}
			if taken {
				cur = m.kill(cur)
				continue
			}
			j := m.clone(cur)
			if j == nilFiber {
				return
			}
			f = &m.fibers[cur]
			a, b := cur, j
			if in.prefJump {
				a, b = b, a
			}
			m.fibers[a].pc++
			m.fibers[b].pc = in.x
			m.executed = append(m.executed, in.id)
		case yiRepStart:
			a := cur
			if in.min == 0 {
				j := m.clone(cur)
				if j == nilFiber {
					return
				}
				b := j
				if !in.greedy {
					a, b = b, a
				}
				m.fibers[b].pc = in.x
			}
			fa := &m.fibers[a]
			fa.stack = append(fa.stack, 0)
			fa.pc++
		case yiRepEnd:
			top := len(f.stack) - 1
			f.stack[top]++
			if f.stack[top] < in.min {
				f.pc = in.x
				break
			}
			a := cur
			if f.stack[top] < in.max {
				j := m.clone(cur)
				if j == nilFiber {
					return
				}
				b := j
				if in.greedy {
					a, b = b, a
				}
				m.fibers[b].pc = in.x
			}
			fa := &m.fibers[a]
			fa.stack = fa.stack[:len(fa.stack)-1]
			fa.pc++
		case yiRepAny:
			if f.rc == -1 {
				f.rc = 0
			}
			switch {
			case f.rc < in.min:
				f.rc++
				cur = f.next
			case f.rc < in.max:
				next := f.next
				j := m.clone(cur)
				if j == nilFiber {
					return
				}
				a, b := cur, j
				if !in.greedy {
					a, b = b, a
				}
				m.fibers[a].rc++
				m.fibers[b].pc++
				m.fibers[b].rc = -1
				m.sync(b) // with its own set of taken splits
				cur = next
			default:
				f.pc++
				f.rc = -1
			}
		case yiJmp:
			f.pc = in.x
		default:
			cur = f.next
		}
	}
}

// same reports whether fibers i and j are in the same state.
func (m *yvm) same(i, j int32) bool {
	f, g := &m.fibers[i], &m.fibers[j]
	if f.pc != g.pc || f.rc != g.rc || len(f.stack) != len(g.stack) {
		return false
	}
	for k := range f.stack {
		if f.stack[k] != g.stack[k] {
			return false
		}
	}
	return true
}

// dedupe drops every fiber identical to an earlier one. Long lists are
// hashed, so that this stays linear in the number of fibers.
func (m *yvm) dedupe() {
	if m.live <= 16 {
		for i := m.head; i != nilFiber; {
			dup := false
			for j := m.head; j != i; j = m.fibers[j].next {
				m.steps++
				if m.same(i, j) {
					dup = true
					break
				}
			}
			if dup {
				i = m.kill(i)
			} else {
				i = m.fibers[i].next
			}
		}
		return
	}
	if m.seen == nil {
		m.seen = map[uint64]int32{}
	}
	clear(m.seen)
	for i := m.head; i != nilFiber; {
		m.steps++
		h := m.hash(i)
		j, ok := m.seen[h]
		dup := false
		switch {
		case !ok:
			m.seen[h] = i
		case m.same(i, j):
			dup = true
		default:
			// A hash collision: compare with every earlier fiber.
			for k := m.head; k != i; k = m.fibers[k].next {
				if m.same(i, k) {
					dup = true
					break
				}
			}
		}
		if dup {
			i = m.kill(i)
		} else {
			i = m.fibers[i].next
		}
	}
}

// hash is an FNV-1a hash of a fiber's state.
func (m *yvm) hash(i int32) uint64 {
	f := &m.fibers[i]
	h := uint64(14695981039346656037)
	mix := func(v int32) {
		h ^= uint64(uint32(v))
		h *= 1099511628211
	}
	mix(f.pc)
	mix(f.rc)
	mix(int32(len(f.stack)))
	for _, v := range f.stack {
		mix(v)
	}
	return h
}

// isWord reports whether a word character starts at data[i].
func (m *yvm) isWord(i int) bool {
	if i < 0 || i >= len(m.data) || !isWordByte(m.data[i]) {
		return false
	}
	return m.cs == 1 || (i+1 < len(m.data) && m.data[i+1] == 0)
}

// exec runs code from pc at m.p, forwards or backwards. Forwards and not
// exhaustive, it returns the length of the match the highest-priority
// fiber reaches (-1: none). Exhaustive, it calls found with the length of
// every match (backwards: every start) and returns the last length.
func (m *yvm) exec(pc int32, exhaustive bool, found func(n int)) int {
	matched := -1
	m.head, m.tail = nilFiber, nilFiber
	m.live = 0
	m.fibers = m.fibers[:0]
	m.free = m.free[:0]
	m.err = nil
	cs := m.cs
	avail := len(m.data) - m.p
	if m.backwards {
		avail = m.p
	}
	maxb := min(avail, ScanLimit)
	maxb -= maxb % cs
	f := m.alloc()
	m.fibers[f] = yfiber{pc: pc, rc: -1, prev: nilFiber, next: nilFiber, stack: m.fibers[f].stack[:0]}
	m.head, m.tail = f, f
	m.sync(f)
	for bm := 0; m.head != nilFiber && m.err == nil; bm += cs {
		in := m.p + bm // the character at the current position
		if m.backwards {
			in = m.p - cs - bm
		}
		m.dedupe()
		conts := 0
		for i := m.head; i != nilFiber && m.err == nil; {
			m.steps++
			fb := &m.fibers[i]
			op := &m.code[fb.pc]
			const (
				none = iota
				cont
				kill
				killTail
			)
			action := none
			switch op.op {
			case yiByte, yiRepAny:
				if bm >= maxb || (cs == 2 && m.data[in+1] != 0) || !op.test.has(m.sets, m.data[in]) {
					action = kill
				}
				if op.op == yiByte {
					fb.pc++
				}
			case yiWordB, yiNotWordB:
				var b bool
				switch {
				case bm == 0 && m.p < cs:
					b = true
				case bm >= maxb:
					b = true
				case m.backwards:
					b = m.isWord(in) != m.isWord(in+cs)
				default:
					b = m.isWord(in) != m.isWord(in-cs)
				}
				if (op.op == yiWordB) != b {
					action = kill
				} else {
					action = cont
				}
				fb.pc++
			case yiBegin:
				k := m.p > 0 || bm != 0
				if m.backwards {
					k = m.p > bm
				}
				action = cont
				if k {
					action = kill
				}
				fb.pc++
			case yiEnd:
				action = cont
				if m.backwards || len(m.data)-m.p > bm {
					action = kill
				}
				fb.pc++
			case yiMatch:
				matched = bm
				if exhaustive {
					if found != nil {
						found(bm)
					}
					action = kill
				} else {
					action = killTail
				}
			}
			switch action {
			case kill:
				i = m.kill(i)
			case killTail:
				m.killFrom(i)
				i = nilFiber
			case cont:
				// An assertion passed: the same fiber goes on at this
				// position. A loop of assertions only (yara may spin on
				// /(\b)*/) is cut after as many steps as the program has
				// instructions.
				conts++
				if conts > len(m.code)*MaxFibers {
					i = m.kill(i)
					break
				}
				m.sync(i)
				if m.fibers[i].dead {
					// Killed by a split already taken: yara's loop
					// ends the round here.
					i = nilFiber
				}
			default:
				next := fb.next
				m.sync(i)
				i = next
			}
		}
	}
	if m.err != nil {
		m.killFrom(m.head)
	}
	return matched
}
