package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"strings"
	"syscall"

	"vigil/scan/archive"
	"vigil/yara"
)

// Scanner is the rule engine as this package uses it; *yara.Scanner
// implements it. A Scanner is used by one goroutine at a time.
type Scanner interface {
	ScanBytes(ctx context.Context, data []byte) (*yara.Result, error)
}

// Options configure a scan. The zero value scans files only, without
// limits, archives or symlinks; start from DefaultOptions.
type Options struct {
	Limits
	// Archives makes archives and compressed files be unpacked and their
	// members scanned too (the archive itself is always scanned as is).
	Archives bool
	// FollowSymlinks follows symbolic links met while walking directories.
	// Paths given to Run or ScanFile are always followed.
	FollowSymlinks bool
	// Recursive enters subdirectories of directory roots.
	Recursive bool
	// Workers is the number of scanning goroutines of Run (at least 1).
	Workers int
	// Exclude skips matching paths while walking; nil excludes nothing.
	Exclude *Excludes
	// Skip, when not nil, is asked about every root and every directory
	// entry before it is opened or entered: true means the path is neither
	// read nor walked (the agent's local policy uses it for forbidden
	// places). It is called from the walking goroutine only.
	Skip func(path string) bool
}

// DefaultOptions returns the options of an agent scan: default limits,
// archives unpacked, recursive, symlinks not followed, 4 workers.
func DefaultOptions() Options {
	return Options{Limits: DefaultLimits(), Archives: true, Recursive: true, Workers: 4}
}

// errFileTimeout is the cause of a context cancelled by FileTimeout.
var errFileTimeout = errors.New("per-file timeout")

// errStop ends an archive walk early.
var errStop = errors.New("stop")

// ScanFile scans the file at path (following it if it is a symbolic link)
// and, with o.Archives, the members of the archives in it, calling emit
// for every outcome: the file's result, then its members' in archive
// order. It never opens special files for reading.
func (o *Options) ScanFile(ctx context.Context, s Scanner, path string, emit func(Event)) {
	o.scanFile(ctx, s, path, true, emit)
}

func (o *Options) scanFile(ctx context.Context, s Scanner, p string, follow bool, emit func(Event)) {
	if o.FileTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, o.FileTimeout, errFileTimeout)
		defer cancel()
	}
	fs := &fileScan{o: o, ctx: ctx, s: s, emit: emit}
	data, ok := fs.read(p, follow)
	if !ok {
		return
	}
	fs.top = int64(len(data))
	fs.data(p, data, 0)
}

// fileScan is the state of scanning one top-level file.
type fileScan struct {
	o       *Options
	ctx     context.Context
	s       Scanner
	emit    func(Event)
	top     int64 // size of the top-level file
	used    int64 // bytes unpacked so far
	stopped bool  // a limit ended the whole file's unpacking
}

func (f *fileScan) skip(p string, depth int, size int64, r Reason, detail string) {
	f.emit(Event{Kind: Skipped, Path: p, Depth: depth, Size: size, Reason: r, Detail: detail})
}

func (f *fileScan) fail(p string, depth int, err error) {
	if f.ctx.Err() != nil {
		f.stopped = true
	}
	if context.Cause(f.ctx) == errFileTimeout {
		f.skip(p, depth, -1, ReasonTimeout, fmt.Sprintf("per-file timeout of %v passed", f.o.FileTimeout))
		return
	}
	f.emit(Event{Kind: Failed, Path: p, Depth: depth, Size: -1, Err: err})
}

// read opens and reads a top-level file, reporting why when it cannot.
func (f *fileScan) read(p string, follow bool) ([]byte, bool) {
	fi, err := os.Lstat(p)
	if err != nil {
		f.fail(p, 0, err)
		return nil, false
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if !follow {
			f.skip(p, 0, -1, ReasonSymlink, "symbolic links are not followed")
			return nil, false
		}
		if fi, err = os.Stat(p); err != nil {
			f.fail(p, 0, err)
			return nil, false
		}
	}
	if !f.check(p, fi) {
		return nil, false
	}
	flags := os.O_RDONLY | syscall.O_NONBLOCK
	file, err := os.OpenFile(p, flags, 0)
	if err != nil {
		f.fail(p, 0, err)
		return nil, false
	}
	defer file.Close()
	// The file may have been replaced since lstat: check what was opened.
	if fi, err = file.Stat(); err != nil {
		f.fail(p, 0, err)
		return nil, false
	}
	if !f.check(p, fi) {
		return nil, false
	}
	limit := f.o.MaxFileSize
	if limit <= 0 {
		limit = math.MaxInt64 - 1
	}
	data := make([]byte, 0, min(fi.Size(), limit)+1)
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, err := file.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if int64(len(data)) > limit {
			f.skip(p, 0, int64(len(data)), ReasonTooLarge, fmt.Sprintf("grew larger than %d bytes while read", limit))
			return nil, false
		}
		if err == io.EOF {
			return data, true
		}
		if err != nil {
			f.fail(p, 0, err)
			return nil, false
		}
	}
}

// check reports (and emits why) when fi is not a regular file within the
// size limit.
func (f *fileScan) check(p string, fi fs.FileInfo) bool {
	switch {
	case fi.IsDir():
		f.fail(p, 0, &fs.PathError{Op: "scan", Path: p, Err: syscall.EISDIR})
		return false
	case !fi.Mode().IsRegular():
		f.skip(p, 0, -1, ReasonSpecial, specialKind(fi.Mode())+": not opened")
		return false
	case f.o.MaxFileSize > 0 && fi.Size() > f.o.MaxFileSize:
		f.skip(p, 0, fi.Size(), ReasonTooLarge, fmt.Sprintf("%d bytes, limit %d", fi.Size(), f.o.MaxFileSize))
		return false
	}
	return true
}

// specialKind names the type of a special file.
func specialKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	}
	return "special file"
}

// data scans data, labelled p, and recurses into it if it is an archive.
func (f *fileScan) data(p string, data []byte, depth int) {
	if err := f.ctx.Err(); err != nil {
		f.fail(p, depth, err)
		return
	}
	res, err := f.s.ScanBytes(f.ctx, data)
	if err != nil {
		f.fail(p, depth, err)
		return
	}
	f.emit(Event{Kind: Scanned, Path: p, Depth: depth, Size: int64(len(data)), Result: res})
	if !f.o.Archives {
		return
	}
	format := archive.Detect(data)
	if format == archive.None {
		return
	}
	if f.o.MaxDepth > 0 && depth >= f.o.MaxDepth {
		f.skip(p, depth, int64(len(data)), ReasonDepth,
			fmt.Sprintf("%v archive nested deeper than %d levels: members not scanned", format, f.o.MaxDepth))
		return
	}
	members := 0
	name := p[strings.LastIndexByte(p, '!')+1:]
	err = archive.Walk(format, data, path.Base(name), func(m *archive.Member) error {
		if f.ctx.Err() != nil || f.stopped {
			return errStop
		}
		members++
		if f.o.MaxMembers > 0 && members > f.o.MaxMembers {
			f.skip(p, depth, int64(len(data)), ReasonMembers,
				fmt.Sprintf("more than %d members: the rest not scanned", f.o.MaxMembers))
			return errStop
		}
		f.member(p+"!"+m.Name, m, depth+1)
		return nil
	})
	switch {
	case errors.Is(err, archive.ErrMembers):
		f.skip(p, depth, int64(len(data)), ReasonMembers, err.Error())
	case errors.Is(err, errStop) && f.ctx.Err() != nil && !f.stopped:
		f.fail(p, depth, f.ctx.Err())
		f.stopped = true
	case err != nil && !errors.Is(err, errStop):
		f.fail(p, depth, err)
	}
}

// member reads one archive member within the limits and scans it.
func (f *fileScan) member(p string, m *archive.Member, depth int) {
	if f.o.Exclude.Match(m.Name) {
		return
	}
	if m.Encrypted {
		f.skip(p, depth, m.Size, ReasonEncrypted, "encrypted member: not scanned")
		return
	}
	// What may still be unpacked from this top-level file: the unpacked
	// budget, and MaxRatio times the file's size (nested bombs).
	limit, reason := int64(math.MaxInt64-1), ReasonTooLarge
	if f.o.MaxUnpacked > 0 {
		limit, reason = f.o.MaxUnpacked-f.used, ReasonUnpacked
	}
	if f.o.MaxRatio > 0 && f.top <= math.MaxInt64/f.o.MaxRatio {
		if r := max(f.o.MaxRatio*f.top, archive.RatioFloor) - f.used; r < limit {
			limit, reason = r, ReasonRatio
		}
	}
	if limit <= 0 {
		f.skipBudget(p, depth, m.Size, reason)
		return
	}
	if f.o.MaxFileSize > 0 && f.o.MaxFileSize < limit {
		limit, reason = f.o.MaxFileSize, ReasonTooLarge
	}
	data, err := m.Read(f.ctx, archive.ReadLimits{MaxSize: limit, MaxRatio: f.o.MaxRatio})
	switch {
	case errors.Is(err, archive.ErrTooLarge) && reason == ReasonTooLarge:
		f.skip(p, depth, m.Size, ReasonTooLarge, fmt.Sprintf("larger than %d bytes", limit))
	case errors.Is(err, archive.ErrTooLarge):
		f.skipBudget(p, depth, m.Size, reason)
	case errors.Is(err, archive.ErrRatio):
		f.skip(p, depth, m.Size, ReasonRatio, fmt.Sprintf("expands more than %d times", f.o.MaxRatio))
	case errors.Is(err, archive.ErrDict):
		f.skip(p, depth, m.Size, ReasonDict, err.Error())
	case err != nil:
		f.fail(p, depth, err)
	default:
		f.used += int64(len(data))
		f.data(p, data, depth)
	}
}

// skipBudget reports a member refused because the file's unpacking budget
// is spent, and stops unpacking the file.
func (f *fileScan) skipBudget(p string, depth int, size int64, r Reason) {
	detail := fmt.Sprintf("%d bytes unpacked from this file: the limit; the rest not scanned", f.used)
	if r == ReasonRatio {
		detail = fmt.Sprintf("unpacking would pass %d times the file's %d bytes; the rest not scanned", f.o.MaxRatio, f.top)
	}
	f.skip(p, depth, size, r, detail)
	f.stopped = true
}
