package elf

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

// sample is one file to compare with yara.
type sample struct {
	name string
	data []byte
}

// dumpOf returns what module.Dump prints for the elf module on data.
func dumpOf(t testing.TB, data []byte) string {
	t.Helper()
	mod := Module()
	st, _ := modtest.Load(t, mod, data)
	var b bytes.Buffer
	if err := module.Dump(&b, mod.Name, mod.Type, st); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// yaraDumps runs `yara -p 1 -D` once over a directory holding the samples
// and returns yara's module data for each sample, by name. The rule matches
// every file, so each file's data is followed by its match line.
func yaraDumps(t *testing.T, samples []sample) map[string]string {
	t.Helper()
	bin := modtest.Yara(t)
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, s := range samples {
		if err := os.WriteFile(filepath.Join(dataDir, s.name), s.data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rule := filepath.Join(dir, "r.yar")
	if err := os.WriteFile(rule, []byte("import \"elf\"\nrule r { condition: true }\n"), 0o600); err != nil {
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

// compareWithYara compares Load+Dump with `yara -D` on every sample and
// returns the number of samples and of printed lines that agree.
func compareWithYara(t *testing.T, samples []sample) (files, lines int) {
	t.Helper()
	want := yaraDumps(t, samples)
	for _, s := range samples {
		w, ok := want[s.name]
		if !ok {
			t.Errorf("%s: yara printed nothing", s.name)
			continue
		}
		got := dumpOf(t, s.data)
		if got == w {
			files++
			lines += strings.Count(w, "\n")
			continue
		}
		t.Errorf("%s (%d bytes): dump differs from yara -D:\n%s", s.name, len(s.data), firstDiff(got, w))
	}
	return files, lines
}

// firstDiff describes the first differing line of two dumps.
func firstDiff(got, want string) string {
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
			return fmt.Sprintf("line %d:\n  got:  %q\n  want: %q\n  context (yara): %q", i+1, gl, wl, w[lo:min(len(w), i+1)])
		}
	}
	return "(no line differs)"
}

// isELF reports whether path is a regular file starting with the ELF magic.
func isELF(path string) bool {
	st, err := os.Lstat(path)
	if err != nil || !st.Mode().IsRegular() {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	if _, err := f.Read(magic[:]); err != nil {
		return false
	}
	return string(magic[:]) == "\x7fELF"
}

// systemELFs returns up to n ELF files of at most maxSize bytes from dir,
// spread evenly over the sorted listing, whose names match keep.
func systemELFs(t *testing.T, dir string, n int, maxSize int64, keep func(string) bool) []sample {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var paths []string
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if !keep(e.Name()) || !isELF(p) {
			continue
		}
		if st, err := os.Stat(p); err != nil || st.Size() > maxSize {
			continue
		}
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var out []sample
	step := max(1, len(paths)/n)
	for i := 0; i < len(paths) && len(out) < n; i += step {
		data, err := os.ReadFile(paths[i])
		if err != nil {
			continue
		}
		out = append(out, sample{name: strings.ReplaceAll(strings.TrimPrefix(paths[i], "/"), "/", "_"), data: data})
	}
	return out
}

// gccSamples builds small ELF files with gcc, if it is installed: objects,
// a static executable, and 32-bit objects, executables and shared objects.
// Builds that fail (no 32-bit support, no static libc) are skipped.
func gccSamples(t *testing.T) []sample {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Log("gcc not found: no compiled samples")
		return nil
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "s.c")
	// A program that needs no C library, so that -m32 links without
	// 32-bit libraries.
	code := `int counter = 5;
static const char msg[] = "hello";
__thread int tls;
int add(int x) { return x + counter + msg[0] + tls; }
void _start(void) { for (;;) add(1); }
`
	if err := os.WriteFile(src, []byte(code), 0o600); err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "m.c")
	if err := os.WriteFile(main, []byte("#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	builds := []struct {
		name string
		args []string
	}{
		{"gcc64.o", []string{"-c", src}},
		{"gcc64g.o", []string{"-g", "-c", src}},
		{"gcc64nostd", []string{"-nostdlib", "-static", src}},
		{"gcc64.so", []string{"-nostdlib", "-shared", "-fPIC", src}},
		{"gcc64static", []string{"-static", main}},
		{"gcc64dyn", []string{main}},
		{"gcc64nopie", []string{"-no-pie", main}},
		{"gcc32.o", []string{"-m32", "-c", src}},
		{"gcc32g.o", []string{"-m32", "-g", "-c", src}},
		{"gcc32exec", []string{"-m32", "-nostdlib", "-static", src}},
		{"gcc32.so", []string{"-m32", "-nostdlib", "-shared", "-fPIC", src}},
		{"gcc32stripped", []string{"-m32", "-nostdlib", "-static", "-s", src}},
		{"gcc32pie", []string{"-m32", "-nostdlib", "-pie", "-fPIE", src}},
	}
	var out []sample
	for _, b := range builds {
		o := filepath.Join(dir, b.name)
		cmd := exec.Command(gcc, append(b.args, "-o", o)...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Logf("gcc %s: %v: %s", b.name, err, msg)
			continue
		}
		data, err := os.ReadFile(o)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sample{name: b.name, data: data})
	}
	return out
}
