package ahocorasick

import (
	"errors"
	"fmt"
	"math"
	mbits "math/bits"
	"slices"
)

// MaxPatternLen is the longest pattern Build accepts. Atoms are typically
// 1 to 4 bytes; the limit keeps per-pattern lengths in a byte and bounds the
// work per reported occurrence.
const MaxPatternLen = 64

// denseBudget is the most memory, in bytes, spent on dense transition rows.
// The states closest to the start state (breadth first) get a dense row
// while they fit; the others are stored sparsely. The dense part should stay
// in the CPU caches: on data with few hits the automaton spends nearly all
// its time in the first two levels of the trie. With the shared corpus's
// atoms (2,330 states, 229 classes), 256 KiB left most states of depth 3
// and 4 sparse, and following their failure links took about 10% of a scan of
// /usr/bin.
const denseBudget = 1 << 20

// maxTableEntries bounds dense row entries plus sparse states: state
// references are stored in uint32.
const maxTableEntries = math.MaxUint32

// noOutput marks a sparse state without outputs.
const noOutput = math.MaxUint32

var (
	// ErrPatternLength is returned (wrapped, with the pattern index) for an
	// empty pattern or one longer than MaxPatternLen.
	ErrPatternLength = errors.New("ahocorasick: pattern length out of range")
	// ErrTooLarge is returned when the automaton could not be addressed
	// with 32-bit state references.
	ErrTooLarge = errors.New("ahocorasick: pattern set too large")
)

// Matcher is a compiled set of patterns. It is immutable after Build and
// safe for concurrent use by several goroutines.
//
// A state is referred to by a uint32 "reference". Dense states have a row
// of stride entries in trans and are referred to by the offset of that row
// (so the start state is 0); sparse states are referred to by denseEnd plus
// their sparse index.
type Matcher struct {
	// trans holds the dense rows: trans[s+class[b]] is the state reached
	// from dense state s by reading byte b.
	trans []uint32
	// class maps a byte to its equivalence class (column in a row).
	class [256]uint8
	// stride is the length of one row: one entry per class, and a last
	// one that holds the output state of a state with outputs (see
	// outStart), so that Scan needs no division to find it.
	stride uint32
	// matchMin is the first reference that needs attention: dense states
	// from matchMin to denseEnd have outputs, and every reference from
	// denseEnd on is a sparse state.
	matchMin uint32
	denseEnd uint32

	// sparse[i] is sparse state i; its children are
	// children[first:first+count], each class<<32 | target, sorted.
	sparse   []sparseState
	children []uint64

	// Output state k (dense states with outputs first, in reference order,
	// then sparse ones): outList[outStart[k]:outStart[k+1]] are the patterns
	// ending exactly there and outLink[k]-1 is the next output state on its
	// suffix chain (0 if there is none).
	outStart []uint32
	outLink  []uint32
	outList  []uint32
	// patLen[p] is the length of pattern p.
	patLen []uint8

	// skip selects how Scan moves quickly through stretches of data that
	// keep the automaton in shallow states: states without outputs of depth
	// at most skipDepth (0 for skipIndexByte and skipTable, 1 for skipPairs,
	// 2 for skipTriples). The dense ones are the references below
	// shallowEnd.
	skip       skipMode
	skipDepth  uint8
	shallowEnd uint32
	// skipByte is the only byte that leaves the start state (skipIndexByte).
	skipByte byte
	// leaves[b] is 1 if byte b leaves the start state (skipTable).
	leaves [256]uint8
	// For skipPairs, pairs has bit x|y<<8 set if byte y leads from the
	// shallow state reached by byte x to a deeper state or one with
	// outputs. For skipTriples, it has the bit set if y leads to a state
	// with outputs, and triples has bit hash3(x, y, z) set for the first
	// three bytes of every pattern of three or more bytes.
	pairs [1 << 16 / 64]uint64
	// triples has a power of two words; tripleMask is their number - 1.
	triples    []uint64
	tripleMask uint32
	// outPairs is set if pairs is not empty for skipTriples (at most
	// maxFoldedPairs pairs are put into triples instead, as triples
	// z, x, y for every byte z).
	outPairs bool
}

// sparseState is a state without a dense row. Its fields are together so
// that visiting it touches one cache line.
type sparseState struct {
	first uint32 // first child in children
	fail  uint32 // failure state
	out   uint32 // output state, noOutput if none
	count uint16 // number of children
	depth uint8
}

type skipMode uint8

const (
	skipNone      skipMode = iota // step through the table byte by byte
	skipIndexByte                 // one byte leaves the start state: bytes.IndexByte
	skipPairs                     // look up byte pairs in a bitmap
	skipTriples                   // look up hashed byte triples and pairs
	skipTable                     // look up bytes leaving the start state
	autoSkip                      // for build: choose
)

// The hashed bitmap of byte triples has 2^k bits, minTripleBits <= k <=
// maxTripleBits, at least tripleBitsPerEntry bits per triple so that few
// positions are looked at in vain: 4 KiB to 2 MiB.
const (
	minTripleBits      = 15
	maxTripleBits      = 24
	tripleBitsPerEntry = 128
)

// hash3 hashes the byte triple in the low three bytes of v (the first byte
// lowest; the top byte is ignored) to 24 bits. Bit h%64 of word h/64&mask
// represents the triple in a bitmap of mask+1 words.
func hash3(v uint32) uint32 {
	return uint32(uint64(v<<8) * 0x9E3779B97F4A7C15 >> 40)
}

// Limits for choosing a skip mode: skipPairs is used if at most
// maxPairDensity of all byte pairs are in the bitmap, otherwise skipTriples
// if at most maxTripleDensity of the triples bitmap is set; otherwise
// skipTable if at most maxSkipTable byte values leave the start state.
// maxPairDensity is low because real data concentrates on a few pairs: with
// the shared corpus's atoms (491 pairs), skipPairs stopped every 5 bytes of
// /usr/bin and skipTriples was about 1.3x faster.
const (
	maxPairDensity   = 1.0 / 512
	maxFoldedPairs   = 64
	maxTripleDensity = 1.0 / 16
	maxSkipTable     = 128
)

// NumPatterns reports the number of patterns given to Build.
func (m *Matcher) NumPatterns() int { return len(m.patLen) }

// PatternLen reports the length of pattern p.
func (m *Matcher) PatternLen(p int) int { return int(m.patLen[p]) }

// NumStates reports the number of automaton states.
func (m *Matcher) NumStates() int { return len(m.trans)/int(m.stride) + len(m.sparse) }

// MemoryBytes estimates the memory held by the matcher's tables.
func (m *Matcher) MemoryBytes() int {
	return 4*(len(m.trans)+4*len(m.sparse)+2*len(m.children)+
		len(m.outStart)+len(m.outLink)+len(m.outList)) +
		len(m.patLen) + 512 + 8192 + m.triplesBytes()
}

func (m *Matcher) triplesBytes() int {
	if m.triples == nil {
		return 0
	}
	return len(m.triples) * 8
}

// Build compiles patterns into a Matcher. Every pattern must be 1 to
// MaxPatternLen bytes long. Duplicate patterns are allowed; Scan reports each
// of them under its own index. Build does not keep the patterns.
func Build(patterns [][]byte) (*Matcher, error) {
	return build(patterns, denseBudget, autoSkip)
}

// build is Build with a given budget in bytes for dense rows and a skip
// mode (autoSkip to choose one; tests force the others).
func build(patterns [][]byte, budget int, skip skipMode) (*Matcher, error) {
	total := 0
	for i, p := range patterns {
		if len(p) == 0 || len(p) > MaxPatternLen {
			return nil, fmt.Errorf("%w: pattern %d has %d bytes, want 1 to %d",
				ErrPatternLength, i, len(p), MaxPatternLen)
		}
		total += len(p)
	}
	m := &Matcher{patLen: make([]uint8, len(patterns))}
	m.stride = uint32(m.computeClasses(patterns)) + 1
	maxDense := uint64(max(1, budget/(4*int(m.stride))))
	if uint64(total+1)+max(maxDense, 257)*uint64(m.stride) > maxTableEntries {
		return nil, fmt.Errorf("%w: %d pattern bytes", ErrTooLarge, total)
	}
	t := m.buildTrie(patterns)
	t.link()
	// The start state and its children are always dense (at most 257
	// states): the skip loops and the hot loop rely on it.
	nDense := max(min(maxDense, uint64(len(t.nodes))), uint64(1+t.numChildren(0)))
	m.finish(t, int(nDense))
	m.setSkip(t, skip)
	return m, nil
}

// computeClasses assigns every byte used by a pattern a class of its own
// and all unused bytes class 0 (if there are any). It returns the number
// of classes.
func (m *Matcher) computeClasses(patterns [][]byte) int {
	var used [256]bool
	for _, p := range patterns {
		for _, b := range p {
			used[b] = true
		}
	}
	n := 0
	if slices.Contains(used[:], false) {
		n = 1 // class 0 is shared by all unused bytes
	}
	for b, u := range used {
		if u {
			m.class[b] = uint8(n)
			n++
		}
	}
	return n
}

// node is a trie state during Build.
type node struct {
	fail        uint32 // longest proper suffix that is a trie state
	dict        uint32 // nearest proper suffix with own outputs, 0 if none
	firstChild  uint32 // 0 if none (the start state is nobody's child)
	nextSibling uint32
	firstOut    uint32 // 1 + first pattern ending here, 0 if none
	class       uint8  // class of the byte leading here from the parent
	depth       uint8
}

// trie is the automaton under construction.
type trie struct {
	nodes []node
	// child maps parent<<8|class to the child state.
	child map[uint64]uint32
	// nextOut[p] is 1 + the next pattern ending at the same state as p.
	nextOut []uint32
	// order lists the states breadth first, set by link.
	order []uint32
}

func (t *trie) lookup(s uint32, c uint8) (uint32, bool) {
	n, ok := t.child[uint64(s)<<8|uint64(c)]
	return n, ok
}

func (t *trie) numChildren(s uint32) int {
	n := 0
	for c := t.nodes[s].firstChild; c != 0; c = t.nodes[c].nextSibling {
		n++
	}
	return n
}

func (m *Matcher) buildTrie(patterns [][]byte) *trie {
	t := &trie{
		nodes:   make([]node, 1, 64),
		child:   make(map[uint64]uint32),
		nextOut: make([]uint32, len(patterns)),
	}
	for i, p := range patterns {
		s := uint32(0)
		for _, b := range p {
			c := m.class[b]
			n, ok := t.lookup(s, c)
			if !ok {
				n = uint32(len(t.nodes))
				t.nodes = append(t.nodes, node{class: c, depth: t.nodes[s].depth + 1,
					nextSibling: t.nodes[s].firstChild})
				t.nodes[s].firstChild = n
				t.child[uint64(s)<<8|uint64(c)] = n
			}
			s = n
		}
		m.patLen[i] = uint8(len(p))
		// Prepend; finish reverses, so that the patterns of one state are
		// reported in increasing index order.
		t.nextOut[i] = t.nodes[s].firstOut
		t.nodes[s].firstOut = uint32(i) + 1
	}
	return t
}

// link computes failure and dictionary links breadth first.
func (t *trie) link() {
	t.order = make([]uint32, 1, len(t.nodes))
	for q := 0; q < len(t.order); q++ {
		s := t.order[q]
		for n := t.nodes[s].firstChild; n != 0; n = t.nodes[n].nextSibling {
			t.order = append(t.order, n)
			if s == 0 {
				continue // fail and dict are the start state
			}
			c := t.nodes[n].class
			f := t.nodes[s].fail
			for {
				if g, ok := t.lookup(f, c); ok {
					f = g
					break
				}
				if f == 0 {
					break
				}
				f = t.nodes[f].fail
			}
			t.nodes[n].fail = f
			if t.nodes[f].firstOut != 0 {
				t.nodes[n].dict = f
			} else {
				t.nodes[n].dict = t.nodes[f].dict
			}
		}
	}
}

// finish lays out the final automaton. The first nDense states in breadth
// first order get dense rows; they are numbered start state first, then
// those without outputs, then those with outputs. The remaining states are
// sparse, in breadth first order. Since the start state's children come
// first in breadth first order, the shallow states without outputs are the
// first dense ones.
func (m *Matcher) finish(t *trie, nDense int) {
	nodes := t.nodes
	hasOut := func(s uint32) bool { return nodes[s].firstOut != 0 || nodes[s].dict != 0 }
	stride := m.stride
	ref := make([]uint32, len(nodes)) // state -> reference
	outIdx := make([]uint32, len(nodes))
	var outStates []uint32 // output state k -> state
	id := uint32(0)
	for _, s := range t.order[:nDense] {
		if !hasOut(s) {
			ref[s] = id * stride
			id++
		}
	}
	m.matchMin = id * stride
	for _, s := range t.order[:nDense] {
		if hasOut(s) {
			ref[s] = id * stride
			id++
			outIdx[s] = uint32(len(outStates))
			outStates = append(outStates, s)
		}
	}
	m.denseEnd = id * stride
	sparse := t.order[nDense:]
	for i, s := range sparse {
		ref[s] = m.denseEnd + uint32(i)
		if hasOut(s) {
			outIdx[s] = uint32(len(outStates))
			outStates = append(outStates, s)
		}
	}

	// Dense rows, breadth first so that a failure state's row is complete
	// before it is copied.
	m.trans = make([]uint32, m.denseEnd)
	for _, s := range t.order[:nDense] {
		row := m.trans[ref[s]:][:stride]
		if s != 0 {
			copy(row, m.trans[ref[nodes[s].fail]:][:stride])
		}
		for n := nodes[s].firstChild; n != 0; n = nodes[n].nextSibling {
			row[nodes[n].class] = ref[n]
		}
		row[stride-1] = 0
		if hasOut(s) {
			row[stride-1] = outIdx[s]
		}
	}

	// Sparse states.
	m.sparse = make([]sparseState, len(sparse))
	m.children = make([]uint64, 0, len(sparse))
	for i, s := range sparse {
		st := &m.sparse[i]
		st.first = uint32(len(m.children))
		st.fail = ref[nodes[s].fail]
		st.depth = nodes[s].depth
		st.out = noOutput
		if hasOut(s) {
			st.out = outIdx[s]
		}
		for n := nodes[s].firstChild; n != 0; n = nodes[n].nextSibling {
			m.children = append(m.children, uint64(nodes[n].class)<<32|uint64(ref[n]))
			st.count++
		}
		slices.Sort(m.children[st.first:]) // by class, in the high bits
	}

	// Outputs.
	m.outStart = make([]uint32, len(outStates)+1)
	m.outLink = make([]uint32, len(outStates))
	m.outList = make([]uint32, 0, len(m.patLen))
	for k, s := range outStates {
		m.outStart[k] = uint32(len(m.outList))
		start := len(m.outList)
		for p := nodes[s].firstOut; p != 0; p = t.nextOut[p-1] {
			m.outList = append(m.outList, p-1)
		}
		slices.Reverse(m.outList[start:])
		if d := nodes[s].dict; d != 0 {
			m.outLink[k] = outIdx[d] + 1
		}
	}
	m.outStart[len(outStates)] = uint32(len(m.outList))
}

// setSkip chooses how Scan passes through stretches of shallow states and
// builds the tables for it. mode autoSkip chooses by the limits above;
// tests force the others.
func (m *Matcher) setSkip(t *trie, mode skipMode) {
	leave := 0
	for b := 0; b < 256; b++ {
		if m.trans[m.class[b]] != 0 {
			m.leaves[b] = 1
			m.skipByte = byte(b)
			leave++
		}
	}
	// Count the shallow dense states: breadth first numbering puts the
	// start state, then its children without outputs, then their children
	// without outputs (if dense) first.
	nodes := t.nodes
	var shallow [3]uint32 // dense shallow states of depth <= 0, 1, 2
	for _, s := range t.order[:m.denseEnd/m.stride] {
		d := nodes[s].depth
		if d > 2 {
			break
		}
		if nodes[s].firstOut != 0 || nodes[s].dict != 0 {
			continue
		}
		for k := int(d); k < 3; k++ {
			shallow[k]++
		}
	}
	var byteOf [256]byte // class -> byte, for classes used in patterns
	for b := 255; b >= 0; b-- {
		byteOf[m.class[b]] = byte(b)
	}
	setPair := func(x, y byte) int {
		p := uint(x) | uint(y)<<8
		w := m.pairs[p/64]
		m.pairs[p/64] |= 1 << (p % 64)
		if w == m.pairs[p/64] {
			return 0
		}
		return 1
	}
	// Outputs reachable in one byte from a shallow state: patterns of one
	// byte, and of two bytes (whose state, if any, is a child of a child of
	// the start state).
	outPairs := func() int {
		bits := 0
		for d1 := nodes[0].firstChild; d1 != 0; d1 = nodes[d1].nextSibling {
			y := byteOf[nodes[d1].class]
			if nodes[d1].firstOut != 0 {
				for x := 0; x < 256; x++ {
					bits += setPair(byte(x), y)
				}
			}
			for d2 := nodes[d1].firstChild; d2 != 0; d2 = nodes[d2].nextSibling {
				if nodes[d2].firstOut != 0 || nodes[d2].dict != 0 {
					bits += setPair(y, byteOf[nodes[d2].class])
				}
			}
		}
		return bits
	}
	if mode == autoSkip || mode == skipPairs {
		// Pairs that lead from depth 1 to depth 2, plus outputs.
		bits := outPairs()
		for d1 := nodes[0].firstChild; d1 != 0; d1 = nodes[d1].nextSibling {
			for d2 := nodes[d1].firstChild; d2 != 0; d2 = nodes[d2].nextSibling {
				bits += setPair(byteOf[nodes[d1].class], byteOf[nodes[d2].class])
			}
		}
		if mode == skipPairs || leave > 1 && float64(bits) <= maxPairDensity*(1<<16) {
			m.skip, m.skipDepth, m.shallowEnd = skipPairs, 1, shallow[1]*m.stride
			return
		}
		m.pairs = [1 << 16 / 64]uint64{}
	}
	if leave == 1 && (mode == autoSkip || mode == skipIndexByte) {
		m.skip, m.shallowEnd = skipIndexByte, m.stride
		return
	}
	if mode == autoSkip || mode == skipTriples {
		m.outPairs = outPairs() != 0
		// Triples leading from the start state to depth 3.
		var triples []uint32
		for d1 := nodes[0].firstChild; d1 != 0; d1 = nodes[d1].nextSibling {
			for d2 := nodes[d1].firstChild; d2 != 0; d2 = nodes[d2].nextSibling {
				for d3 := nodes[d2].firstChild; d3 != 0; d3 = nodes[d3].nextSibling {
					triples = append(triples, uint32(byteOf[nodes[d1].class])|
						uint32(byteOf[nodes[d2].class])<<8|uint32(byteOf[nodes[d3].class])<<16)
				}
			}
		}
		if m.outPairs {
			// A few pairs go into the triples, with every byte before
			// them: then each position costs one lookup, not two.
			var ps []uint32
			for w, bits := range m.pairs {
				for ; bits != 0; bits &= bits - 1 {
					ps = append(ps, uint32(w*64+mbits.TrailingZeros64(bits)))
				}
			}
			if len(ps) <= maxFoldedPairs {
				for _, p := range ps {
					for z := uint32(0); z < 256; z++ {
						triples = append(triples, z|p<<8)
					}
				}
				m.outPairs = false
				m.pairs = [1 << 16 / 64]uint64{}
			}
		}
		k := uint32(minTripleBits)
		for k < maxTripleBits && 1<<k < tripleBitsPerEntry*len(triples) {
			k++
		}
		m.triples, m.tripleMask = make([]uint64, 1<<k/64), 1<<k/64-1
		bits := 0
		for _, v := range triples {
			h := hash3(v)
			w := h / 64 & m.tripleMask
			if m.triples[w]&(1<<(h%64)) == 0 {
				bits++
			}
			m.triples[w] |= 1 << (h % 64)
		}
		if mode == skipTriples || float64(bits) <= maxTripleDensity*float64(64*len(m.triples)) {
			m.skip, m.skipDepth, m.shallowEnd = skipTriples, 2, shallow[2]*m.stride
			return
		}
		m.triples, m.outPairs = nil, false
		m.pairs = [1 << 16 / 64]uint64{}
	}
	if mode == autoSkip && leave <= maxSkipTable || mode == skipTable {
		m.skip, m.shallowEnd = skipTable, m.stride
	}
}
