package archive

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// MaxDictSize bounds the dictionary (xz) or window (zstd) a decoder may
// allocate. xz -9 and zstd -19 use at most 64 MiB and 8 MiB; only
// zstd --long or --ultra streams need more, and those are refused.
const MaxDictSize = 64 << 20

// streamSuffixes maps the suffix of a compressed file's name to the
// suffix of its content's name.
var streamSuffixes = map[Format][][2]string{
	Gzip:  {{".tgz", ".tar"}, {".gz", ""}, {".z", ""}},
	Bzip2: {{".tbz2", ".tar"}, {".tbz", ".tar"}, {".bz2", ""}},
	Xz:    {{".txz", ".tar"}, {".xz", ""}},
	Zstd:  {{".tzst", ".tar"}, {".zst", ""}},
}

// streamName names the content of the compressed file called name.
func streamName(f Format, name string) string {
	base := path.Base(name)
	lower := strings.ToLower(base)
	for _, s := range streamSuffixes[f] {
		if strings.HasSuffix(lower, s[0]) && len(base) > len(s[0]) {
			return base[:len(base)-len(s[0])] + s[1]
		}
	}
	return base + ".data"
}

// walkStream gives the one member of a compressed stream.
func walkStream(f Format, data []byte, name string, fn func(*Member) error) error {
	m := &Member{Name: label(streamName(f, name)), Size: -1, compressed: int64(len(data))}
	if f == Gzip {
		if h, err := gzip.NewReader(bytes.NewReader(data)); err == nil && h.Name != "" {
			m.Name = label(path.Base(h.Name))
		}
	}
	m.open = func() (io.Reader, func() int64, error) {
		c := &counter{r: bytes.NewReader(data)}
		r, err := newDecoder(f, c, data)
		if err != nil {
			return nil, nil, &FormatError{f, err}
		}
		return formatReader{r, f}, func() int64 { return c.n }, nil
	}
	return fn(m)
}

func newDecoder(f Format, r io.Reader, data []byte) (io.Reader, error) {
	switch f {
	case Gzip:
		return gzip.NewReader(r)
	case Bzip2:
		return bzip2.NewReader(r), nil
	case Xz:
		if err := checkXzDict(data, MaxDictSize); err != nil {
			return nil, err
		}
		return xz.NewReader(r)
	case Zstd:
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(MaxDictSize))
		if err != nil {
			return nil, err
		}
		return zstdReader{d}, nil
	}
	return nil, io.ErrUnexpectedEOF
}

// zstdReader releases the decoder's goroutines and buffers on Close.
type zstdReader struct{ d *zstd.Decoder }

func (z zstdReader) Read(p []byte) (int, error) {
	n, err := z.d.Read(p)
	if errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded) {
		err = fmt.Errorf("%w: %v", ErrDict, err)
	}
	return n, err
}
func (z zstdReader) Close() error { z.d.Close(); return nil }

// formatReader wraps decoder errors as format errors.
type formatReader struct {
	r io.Reader
	f Format
}

func (fr formatReader) Read(p []byte) (int, error) {
	n, err := fr.r.Read(p)
	if err != nil && err != io.EOF {
		err = &FormatError{fr.f, err}
	}
	return n, err
}

func (fr formatReader) Close() error {
	if c, ok := fr.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
