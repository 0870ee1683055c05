package archive

import (
	"archive/zip"
	"bytes"
	"compress/bzip2"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// zipEncrypted is bit 0 of a zip entry's general purpose flags.
const zipEncrypted = 0x1

// Zip compression methods read here besides store and deflate.
const (
	zipBzip2 = 12
	zipZstd  = 93
)

// MaxZipEntries bounds the entries of a zip's central directory:
// archive/zip keeps about 230 bytes per entry in memory before the first
// one is read, so this bounds that to about 60 MiB.
const MaxZipEntries = 1 << 18

func walkZip(data []byte, fn func(*Member) error) error {
	if n, ok := zipEntryCount(data); ok && n > MaxZipEntries {
		return fmt.Errorf("%w: the zip directory lists %d entries, limit %d", ErrMembers, n, MaxZipEntries)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return &FormatError{Zip, err}
	}
	for _, f := range zr.File {
		// Directory entries are skipped. Entries whose Unix mode says
		// symlink or device are still scanned: extractors that ignore
		// the mode would write their content as a file.
		if (strings.HasSuffix(f.Name, "/") || f.Mode().IsDir()) && f.UncompressedSize64 == 0 && f.CompressedSize64 <= 2 {
			continue
		}
		m := &Member{
			Name:       label(f.Name),
			Size:       int64(min(f.UncompressedSize64, 1<<62)),
			Encrypted:  f.Flags&zipEncrypted != 0,
			compressed: int64(min(f.CompressedSize64, 1<<62)),
		}
		m.open = func() (io.Reader, func() int64, error) { return openZipMember(f) }
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

// openZipMember decompresses an entry from its raw data, counting the
// compressed bytes consumed, so the ratio limit is checked on what the
// data really expands to and not on the sizes the archive declares.
// The CRC is not verified: content is scanned whatever its checksum.
func openZipMember(f *zip.File) (io.Reader, func() int64, error) {
	raw, err := f.OpenRaw()
	if err != nil {
		return nil, nil, &FormatError{Zip, err}
	}
	c := &counter{r: raw}
	consumed := func() int64 { return c.n }
	switch f.Method {
	case zip.Store:
		return formatReader{c, Zip}, consumed, nil
	case zip.Deflate:
		return formatReader{flate.NewReader(c), Zip}, consumed, nil
	case zipBzip2:
		return formatReader{bzip2.NewReader(c), Zip}, consumed, nil
	case zipZstd:
		d, err := zstd.NewReader(c, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(MaxDictSize))
		if err != nil {
			return nil, nil, &FormatError{Zip, err}
		}
		return formatReader{zstdReader{d}, Zip}, consumed, nil
	}
	return nil, nil, &FormatError{Zip, fmt.Errorf("unsupported compression method %d", f.Method)}
}

// zipEntryCount reads the entry count of the end of central directory
// record (or its zip64 version); ok is false when none is found.
func zipEntryCount(data []byte) (uint64, bool) {
	const eocdLen, maxComment = 22, 65535
	start := max(0, len(data)-eocdLen-maxComment)
	i := bytes.LastIndex(data[start:], []byte("PK\x05\x06"))
	if i < 0 || start+i+eocdLen > len(data) {
		return 0, false
	}
	eocd := start + i
	n := uint64(binary.LittleEndian.Uint16(data[eocd+10:]))
	if n != 0xffff {
		return n, true
	}
	// Zip64: a locator just before the record points to the zip64 record.
	loc := eocd - 20
	if loc < 0 || !bytes.HasPrefix(data[loc:], []byte("PK\x06\x07")) {
		return 0, false
	}
	off := binary.LittleEndian.Uint64(data[loc+8:])
	if len(data) < 56 || off > uint64(len(data)-56) || !bytes.HasPrefix(data[off:], []byte("PK\x06\x06")) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(data[off+32:]), true
}
