package pe

import (
	"encoding/binary"
)

const (
	richMarker = 0x68636952 // "Rich"
	dansMarker = 0x536e6144 // "DanS"
)

// parseRichSignature finds the Rich header between the DOS header and the
// NT headers, searching backwards from the NT headers as yara does.
func (f *file) parseRichSignature() {
	nt := f.nt
	if nt > f.size()+4 || nt < 4 {
		return
	}
	var key uint32
	rich := int64(-1)
	p := nt - 4
	for ; p >= dosHeaderSize; p -= 4 {
		if f.u32(p) == richMarker {
			key = f.u32(p + 4)
			rich = p
			p -= 4
			break
		}
	}
	if key == 0 {
		return
	}
	start := int64(-1)
	for ; p >= dosHeaderSize; p -= 4 {
		if f.u32(p)^key == dansMarker {
			start = p
			break
		}
	}
	if start < 0 {
		return
	}
	k1, k2, k3 := f.u32(start+4), f.u32(start+8), f.u32(start+12)
	if k1 != k2 || k2 != k3 || f.u32(start)^k1 != dansMarker {
		return
	}
	raw := f.data[start:rich]
	clear := make([]byte, len(raw))
	for i := 0; i+4 <= len(raw); i += 4 {
		binary.LittleEndian.PutUint32(clear[i:], binary.LittleEndian.Uint32(raw[i:])^k1)
	}
	rs := sub(f.root, "rich_signature")
	setInt(rs, "offset", start)
	setInt(rs, "length", int64(len(raw)))
	setInt(rs, "key", int64(k1))
	rs.Fields["raw_data"] = string(raw)
	rs.Fields["clear_data"] = string(clear)
}

// parseDebugDirectory sets pdb_path from the first CodeView debug entry
// that names one.
func (f *file) parseDebugDirectory() {
	const entrySize = 28 // IMAGE_DEBUG_DIRECTORY
	d := f.directory(directoryDebug)
	if d < 0 {
		return
	}
	size, va := f.u32(d+4), f.u32(d)
	if size == 0 || size%entrySize != 0 || va == 0 {
		return
	}
	off := f.rvaToOffset(uint64(va))
	if off < 0 {
		return
	}
	pdb := int64(-1)
	for i := int64(0); i < int64(size/entrySize); i++ {
		e := off + i*entrySize
		if !f.fits(e, entrySize) {
			break
		}
		if f.u32(e+12) != 2 { // IMAGE_DEBUG_TYPE_CODEVIEW
			continue
		}
		var cv int64
		if rva := f.u32(e + 20); rva != 0 {
			cv = f.rvaToOffset(uint64(rva))
		}
		if raw := f.u32(e + 24); cv <= 0 && raw != 0 {
			cv = int64(raw)
		}
		if cv <= 0 || !f.fits(cv, 8) {
			continue
		}
		// The CodeView structures are packed: the name follows a
		// header of 16 (NB10), 24 (RSDS) or 20 (MTOC) bytes, and
		// yara wants one byte of name to fit.
		switch f.u32(cv) {
		case 0x3031424e: // "NB10"
			if f.fits(cv, 17) {
				pdb = cv + 16
			}
		case 0x53445352: // "RSDS"
			if f.fits(cv, 25) {
				pdb = cv + 24
			}
		case 0x434f544d: // "MTOC"
			if f.fits(cv, 21) {
				pdb = cv + 20
			}
		}
		if pdb >= 0 {
			name := f.cstring(pdb, maxPath)
			if len(name) > 0 && len(name) < maxPath {
				f.root.Fields["pdb_path"] = string(name)
				return
			}
		}
	}
}
