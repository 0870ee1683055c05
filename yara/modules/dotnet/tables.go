package dotnet

import (
	"bytes"
	"math/bits"

	"vigil/yara/module"
)

// This file walks the metadata tables of the #~ stream (ECMA-335 II.22 and
// II.24.2.6) the way yara 4.2.3 does: a first pass reads the row counts that
// decide the sizes of indexes, a second pass steps over every present table
// in order, reading the ones the module reports. The walk stops at a table
// yara does not know (such as ParamPtr) or with more than maxTableRows rows.

const (
	tildeHeaderSize = 24     // Reserved, versions, HeapSizes, Reserved, Valid, Sorted
	maxTableRows    = 10000  // yara gives up on a table with more rows
	elementString   = 0x0e   // ELEMENT_TYPE_STRING, the only constants reported
	bigTable        = 0xffff // a table with more rows has 4-byte simple indexes
)

// Table numbers (bits of the Valid mask).
const (
	tModule                 = 0x00
	tTypeRef                = 0x01
	tTypeDef                = 0x02
	tFieldPtr               = 0x03
	tField                  = 0x04
	tMethodDefPtr           = 0x05
	tMethodDef              = 0x06
	tParam                  = 0x08
	tInterfaceImpl          = 0x09
	tMemberRef              = 0x0a
	tConstant               = 0x0b
	tCustomAttribute        = 0x0c
	tFieldMarshal           = 0x0d
	tDeclSecurity           = 0x0e
	tClassLayout            = 0x0f
	tFieldLayout            = 0x10
	tStandAloneSig          = 0x11
	tEventMap               = 0x12
	tEventPtr               = 0x13
	tEvent                  = 0x14
	tPropertyMap            = 0x15
	tPropertyPtr            = 0x16
	tProperty               = 0x17
	tMethodSemantics        = 0x18
	tMethodImpl             = 0x19
	tModuleRef              = 0x1a
	tTypeSpec               = 0x1b
	tImplMap                = 0x1c
	tFieldRVA               = 0x1d
	tEncLog                 = 0x1e
	tEncMap                 = 0x1f
	tAssembly               = 0x20
	tAssemblyProcessor      = 0x21
	tAssemblyOS             = 0x22
	tAssemblyRef            = 0x23
	tAssemblyRefProcessor   = 0x24
	tAssemblyRefOS          = 0x25
	tFile                   = 0x26
	tExportedType           = 0x27
	tManifestResource       = 0x28
	tNestedClass            = 0x29
	tGenericParam           = 0x2a
	tMethodSpec             = 0x2b
	tGenericParamConstraint = 0x2c
	numTables               = 64
)

// Fixed sizes of yara's row structures, used in its bounds checks where
// they differ from the row sizes.
const (
	moduleRowCheck    = 18 // sizeof(MODULE_TABLE)
	moduleRefRowCheck = 4  // sizeof(MODULEREF_TABLE)
	fieldRVARowCheck  = 8  // sizeof(FIELDRVA_TABLE)
)

// indexedTables are the tables whose simple indexes become 4 bytes wide
// past bigTable rows; the heaps' index sizes come from HeapSizes.
var indexedTables = [...]int{
	tModuleRef, tAssemblyRef, tAssemblyRefProcessor, tMethodDef, tMemberRef,
	tTypeDef, tField, tParam, tProperty, tEvent, tGenericParam,
}

// countedTables are the tables whose row counts size coded indexes.
var countedTables = [...]int{
	tModule, tModuleRef, tAssemblyRef, tAssemblyRefProcessor, tTypeRef,
	tMethodDef, tMemberRef, tTypeDef, tTypeSpec, tField, tParam, tProperty,
	tInterfaceImpl, tEvent, tStandAloneSig, tAssembly, tFile, tExportedType,
	tManifestResource, tGenericParam, tGenericParamConstraint, tMethodSpec,
}

// tables is the state of one walk over the #~ stream.
type tables struct {
	*dotnet
	root, cli int64
	s         streams

	rows                  [numTables]uint32 // row counts of countedTables, 0 for the others
	idx                   [numTables]int64  // simple index sizes of indexedTables
	strIdx, guidIdx       int64             // heap index sizes
	blobIdx               int64
	strHeap, blobHeap     int64 // file offsets of the #Strings and #Blob heaps
	resourceBase          int64
	typeRef, memberRef    int64 // table offsets, -1 before they are seen
	typeRefRow, memRefRow int64
}

// coded returns the size of a coded index with tagBits tag bits over the
// given tables (ECMA-335 II.24.2.6).
func (t *tables) coded(tagBits uint, tabs ...int) int64 {
	var most uint32
	for _, tab := range tabs {
		most = max(most, t.rows[tab])
	}
	if most > bigTable>>tagBits {
		return 4
	}
	return 2
}

// parse reads the #~ stream header and row counts and walks the tables.
func (t *tables) parse() {
	hdr := t.root + int64(t.u32(t.s.tilde))
	if !t.fits(hdr, tildeHeaderSize) {
		return
	}
	heapSizes := t.data[hdr+6]
	t.strIdx, t.guidIdx, t.blobIdx = 2, 2, 2
	if heapSizes&0x01 != 0 {
		t.strIdx = 4
	}
	if heapSizes&0x02 != 0 {
		t.guidIdx = 4
	}
	if heapSizes&0x04 != 0 {
		t.blobIdx = 4
	}
	valid := t.u64(hdr + 8)
	counts := hdr + tildeHeaderSize

	// First pass: the row counts, as far as they fit in the data.
	for i := range t.idx {
		t.idx[i] = 2
	}
	seen := int64(0)
	for tab := range numTables {
		if valid>>tab&1 == 0 {
			continue
		}
		if isOneOf(tab, countedTables[:]) && t.fits(counts, (seen+1)*4) {
			t.rows[tab] = t.u32(counts + seen*4)
		}
		if isOneOf(tab, indexedTables[:]) && t.rows[tab] > bigTable {
			t.idx[tab] = 4
		}
		seen++
	}

	t.resourceBase = t.rvaToOffset(uint64(t.u32(t.cli + 24)))
	t.strHeap = t.root + int64(t.u32(t.s.strings))
	t.blobHeap = t.root + int64(t.u32(t.s.blob))
	t.typeRef, t.memberRef = -1, -1
	t.walk(valid, counts, counts+int64(bits.OnesCount64(valid))*4)
}

func isOneOf(tab int, set []int) bool {
	for _, s := range set {
		if s == tab {
			return true
		}
	}
	return false
}

// walk is the second pass: for each present table in order, read its row
// count and step over or read its rows, starting at off.
func (t *tables) walk(valid uint64, counts, off int64) {
	seen := int64(0)
	for tab := range numTables {
		if valid>>tab&1 == 0 {
			continue
		}
		if !t.fits(counts+seen*4, 4) {
			return
		}
		n := int64(t.u32(counts + seen*4))
		if n > maxTableRows {
			return
		}
		seen++
		switch tab {
		case tModule:
			// If a whole MODULE_TABLE does not fit, yara does not step
			// over the table.
			if !t.fits(off, moduleRowCheck) {
				continue
			}
			if name, ok := t.heapString(t.strHeap, t.index(off+2, t.strIdx)); ok {
				t.out.Set("module_name", name)
			}
		case tTypeRef:
			t.typeRef, t.typeRefRow = off, t.rowSize(tab)
		case tMemberRef:
			t.memberRef, t.memRefRow = off, t.rowSize(tab)
		case tConstant:
			t.constants(off, n)
		case tCustomAttribute:
			t.customAttributes(off, n)
		case tModuleRef:
			t.moduleRefs(off, n)
		case tFieldRVA:
			t.fieldRVAs(off, n)
		case tAssembly:
			// If the first row does not fit, yara does not step over the
			// table.
			if !t.fits(off, t.rowSize(tab)) {
				continue
			}
			t.assembly(off)
		case tAssemblyRef:
			t.assemblyRefs(off, n)
		case tManifestResource:
			t.resources(off, n)
		}
		size := t.rowSize(tab)
		if size == 0 {
			return // a table yara does not know
		}
		off += size * n
	}
}

// rowSize returns the size of a row of table tab as yara computes it, 0
// for a table yara does not know. Coded indexes are sized from the row
// counts of the first pass (yara's choice of tables for each).
func (t *tables) rowSize(tab int) int64 {
	str, guid, blob := t.strIdx, t.guidIdx, t.blobIdx
	typeDefOrRef := func() int64 { return t.coded(2, tTypeDef, tTypeRef, tTypeSpec) }
	switch tab {
	case tModule:
		return 2 + str + guid*3
	case tTypeRef:
		return t.coded(2, tModule, tModuleRef, tAssemblyRef, tTypeRef) + str*2
	case tTypeDef:
		return 4 + str*2 + typeDefOrRef() + t.idx[tField] + t.idx[tMethodDef]
	case tFieldPtr:
		return t.idx[tField]
	case tField:
		return 2 + str + blob
	case tMethodDefPtr:
		return t.idx[tMethodDef]
	case tMethodDef:
		return 4 + 2 + 2 + str + blob + t.idx[tParam]
	case tParam:
		return 2 + 2 + str
	case tInterfaceImpl:
		return t.idx[tTypeDef] + typeDefOrRef()
	case tMemberRef:
		return t.coded(3, tMethodDef, tModuleRef, tTypeRef, tTypeSpec) + str + blob
	case tConstant:
		return 1 + 1 + t.coded(2, tParam, tField, tProperty) + blob
	case tCustomAttribute:
		return t.hasCustomAttribute() + t.customAttributeType() + blob
	case tFieldMarshal:
		return t.coded(1, tField, tParam) + blob
	case tDeclSecurity:
		return 2 + t.coded(2, tTypeDef, tMethodDef, tAssembly) + blob
	case tClassLayout:
		return 2 + 4 + t.idx[tTypeDef]
	case tFieldLayout:
		return 4 + t.idx[tField]
	case tStandAloneSig, tTypeSpec:
		return blob
	case tEventMap:
		return t.idx[tTypeDef] + t.idx[tEvent]
	case tEventPtr:
		return t.idx[tEvent]
	case tEvent:
		return 2 + str + typeDefOrRef()
	case tPropertyMap:
		return t.idx[tTypeDef] + t.idx[tProperty]
	case tPropertyPtr:
		return t.idx[tProperty]
	case tProperty:
		return 2 + str + blob
	case tMethodSemantics:
		return 2 + t.idx[tMethodDef] + t.coded(1, tEvent, tProperty)
	case tMethodImpl:
		return t.idx[tTypeDef] + t.coded(1, tMethodDef, tMemberRef)*2
	case tModuleRef:
		return str
	case tImplMap:
		return 2 + t.coded(1, tField, tMethodDef) + str + t.idx[tModuleRef]
	case tFieldRVA:
		return 4 + t.idx[tField]
	case tEncLog:
		return 4 + 4
	case tEncMap, tAssemblyProcessor:
		return 4
	case tAssembly:
		return 4 + 2 + 2 + 2 + 2 + 4 + blob + str*2
	case tAssemblyOS:
		return 4 + 4 + 4
	case tAssemblyRef:
		return 2 + 2 + 2 + 2 + 4 + blob*2 + str*2
	case tAssemblyRefProcessor:
		return 4 + t.idx[tAssemblyRefProcessor]
	case tAssemblyRefOS:
		return 4 + 4 + 4 + t.idx[tAssemblyRef]
	case tFile:
		return 4 + str + blob
	case tExportedType:
		return 4 + 4 + str*2 + t.coded(2, tFile, tAssemblyRef, tExportedType)
	case tManifestResource:
		return 4 + 4 + str + t.coded(2, tFile, tAssemblyRef)
	case tNestedClass:
		return t.idx[tTypeDef] * 2
	case tGenericParam:
		return 2 + 2 + t.coded(1, tTypeDef, tMethodDef) + str
	case tMethodSpec:
		return t.coded(1, tMethodDef, tMemberRef) + blob
	case tGenericParamConstraint:
		return t.idx[tGenericParam] + typeDefOrRef()
	}
	return 0
}

// hasCustomAttribute is the size of CustomAttribute's Parent column.
func (t *tables) hasCustomAttribute() int64 {
	return t.coded(5, tMethodDef, tField, tTypeRef, tTypeDef, tParam,
		tInterfaceImpl, tMemberRef, tModule, tProperty, tEvent, tStandAloneSig,
		tModuleRef, tTypeSpec, tAssembly, tAssemblyRef, tFile, tExportedType,
		tManifestResource, tGenericParam, tGenericParamConstraint, tMethodSpec)
}

// customAttributeType is the size of CustomAttribute's Type column.
func (t *tables) customAttributeType() int64 { return t.coded(3, tMethodDef, tMemberRef) }

// blobAt returns the file offset and length of the #Blob entry at index
// idx, or false if its prefix is invalid.
func (t *tables) blobAt(idx uint32) (off int64, length uint32, ok bool) {
	off = t.blobHeap + int64(idx)
	n, length := t.blobEntry(off)
	if n == 0 {
		return 0, 0, false
	}
	return off + n, length, true
}

// constants reports the string constants of the Constant table: rows of
// type ELEMENT_TYPE_STRING (read as 16 bits, the type and its padding)
// whose blob ends before the end of the data.
func (t *tables) constants(off, n int64) {
	size := t.rowSize(tConstant)
	parent := t.coded(2, tParam, tField, tProperty)
	arr := array(t.out, "constants")
	for range n {
		if !t.fits(off, size) {
			break
		}
		row := off
		off += size
		if t.u16(row) != elementString {
			continue
		}
		b, length, ok := t.blobAt(t.index(row+2+parent, t.blobIdx))
		if !ok || b+int64(length) >= int64(len(t.data)) {
			continue
		}
		arr.Items = append(arr.Items, t.strs.str(b, int64(length)))
	}
	t.out.Set("number_of_constants", int64(len(arr.Items)))
}

// moduleRefs reports the names of the ModuleRef table that can be read.
func (t *tables) moduleRefs(off, n int64) {
	arr := array(t.out, "modulerefs")
	for range n {
		if !t.fits(off, moduleRefRowCheck) {
			break
		}
		if name, ok := t.heapString(t.strHeap, t.index(off, t.strIdx)); ok {
			arr.Items = append(arr.Items, name)
		}
		off += t.strIdx
	}
	t.out.Set("number_of_modulerefs", int64(len(arr.Items)))
}

// fieldRVAs reports the file offsets of the FieldRVA table's RVAs that map
// into the data.
func (t *tables) fieldRVAs(off, n int64) {
	size := t.rowSize(tFieldRVA)
	arr := array(t.out, "field_offsets")
	for range n {
		if !t.fits(off, fieldRVARowCheck) {
			break
		}
		if fo := t.rvaToOffset(uint64(t.u32(off))); fo >= 0 {
			arr.Items = append(arr.Items, fo)
		}
		off += size
	}
	t.out.Set("number_of_field_offsets", int64(len(arr.Items)))
}

// version returns a version struct from four 16-bit fields at off.
func (t *tables) version(off int64) *module.Struct {
	return module.NewStruct().
		Set("major", int64(t.u16(off))).
		Set("minor", int64(t.u16(off+2))).
		Set("build_number", int64(t.u16(off+4))).
		Set("revision_number", int64(t.u16(off+6)))
}

// assembly reports the first row of the Assembly table; an empty culture
// is left undefined.
func (t *tables) assembly(row int64) {
	a := module.NewStruct().Set("version", t.version(row+4))
	name := row + 4 + 2*4 + 4 + t.blobIdx
	if s, ok := t.heapString(t.strHeap, t.index(name, t.strIdx)); ok {
		a.Set("name", s)
	}
	if s, ok := t.heapString(t.strHeap, t.index(name+t.strIdx, t.strIdx)); ok && s != "" {
		a.Set("culture", s)
	}
	t.out.Set("assembly", a)
}

// assemblyRefs reports the AssemblyRef table's rows, as far as they fit.
// A row whose public key blob is invalid keeps only its version.
func (t *tables) assemblyRefs(off, n int64) {
	size := t.rowSize(tAssemblyRef)
	arr := array(t.out, "assembly_refs")
	i := int64(0)
	for ; i < n; i++ {
		row := off + i*size
		if !t.fits(row, size) {
			break
		}
		ref := module.NewStruct().Set("version", t.version(row))
		arr.Items = append(arr.Items, ref)
		b, length, ok := t.blobAt(t.index(row+12, t.blobIdx))
		if !ok || !t.fits(b, int64(length)) {
			continue
		}
		if length > 0 {
			ref.Set("public_key_or_token", t.strs.str(b, int64(length)))
		}
		if s, ok := t.heapString(t.strHeap, t.index(row+12+t.blobIdx, t.strIdx)); ok {
			ref.Set("name", s)
		}
	}
	t.out.Set("number_of_assembly_refs", i)
}

// resources reports the ManifestResource rows that describe data in this
// file (Implementation 0) whose size field and size fit in the data. The
// size is checked from the start of its field, as yara does.
func (t *tables) resources(off, n int64) {
	impl := t.coded(2, tFile, tAssemblyRef)
	size := 4 + 4 + t.strIdx + impl
	arr := array(t.out, "resources")
	for range n {
		if !t.fits(off, size) {
			break
		}
		row := off
		off += size
		if t.index(row+8+t.strIdx, impl) != 0 {
			continue
		}
		at := t.resourceBase + int64(t.u32(row))
		if !t.fits(at, 4) {
			continue
		}
		length := t.u32(at)
		if !t.fits(at, int64(length)) {
			continue
		}
		r := module.NewStruct().Set("offset", at+4).Set("length", int64(length))
		if s, ok := t.heapString(t.strHeap, t.index(row+8, t.strIdx)); ok {
			r.Set("name", s)
		}
		arr.Items = append(arr.Items, r)
	}
	t.out.Set("number_of_resources", int64(len(arr.Items)))
}

// customAttributes finds the typelib: the value of a GuidAttribute on the
// assembly. A row qualifies when its Parent is an Assembly, its Type a
// MemberRef whose Class is a TypeRef named GuidAttribute (or whose name
// cannot be read, which yara lets through), and its value blob a
// well-formed attribute blob. Every qualifying row sets the typelib again;
// the walk stops at a MemberRef or TypeRef row outside the data. As in
// yara, the MemberRef Class column is read with the width of a MemberRef
// index, and row numbers wrap at 32 bits.
func (t *tables) customAttributes(off, n int64) {
	if t.typeRef < 0 || t.memberRef < 0 {
		return
	}
	parent := t.hasCustomAttribute()
	typ := t.customAttributeType()
	size := parent + typ + t.blobIdx
	scope := t.coded(2, tModule, tModuleRef, tAssemblyRef, tTypeRef)
	end := int64(len(t.data))
	for range n {
		if !t.fits(off, size) {
			break
		}
		row := off
		off += size
		if t.index(row, parent)&0x1f != 0x0e { // HasCustomAttribute tag: Assembly
			continue
		}
		ty := t.index(row+parent, typ)
		if ty&0x07 != 0x03 { // CustomAttributeType tag: MemberRef
			continue
		}
		mr := t.memberRef + int64(uint32(t.memRefRow)*rowNumber(ty>>3))
		if !t.fits(mr, t.memRefRow) {
			break
		}
		class := t.index(mr, t.idx[tMemberRef])
		if class&0x07 != 0x01 { // MemberRefParent tag: TypeRef
			continue
		}
		tr := t.typeRef + int64(uint32(t.typeRefRow)*rowNumber(class>>3))
		if !t.fits(tr, t.typeRefRow) {
			break
		}
		if name, ok := t.heapString(t.strHeap, t.index(tr+scope, t.strIdx)); ok && !hasPrefix(name, "GuidAttribute") {
			continue
		}
		bi := t.index(row+parent+typ, t.blobIdx)
		b := t.blobHeap + int64(bi)
		if bi == 0 || b >= end {
			continue
		}
		pn, length := t.blobEntry(b)
		if pn == 0 {
			continue
		}
		b += pn
		// A prolog of 0x0001, then a length byte and the string.
		if length < 3 || b+int64(length) >= end || t.u16(b) != 1 {
			continue
		}
		strLen := int64(t.data[b+2])
		b += 3
		if b+strLen > end {
			continue
		}
		lib := ""
		if c := t.data[b]; c != 0xff && c != 0 {
			s := t.data[b : b+strLen]
			if i := bytes.IndexByte(s, 0); i >= 0 {
				s = s[:i]
			}
			lib = t.strs.str(b, int64(len(s)))
		}
		t.out.Set("typelib", lib)
	}
}

// rowNumber turns a 1-based row number into a 0-based one; yara keeps 0.
func rowNumber(n uint32) uint32 {
	if n > 0 {
		return n - 1
	}
	return 0
}
