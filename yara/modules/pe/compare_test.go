package pe

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"vigil/yara/module"
	"vigil/yara/modules/internal/modtest"
)

// The differential tests run yara -D on each sample and compare its data
// tree with ours, printed by module.Dump: byte for byte, and field by field
// for a readable report of the differences.

// yaraDump returns `yara -D` output for the pe module on the file at path.
func yaraDump(t testing.TB, path string) string {
	t.Helper()
	bin := modtest.Yara(t)
	rules := filepath.Join(t.TempDir(), "pe.yar")
	if err := os.WriteFile(rules, []byte("import \"pe\"\nrule r { condition: false }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-D", rules, path)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("yara -D %s: %v: %s", path, err, stderr.String())
	}
	return string(out)
}

// ourDump returns module.Dump output of our Load on data.
func ourDump(t testing.TB, data []byte) string {
	t.Helper()
	mod := Module()
	st, _ := modtest.Load(t, mod, data)
	var b bytes.Buffer
	if err := module.Dump(&b, mod.Name, mod.Type, st); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// flattenDump turns yara -D output into path -> printed value, for every
// scalar line.
func flattenDump(out string) map[string]string {
	m := map[string]string{}
	var stack []string
	for _, line := range strings.Split(out, "\n") {
		if line == "" {
			continue
		}
		depth := len(line) - len(strings.TrimLeft(line, "\t"))
		text := line[depth:]
		if depth < len(stack) {
			stack = stack[:depth]
		}
		name, value, scalar := strings.Cut(text, " = ")
		if !strings.HasPrefix(name, "[") && depth > 0 {
			name = "." + name
		}
		for len(stack) < depth {
			stack = append(stack, "?")
		}
		path := strings.Join(stack, "") + name
		if scalar {
			m[path] = value
			continue
		}
		stack = append(stack, name)
	}
	return m
}

// group is the field group of a path, for reporting: the first field
// under the module, with constants in one group.
func group(path string) string {
	rest := strings.TrimPrefix(path, "pe.")
	name := rest
	if i := strings.IndexAny(rest, ".["); i >= 0 {
		name = rest[:i]
	}
	if name == strings.ToUpper(name) {
		return "CONSTANTS"
	}
	return name
}

// compareDumps reports, per field group, how many scalar fields agree,
// and the disagreements.
func compareDumps(t *testing.T, label, want, got string) (groups map[string][2]int) {
	t.Helper()
	wm, gm := flattenDump(want), flattenDump(got)
	groups = map[string][2]int{}
	var diffs []string
	keys := map[string]bool{}
	for k := range wm {
		keys[k] = true
	}
	for k := range gm {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		w, wok := wm[k]
		g, gok := gm[k]
		c := groups[group(k)]
		if wok && gok && w == g {
			c[0]++
		} else {
			c[1]++
			if !wok {
				w = "(absent)"
			}
			if !gok {
				g = "(absent)"
			}
			diffs = append(diffs, fmt.Sprintf("%s: yara %s, vigil %s", k, w, g))
		}
		groups[group(k)] = c
	}
	for i, d := range diffs {
		if i == 20 {
			t.Errorf("%s: ... %d more differences", label, len(diffs)-20)
			break
		}
		t.Errorf("%s: %s", label, d)
	}
	if len(diffs) == 0 && want != got {
		t.Errorf("%s: same fields but output differs (order or format)", label)
	}
	return groups
}

// checkAgainstYara compares our data for the file at path with yara's and
// returns the per-group agreement.
func checkAgainstYara(t *testing.T, label, path string) map[string][2]int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return compareDumps(t, label, yaraDump(t, path), ourDump(t, data))
}

// TestExternalSamples compares every file of the directory named by
// VIGIL_PE_SAMPLES (for example yara's own tests/data) with yara.
func TestExternalSamples(t *testing.T) {
	dir := os.Getenv("VIGIL_PE_SAMPLES")
	if dir == "" {
		t.Skip("VIGIL_PE_SAMPLES not set")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	total := map[string][2]int{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		for g, c := range checkAgainstYara(t, e.Name(), path) {
			x := total[g]
			total[g] = [2]int{x[0] + c[0], x[1] + c[1]}
		}
	}
	logGroups(t, total)
}

func logGroups(t *testing.T, groups map[string][2]int) {
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		c := groups[g]
		t.Logf("%-40s agree %6d  differ %4d", g, c[0], c[1])
	}
}
