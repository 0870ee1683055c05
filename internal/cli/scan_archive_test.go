package cli

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func zipBytes(t *testing.T, files ...[2]string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range files {
		w, err := zw.Create(f[0])
		must(t, err)
		w.Write([]byte(f[1]))
	}
	must(t, zw.Close())
	return b.Bytes()
}

func gzipBytes(data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// archiveTree makes d/ with archives, a log file and a FIFO, and r.yar.
func archiveTree(t *testing.T) string {
	dir := t.TempDir()
	t.Chdir(dir)
	inner := zipBytes(t, [2]string{"deep/evil.exe", "MZ hello there"})
	writeFiles(t, dir, map[string]string{
		"r.yar":       `rule Hello { strings: $h = "hello" condition: $h }`,
		"d/plain.txt": "hello plain",
		"d/a.log":     "hello log",
		"d/out.zip":   string(zipBytes(t, [2]string{"in.zip", string(inner)}, [2]string{"../../etc/passwd", "hello slip"})),
		"d/x.gz":      string(gzipBytes([]byte("gzipped hello"))),
		"excl":        "# patterns\n*.gz\n",
	})
	if err := mkfifo(filepath.Join(dir, "d", "fifo"), 0o644); err != nil {
		t.Logf("no fifo: %v", err)
	}
	return dir
}

func sortedLines(s string) []string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if s == "" {
		lines = nil
	}
	slices.Sort(lines)
	return lines
}

func TestScanArchivesText(t *testing.T) {
	archiveTree(t)
	tests := []struct {
		args       []string
		want       []string // sorted stdout lines
		wantStderr []string // substrings of stderr
	}{
		{[]string{"-r", "r.yar", "d"}, []string{"Hello d/a.log", "Hello d/plain.txt"}, nil},
		{[]string{"--archives", "-r", "r.yar", "d"}, []string{
			"Hello d/a.log", "Hello d/out.zip!../../etc/passwd", "Hello d/out.zip!in.zip!deep/evil.exe",
			"Hello d/plain.txt", "Hello d/x.gz!x",
		}, []string{"skipping d/fifo: fifo: not opened [special-file]"}},
		{[]string{"--archives", "--exclude", "*.log", "--exclude=out.*", "-r", "r.yar", "d"},
			[]string{"Hello d/plain.txt", "Hello d/x.gz!x"}, nil},
		{[]string{"--archives", "--exclude-from", "excl", "-r", "r.yar", "d"}, []string{
			"Hello d/a.log", "Hello d/out.zip!../../etc/passwd", "Hello d/out.zip!in.zip!deep/evil.exe", "Hello d/plain.txt",
		}, nil},
		{[]string{"--archives", "--max-archive-depth=1", "-r", "r.yar", "d"}, []string{
			"Hello d/a.log", "Hello d/out.zip!../../etc/passwd", "Hello d/plain.txt", "Hello d/x.gz!x",
		}, []string{"skipping d/out.zip!in.zip: zip archive nested deeper than 1 levels: members not scanned [max-depth]"}},
		{[]string{"--archives", "--max-members", "1", "r.yar", "d/out.zip"}, []string{"Hello d/out.zip!in.zip!deep/evil.exe"},
			[]string{"skipping d/out.zip: more than 1 members: the rest not scanned [max-members]"}},
		{[]string{"--summary", "-r", "r.yar", "d"}, []string{"Hello d/a.log", "Hello d/plain.txt"},
			[]string{"summary: 4 files and 0 archive members scanned, ", "2 matches, 1 skipped (special-file 1), 0 errors, "}},
		{[]string{"--archives", "-c", "r.yar", "d/x.gz"}, []string{"d/x.gz!x: 1", "d/x.gz: 0"}, nil},
	}
	for _, tc := range tests {
		code, out, stderr := run(t, "", append([]string{"scan", "-p", "1"}, tc.args...)...)
		if code != 0 {
			t.Errorf("%q: exit %d: %s", tc.args, code, stderr)
		}
		if got := sortedLines(out); !slices.Equal(got, tc.want) {
			t.Errorf("%q:\n%s\nwant:\n%s", tc.args, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
		for _, w := range tc.wantStderr {
			if !strings.Contains(stderr, w) {
				t.Errorf("%q: stderr %q lacks %q", tc.args, stderr, w)
			}
		}
	}
}

// TestScanArchivesOffIsYara: without vigil's flags, archives are files
// like any other, as in yara.
func TestScanArchivesOffIsYara(t *testing.T) {
	dir := archiveTree(t)
	if _, err := os.Stat(yaraPath); err != nil {
		t.Skip("yara not installed")
	}
	_, out, _ := run(t, "", "scan", "-r", "r.yar", "d")
	_, want := yaraOutput(t, dir, "-r", "r.yar", "d")
	if !slices.Equal(sortedLines(out), sortedLines(want)) {
		t.Errorf("vigil:\n%s\nyara:\n%s", out, want)
	}
}

func TestScanArchivesJSON(t *testing.T) {
	archiveTree(t)
	code, out, stderr := run(t, "", "scan", "--archives", "--json", "-r", "r.yar", "d", "--max-file-size=10")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	kinds := map[string]string{}
	for _, line := range sortedLines(out) {
		var obj map[string]any
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		p, _ := obj["path"].(string)
		switch {
		case obj["skipped"] != nil:
			if obj["detail"] == nil {
				t.Errorf("%q: no detail", line)
			}
			kinds[p] = "skipped " + obj["skipped"].(string)
		case obj["error"] != nil:
			kinds[p] = "error"
		case obj["matches"] != nil:
			kinds[p] = "match"
		}
	}
	want := map[string]string{
		"d/fifo":      "skipped special-file",
		"d/plain.txt": "skipped too-large",
		"d/a.log":     "match",
		"d/out.zip":   "skipped too-large",
		"d/x.gz":      "skipped too-large",
	}
	for p, k := range want {
		if kinds[p] != k {
			t.Errorf("%s: %q, want %q (all: %v)", p, kinds[p], k, kinds)
		}
	}
}

func TestScanArchivesErrors(t *testing.T) {
	archiveTree(t)
	for _, args := range [][]string{
		{"--max-ratio=x", "r.yar", "d"},
		{"--max-ratio=1", "--max-ratio=2", "r.yar", "d"},
		{"--exclude=[", "r.yar", "d"},
		{"--exclude-from=missing", "r.yar", "d"},
		{"--archives", "r.yar", "missing-file"},
	} {
		if code, _, _ := run(t, "", append([]string{"scan"}, args...)...); code != exitError {
			t.Errorf("%q: exit %d, want %d", args, code, exitError)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"10", 10, true}, {"0x10", 16, true}, {"4k", 4096, true}, {"2M", 2 << 20, true},
		{"1G", 1 << 30, true}, {"-1", 0, false}, {"", 0, false}, {"G", 0, false}, {"1T", 0, false},
		{"99999999999G", 0, false},
	}
	for _, tc := range tests {
		got, err := parseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
