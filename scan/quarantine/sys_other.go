//go:build !unix

package quarantine

import (
	"io/fs"
	"time"
)

// openFlags: Windows has no O_NOFOLLOW; Add checks the file type after
// opening.
const openFlags = 0

func ownerTimes(fs.FileInfo) (uid, gid int, atime time.Time) { return -1, -1, time.Time{} }

// ignoreDirSyncError: directories cannot be synced on Windows.
func ignoreDirSyncError(error) bool { return true }
