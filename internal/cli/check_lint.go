package cli

// This file is `vigil check --lint`: the document-search linter's report.
// The classification itself lives in vigil/yara/lint.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"vigil/yara/lint"
	"vigil/yara/syntax"
)

// Limits of the linter's file reading: rule files are small, and includes
// must not loop or fan out without bound.
const (
	lintMaxFileSize = 64 << 20
	lintMaxIncludes = 1000
	lintMaxDepth    = 16
)

// lintReport classifies the rule files (with the files they include) as one
// rule set, prints a verdict and its reasons for every rule and for the
// whole set, and returns the set's class: "code" or "document". With asJSON
// it prints the lint.Report as one JSON line instead. An unreadable or
// unparsable file is an error and nothing is classified.
func lintReport(w io.Writer, files []string, asJSON bool) (class string, err error) {
	if len(files) == 0 {
		return "", errors.New("lint: no rule files")
	}
	l := &lintLoader{seen: map[string]bool{}}
	for _, f := range files {
		if f == "-" {
			return "", errors.New("lint: rules on standard input are not supported; give a file")
		}
		if err := l.load(f, 0); err != nil {
			return "", err
		}
	}
	rep := lint.Classify(l.parsed...)
	if asJSON {
		b, err := json.Marshal(rep)
		if err != nil {
			return "", err
		}
		if _, err := fmt.Fprintf(w, "%s\n", b); err != nil {
			return "", err
		}
		return string(rep.Class), nil
	}
	var sb strings.Builder
	for _, v := range rep.Rules {
		kind := "rule"
		if v.Private {
			kind = "private rule"
		}
		if v.Global {
			kind = "global " + kind
		}
		fmt.Fprintf(&sb, "%s:%d: %s %s: %s\n", v.File, v.Line, kind, v.Rule, v.Class)
		for _, r := range v.Reasons {
			fmt.Fprintf(&sb, "    %s\n", r)
		}
	}
	fmt.Fprintf(&sb, "rule set: %s\n", rep.Class)
	for _, r := range rep.Reasons {
		fmt.Fprintf(&sb, "    %s\n", r)
	}
	if _, err := io.WriteString(w, sb.String()); err != nil {
		return "", err
	}
	return string(rep.Class), nil
}

// lintLoader reads and parses rule files and the files they include.
type lintLoader struct {
	seen   map[string]bool
	parsed []*syntax.File
}

// load parses file and, first, the files it includes (relative to its
// directory), each once.
func (l *lintLoader) load(file string, depth int) error {
	if depth > lintMaxDepth {
		return fmt.Errorf("lint: %s: includes nested more than %d deep", file, lintMaxDepth)
	}
	key, err := filepath.Abs(file)
	if err != nil {
		key = file
	}
	if l.seen[key] {
		return nil
	}
	if len(l.seen) >= lintMaxIncludes {
		return fmt.Errorf("lint: more than %d rule files", lintMaxIncludes)
	}
	l.seen[key] = true
	src, err := readLimited(file, lintMaxFileSize)
	if err != nil {
		return fmt.Errorf("lint: %w", err)
	}
	f, err := syntax.Parse(file, src)
	if err != nil {
		return fmt.Errorf("lint: %w", err)
	}
	for _, d := range f.Decls {
		inc, ok := d.(*syntax.Include)
		if !ok {
			continue
		}
		p := inc.Path
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(file), p)
		}
		if err := l.load(p, depth+1); err != nil {
			return err
		}
	}
	l.parsed = append(l.parsed, f)
	return nil
}

// readLimited reads a file of at most max bytes.
func readLimited(file string, max int64) ([]byte, error) {
	fh, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("could not open file: %s", file)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", file, max)
	}
	return b, nil
}
