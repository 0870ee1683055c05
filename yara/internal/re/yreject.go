package re

// Cheap rejection of starts of patterns without atoms.
//
// A pattern without atoms (/[a-f0-9]{32}/, /[A-Za-z0-9+\/]{40,}/) is
// verified at every offset, and on text nearly every offset begins with
// a byte of its first class. When the forward code, run from the start of
// the pattern, keeps a single fiber while it reads its first k
// characters (no split or optional loop before them), every match needs
// those k characters in known sets, and a start where one is missing ends
// with that fiber dying: no match and no error (one fiber cannot be too
// many). Such starts are skipped without running the machine.
//
// For the ascii form the next start with the prefix is searched with
// BNDM (backward nondeterministic DAWG matching, bit-parallel), which
// reads a few bytes of each window of k where the prefix cannot be, and
// is remembered between calls at increasing offsets. The wide form is
// checked at each start.

// maxPrefix is the most characters of a prefix (the bits of a uint64).
const maxPrefix = 64

// maxPrefixSteps bounds the instructions walked to find a prefix.
const maxPrefixSteps = 4096

// yprefix is the first k characters every match from the pattern's
// start reads: character i is a byte c with bit k-1-i of rev[c] set
// (BNDM's order).
type yprefix struct {
	k   int
	rev [256]uint64
}

// has reports whether c may be character i of the prefix.
func (p *yprefix) has(i int, c byte) bool { return p.rev[c]>>(p.k-1-i)&1 != 0 }

// usePrefix is turned off by tests to compare results without it.
var usePrefix = true

// rootPrefix returns the prefix of the pattern's forward code from its
// start, nil when there is none worth using. It is computed when first
// needed: only patterns without atoms use it.
func (y *yprog) rootPrefix() *yprefix {
	y.preOnce.Do(func() {
		if !y.fast && y.root >= 0 {
			y.pre = forwardPrefix(y.fwd, y.sets, y.root)
		}
	})
	return y.pre
}

// forwardPrefix walks code from pc the way the only fiber of yvm.exec
// would, up to the first instruction that could fork a second fiber (a
// split, an optional loop, a loop past its minimum, a REPEAT_ANY) or the
// match, and collects the sets of the characters read on the way.
// Assertions read nothing: they are passed over (they can only kill the
// fiber earlier).
func forwardPrefix(code []yinst, sets []ByteSet, pc int32) *yprefix {
	var tests []byteTest
	var stack []int32
walk:
	for steps := 0; steps < maxPrefixSteps && len(tests) < maxPrefix; steps++ {
		in := &code[pc]
		switch in.op {
		case yiByte:
			tests = append(tests, in.test)
			pc++
		case yiWordB, yiNotWordB, yiBegin, yiEnd:
			pc++
		case yiJmp:
			pc = in.x
		case yiRepStart:
			if in.min == 0 {
				break walk
			}
			stack = append(stack, 0)
			pc++
		case yiRepEnd:
			top := len(stack) - 1
			if top < 0 {
				break walk
			}
			stack[top]++
			switch {
			case stack[top] < in.min:
				pc = in.x
			case stack[top] < in.max:
				break walk
			default:
				stack = stack[:top]
				pc++
			}
		default: // yiSplit, yiRepAny, yiMatch
			break walk
		}
	}
	if len(tests) == 0 {
		return nil
	}
	p := &yprefix{k: len(tests)}
	for i := range tests {
		for c := 0; c < 256; c++ {
			if tests[i].has(sets, byte(c)) {
				p.rev[c] |= 1 << (p.k - 1 - i)
			}
		}
	}
	return p
}

// wideOK reports whether the wide form of the prefix is at data[pos:].
func (p *yprefix) wideOK(data []byte, pos int) bool {
	for i := 0; i < p.k; i++ {
		j := pos + 2*i
		if j+1 >= len(data) || data[j+1] != 0 || !p.has(i, data[j]) {
			return false
		}
	}
	return true
}

// find returns the first start at or after pos where the ascii form of
// the prefix is, len(data) when there is none. Each window of k bytes is
// read backwards while what was read can be part of the prefix; the
// window then moves to the last place where what was read is the start
// of the prefix.
func (p *yprefix) find(data []byte, pos int) int {
	k := p.k
	first := uint64(1) << (k - 1)
	for pos+k <= len(data) {
		j, shift := k, k
		d := ^uint64(0)
		for {
			d &= p.rev[data[pos+j-1]]
			if d == 0 {
				break
			}
			j--
			if d&first != 0 {
				if j == 0 {
					return pos
				}
				shift = j
			}
			d <<= 1
		}
		pos += shift
	}
	return len(data)
}

// prefixScan remembers, between calls for one pattern and one data
// slice at increasing offsets, the next start with the ascii prefix.
type prefixScan struct {
	y    *yprog // the pattern, nil: nothing known
	data *byte  // the data slice
	n    int
	last int // the last start asked about
	next int // the first start >= last with the prefix (len(data): none)
}

// asciiOK reports whether the ascii form of p's prefix is at data[pos:].
// What earlier calls found is kept while calls are for the same pattern
// and data slice at increasing offsets; any other call starts afresh.
// The caller must call reset when the slice's bytes change.
func (s *prefixScan) asciiOK(y *yprog, p *yprefix, data []byte, pos int) bool {
	if s.y != y || s.data != &data[0] || s.n != len(data) || pos <= s.last {
		*s = prefixScan{y: y, data: &data[0], n: len(data), next: -1}
	}
	s.last = pos
	if s.next < pos {
		s.next = p.find(data, pos)
	}
	return s.next == pos
}

func (s *prefixScan) reset() { *s = prefixScan{} }
