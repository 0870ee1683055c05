package archive

import "bytes"

// Format is a container or compression format.
type Format uint8

// The formats Detect recognises.
const (
	None Format = iota
	Zip
	Tar
	Gzip
	Bzip2
	Xz
	Zstd
)

var formatNames = [...]string{None: "none", Zip: "zip", Tar: "tar", Gzip: "gzip", Bzip2: "bzip2", Xz: "xz", Zstd: "zstd"}

func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return "unknown"
}

// tarMagicOffset is where a POSIX or GNU tar header holds "ustar".
const tarMagicOffset = 257

// Detect returns the format of data from its first bytes: the magic
// numbers of each format, and for tar the "ustar" magic of the first
// header together with a valid header checksum.
func Detect(data []byte) Format {
	switch {
	case bytes.HasPrefix(data, []byte("PK\x03\x04")), bytes.HasPrefix(data, []byte("PK\x05\x06")):
		return Zip
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b, 0x08}):
		return Gzip
	case len(data) >= 4 && bytes.HasPrefix(data, []byte("BZh")) && data[3] >= '1' && data[3] <= '9':
		return Bzip2
	case bytes.HasPrefix(data, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		return Xz
	case bytes.HasPrefix(data, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return Zstd
	case isTar(data):
		return Tar
	}
	return None
}

// isTar reports whether data starts with a ustar header whose checksum is
// right.
func isTar(data []byte) bool {
	if len(data) < 512 || !bytes.Equal(data[tarMagicOffset:tarMagicOffset+5], []byte("ustar")) {
		return false
	}
	// The checksum field (offset 148, 8 bytes) is octal; the sum is over
	// the header with the field taken as spaces.
	var want int64
	for _, c := range data[148:156] {
		if c >= '0' && c <= '7' {
			want = want*8 + int64(c-'0')
		} else if c != ' ' && c != 0 {
			return false
		}
	}
	var sum int64
	for i, c := range data[:512] {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += int64(c)
	}
	return sum == want
}
