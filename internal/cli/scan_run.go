package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"vigil/scan"
	"vigil/yara"
)

// scanRun is one `vigil scan` after its rules are ready: it walks the
// target, runs the scanning goroutines and prints results.
type scanRun struct {
	e     *env
	o     *scanOptions
	rules ruleSet
	defs  []define // set on each scanner when the rules were loaded (-C)
	order map[string]int

	ctx      context.Context
	deadline time.Time // zero: no timeout
	dirMode  bool      // several files: -c prints "path: n"

	mu    sync.Mutex // guards total and the output streams
	total int64      // matching rules reported so far, for -l

	scanners []scanner // every scanner made, for --profile (guarded by mu)

	prog *progress      // progress display on a terminal, or nil (progress.go)
	quar *quarantineSet // --quarantine, or nil (quarantine.go)
}

func newScanRun(e *env, o *scanOptions, rs ruleSet, defs []define) *scanRun {
	r := &scanRun{e: e, o: o, rules: rs, order: map[string]int{}}
	if o.compiled {
		r.defs = defs
	}
	for i, info := range rs.Info() {
		r.order[ruleKey(info.Namespace, info.Name)] = i
	}
	return r
}

func ruleKey(ns, name string) string { return ns + "\x00" + name }

// run scans target (a file, a directory, or with --scan-list a list of
// paths) and returns the exit code.
func (r *scanRun) run(target string) int {
	targetIsDir := isDir(target)
	// yara gives a single file the timeout as is (0 or less: none) and a
	// directory or list a deadline of now + timeout (0 or less: already
	// past, nothing is scanned).
	r.ctx = r.e.ctx
	if r.o.timeout > 0 || targetIsDir || r.o.scanList {
		timeout := time.Duration(r.o.timeout) * time.Second
		if timeout/time.Second != time.Duration(r.o.timeout) {
			timeout = defaultTimeout * time.Second // overflow: far enough
		}
		r.deadline = time.Now().Add(timeout)
		ctx, cancel := context.WithDeadline(r.e.ctx, r.deadline)
		defer cancel()
		r.ctx = ctx
	}
	if pid, ok := processTarget(target); ok && !r.o.scanList {
		return r.runProcess(target, pid) // procmem.go
	}
	r.prog = newProgress(r.e.stderr, r.o.noProgress)
	if r.prog != nil {
		e := *r.e
		e.stdout, e.stderr = r.prog.guard(e.stdout), r.prog.guard(e.stderr)
		r.e = &e
		defer r.prog.finish()
	}
	if r.o.quarantine != "" {
		r.quar = &quarantineSet{dir: r.o.quarantine}
	}
	if r.o.vigil.set {
		return r.runLayered(target, targetIsDir) // scan_archive.go
	}
	switch {
	case r.o.scanList && targetIsDir:
		fmt.Fprintf(r.e.stderr, "error: cannot use a directory as scan list.\n")
		return exitError
	case r.o.scanList || targetIsDir:
		r.dirMode = true
		return r.runMany(target, targetIsDir)
	}
	s, err := r.newScanner()
	if err != nil {
		fmt.Fprintf(r.e.stderr, "error: %v\n", err)
		return exitError
	}
	if !r.scanOne(s, target) {
		return exitError
	}
	return exitOK
}

func (r *scanRun) newScanner() (scanner, error) {
	s := r.rules.NewScanner()
	for _, d := range r.defs {
		if err := s.SetVariable(d.name, d.value); err != nil {
			return nil, err
		}
	}
	if r.o.profile > 0 {
		r.mu.Lock()
		r.scanners = append(r.scanners, s)
		r.mu.Unlock()
	}
	return s, nil
}

// runMany scans a directory or the paths listed in a file with a pool of
// goroutines fed through a bounded queue, like yara's threads.
func (r *scanRun) runMany(target string, targetIsDir bool) int {
	var list *os.File
	if !targetIsDir {
		f, err := os.Open(target)
		if err != nil {
			fmt.Fprintf(r.e.stderr, "error: could not open file \"%s\".\n", target)
			return exitError
		}
		defer f.Close()
		list = f
	}
	scanners := make([]scanner, r.o.threads)
	for i := range scanners {
		s, err := r.newScanner()
		if err != nil {
			fmt.Fprintf(r.e.stderr, "error: %v\n", err)
			return exitError
		}
		scanners[i] = s
	}
	queue := make(chan string, maxQueuedFiles)
	var wg sync.WaitGroup
	for _, s := range scanners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for path := range queue {
				if r.ctx.Err() != nil {
					return // past the deadline: yara's threads stop
				}
				r.scanOne(s, path)
			}
		}()
	}
	w := walker{
		recursive:  r.o.recursive,
		follow:     !r.o.noFollow,
		skipLarger: r.o.skipLarger,
		stderr:     r.e.stderr,
		mu:         &r.mu,
		put: func(path string) bool {
			select {
			case queue <- path:
				return true
			case <-r.ctx.Done():
				return false
			}
		},
	}
	if targetIsDir {
		w.walk(target)
	} else {
		r.walkList(&w, list)
	}
	close(queue)
	wg.Wait()
	return exitOK
}

// walkList queues the paths of a --scan-list file, one per line; a line
// naming a directory is walked like a directory target.
func (r *scanRun) walkList(w *walker, list io.Reader) {
	br := bufio.NewReader(list)
	for {
		line, err := br.ReadString('\n')
		if line == "" && err != nil {
			return
		}
		if line[len(line)-1] == '\n' {
			line = line[:len(line)-1]
		}
		var ok bool
		if isDir(line) {
			ok = w.walk(line)
		} else {
			ok = w.put(line)
		}
		if !ok || err != nil {
			return
		}
	}
}

// errWarning marks a scan failed by --fail-on-warnings.
var errWarning = errors.New("warning")

// scanOne scans one file and prints its results. It reports false when the
// scan failed.
func (r *scanRun) scanOne(s scanner, path string) bool {
	// r.ctx carries the deadline (run): no per-scan Timeout, whose timer
	// would cost an allocation and a timer per file.
	s.SetOptions(yara.ScanOptions{
		FastMode:           r.o.fast,
		CollectNotMatching: r.o.negate || r.o.limit != 0,
		CollectModuleData:  r.o.printModuleData,
		Profile:            r.o.profile > 0,
	})
	res, err := s.ScanFile(r.ctx, path)
	if r.prog != nil {
		size := int64(-1)
		if fi, err := os.Stat(path); err == nil {
			size = fi.Size()
		}
		r.prog.file(path, size)
	}
	if err == nil && res != nil && len(res.Warnings) > 0 && r.o.failOnWarnings && !r.o.noWarnings {
		err = fmt.Errorf("%w: %s", errWarning, res.Warnings[0])
	}
	if err == nil && res == nil {
		res = &yara.Result{}
	}
	if err != nil && !errors.Is(err, errWarning) {
		res = nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if res != nil && !r.o.noWarnings {
		for _, w := range res.Warnings {
			fmt.Fprintf(r.e.stderr, "warning: %s\n", w)
		}
	}
	if err != nil {
		r.printError(path, err)
		return false
	}
	if r.o.json {
		r.printJSON(path, res)
	} else {
		r.printText(path, res)
	}
	return true
}

func (r *scanRun) printError(path string, err error) {
	if r.o.count && r.dirMode {
		fmt.Fprintf(r.e.stdout, "%s: 0\n", path)
	}
	msg := scanErrorText(err)
	if errors.Is(err, yara.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		msg = "scanning timed out"
	}
	if r.o.json {
		writeJSONLine(r.e.stdout, jsonFile{Path: path, Error: msg})
	}
	fmt.Fprintf(r.e.stderr, "error scanning %s: %s\n", path, msg)
}

// onEvent is called for every event of a layered scan (scan_archive.go),
// before it is printed: it feeds the progress display and --quarantine.
func (r *scanRun) onEvent(ev scan.Event) {
	if ev.Depth == 0 {
		r.prog.file(ev.Path, ev.Size)
	}
	if r.quar != nil {
		r.quar.note(r, ev)
	}
}
