package cli

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"vigil/scan"
	"vigil/scan/quarantine"
)

// quarantineSet collects, during a scan, the top-level files to move into
// the quarantine store: files with a shown matching rule, and archives
// with one in a member.
type quarantineSet struct {
	dir   string
	cur   string              // the top-level file whose events are coming
	rules map[string][]string // top-level path → rules that matched in it
	order []string
}

// note records the matches of one event. Events of a top-level file come
// together, the file's own first.
func (q *quarantineSet) note(r *scanRun, ev scan.Event) {
	if ev.Depth == 0 {
		q.cur = ev.Path
	}
	if ev.Kind != scan.Scanned || ev.Result == nil || q.cur == "" {
		return
	}
	for i := range ev.Result.Matching {
		rule := &ev.Result.Matching[i]
		if !r.selected(rule) {
			continue
		}
		if q.rules == nil {
			q.rules = map[string][]string{}
		}
		old, seen := q.rules[q.cur]
		if !seen {
			q.order = append(q.order, q.cur)
		}
		name := rule.Name
		if rule.Namespace != "" && rule.Namespace != "default" {
			name = rule.Namespace + ":" + name
		}
		if !slices.Contains(old, name) {
			q.rules[q.cur] = append(old, name)
		}
	}
}

// jsonQuarantined is the --json object of a quarantined file.
type jsonQuarantined struct {
	Path        string   `json:"path"`
	Quarantined string   `json:"quarantined"` // the item's ID
	Store       string   `json:"store"`
	Rules       []string `json:"rules"`
	SHA256      string   `json:"sha256"`
}

// run moves the collected files into the store and reports each move. It
// reports false when a file could not be quarantined.
func (q *quarantineSet) run(r *scanRun) bool {
	if len(q.order) == 0 {
		return true
	}
	st, err := quarantine.Open(q.dir)
	if err != nil {
		fmt.Fprintf(r.e.stderr, "error: quarantine %s: %v\n", q.dir, err)
		return false
	}
	ok := true
	for _, p := range q.order {
		it, err := st.Add(p, q.rules[p])
		r.mu.Lock()
		switch {
		case errors.Is(err, quarantine.ErrNotFile), errors.Is(err, quarantine.ErrInStore):
			// A symbolic link (followed by the scan), a file replaced
			// meanwhile, or the store's own files: moving a link's target
			// could be made to remove any file, so nothing is moved.
			if r.o.json {
				writeJSONLine(r.e.stdout, jsonFile{Path: p, Error: "quarantine: " + err.Error()})
			}
			why := "not a regular file (symbolic links are never moved)"
			if errors.Is(err, quarantine.ErrInStore) {
				why = "a file of the quarantine store"
			}
			fmt.Fprintf(r.e.stderr, "not quarantined %s: %s\n", p, why)
		case err != nil:
			ok = false
			if r.o.json {
				writeJSONLine(r.e.stdout, jsonFile{Path: p, Error: "quarantine: " + err.Error()})
			}
			fmt.Fprintf(r.e.stderr, "error quarantining %s: %v\n", p, err)
		default:
			if r.o.json {
				writeJSONLine(r.e.stdout, jsonQuarantined{Path: p, Quarantined: it.ID, Store: q.dir, Rules: it.Rules, SHA256: it.SHA256})
			}
			fmt.Fprintf(r.e.stderr, "quarantined %s as %s\n", p, it.ID)
		}
		r.mu.Unlock()
	}
	return ok
}

const quarantineUsage = `Usage: vigil quarantine list [--json] DIR
       vigil quarantine restore [--force] [--keep] [--to PATH] DIR ID
       vigil quarantine delete DIR ID...

Manages a quarantine store made by 'vigil scan --quarantine DIR'.
  list     print the items: ID, time, size, rules, original path
  restore  put an item back, byte for byte, with its mode, times and
           (as root) owner; refuses to replace an existing file
           unless --force; --to restores elsewhere; --keep keeps
           the item in the store
  delete   remove items from the store for good
`

// quarantineCmd is `vigil quarantine`.
func (e *env) quarantineCmd(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := e.stdout
		if len(args) == 0 {
			w = e.stderr
		}
		io.WriteString(w, quarantineUsage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	sub := args[0]
	fs := pflag.NewFlagSet("vigil quarantine "+sub, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var ro quarantine.RestoreOptions
	var asJSON bool
	switch sub {
	case "list":
		fs.BoolVar(&asJSON, "json", false, "one JSON object per item")
	case "restore":
		fs.BoolVarP(&ro.Force, "force", "f", false, "replace an existing file")
		fs.BoolVar(&ro.Keep, "keep", false, "keep the item in the store")
		fs.StringVar(&ro.To, "to", "", "restore to PATH")
	case "delete":
	default:
		fmt.Fprintf(e.stderr, "vigil quarantine: unknown subcommand %q\n%s", sub, quarantineUsage)
		return exitUsage
	}
	if err := fs.Parse(args[1:]); err != nil {
		fmt.Fprintf(e.stderr, "vigil quarantine %s: %v\n%s", sub, err, quarantineUsage)
		return exitUsage
	}
	pos := fs.Args()
	wantArgs := map[string]bool{"list": len(pos) == 1, "restore": len(pos) == 2, "delete": len(pos) >= 2}
	if !wantArgs[sub] {
		fmt.Fprintf(e.stderr, "vigil quarantine %s: wrong number of arguments\n%s", sub, quarantineUsage)
		return exitUsage
	}
	st, err := quarantine.OpenExisting(pos[0])
	if err != nil {
		fmt.Fprintf(e.stderr, "vigil quarantine: %v\n", err)
		return exitError
	}
	switch sub {
	case "list":
		return e.quarantineList(st, asJSON)
	case "restore":
		it, err := st.Restore(pos[1], ro)
		if err != nil {
			fmt.Fprintf(e.stderr, "vigil quarantine restore: %v\n", err)
			if errors.Is(err, quarantine.ErrExists) {
				fmt.Fprintf(e.stderr, "hint: use --force to replace it, or --to PATH to restore elsewhere\n")
			}
			return exitError
		}
		dst := it.Path
		if ro.To != "" {
			dst = ro.To
		}
		fmt.Fprintf(e.stdout, "restored %s to %s\n", it.ID, dst)
	case "delete":
		code := exitOK
		for _, id := range pos[1:] {
			if err := st.Delete(id); err != nil {
				fmt.Fprintf(e.stderr, "vigil quarantine delete: %v\n", err)
				code = exitError
				continue
			}
			fmt.Fprintf(e.stdout, "deleted %s\n", id)
		}
		return code
	}
	return exitOK
}

func (e *env) quarantineList(st *quarantine.Store, asJSON bool) int {
	items, err := st.List()
	for _, it := range items {
		if asJSON {
			writeJSONLine(e.stdout, it)
			continue
		}
		fmt.Fprintf(e.stdout, "%s  %s  %d bytes  %s  %s\n", it.ID, it.Time.UTC().Format(time.RFC3339),
			it.Size, strings.Join(it.Rules, ","), quotePath(it.Path))
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "vigil quarantine list: %v\n", err)
		return exitError
	}
	return exitOK
}

// quotePath makes a path safe to print on a terminal: control bytes and
// invalid UTF-8 are escaped.
func quotePath(p string) string {
	for _, c := range []byte(p) {
		if c < 0x20 || c == 0x7f {
			return fmt.Sprintf("%q", p)
		}
	}
	if !utf8.ValidString(p) {
		return fmt.Sprintf("%q", p)
	}
	return p
}

// stringValue is a string flag for setValue.
type stringValue struct{ p *string }

func newStringValue(p *string) stringValue { return stringValue{p} }

func (s stringValue) String() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}
func (s stringValue) Type() string       { return "string" }
func (s stringValue) Set(v string) error { *s.p = v; return nil }
