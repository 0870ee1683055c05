package dotnet

import (
	"bytes"
	"fmt"

	"vigil/yara/module"
)

// Limits and layout of the CLI metadata, as yara 4.2.3 has them.
const (
	cliHeaderSize   = 72         // sizeof(CLI_HEADER); the header's Size must equal it
	metadataSize    = 16         // sizeof(NET_METADATA) without the version string
	metadataMagic   = 0x424a5342 // "BSJB"
	maxVersionLen   = 255        // longest metadata version field accepted
	streamHeaderLen = 8          // Offset and Size, before the name
	streamNameSize  = 32         // DOTNET_STREAM_NAME_SIZE: a name's NUL must be within it
	guidSize        = 16
	maxGUIDBytes    = 256  // yara reads at most 16 GUIDs
	maxNameLen      = 1024 // longer #Strings entries are ignored
)

// dotnet holds what one Load computes.
type dotnet struct {
	*peFile
	out  *module.Struct
	strs *strPool
}

// load computes the module's data for data.
func load(data []byte) *module.Struct {
	out := module.NewStruct()
	p, ok := parsePE(data)
	if !ok {
		return out
	}
	d := &dotnet{peFile: p, out: out, strs: &strPool{data: data}}
	d.parse()
	return out
}

// isDotnet returns the file offsets of the CLI header and of the metadata
// root if the file passes yara's dotnet_is_dotnet checks.
func (d *dotnet) isDotnet() (cli, root int64, ok bool) {
	dir, ok := d.comDirectory()
	if !ok {
		return 0, 0, false
	}
	cli = d.rvaToOffset(uint64(d.u32(dir)))
	if cli < 0 || !d.fits(cli, cliHeaderSize) || d.u32(cli) != cliHeaderSize {
		return 0, 0, false
	}
	root = d.rvaToOffset(uint64(d.u32(cli + 8)))
	if !d.fits(root, metadataSize) || d.u32(root) != metadataMagic {
		return 0, 0, false
	}
	n := d.u32(root + 12)
	if n == 0 || n > maxVersionLen || n%4 != 0 || !d.fits(root+metadataSize, int64(n)) {
		return 0, 0, false
	}
	if d.is64 {
		if d.numberOfRvaAndSizes() < comDescriptor {
			return 0, 0, false
		}
	} else if d.characteristics()&fileDLL == 0 {
		// A 32-bit executable's entry point must be "jmp [addr]" (FF 25).
		entry := d.rvaToOffset(uint64(d.entryPoint()))
		if entry < 0 || !d.fits(entry, 2) || d.data[entry] != 0xff || d.data[entry+1] != 0x25 {
			return 0, 0, false
		}
	}
	return cli, root, true
}

// streams are the stream headers the module uses: offsets of their
// headers, or -1.
type streams struct {
	tilde, strings, blob, us, guid int64
}

// parse fills d.out, as yara's dotnet_parse_com.
func (d *dotnet) parse() {
	cli, root, ok := d.isDotnet()
	if !ok {
		d.out.Set("is_dotnet", int64(0))
		return
	}
	d.out.Set("is_dotnet", int64(1))
	n := int64(d.u32(root + 12))
	version := d.data[root+metadataSize : root+metadataSize+n]
	if i := bytes.IndexByte(version, 0); i >= 0 {
		d.out.Set("version", d.strs.str(root+metadataSize, int64(i)))
	}
	// Flags (2 bytes), then the number of streams, of which yara reads only
	// the low byte.
	off := root + metadataSize + n + 2
	if !d.fits(off, 2) {
		return
	}
	s := d.streamHeaders(off+2, root, int(d.data[off]))
	if s.guid >= 0 {
		d.guids(root, s.guid)
	}
	if s.tilde >= 0 && s.strings >= 0 && s.blob >= 0 {
		t := &tables{dotnet: d, root: root, cli: cli, s: s}
		t.parse()
	}
	if s.us >= 0 {
		d.userStrings(root, s.us)
	}
}

// streamHeaders reads up to count stream headers at off into streams[] and
// returns the ones the module uses. Names match by prefix, as in yara: the
// first "#~" or "#-", "#Strings" and "#US" win, the last "#GUID" and
// "#Blob".
func (d *dotnet) streamHeaders(off, root int64, count int) streams {
	s := streams{tilde: -1, strings: -1, blob: -1, us: -1, guid: -1}
	arr := array(d.out, "streams")
	i := 0
	for ; i < count; i++ {
		if !d.fits(off, streamHeaderLen) || !d.fits(off+streamHeaderLen, streamNameSize) {
			break
		}
		raw := d.data[off+streamHeaderLen : off+streamHeaderLen+streamNameSize]
		nameLen := bytes.IndexByte(raw, 0)
		if nameLen < 0 {
			break
		}
		name := string(raw[:nameLen])
		arr.Items = append(arr.Items, module.NewStruct().
			Set("name", name).
			Set("offset", root+int64(d.u32(off))).
			Set("size", int64(d.u32(off+4))))
		switch {
		case hasPrefix(name, "#~") || hasPrefix(name, "#-"):
			if s.tilde < 0 {
				s.tilde = off
			}
		case hasPrefix(name, "#GUID"):
			s.guid = off
		case hasPrefix(name, "#Strings"):
			if s.strings < 0 {
				s.strings = off
			}
		case hasPrefix(name, "#Blob"):
			s.blob = off
		case hasPrefix(name, "#US"):
			if s.us < 0 {
				s.us = off
			}
		}
		// The name is NUL-terminated and padded to a multiple of 4.
		off += streamHeaderLen + int64(nameLen) + 4 - int64(nameLen%4)
	}
	d.out.Set("number_of_streams", int64(i))
	return s
}

func hasPrefix(s, prefix string) bool { return len(s) >= len(prefix) && s[:len(prefix)] == prefix }

// guids reads the #GUID heap: at most maxGUIDBytes of it, stopping at the
// end of the data.
func (d *dotnet) guids(root, hdr int64) {
	off := root + int64(d.u32(hdr))
	size := min(d.u32(hdr+4), maxGUIDBytes)
	arr := array(d.out, "guids")
	for size >= guidSize && d.fits(off, guidSize) {
		b := d.data[off:]
		arr.Items = append(arr.Items, fmt.Sprintf("%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x",
			d.u32(off), d.u16(off+4), d.u16(off+6), b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
		size -= guidSize
		off += guidSize
	}
	d.out.Set("number_of_guids", int64(len(arr.Items)))
}

// blobEntry decodes the compressed length at off in the #Blob or #US heap
// (ECMA-335 II.24.2.4). size is the length of the prefix, 0 if it is
// invalid or truncated. As yara does, length is one less than the encoded
// length (it drops the terminal byte of #US entries, for #Blob entries too).
// A 4-byte prefix needs a fifth byte after it.
func (d *dotnet) blobEntry(off int64) (size int64, length uint32) {
	if !d.fits(off, 1) {
		return 0, 0
	}
	b := uint32(d.data[off])
	switch {
	case b&0x80 == 0:
		size, length = 1, b
	case b&0xc0 == 0x80:
		if !d.fits(off, 2) {
			return 0, 0
		}
		size, length = 2, (b&0x3f)<<8|d.u8(off+1)
	case off+4 < int64(len(d.data)) && b&0xe0 == 0xc0:
		size, length = 4, (b&0x1f)<<24|d.u8(off+1)<<16|d.u8(off+2)<<8|d.u8(off+3)
	default:
		return 0, 0
	}
	if length > 0 {
		length--
	}
	return size, length
}

// userStrings reads the #US heap, which must fit in the data and start
// with a NUL byte. Empty entries are skipped; an entry running past the
// data is skipped but its bytes are then read as the next prefixes.
func (d *dotnet) userStrings(root, hdr int64) {
	size := int64(d.u32(hdr + 4))
	off := root + int64(d.u32(hdr))
	end := off + size
	if size == 0 || !d.fits(off, size) || d.data[off] != 0 {
		return
	}
	arr := array(d.out, "user_strings")
	for off++; off < end; {
		n, length := d.blobEntry(off)
		if n == 0 {
			break
		}
		off += n
		if length > 0 && d.fits(off, int64(length)) {
			arr.Items = append(arr.Items, d.strs.str(off, int64(length)))
			off += int64(length)
		}
	}
	d.out.Set("number_of_user_strings", int64(len(arr.Items)))
}

// heapString returns the NUL-terminated string at index idx of the heap at
// heap (a file offset), or false if it starts outside the data, has no NUL
// before the end of the data or is longer than maxNameLen.
func (d *dotnet) heapString(heap int64, idx uint32) (string, bool) {
	start := heap + int64(idx)
	if start < 0 || start >= int64(len(d.data)) {
		return "", false
	}
	b := d.data[start:min(int64(len(d.data)), start+maxNameLen+1)]
	n := bytes.IndexByte(b, 0)
	if n < 0 {
		return "", false
	}
	return d.strs.str(start, int64(n)), true
}

// strPool makes strings of parts of the data. Crafted tables can point
// many entries at the same large blob; past a budget of one data size of
// copies, strings become slices of a single copy of the data, so memory
// stays within twice the data size.
type strPool struct {
	data   []byte
	whole  string
	shared bool
	copied int64
}

// str returns data[off:off+n] as a string; the caller has checked bounds.
func (p *strPool) str(off, n int64) string {
	if !p.shared && p.copied+n > int64(len(p.data)) {
		p.whole, p.shared = string(p.data), true
	}
	if p.shared {
		return p.whole[off : off+n]
	}
	p.copied += n
	return string(p.data[off : off+n])
}

// array returns a new empty array set as field name of s.
func array(s *module.Struct, name string) *module.Array {
	a := &module.Array{}
	s.Set(name, a)
	return a
}
