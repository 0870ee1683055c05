package pe

import (
	"vigil/yara/module"
)

// Sizes of the resource structures.
const (
	resourceDirSize   = 16
	resourceEntrySize = 8
	resourceDataSize  = 16
	resourceTypeVer   = 16 // RT_VERSION
	versionInfoSize   = 6  // VERSION_INFO: Length, ValueLength, Type
)

// resourceWalk is the state of one walk of the resource tree.
type resourceWalk struct {
	f      *file
	base   int64 // file offset of the resource section's root directory
	count  int   // resources collected
	visits int   // directory entries visited, bounded by maxResourceVisits

	versionInfos int
}

// resourceKey is what the walk knows about the resource being reached: the
// type, name and language IDs (int as in yara, so a named entry's ID is
// negative) and their names, where the entry has one (offset of an
// IMAGE_RESOURCE_DIR_STRING_U, or -1).
type resourceKey struct {
	typ, id, lang          int32
	typStr, idStr, langStr int64
}

// parseResources walks the resource directory as yara's
// pe_iterate_resources does, collecting resources[] and version_info.
func (f *file) parseResources() *resourceWalk {
	w := &resourceWalk{f: f}
	d := f.directory(directoryResource)
	if d < 0 {
		return w
	}
	va := f.u32(d)
	if va == 0 {
		return w
	}
	off := f.rvaToOffset(uint64(va))
	if off < 0 || !f.fits(off, resourceDirSize) {
		return w
	}
	r := f.root
	setInt(r, "resource_timestamp", int64(f.u32(off+4)))
	setInt(sub(r, "resource_version"), "major", int64(f.u16(off+8)))
	setInt(sub(r, "resource_version"), "minor", int64(f.u16(off+10)))
	w.base = off
	key := resourceKey{typ: -1, id: -1, lang: -1, typStr: -1, idStr: -1, langStr: -1}
	w.walk(off, 0, &key)
	return w
}

// walk visits the directory at dir, at tree level 0 (types), 1 (names) or
// 2 (languages). It reports false when the walk is aborted.
func (w *resourceWalk) walk(dir int64, level int, key *resourceKey) bool {
	f := w.f
	named, ids := f.u16(dir+12), f.u16(dir+14)
	if f.u32(dir) != 0 || named > maxResourceEntries || ids > maxResourceEntries {
		return true
	}
	// The type and language IDs are shared by the whole walk, as in yara;
	// the names belong to this level and its subtree.
	typStr, idStr, langStr := key.typStr, key.idStr, key.langStr
	entry := dir + resourceDirSize
	for i := 0; i < int(named)+int(ids); i++ {
		if !f.fits(entry, resourceEntrySize) {
			return false
		}
		w.visits++
		if w.visits > maxResourceVisits || w.count > maxResources {
			// Nothing more can be collected: yara goes on
			// walking without effect.
			return false
		}
		name := f.u32(entry)
		switch level {
		case 0:
			key.typ = int32(name)
			typStr = w.resourceName(name)
		case 1:
			key.id = int32(name)
			idStr = w.resourceName(name)
		case 2:
			key.lang = int32(name)
			langStr = w.resourceName(name)
		}
		target := f.u32(entry + 4)
		ok := true
		if target&0x80000000 != 0 && level < 2 {
			d := w.base + int64(target&0x7fffffff)
			if f.fits(d, resourceDirSize) {
				saved := *key
				key.typStr, key.idStr, key.langStr = typStr, idStr, langStr
				ok = w.walk(d, level+1, key)
				key.typStr, key.idStr, key.langStr = saved.typStr, saved.idStr, saved.langStr
			} else {
				ok = false
			}
		} else {
			d := w.base + int64(target&0x7fffffff)
			if f.fits(d, resourceDataSize) {
				k := *key
				k.typStr, k.idStr, k.langStr = typStr, idStr, langStr
				w.collect(d, &k)
			} else {
				ok = false
			}
		}
		if !ok {
			return false
		}
		entry += resourceEntrySize
	}
	return true
}

// resourceName is yara's parse_resource_name: the offset of the
// IMAGE_RESOURCE_DIR_STRING_U an entry names, or -1.
func (w *resourceWalk) resourceName(name uint32) int64 {
	if name&0x80000000 == 0 {
		return -1
	}
	f := w.f
	p := w.base + int64(name&0x7fffffff)
	if !f.fits(p, 2) {
		return -1
	}
	if !f.fits(p, 2+int64(f.u16(p))*2) {
		return -1
	}
	return p
}

// collect records the resource whose data entry is at d (yara's
// pe_collect_resources).
func (w *resourceWalk) collect(d int64, k *resourceKey) {
	f := w.f
	e := item(f.root, "resources", w.count)
	rva := f.u32(d)
	setInt(e, "rva", int64(rva))
	off := f.rvaToOffset(uint64(rva))
	if off < 0 {
		off = undefined
	}
	setInt(e, "offset", off)
	setInt(e, "length", int64(f.u32(d+4)))
	w.setStringOrID(e, k.typStr, k.typ, "type_string", "type")
	w.setStringOrID(e, k.idStr, k.id, "name_string", "id")
	w.setStringOrID(e, k.langStr, k.lang, "language_string", "language")
	if k.typ == resourceTypeVer {
		w.parseVersionInfo(d)
	}
	w.count++
}

func (w *resourceWalk) setStringOrID(e *module.Struct, str int64, id int32, strField, idField string) {
	f := w.f
	if str < 0 {
		setInt(e, idField, int64(id))
		return
	}
	n := int64(f.u16(str)) * 2
	if f.fits(str+2, n) {
		e.Fields[strField] = string(f.data[str+2 : str+2+n])
	}
}

// align4 is yara's ADD_OFFSET rounding.
func align4(n int64) int64 { return (n + 3) &^ 3 }

// wideFits is yara's wide_string_fits_in_pe: a UTF-16 NUL ends the string
// at an even distance from p before the end of data.
func (f *file) wideFits(p int64) bool { return f.wideEnd(p) >= 0 }

// wideLen is yara's strnlen_w; call it only where wideFits holds.
func (f *file) wideLen(p int64) int64 { return (f.wideEnd(p) - p) / 2 }

// wideNarrow is yara's strlcpy_w into a buffer of size n: the low byte of
// each UTF-16 unit up to the first unit whose low byte is zero, at most
// n-1 bytes. Call it only where wideFits holds.
func (f *file) wideNarrow(p int64, n int) string {
	var b []byte
	for len(b) < n-1 && f.data[p] != 0 {
		b = append(b, f.data[p])
		p += 2
	}
	return string(b)
}

// wideEquals is yara's strcmp_w(w, s) == 0 for the key at p; the caller
// has checked that 2*(len(s)+1) bytes fit.
func (f *file) wideEquals(p int64, s string) bool {
	for i := 0; i < len(s); i++ {
		if f.data[p] != s[i] || f.data[p+1] != 0 {
			return false
		}
		p += 2
	}
	return f.data[p] == 0 && f.data[p+1] == 0
}

// parseVersionInfo reads the VS_VERSION_INFO resource whose data entry is
// at d, as yara's pe_parse_version_info does.
func (w *resourceWalk) parseVersionInfo(d int64) {
	f := w.f
	vi := f.rvaToOffset(uint64(f.u32(d)))
	if vi < 0 || !f.fits(vi, versionInfoSize) {
		return
	}
	keyFits := func(p int64, s string) bool { return f.fits(p+versionInfoSize, int64(len(s)+1)*2) }
	if !keyFits(vi, "VS_VERSION_INFO") || !f.wideEquals(vi+versionInfoSize, "VS_VERSION_INFO") {
		return
	}
	vi += align4(versionInfoSize + 86)
	for keyFits(vi, "VarFileInfo") && f.wideEquals(vi+versionInfoSize, "VarFileInfo") && f.u16(vi) != 0 {
		vi += align4(int64(f.u16(vi)))
	}
	for keyFits(vi, "StringFileInfo") && f.wideEquals(vi+versionInfoSize, "StringFileInfo") && f.u16(vi) != 0 {
		table := vi + align4(versionInfoSize+30)
		vi += align4(int64(f.u16(vi)))
		for f.fits(table, versionInfoSize) && f.wideFits(table+versionInfoSize) && f.u16(table) != 0 && table < vi {
			str := table + align4(versionInfoSize+2*(f.wideLen(table+versionInfoSize)+1))
			table += align4(int64(f.u16(table)))
			for f.fits(str, versionInfoSize) && f.wideFits(str+versionInfoSize) && f.u16(str) != 0 && str < table {
				value := str + align4(versionInfoSize+2*(f.wideLen(str+versionInfoSize)+1))
				if f.wideFits(value) {
					k := f.wideNarrow(str+versionInfoSize, 64)
					v := f.wideNarrow(value, 256)
					if f.u16(str+2) == 0 {
						v = ""
					}
					w.addVersionInfo(k, v)
				}
				str += align4(int64(f.u16(str)))
			}
		}
	}
}

func (w *resourceWalk) addVersionInfo(k, v string) {
	r := w.f.root
	d, ok := r.Fields["version_info"].(*module.Dict)
	if !ok {
		d = &module.Dict{Items: map[string]module.Value{}}
		r.Fields["version_info"] = d
	}
	if _, dup := d.Items[k]; !dup {
		d.Keys = append(d.Keys, k)
	}
	d.Items[k] = v
	e := item(r, "version_info_list", w.versionInfos)
	e.Fields["key"] = k
	e.Fields["value"] = v
	w.versionInfos++
}
