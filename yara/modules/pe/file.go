package pe

import (
	"encoding/binary"

	"vigil/yara/module"
)

// Limits yara 4.2.3 applies; they change what rules observe, so they are
// the same values.
const (
	maxSections        = 96    // MAX_PE_SECTIONS: section headers read
	maxImports         = 16384 // MAX_PE_IMPORTS: DLLs and imported functions
	maxExports         = 8192  // MAX_PE_EXPORTS: export table entries
	maxExportNameLen   = 512   // MAX_EXPORT_NAME_LENGTH
	maxImportNameLen   = 512   // longest imported function name kept
	maxResources       = 65536 // MAX_RESOURCES: resources collected (yara keeps 65537)
	maxCerts           = 16    // MAX_PE_CERTS: signatures collected
	maxPath            = 1024  // MAX_PATH: bound of pdb_path
	maxDirectories     = 16    // IMAGE_NUMBEROF_DIRECTORY_ENTRIES
	maxResourceEntries = 32768 // per-kind entry bound of a resource directory
)

// Limits of our own, where yara has none and would spend unbounded time on
// a hostile file. They are far above what real files reach.
const (
	// maxResourceVisits bounds the resource directory entries visited in
	// one file (yara revisits shared subdirectories without limit).
	maxResourceVisits = 1 << 22
	// maxDelayedFunctions bounds the delay-imported functions collected
	// over all DLLs (yara has no bound).
	maxDelayedFunctions = 1 << 16
)

// Sizes of PE structures as yara declares them (packing included).
const (
	dosHeaderSize      = 64
	fileHeaderSize     = 20
	optHeader32Size    = 224
	optHeader64Size    = 240
	sectionHeaderSize  = 40
	dataDirectorySize  = 8
	magicPE32Plus      = 0x20b
	directoryCOM       = 14
	directoryExport    = 0
	directoryImport    = 1
	directoryResource  = 2
	directorySecurity  = 4
	directoryDebug     = 6
	directoryDelayLoad = 13
	imageFileDLL       = 0x2000
)

// file is one parsed scan: the data, where its headers are, the data tree
// and what the functions need beyond the tree.
type file struct {
	data []byte
	root *module.Struct
	isPE bool

	nt       int64 // offset of the NT headers ("PE\0\0")
	opt      int64 // offset of the optional header
	is64     bool
	sections int64 // offset of the first section header

	imports []*importedDLL
	delayed []*importedDLL

	secs      []sectionHeader // the headers rvaToOffset reads
	secsRead  bool
	secsBad   bool // a header does not fit: every RVA is unmapped
	nameStops *stopIndex
	wideStops [2]*stopIndex
}

// sectionHeader holds the fields of a section header rvaToOffset uses.
type sectionHeader struct {
	va, vsize, raw, rawSize uint32
}

// sectionHeaders reads the section headers once.
func (f *file) sectionHeaders() ([]sectionHeader, bool) {
	if !f.secsRead {
		f.secsRead = true
		n := f.numberOfSections()
		for i := int64(0); i < n; i++ {
			s := f.sections + i*sectionHeaderSize
			if !f.fits(s, sectionHeaderSize) {
				f.secsBad = true
				break
			}
			f.secs = append(f.secs, sectionHeader{va: f.u32(s + 12), vsize: f.u32(s + 8), raw: f.u32(s + 20), rawSize: f.u32(s + 16)})
		}
	}
	return f.secs, !f.secsBad
}

func (f *file) size() int64 { return int64(len(f.data)) }

// fits reports whether size bytes at off lie inside the data, as yara's
// fits_in_pe.
func (f *file) fits(off, size int64) bool {
	return size >= 0 && size <= f.size() && off >= 0 && off <= f.size()-size
}

// available is yara's available_space: bytes from off to the end of data.
func (f *file) available(off int64) int64 {
	if off < 0 || off >= f.size() {
		return 0
	}
	return f.size() - off
}

func (f *file) u8(off int64) uint8 {
	if !f.fits(off, 1) {
		return 0
	}
	return f.data[off]
}

func (f *file) u16(off int64) uint16 {
	if !f.fits(off, 2) {
		return 0
	}
	return binary.LittleEndian.Uint16(f.data[off:])
}

func (f *file) u32(off int64) uint32 {
	if !f.fits(off, 4) {
		return 0
	}
	return binary.LittleEndian.Uint32(f.data[off:])
}

func (f *file) u64(off int64) uint64 {
	if !f.fits(off, 8) {
		return 0
	}
	return binary.LittleEndian.Uint64(f.data[off:])
}

// cstring returns the bytes at off up to a NUL, reading at most max bytes
// and never past the end of data.
func (f *file) cstring(off, max int64) []byte {
	n := min(f.available(off), max)
	if n <= 0 {
		return nil
	}
	b := f.data[off : off+n]
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

// findHeader locates the NT headers as yara's pe_get_header does and
// records their layout in f. It reports false for data that is not a PE.
func (f *file) findHeader() bool {
	if f.size() < dosHeaderSize || f.u16(0) != 0x5a4d {
		return false
	}
	lfanew := int64(int32(f.u32(60)))
	if lfanew < 0 {
		return false
	}
	headers := lfanew + 4 + fileHeaderSize
	if f.size() < headers || f.u32(lfanew) != 0x00004550 {
		return false
	}
	if f.size() < headers+optHeader32Size {
		return false
	}
	f.nt = lfanew
	f.opt = headers
	f.is64 = f.u16(f.opt) == magicPE32Plus
	if f.is64 {
		headers += optHeader64Size
	} else {
		headers += optHeader32Size
	}
	if f.size() < headers {
		return false
	}
	f.sections = f.opt + int64(f.u16(f.nt+4+16))
	return true
}

// numberOfSections is the section count yara iterates over.
func (f *file) numberOfSections() int64 {
	return min(int64(f.u16(f.nt+4+2)), maxSections)
}

// Optional header fields whose offset differs between PE32 and PE32+.
func (f *file) numberOfRvaAndSizes() uint32 {
	if f.is64 {
		return f.u32(f.opt + 108)
	}
	return f.u32(f.opt + 92)
}

func (f *file) dataDirectories() int64 {
	if f.is64 {
		return f.opt + 112
	}
	return f.opt + 96
}

func (f *file) imageBase() uint64 {
	if f.is64 {
		return f.u64(f.opt + 24)
	}
	return uint64(f.u32(f.opt + 28))
}

// directory returns the offset of data directory entry i, or -1 where
// yara's pe_get_directory_entry returns NULL. As in yara the COM
// descriptor of a PE32 file is read whatever NumberOfRvaAndSizes says, and
// entry NumberOfRvaAndSizes itself is still read.
func (f *file) directory(i int) int64 {
	if (i != directoryCOM || f.is64) && f.numberOfRvaAndSizes() < uint32(i) {
		return -1
	}
	off := f.dataDirectories() + int64(i)*dataDirectorySize
	if !f.fits(off, dataDirectorySize) {
		return -1
	}
	return off
}

// rvaToOffset is yara's pe_rva_to_offset: the file offset of an RVA, or -1.
func (f *file) rvaToOffset(rva uint64) int64 {
	secs, ok := f.sectionHeaders()
	if !ok {
		return -1
	}
	lowest := uint32(0xffffffff)
	var secRVA, secOffset, secRawSize uint32
	alignment := min(f.u32(f.opt+36), 0x200)
	for _, s := range secs {
		if lowest > s.va {
			lowest = s.va
		}
		if rva >= uint64(s.va) && rva-uint64(s.va) < uint64(s.vsize) && secRVA <= s.va {
			secRVA = s.va
			secOffset = s.raw
			secRawSize = s.rawSize
			if alignment != 0 {
				secOffset -= secOffset % alignment
			}
		}
	}
	if rva < uint64(lowest) {
		secRVA = 0
		secOffset = 0
		secRawSize = uint32(f.size())
	}
	if rva-uint64(secRVA) >= uint64(secRawSize) {
		return -1
	}
	result := int64(uint64(secOffset) + (rva - uint64(secRVA)))
	if result >= f.size() {
		return -1
	}
	return result
}

// Building the data tree.

// sub returns the struct field name of s, creating it.
func sub(s *module.Struct, name string) *module.Struct {
	if v, ok := s.Fields[name].(*module.Struct); ok {
		return v
	}
	v := module.NewStruct()
	s.Fields[name] = v
	return v
}

// item returns struct item i of array field name of s, creating the array,
// the item and any missing items before it (left undefined, as yara's
// arrays are).
func item(s *module.Struct, name string, i int) *module.Struct {
	a, ok := s.Fields[name].(*module.Array)
	if !ok {
		a = &module.Array{}
		s.Fields[name] = a
	}
	for len(a.Items) <= i {
		a.Items = append(a.Items, nil)
	}
	if v, ok := a.Items[i].(*module.Struct); ok {
		return v
	}
	v := module.NewStruct()
	a.Items[i] = v
	return v
}

// setInt sets an integer field; yara's undefined marker leaves it undefined.
func setInt(s *module.Struct, name string, v int64) {
	if v == undefined {
		delete(s.Fields, name)
		return
	}
	s.Fields[name] = v
}

// undefined is yara's YR_UNDEFINED integer.
const undefined int64 = -0x0005452505452501

// undefinedBits is YR_UNDEFINED as an unsigned 64-bit value.
const undefinedBits uint64 = 0xFFFABADAFABADAFF

// getInt reads an integer field as yara's get_integer does: undefined reads
// as the YR_UNDEFINED value.
func getInt(s *module.Struct, name string) int64 {
	if s == nil {
		return undefined
	}
	if v, ok := s.Fields[name].(int64); ok {
		return v
	}
	return undefined
}

// getString reads a string field; ok is false where it is undefined.
func getString(s *module.Struct, name string) (string, bool) {
	if s == nil {
		return "", false
	}
	v, ok := s.Fields[name].(string)
	return v, ok
}

// arrayItem returns struct item i of array field name, or nil.
func arrayItem(s *module.Struct, name string, i int64) *module.Struct {
	if s == nil {
		return nil
	}
	a, ok := s.Fields[name].(*module.Array)
	if !ok || i < 0 || i >= int64(len(a.Items)) {
		return nil
	}
	v, _ := a.Items[i].(*module.Struct)
	return v
}
