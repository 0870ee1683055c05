package cli

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
)

// readDirBatch is how many directory entries are read at a time.
const readDirBatch = 256

// walker enumerates the files of a directory target the way yara's
// scan_dir does: entries in the order the file system returns them (not
// sorted), regular files only, symlinks followed unless -N, a symlink whose
// text is exactly "." skipped, directories entered only with -r, depth
// first, and files of -z bytes or more skipped with a message.
//
// Unlike yara it does not enter a directory that is already being walked
// (a symlink to a parent), so a symlink loop cannot make it run forever.
type walker struct {
	recursive  bool
	follow     bool
	skipLarger int64
	stderr     io.Writer
	mu         *sync.Mutex // guards stderr
	put        func(path string) bool

	stack []fs.FileInfo // directories being walked
}

// walk queues the files of dir. It reports false when put refused a path
// (the scan's deadline passed) and the walk must stop.
func (w *walker) walk(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return true
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		for _, s := range w.stack {
			if os.SameFile(s, fi) {
				return true // already being walked: a symlink loop
			}
		}
		w.stack = append(w.stack, fi)
		defer func() { w.stack = w.stack[:len(w.stack)-1] }()
	}
	for {
		entries, err := f.ReadDir(readDirBatch)
		for _, de := range entries {
			if !w.entry(dir+string(os.PathSeparator)+de.Name(), de.Type()) {
				return false
			}
		}
		if err != nil || len(entries) == 0 {
			return true
		}
	}
}

// entry handles one directory entry of type typ (from the directory
// itself: no system call is needed for plain files and directories).
func (w *walker) entry(path string, typ fs.FileMode) bool {
	switch {
	case typ.IsRegular() && w.skipLarger <= 0:
		return w.put(path)
	case typ.IsDir():
		if !w.recursive {
			return true
		}
		return w.walk(path)
	case typ&fs.ModeSymlink != 0:
		if !w.follow {
			return true
		}
		if t, err := os.Readlink(path); err == nil && t == "." {
			return true
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return true
	}
	switch {
	case fi.Mode().IsRegular():
		if w.skipLarger > 0 && fi.Size() >= w.skipLarger {
			w.mu.Lock()
			fmt.Fprintf(w.stderr, "skipping %s (%d bytes) because it's larger than %d bytes.\n", path, fi.Size(), w.skipLarger)
			w.mu.Unlock()
			return true
		}
		return w.put(path)
	case fi.IsDir() && w.recursive:
		return w.walk(path)
	}
	return true
}
