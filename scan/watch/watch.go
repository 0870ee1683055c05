// Package watch scans files as they are created or modified. It watches
// directory trees with fsnotify (inotify on Linux, kqueue on BSD and
// macOS, ReadDirectoryChangesW on Windows), adds watches for directories
// that appear, forgets those that disappear, and scans a file once it has
// been quiet for a debounce interval, so a file being written is scanned
// once, complete, rather than after every write.
//
// # Security
//
// Files are scanned through package scan, with its limits, its handling of
// special files and its symlink policy: a watched tree may be written by
// an attacker while it is scanned. Symbolic links to directories are never
// entered, so a watch cannot loop.
package watch

import (
	"container/list"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	"vigil/scan"
)

// DefaultDebounce is how long a file must be quiet before it is scanned.
const DefaultDebounce = 200 * time.Millisecond

// maxDirDepth bounds how deep a watched tree is entered (bind mounts can
// make a tree without symbolic links loop).
const maxDirDepth = 512

// Options configure a watch.
type Options struct {
	// Options are the scan options: limits, archives, excludes, symlink
	// policy. Recursive and Workers are ignored: a watch is always
	// recursive and scans one file at a time.
	scan.Options
	// Debounce is how long a file must be quiet before it is scanned
	// (0: DefaultDebounce).
	Debounce time.Duration
	// Ready, if set, is called once the roots are watched, with the
	// number of directories watched.
	Ready func(dirs int)
	// Done, if set, is called after the events of each file scanned.
	Done func(path string)
}

// ErrNoRoots is returned by Run when there is nothing to watch.
var ErrNoRoots = errors.New("watch: no directories to watch")

// Run watches roots (directories, or files) until ctx is done, scanning
// every file created or modified below them with s and reporting each
// outcome to emit, from the calling goroutine. Errors of the watch itself
// (a directory that cannot be watched, an event queue overflow) are
// reported as Failed events; Run returns an error only when it cannot
// start. It returns nil when ctx is done.
func Run(ctx context.Context, o Options, roots []string, s scan.Scanner, emit func(scan.Event)) error {
	if len(roots) == 0 {
		return ErrNoRoots
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer fw.Close()
	if o.Debounce <= 0 {
		o.Debounce = DefaultDebounce
	}
	w := &watcher{o: &o, ctx: ctx, fw: fw, s: s, emit: emit,
		watched: map[string]bool{}, pending: map[string]*list.Element{}, queue: list.New()}
	for _, r := range roots {
		fi, err := os.Stat(r)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			if err := fw.Add(r); err != nil {
				return &fs.PathError{Op: "watch", Path: r, Err: err}
			}
			continue
		}
		if err := fw.Add(r); err != nil {
			return &fs.PathError{Op: "watch", Path: r, Err: err}
		}
		w.watched[filepath.Clean(r)] = true
		w.tree(r, 0, false)
	}
	if o.Ready != nil {
		o.Ready(len(w.watched))
	}
	return w.loop()
}

// watcher is the state of one Run.
type watcher struct {
	o       *Options
	ctx     context.Context
	fw      *fsnotify.Watcher
	s       scan.Scanner
	emit    func(scan.Event)
	watched map[string]bool // directories with a watch
	// pending files, in the order of their last event: the front is the
	// first to become due.
	pending map[string]*list.Element
	queue   *list.List
}

type pendingFile struct {
	path string
	due  time.Time
}

func (w *watcher) loop() error {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		if f := w.queue.Front(); f != nil {
			timer.Reset(time.Until(f.Value.(*pendingFile).due))
		}
		select {
		case <-w.ctx.Done():
			return nil
		case ev, ok := <-w.fw.Events:
			if !ok {
				return nil
			}
			w.event(ev)
		case err, ok := <-w.fw.Errors:
			if !ok {
				return nil
			}
			w.emit(scan.Event{Kind: scan.Failed, Size: -1, Err: err})
		case <-timer.C:
			w.flush()
		}
		timer.Stop()
	}
}

// event handles one file system event.
func (w *watcher) event(ev fsnotify.Event) {
	p := filepath.Clean(ev.Name)
	if w.o.Exclude.Match(p) {
		return
	}
	switch {
	case ev.Has(fsnotify.Create):
		fi, err := os.Lstat(p)
		if err != nil {
			return // gone already
		}
		if fi.IsDir() {
			w.addDir(p, 0)
			return
		}
		w.schedule(p)
	case ev.Has(fsnotify.Write):
		w.schedule(p)
	case ev.Has(fsnotify.Remove), ev.Has(fsnotify.Rename):
		w.forget(p)
	}
}

// addDir watches a new directory and schedules the files already in it:
// they may have been created before the watch was in place.
func (w *watcher) addDir(p string, depth int) {
	if w.watched[p] {
		return
	}
	if err := w.fw.Add(p); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			w.emit(scan.Event{Kind: scan.Failed, Path: p, Size: -1, Err: &fs.PathError{Op: "watch", Path: p, Err: err}})
		}
		return
	}
	w.watched[p] = true
	w.tree(p, depth, true)
}

// tree watches the subdirectories of dir, and schedules its files when
// scanFiles is set.
func (w *watcher) tree(dir string, depth int, scanFiles bool) {
	if depth >= maxDirDepth {
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			w.emit(scan.Event{Kind: scan.Failed, Path: dir, Size: -1, Err: err})
		}
		return
	}
	for _, de := range entries {
		p := filepath.Join(dir, de.Name())
		if w.o.Exclude.Match(p) {
			continue
		}
		switch {
		case de.IsDir():
			w.addDir(p, depth+1)
		case scanFiles:
			w.schedule(p)
		}
	}
}

// forget drops a removed or renamed path: a pending scan of it, and the
// watches of a directory and its subdirectories.
func (w *watcher) forget(p string) {
	if e, ok := w.pending[p]; ok {
		w.queue.Remove(e)
		delete(w.pending, p)
	}
	if !w.watched[p] {
		return
	}
	prefix := p + string(filepath.Separator)
	for d := range w.watched {
		if d == p || len(d) > len(prefix) && d[:len(prefix)] == prefix {
			delete(w.watched, d)
			_ = w.fw.Remove(d) // the kernel may have dropped it already
		}
	}
}

// schedule (re)starts the debounce interval of p.
func (w *watcher) schedule(p string) {
	due := time.Now().Add(w.o.Debounce)
	if e, ok := w.pending[p]; ok {
		e.Value.(*pendingFile).due = due
		w.queue.MoveToBack(e)
		return
	}
	w.pending[p] = w.queue.PushBack(&pendingFile{p, due})
}

// flush scans the files whose debounce interval has passed.
func (w *watcher) flush() {
	now := time.Now()
	for f := w.queue.Front(); f != nil && w.ctx.Err() == nil; f = w.queue.Front() {
		pf := f.Value.(*pendingFile)
		if pf.due.After(now) {
			return
		}
		w.queue.Remove(f)
		delete(w.pending, pf.path)
		w.scan(pf.path)
	}
}

func (w *watcher) scan(p string) {
	fi, err := os.Lstat(p)
	switch {
	case err != nil:
		return // removed before it was scanned: nothing to report
	case fi.IsDir():
		return
	case fi.Mode()&fs.ModeSymlink != 0 && !w.o.FollowSymlinks:
		w.emit(scan.Event{Kind: scan.Skipped, Path: p, Size: -1, Reason: scan.ReasonSymlink,
			Detail: "symbolic links are not followed"})
		return
	case fi.Mode()&fs.ModeSymlink != 0:
		if t, err := os.Stat(p); err == nil && t.IsDir() {
			return // a link to a directory is never entered
		}
	}
	w.o.ScanFile(w.ctx, w.s, p, w.emit)
	if w.o.Done != nil {
		w.o.Done(p)
	}
}
