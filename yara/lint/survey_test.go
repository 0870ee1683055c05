package lint

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSurvey classifies every rule file under $VIGIL_LINT_SURVEY (each file
// on its own) and logs how many rules and files are Code and Document, and
// why each Document rule is. It is for measuring the linter on other rule
// collections; it only fails when a file does not parse or no rule is
// found. Run with -v to see the figures.
func TestSurvey(t *testing.T) {
	dir := os.Getenv("VIGIL_LINT_SURVEY")
	if dir == "" {
		t.Skip("set VIGIL_LINT_SURVEY to a directory of rule files")
	}
	rulesCode, rulesDoc, filesCode, filesDoc := 0, 0, 0, 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".yar") || strings.HasSuffix(p, ".yara")) {
			return err
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rep, err := ClassifySource(p, src)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			return nil
		}
		for _, v := range rep.Rules {
			if v.Class == Document {
				rulesDoc++
				t.Logf("%s:%d: %s: %s", p, v.Line, v.Rule, strings.Join(v.Reasons, " "))
			} else {
				rulesCode++
			}
		}
		if rep.Class == Document {
			filesDoc++
		} else {
			filesCode++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rulesCode+rulesDoc == 0 {
		t.Fatalf("no rules under %s", dir)
	}
	t.Logf("%s: %d files (%d code, %d document), %d rules (%d code, %d document)",
		dir, filesCode+filesDoc, filesCode, filesDoc, rulesCode+rulesDoc, rulesCode, rulesDoc)
}
