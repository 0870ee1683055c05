package pe

const exportDirectorySize = 40 // IMAGE_EXPORT_DIRECTORY

// parseExports reads the export directory as yara's pe_parse_exports does.
func (f *file) parseExports() {
	r := f.root
	setInt(r, "number_of_exports", 0)
	d := f.directory(directoryExport)
	if d < 0 || f.u32(d) == 0 {
		return
	}
	start := f.rvaToOffset(uint64(f.u32(d)))
	if start < 0 || !f.fits(start, exportDirectorySize) {
		return
	}
	exportSize := int64(f.u32(d + 4))
	e := start
	numFuncs := min(int64(f.u32(e+20)), maxExports)
	numNamesRaw := int64(f.u32(e + 24))
	base := f.u32(e + 16)
	setInt(r, "export_timestamp", int64(f.u32(e+4)))

	off := f.rvaToOffset(uint64(f.u32(e + 12)))
	if off > 0 {
		r.Fields["dll_name"] = string(f.cstring(off, f.size()))
	}
	// yara compares against the space after the DLL name (or after -1
	// where the name is not mapped), not after the function table.
	if uint64(numFuncs)*4 > uint64(f.size()-off) {
		return
	}
	names := int64(-1)
	if numNamesRaw > 0 {
		names = f.rvaToOffset(uint64(f.u32(e + 32)))
		if names < 0 || uint64(numNamesRaw)*4 > uint64(f.size()-names) {
			return
		}
	}
	ordinals := f.rvaToOffset(uint64(f.u32(e + 36)))
	if ordinals < 0 || f.available(ordinals) < 2*numFuncs {
		return
	}
	funcs := f.rvaToOffset(uint64(f.u32(e + 28)))
	if funcs < 0 || f.available(funcs) < 4*numFuncs {
		return
	}
	numNames := min(numNamesRaw, numFuncs)

	// nameOf[i] is the first j < numNames whose ordinal entry is i: the
	// name yara finds for export i scanning the ordinal table in order.
	nameOf := make(map[uint16]int64)
	if names >= 0 {
		for j := int64(0); j < numNames; j++ {
			o := f.u16(ordinals + 2*j)
			if _, seen := nameOf[o]; !seen {
				nameOf[o] = j
			}
		}
	}
	for i := int64(0); i < numFuncs; i++ {
		x := item(r, "export_details", int(i))
		setInt(x, "ordinal", int64(uint32(base)+uint32(i)))
		fo := f.rvaToOffset(uint64(f.u32(funcs + 4*i)))
		if fo > start && fo < start+exportSize {
			x.Fields["forward_name"] = string(f.cstring(fo, maxExportNameLen))
		} else {
			setInt(x, "offset", fo)
		}
		if names < 0 || i > 0xffff {
			continue
		}
		if j, ok := nameOf[uint16(i)]; ok {
			if no := f.rvaToOffset(uint64(f.u32(names + 4*j))); no > 0 {
				x.Fields["name"] = string(f.cstring(no, maxExportNameLen))
			}
		}
	}
	setInt(r, "number_of_exports", numFuncs)
}
