//go:build unix

package scan

import (
	"io/fs"
	"syscall"
)

// dirKey identifies a directory by device and inode.
type dirKey struct{ dev, ino uint64 }

func keyOf(fi fs.FileInfo) (dirKey, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return dirKey{}, false
	}
	return dirKey{uint64(st.Dev), uint64(st.Ino)}, true
}
