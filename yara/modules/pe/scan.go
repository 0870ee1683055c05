package pe

// stopIndex answers "where is the first stop at or after position k" for a
// fixed predicate over positions 0..n-1, in bounded time per query. yara
// scans for the end of a DLL name or a UTF-16 string afresh on every
// descriptor or version string, which a hostile file turns into quadratic
// time; the answers here are the same, but a long scan builds a block
// index once (one pass over the positions) that later queries use.
type stopIndex struct {
	n      int64
	isStop func(k int64) bool
	first  []int64 // per block: the first stop in the block, or -1
	next   []int64 // per block: the first stop in this or a later block, or -1
}

const (
	stopBlock      = 256  // positions per index block
	stopDirectScan = 4096 // positions scanned before the index is built
)

func newStopIndex(n int64, isStop func(int64) bool) *stopIndex {
	return &stopIndex{n: n, isStop: isStop}
}

// find returns the first stop at or after k, or -1.
func (s *stopIndex) find(k int64) int64 {
	if k < 0 || k >= s.n {
		return -1
	}
	if s.first == nil {
		for j := k; j < s.n && j < k+stopDirectScan; j++ {
			if s.isStop(j) {
				return j
			}
		}
		if k+stopDirectScan >= s.n {
			return -1
		}
		s.build()
	}
	b := k / stopBlock
	if f := s.first[b]; f >= k {
		return f
	}
	end := min((b+1)*stopBlock, s.n)
	for j := k; j < end; j++ {
		if s.isStop(j) {
			return j
		}
	}
	if b+1 < int64(len(s.next)) {
		return s.next[b+1]
	}
	return -1
}

func (s *stopIndex) build() {
	blocks := (s.n + stopBlock - 1) / stopBlock
	s.first = make([]int64, blocks)
	s.next = make([]int64, blocks)
	for b := int64(0); b < blocks; b++ {
		s.first[b] = -1
		for j := b * stopBlock; j < min((b+1)*stopBlock, s.n); j++ {
			if s.isStop(j) {
				s.first[b] = j
				break
			}
		}
	}
	next := int64(-1)
	for b := blocks - 1; b >= 0; b-- {
		if s.first[b] >= 0 {
			next = s.first[b]
		}
		s.next[b] = next
	}
}

// nameStop returns the index of the bytes that end a DLL name: NUL or a
// character yara's pe_valid_dll_name rejects.
func (f *file) nameStop() *stopIndex {
	if f.nameStops == nil {
		f.nameStops = newStopIndex(f.size(), func(k int64) bool {
			c := f.data[k]
			switch c {
			case 0, '"', '*', '<', '>', '?', '|':
				return true
			}
			return c < ' '
		})
	}
	return f.nameStops
}

// wideEnd returns the offset of the UTF-16 NUL that ends the string at p
// (an even distance from p, both bytes inside data), or -1.
func (f *file) wideEnd(p int64) int64 {
	if p < 0 {
		return -1
	}
	r := p & 1
	if f.wideStops[r] == nil {
		f.wideStops[r] = newStopIndex((f.size()-r)/2, func(k int64) bool {
			j := 2*k + r
			return f.data[j] == 0 && f.data[j+1] == 0
		})
	}
	k := f.wideStops[r].find(p / 2)
	if k < 0 {
		return -1
	}
	return 2*k + r
}
