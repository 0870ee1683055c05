package archive

import (
	"fmt"
	"strings"
)

// FormatError is malformed container data; Err is the decoder's error.
type FormatError struct {
	Format Format
	Err    error
}

func (e *FormatError) Error() string {
	msg := e.Err.Error()
	if strings.HasPrefix(msg, e.Format.String()+":") {
		return msg // the decoder named its format already
	}
	return e.Format.String() + ": " + msg
}
func (e *FormatError) Unwrap() error { return e.Err }

// Walk calls fn for each member of data, a container of format f, in the
// order of the container. name labels the container itself (its last path
// element); the single member of a compressed stream is named after it
// ("x.tar.gz" holds "x.tar"). Walk stops at fn's first error and returns
// it; a malformed container gives a *FormatError.
func Walk(f Format, data []byte, name string, fn func(*Member) error) error {
	switch f {
	case Zip:
		return walkZip(data, fn)
	case Tar:
		return walkTar(data, fn)
	case Gzip, Bzip2, Xz, Zstd:
		return walkStream(f, data, name, fn)
	}
	return fmt.Errorf("archive: not a container format: %v", f)
}
