//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package yara

import (
	"os"
	"syscall"
)

// mapFile maps the whole of f read-only. It returns nil data (and no
// error) when the file is not worth mapping or cannot be mapped, and the
// caller reads it instead: files that are not regular (pipes, devices),
// empty files, and files such as those of /proc whose size is reported as
// 0.
func mapFile(f *os.File) (data []byte, unmap func(), err error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	size := fi.Size()
	if !fi.Mode().IsRegular() || size <= 0 || int64(int(size)) != size {
		return nil, nil, nil
	}
	data, err = syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, nil
	}
	return data, func() { _ = syscall.Munmap(data) }, nil
}
