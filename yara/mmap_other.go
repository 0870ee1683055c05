//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package yara

import "os"

// mapFile never maps on this system: ScanFile reads the file.
func mapFile(f *os.File) (data []byte, unmap func(), err error) {
	return nil, nil, nil
}
