package archive

import (
	"bytes"
	"errors"
	"fmt"
)

// The xz decoder allocates each block's LZMA2 dictionary at the size the
// block header asks for (up to 4 GiB), before any data. checkXzDict
// reads every block header of every stream, through the stream footers
// and indexes, and refuses dictionaries larger than the limit. Layout per
// the .xz file format specification 1.0.4.

var errXzLayout = errors.New("malformed stream layout")

const (
	xzHeaderLen = 12
	xzFooterLen = 12
	xzLZMA2     = 0x21
)

var xzMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}

// xzCheckSizes is the size of the check field per check type.
var xzCheckSizes = [16]int64{0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64}

func checkXzDict(data []byte, limit int64) error {
	pos := int64(len(data))
	for pos > 0 {
		// Stream padding: zero bytes, in groups of four.
		for pos >= 4 && bytes.Equal(data[pos-4:pos], []byte{0, 0, 0, 0}) {
			pos -= 4
		}
		if pos == 0 {
			break
		}
		start, err := checkXzStream(data[:pos], limit)
		if err != nil {
			return err
		}
		pos = start
	}
	return nil
}

// checkXzStream checks the stream that ends data and returns its start.
func checkXzStream(data []byte, limit int64) (int64, error) {
	n := int64(len(data))
	if n < xzHeaderLen+xzFooterLen {
		return 0, errXzLayout
	}
	foot := data[n-xzFooterLen:]
	if foot[10] != 'Y' || foot[11] != 'Z' {
		return 0, errXzLayout
	}
	checkSize := xzCheckSizes[foot[9]&0x0f]
	backward := (int64(foot[4]) | int64(foot[5])<<8 | int64(foot[6])<<16 | int64(foot[7])<<24 + 1) * 4
	indexStart := n - xzFooterLen - backward
	if indexStart < xzHeaderLen {
		return 0, errXzLayout
	}
	index := data[indexStart : n-xzFooterLen]
	if len(index) == 0 || index[0] != 0 {
		return 0, errXzLayout
	}
	p := 1
	count, ok := xzVarint(index, &p)
	if !ok {
		return 0, errXzLayout
	}
	// First pass: the total size of the blocks, to find the stream start.
	var blocks int64
	q := p
	for i := uint64(0); i < count; i++ {
		unpadded, ok1 := xzVarint(index, &q)
		_, ok2 := xzVarint(index, &q)
		if !ok1 || !ok2 || unpadded > 1<<62 {
			return 0, errXzLayout
		}
		blocks += (int64(unpadded) + 3) &^ 3
		if blocks > indexStart {
			return 0, errXzLayout
		}
	}
	start := indexStart - blocks - xzHeaderLen
	if start < 0 || !bytes.HasPrefix(data[start:], xzMagic) {
		return 0, errXzLayout
	}
	// Second pass: each block header.
	off := start + xzHeaderLen
	for i := uint64(0); i < count; i++ {
		unpadded, _ := xzVarint(index, &p)
		xzVarint(index, &p)
		if err := checkXzBlock(data[off:indexStart], limit); err != nil {
			return 0, err
		}
		if int64(unpadded) < checkSize {
			return 0, errXzLayout
		}
		off += (int64(unpadded) + 3) &^ 3
	}
	return start, nil
}

// checkXzBlock checks the filter flags of the block header at data[0].
func checkXzBlock(data []byte, limit int64) error {
	if len(data) < 2 || data[0] == 0 {
		return errXzLayout
	}
	size := (int(data[0]) + 1) * 4
	if size > len(data) {
		return errXzLayout
	}
	h := data[:size]
	flags := h[1]
	p := 2
	if flags&0x40 != 0 {
		if _, ok := xzVarint(h, &p); !ok {
			return errXzLayout
		}
	}
	if flags&0x80 != 0 {
		if _, ok := xzVarint(h, &p); !ok {
			return errXzLayout
		}
	}
	for f := 0; f <= int(flags&3); f++ {
		id, ok1 := xzVarint(h, &p)
		propSize, ok2 := xzVarint(h, &p)
		if !ok1 || !ok2 || propSize > uint64(len(h)-p) {
			return errXzLayout
		}
		props := h[p : p+int(propSize)]
		p += int(propSize)
		if id == xzLZMA2 {
			if len(props) != 1 || props[0] > 40 {
				return errXzLayout
			}
			if d := xzDictSize(props[0]); d > limit {
				return fmt.Errorf("%w: xz dictionary of %d bytes", ErrDict, d)
			}
		}
	}
	return nil
}

// xzDictSize decodes an LZMA2 dictionary size byte (at most 40).
func xzDictSize(b byte) int64 {
	if b == 40 {
		return 1<<32 - 1
	}
	return int64(2|b&1) << (b/2 + 11)
}

// xzVarint reads a multibyte integer (at most 9 bytes) at data[*p].
func xzVarint(data []byte, p *int) (uint64, bool) {
	var v uint64
	for i := 0; i < 9; i++ {
		if *p >= len(data) {
			return 0, false
		}
		c := data[*p]
		*p++
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, !(i > 0 && c == 0)
		}
	}
	return 0, false
}
