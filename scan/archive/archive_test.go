package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// readAll walks data (detected) and returns "name=content" per member, or
// "name!ERR" for a member that could not be read.
func readAll(t testing.TB, data []byte, name string, l ReadLimits) ([]string, error) {
	t.Helper()
	var got []string
	f := Detect(data)
	if f == None {
		t.Fatalf("%s: format not detected", name)
	}
	err := Walk(f, data, name, func(m *Member) error {
		b, err := m.Read(context.Background(), l)
		if err != nil {
			got = append(got, m.Name+"!"+err.Error())
			return nil
		}
		got = append(got, m.Name+"="+string(b))
		return nil
	})
	return got, err
}

var small = ReadLimits{MaxSize: 1 << 20, MaxRatio: 100}

func TestDetectAndWalkToolFiles(t *testing.T) {
	hello, two := "dir/hello.txt=hello vigil\n", "dir/two.txt=second file\n"
	tests := []struct {
		file   string
		format Format
		want   []string // sorted member lines
	}{
		{"hello.tar", Tar, []string{hello, two}},
		{"hello.tar.gz", Gzip, []string{"t.tar!tar"}}, // the name in the gzip header
		{"hello.txt.bz2", Bzip2, []string{"hello.txt=hello vigil\n"}},
		{"hello.txt.xz", Xz, []string{"hello.txt=hello vigil\n"}},
		{"hello.txt.zst", Zstd, []string{"hello.txt=hello vigil\n"}},
		{"hello.zip", Zip, []string{hello, two}},
		{"hello-zip64.zip", Zip, []string{hello, two}},
		{"encrypted.zip", Zip, []string{"dir/hello.txt!" + ErrEncrypted.Error(), "dir/two.txt!" + ErrEncrypted.Error()}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if got := Detect(data); got != tc.format {
				t.Fatalf("Detect = %v, want %v", got, tc.format)
			}
			got, err := readAll(t, data, tc.file, small)
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if strings.HasSuffix(got[i], ".tar="+string(got[i][strings.IndexByte(got[i], '=')+1:])) && Detect([]byte(got[i][strings.IndexByte(got[i], '=')+1:])) == Tar {
					got[i] = got[i][:strings.IndexByte(got[i], '=')] + "!tar"
				}
			}
			sortStrings(got)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("members = %q, want %q", got, tc.want)
			}
		})
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestDetectNot(t *testing.T) {
	for _, s := range []string{"", "PK", "hello", "BZh0", "BZhx", "\x1f\x8b", strings.Repeat("x", 600)} {
		if f := Detect([]byte(s)); f != None {
			t.Errorf("Detect(%q) = %v, want none", s, f)
		}
	}
	// A tar header with a wrong checksum is not tar.
	data, _ := os.ReadFile("testdata/hello.tar")
	bad := bytes.Clone(data)
	bad[0] ^= 1
	if f := Detect(bad); f != None {
		t.Errorf("tar with a bad checksum: Detect = %v", f)
	}
}

func TestNames(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range []string{"../../etc/passwd", "/abs/x", "a\x1b[31mred", "bad\xffutf8", "ok/é.txt"} {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("x"))
	}
	zw.Close()
	got, err := readAll(t, buf.Bytes(), "n.zip", small)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"../../etc/passwd=x", "/abs/x=x", `a\x1b[31mred=x`, `bad\xffutf8=x`, "ok/é.txt=x"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("names = %q, want %q", got, want)
	}
}

func gz(t testing.TB, data []byte) []byte {
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

func TestLimits(t *testing.T) {
	zeros := make([]byte, 8<<20)
	text := bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog 0123456789\n"), 40000) // ~2.2 MB
	bz, _ := os.ReadFile("testdata/zeros-100m.bz2")
	tests := []struct {
		name string
		data []byte
		l    ReadLimits
		want error
	}{
		{"gzip zeros ratio", gz(t, zeros), ReadLimits{MaxSize: 1 << 30, MaxRatio: 100}, ErrRatio},
		{"gzip zeros no ratio", gz(t, zeros), ReadLimits{MaxSize: 1 << 30}, nil},
		{"gzip zeros size", gz(t, zeros), ReadLimits{MaxSize: 1 << 20}, ErrTooLarge},
		{"gzip text ok", gz(t, text), ReadLimits{MaxSize: 1 << 30, MaxRatio: 1000}, nil},
		{"bzip2 100M zeros ratio", bz, ReadLimits{MaxSize: 1 << 30, MaxRatio: 1000}, ErrRatio},
		{"bzip2 100M zeros size", bz, ReadLimits{MaxSize: 4 << 20}, ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Walk(Detect(tc.data), tc.data, "x.gz", func(m *Member) error {
				_, err := m.Read(context.Background(), tc.l)
				return err
			})
			if !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestZipLyingSizes: an entry declaring a small size but expanding far
// more is caught while reading, from the compressed bytes consumed.
func TestZipLyingSizes(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "z", Method: zip.Deflate})
	w.Write(make([]byte, 16<<20))
	zw.Close()
	data := buf.Bytes()
	// Patch the central directory's uncompressed size (offset 24 of the
	// central header) to claim 2 MiB.
	i := bytes.LastIndex(data, []byte("PK\x01\x02"))
	copy(data[i+24:], []byte{0, 0, 0x20, 0})
	err := Walk(Zip, data, "x.zip", func(m *Member) error {
		if m.Size != 2<<20 {
			t.Fatalf("declared size %d", m.Size)
		}
		_, err := m.Read(context.Background(), ReadLimits{MaxSize: 1 << 30, MaxRatio: 100})
		return err
	})
	if !errors.Is(err, ErrRatio) {
		t.Errorf("err = %v, want %v", err, ErrRatio)
	}
}

func TestXzDictLimit(t *testing.T) {
	data, _ := os.ReadFile("testdata/hello.txt.xz")
	if data[16] != 0x16 {
		t.Fatalf("unexpected dictionary byte %#x", data[16])
	}
	big := bytes.Clone(data)
	big[16] = 40 // 4 GiB
	err := Walk(Xz, big, "x.xz", func(m *Member) error {
		_, err := m.Read(context.Background(), small)
		return err
	})
	if !errors.Is(err, ErrDict) {
		t.Errorf("err = %v, want %v", err, ErrDict)
	}
}

// TestTruncated cuts every test file at every length: no panic, and a cut
// in the middle of the data is an error (from Walk or from Read).
func TestTruncated(t *testing.T) {
	files, _ := filepath.Glob("testdata/*")
	for _, file := range files {
		data, _ := os.ReadFile(file)
		f := Detect(data)
		for n := 0; n < len(data); n++ {
			cut := data[:n]
			var readErr error
			err := Walk(f, cut, filepath.Base(file), func(m *Member) error {
				_, e := m.Read(context.Background(), small)
				if e != nil && readErr == nil {
					readErr = e
				}
				return nil
			})
			mid := n > 0 && n < len(data)-1 && n == len(data)/2
			if f == Tar {
				mid = n == 600 // inside the first member's content
			}
			if mid && err == nil && readErr == nil {
				t.Errorf("%s cut at %d of %d: no error", file, n, len(data))
			}
		}
	}
}

// TestZipModeNotTrusted: an entry claiming to be a symlink or a directory
// but holding data is still a member.
func TestZipModeNotTrusted(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range []struct {
		name string
		mode os.FileMode
		data string
	}{{"link", os.ModeSymlink | 0o777, "payload"}, {"dir/", os.ModeDir | 0o755, ""}, {"fakedir", os.ModeDir | 0o755, "hidden"}} {
		h := &zip.FileHeader{Name: e.name, Method: zip.Store}
		h.SetMode(e.mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(e.data))
	}
	zw.Close()
	got, err := readAll(t, buf.Bytes(), "m.zip", small)
	if err != nil || strings.Join(got, "|") != "link=payload|fakedir=hidden" {
		t.Errorf("got %q, %v", got, err)
	}
}

func TestTarSkipsNonRegular(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"})
	tw.WriteHeader(&tar.Header{Name: "fifo", Typeflag: tar.TypeFifo})
	tw.WriteHeader(&tar.Header{Name: "f", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644})
	tw.Write([]byte("y"))
	tw.Close()
	got, err := readAll(t, buf.Bytes(), "t.tar", small)
	if err != nil || strings.Join(got, "|") != "f=y" {
		t.Errorf("got %q, %v; want [f=y]", got, err)
	}
}

func TestStreamName(t *testing.T) {
	tests := []struct {
		f          Format
		name, want string
	}{
		{Gzip, "a.tar.gz", "a.tar"}, {Gzip, "a.tgz", "a.tar"}, {Gzip, "A.GZ", "A"}, {Gzip, "x", "x.data"},
		{Bzip2, "a.tbz2", "a.tar"}, {Xz, "a.txz", "a.tar"}, {Zstd, "a.tar.zst", "a.tar"}, {Gzip, ".gz", ".gz.data"},
	}
	for _, tc := range tests {
		if got := streamName(tc.f, tc.name); got != tc.want {
			t.Errorf("streamName(%v, %q) = %q, want %q", tc.f, tc.name, got, tc.want)
		}
	}
}

// TestZstdWindowLimit: a frame asking for a window above MaxDictSize is
// refused before the decoder allocates it.
func TestZstdWindowLimit(t *testing.T) {
	rawBlock := []byte{0x09, 0, 0, 'x'} // last block, raw, 1 byte
	tests := []struct {
		name   string
		header []byte
		want   error
	}{
		// Window descriptor: exponent 20 → 2^30 bytes.
		{"window 1 GiB", []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 20 << 3}, ErrDict},
		// Single segment with an 8-byte content size of 2^40: the window
		// is the content size.
		{"single segment 1 TiB", []byte{0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0}, ErrDict},
		// A 1 MiB window is fine.
		{"window 1 MiB", []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 10 << 3}, nil},
	}
	for _, tc := range tests {
		data := append(bytes.Clone(tc.header), rawBlock...)
		if Detect(data) != Zstd {
			t.Fatalf("%s: not detected", tc.name)
		}
		var got []byte
		err := Walk(Zstd, data, "x.zst", func(m *Member) error {
			b, err := m.Read(context.Background(), small)
			got = b
			return err
		})
		if !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if tc.want == nil && string(got) != "x" {
			t.Errorf("%s: content %q", tc.name, got)
		}
	}
}

func TestZipEntryLimit(t *testing.T) {
	small, _ := os.ReadFile("testdata/hello.zip")
	if n, ok := zipEntryCount(small); !ok || n != 3 {
		t.Errorf("hello.zip: %d entries, %v; want 3", n, ok)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	const entries = 70000 // above 0xffff: zip64 end records
	for i := range entries {
		zw.CreateHeader(&zip.FileHeader{Name: strconv.Itoa(i), Method: zip.Store})
	}
	zw.Close()
	data := buf.Bytes()
	if n, ok := zipEntryCount(data); !ok || n != entries {
		t.Fatalf("zip64: %d entries, %v; want %d", n, ok, entries)
	}
	// Claim a million entries in the zip64 record.
	loc := bytes.LastIndex(data, []byte("PK\x06\x07"))
	off := binary.LittleEndian.Uint64(data[loc+8:])
	binary.LittleEndian.PutUint64(data[off+32:], 1<<20)
	err := Walk(Zip, data, "many.zip", func(*Member) error { return nil })
	if !errors.Is(err, ErrMembers) {
		t.Errorf("err = %v, want %v", err, ErrMembers)
	}
	// Short and odd inputs do not panic.
	for _, s := range []string{"PK\x05\x06", "PK\x06\x07" + strings.Repeat("\xff", 20) + "PK\x05\x06" + strings.Repeat("\xff", 18)} {
		zipEntryCount([]byte(s))
	}
}
