//go:build unix

package quarantine

import (
	"errors"
	"io/fs"
	"syscall"
	"time"
)

// openFlags: never follow a symbolic link, never block on a FIFO.
const openFlags = syscall.O_NOFOLLOW | syscall.O_NONBLOCK

func ownerTimes(fi fs.FileInfo) (uid, gid int, atime time.Time) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, -1, time.Time{}
	}
	return int(st.Uid), int(st.Gid), accessTime(st)
}

func ignoreDirSyncError(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP)
}
