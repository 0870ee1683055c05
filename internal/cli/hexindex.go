package cli

import (
	"os"
	"path/filepath"

	"vigil/yara/syntax"
)

// hexIndex records which strings of which rules are hex strings: yara's -s
// prints their matches as hex bytes ("4D 5A") and other strings' matches as
// text. Scan results do not say how a string was written, so the index is
// built by parsing the rule sources (and their includes) with the project's
// parser. Rules loaded with -C have no index and print as text.
type hexIndex map[string]bool

// maxIncludeNesting bounds include recursion while indexing (yara's limit).
const maxIncludeNesting = 16

func hexKey(ns, rule, id string) string {
	if ns == "" {
		ns = "default"
	}
	return ns + "\x00" + rule + "\x00" + id
}

// isHex reports whether string id of rule in namespace ns is a hex string.
func (h hexIndex) isHex(ns, rule, id string) bool {
	return h[hexKey(ns, rule, id)]
}

func (h hexIndex) addFile(path, ns string) {
	if h == nil {
		return
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return
	}
	h.add(path, src, ns, filepath.Dir(path), 0)
}

// addSource indexes a source that has no file of its own; its includes
// resolve from the current directory.
func (h hexIndex) addSource(name string, src []byte, ns string) {
	if h == nil {
		return
	}
	h.add(name, src, ns, ".", 0)
}

func (h hexIndex) add(name string, src []byte, ns, dir string, depth int) {
	f, err := syntax.Parse(name, src)
	if err != nil || f == nil {
		return
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *syntax.Rule:
			for _, s := range d.Strings {
				if s.Kind == syntax.HexPattern {
					h[hexKey(ns, d.Name, s.ID)] = true
				}
			}
		case *syntax.Include:
			if depth >= maxIncludeNesting {
				continue
			}
			p := d.Path
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			if inc, err := os.ReadFile(p); err == nil {
				h.add(p, inc, ns, filepath.Dir(p), depth+1)
			}
		}
	}
}
