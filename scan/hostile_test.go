package scan_test

import (
	"archive/zip"
	"bytes"
	"cmp"
	"compress/flate"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"vigil/scan"
)

// maxAlloc bounds what a hostile file may make the scan allocate in
// total (runtime.MemStats.TotalAlloc), which bounds its peak heap.
const maxAlloc = 256 << 20

// zeroDeflate returns a raw deflate piece that expands to 1 MiB of zeros.
// It ends in a sync flush, and its back-references reach only zeros, so
// pieces can be repeated to make a stream of any size; deflateEnd closes
// the stream.
func zeroDeflate(t testing.TB) []byte {
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(make([]byte, 1<<20))
	w.Flush()
	return b.Bytes()
}

// deflateEnd is an empty final block with fixed Huffman codes.
var deflateEnd = []byte{0x03, 0x00}

// zipBomb writes a zip whose one entry inflates to mib MiB of zeros and
// declares declared bytes.
func zipBomb(t testing.TB, path string, mib int, declared uint64) {
	piece := zeroDeflate(t)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	w, err := zw.CreateRaw(&zip.FileHeader{
		Name: "zeros.bin", Method: zip.Deflate,
		CompressedSize64:   uint64(len(piece)*mib + len(deflateEnd)),
		UncompressedSize64: declared,
	})
	if err != nil {
		t.Fatal(err)
	}
	for range mib {
		w.Write(piece)
	}
	w.Write(deflateEnd)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

// gzipBomb writes a gzip stream of mib MiB of zeros.
func gzipBomb(t testing.TB, path string, mib int) {
	piece := zeroDeflate(t)
	var b bytes.Buffer
	b.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	for range mib {
		b.Write(piece)
	}
	b.Write(deflateEnd)
	b.Write(make([]byte, 8)) // CRC and size: never reached
	write(t, path, b.Bytes())
}

// nestedBomb writes a 42.zip-style bomb: levels of zips of 16 zips, with
// at the bottom a zip holding leafMiB MiB of zeros.
func nestedBomb(t testing.TB, path string, levels, leafMiB int) {
	dir := t.TempDir()
	leaf := filepath.Join(dir, "leaf.zip")
	zipBomb(t, leaf, leafMiB, uint64(leafMiB)<<20)
	level, err := os.ReadFile(leaf)
	if err != nil {
		t.Fatal(err)
	}
	for range levels {
		var es []entry
		for i := range 16 {
			es = append(es, entry{fmt.Sprintf("%d.zip", i), level})
		}
		level = zipOf(t, es...)
	}
	write(t, path, level)
}

func xzOf(t testing.TB, data []byte) []byte {
	var b bytes.Buffer
	w, err := xz.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	return b.Bytes()
}

func zstdOf(t testing.TB, data []byte) []byte {
	e, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	return e.EncodeAll(data, nil)
}

// measure runs scan on dir and returns the event lines and the bytes
// allocated meanwhile.
func measure(t *testing.T, o scan.Options, dir string, roots ...string) ([]string, uint64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got, _ := run(t, o, dir, roots...)
	runtime.ReadMemStats(&after)
	return got, after.TotalAlloc - before.TotalAlloc
}

// truncatedWant: a cut container is scanned as it is, then its walk fails
// (zip, tar: "error bomb") or its member's read fails (the compressed
// formats: "error bomb!…", any member name).
var truncatedWant = map[string][]string{
	"zip":   {"clean bomb", "error bomb"},
	"tar":   {"match bomb", "error bomb"}, // the first member is stored whole before the cut
	"gzip":  {"clean bomb", "error bomb!"},
	"bzip2": {"clean bomb", "error bomb!"},
	"xz":    {"clean bomb", "error bomb!"},
	"zstd":  {"clean bomb", "error bomb!"},
}

// TestHostile is the hostile-file suite: each file gets its documented
// outcome, with bounded memory and no panic.
func TestHostile(t *testing.T) {
	payload := tarOf(t, entry{"a/evil.txt", evil("t")}, entry{"b.txt", bytes.Repeat([]byte("filler "), 500)})
	tests := []struct {
		name  string
		make  func(t *testing.T, path string)
		opt   func(*scan.Options)
		want  []string // event lines, path relative to the file's dir
		avoid string   // an event line prefix that must not appear
		most  int      // the most events expected (0: 100)
	}{{
		name: "flat zip bomb, 10 GiB declared",
		make: func(t *testing.T, p string) { zipBomb(t, p, 10<<10, 10<<30) },
		want: []string{"clean bomb", "skip bomb!zeros.bin too-large"},
	}, {
		name: "flat zip bomb, 10 GiB, declaring 4 MiB",
		make: func(t *testing.T, p string) { zipBomb(t, p, 10<<10, 4<<20) },
		want: []string{"clean bomb", "skip bomb!zeros.bin max-ratio"},
	}, {
		name: "flat zip bomb, no ratio limit: size limit",
		make: func(t *testing.T, p string) { zipBomb(t, p, 10<<10, 4<<20) },
		opt:  func(o *scan.Options) { o.MaxRatio = 0; o.MaxFileSize = 64 << 20 },
		want: []string{"clean bomb", "skip bomb!zeros.bin too-large"},
	}, {
		name: "gzip bomb, 10 GiB",
		make: func(t *testing.T, p string) { gzipBomb(t, p, 10<<10) },
		want: []string{"clean bomb", "skip bomb!bomb.data max-ratio"},
	}, {
		name: "gzip bomb, no ratio limit: unpacked limit",
		make: func(t *testing.T, p string) { gzipBomb(t, p, 10<<10) },
		opt:  func(o *scan.Options) { o.MaxRatio = 0; o.MaxUnpacked = 32 << 20 },
		want: []string{"clean bomb", "skip bomb!bomb.data max-unpacked"},
	}, {
		name: "nested zip bomb (42.zip style)",
		make: func(t *testing.T, p string) { nestedBomb(t, p, 4, 64) },
		want: []string{"clean bomb", "clean bomb!0.zip", "clean bomb!0.zip!0.zip", "clean bomb!0.zip!0.zip!0.zip",
			"clean bomb!0.zip!0.zip!0.zip!0.zip", "skip bomb!0.zip!0.zip!0.zip!0.zip!zeros.bin max-ratio"},
	}, {
		name:  "nested zip bomb, no ratio limit: unpacked limit",
		make:  func(t *testing.T, p string) { nestedBomb(t, p, 4, 1) },
		opt:   func(o *scan.Options) { o.MaxRatio = 0; o.MaxUnpacked = 20 << 20 },
		avoid: "skip bomb!15.zip", // stopped long before the last member
	}, {
		name: "nested zip bomb, depth limit",
		make: func(t *testing.T, p string) { nestedBomb(t, p, 4, 1) },
		opt:  func(o *scan.Options) { o.MaxDepth = 2; o.MaxRatio = 0 },
		want: []string{"skip bomb!0.zip!0.zip max-depth"},
		most: 1 + 16 + 256*2, // levels 0 to 2 scanned, level 2 not unpacked
	}, {
		name: "zip slip names",
		make: func(t *testing.T, p string) {
			write(t, p, zipOf(t, entry{"../../etc/passwd", evil("s")}, entry{"/abs/evil", evil("s")}, entry{`..\..\win.ini`, evil("s")}))
		},
		want: []string{"clean bomb", "match bomb!../../etc/passwd", "match bomb!/abs/evil", `match bomb!..\..\win.ini`},
	}, {
		name: "max members",
		make: func(t *testing.T, p string) {
			var es []entry
			for i := range 20 {
				es = append(es, entry{fmt.Sprintf("m%02d", i), []byte("x")})
			}
			write(t, p, zipOf(t, es...))
		},
		opt:   func(o *scan.Options) { o.MaxMembers = 5 },
		want:  []string{"clean bomb!m04", "skip bomb max-members"},
		avoid: "clean bomb!m05",
	}, {
		name: "encrypted zip",
		make: func(t *testing.T, p string) { copyFile(t, "archive/testdata/encrypted.zip", p) },
		want: []string{"clean bomb", "skip bomb!dir/hello.txt encrypted", "skip bomb!dir/two.txt encrypted"},
	}, {
		name: "4 GiB sparse file",
		make: func(t *testing.T, p string) {
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(4 << 30); err != nil {
				t.Fatal(err)
			}
		},
		want: []string{"skip bomb too-large"},
	}, {
		name: "fifo",
		make: func(t *testing.T, p string) {
			if err := mkfifo(p, 0o644); err != nil {
				t.Skip("no fifo:", err)
			}
		},
		want: []string{"skip bomb special-file"},
	}, {
		name: "per-file timeout",
		make: func(t *testing.T, p string) { write(t, p, evil("x")) },
		opt:  func(o *scan.Options) { o.FileTimeout = 1 }, // 1ns: passed before the scan starts
		want: []string{"skip bomb timeout"},
	}}
	for _, format := range []struct {
		name string
		data func(t *testing.T) []byte
	}{
		{"zip", func(t *testing.T) []byte { return zipOf(t, entry{"p.tar", payload}) }},
		{"tar", func(t *testing.T) []byte { return payload }},
		{"gzip", func(t *testing.T) []byte { return gzipOf(payload) }},
		{"bzip2", func(t *testing.T) []byte { return readFile(t, "archive/testdata/hello.txt.bz2") }},
		{"xz", func(t *testing.T) []byte { return xzOf(t, payload) }},
		{"zstd", func(t *testing.T) []byte { return zstdOf(t, payload) }},
	} {
		tests = append(tests, struct {
			name  string
			make  func(t *testing.T, path string)
			opt   func(*scan.Options)
			want  []string
			avoid string
			most  int
		}{
			name: "truncated " + format.name,
			make: func(t *testing.T, p string) {
				data := format.data(t)
				cut := len(data) / 2
				if format.name == "tar" {
					cut = 600 // inside the first member's content
				}
				write(t, p, data[:cut])
			},
			want: truncatedWant[format.name],
		})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "bomb")
			tc.make(t, p)
			o := archiveOptions()
			if tc.opt != nil {
				tc.opt(&o)
			}
			got, alloc := measure(t, o, dir, dir)
			t.Logf("allocated %d MiB; %d events: %q", alloc>>20, len(got), got[:min(len(got), 12)])
			if alloc > maxAlloc {
				t.Errorf("allocated %d MiB, limit %d MiB", alloc>>20, maxAlloc>>20)
			}
			for _, w := range tc.want {
				if !slices.ContainsFunc(got, func(g string) bool { return g == w || strings.HasSuffix(w, "!") && strings.HasPrefix(g, w) }) {
					t.Errorf("missing %q in %q", w, got)
				}
			}
			if tc.avoid != "" && slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, tc.avoid) }) {
				t.Errorf("unexpected %q in %q", tc.avoid, got)
			}
			if most := cmp.Or(tc.most, 100); len(got) > most {
				t.Errorf("%d events: the limits did not stop the work", len(got))
			}
		})
	}
}

func readFile(t testing.TB, p string) []byte {
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func copyFile(t testing.TB, from, to string) { write(t, to, readFile(t, from)) }

// TestFifoRoot: a FIFO named as a root is reported, not opened (opening
// it would block until a writer came).
func TestFifoRoot(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "fifo")
	if err := mkfifo(p, 0o644); err != nil {
		t.Skip("no fifo:", err)
	}
	got, _ := run(t, archiveOptions(), dir, p)
	if !slices.Equal(got, []string{"skip fifo special-file"}) {
		t.Errorf("got %q", got)
	}
}

func TestSymlinks(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a/file.txt"), evil("l"))
	links := map[string]string{"a/up": "..", "a/self": "self", "a/dot": ".", "a/file-link": "file.txt", "a/broken": "nowhere", "b": "a"}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		follow bool
		want   []string
	}{
		{false, []string{"match a/file.txt", "skip a/broken symlink", "skip a/dot symlink", "skip a/file-link symlink",
			"skip a/self symlink", "skip a/up symlink", "skip b symlink"}},
		{true, []string{"error a/broken", "error a/self", "match a/file-link", "match a/file.txt",
			"skip a/dot symlink-loop", "skip a/up symlink-loop", "skip b symlink-loop"}},
	}
	for _, tc := range tests {
		o := archiveOptions()
		o.FollowSymlinks = tc.follow
		got, _ := run(t, o, dir, dir)
		if !slices.Equal(got, tc.want) {
			t.Errorf("follow=%v:\n%s\nwant:\n%s", tc.follow, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
}

func TestUnreadable(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "locked"), evil("u"))
	write(t, filepath.Join(dir, "open"), evil("u"))
	if err := os.Chmod(filepath.Join(dir, "locked"), 0); err != nil {
		t.Fatal(err)
	}
	if f, err := os.Open(filepath.Join(dir, "locked")); err == nil {
		f.Close()
		t.Skip("chmod 000 does not stop reads here (running as root?): nothing to test")
	}
	got, _ := run(t, archiveOptions(), dir, dir)
	want := []string{"error locked", "match open"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDeepDirectories(t *testing.T) {
	dir := t.TempDir()
	const depth = 300
	p := dir
	for range depth {
		p = filepath.Join(p, "d")
	}
	write(t, filepath.Join(p, "bottom.txt"), evil("deep"))
	got, _ := run(t, archiveOptions(), dir, dir)
	want := []string{"match " + strings.Repeat("d/", depth) + "bottom.txt"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	o := archiveOptions()
	o.Recursive = false
	if got, _ := run(t, o, dir, dir); len(got) != 0 {
		t.Errorf("not recursive: got %q", got)
	}
}

// TestCancel: a cancelled context stops the walk without error.
func TestCancel(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "f"), evil("c"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n := 0
	_, err := scan.Run(ctx, archiveOptions(), []string{dir}, newScanner(t), func(scan.Event) { n++ })
	if err != nil || n != 0 {
		t.Errorf("cancelled run: %d events, %v", n, err)
	}
}
