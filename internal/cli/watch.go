package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"vigil/scan"
	"vigil/scan/watch"
)

const watchUsage = "Usage: vigil watch [OPTION]... [NAMESPACE:]RULES_FILE... DIR..."

func watchHelp(w io.Writer) {
	fmt.Fprintf(w, `vigil watch: scan files when they are created or modified.
%s

The trailing arguments that are directories are watched, recursively,
including directories created later; the others are rule files. A file is
scanned once it has been quiet for --debounce, and reported like
'vigil scan' reports it (yara's text, or --json). vigil watch runs until
interrupted (Ctrl-C, SIGTERM).

Options: those of 'vigil scan' that concern rules and output (-s -L -g -m
-e -t -i -n -c -d -w -f -C --json --builtin-rules --fail-on-warnings),
archives and limits (--archives --max-* --file-timeout --exclude
--exclude-from), -N, --quarantine=DIR; and
      --debounce=DURATION  quiet time before a file is scanned (default 200ms)
`, watchUsage)
}

// watch is `vigil watch`.
func (e *env) watch(args []string) int {
	// Catch interrupts from the start: until then they kill the process
	// (or, in a background job, are ignored).
	ctx, stop := signal.NotifyContext(e.ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	o := &scanOptions{}
	fs := newScanFlags(o)
	debounce := fs.Duration("debounce", watch.DefaultDebounce, "quiet time before a file is scanned")
	if err := fs.Parse(args); err != nil {
		var tm *tooManyError
		if errors.As(err, &tm) {
			fmt.Fprintf(e.stderr, "%v\n", tm)
		} else {
			fmt.Fprintf(e.stderr, "vigil watch: %v\nTry `vigil watch --help` for more options\n", err)
		}
		return exitError
	}
	if o.help {
		watchHelp(e.stdout)
		return exitOK
	}
	pos := fs.Args()
	n := len(pos)
	for n > 0 && isDir(pos[n-1]) {
		n--
	}
	rules, dirs := pos[:n], pos[n:]
	if len(dirs) == 0 || (len(rules) == 0 && !o.builtin) {
		fmt.Fprintf(e.stderr, "vigil watch: wrong number of arguments: want rule files, then directories\n%s\n\nTry `--help` for more options\n", watchUsage)
		return exitError
	}
	switch {
	case o.scanList, len(o.moduleData) > 0, o.printModuleData && o.json:
		fmt.Fprintf(e.stderr, "vigil watch: --scan-list, -x and -D with --json cannot be used\n")
		return exitError
	case o.json && (o.count || o.negate):
		fmt.Fprintf(e.stderr, "vigil watch: --json cannot be combined with -c or -n\n")
		return exitError
	}
	defs := parseDefines(o.defines, e.stderr)
	rs, ok := e.scanRules(o, rules, defs)
	if !ok {
		return exitError
	}
	r := newScanRun(e, o, rs, defs)
	r.ctx = ctx
	r.dirMode = true
	opts, err := r.scanOptions()
	if err != nil {
		fmt.Fprintf(e.stderr, "vigil watch: %v\n", err)
		return exitError
	}
	s, err := r.layerScanner()
	if err != nil {
		fmt.Fprintf(e.stderr, "error: %v\n", err)
		return exitError
	}
	if o.quarantine != "" {
		r.quar = &quarantineSet{dir: o.quarantine}
	}
	wo := watch.Options{Options: opts, Debounce: *debounce,
		Ready: func(n int) {
			r.mu.Lock()
			fmt.Fprintf(e.stderr, "vigil watch: watching %d directories; interrupt to stop\n", n)
			r.mu.Unlock()
		},
		Done: func(string) {
			if r.quar != nil {
				r.quar.run(r)
				r.quar = &quarantineSet{dir: o.quarantine}
			}
		},
	}
	err = watch.Run(ctx, wo, dirs, s, func(ev scan.Event) {
		r.onEvent(ev)
		if ev.Kind == scan.Failed && ev.Path == "" {
			r.mu.Lock()
			fmt.Fprintf(e.stderr, "vigil watch: %v\n", ev.Err)
			r.mu.Unlock()
			return
		}
		r.printEvent(ev)
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(e.stderr, "vigil watch: %v\n", err)
		return exitError
	}
	return exitOK
}
