package pe

import (
	"encoding/binary"
	"strings"

	"vigil/yara/module"
)

// The module's functions. Each follows its yara 4.2.3 counterpart,
// including what it reads from the data tree (so a field yara leaves
// undefined reads as YR_UNDEFINED's value) and its quirks, noted where
// they show.

// peOf returns the parsed file, or nil when the data is not a PE.
func peOf(c *module.Context) *file {
	f := fileOf(c)
	if !f.isPE {
		return nil
	}
	return f
}

func intArg(args []module.Value, i int) int64 {
	if i < len(args) {
		if v, ok := args[i].(int64); ok {
			return v
		}
	}
	return undefined
}

// strArg returns a string argument as C sees it: up to its first NUL.
func strArg(args []module.Value, i int) string {
	if i < len(args) {
		if v, ok := args[i].(string); ok {
			if j := strings.IndexByte(v, 0); j >= 0 {
				v = v[:j]
			}
			return v
		}
	}
	return ""
}

func reArg(args []module.Value, i int) module.Regexp {
	if i < len(args) {
		if v, ok := args[i].(module.Regexp); ok {
			return v
		}
	}
	return nil
}

// result converts yara's in-band undefined integer to nil.
func result(v int64) module.Value {
	if v == undefined {
		return nil
	}
	return v
}

func boolResult(b bool) module.Value {
	if b {
		return int64(1)
	}
	return int64(0)
}

func calculateChecksum(c *module.Context, _ []module.Value) module.Value {
	f := peOf(c)
	if f == nil {
		return nil
	}
	csumOffset := f.opt + 64
	n := f.size()
	var csum uint64
	for i := int64(0); i <= n/4; i++ {
		if 4*i == csumOffset {
			continue
		}
		if 4*i+4 <= n {
			csum += uint64(binary.LittleEndian.Uint32(f.data[4*i:]))
		} else {
			for j := int64(0); j < n%4; j++ {
				csum += uint64(f.data[4*i+j]) << (8 * j)
			}
		}
		if csum > 0xffffffff {
			csum = csum&0xffffffff + csum>>32
		}
	}
	csum = csum&0xffff + csum>>16
	csum += csum >> 16
	csum &= 0xffff
	csum += uint64(n)
	return int64(csum)
}

// richCount is yara's _rich_version: the total count of the Rich header
// entries matching version and toolid, either of which may be undefined
// (matching any).
func richCount(c *module.Context, version, toolid int64) module.Value {
	f := fileOf(c)
	rs, _ := f.root.Fields["rich_signature"].(*module.Struct)
	length := getInt(rs, "length")
	if length == undefined {
		return nil
	}
	clear, ok := getString(rs, "clear_data")
	if !ok {
		return nil
	}
	if version == undefined && toolid == undefined {
		return int64(0)
	}
	var total uint64
	for i := int64(0); 16+8*i+8 <= int64(len(clear)) && i < (length-16)/8; i++ {
		idVersion := binary.LittleEndian.Uint32([]byte(clear[16+8*i:]))
		times := binary.LittleEndian.Uint32([]byte(clear[20+8*i:]))
		matchVersion := uint64(version) == uint64(idVersion&0xffff)
		matchToolid := uint64(toolid) == uint64(idVersion>>16)
		if (version == undefined || matchVersion) && (toolid == undefined || matchToolid) {
			total += uint64(times)
		}
	}
	return result(int64(total))
}

func richVersion(c *module.Context, args []module.Value) module.Value {
	return richCount(c, intArg(args, 0), undefined)
}

func richVersionToolid(c *module.Context, args []module.Value) module.Value {
	return richCount(c, intArg(args, 0), intArg(args, 1))
}

func richToolid(c *module.Context, args []module.Value) module.Value {
	return richCount(c, undefined, intArg(args, 0))
}

func richToolidVersion(c *module.Context, args []module.Value) module.Value {
	return richCount(c, intArg(args, 1), intArg(args, 0))
}

func imphash(c *module.Context, _ []module.Value) module.Value {
	f := peOf(c)
	if f == nil {
		return nil
	}
	return f.imphash()
}

func sectionIndexAddr(c *module.Context, args []module.Value) module.Value {
	r := fileOf(c).root
	addr := intArg(args, 0)
	n := getInt(r, "number_of_sections")
	if n == undefined {
		return nil
	}
	for i := int64(0); i < min(n, maxSections); i++ {
		s := arrayItem(r, "sections", i)
		off, size := getInt(s, "raw_data_offset"), getInt(s, "raw_data_size")
		if addr >= off && addr < off+size {
			return i
		}
	}
	return nil
}

func sectionIndexName(c *module.Context, args []module.Value) module.Value {
	r := fileOf(c).root
	name := strArg(args, 0)
	n := getInt(r, "number_of_sections")
	if n == undefined {
		return nil
	}
	for i := int64(0); i < min(n, maxSections); i++ {
		s, ok := getString(arrayItem(r, "sections", i), "name")
		if !ok {
			continue
		}
		if j := strings.IndexByte(s, 0); j >= 0 {
			s = s[:j]
		}
		if s == name {
			return i
		}
	}
	return nil
}

// exportCount is the C int yara reads number_of_exports into.
func exportCount(f *file) int64 {
	return int64(int32(getInt(f.root, "number_of_exports")))
}

// findExport returns the index of the first export whose name satisfies
// match, or -1.
func findExport(f *file, match func(name string) bool) int64 {
	n := exportCount(f)
	for i := int64(0); i < n; i++ {
		name, ok := getString(arrayItem(f.root, "export_details", i), "name")
		if ok && match(name) {
			return i
		}
	}
	return -1
}

// findExportOrdinal returns the index of the export with ordinal ord, or
// -1; as in yara, ordinals above the number of exports are never found.
func findExportOrdinal(f *file, ord int64) int64 {
	n := exportCount(f)
	if ord == 0 || ord > n {
		return -1
	}
	for i := int64(0); i < n; i++ {
		if getInt(arrayItem(f.root, "export_details", i), "ordinal") == ord {
			return i
		}
	}
	return -1
}

func nameMatcher(args []module.Value) func(string) bool {
	want := ""
	if len(args) > 0 {
		want, _ = args[0].(string)
	}
	return func(name string) bool { return asciiEqualFold(name, want) }
}

func regexpMatcher(args []module.Value) func(string) bool {
	re := reArg(args, 0)
	return func(name string) bool {
		if j := strings.IndexByte(name, 0); j >= 0 {
			name = name[:j]
		}
		return re != nil && re.Match([]byte(name))
	}
}

func exportsWith(c *module.Context, found func(*file) int64) module.Value {
	f := peOf(c)
	if f == nil {
		return nil
	}
	if exportCount(f) == 0 {
		return int64(0)
	}
	return boolResult(found(f) >= 0)
}

func exportsIndexWith(c *module.Context, found func(*file) int64) module.Value {
	f := peOf(c)
	if f == nil || exportCount(f) == 0 {
		return nil
	}
	if i := found(f); i >= 0 {
		return i
	}
	return nil
}

func exportsName(c *module.Context, args []module.Value) module.Value {
	m := nameMatcher(args)
	return exportsWith(c, func(f *file) int64 { return findExport(f, m) })
}

func exportsRegexp(c *module.Context, args []module.Value) module.Value {
	m := regexpMatcher(args)
	return exportsWith(c, func(f *file) int64 { return findExport(f, m) })
}

func exportsOrdinal(c *module.Context, args []module.Value) module.Value {
	ord := intArg(args, 0)
	return exportsWith(c, func(f *file) int64 { return findExportOrdinal(f, ord) })
}

func exportsIndexName(c *module.Context, args []module.Value) module.Value {
	m := nameMatcher(args)
	return exportsIndexWith(c, func(f *file) int64 { return findExport(f, m) })
}

func exportsIndexRegexp(c *module.Context, args []module.Value) module.Value {
	m := regexpMatcher(args)
	return exportsIndexWith(c, func(f *file) int64 { return findExport(f, m) })
}

func exportsIndexOrdinal(c *module.Context, args []module.Value) module.Value {
	ord := intArg(args, 0)
	return exportsIndexWith(c, func(f *file) int64 { return findExportOrdinal(f, ord) })
}

// Imports.

func importsFunction(dlls []*importedDLL, dll, fn string) bool {
	for _, d := range dlls {
		if asciiEqualFold(d.name, dll) {
			for _, x := range d.functions {
				if asciiEqualFold(x.name, fn) {
					return true
				}
			}
		}
	}
	return false
}

func importsOrdinal(dlls []*importedDLL, dll string, ord int64) bool {
	for _, d := range dlls {
		if asciiEqualFold(d.name, dll) {
			for _, x := range d.functions {
				if x.hasOrdinal && int64(x.ordinal) == ord {
					return true
				}
			}
		}
	}
	return false
}

func importsDLLCount(dlls []*importedDLL, dll string) int64 {
	n := int64(0)
	for _, d := range dlls {
		if asciiEqualFold(d.name, dll) {
			n += int64(len(d.functions))
		}
	}
	return n
}

// importsRegexpCount counts the functions whose DLL and name both match.
// yara counts a match only where yr_re_match returns more than 0, which in
// its scanning mode is the end offset of the last match: an empty name
// never counts, and neither does a name whose only matches end at offset 0
// (as /^/ or /^x*/ on a name not starting with x). module.Regexp cannot
// tell the latter apart, so those still count here.
func importsRegexpCount(dlls []*importedDLL, dllRE, fnRE module.Regexp) int64 {
	if dllRE == nil || fnRE == nil {
		return 0
	}
	n := int64(0)
	for _, d := range dlls {
		if d.name != "" && dllRE.Match([]byte(d.name)) {
			for _, x := range d.functions {
				if x.name != "" && fnRE.Match([]byte(x.name)) {
					n++
				}
			}
		}
	}
	return n
}

func importsStandard(c *module.Context, args []module.Value) module.Value {
	f := peOf(c)
	if f == nil {
		return nil
	}
	return boolResult(importsFunction(f.imports, strArg(args, 0), strArg(args, 1)))
}

func importsStandardOrdinal(c *module.Context, args []module.Value) module.Value {
	f := peOf(c)
	if f == nil {
		return nil
	}
	return boolResult(importsOrdinal(f.imports, strArg(args, 0), intArg(args, 1)))
}

func importsStandardDLL(c *module.Context, args []module.Value) module.Value {
	f := peOf(c)
	if f == nil {
		return nil
	}
	return importsDLLCount(f.imports, strArg(args, 0))
}

func importsStandardRegexp(c *module.Context, args []module.Value) module.Value {
	f := peOf(c)
	if f == nil {
		return nil
	}
	return importsRegexpCount(f.imports, reArg(args, 0), reArg(args, 1))
}

func importsFlags(c *module.Context, args []module.Value) module.Value {
	f := peOf(c)
	if f == nil {
		return nil
	}
	flags, dll, fn := intArg(args, 0), strArg(args, 1), strArg(args, 2)
	return boolResult(flags&importStandard != 0 && importsFunction(f.imports, dll, fn) ||
		flags&importDelayed != 0 && importsFunction(f.delayed, dll, fn))
}

func importsFlagsOrdinal(c *module.Context, args []module.Value) module.Value {
	f := peOf(c)
	if f == nil {
		return nil
	}
	flags, dll, ord := intArg(args, 0), strArg(args, 1), intArg(args, 2)
	return boolResult(flags&importStandard != 0 && importsOrdinal(f.imports, dll, ord) ||
		flags&importDelayed != 0 && importsOrdinal(f.delayed, dll, ord))
}

func importsFlagsDLL(c *module.Context, args []module.Value) module.Value {
	f := peOf(c)
	if f == nil {
		return nil
	}
	flags, dll := intArg(args, 0), strArg(args, 1)
	n := int64(0)
	if flags&importStandard != 0 {
		n += importsDLLCount(f.imports, dll)
	}
	if flags&importDelayed != 0 {
		n += importsDLLCount(f.delayed, dll)
	}
	return n
}

func importsFlagsRegexp(c *module.Context, args []module.Value) module.Value {
	f := peOf(c)
	if f == nil {
		return nil
	}
	flags, dllRE, fnRE := intArg(args, 0), reArg(args, 1), reArg(args, 2)
	n := int64(0)
	if flags&importStandard != 0 {
		n += importsRegexpCount(f.imports, dllRE, fnRE)
	}
	if flags&importDelayed != 0 {
		n += importsRegexpCount(f.delayed, dllRE, fnRE)
	}
	return n
}

// languageMatch is yara's locale and language: does a resource's language
// ID, masked, equal want? An undefined language reads as YR_UNDEFINED.
func languageMatch(c *module.Context, want int64, mask uint64) module.Value {
	f := fileOf(c)
	n := getInt(f.root, "number_of_resources")
	if n == undefined || !f.isPE {
		return nil
	}
	for i := int64(0); i < int64(int32(n)); i++ {
		lang := uint64(getInt(arrayItem(f.root, "resources", i), "language"))
		if lang&mask == uint64(want) {
			return int64(1)
		}
	}
	return int64(0)
}

func locale(c *module.Context, args []module.Value) module.Value {
	return languageMatch(c, intArg(args, 0), 0xffff)
}

func language(c *module.Context, args []module.Value) module.Value {
	return languageMatch(c, intArg(args, 0), 0xff)
}

// isDLL returns the DLL bit itself (0x2000), as yara does, not 1.
func isDLL(c *module.Context, _ []module.Value) module.Value {
	ch := getInt(fileOf(c).root, "characteristics")
	if ch == undefined {
		return nil
	}
	return ch & imageFileDLL
}

func is32bit(c *module.Context, _ []module.Value) module.Value {
	f := peOf(c)
	if f == nil {
		return nil
	}
	return boolResult(!f.is64)
}

func is64bit(c *module.Context, _ []module.Value) module.Value {
	f := peOf(c)
	if f == nil {
		return nil
	}
	return boolResult(f.is64)
}

func rvaToOffset(c *module.Context, args []module.Value) module.Value {
	f := peOf(c)
	if f == nil {
		return nil
	}
	off := f.rvaToOffset(uint64(intArg(args, 0)))
	if off == -1 {
		return nil
	}
	return off
}

// validOn is signatures[i].valid_on(t): whether not_before <= t <=
// not_after for the signature the function is called on.
//
// The signature is the struct the function was reached through.
func validOn(c *module.Context, args []module.Value) module.Value {
	t, ok := args[0].(int64)
	if c.Parent == nil || !ok {
		return nil
	}
	return signatureValidOn(c.Parent, t)
}

// signatureValidOn is valid_on for the signature struct sig.
func signatureValidOn(sig *module.Struct, t int64) module.Value {
	nb, na := getInt(sig, "not_before"), getInt(sig, "not_after")
	if nb == undefined || na == undefined {
		return nil
	}
	return boolResult(t >= nb && t <= na)
}
