package scan

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"sync"
	"time"
)

// queueLen is how many paths may wait for a scanning goroutine.
const queueLen = 64

// work is a file for a scanning goroutine.
type work struct {
	path   string
	follow bool // follow the path if it is a symbolic link
}

// Run scans roots (files and directories) with o.Workers goroutines, each
// with a scanner from newScanner, and calls emit for every event. emit is
// never called concurrently; the events of one top-level file come
// together, in order. Run returns the totals when every root is done or
// ctx is done; its error is newScanner's.
func Run(ctx context.Context, o Options, roots []string, newScanner func() (Scanner, error), emit func(Event)) (Summary, error) {
	start := time.Now()
	scanners := make([]Scanner, max(o.Workers, 1))
	for i := range scanners {
		s, err := newScanner()
		if err != nil {
			return Summary{}, err
		}
		scanners[i] = s
	}
	var (
		mu  sync.Mutex
		sum Summary
	)
	out := func(evs []Event) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range evs {
			sum.Add(e)
			emit(e)
		}
	}
	queue := make(chan work, queueLen)
	var wg sync.WaitGroup
	for _, s := range scanners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var evs []Event
			for w := range queue {
				if ctx.Err() != nil {
					continue // drain the queue
				}
				evs = evs[:0]
				o.scanFile(ctx, s, w.path, w.follow, func(e Event) { evs = append(evs, e) })
				out(evs)
			}
		}()
	}
	wk := &walker{o: &o, ctx: ctx, visited: map[dirKey]bool{},
		out: func(e Event) { out([]Event{e}) },
		put: func(w work) bool {
			select {
			case queue <- w:
				return true
			case <-ctx.Done():
				return false
			}
		}}
	for _, r := range roots {
		if !wk.root(r) {
			break
		}
	}
	close(queue)
	wg.Wait()
	sum.Elapsed = time.Since(start)
	return sum, nil
}

// walker enumerates the files under the roots and queues them.
type walker struct {
	o       *Options
	ctx     context.Context
	out     func(Event)
	put     func(work) bool
	stack   []fs.FileInfo // directories being walked
	visited map[dirKey]bool
}

// root walks one root: a directory is walked, anything else queued (its
// type is checked when it is scanned). It reports false when the walk
// must stop.
func (w *walker) root(p string) bool {
	if w.o.Skip != nil && w.o.Skip(p) {
		return true
	}
	fi, err := os.Stat(p)
	if err != nil || !fi.IsDir() {
		return w.put(work{p, true})
	}
	return w.dir(p, fi)
}

func (w *walker) dir(p string, fi fs.FileInfo) bool {
	if k, ok := keyOf(fi); ok {
		w.visited[k] = true
	}
	w.stack = append(w.stack, fi)
	defer func() { w.stack = w.stack[:len(w.stack)-1] }()
	// Read the whole directory and close it before descending, so deep
	// trees do not hold one descriptor per level.
	entries, err := os.ReadDir(p)
	if err != nil {
		w.out(Event{Kind: Failed, Path: p, Size: -1, Err: err})
	}
	for _, de := range entries {
		if w.ctx.Err() != nil {
			return false
		}
		child := p + string(os.PathSeparator) + de.Name()
		if w.o.Exclude.Match(child) || w.o.Skip != nil && w.o.Skip(child) {
			continue
		}
		if !w.entry(child, de) {
			return false
		}
	}
	return true
}

func (w *walker) entry(p string, de fs.DirEntry) bool {
	t := de.Type()
	switch {
	case t&fs.ModeSymlink != 0:
		if !w.o.FollowSymlinks {
			w.skip(p, ReasonSymlink, "symbolic links are not followed")
			return true
		}
		fi, err := os.Stat(p)
		if err != nil {
			w.out(Event{Kind: Failed, Path: p, Size: -1, Err: err})
			return true
		}
		switch {
		case fi.IsDir():
			return w.subdir(p, fi)
		case fi.Mode().IsRegular():
			return w.put(work{p, true})
		}
		w.skip(p, ReasonSpecial, "link to a "+specialKind(fi.Mode())+": not opened")
		return true
	case t.IsDir():
		fi, err := de.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return true // gone since the directory was read
			}
			w.out(Event{Kind: Failed, Path: p, Size: -1, Err: err})
			return true
		}
		return w.subdir(p, fi)
	case t.IsRegular():
		return w.put(work{p, false})
	}
	w.skip(p, ReasonSpecial, specialKind(t)+": not opened")
	return true
}

// subdir enters a subdirectory unless the walk is not recursive or the
// directory was walked already (a link loop or a second link to it).
func (w *walker) subdir(p string, fi fs.FileInfo) bool {
	if !w.o.Recursive {
		return true
	}
	k, ok := keyOf(fi)
	seen := ok && w.visited[k]
	for _, s := range w.stack {
		seen = seen || os.SameFile(s, fi)
	}
	if seen {
		w.skip(p, ReasonLoop, "directory already walked: not entered again")
		return true
	}
	return w.dir(p, fi)
}

func (w *walker) skip(p string, r Reason, detail string) {
	w.out(Event{Kind: Skipped, Path: p, Size: -1, Reason: r, Detail: detail})
}
