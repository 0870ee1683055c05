package scan

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Excludes is a list of glob patterns (filepath.Match syntax) for paths
// not to walk. A pattern without a separator matches a file or directory
// name ("*.log", "node_modules"); a pattern with one matches the whole
// path or any trailing part of it starting at a separator ("build/*.o"
// matches "src/build/x.o"). An excluded directory is not entered. The
// patterns apply to archive members' paths too ("*.jpg" skips the JPEGs
// inside a zip).
type Excludes struct {
	globs []string
}

// Add adds a pattern; it fails for a malformed pattern.
func (x *Excludes) Add(glob string) error {
	if _, err := filepath.Match(glob, ""); err != nil {
		return fmt.Errorf("bad exclude pattern %q: %w", glob, err)
	}
	x.globs = append(x.globs, filepath.Clean(glob))
	return nil
}

// AddFrom adds the patterns of r, one per line; empty lines and lines
// starting with '#' are ignored.
func (x *Excludes) AddFrom(r io.Reader) error {
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := x.Add(line); err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
	}
	return sc.Err()
}

// Len is the number of patterns.
func (x *Excludes) Len() int {
	if x == nil {
		return 0
	}
	return len(x.globs)
}

// Match reports whether path p is excluded.
func (x *Excludes) Match(p string) bool {
	if x == nil {
		return false
	}
	p = filepath.Clean(p)
	base := filepath.Base(p)
	for _, g := range x.globs {
		if !strings.ContainsRune(g, filepath.Separator) {
			if ok, _ := filepath.Match(g, base); ok {
				return true
			}
			continue
		}
		for s := p; ; {
			if ok, _ := filepath.Match(g, s); ok {
				return true
			}
			i := strings.IndexRune(s, filepath.Separator)
			if i < 0 {
				break
			}
			s = s[i+1:]
		}
	}
	return false
}
