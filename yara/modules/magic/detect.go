package magic

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"
)

const (
	// maxRead is how much of the data is looked at: libmagic's default
	// "bytes" parameter (FILE_BYTES_MAX, 7 MiB).
	maxRead = 7 << 20
	// maxEncoding is how much of the data text classification looks at:
	// libmagic's default "encoding" parameter (64 KiB).
	maxEncoding = 64 << 10
)

// Generic results.
var (
	dataResult = result{"data", "application/octet-stream"}
)

// detect classifies data, which is not empty.
func detect(data []byte) result {
	if len(data) > maxRead {
		data = data[:maxRead]
	}
	if len(data) < 2 {
		// libmagic's answer for a single byte.
		return result{"very short file (no magic)", "application/octet-stream"}
	}
	if r, ok := detectTar(data); ok {
		return r
	}
	if r, ok := detectBinary(data); ok {
		return r
	}
	if r, ok := detectText(data); ok {
		return r
	}
	return dataResult
}

// le16/le32/be16/be32 read integers at off, returning 0 when out of range.
func le16(b []byte, off int) uint16 {
	if off < 0 || off+2 > len(b) {
		return 0
	}
	return binary.LittleEndian.Uint16(b[off:])
}

func le32(b []byte, off int) uint32 {
	if off < 0 || off+4 > len(b) {
		return 0
	}
	return binary.LittleEndian.Uint32(b[off:])
}

func be16(b []byte, off int) uint16 {
	if off < 0 || off+2 > len(b) {
		return 0
	}
	return binary.BigEndian.Uint16(b[off:])
}

func be32(b []byte, off int) uint32 {
	if off < 0 || off+4 > len(b) {
		return 0
	}
	return binary.BigEndian.Uint32(b[off:])
}

// at reports whether b holds s at off.
func at(b []byte, off int, s string) bool {
	return off >= 0 && off+len(s) <= len(b) && string(b[off:off+len(s)]) == s
}

// cstring returns the NUL-terminated string at off, at most max bytes.
func cstring(b []byte, off, max int) string {
	if off < 0 || off >= len(b) {
		return ""
	}
	end := min(len(b), off+max)
	s := b[off:end]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return string(s)
}

// ctime formats a Unix time as libmagic's dates: asctime in UTC.
func ctime(sec int64) string {
	return time.Unix(sec, 0).UTC().Format("Mon Jan _2 15:04:05 2006")
}

// detectBinary tries the binary formats, most specific first.
func detectBinary(b []byte) (result, bool) {
	switch {
	case at(b, 0, "\x7fELF"):
		return detectELF(b)
	case at(b, 0, "MZ"):
		return detectMZ(b)
	case len(b) >= 28 && (be32(b, 0) == 0xfeedface || be32(b, 0) == 0xfeedfacf ||
		le32(b, 0) == 0xfeedface || le32(b, 0) == 0xfeedfacf):
		return detectMachO(b)
	case at(b, 0, "\xca\xfe\xba\xbe"):
		return detectCafebabe(b)
	case at(b, 0, "\x1f\x8b"):
		return detectGzip(b), true
	case at(b, 0, "BZh") && len(b) > 3 && b[3] >= '1' && b[3] <= '9':
		return result{fmt.Sprintf("bzip2 compressed data, block size = %c00k", b[3]), "application/x-bzip2"}, true
	case at(b, 0, "\xfd7zXZ\x00"):
		return result{"XZ compressed data, checksum " + xzCheck(b), "application/x-xz"}, true
	case at(b, 0, "\x28\xb5\x2f\xfd"):
		return result{"Zstandard compressed data (v0.8+), Dictionary ID: None", "application/zstd"}, true
	case at(b, 0, "7z\xbc\xaf\x27\x1c"):
		return result{fmt.Sprintf("7-zip archive data, version %d.%d", byteAt(b, 6), byteAt(b, 7)), "application/x-7z-compressed"}, true
	case at(b, 0, "Rar!\x1a\x07\x01\x00"):
		return result{"RAR archive data, v5", "application/x-rar"}, true
	case at(b, 0, "Rar!\x1a\x07\x00"):
		return result{"RAR archive data, v4", "application/x-rar"}, true
	case at(b, 0, "PK\x03\x04"):
		return detectZip(b), true
	case at(b, 0, "PK\x05\x06"):
		return result{"Zip archive data (empty)", "application/zip"}, true
	case at(b, 0, "%PDF-"):
		return detectPDF(b), true
	case at(b, 0, "\x89PNG\r\n\x1a\n"):
		return detectPNG(b), true
	case at(b, 0, "GIF87a") || at(b, 0, "GIF89a"):
		return result{fmt.Sprintf("GIF image data, version %s, %d x %d", b[3:6], le16(b, 6), le16(b, 8)), "image/gif"}, true
	case at(b, 0, "\xff\xd8\xff"):
		return detectJPEG(b), true
	case at(b, 0, "SQLite format 3\x00"):
		return detectSQLite(b), true
	case at(b, 0, "!<arch>\ndebian-binary"):
		return detectDeb(b), true
	case at(b, 0, "!<arch>\n"):
		return result{"current ar archive", "application/x-archive"}, true
	case at(b, 0, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
		return result{"Composite Document File V2 Document", "application/x-ole-storage"}, true
	case len(b) >= 16 && at(b, 2, "\r\n") && pycVersion(le16(b, 0)) != "":
		return detectPyc(b), true
	case le32(b, 0) == 0x950412de:
		return detectGettext(b, false), true
	case be32(b, 0) == 0x950412de:
		return detectGettext(b, true), true
	case at(b, 0, "\x00\x01\x00\x00") && len(b) >= 16 && isTag(b[12:16]):
		return result{fmt.Sprintf("TrueType Font data, %d tables, 1st %q", be16(b, 4), b[12:16]), "font/sfnt"}, true
	case at(b, 0, "TZif") && len(b) >= 44:
		return detectTZif(b), true
	case le16(b, 0) == 0x011a && len(b) >= 12:
		return detectTerminfo(b, false), true
	case le16(b, 0) == 0x021e && len(b) >= 12:
		return detectTerminfo(b, true), true
	}
	return result{}, false
}

// byteAt returns b[i] or 0.
func byteAt(b []byte, i int) byte {
	if i < 0 || i >= len(b) {
		return 0
	}
	return b[i]
}

// isTag reports whether t is a printable four-character table tag.
func isTag(t []byte) bool {
	for _, c := range t {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}
