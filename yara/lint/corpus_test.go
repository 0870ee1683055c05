package lint

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusDir is the shared corpus of real malware-hunting rules.
const corpusDir = "../../../shared/corpus"

// TestCorpusIsCode classifies every rule file of the shared corpus, each
// on its own as `vigil check --lint FILE` would: every file must be Code.
// It logs how many rules came out Code and Document.
func TestCorpusIsCode(t *testing.T) {
	dir := corpusDir
	if d := os.Getenv("VIGIL_LINT_CORPUS"); d != "" {
		dir = d
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("corpus %s not present: %v", dir, err)
	}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yar") || strings.HasSuffix(p, ".yara")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skipf("no rule files under %s", dir)
	}
	rulesCode, rulesDoc, filesCode, filesDoc := 0, 0, 0, 0
	for _, p := range files {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := ClassifySource(p, src)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		for _, v := range rep.Rules {
			if v.Class == Document {
				rulesDoc++
				t.Errorf("%s:%d: rule %s classified document: %s", p, v.Line, v.Rule, strings.Join(v.Reasons, " "))
			} else {
				rulesCode++
			}
		}
		if rep.Class == Document {
			filesDoc++
		} else {
			filesCode++
		}
	}
	t.Logf("corpus %s: %d files (%d code, %d document), %d rules (%d code, %d document)",
		dir, len(files), filesCode, filesDoc, rulesCode+rulesDoc, rulesCode, rulesDoc)
	if rulesCode == 0 {
		t.Fatal("no rule classified: the corpus walk found nothing")
	}
}
