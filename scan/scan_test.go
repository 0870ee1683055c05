package scan_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"vigil/scan"
	"vigil/yara"
)

const marker = "EVIL-MARKER-7f3a"

const rulesSrc = `rule Evil { strings: $a = "` + marker + `" condition: $a }`

func newScanner(t testing.TB) func() (scan.Scanner, error) {
	rs, err := yara.Compile(rulesSrc)
	if err != nil {
		t.Fatal(err)
	}
	return func() (scan.Scanner, error) { return rs.NewScanner(), nil }
}

// run scans roots and returns one line per event: "match PATH",
// "clean PATH", "skip PATH REASON" or "error PATH", with dir removed
// from the paths, sorted.
func run(t testing.TB, o scan.Options, dir string, roots ...string) ([]string, scan.Summary) {
	t.Helper()
	var lines []string
	sum, err := scan.Run(context.Background(), o, roots, newScanner(t), func(e scan.Event) {
		p := strings.TrimPrefix(e.Path, dir+string(os.PathSeparator))
		switch e.Kind {
		case scan.Scanned:
			if len(e.Result.Matching) > 0 {
				lines = append(lines, "match "+p)
			} else {
				lines = append(lines, "clean "+p)
			}
		case scan.Skipped:
			if e.Detail == "" {
				t.Errorf("%s: skipped without detail", e.Path)
			}
			lines = append(lines, "skip "+p+" "+string(e.Reason))
		case scan.Failed:
			if e.Err == nil {
				t.Errorf("%s: failed without error", e.Path)
			}
			lines = append(lines, "error "+p)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines)
	return lines, sum
}

func write(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

type entry struct {
	name string
	data []byte
}

func zipOf(t testing.TB, entries ...entry) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func tarOf(t testing.TB, entries ...entry) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		tw.WriteHeader(&tar.Header{Name: e.name, Size: int64(len(e.data)), Mode: 0o644, Typeflag: tar.TypeReg})
		tw.Write(e.data)
	}
	tw.Close()
	return b.Bytes()
}

func gzipOf(data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

func evil(s string) []byte { return []byte("junk " + s + " " + marker + " junk") }

func archiveOptions() scan.Options {
	o := scan.DefaultOptions()
	o.Workers = 2
	return o
}

// TestArchiveMatches checks that matches inside nested archives carry the
// path of every level, and that archives are not unpacked without
// Options.Archives.
func TestArchiveMatches(t *testing.T) {
	dir := t.TempDir()
	inner := tarOf(t, entry{"dir/file.exe", evil("a")}, entry{"dir/clean.txt", []byte("nothing")})
	write(t, filepath.Join(dir, "outer.zip"), zipOf(t, entry{"inner.tar", inner}, entry{"top.txt", evil("b")}))
	write(t, filepath.Join(dir, "x.tar.gz"), gzipOf(tarOf(t, entry{"a/evil.txt", evil("c")})))
	write(t, filepath.Join(dir, "gz-of-zip.bin"), gzipOf(zipOf(t, entry{"deep/e.dll", evil("d")})))
	write(t, filepath.Join(dir, "plain.txt"), evil("e"))

	got, sum := run(t, archiveOptions(), dir, dir)
	want := []string{
		"clean gz-of-zip.bin",
		"clean gz-of-zip.bin!gz-of-zip.bin.data",
		"clean outer.zip",
		"clean outer.zip!inner.tar!dir/clean.txt",
		"clean x.tar.gz",
		"match gz-of-zip.bin!gz-of-zip.bin.data!deep/e.dll",
		"match outer.zip!inner.tar", // tar stores members as they are
		"match outer.zip!inner.tar!dir/file.exe",
		"match outer.zip!top.txt",
		"match plain.txt",
		"match x.tar.gz!x.tar",
		"match x.tar.gz!x.tar!a/evil.txt",
	}
	if !slices.Equal(got, want) {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if sum.Files != 4 || sum.Members != 8 || sum.Matches != 7 || sum.Errors != 0 {
		t.Errorf("summary %+v", sum)
	}

	o := archiveOptions()
	o.Archives = false
	got, _ = run(t, o, dir, dir)
	want = []string{"clean gz-of-zip.bin", "clean outer.zip", "clean x.tar.gz", "match plain.txt"}
	if !slices.Equal(got, want) {
		t.Errorf("without archives:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestExcludes(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a.log", "keep.txt", "node_modules/x.js", "src/build/y.o", "src/z.o", "deep/node_modules/q"} {
		write(t, filepath.Join(dir, p), []byte("x"))
	}
	write(t, filepath.Join(dir, "m.zip"), zipOf(t, entry{"in/b.log", []byte("x")}, entry{"in/c.txt", []byte("x")},
		entry{"x/build/y.o", []byte("x")}))
	var x scan.Excludes
	if err := x.AddFrom(strings.NewReader("# comment\n\n*.log\nnode_modules\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := x.Add("build/*.o"); err != nil {
		t.Fatal(err)
	}
	if err := x.Add("[bad"); err == nil {
		t.Error("malformed pattern accepted")
	}
	o := archiveOptions()
	o.Exclude = &x
	got, _ := run(t, o, dir, dir)
	want := []string{"clean keep.txt", "clean m.zip", "clean m.zip!in/c.txt", "clean src/z.o"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestSkip: Options.Skip is asked before anything is opened or entered:
// a skipped root and a skipped directory are neither scanned nor walked.
func TestSkip(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a/hit", "a/secret/hit", "b/hit", "c"} {
		write(t, filepath.Join(dir, p), []byte(marker))
	}
	var asked []string
	o := scan.DefaultOptions()
	o.Workers = 1
	o.Skip = func(p string) bool {
		asked = append(asked, strings.TrimPrefix(p, dir))
		return strings.HasSuffix(p, string(os.PathSeparator)+"secret") || strings.HasSuffix(p, string(os.PathSeparator)+"b")
	}
	got, _ := run(t, o, dir, filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c"))
	want := []string{"match a/hit", "match c"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, p := range asked {
		if strings.Contains(p, "secret"+string(os.PathSeparator)) {
			t.Errorf("Skip asked about %s inside a skipped directory", p)
		}
	}
}
