package yara

import (
	"context"
	"sort"

	"vigil/yara/module"
)

// Conditions compile to closures over *scanState. Every closure returns its
// value and whether it is defined: undefined values propagate as in yara
// (arithmetic and comparisons with an undefined operand are undefined; `and`
// and `or` treat undefined as false and are always defined; `not` of
// undefined is undefined; loops are always defined).

type (
	intFn   func(*scanState) (int64, bool) // integers and booleans (0/1)
	floatFn func(*scanState) (float64, bool)
	strFn   func(*scanState) (string, bool)
	objFn   func(*scanState) (any, bool) // module structs, arrays, dicts
)

type vkind uint8

const (
	kUndef vkind = iota
	kBool
	kInt
	kFloat
	kString
	kObj
)

// value is a loop variable or an external variable.
type value struct {
	k vkind
	i int64
	f float64
	s string
	o any
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// matchRec is one match of a string during a scan.
type matchRec struct {
	off    int64
	length int32
	order  int32 // variant order, for deduplication
	xorKey int32
}

// scanState is the per-scan state. A Scanner keeps one and reuses its
// buffers from scan to scan.
type scanState struct {
	rules    *Rules
	data     []byte
	matches  [][]matchRec // per string, sorted by offset after matching
	capped   []bool       // per string: reached the match limit
	ruleRes  []bool       // per rule: condition result
	ruleHit  []bool       // per rule: one of its strings matched
	nsFailed []bool       // per namespace: a global rule failed
	vars     []value      // loop variable slots
	ext      []value

	modData   []*module.Struct
	modLoaded []bool
	mctx      module.Context
	cache     map[any]any      // mctx.Cache, cleared after each scan
	logFn     func(msg string) // mctx.Log: appends to console

	console []string
	ctx     context.Context
	err     error // set when the scan must stop (cancellation)
	ticks   int
}

// tick is called in loops; every few thousand iterations it checks for
// cancellation. It reports whether evaluation must stop.
func (st *scanState) tick() bool {
	if st.err != nil {
		return true
	}
	st.ticks++
	if st.ticks&4095 == 0 {
		if err := st.ctx.Err(); err != nil {
			st.err = err
			return true
		}
	}
	return false
}

// module returns the data of an imported module, loading it on first use.
func (st *scanState) module(slot int) (*module.Struct, bool) {
	if !st.modLoaded[slot] {
		st.modLoaded[slot] = true
		m := st.rules.modules[slot]
		if m.Load != nil {
			s, err := m.Load(&st.mctx)
			if err != nil {
				if st.ctx.Err() != nil {
					st.err = st.ctx.Err()
				}
				s = nil
			}
			st.modData[slot] = s
		}
	}
	s := st.modData[slot]
	return s, s != nil
}

// String match helpers used by conditions.

func (st *scanState) count(s int) int64 { return int64(len(st.matches[s])) }

func (st *scanState) foundAt(s int, off int64) bool {
	m := st.matches[s]
	i := sort.Search(len(m), func(i int) bool { return m[i].off >= off })
	return i < len(m) && m[i].off == off
}

func (st *scanState) foundIn(s int, lo, hi int64) bool {
	m := st.matches[s]
	i := sort.Search(len(m), func(i int) bool { return m[i].off >= lo })
	return i < len(m) && m[i].off <= hi
}

func (st *scanState) countIn(s int, lo, hi int64) int64 {
	m := st.matches[s]
	i := sort.Search(len(m), func(i int) bool { return m[i].off >= lo })
	j := sort.Search(len(m), func(i int) bool { return m[i].off > hi })
	if j < i {
		return 0
	}
	return int64(j - i)
}

func (st *scanState) offset(s int, idx int64) (int64, bool) {
	m := st.matches[s]
	if idx < 1 || idx > int64(len(m)) {
		return 0, false
	}
	return m[idx-1].off, true
}

func (st *scanState) length(s int, idx int64) (int64, bool) {
	m := st.matches[s]
	if idx < 1 || idx > int64(len(m)) {
		return 0, false
	}
	return int64(m[idx-1].length), true
}
