package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"vigil/scan"
	"vigil/yara"
)

// vigilScanOptions are vigil's own flags of `vigil scan` that use the
// scanning layer (package vigil/scan): archives, limits, excludes and the
// summary. Without any of them vigil scan runs exactly as yara.
type vigilScanOptions struct {
	set bool // one of the flags below was given

	archives    bool
	maxDepth    int64
	maxUnpacked int64
	maxRatio    int64
	maxMembers  int64
	maxFileSize int64
	fileTimeout int64 // seconds
	excludes    []string
	excludeFrom []string
	summary     bool
}

// addVigilScanFlags defines the flags of vigilScanOptions on fs.
func addVigilScanFlags(fs *pflag.FlagSet, v *vigilScanOptions) {
	v.maxDepth = scan.DefaultMaxDepth
	v.maxUnpacked = scan.DefaultMaxUnpacked
	v.maxRatio = scan.DefaultMaxRatio
	v.maxMembers = scan.DefaultMaxMembers
	v.maxFileSize = scan.DefaultMaxFileSize
	v.fileTimeout = int64(scan.DefaultFileTimeout / time.Second)
	add := func(name string, val pflag.Value, usage string) {
		fs.Var(&setValue{Value: val, set: &v.set}, name, usage)
	}
	add("archives", boolValue{&v.archives}, "scan inside archives and compressed files")
	fs.Lookup("archives").NoOptDefVal = "true"
	add("max-archive-depth", sizeValue{&v.maxDepth}, "archive nesting levels unpacked")
	add("max-unpacked-size", sizeValue{&v.maxUnpacked}, "bytes unpacked per file")
	add("max-ratio", sizeValue{&v.maxRatio}, "compression ratio limit")
	add("max-members", sizeValue{&v.maxMembers}, "members read per archive")
	add("max-file-size", sizeValue{&v.maxFileSize}, "largest file or member scanned")
	add("file-timeout", sizeValue{&v.fileTimeout}, "seconds per file")
	add("exclude", (*arrayValue)(&v.excludes), "skip paths matching GLOB")
	add("exclude-from", (*arrayValue)(&v.excludeFrom), "skip paths matching the globs in FILE")
	add("summary", boolValue{&v.summary}, "print a summary line on standard error")
	fs.Lookup("summary").NoOptDefVal = "true"
}

// vigilScanHelpRows are the --help rows of vigilScanOptions.
func vigilScanHelpRows() [][2]string {
	return [][2]string{
		{"     --archives", "scan inside zip, tar, gzip, bzip2, xz, zstd (nested) files; off by default"},
		{"     --max-archive-depth=NUMBER", fmt.Sprintf("archive nesting levels unpacked (default %d)", scan.DefaultMaxDepth)},
		{"     --max-unpacked-size=SIZE", "bytes unpacked from one file, all levels (default 1G)"},
		{"     --max-ratio=NUMBER", fmt.Sprintf("skip members expanding more than NUMBER times (default %d; 0: off)", scan.DefaultMaxRatio)},
		{"     --max-members=NUMBER", fmt.Sprintf("members read per archive (default %d)", scan.DefaultMaxMembers)},
		{"     --max-file-size=SIZE", "skip files and members larger than SIZE (default 512M)"},
		{"     --file-timeout=SECONDS", fmt.Sprintf("give up on one file after SECONDS (default %d)", int(scan.DefaultFileTimeout/time.Second))},
		{"     --exclude=GLOB", "skip files and directories matching GLOB; repeatable"},
		{"     --exclude-from=FILE", "skip paths matching the globs in FILE, one per line"},
		{"     --summary", "print totals on standard error at the end"},
	}
}

// setValue records that one of vigil's scan flags was given.
type setValue struct {
	pflag.Value
	set *bool
}

func (s *setValue) Set(v string) error {
	*s.set = true
	return s.Value.Set(v)
}

type boolValue struct{ p *bool }

func (b boolValue) String() string { return strconv.FormatBool(b.p != nil && *b.p) }
func (b boolValue) Type() string   { return "bool" }
func (b boolValue) Set(s string) error {
	v, err := strconv.ParseBool(s)
	*b.p = v
	return err
}

// arrayValue is a repeatable string flag.
type arrayValue []string

func (a *arrayValue) String() string     { return strings.Join(*a, ",") }
func (a *arrayValue) Type() string       { return "stringArray" }
func (a *arrayValue) Set(s string) error { *a = append(*a, s); return nil }

// sizeValue is a non-negative number, in C's strtol notation like yara's
// numbers, with an optional K, M or G suffix (powers of 1024).
type sizeValue struct{ p *int64 }

func (s sizeValue) String() string {
	if s.p == nil {
		return "0"
	}
	return strconv.FormatInt(*s.p, 10)
}
func (s sizeValue) Type() string { return "size" }
func (s sizeValue) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s.p = n
	return nil
}

func parseSize(v string) (int64, error) {
	shift := 0
	if v != "" {
		switch v[len(v)-1] {
		case 'k', 'K':
			shift = 10
		case 'm', 'M':
			shift = 20
		case 'g', 'G':
			shift = 30
		}
	}
	num := v
	if shift > 0 {
		num = v[:len(v)-1]
	}
	n, err := strconv.ParseInt(num, 0, 64)
	if err != nil || n < 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("invalid size %q", v)
	}
	return n << shift, nil
}

// scanOptions turns the flags into the options of package scan.
func (r *scanRun) scanOptions() (scan.Options, error) {
	v := &r.o.vigil
	o := scan.Options{
		Limits: scan.Limits{
			MaxFileSize: v.maxFileSize,
			MaxDepth:    int(min(v.maxDepth, 1<<20)),
			MaxUnpacked: v.maxUnpacked,
			MaxRatio:    v.maxRatio,
			MaxMembers:  int(min(v.maxMembers, 1<<30)),
			FileTimeout: time.Duration(min(v.fileTimeout, 1<<30)) * time.Second,
		},
		Archives:       v.archives,
		FollowSymlinks: !r.o.noFollow,
		Recursive:      r.o.recursive,
		Workers:        int(r.o.threads),
	}
	if r.o.skipLarger > 0 && (o.MaxFileSize == 0 || r.o.skipLarger-1 < o.MaxFileSize) {
		o.MaxFileSize = max(r.o.skipLarger-1, 1) // yara skips files of -z bytes or more
	}
	var x scan.Excludes
	for _, g := range v.excludes {
		if err := x.Add(g); err != nil {
			return o, err
		}
	}
	for _, name := range v.excludeFrom {
		f, err := os.Open(name)
		if err != nil {
			return o, fmt.Errorf("--exclude-from: %w", err)
		}
		err = x.AddFrom(f)
		f.Close()
		if err != nil {
			return o, fmt.Errorf("--exclude-from %s: %w", name, err)
		}
	}
	if x.Len() > 0 {
		o.Exclude = &x
	}
	return o, nil
}

// runLayered scans target through package scan: used when one of vigil's
// own scan flags is given.
func (r *scanRun) runLayered(target string, targetIsDir bool) int {
	opts, err := r.scanOptions()
	if err != nil {
		fmt.Fprintf(r.e.stderr, "vigil scan: %v\n", err)
		return exitError
	}
	roots := []string{target}
	switch {
	case r.o.scanList && targetIsDir:
		fmt.Fprintf(r.e.stderr, "error: cannot use a directory as scan list.\n")
		return exitError
	case r.o.scanList:
		if roots, err = readScanList(target); err != nil {
			fmt.Fprintf(r.e.stderr, "error: could not open file \"%s\".\n", target)
			return exitError
		}
	}
	// Members are reported with their own paths: -c always prints PATH: N.
	r.dirMode = targetIsDir || r.o.scanList || opts.Archives
	failed := false
	sum, err := scan.Run(r.ctx, opts, roots, r.layerScanner, func(ev scan.Event) {
		r.onEvent(ev) // scan_run.go: progress, quarantine
		if !r.printEvent(ev) && ev.Depth == 0 {
			failed = true
		}
	})
	if err != nil {
		fmt.Fprintf(r.e.stderr, "error: %v\n", err)
		return exitError
	}
	quarFailed := r.quar != nil && !r.quar.run(r) // quarantine.go
	if r.o.vigil.summary {
		r.printSummary(&sum)
	}
	if failed && !targetIsDir && !r.o.scanList || quarFailed {
		return exitError
	}
	return exitOK
}

// readScanList reads the paths of a --scan-list file, one per line.
func readScanList(name string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var paths []string
	br := bufio.NewReader(f)
	for {
		line, err := br.ReadString('\n')
		line = strings.TrimSuffix(line, "\n")
		if line != "" {
			paths = append(paths, line)
		}
		if err != nil {
			return paths, nil
		}
	}
}

// layerScanner makes a scanner for package scan.
func (r *scanRun) layerScanner() (scan.Scanner, error) {
	s, err := r.newScanner()
	if err != nil {
		return nil, err
	}
	s.SetOptions(yara.ScanOptions{
		FastMode:           r.o.fast,
		CollectNotMatching: r.o.negate || r.o.limit != 0,
		CollectModuleData:  r.o.printModuleData,
		Profile:            r.o.profile > 0,
	})
	return bytesScanner{s}, nil
}

// bytesScanner adapts the CLI's scanner to scan.Scanner.
type bytesScanner struct{ s scanner }

func (b bytesScanner) ScanBytes(ctx context.Context, data []byte) (*yara.Result, error) {
	if bs, ok := b.s.(scan.Scanner); ok {
		return bs.ScanBytes(ctx, data)
	}
	return b.s.ScanReader(ctx, bytes.NewReader(data))
}

// jsonSkipped is the --json object of a skipped file or member.
type jsonSkipped struct {
	Path    string `json:"path"`
	Skipped string `json:"skipped"`
	Detail  string `json:"detail"`
	Size    *int64 `json:"size,omitempty"`
}

// printEvent prints one event of package scan and reports false for a
// failed scan. Events never come concurrently; r.mu still guards the
// counters of -l.
func (r *scanRun) printEvent(ev scan.Event) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch ev.Kind {
	case scan.Scanned:
		res := ev.Result
		if res == nil {
			res = &yara.Result{}
		}
		if !r.o.noWarnings {
			for _, w := range res.Warnings {
				fmt.Fprintf(r.e.stderr, "warning: %s\n", w)
			}
			if len(res.Warnings) > 0 && r.o.failOnWarnings {
				r.printError(ev.Path, fmt.Errorf("%w: %s", errWarning, res.Warnings[0]))
				return false
			}
		}
		if r.o.json {
			r.printJSON(ev.Path, res)
		} else {
			r.printText(ev.Path, res)
		}
	case scan.Skipped:
		if r.o.json {
			js := jsonSkipped{Path: ev.Path, Skipped: string(ev.Reason), Detail: ev.Detail}
			if ev.Size >= 0 {
				js.Size = &ev.Size
			}
			writeJSONLine(r.e.stdout, js)
		}
		fmt.Fprintf(r.e.stderr, "skipping %s: %s [%s]\n", ev.Path, ev.Detail, ev.Reason)
	case scan.Failed:
		err := ev.Err
		if errors.Is(err, context.DeadlineExceeded) && r.ctx.Err() == nil {
			err = fmt.Errorf("%w", yara.ErrTimeout)
		}
		r.printError(ev.Path, err)
		return false
	}
	return true
}

// printSummary prints the --summary line.
func (r *scanRun) printSummary(s *scan.Summary) {
	var b strings.Builder
	fmt.Fprintf(&b, "summary: %d files and %d archive members scanned, %d bytes, %d matches, %d skipped",
		s.Files, s.Members, s.Bytes, s.Matches, s.SkippedTotal())
	if len(s.Skipped) > 0 {
		b.WriteString(" (")
		for i, reason := range s.Reasons() {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s %d", reason, s.Skipped[reason])
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, ", %d errors, %.3fs\n", s.Errors, s.Elapsed.Seconds())
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprint(r.e.stderr, b.String())
}
