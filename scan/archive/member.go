package archive

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Errors a caller can test with errors.Is.
var (
	// ErrTooLarge: the member has more bytes than ReadLimits.MaxSize.
	ErrTooLarge = errors.New("member larger than the limit")
	// ErrRatio: the member decompresses to more than ReadLimits.MaxRatio
	// times its compressed size.
	ErrRatio = errors.New("compression ratio above the limit")
	// ErrEncrypted: the member is encrypted and cannot be read.
	ErrEncrypted = errors.New("member is encrypted")
	// ErrMembers: the archive lists more members than this package reads
	// (MaxZipEntries).
	ErrMembers = errors.New("too many members")
	// ErrDict: a decoder would need more memory than MaxDictSize.
	ErrDict = errors.New("decoder window or dictionary larger than the limit")
)

// RatioFloor is the output size below which the compression ratio is not
// checked: small files legitimately compress very well (a 1 MiB file of
// zeros gzips to 1 KiB).
const RatioFloor = 1 << 20

// readChunk is how much Read decompresses at a time between checks.
const readChunk = 64 << 10

// ReadLimits bound one Member.Read.
type ReadLimits struct {
	// MaxSize is the most bytes the member may have (required, > 0).
	MaxSize int64
	// MaxRatio is the most bytes out per compressed byte in, checked once
	// the output passes RatioFloor; 0 disables the check.
	MaxRatio int64
}

// Member is one file inside a container. A tar gives its regular
// (contiguous, sparse) files; links, devices and directories are metadata
// there. A zip gives every entry but empty directories: its Unix mode is
// not trusted, since extractors that ignore it write the content as a file.
type Member struct {
	// Name is the member's path inside the container, as a label with
	// control characters and invalid UTF-8 escaped as \xHH.
	Name string
	// Size is the uncompressed size the archive declares, or -1. It is
	// untrusted: Read enforces its limits on the real data.
	Size int64
	// Encrypted is set for encrypted zip entries; Read fails for them.
	Encrypted bool

	// compressed is the member's compressed size when the format records
	// it (zip), else -1.
	compressed int64
	// open returns the member's content and a function telling how many
	// compressed bytes it has consumed so far (nil when unknown).
	open func() (io.Reader, func() int64, error)
}

// Read returns the member's content. It fails with ErrTooLarge when the
// content has more than l.MaxSize bytes, with ErrRatio when it expands
// beyond l.MaxRatio, with ErrEncrypted for encrypted members, and with the
// decoder's error for corrupt data. It never holds more than MaxSize plus
// one chunk in memory, and stops when ctx is done.
func (m *Member) Read(ctx context.Context, l ReadLimits) ([]byte, error) {
	if m.Encrypted {
		return nil, ErrEncrypted
	}
	if l.MaxSize <= 0 {
		return nil, ErrTooLarge
	}
	if m.Size > l.MaxSize {
		return nil, ErrTooLarge
	}
	if m.Size > RatioFloor && m.compressed >= 0 && l.MaxRatio > 0 && m.Size/max(m.compressed, 1) > l.MaxRatio {
		return nil, ErrRatio
	}
	r, consumed, err := m.open()
	if err != nil {
		return nil, err
	}
	if c, ok := r.(io.Closer); ok {
		defer c.Close()
	}
	in := func() int64 {
		if consumed != nil {
			return consumed()
		}
		return m.compressed
	}
	n := int64(readChunk)
	if m.Size >= 0 {
		n = m.Size + 1 // one more, to see the end
	}
	buf := make([]byte, 0, min(n, l.MaxSize+1, readChunk*16))
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(int64(2*cap(buf)+readChunk), l.MaxSize+1))
			copy(grown, buf)
			buf = grown
		}
		end := min(cap(buf), len(buf)+readChunk)
		k, err := r.Read(buf[len(buf):end])
		buf = buf[:len(buf)+k]
		if int64(len(buf)) > l.MaxSize {
			return nil, ErrTooLarge
		}
		if l.MaxRatio > 0 && len(buf) > RatioFloor {
			if c := in(); c >= 0 && int64(len(buf))/max(c, 1) > l.MaxRatio {
				return nil, ErrRatio
			}
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// counter counts the bytes read through it.
type counter struct {
	r io.Reader
	n int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// maxLabel bounds the length of a member label.
const maxLabel = 4096

// label turns an untrusted member name into a printable label: bytes
// below 0x20, DEL and invalid UTF-8 become \xHH; very long names are cut.
func label(name string) string {
	if len(name) > maxLabel {
		name = name[:maxLabel]
	}
	clean := true
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return name
	}
	var b strings.Builder
	for len(name) > 0 {
		r, size := utf8.DecodeRuneInString(name)
		switch {
		case r == utf8.RuneError && size <= 1, r < 0x20, r == 0x7f:
			b.WriteString(`\x`)
			s := strconv.FormatUint(uint64(name[0]), 16)
			if len(s) < 2 {
				b.WriteByte('0')
			}
			b.WriteString(s)
			size = 1
		default:
			b.WriteString(name[:size])
		}
		name = name[size:]
	}
	return b.String()
}
