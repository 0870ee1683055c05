package pe

import (
	"crypto/md5"
	"encoding/hex"
	"strconv"
	"strings"
)

// importedDLL is one DLL of the import or delay-import directory with the
// functions taken from it.
type importedDLL struct {
	name      string
	functions []importedFunction
}

type importedFunction struct {
	name       string
	ordinal    uint16
	hasOrdinal bool
}

const (
	importDescriptorSize = 20 // IMAGE_IMPORT_DESCRIPTOR
	delayDescriptorSize  = 32 // IMAGE_DELAYLOAD_DESCRIPTOR
	importByNameSize     = 4  // IMAGE_IMPORT_BY_NAME as yara declares it
)

// validDLLName is yara's pe_valid_dll_name for the name at off: a NUL ends
// it before the end of data, it is not empty, and it has no control
// character nor any of "*<>?|.
func (f *file) validDLLName(off int64) (string, bool) {
	end := f.nameStop().find(off)
	if end < 0 || f.data[end] != 0 {
		return "", false
	}
	return string(f.data[off:end]), end > off
}

// ordinalName is yara's ord_lookup.
func ordinalName(dll string, ord uint16) string {
	var table map[uint16]string
	switch {
	case hasPrefixFold(dll, "WS2_32.dll"), hasPrefixFold(dll, "wsock32.dll"):
		table = ordinalsWinsock
	case hasPrefixFold(dll, "oleaut32.dll"):
		table = ordinalsOleaut
	}
	if name, ok := table[ord]; ok {
		return name
	}
	return "ord" + strconv.Itoa(int(ord))
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && asciiEqualFold(s[:len(prefix)], prefix)
}

// asciiEqualFold is C's strcasecmp(a, b) == 0 in the C locale.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if asciiLower(a[i]) != asciiLower(b[i]) {
			return false
		}
	}
	return true
}

func asciiLower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// parseImports walks the import directory as yara's pe_parse_imports does
// and sets the import fields.
func (f *file) parseImports() []*importedDLL {
	r := f.root
	setInt(r, "number_of_imports", 0)
	setInt(r, "number_of_imported_functions", 0)
	d := f.directory(directoryImport)
	if d < 0 || f.u32(d) == 0 {
		return nil
	}
	off := f.rvaToOffset(uint64(f.u32(d)))
	if off < 0 {
		return nil
	}
	var dlls []*importedDLL
	numDLLs, numFuncs := 0, 0
	for ; f.fits(off, importDescriptorSize) && f.u32(off+12) != 0 && numDLLs < maxImports; off += importDescriptorSize {
		if nameOff := f.rvaToOffset(uint64(f.u32(off + 12))); nameOff >= 0 {
			name, ok := f.validDLLName(nameOff)
			if !ok {
				continue // yara does not count it
			}
			if funcs := f.parseThunks(off, name, &numFuncs); len(funcs) > 0 {
				dlls = append(dlls, &importedDLL{name: name, functions: funcs})
			}
		}
		numDLLs++
	}
	setInt(r, "number_of_imports", int64(numDLLs))
	setInt(r, "number_of_imported_functions", int64(numFuncs))
	f.setImportDetails(dlls)
	return dlls
}

// parseThunks reads the thunks of the import descriptor at desc.
func (f *file) parseThunks(desc int64, dll string, numFuncs *int) []importedFunction {
	off := f.rvaToOffset(uint64(f.u32(desc)))
	if off <= 0 {
		off = f.rvaToOffset(uint64(f.u32(desc + 16)))
	}
	if off < 0 {
		return nil
	}
	size, flag := int64(4), uint64(0x80000000)
	if f.is64 {
		size, flag = 8, 1<<63
	}
	var funcs []importedFunction
	for ; f.fits(off, size) && *numFuncs < maxImports; off += size {
		var v uint64
		if f.is64 {
			v = f.u64(off)
		} else {
			v = uint64(f.u32(off))
		}
		if v == 0 {
			break
		}
		if v&flag == 0 {
			if o := f.rvaToOffset(v); o >= 0 && f.fits(o, importByNameSize) {
				name := f.cstring(o+2, maxImportNameLen)
				funcs = append(funcs, importedFunction{name: string(name)})
			}
		} else {
			ord := uint16(v)
			funcs = append(funcs, importedFunction{name: ordinalName(dll, ord), ordinal: ord, hasOrdinal: true})
		}
		*numFuncs++
	}
	return funcs
}

// setImportDetails fills import_details[] as yara 4.2.3's pe_set_imports
// does, including its bug: the function index is not reset between DLLs,
// so DLL k's functions sit after those of DLLs 0..k-1 (earlier slots stay
// undefined) and its number_of_functions counts them all.
func (f *file) setImportDetails(dlls []*importedDLL) {
	fun := 0
	for i, dll := range dlls {
		e := item(f.root, "import_details", i)
		for _, fn := range dll.functions {
			x := item(e, "functions", fun)
			x.Fields["name"] = fn.name
			if fn.hasOrdinal {
				setInt(x, "ordinal", int64(fn.ordinal))
			}
			fun++
		}
		e.Fields["library_name"] = dll.name
		setInt(e, "number_of_functions", int64(fun))
	}
}

// normalizeDelayed converts an old-style (VA) delay-import value to an RVA.
func normalizeDelayed(imageBase, v uint64) uint64 {
	if v != 0 && v > imageBase {
		return v - imageBase
	}
	return v
}

// delayPointer is yara's pe_parse_delay_import_pointer; ok is false where
// it returns YR_UNDEFINED.
func (f *file) delayPointer(rva uint64) (uint64, bool) {
	off := f.rvaToOffset(rva)
	var v uint64
	if f.is64 {
		if !f.fits(off, 8) {
			return 0, false
		}
		v = f.u64(off)
	} else {
		if !f.fits(off, 4) {
			return 0, false
		}
		v = uint64(f.u32(off))
	}
	return v, v != undefinedBits
}

// parseDelayedImports walks the delay-import directory as yara's
// pe_parse_delayed_imports does. yara 4.2.3 then writes the details to a
// path that does not exist, so only the counts and imports() see them.
func (f *file) parseDelayedImports() []*importedDLL {
	r := f.root
	setInt(r, "number_of_delayed_imports", 0)
	setInt(r, "number_of_delayed_imported_functions", 0)
	d := f.directory(directoryDelayLoad)
	if d < 0 || f.u32(d) == 0 {
		return nil
	}
	off := f.rvaToOffset(uint64(f.u32(d)))
	if off < 0 {
		return nil
	}
	imageBase := f.imageBase()
	sizeOfImage := f.u32(f.opt + 56)
	ptrSize, flag := uint64(4), uint64(0x80000000)
	if f.is64 {
		ptrSize, flag = 8, 1<<63
	}
	var dlls []*importedDLL
	numDLLs, numFuncs := 0, 0
	for ; f.fits(off, delayDescriptorSize); off += delayDescriptorSize {
		var fld [8]uint32
		allZero := true
		for i := range fld {
			fld[i] = f.u32(off + int64(i)*4)
			allZero = allZero && fld[i] == 0
		}
		if allZero {
			break
		}
		attrs := fld[0]
		if attrs > 1 {
			break
		}
		nameRVA, iat, intRVA := fld[1], fld[3], fld[4]
		if !f.is64 && attrs == 0 {
			nameRVA = uint32(normalizeDelayed(imageBase, uint64(nameRVA)))
			iat = uint32(normalizeDelayed(imageBase, uint64(iat)))
			intRVA = uint32(normalizeDelayed(imageBase, uint64(intRVA)))
		}
		if intRVA >= sizeOfImage || iat >= sizeOfImage || nameRVA < dosHeaderSize || intRVA < dosHeaderSize {
			break
		}
		nameOff := f.rvaToOffset(uint64(nameRVA))
		if nameOff < 0 {
			continue
		}
		name, ok := f.validDLLName(nameOff)
		if !ok {
			continue
		}
		dll := &importedDLL{name: name}
		nameAt, funcAt := uint64(intRVA), uint64(iat)
		for numFuncs < maxDelayedFunctions {
			nameAddr, ok1 := f.delayPointer(nameAt)
			funcAddr, ok2 := f.delayPointer(funcAt)
			if !ok1 || !ok2 || nameAddr == 0 || funcAddr == 0 {
				break
			}
			var fn importedFunction
			if nameAddr&flag == 0 {
				if attrs == 0 {
					nameAddr = normalizeDelayed(imageBase, nameAddr)
				}
				if o := f.rvaToOffset(nameAddr + 2); o >= 0 {
					fn.name = string(f.cstring(o, maxImportNameLen))
				}
			} else {
				fn.ordinal = uint16(nameAddr)
				fn.hasOrdinal = true
				fn.name = ordinalName(name, fn.ordinal)
			}
			dll.functions = append(dll.functions, fn)
			numFuncs++
			nameAt += ptrSize
			funcAt += ptrSize
		}
		numDLLs++
		dlls = append(dlls, dll)
	}
	setInt(r, "number_of_delayed_imports", int64(numDLLs))
	setInt(r, "number_of_delayed_imported_functions", int64(numFuncs))
	return dlls
}

// imphash is yara's import hash: the MD5 of "dll.function" pairs joined by
// commas, lowercased, with the DLL name cut at its first dot when what
// follows starts with .dll, .ocx or .sys.
func (f *file) imphash() string {
	h := md5.New()
	first := true
	for _, dll := range f.imports {
		name := dll.name
		if i := strings.IndexByte(name, '.'); i >= 0 {
			ext := name[i:]
			if hasPrefixFold(ext, ".ocx") || hasPrefixFold(ext, ".sys") || hasPrefixFold(ext, ".dll") {
				name = name[:i]
			}
		}
		for _, fn := range dll.functions {
			s := name + "." + fn.name
			if !first {
				s = "," + s
			}
			b := []byte(s)
			for i := range b {
				b[i] = asciiLower(b[i])
			}
			h.Write(b)
			first = false
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
