package elf

import (
	"bytes"
	"math"
)

// nulBlock is the block size of a string table's NUL index. A lookup scans
// at most one block directly, then jumps through the index, so crafted
// tables (many names pointing into one long run without NUL) cost linear
// time overall instead of quadratic.
const nulBlock = 256

// strtab is a string table as yara reads it: buf runs from the table's
// first byte to the limit yara uses for it.
type strtab struct {
	buf []byte

	// copied is a copy of a prefix of buf, grown by doubling, from which
	// names are sliced: names share its memory, so a table whose names
	// overlap (crafted or not) costs at most twice its size.
	copied string

	// Built on first need: firstNul[b] is the first NUL in block b or -1;
	// nextNul[b] is the first NUL in blocks b and after, or -1.
	nextNul []int
}

func newStrtab(buf []byte) *strtab { return &strtab{buf: buf} }

// entry returns the NUL-terminated string at index, as yara's
// str_table_entry: nothing if the table is empty or does not start with a
// NUL byte, if index is negative as a C int or outside the table, or if the
// string is not terminated inside the table.
func (t *strtab) entry(index uint64) (string, bool) {
	if len(t.buf) == 0 || t.buf[0] != 0 || index > math.MaxInt32 || index >= uint64(len(t.buf)) {
		return "", false
	}
	i := int(index)
	end := t.nul(i)
	if end < 0 {
		return "", false
	}
	if end > len(t.copied) {
		t.copied = string(t.buf[:min(len(t.buf), max(end, 2*len(t.copied)))])
	}
	return t.copied[i:end], true
}

// nul returns the position of the first NUL byte at or after i, or -1.
func (t *strtab) nul(i int) int {
	blockEnd := min((i/nulBlock+1)*nulBlock, len(t.buf))
	if j := bytes.IndexByte(t.buf[i:blockEnd], 0); j >= 0 {
		return i + j
	}
	if blockEnd == len(t.buf) {
		return -1
	}
	if t.nextNul == nil {
		t.buildIndex()
	}
	return t.nextNul[blockEnd/nulBlock]
}

func (t *strtab) buildIndex() {
	n := (len(t.buf) + nulBlock - 1) / nulBlock
	t.nextNul = make([]int, n)
	next := -1
	for b := n - 1; b >= 0; b-- {
		lo := b * nulBlock
		hi := min(lo+nulBlock, len(t.buf))
		if j := bytes.IndexByte(t.buf[lo:hi], 0); j >= 0 {
			next = lo + j
		}
		t.nextNul[b] = next
	}
}
