//go:build !unix

package scan

import "io/fs"

// dirKey identifies a directory; without device and inode numbers only
// the walk's ancestors are compared (os.SameFile).
type dirKey struct{ dev, ino uint64 }

func keyOf(fs.FileInfo) (dirKey, bool) { return dirKey{}, false }
