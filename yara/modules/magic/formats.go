package magic

import (
	"bytes"
	"fmt"
	"strings"
)

// gzipOS names the gzip OS byte as libmagic does.
var gzipOS = map[byte]string{
	0: "FAT filesystem (MS-DOS, OS/2, NT)", 1: "Amiga", 2: "VMS", 3: "Unix",
	4: "VM/CMS", 5: "Atari", 6: "HPFS filesystem (OS/2, NT)", 7: "MacOS",
	8: "Z-System", 9: "CP/M", 10: "TOPS-20", 11: "NTFS filesystem (NT)",
	12: "QDOS", 13: "Acorn RISCOS",
}

func detectGzip(b []byte) result {
	if byteAt(b, 2) != 8 {
		return result{"gzip compressed data, reserved method", "application/gzip"}
	}
	var sb strings.Builder
	sb.WriteString("gzip compressed data")
	flags := byteAt(b, 3)
	if flags&0x08 != 0 && flags&0x04 == 0 {
		fmt.Fprintf(&sb, ", was %q", cstring(b, 10, 256))
	}
	if mt := le32(b, 4); mt != 0 {
		sb.WriteString(", last modified: " + ctime(int64(mt)))
	}
	switch byteAt(b, 8) {
	case 2:
		sb.WriteString(", max compression")
	case 4:
		sb.WriteString(", max speed")
	}
	if os, ok := gzipOS[byteAt(b, 9)]; ok {
		sb.WriteString(", from " + os)
	}
	return result{sb.String(), "application/gzip"}
}

func xzCheck(b []byte) string {
	switch byteAt(b, 7) & 0xf {
	case 0:
		return "NONE"
	case 1:
		return "CRC32"
	case 4:
		return "CRC64"
	case 10:
		return "SHA-256"
	}
	return "Unknown"
}

// zipMethods names zip compression methods.
var zipMethods = map[uint16]string{0: "store", 8: "deflate", 9: "deflate64", 12: "bzip2", 14: "lzma", 93: "zstd", 95: "xz"}

func detectZip(b []byte) result {
	name := cstringN(b, 30, int(le16(b, 26)))
	// A jar starts with META-INF/ carrying the 0xcafe extra field.
	if name == "META-INF/" && le16(b, 28) >= 4 && le16(b, 30+9) == 0xcafe {
		return result{"Java archive data (JAR)", "application/java-archive"}
	}
	if name == "mimetype" && le16(b, 8) == 0 {
		mt := cstringN(b, 38, int(le32(b, 18)))
		switch mt {
		case "application/epub+zip":
			return result{"EPUB document", mt}
		case "application/vnd.oasis.opendocument.text":
			return result{"OpenDocument Text", mt}
		case "application/vnd.oasis.opendocument.spreadsheet":
			return result{"OpenDocument Spreadsheet", mt}
		}
	}
	v := le16(b, 4)
	s := fmt.Sprintf("Zip archive data, at least v%d.%d to extract", v/10, v%10)
	m := le16(b, 8)
	if mn, ok := zipMethods[m]; ok {
		s += ", compression method=" + mn
	} else {
		s += fmt.Sprintf(", compression method=%d", m)
	}
	return result{s, "application/zip"}
}

// cstringN returns n bytes at off, clipped to b.
func cstringN(b []byte, off, n int) string {
	if off < 0 || off >= len(b) || n <= 0 {
		return ""
	}
	return string(b[off:min(len(b), off+n)])
}

func detectPDF(b []byte) result {
	s := "PDF document"
	if len(b) >= 8 {
		s += fmt.Sprintf(", version %c.%c", b[5], b[7])
	}
	// libmagic reports the first page count it finds.
	if i := bytes.Index(b, []byte("/Count ")); i >= 0 {
		j := i + len("/Count ")
		k := j
		for k < len(b) && k-j < 10 && b[k] >= '0' && b[k] <= '9' {
			k++
		}
		if k > j {
			s += ", " + string(b[j:k]) + " pages"
		}
	}
	return result{s, "application/pdf"}
}

var pngColors = map[byte]string{0: "grayscale", 2: "color RGB", 3: "colormap", 4: "gray+alpha", 6: "color RGBA"}

func detectPNG(b []byte) result {
	if !at(b, 12, "IHDR") {
		return result{"PNG image data", "image/png"}
	}
	s := fmt.Sprintf("PNG image data, %d x %d", be32(b, 16), be32(b, 20))
	depth, color := byteAt(b, 24), byteAt(b, 25)
	if c, ok := pngColors[color]; ok {
		if color == 2 || color == 6 {
			s += fmt.Sprintf(", %d-bit/%s", depth, c)
		} else {
			s += fmt.Sprintf(", %d-bit %s", depth, c)
		}
	}
	if byteAt(b, 28) == 0 {
		s += ", non-interlaced"
	} else {
		s += ", interlaced"
	}
	return result{s, "image/png"}
}

// detectJPEG describes a JFIF header, if any, and the first frame header.
func detectJPEG(b []byte) result {
	var sb strings.Builder
	sb.WriteString("JPEG image data")
	if at(b, 6, "JFIF\x00") {
		fmt.Fprintf(&sb, ", JFIF standard %d.%02d", byteAt(b, 11), byteAt(b, 12))
		switch byteAt(b, 13) {
		case 0:
			sb.WriteString(", aspect ratio")
		case 1:
			sb.WriteString(", resolution (DPI)")
		case 2:
			sb.WriteString(", resolution (DPCM)")
		}
		fmt.Fprintf(&sb, ", density %dx%d", be16(b, 14), be16(b, 16))
		fmt.Fprintf(&sb, ", segment length %d", be16(b, 4))
		if tw, th := byteAt(b, 18), byteAt(b, 19); tw != 0 || th != 0 {
			fmt.Fprintf(&sb, ", thumbnail %dx%d", tw, th)
		}
	}
	sb.WriteString(jpegFrame(b))
	return result{sb.String(), "image/jpeg"}
}

// maxJPEGSegments bounds the segment walk to the first frame header.
const maxJPEGSegments = 256

// jpegFrame walks the segments to the first frame header and describes it.
func jpegFrame(b []byte) string {
	off := 2
	for steps := 0; steps < maxJPEGSegments && off+4 <= len(b); steps++ {
		if b[off] != 0xff {
			return ""
		}
		m := b[off+1]
		if m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc {
			var s string
			switch m {
			case 0xc0:
				s = ", baseline"
			case 0xc1:
				s = ", extended sequential"
			case 0xc2:
				s = ", progressive"
			}
			return s + fmt.Sprintf(", precision %d, %dx%d, components %d",
				byteAt(b, off+4), be16(b, off+7), be16(b, off+5), byteAt(b, off+9))
		}
		n := int(be16(b, off+2))
		if n < 2 {
			return ""
		}
		off += 2 + n
	}
	return ""
}

func detectSQLite(b []byte) result {
	s := "SQLite 3.x database"
	if uv := be32(b, 60); uv != 0 {
		s += fmt.Sprintf(", user version %d", uv)
	}
	if len(b) >= 100 {
		s += fmt.Sprintf(", last written using SQLite version %d, file counter %d, database pages %d, cookie %#x, schema %d",
			be32(b, 96), be32(b, 24), be32(b, 28), be32(b, 40), be32(b, 44))
		switch be32(b, 56) {
		case 1:
			s += ", UTF-8"
		case 2:
			s += ", UTF-16 little endian"
		case 3:
			s += ", UTF-16 big endian"
		}
		s += fmt.Sprintf(", version-valid-for %d", be32(b, 92))
	}
	return result{s, "application/vnd.sqlite3"}
}

func detectDeb(b []byte) result {
	s := "Debian binary package"
	if at(b, 68, "2.0\n") {
		s += " (format 2.0)"
	}
	return result{s, "application/vnd.debian.binary-package"}
}

// pycVersion names the CPython version of a .pyc magic number.
func pycVersion(m uint16) string {
	switch {
	case m >= 3390 && m < 3400:
		return "3.7"
	case m >= 3400 && m < 3420:
		return "3.8"
	case m >= 3420 && m < 3430:
		return "3.9"
	case m >= 3430 && m < 3450:
		return "3.10"
	case m >= 3450 && m < 3500:
		return "3.11"
	case m >= 3500 && m < 3600:
		return "3.12 or newer"
	}
	return ""
}

func detectPyc(b []byte) result {
	s := "Byte-compiled Python module for CPython " + pycVersion(le16(b, 0)) + ","
	if le32(b, 4) == 0 {
		s += fmt.Sprintf(" timestamp-based, .py timestamp: %s UTC, .py size: %d bytes", ctime(int64(le32(b, 8))), le32(b, 12))
	} else {
		s += " hash-based"
	}
	return result{s, "application/x-bytecode.python"}
}

// detectTar recognizes a tar header with a valid checksum, as libmagic's
// is_tar does before any magic test.
func detectTar(b []byte) (result, bool) {
	if len(b) < 512 {
		return result{}, false
	}
	h := b[:512]
	want, ok := parseOctal(h[148:156])
	if !ok {
		return result{}, false
	}
	var sum int64
	for i, c := range h {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += int64(c)
	}
	if sum != want {
		return result{}, false
	}
	const mime = "application/x-tar"
	switch {
	case bytes.Equal(h[257:265], []byte("ustar  \x00")):
		return result{"POSIX tar archive (GNU)", mime}, true
	case bytes.Equal(h[257:263], []byte("ustar\x00")):
		return result{"POSIX tar archive", mime}, true
	}
	return result{"tar archive", mime}, true
}

// parseOctal parses a tar octal field (spaces and NULs around digits).
func parseOctal(f []byte) (int64, bool) {
	f = bytes.Trim(f, " \x00")
	if len(f) == 0 {
		return 0, false
	}
	var v int64
	for _, c := range f {
		if c < '0' || c > '7' {
			return 0, false
		}
		v = v*8 + int64(c-'0')
	}
	return v, true
}
