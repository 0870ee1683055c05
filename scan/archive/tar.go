package archive

import (
	"archive/tar"
	"bytes"
	"io"
)

func walkTar(data []byte, fn func(*Member) error) error {
	c := &counter{r: bytes.NewReader(data)}
	tr := tar.NewReader(c)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			// tar.Reader also ends quietly when the data stops at a
			// block boundary: require the end-of-archive zero block.
			if c.n < 512 || !allZero(data[c.n-512:c.n]) {
				return &FormatError{Tar, io.ErrUnexpectedEOF}
			}
			return nil
		}
		if err != nil {
			return &FormatError{Tar, err}
		}
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeGNUSparse && h.Typeflag != tar.TypeCont {
			continue
		}
		start := c.n
		m := &Member{Name: label(h.Name), Size: h.Size, compressed: -1}
		m.open = func() (io.Reader, func() int64, error) {
			// Sparse members expand holes: count the archive bytes
			// consumed so the ratio limit applies to them too.
			return tarMember{tr}, func() int64 { return c.n - start }, nil
		}
		if err := fn(m); err != nil {
			return err
		}
	}
}

type tarMember struct{ tr *tar.Reader }

func (t tarMember) Read(p []byte) (int, error) {
	n, err := t.tr.Read(p)
	if err != nil && err != io.EOF {
		err = &FormatError{Tar, err}
	}
	return n, err
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
