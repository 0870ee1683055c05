package elf

import (
	"encoding/binary"

	"vigil/yara/module"
	"vigil/yara/modules/internal/yrval"
)

// ELF values the parser tests.
const (
	etExec    = 2
	shtNull   = 0
	shtSymtab = 2
	shtStrtab = 3
	shtNobits = 8
	shtDynsym = 11
	ptDynamic = 2

	// shnLoreserve: yara reads no section table with this many entries or
	// more.
	shnLoreserve = 0xff00
	// pnXnum: yara reads no program header table with this many entries or
	// more.
	pnXnum = 0xffff

	identSize = 16 // e_ident
)

// layout holds the sizes and field offsets of one ELF class. yara uses the
// sizes of its own structures, not e_shentsize and e_phentsize.
type layout struct {
	bits int // 32 or 64: the size of addresses, offsets and xwords

	ehdrSize uint64
	// header fields
	eEntry, ePhoff, eShoff                            uint64
	ePhentsize, ePhnum, eShentsize, eShnum, eShstrndx uint64

	shdrSize                                                  uint64
	shName, shType, shFlags, shAddr, shOffset, shSize, shLink uint64

	phdrSize                                                                uint64
	phType, phFlags, phOffset, phVaddr, phPaddr, phFilesz, phMemsz, phAlign uint64

	symSize                                  uint64
	stName, stValue, stSize, stInfo, stShndx uint64

	dynSize uint64
}

var layout32 = &layout{
	bits:     32,
	ehdrSize: 52,
	eEntry:   24, ePhoff: 28, eShoff: 32,
	ePhentsize: 42, ePhnum: 44, eShentsize: 46, eShnum: 48, eShstrndx: 50,

	shdrSize: 40,
	shName:   0, shType: 4, shFlags: 8, shAddr: 12, shOffset: 16, shSize: 20, shLink: 24,

	phdrSize: 32,
	phType:   0, phOffset: 4, phVaddr: 8, phPaddr: 12, phFilesz: 16, phMemsz: 20, phFlags: 24, phAlign: 28,

	symSize: 16,
	stName:  0, stValue: 4, stSize: 8, stInfo: 12, stShndx: 14,

	dynSize: 8,
}

var layout64 = &layout{
	bits:     64,
	ehdrSize: 64,
	eEntry:   24, ePhoff: 32, eShoff: 40,
	ePhentsize: 54, ePhnum: 56, eShentsize: 58, eShnum: 60, eShstrndx: 62,

	shdrSize: 64,
	shName:   0, shType: 4, shFlags: 8, shAddr: 16, shOffset: 24, shSize: 32, shLink: 40,

	phdrSize: 56,
	phType:   0, phFlags: 4, phOffset: 8, phVaddr: 16, phPaddr: 24, phFilesz: 32, phMemsz: 40, phAlign: 48,

	symSize: 24,
	stName:  0, stInfo: 4, stShndx: 6, stValue: 8, stSize: 16,

	dynSize: 16,
}

// file is an ELF image with bounds-checked readers. A read outside the data
// returns 0; callers check bounds first wherever yara does, and the zero
// only keeps an unexpected case from panicking.
type file struct {
	data  []byte
	size  uint64
	order binary.ByteOrder
	l     *layout
}

func (f *file) in(off, n uint64) bool {
	return off <= f.size && n <= f.size-off
}

func (f *file) u8(off uint64) uint64 {
	if !f.in(off, 1) {
		return 0
	}
	return uint64(f.data[off])
}

func (f *file) u16(off uint64) uint64 {
	if !f.in(off, 2) {
		return 0
	}
	return uint64(f.order.Uint16(f.data[off:]))
}

func (f *file) u32(off uint64) uint64 {
	if !f.in(off, 4) {
		return 0
	}
	return uint64(f.order.Uint32(f.data[off:]))
}

func (f *file) u64(off uint64) uint64 {
	if !f.in(off, 8) {
		return 0
	}
	return f.order.Uint64(f.data[off:])
}

// word reads an address, offset or xword: 4 bytes in ELF32, 8 in ELF64.
func (f *file) word(off uint64) uint64 {
	if f.l.bits == 32 {
		return f.u32(off)
	}
	return f.u64(off)
}

// add adds address-sized values with the wrap-around of C arithmetic on
// them: 32 bits in ELF32 (uint32_t + uint32_t), 64 bits in ELF64.
func (f *file) add(a, b uint64) uint64 {
	if f.l.bits == 32 {
		return uint64(uint32(a + b))
	}
	return a + b
}

// fits reports whether a table of n entries of size each, at off, lies
// inside the file, in exact arithmetic.
func (f *file) fits(off, n, size uint64) bool {
	if off > f.size {
		return false
	}
	// n < 2^16 and size < 2^7, so n*size cannot overflow.
	return n*size <= f.size-off
}

// load returns the elf module's data for data: the constants, and the
// fields of data's ELF structures if data is an ELF file.
func load(data []byte) *module.Struct {
	st := module.NewStruct()
	for _, group := range allConstants {
		for _, c := range group {
			st.Set(c.name, c.value)
		}
	}
	st.Set("sections", &module.Array{})
	st.Set("segments", &module.Array{})
	st.Set("dynamic", &module.Array{})
	st.Set("symtab", &module.Array{})
	st.Set("dynsym", &module.Array{})

	if len(data) < identSize || data[0] != 0x7f || data[1] != 'E' || data[2] != 'L' || data[3] != 'F' {
		return st
	}
	f := &file{data: data, size: uint64(len(data))}
	switch data[4] { // EI_CLASS
	case 1:
		f.l = layout32
	case 2:
		f.l = layout64
	default:
		return st
	}
	switch data[5] { // EI_DATA
	case 1:
		f.order = binary.LittleEndian
	case 2:
		f.order = binary.BigEndian
	default:
		return st
	}
	// yara wants strictly more data than the header.
	if f.size <= f.l.ehdrSize {
		return st
	}
	f.parse(st)
	return st
}

// header holds the ELF header fields the parser uses.
type header struct {
	typ, entry, phoff, shoff uint64
	phnum, shnum, shstrndx   uint64
	rawShnum                 uint64
}

func (f *file) header() header {
	l := f.l
	return header{
		typ:      f.u16(16),
		entry:    f.word(l.eEntry),
		phoff:    f.word(l.ePhoff),
		shoff:    f.word(l.eShoff),
		phnum:    f.u16(l.ePhnum),
		shnum:    f.u16(l.eShnum),
		shstrndx: f.u16(l.eShstrndx),
		// yara compares sh_link with e_shnum read in the host's (little
		// endian) byte order, unconverted: for big-endian files that is
		// the byte-swapped count.
		rawShnum: uint64(binary.LittleEndian.Uint16(f.data[l.eShnum:])),
	}
}

func (f *file) parse(st *module.Struct) {
	l := f.l
	h := f.header()
	st.Set("type", int64(h.typ))
	st.Set("machine", int64(f.u16(18)))
	st.Set("sh_offset", yrval.Int(int64(h.shoff)))
	st.Set("sh_entry_size", int64(f.u16(l.eShentsize)))
	st.Set("number_of_sections", int64(h.shnum))
	st.Set("ph_offset", yrval.Int(int64(h.phoff)))
	st.Set("ph_entry_size", int64(f.u16(l.ePhentsize)))
	st.Set("number_of_segments", int64(h.phnum))

	if h.entry != 0 {
		if off, ok := f.rvaToOffset(h, h.entry); ok {
			st.Set("entry_point", yrval.Int(int64(off)))
		}
	}
	f.sections(st, h)
	f.segments(st, h)
}

// rvaToOffset converts a virtual address to a file offset as yara does:
// through the program headers for ET_EXEC files, through the section
// headers (other than SHT_NULL and SHT_NOBITS) otherwise. The first entry
// whose range holds rva wins; a range's end wraps like C arithmetic.
func (f *file) rvaToOffset(h header, rva uint64) (uint64, bool) {
	l := f.l
	if h.typ == etExec {
		if h.phoff == 0 || h.phnum == 0 || !f.fits(h.phoff, h.phnum, l.phdrSize) {
			return 0, false
		}
		for i := range h.phnum {
			p := h.phoff + i*l.phdrSize
			vaddr := f.word(p + l.phVaddr)
			if rva >= vaddr && rva < f.add(vaddr, f.word(p+l.phMemsz)) {
				return f.word(p+l.phOffset) + (rva - vaddr), true
			}
		}
		return 0, false
	}
	if h.shoff == 0 || h.shnum == 0 || !f.fits(h.shoff, h.shnum, l.shdrSize) {
		return 0, false
	}
	for i := range h.shnum {
		s := h.shoff + i*l.shdrSize
		typ := f.u32(s + l.shType)
		addr := f.word(s + l.shAddr)
		if typ != shtNull && typ != shtNobits && rva >= addr && rva < f.add(addr, f.word(s+l.shSize)) {
			return f.word(s+l.shOffset) + (rva - addr), true
		}
	}
	return 0, false
}

// symbolTable is a symbol table section and its linked string table, as
// file offsets and sizes.
type symbolTable struct {
	found           bool
	off, size       uint64
	strOff, strSize uint64
}

// sections fills sections[], and symtab[] and dynsym[] from the last
// SHT_SYMTAB and SHT_DYNSYM sections linked to a string table.
func (f *file) sections(st *module.Struct, h header) {
	l := f.l
	if h.shnum >= shnLoreserve || h.shstrndx >= h.shnum || h.shoff >= f.size ||
		!f.fits(h.shoff, h.shnum, l.shdrSize) {
		return
	}
	// Section names: yara reads them from the section-name string table up
	// to the end of the file (not of the table), and not at all if that
	// table is at offset 0.
	var names *strtab
	if strOff := f.word(h.shoff + h.shstrndx*l.shdrSize + l.shOffset); strOff < f.size && strOff > 0 {
		names = newStrtab(f.data[strOff:])
	}
	var symtab, dynsym symbolTable
	items := make([]module.Value, h.shnum)
	for i := range h.shnum {
		s := h.shoff + i*l.shdrSize
		typ := f.u32(s + l.shType)
		sec := module.NewStruct().
			Set("type", int64(typ)).
			Set("flags", yrval.Int(int64(f.word(s+l.shFlags)))).
			Set("address", yrval.Int(int64(f.word(s+l.shAddr)))).
			Set("size", yrval.Int(int64(f.word(s+l.shSize)))).
			Set("offset", yrval.Int(int64(f.word(s+l.shOffset))))
		if nameIdx := f.u32(s + l.shName); nameIdx < f.size && names != nil {
			if name, ok := names.entry(nameIdx); ok {
				sec.Set("name", name)
			}
		}
		items[i] = sec

		if typ != shtSymtab && typ != shtDynsym {
			continue
		}
		link := f.u32(s + l.shLink)
		if link >= h.rawShnum {
			continue
		}
		strSec := h.shoff + link*l.shdrSize
		if !f.in(strSec, l.shdrSize) || f.u32(strSec+l.shType) != shtStrtab {
			continue
		}
		t := symbolTable{
			found:   true,
			off:     f.word(s + l.shOffset),
			size:    f.word(s + l.shSize),
			strOff:  f.word(strSec + l.shOffset),
			strSize: f.word(strSec + l.shSize),
		}
		if typ == shtSymtab {
			symtab = t
		} else {
			dynsym = t
		}
	}
	st.Set("sections", &module.Array{Items: items})
	f.symbols(st, symtab, "symtab", "symtab_entries")
	f.symbols(st, dynsym, "dynsym", "dynsym_entries")
}

// symbols fills the symbol array field and its count field from t, if both
// t and its string table lie inside the file.
func (f *file) symbols(st *module.Struct, t symbolTable, field, countField string) {
	l := f.l
	if !t.found || !f.in(t.strOff, t.strSize) || !f.in(t.off, t.size) {
		return
	}
	names := newStrtab(f.data[t.strOff : t.strOff+t.strSize])
	n := t.size / l.symSize // at most the file size / 16
	items := make([]module.Value, n)
	for j := range n {
		p := t.off + j*l.symSize
		info := f.u8(p + l.stInfo)
		sym := module.NewStruct().
			Set("bind", int64(info>>4)).
			Set("type", int64(info&0xf)).
			Set("shndx", int64(f.u16(p+l.stShndx))).
			Set("value", yrval.Int(int64(f.word(p+l.stValue)))).
			Set("size", yrval.Int(int64(f.word(p+l.stSize))))
		if name, ok := names.entry(f.u32(p + l.stName)); ok {
			sym.Set("name", name)
		}
		items[j] = sym
	}
	st.Set(field, &module.Array{Items: items})
	st.Set(countField, int64(n))
}

// segments fills segments[], and dynamic[] from the PT_DYNAMIC segments.
func (f *file) segments(st *module.Struct, h header) {
	l := f.l
	if h.phnum == 0 || h.phnum >= pnXnum || h.phoff >= f.size || !f.fits(h.phoff, h.phnum, l.phdrSize) {
		return
	}
	items := make([]module.Value, h.phnum)
	var dynOffsets []uint64
	for i := range h.phnum {
		p := h.phoff + i*l.phdrSize
		typ := f.u32(p + l.phType)
		off := f.word(p + l.phOffset)
		items[i] = module.NewStruct().
			Set("type", int64(typ)).
			Set("flags", int64(f.u32(p+l.phFlags))).
			Set("offset", yrval.Int(int64(off))).
			Set("virtual_address", yrval.Int(int64(f.word(p+l.phVaddr)))).
			Set("physical_address", yrval.Int(int64(f.word(p+l.phPaddr)))).
			Set("file_size", yrval.Int(int64(f.word(p+l.phFilesz)))).
			Set("memory_size", yrval.Int(int64(f.word(p+l.phMemsz)))).
			Set("alignment", yrval.Int(int64(f.word(p+l.phAlign))))
		if typ == ptDynamic {
			dynOffsets = append(dynOffsets, off)
		}
	}
	st.Set("segments", &module.Array{Items: items})
	if len(dynOffsets) > 0 {
		f.dynamic(st, dynOffsets)
	}
}
