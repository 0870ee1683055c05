package cli

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vigil/yara/lint"
)

func writeRuleFile(t *testing.T, dir, name, src string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const lintCodeRules = `rule mz_loader {
    strings:
        $h = { 55 8B EC 83 EC 40 53 56 57 }
        $api = "VirtualAllocEx"
    condition:
        uint16(0) == 0x5A4D and any of them
}
`

const lintKeywordRule = `rule secret_project {
    strings:
        $a = "Operation Nightfall" nocase
        $b = "classified" nocase
    condition:
        any of them
}
`

func TestLintReportText(t *testing.T) {
	dir := t.TempDir()
	code := writeRuleFile(t, dir, "code.yar", lintCodeRules)
	kw := writeRuleFile(t, dir, "kw.yar", lintKeywordRule)

	var out bytes.Buffer
	class, err := lintReport(&out, []string{code}, false)
	if err != nil || class != "code" {
		t.Fatalf("code file: class %q, err %v", class, err)
	}
	s := out.String()
	for _, want := range []string{code + ":1: rule mz_loader: code", "MZ", "rule set: code"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}

	out.Reset()
	class, err = lintReport(&out, []string{code, kw}, false)
	if err != nil || class != "document" {
		t.Fatalf("code + keyword files: class %q, err %v", class, err)
	}
	s = out.String()
	for _, want := range []string{
		kw + ":1: rule secret_project: document",
		`"Operation Nightfall" is a phrase of plain words`,
		"rule set: document",
		"1 of 2 public rules",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}

func TestLintReportJSON(t *testing.T) {
	dir := t.TempDir()
	code := writeRuleFile(t, dir, "code.yar", lintCodeRules)
	kw := writeRuleFile(t, dir, "kw.yar", lintKeywordRule)
	var out bytes.Buffer
	class, err := lintReport(&out, []string{code, kw}, true)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), "\n") != 1 {
		t.Errorf("want one JSON line, got:\n%s", out.String())
	}
	var rep lint.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, out.String())
	}
	if string(rep.Class) != class || class != "document" {
		t.Errorf("class %q, JSON class %q", class, rep.Class)
	}
	if len(rep.Rules) != 2 || rep.Rules[0].Class != lint.Code || rep.Rules[1].Class != lint.Document {
		t.Errorf("rules: %+v", rep.Rules)
	}
	if rep.Rules[1].File != kw || rep.Rules[1].Line != 1 || len(rep.Rules[1].Reasons) == 0 {
		t.Errorf("keyword rule verdict: %+v", rep.Rules[1])
	}
}

func TestLintReportIncludes(t *testing.T) {
	dir := t.TempDir()
	writeRuleFile(t, dir, "sub/kw.yar", "include \"../main.yar\"\n"+lintKeywordRule) // a loop back
	main := writeRuleFile(t, dir, "main.yar", "include \"sub/kw.yar\"\n"+lintCodeRules)
	var out bytes.Buffer
	class, err := lintReport(&out, []string{main}, false)
	if err != nil || class != "document" {
		t.Fatalf("included keyword rule: class %q, err %v\n%s", class, err, out.String())
	}
	if !strings.Contains(out.String(), filepath.Join(dir, "sub/kw.yar")) {
		t.Errorf("included file not named:\n%s", out.String())
	}
}

func TestLintReportErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeRuleFile(t, dir, "bad.yar", `rule x { strings: $a = "x condition: $a }`)
	badInc := writeRuleFile(t, dir, "inc.yar", `include "missing.yar"`+"\n"+lintCodeRules)
	cases := map[string][]string{
		"no files":        nil,
		"missing file":    {filepath.Join(dir, "nope.yar")},
		"parse error":     {bad},
		"stdin":           {"-"},
		"missing include": {badInc},
	}
	for name, files := range cases {
		var out bytes.Buffer
		class, err := lintReport(&out, files, false)
		if err == nil || class != "" {
			t.Errorf("%s: class %q, err %v", name, class, err)
		}
		if out.Len() != 0 {
			t.Errorf("%s: printed a partial report:\n%s", name, out.String())
		}
	}
}

// TestLintReportCorpus lints the whole shared corpus as one rule set: it
// must be code.
func TestLintReportCorpus(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "corpus")
	var files []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yar") || strings.HasSuffix(p, ".yara")) {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Skipf("no corpus under %s", dir)
	}
	var out bytes.Buffer
	class, err := lintReport(&out, files, true)
	if err != nil {
		t.Fatal(err)
	}
	var rep lint.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if class != "code" {
		t.Errorf("corpus classified %s: %v", class, rep.Documents())
	}
	t.Logf("corpus: %d files, %d rules, class %s", len(files), len(rep.Rules), class)
	if len(rep.Rules) < len(files) {
		t.Errorf("only %d rules from %d files", len(rep.Rules), len(files))
	}
}

// TestBuiltinRulesAreCode: the example rules of `vigil scan --builtin-rules`
// and of `vigil server --dev` must be a code search, so that the demo hunt
// needs one approval, not a document search's two.
func TestBuiltinRulesAreCode(t *testing.T) {
	var out bytes.Buffer
	class, err := lintReport(&out, []string{"rules/examples.yar"}, false)
	if err != nil || class != "code" {
		t.Fatalf("builtin rules: class %q, %v\n%s", class, err, out.String())
	}
}
