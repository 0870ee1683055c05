package cli

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestRenderProgress(t *testing.T) {
	tests := []struct {
		files, bytes int64
		elapsed      time.Duration
		path         string
		width        int
		want         string
	}{
		{0, 0, 0, "", 80, "0 files, 0 B, 0 files/s, 0 B/s"},
		{10, 2500, 2 * time.Second, "a/b", 80, "10 files, 2.5 kB, 5 files/s, 1.2 kB/s, a/b"},
		{1234, 5_600_000_000, 4 * time.Second, "/x", 80, "1234 files, 5.6 GB, 308 files/s, 1.4 GB/s, /x"},
		{1, 999, time.Second, "/very/long/path/to/some/file.bin", 50,
			"1 files, 999 B, 1 files/s, 999 B/s, ...e/file.bin"},
		{1, 1, time.Second, "/p", 10, "1 files, "},
		{1, 1, time.Second, "evil\x1b[2J\r\nname\x9b", 80, "1 files, 1 B, 1 files/s, 1 B/s, evil?[2J??name?"},
		{1, 1, time.Second, "bad\xffutf8", 80, "1 files, 1 B, 1 files/s, 1 B/s, bad?utf8"},
		{1, 1, time.Second, "/p", 0, ""},
	}
	for _, tc := range tests {
		got := renderProgress(tc.files, tc.bytes, tc.elapsed, tc.path, tc.width)
		if got != tc.want {
			t.Errorf("renderProgress(%d, %d, %v, %q, %d) =\n%q, want\n%q", tc.files, tc.bytes, tc.elapsed, tc.path, tc.width, got, tc.want)
		}
		if tc.width > 0 && utf8.RuneCountInString(got) > tc.width-1 {
			t.Errorf("%q: wider than %d", got, tc.width-1)
		}
	}
}

// TestProgressNotTerminal: no display, and not a byte on stderr, when
// stderr is not a terminal (a buffer, a file, /dev/null).
func TestProgressNotTerminal(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "stderr"))
	must(t, err)
	defer f.Close()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	must(t, err)
	defer null.Close()
	for _, w := range []any{&bytes.Buffer{}, f, null} {
		if p := newProgress(w.(interface{ Write([]byte) (int, error) }), false); p != nil {
			p.finish()
			t.Errorf("%T: progress display made", w)
		}
	}
	t.Chdir(dir)
	writeFiles(t, dir, map[string]string{"r.yar": `rule A { strings: $a = "abcd" condition: $a }`, "d/1": "abcd", "d/2": "b"})
	for _, args := range [][]string{{"scan", "-r", "r.yar", "d"}, {"scan", "--archives", "-r", "r.yar", "d"}} {
		must(t, f.Truncate(0))
		_, err := f.Seek(0, io.SeekStart)
		must(t, err)
		var out bytes.Buffer
		code := Run(t.Context(), args, strings.NewReader(""), &out, f)
		b, _ := os.ReadFile(f.Name())
		if code != 0 || len(b) != 0 || out.String() != "A d/1\n" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out.String(), b)
		}
	}
}
