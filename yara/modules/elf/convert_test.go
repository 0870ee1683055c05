package elf

import (
	"encoding/binary"
	"errors"
)

// toBigEndian returns a copy of the little-endian ELF file le with every
// structure the elf module reads (header, section and program headers,
// symbols of SHT_SYMTAB and SHT_DYNSYM sections, dynamic entries) rewritten
// in big-endian order, so that real files give big-endian samples. Other
// bytes are left alone: the module does not read them.
//
// It is written independently of the parser: it walks the structures with
// its own field lists, reading the original and writing the copy.
func toBigEndian(le []byte) ([]byte, error) {
	if len(le) < 64 || string(le[:4]) != "\x7fELF" || le[5] != 1 {
		return nil, errors.New("not a little-endian ELF file")
	}
	is64 := le[4] == 2
	out := append([]byte(nil), le...)
	out[5] = 2
	// swap rewrites the field of width w at off, if it is inside the file.
	swap := func(off uint64, w int) {
		if off > uint64(len(le)) || uint64(len(le))-off < uint64(w) {
			return
		}
		switch w {
		case 2:
			binary.BigEndian.PutUint16(out[off:], binary.LittleEndian.Uint16(le[off:]))
		case 4:
			binary.BigEndian.PutUint32(out[off:], binary.LittleEndian.Uint32(le[off:]))
		case 8:
			binary.BigEndian.PutUint64(out[off:], binary.LittleEndian.Uint64(le[off:]))
		}
	}
	read := func(off uint64, w int) uint64 {
		if off > uint64(len(le)) || uint64(len(le))-off < uint64(w) {
			return 0
		}
		switch w {
		case 2:
			return uint64(binary.LittleEndian.Uint16(le[off:]))
		case 4:
			return uint64(binary.LittleEndian.Uint32(le[off:]))
		}
		return binary.LittleEndian.Uint64(le[off:])
	}
	// swapStruct swaps consecutive fields of the given widths from off.
	swapStruct := func(off uint64, widths []int) {
		for _, w := range widths {
			swap(off, w)
			off += uint64(w)
		}
	}
	a := 4 // address width
	if is64 {
		a = 8
	}
	var ehdr, shdr, phdr, sym []int
	var shdrSize, phdrSize, symSize uint64
	if is64 {
		ehdr = []int{2, 2, 4, 8, 8, 8, 4, 2, 2, 2, 2, 2, 2}
		shdr = []int{4, 4, 8, 8, 8, 8, 4, 4, 8, 8}
		phdr = []int{4, 4, 8, 8, 8, 8, 8, 8}
		sym = []int{4, 1, 1, 2, 8, 8}
		shdrSize, phdrSize, symSize = 64, 56, 24
	} else {
		ehdr = []int{2, 2, 4, 4, 4, 4, 4, 2, 2, 2, 2, 2, 2}
		shdr = []int{4, 4, 4, 4, 4, 4, 4, 4, 4, 4}
		phdr = []int{4, 4, 4, 4, 4, 4, 4, 4}
		sym = []int{4, 4, 4, 1, 1, 2}
		shdrSize, phdrSize, symSize = 40, 32, 16
	}
	swapStruct(16, ehdr)
	phoff := read(uint64(16+2+2+4+a), a)
	shoff := read(uint64(16+2+2+4+2*a), a)
	hdrEnd := uint64(16 + 2 + 2 + 4 + 3*a + 4)
	phnum := read(hdrEnd+4, 2)
	shnum := read(hdrEnd+8, 2)

	dynamic := func(off uint64) {
		for ; off < uint64(len(le)); off += uint64(2 * a) {
			tag := read(off, a)
			swap(off, a)
			swap(off+uint64(a), a)
			if tag == 0 {
				return
			}
		}
	}
	for i := range shnum {
		s := shoff + i*shdrSize
		swapStruct(s, shdr)
		typ := read(s+4, 4)
		off := read(s+uint64(8+2*a), a)
		size := read(s+uint64(8+3*a), a)
		switch typ {
		case 2, 11: // SHT_SYMTAB, SHT_DYNSYM
			for p := off; p+symSize <= off+size && p+symSize <= uint64(len(le)); p += symSize {
				swapStruct(p, sym)
			}
		case 6: // SHT_DYNAMIC
			dynamic(off)
		}
	}
	for i := range phnum {
		p := phoff + i*phdrSize
		swapStruct(p, phdr)
		if read(p, 4) == 2 { // PT_DYNAMIC
			off := read(p+4, 4)
			if is64 {
				off = read(p+8, 8)
			}
			dynamic(off)
		}
	}
	return out, nil
}
