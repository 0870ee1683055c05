package yara

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"vigil/yara/syntax"
)

var corpusDiff = flag.Bool("corpusdiff", false, "scan synthetic data with every corpus rule file in Vigil and yara and compare")

var condRe = regexp.MustCompile(`(?s)condition:.*?\n\}`)

// TestCorpusDiff is a slow differential test (enabled with -corpusdiff).
// For every corpus rule file, each condition is replaced by `any of them`
// (modules aside, the corpus' conditions rarely hold on synthetic data),
// and data is synthesized from the file's own strings: every hex string is
// instantiated once (wildcards and jumps filled). Both engines must agree
// on rules, offsets and lengths.
func TestCorpusDiff(t *testing.T) {
	if !*corpusDiff {
		t.Skip("enable with -corpusdiff")
	}
	if !haveYara() {
		t.Skip("yara not installed")
	}
	filepath.WalkDir(corpusDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".yar") || strings.HasSuffix(path, ".yara")) {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		f, err := syntax.Parse(path, src)
		if err != nil {
			return nil
		}
		var data bytes.Buffer
		for _, dcl := range f.Decls {
			r, ok := dcl.(*syntax.Rule)
			if !ok {
				continue
			}
			if len(r.Strings) == 0 {
				return nil // `any of them` needs strings
			}
			for _, s := range r.Strings {
				switch s.Kind {
				case syntax.TextString:
					data.Write(s.Text)
				case syntax.HexPattern:
					data.Write(instantiateHex(s.Hex.Tokens))
				}
				data.WriteString(" \x00filler\xff ")
			}
		}
		mod := condRe.ReplaceAllString(string(src), "condition: any of them\n}")
		mod = strings.ReplaceAll(mod, `import "pe"`, "")
		mod = strings.ReplaceAll(mod, `import "elf"`, "")
		t.Run(filepath.Base(path), func(t *testing.T) { checkAgainstYara(t, mod, data.Bytes(), ScanOptions{}) })
		return nil
	})
	t.Logf("compared %d lines of yara output", matchedLines)
}

// instantiateHex returns bytes matching a hex string.
func instantiateHex(toks []syntax.HexToken) []byte {
	var b []byte
	for _, tk := range toks {
		switch tk := tk.(type) {
		case *syntax.HexByte:
			v := tk.Value&tk.Mask | 0x41&^tk.Mask
			if tk.Not {
				v = ^v
			}
			b = append(b, v)
		case *syntax.HexJump:
			n := tk.Min
			if tk.Max != tk.Min {
				n++
			}
			b = append(b, bytes.Repeat([]byte{0x42}, n)...)
		case *syntax.HexAlt:
			b = append(b, instantiateHex(tk.Alts[len(tk.Alts)-1])...)
		}
	}
	return b
}
