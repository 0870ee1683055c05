package dotnet

import "encoding/binary"

// This file is the module's own minimal PE reader: the headers, the CLI
// data directory and yara 4.2.3's RVA to file offset mapping
// (pe_get_header, pe_get_directory_entry and pe_rva_to_offset).

// PE layout constants.
const (
	dosHeaderSize    = 64
	peSignature      = 0x00004550 // "PE\0\0"
	fileHeaderSize   = 20
	optHeader32Size  = 224
	optHeader64Size  = 240
	optMagic64       = 0x20b
	sectionSize      = 40
	dataDirSize      = 8
	comDescriptor    = 14     // IMAGE_DIRECTORY_ENTRY_COM_DESCRIPTOR
	fileDLL          = 0x2000 // IMAGE_FILE_DLL
	maxSections      = 96     // yara's MAX_PE_SECTIONS
	maxFileAlignment = 0x200  // larger FileAlignment values are ignored
)

// reader gives bounds-checked little-endian access to the scanned data.
// Offsets are int64 so that sums of untrusted 32-bit values never wrap.
type reader struct {
	data []byte
}

// fits reports whether size bytes at off lie inside the data (yara's
// fits_in_pe).
func (r reader) fits(off, size int64) bool {
	n := int64(len(r.data))
	return size >= 0 && size <= n && off >= 0 && off <= n-size
}

// u8, u16, u32 and u64 read at off, which the caller has checked.
func (r reader) u8(off int64) uint32  { return uint32(r.data[off]) }
func (r reader) u16(off int64) uint32 { return uint32(binary.LittleEndian.Uint16(r.data[off:])) }
func (r reader) u32(off int64) uint32 { return binary.LittleEndian.Uint32(r.data[off:]) }
func (r reader) u64(off int64) uint64 { return binary.LittleEndian.Uint64(r.data[off:]) }

// index reads a heap or table index of size 2 or 4 at off.
func (r reader) index(off, size int64) uint32 {
	if size == 4 {
		return r.u32(off)
	}
	return r.u16(off)
}

// peFile is a PE file whose headers passed yara's pe_get_header checks.
type peFile struct {
	reader
	nt   int64 // offset of the NT headers ("PE\0\0")
	opt  int64 // offset of the optional header
	is64 bool
}

// parsePE returns the PE file in data, or false where yara's pe_get_header
// finds none.
func parsePE(data []byte) (*peFile, bool) {
	r := reader{data}
	n := int64(len(data))
	if n < dosHeaderSize || r.u16(0) != 0x5a4d {
		return nil, false
	}
	lfanew := int64(int32(r.u32(0x3c)))
	if lfanew < 0 {
		return nil, false
	}
	size := lfanew + 4 + fileHeaderSize
	if n < size || r.u32(lfanew) != peSignature || n < size+optHeader32Size {
		return nil, false
	}
	p := &peFile{reader: r, nt: lfanew, opt: size}
	p.is64 = r.u16(p.opt) == optMagic64
	if p.is64 {
		size += optHeader64Size
	} else {
		size += optHeader32Size
	}
	if n < size {
		return nil, false
	}
	return p, true
}

func (p *peFile) numberOfSections() uint32    { return p.u16(p.nt + 6) }
func (p *peFile) sizeOfOptionalHeader() int64 { return int64(p.u16(p.nt + 20)) }
func (p *peFile) characteristics() uint32     { return p.u16(p.nt + 22) }
func (p *peFile) entryPoint() uint32          { return p.u32(p.opt + 16) }
func (p *peFile) fileAlignment() uint32       { return p.u32(p.opt + 36) }

func (p *peFile) numberOfRvaAndSizes() uint32 {
	if p.is64 {
		return p.u32(p.opt + 108)
	}
	return p.u32(p.opt + 92)
}

// comDirectory returns the offset of the CLI header data directory entry.
// As in yara, a 32-bit file's NumberOfRvaAndSizes is not checked for it and
// a 64-bit file's may be as small as the entry's index.
func (p *peFile) comDirectory() (int64, bool) {
	if p.is64 && p.numberOfRvaAndSizes() < comDescriptor {
		return 0, false
	}
	dirs := p.opt + 96
	if p.is64 {
		dirs = p.opt + 112
	}
	off := dirs + comDescriptor*dataDirSize
	return off, p.fits(off, dataDirSize)
}

// rvaToOffset maps rva to a file offset as yara's pe_rva_to_offset does,
// or returns -1: the last section of highest address containing rva wins,
// its raw offset rounded down to FileAlignment (capped at 0x200), and
// addresses below every section map to themselves.
func (p *peFile) rvaToOffset(rva uint64) int64 {
	sec := p.nt + 4 + fileHeaderSize + p.sizeOfOptionalHeader()
	lowest := uint64(0xffffffff)
	var secRVA, secOff, secRaw uint32
	count := min(p.numberOfSections(), maxSections)
	for i := uint32(0); i < count; i, sec = i+1, sec+sectionSize {
		if !p.fits(sec, sectionSize) {
			return -1
		}
		va := p.u32(sec + 12)
		lowest = min(lowest, uint64(va))
		if rva >= uint64(va) && rva-uint64(va) < uint64(p.u32(sec+8)) && secRVA <= va {
			secRVA = va
			secOff = p.u32(sec + 20)
			secRaw = p.u32(sec + 16)
			if align := min(p.fileAlignment(), maxFileAlignment); align != 0 {
				secOff -= secOff % align
			}
		}
	}
	if rva < lowest {
		secRVA, secOff, secRaw = 0, 0, uint32(len(p.data))
	}
	if rva-uint64(secRVA) >= uint64(secRaw) {
		return -1
	}
	res := uint64(secOff) + (rva - uint64(secRVA))
	if res >= uint64(len(p.data)) {
		return -1
	}
	return int64(res)
}
