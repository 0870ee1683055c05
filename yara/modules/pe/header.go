package pe

import (
	"vigil/yara/module"
)

// parse computes the module data for data, in the order of yara's
// module_load: headers, resources and sections, rich signature, debug
// directory, signatures, imports, delayed imports, exports.
func parse(data []byte) *file {
	f := &file{data: data, root: module.NewStruct()}
	r := f.root
	for _, c := range constants {
		r.Fields[c.name] = c.value
	}
	setInt(r, "IMPORT_DELAYED", importDelayed)
	setInt(r, "IMPORT_STANDARD", importStandard)
	setInt(r, "IMPORT_ANY", importAny)
	setInt(r, "is_pe", 0)
	if !f.findHeader() {
		return f
	}
	f.isPE = true
	f.parseHeader()
	f.parseRichSignature()
	f.parseDebugDirectory()
	f.parseCertificates()
	f.imports = f.parseImports()
	f.delayed = f.parseDelayedImports()
	f.parseExports()
	return f
}

// parseHeader sets the file and optional header fields, the data
// directories, the resources, the sections and the overlay.
func (f *file) parseHeader() {
	r := f.root
	fh := f.nt + 4
	o := f.opt
	setInt(r, "is_pe", 1)
	setInt(r, "machine", int64(f.u16(fh)))
	setInt(r, "number_of_sections", int64(f.u16(fh+2)))
	setInt(r, "timestamp", int64(f.u32(fh+4)))
	setInt(r, "pointer_to_symbol_table", int64(f.u32(fh+8)))
	setInt(r, "number_of_symbols", int64(f.u32(fh+12)))
	setInt(r, "size_of_optional_header", int64(f.u16(fh+16)))
	setInt(r, "characteristics", int64(f.u16(fh+18)))

	entry := f.u32(o + 16)
	setInt(r, "entry_point", f.rvaToOffset(uint64(entry)))
	setInt(r, "entry_point_raw", int64(entry))
	setInt(r, "image_base", int64(f.imageBase()))
	setInt(r, "number_of_rva_and_sizes", int64(f.numberOfRvaAndSizes()))
	setInt(r, "opthdr_magic", int64(f.u16(o)))
	setInt(sub(r, "linker_version"), "major", int64(f.u8(o+2)))
	setInt(sub(r, "linker_version"), "minor", int64(f.u8(o+3)))
	setInt(r, "size_of_code", int64(f.u32(o+4)))
	setInt(r, "size_of_initialized_data", int64(f.u32(o+8)))
	setInt(r, "size_of_uninitialized_data", int64(f.u32(o+12)))
	setInt(r, "base_of_code", int64(f.u32(o+20)))
	if !f.is64 {
		setInt(r, "base_of_data", int64(f.u32(o+24)))
	}
	setInt(r, "section_alignment", int64(f.u32(o+32)))
	setInt(r, "file_alignment", int64(f.u32(o+36)))
	setInt(sub(r, "os_version"), "major", int64(f.u16(o+40)))
	setInt(sub(r, "os_version"), "minor", int64(f.u16(o+42)))
	setInt(sub(r, "image_version"), "major", int64(f.u16(o+44)))
	setInt(sub(r, "image_version"), "minor", int64(f.u16(o+46)))
	setInt(sub(r, "subsystem_version"), "major", int64(f.u16(o+48)))
	setInt(sub(r, "subsystem_version"), "minor", int64(f.u16(o+50)))
	setInt(r, "win32_version_value", int64(f.u32(o+52)))
	setInt(r, "size_of_image", int64(f.u32(o+56)))
	setInt(r, "size_of_headers", int64(f.u32(o+60)))
	setInt(r, "checksum", int64(f.u32(o+64)))
	setInt(r, "subsystem", int64(f.u16(o+68)))
	setInt(r, "dll_characteristics", int64(f.u16(o+70)))
	if f.is64 {
		setInt(r, "size_of_stack_reserve", int64(f.u64(o+72)))
		setInt(r, "size_of_stack_commit", int64(f.u64(o+80)))
		setInt(r, "size_of_heap_reserve", int64(f.u64(o+88)))
		setInt(r, "size_of_heap_commit", int64(f.u64(o+96)))
		setInt(r, "loader_flags", int64(f.u32(o+104)))
	} else {
		setInt(r, "size_of_stack_reserve", int64(f.u32(o+72)))
		setInt(r, "size_of_stack_commit", int64(f.u32(o+76)))
		setInt(r, "size_of_heap_reserve", int64(f.u32(o+80)))
		setInt(r, "size_of_heap_commit", int64(f.u32(o+84)))
		setInt(r, "loader_flags", int64(f.u32(o+88)))
	}

	// yara converts NumberOfRvaAndSizes to a C int, so a count with the
	// top bit set reads as negative and no directory is listed.
	dd := f.dataDirectories()
	count := min(int64(int32(f.numberOfRvaAndSizes())), maxDirectories)
	for i := int64(0); i < count; i++ {
		d := dd + i*dataDirectorySize
		if !f.fits(d, dataDirectorySize) {
			break
		}
		e := item(r, "data_directories", int(i))
		setInt(e, "virtual_address", int64(f.u32(d)))
		setInt(e, "size", int64(f.u32(d+4)))
	}

	rs := f.parseResources()
	setInt(r, "number_of_resources", int64(rs.count))
	setInt(r, "number_of_version_infos", int64(rs.versionInfos))

	f.parseSections()
}

// parseSections sets sections[] and the overlay.
func (f *file) parseSections() {
	r := f.root
	var highestOffset, highestSize uint64
	n := f.numberOfSections()
	for i := int64(0); i < n; i++ {
		s := f.sections + i*sectionHeaderSize
		if !f.fits(s, sectionHeaderSize) {
			break
		}
		raw := f.data[s : s+8]
		nameLen := 8
		for nameLen > 0 && raw[nameLen-1] == 0 {
			nameLen--
		}
		name := string(raw[:nameLen])
		e := item(r, "sections", int(i))
		e.Fields["name"] = name
		if full, ok := f.sectionFullName(name); ok {
			e.Fields["full_name"] = full
		}
		setInt(e, "characteristics", int64(f.u32(s+36)))
		setInt(e, "raw_data_size", int64(f.u32(s+16)))
		setInt(e, "raw_data_offset", int64(f.u32(s+20)))
		setInt(e, "virtual_address", int64(f.u32(s+12)))
		setInt(e, "virtual_size", int64(f.u32(s+8)))
		setInt(e, "pointer_to_relocations", int64(f.u32(s+24)))
		setInt(e, "pointer_to_line_numbers", int64(f.u32(s+28)))
		setInt(e, "number_of_relocations", int64(f.u16(s+32)))
		setInt(e, "number_of_line_numbers", int64(f.u16(s+34)))

		off, size := uint64(f.u32(s+20)), uint64(f.u32(s+16))
		if off+size > highestOffset+highestSize {
			highestOffset, highestSize = off, size
		}
	}
	end := highestOffset + highestSize
	ov := sub(r, "overlay")
	if end != 0 && uint64(f.size()) > end {
		setInt(ov, "offset", int64(end))
		setInt(ov, "size", int64(uint64(f.size())-end))
	} else {
		setInt(ov, "offset", 0)
		setInt(ov, "size", 0)
	}
}

// sectionFullName is yara's pe_get_section_full_name: a name "/N" refers
// to offset N of the COFF string table when the file has a symbol table.
// ok is false where yara leaves full_name undefined.
func (f *file) sectionFullName(name string) (string, bool) {
	symtab := uint64(f.u32(f.nt + 4 + 8))
	if symtab == 0 || len(name) == 0 || name[0] != '/' {
		return name, true
	}
	nsyms := uint64(f.u32(f.nt + 4 + 12))
	var index uint64
	for i := 1; i < 8 && i < len(name) && name[i] >= '0' && name[i] <= '9'; i++ {
		index = index*10 + uint64(name[i]-'0')
	}
	start := symtab + nsyms*18 + index
	if start >= uint64(f.size()) {
		return "", false
	}
	for p := int64(start); p < f.size(); p++ {
		c := f.data[p]
		if c == 0 {
			return string(f.data[start:p]), true
		}
		if c < 0x20 || c > 0x7e {
			return "", false
		}
	}
	return "", false
}
