package yara

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const corpusDir = "/work/shared/corpus/yara-rules"

var importRe = regexp.MustCompile(`(?m)^\s*import\s+"([a-z0-9_]+)"`)

// TestCorpusCompiles compiles every rule file of the shared corpus. Files
// that import a module Vigil does not have yet (pe, elf, ...) are counted
// and skipped; every other file must compile.
func TestCorpusCompiles(t *testing.T) {
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skip("corpus not present")
	}
	have := map[string]bool{}
	for name := range NewCompiler().mods {
		have[name] = true
	}
	var total, ok, skipped int
	missing := map[string]int{}
	filepath.WalkDir(corpusDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".yar") || strings.HasSuffix(path, ".yara")) {
			return nil
		}
		total++
		src, err := os.ReadFile(path)
		if err != nil {
			t.Error(err)
			return nil
		}
		for _, m := range importRe.FindAllStringSubmatch(string(src), -1) {
			if !have[m[1]] {
				missing[m[1]]++
				skipped++
				return nil
			}
		}
		c := NewCompiler()
		if err := c.AddFile(path, ""); err != nil {
			t.Errorf("%s: %v", path, err)
			return nil
		}
		if _, err := c.Rules(); err != nil {
			t.Errorf("%s: %v", path, err)
			return nil
		}
		ok++
		return nil
	})
	t.Logf("corpus: %d files, %d compiled, %d skipped (modules not implemented: %v)", total, ok, skipped, missing)
}
