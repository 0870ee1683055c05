package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// run runs the vigil command line in-process.
func run(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// writeFiles creates files (name → content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

func yaraOutput(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	o := runYara(t, dir, scriptCmd{args: args})
	return o.exit, o.stdout
}

const sampleRules = `
rule Hello : greeting { meta: lang = "en" strings: $h = "hello" $x = { 77 6F 72 6C } condition: $h or $x }
rule Never { condition: false }
`

// TestBinary runs the real vigil binary, built into a temporary directory,
// and compares it with yara.
func TestBinary(t *testing.T) {
	if !haveYara() {
		t.Skip("no " + yaraPath)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "vigil")
	build := exec.Command("go", "build", "-o", bin, "vigil/cmd/vigil")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	writeFiles(t, dir, map[string]string{
		"r.yar":       sampleRules,
		"data/a":      "hello world",
		"data/b":      "nothing",
		"data/sub/c":  "world",
		"bad.yar":     "rule { condition: true }",
		"missing.yar": "",
	})
	must(t, os.Remove(filepath.Join(dir, "missing.yar")))
	for _, args := range [][]string{
		{"-s", "-g", "-m", "r.yar", "data/a"},
		{"-rs", "-p", "1", "r.yar", "data"},
		{"-c", "-n", "r.yar", "data/b"},
		{"bad.yar", "data/a"},
		{"missing.yar", "data/a"},
		{"r.yar", "data/missing"},
	} {
		wantCode, want := yaraOutput(t, dir, args...)
		cmd := exec.Command(bin, append([]string{"scan"}, args...)...)
		cmd.Dir = dir
		var out bytes.Buffer
		cmd.Stdout = &out
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != wantCode || out.String() != want {
			t.Errorf("vigil scan %q: exit %d, stdout:\n%s\nyara: exit %d, stdout:\n%s", args, code, out.String(), wantCode, want)
		}
	}
}

// TestCompileThenScan checks that `vigil compile` + `vigil scan -C` prints
// what yara prints from the rule sources.
func TestCompileThenScan(t *testing.T) {
	if !haveYara() {
		t.Skip("no " + yaraPath)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	writeFiles(t, dir, map[string]string{
		"a.yar":     sampleRules,
		"b.yar":     `include "inc/i.yar" rule Ext { condition: n == 3 and Inc }`,
		"inc/i.yar": `rule Inc { strings: $a = "hello" condition: $a }`,
		"in":        "hello world",
	})
	code, _, stderr := run(t, "", "compile", "-d", "n=3", "a.yar", "ns:b.yar", "-o", "rules.vgc")
	if code != 0 {
		t.Fatalf("compile: exit %d: %s", code, stderr)
	}
	// Once compiled, the rules no longer need the include file.
	must(t, os.RemoveAll(filepath.Join(dir, "inc")))
	// -s checks that hex strings still print as hex bytes without sources.
	for _, flags := range [][]string{{"-e", "-g", "-m"}, {"-e", "-L"}, {"-c"}, {"-n", "-e"}, {"-s"}, {"-n", "-s"}} {
		code, got, stderr := run(t, "", append(append([]string{"scan", "-C"}, flags...), "rules.vgc", "in")...)
		writeFiles(t, dir, map[string]string{"inc/i.yar": `rule Inc { strings: $a = "hello" condition: $a }`})
		wantCode, want := yaraOutput(t, dir, append(flags, "-d", "n=3", "a.yar", "ns:b.yar", "in")...)
		must(t, os.RemoveAll(filepath.Join(dir, "inc")))
		if code != wantCode || got != want {
			t.Errorf("scan -C %q: exit %d %q (stderr %q), yara: exit %d %q", flags, code, got, stderr, wantCode, want)
		}
	}
	// -d overrides the compiled value on every scanner.
	if code, got, _ := run(t, "", "scan", "-C", "-d", "n=4", "rules.vgc", "in"); code != 0 || strings.Contains(got, "Ext") {
		t.Errorf("scan -C -d n=4: exit %d, %q; Ext should not match", code, got)
	}
	if code, _, _ := run(t, "", "scan", "-C", "a.yar", "in"); code != 1 {
		t.Errorf("scan -C with a source file: exit %d, want 1", code)
	}
	if code, _, _ := run(t, "", "scan", "-C", "rules.vgc", "a.yar", "in"); code != 1 {
		t.Errorf("scan -C with two rule files: exit %d, want 1", code)
	}
}

var diagLine = regexp.MustCompile(`^[^:]+:\d+:\d+: (error|warning): .+ \[[EW]\d+\]$`)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFiles(t, dir, map[string]string{
		"good.yar": sampleRules,
		"bad.yar":  "rule A { condition: nope }\nrule B { strings: $a = \"xyzw\" condition: true }\n",
		"warn.yar": "rule W { strings: $a = { 00 ?? 00 } condition: $a }\n",
		"ext.yar":  "rule E { condition: flag }\n",
	})
	tests := []struct {
		args   []string
		code   int
		errors int // error lines on stdout (-1: don't count)
	}{
		{[]string{"good.yar"}, 0, 0},
		{[]string{"bad.yar"}, 1, 2},
		{[]string{"good.yar", "bad.yar"}, 1, 2},
		{[]string{"ext.yar"}, 1, 1},
		{[]string{"-d", "flag=true", "ext.yar"}, 0, 0},
		{[]string{"missing.yar"}, 1, -1},
	}
	for _, tt := range tests {
		code, out, stderr := run(t, "", append([]string{"check"}, tt.args...)...)
		if code != tt.code {
			t.Errorf("check %q: exit %d, want %d (stderr %q)", tt.args, code, tt.code, stderr)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if out == "" {
			lines = nil
		}
		errs := 0
		for _, l := range lines {
			if strings.Contains(l, ": error: ") {
				errs++
			}
		}
		if tt.errors >= 0 && errs != tt.errors {
			t.Errorf("check %q: %d errors, want %d:\n%s", tt.args, errs, tt.errors, out)
		}
		for _, l := range lines {
			if !diagLine.MatchString(l) {
				t.Errorf("check %q: line %q is not file:line:col: severity: message [CODE]", tt.args, l)
			}
			if !strings.HasPrefix(l, "bad.yar:") && !strings.HasPrefix(l, "ext.yar:") && !strings.HasPrefix(l, "good.yar:") {
				t.Errorf("check %q: line %q does not name the file", tt.args, l)
			}
		}
	}
	// Positions: the undefined identifier is on line 1.
	_, out, _ := run(t, "", "check", "bad.yar")
	if !strings.HasPrefix(out, "bad.yar:1:") {
		t.Errorf("first diagnostic %q, want it on line 1", out)
	}
	// JSON lines carry the same diagnostics.
	code, out, _ := run(t, "", "check", "--json", "bad.yar")
	if code != 1 {
		t.Errorf("check --json: exit %d", code)
	}
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var d map[string]any
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("check --json line %q: %v", l, err)
		}
		for _, k := range []string{"severity", "code", "file", "line", "col", "message"} {
			if _, ok := d[k]; !ok {
				t.Errorf("check --json line %q lacks %q", l, k)
			}
		}
		switch d["severity"] {
		case "error":
			n++
		case "warning":
		default:
			t.Errorf("severity %v", d["severity"])
		}
	}
	if n != 2 {
		t.Errorf("check --json: %d errors, want 2", n)
	}
	if code, _, _ := run(t, "", "check"); code != exitUsage {
		t.Errorf("check without files: exit %d, want %d", code, exitUsage)
	}
}

func TestCheckWarnings(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	// yara warns about this string (it slows down scanning).
	writeFiles(t, dir, map[string]string{"warn.yar": "rule W { strings: $a = { 00 ?? 00 } condition: $a }\n"})
	code, out, _ := run(t, "", "check", "warn.yar")
	if !strings.Contains(out, ": warning: ") {
		t.Skip("the engine does not report this warning yet")
	}
	if code != 0 {
		t.Errorf("warnings alone: exit %d, want 0", code)
	}
	if code, _, _ := run(t, "", "check", "--fail-on-warnings", "warn.yar"); code != 1 {
		t.Errorf("--fail-on-warnings: exit %d, want 1", code)
	}
	if code, out, _ := run(t, "", "check", "-w", "--fail-on-warnings", "warn.yar"); code != 0 || out != "" {
		t.Errorf("-w --fail-on-warnings: exit %d %q, want 0 and nothing", code, out)
	}
}

func TestScanJSON(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFiles(t, dir, map[string]string{
		"r.yar": sampleRules + "\nimport \"console\"\nrule Log { condition: console.log(\"seen\") and false }\n",
		"d/a":   "say hello world",
		"d/b":   "nothing",
	})
	code, out, stderr := run(t, "", "scan", "--json", "-r", "-p", "1", "r.yar", "d")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	type jm struct {
		Offset int64  `json:"offset"`
		Length int    `json:"length"`
		Data   []byte `json:"data"`
	}
	type js struct {
		ID      string `json:"id"`
		Matches []jm   `json:"matches"`
	}
	type jr struct {
		Rule      string                   `json:"rule"`
		Namespace string                   `json:"namespace"`
		Tags      []string                 `json:"tags"`
		Meta      []map[string]interface{} `json:"meta"`
		Strings   []js                     `json:"strings"`
	}
	type jf struct {
		Path    string   `json:"path"`
		Matches []jr     `json:"matches"`
		Console []string `json:"console"`
		Error   string   `json:"error"`
	}
	byPath := map[string]jf{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var f jf
		if err := json.Unmarshal([]byte(l), &f); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		byPath[f.Path] = f
	}
	a, ok := byPath[filepath.Join("d", "a")]
	if !ok || len(a.Matches) != 1 {
		t.Fatalf("d/a: %+v, want one match; output:\n%s", a, out)
	}
	m := a.Matches[0]
	if m.Rule != "Hello" || m.Namespace != "default" || len(m.Tags) != 1 || m.Tags[0] != "greeting" {
		t.Errorf("match %+v", m)
	}
	if len(m.Meta) != 1 || m.Meta[0]["key"] != "lang" || m.Meta[0]["value"] != "en" {
		t.Errorf("meta %+v", m.Meta)
	}
	if len(m.Strings) != 2 || m.Strings[0].ID != "$h" || len(m.Strings[0].Matches) != 1 {
		t.Fatalf("strings %+v", m.Strings)
	}
	if h := m.Strings[0].Matches[0]; h.Offset != 4 || h.Length != 5 || string(h.Data) != "hello" {
		t.Errorf("$h match %+v", h)
	}
	if len(a.Console) != 1 || a.Console[0] != "seen" {
		t.Errorf("console %q", a.Console)
	}
	if b := byPath[filepath.Join("d", "b")]; len(b.Matches) != 0 || len(b.Console) != 1 {
		t.Errorf("d/b: %+v, want only the console message", b)
	}
	// A file that cannot be scanned is reported as an object with "error".
	code, out, _ = run(t, "", "scan", "--json", "r.yar", "nonexistent")
	var f jf
	if err := json.Unmarshal([]byte(out), &f); err != nil || f.Path != "nonexistent" || f.Error == "" || code != 1 {
		t.Errorf("missing file: exit %d, %q", code, out)
	}
	if code, _, _ := run(t, "", "scan", "--json", "-c", "r.yar", "d"); code != 1 {
		t.Errorf("--json -c: exit %d, want 1", code)
	}
}

// TestBuiltinRules compares --builtin-rules with yara running the same
// rule file.
func TestBuiltinRules(t *testing.T) {
	if !haveYara() {
		t.Skip("no " + yaraPath)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	elf, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Skip(err)
	}
	writeFiles(t, dir, map[string]string{
		"rules.yar":  string(builtinRules),
		"d/eicar":    `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`,
		"d/elf":      string(elf),
		"d/text.txt": "just text\n",
	})
	for _, flags := range [][]string{{"-r", "-p", "1"}, {"-r", "-p", "1", "-s", "-g", "-m"}} {
		code, got, stderr := run(t, "", append(append([]string{"scan", "--builtin-rules", "-w"}, flags...), "d")...)
		wantCode, want := yaraOutput(t, dir, append(append([]string{"-w"}, flags...), "rules.yar", "d")...)
		if code != wantCode || got != want {
			t.Errorf("--builtin-rules %q: exit %d (stderr %q):\n%s\nyara: exit %d:\n%s", flags, code, stderr, got, wantCode, want)
		}
	}
}

func TestVersionAndHelp(t *testing.T) {
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"version"}, 0, "vigil "},
		{[]string{"--version"}, 0, "vigil "},
		{[]string{"scan", "-v"}, 0, "4.2.3\n"},
		{[]string{"scan", "--version"}, 0, "4.2.3\n"},
		{[]string{"scan", "-h"}, 0, "--print-strings"},
		{[]string{"help", "scan"}, 0, "--builtin-rules"},
		{[]string{"help"}, 0, "Commands:"},
		{[]string{"check", "--help"}, 0, "--json"},
		{[]string{"compile", "--help"}, 0, "--output"},
		{[]string{}, exitUsage, ""},
		{[]string{"frobnicate"}, exitUsage, ""},
	} {
		code, out, _ := run(t, "", tt.args...)
		if code != tt.code || !strings.Contains(out, tt.want) {
			t.Errorf("vigil %q: exit %d, output %q; want exit %d and %q", tt.args, code, out, tt.code, tt.want)
		}
	}
}

// TestScanFlagsNotInYara covers what yara cannot check: -S, -D, -x, -k and
// the thread-count limits.
func TestScanFlagsNotInYara(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFiles(t, dir, map[string]string{"r.yar": sampleRules, "in": "hello"})
	code, out, _ := run(t, "", "scan", "-S", "r.yar", "in")
	if code != 0 || out != "number of rules                    : 2\nHello in\n" {
		t.Errorf("-S: exit %d, %q", code, out)
	}
	for _, args := range [][]string{{"-D", "--json"}, {"-x", "pe=in"}, {"-p", "0"}, {"-p", "33"}} {
		code, out, stderr := run(t, "", append(append([]string{"scan"}, args...), "r.yar", "in")...)
		if code != 1 || out != "" || stderr == "" {
			t.Errorf("scan %q: exit %d, stdout %q, stderr %q; want 1, nothing, an error", args, code, out, stderr)
		}
	}
	if code, out, _ := run(t, "", "scan", "-k", "100", "--max-strings-per-rule=5", "r.yar", "in"); code != 0 || out != "Hello in\n" {
		t.Errorf("-k: exit %d, %q", code, out)
	}
}

// TestTooManyMatches compares the "too many matches" case with yara: a
// warning, or with --fail-on-warnings a failed scan.
func TestTooManyMatches(t *testing.T) {
	if !haveYara() {
		t.Skip("no " + yaraPath)
	}
	if testing.Short() {
		t.Skip("scans 1.1 MB with a million matches")
	}
	dir := t.TempDir()
	t.Chdir(dir)
	writeFiles(t, dir, map[string]string{
		"r.yar":  `rule Many { strings: $a = "aaaa" condition: $a }`,
		"d/many": strings.Repeat("a", 1100000),
	})
	for _, args := range [][]string{
		{"-c", "r.yar", "d/many"},
		{"--fail-on-warnings", "r.yar", "d/many"},
		{"-w", "--fail-on-warnings", "r.yar", "d/many"},
		{"--fail-on-warnings", "-c", "r.yar", "d"},
	} {
		code, got, stderr := run(t, "", append([]string{"scan"}, args...)...)
		wantCode, want := yaraOutput(t, dir, args...)
		if code != wantCode || got != want {
			t.Errorf("scan %q: exit %d, %q (stderr %q); yara: exit %d, %q", args, code, got, stderr, wantCode, want)
		}
		if !strings.Contains(args[0], "-w") && !strings.Contains(stderr, "warning: ") {
			t.Errorf("scan %q: no warning on stderr: %q", args, stderr)
		}
	}
}

// TestThreadsKeepFilesTogether checks that with several threads the lines
// of one file (rule lines and their string lines) stay together: the
// blocks are the same as with one thread, in another order.
func TestThreadsKeepFilesTogether(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	files := map[string]string{"r.yar": `
import "console"
rule A { strings: $a = "abc" $b = "xyz" condition: any of them and console.log("A seen") }
rule B { strings: $c = "123" condition: $c }
`}
	for i := 0; i < 60; i++ {
		files[filepath.Join("d", strings.Repeat("f", 1+i%7)+string(rune('a'+i%26))+strings.Repeat("0", i/26))] =
			strings.Repeat("abc xyz 123 ", 1+i%5)
	}
	writeFiles(t, dir, files)
	blocks := func(out string) []string {
		var bs []string
		for _, l := range strings.SplitAfter(out, "\n") {
			if l == "" {
				continue
			}
			if strings.HasPrefix(l, "0x") && len(bs) > 0 && !strings.HasPrefix(bs[len(bs)-1], "A seen") {
				bs[len(bs)-1] += l
			} else {
				bs = append(bs, l)
			}
		}
		sort.Strings(bs)
		return bs
	}
	_, one, _ := run(t, "", "scan", "-s", "-p", "1", "r.yar", "d")
	_, many, _ := run(t, "", "scan", "-s", "-p", "8", "r.yar", "d")
	if one == "" || !reflect.DeepEqual(blocks(one), blocks(many)) {
		t.Errorf("-p 8 output does not have the blocks of -p 1:\n%s\n---\n%s", one, many)
	}
}
