package modtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"vigil/yara/module"
)

// Sample is one file to compare with yara.
type Sample struct {
	Name string
	Data []byte
}

// DumpOf returns what module.Dump prints for mod on data.
func DumpOf(t testing.TB, mod *module.Module, data []byte) string {
	t.Helper()
	st, _ := Load(t, mod, data)
	var b bytes.Buffer
	if err := module.Dump(&b, mod.Name, mod.Type, st); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// YaraDumps runs `yara -p 1 -D` once over a directory holding the samples
// and returns yara's data of module name for each sample, by sample name.
// The rule matches every file, so each file's data is followed by its match
// line.
func YaraDumps(t *testing.T, name string, samples []Sample) map[string]string {
	t.Helper()
	bin := Yara(t)
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, s := range samples {
		if err := os.WriteFile(filepath.Join(dataDir, s.Name), s.Data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rule := filepath.Join(dir, "r.yar")
	src := fmt.Sprintf("import %q\nrule r { condition: true }\n", name)
	if err := os.WriteFile(rule, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-p", "1", "-D", rule, dataDir)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("yara: %v: %s", err, stderr.String())
	}
	dumps := map[string]string{}
	prefix := "r " + dataDir + string(filepath.Separator)
	var cur strings.Builder
	for _, line := range strings.SplitAfter(string(out), "\n") {
		if name, ok := strings.CutPrefix(line, prefix); ok {
			dumps[strings.TrimSuffix(name, "\n")] = cur.String()
			cur.Reset()
			continue
		}
		cur.WriteString(line)
	}
	if cur.Len() > 0 {
		t.Fatalf("yara output ends without a match line: %.200q", cur.String())
	}
	return dumps
}

// CompareDumps compares Load+Dump of mod with `yara -D` on every sample and
// returns the number of samples and of printed lines that agree.
func CompareDumps(t *testing.T, mod *module.Module, samples []Sample) (files, lines int) {
	t.Helper()
	want := YaraDumps(t, mod.Name, samples)
	for _, s := range samples {
		w, ok := want[s.Name]
		if !ok {
			t.Errorf("%s: yara printed nothing", s.Name)
			continue
		}
		got := DumpOf(t, mod, s.Data)
		if got == w {
			files++
			lines += strings.Count(w, "\n")
			continue
		}
		t.Errorf("%s (%d bytes): dump differs from yara -D:\n%s", s.Name, len(s.Data), FirstDiff(got, w))
	}
	return files, lines
}

// FirstDiff describes the first differing line of two dumps.
func FirstDiff(got, want string) string {
	g := strings.Split(got, "\n")
	w := strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			lo := max(0, i-3)
			return fmt.Sprintf("line %d:\n  got:  %.300q\n  want: %.300q\n  context (yara): %.600q", i+1, gl, wl, w[lo:min(len(w), i+1)])
		}
	}
	return "(no line differs)"
}
