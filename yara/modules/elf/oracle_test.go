package elf

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

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
	return modtest.DumpOf(t, Module(), data)
}

// compareWithYara compares Load+Dump with `yara -D` on every sample and
// returns the number of samples and of printed lines that agree.
func compareWithYara(t *testing.T, samples []sample) (files, lines int) {
	t.Helper()
	ms := make([]modtest.Sample, len(samples))
	for i, s := range samples {
		ms[i] = modtest.Sample{Name: s.name, Data: s.data}
	}
	return modtest.CompareDumps(t, Module(), ms)
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
