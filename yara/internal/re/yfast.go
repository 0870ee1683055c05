package re

// yara's fast matcher (yr_re_fast_exec) for hex strings without
// alternatives: the code is a straight line of bytes and lazy jumps, run
// one instruction per round over a list of input positions kept in
// increasing address order. Forwards it reports the match of the first
// position in the list (the shortest); exhaustive (backwards) it reports
// every position that reaches the end.

// maxFastPositions bounds the position list of the fast matcher. yara
// has no bound; positions lie within ScanLimit of the atom and repeat
// rarely, so real patterns stay far below it.
const maxFastPositions = 1 << 16

type fpos struct {
	input      int
	round      int
	prev, next int32
}

type yfast struct {
	pos   []fpos
	free  []int32
	steps int // positions visited, for the linearity test
}

func (f *yfast) alloc() int32 {
	if n := len(f.free); n > 0 {
		i := f.free[n-1]
		f.free = f.free[:n-1]
		return i
	}
	f.pos = append(f.pos, fpos{})
	return int32(len(f.pos) - 1)
}

// exec runs code from pc at data[at] (backwards: at data[at-1] going
// down). See yvm.exec for the results. rev says that the code to run is
// code reversed, its match kept last (see reversedOf).
func (f *yfast) exec(code fcode, rev bool, sets []ByteSet, pc int32, data []byte, at int, backwards, exhaustive bool, found func(n int)) int {
	f.pos = f.pos[:0]
	f.free = f.free[:0]
	incr, avail := 1, len(data)-at
	if backwards {
		incr, avail = -1, at
	}
	maxb := min(avail, ScanLimit)
	first := f.alloc()
	start := at
	if backwards {
		start = at - 1
	}
	f.pos[first] = fpos{input: start, prev: nilFiber, next: nilFiber}
	last := first
	remove := func(i int32) {
		p := &f.pos[i]
		if i == first {
			first = p.next
		}
		if i == last {
			last = p.prev
		}
		if p.prev != nilFiber {
			f.pos[p.prev].next = p.next
		}
		if p.next != nilFiber {
			f.pos[p.next].prev = p.prev
		}
		f.free = append(f.free, i)
	}
	ip := pc
	n, wide := int32(code.len()), code.wide()
	var inst finst
	in := &inst
	for round := 0; first != nilFiber; round++ {
		j := ip
		if rev {
			j = n - 2 - ip
		}
		switch {
		case j < 0:
			inst = finst{op: yiMatch} // the match that ends a reversed code
		case wide:
			inst = code.ext(int(j))
		default:
			if e := code[j]; byte(e)&^byte(e>>8) == 0 {
				inst = finst{op: yiByte, val: byte(e), mask: byte(e >> 8)} // plain byte, as at
			} else {
				inst = code.at(int(j))
			}
		}
		for cur := first; cur != nilFiber; {
			f.steps++
			c := &f.pos[cur]
			next := c.next
			if c.round != round {
				cur = next
				continue
			}
			bm := c.input - at
			if backwards {
				bm = at - c.input - 1
			}
			match := false
			switch in.op {
			case yiByte:
				if bm < maxb && in.has(sets, data[c.input]) {
					match = true
					c.input += incr
				}
			case yiRepAny:
				if bm >= maxb {
					break
				}
				match = true
				ins := cur
				for j := int(in.a) + 1; j <= int(in.b); j++ { // min, max
					if bm+j >= maxb {
						break
					}
					ni := f.pos[cur].input + j*incr
					for f.pos[ins].next != nilFiber && ni >= f.pos[f.pos[ins].next].input {
						ins = f.pos[ins].next
					}
					if ni == f.pos[ins].input || len(f.pos)-len(f.free) > maxFastPositions {
						continue
					}
					n := f.alloc()
					p := &f.pos[n]
					p.input, p.round = ni, round+1
					p.prev, p.next = ins, f.pos[ins].next
					f.pos[ins].next = n
					if p.next != nilFiber {
						f.pos[p.next].prev = n
					}
					if ins == last {
						last = n
					}
				}
				c = &f.pos[cur]
				c.input += incr * int(in.a) // min
			case yiMatch:
				if bm > maxb {
					// Only a pattern ending with a jump gets here (yara
					// rejects those): the jump ran past the window.
					break
				}
				if !exhaustive {
					return bm
				}
				if found != nil {
					found(min(bm, maxb))
				}
			}
			if match {
				f.pos[cur].round = round + 1
			} else {
				remove(cur)
			}
			cur = next
		}
		if in.op != yiMatch {
			ip++
		}
	}
	return -1
}
