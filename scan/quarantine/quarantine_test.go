package quarantine

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func randBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	marker := []byte("EICAR-LIKE-MARKER-0123456789")
	tests := []struct {
		name string
		data []byte
		mode fs.FileMode
	}{
		{"empty", nil, 0o600},
		{"small", append([]byte("MZ"), marker...), 0o755},
		{"one-chunk", randBytes(ChunkSize, 1), 0o640},
		{"chunk-plus-one", randBytes(ChunkSize+1, 2), 0o400},
		{"three-chunks", append(randBytes(3*ChunkSize-len(marker), 3), marker...), 0o644 | fs.ModeSetgid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(filepath.Join(dir, "q"))
			if err != nil {
				t.Fatal(err)
			}
			src := filepath.Join(dir, "victim.bin")
			if err := os.WriteFile(src, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(src, tc.mode); err != nil {
				t.Fatal(err)
			}
			mtime := time.Date(2020, 1, 2, 3, 4, 5, 600, time.UTC)
			atime := time.Date(2021, 6, 7, 8, 9, 10, 0, time.UTC)
			if err := os.Chtimes(src, atime, mtime); err != nil {
				t.Fatal(err)
			}
			before, _ := os.Stat(src)
			it, err := s.Add(src, []string{"R1", "R2"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(src); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("original still there: %v", err)
			}
			sum := sha256.Sum256(tc.data)
			if it.SHA256 != hex.EncodeToString(sum[:]) || it.Size != int64(len(tc.data)) || it.Path != src ||
				!slices.Equal(it.Rules, []string{"R1", "R2"}) || !it.ModTime.Equal(mtime) {
				t.Errorf("record %+v", it)
			}
			// The store holds neither the plaintext nor the marker.
			stored, err := os.ReadFile(s.dataPath(it.ID))
			if err != nil {
				t.Fatal(err)
			}
			if len(tc.data) > 0 && bytes.Contains(stored, tc.data[:min(len(tc.data), 64)]) || bytes.Contains(stored, marker) {
				t.Error("stored content is not encrypted")
			}
			if got, err := s.Get(it.ID); err != nil || got.SHA256 != it.SHA256 {
				t.Errorf("Get: %+v, %v", got, err)
			}
			if _, err := s.Restore(it.ID, RestoreOptions{}); err != nil {
				t.Fatal(err)
			}
			after, _ := os.Stat(src) // before reading it changes the access time
			if after.Mode() != before.Mode() || !after.ModTime().Equal(mtime) {
				t.Errorf("restored mode %v mtime %v, want %v %v", after.Mode(), after.ModTime(), before.Mode(), mtime)
			}
			if a, ok := atimeOf(after); ok && !a.Equal(atime) {
				t.Errorf("atime %v, want %v", a, atime)
			}
			got, err := os.ReadFile(src)
			if err != nil || !bytes.Equal(got, tc.data) {
				t.Fatalf("restored %d bytes, want %d (%v)", len(got), len(tc.data), err)
			}
			if _, err := s.Get(it.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("item still in store after restore: %v", err)
			}
		})
	}
}

// addOne quarantines a file with content data and returns the store and
// the item.
func addOne(t *testing.T, data []byte) (*Store, Item) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(filepath.Join(dir, "q"))
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "f")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	it, err := s.Add(src, []string{"R"})
	if err != nil {
		t.Fatal(err)
	}
	return s, it
}

func TestRestoreRefusesExisting(t *testing.T) {
	s, it := addOne(t, []byte("quarantined"))
	if err := os.WriteFile(it.Path, []byte("new file"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Restore(it.ID, RestoreOptions{}); !errors.Is(err, ErrExists) {
		t.Fatalf("Restore over a file: %v, want ErrExists", err)
	}
	if got, _ := os.ReadFile(it.Path); string(got) != "new file" {
		t.Fatalf("existing file changed: %q", got)
	}
	if _, err := s.Restore(it.ID, RestoreOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(it.Path); string(got) != "quarantined" {
		t.Fatalf("forced restore: %q", got)
	}
}

func TestRestoreTo(t *testing.T) {
	s, it := addOne(t, []byte("abc"))
	to := filepath.Join(filepath.Dir(it.Path), "elsewhere")
	if _, err := s.Restore(it.ID, RestoreOptions{To: to, Keep: true}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(to); string(got) != "abc" {
		t.Errorf("restored %q", got)
	}
	if _, err := s.Get(it.ID); err != nil {
		t.Errorf("Keep: item gone: %v", err)
	}
	os.RemoveAll(filepath.Dir(it.Path) + "/nodir")
	if _, err := s.Restore(it.ID, RestoreOptions{To: filepath.Join(filepath.Dir(it.Path), "nodir", "x")}); err == nil {
		t.Error("restore into a missing directory succeeded")
	}
}

func TestTamperedDetected(t *testing.T) {
	data := randBytes(2*ChunkSize+100, 7)
	tests := []struct {
		name   string
		change func([]byte) []byte
	}{
		{"flip-bit", func(b []byte) []byte { b[len(magic)+prefixSize+10] ^= 1; return b }},
		{"flip-tag", func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }},
		{"drop-last-chunk", func(b []byte) []byte { return b[:len(magic)+prefixSize+2*(ChunkSize+16)] }},
		{"truncate-inside", func(b []byte) []byte { return b[:len(b)-5] }},
		{"swap-chunks", func(b []byte) []byte {
			h := len(magic) + prefixSize
			c := ChunkSize + 16
			x := slices.Clone(b[h : h+c])
			copy(b[h:h+c], b[h+c:h+2*c])
			copy(b[h+c:h+2*c], x)
			return b
		}},
		{"header", func(b []byte) []byte { b[0] = 'X'; return b }},
		{"empty", func(b []byte) []byte { return nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, it := addOne(t, data)
			p := s.dataPath(it.ID)
			b, _ := os.ReadFile(p)
			if err := os.WriteFile(p, tc.change(b), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Restore(it.ID, RestoreOptions{}); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Restore: %v, want ErrCorrupt", err)
			}
			if _, err := os.Lstat(it.Path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("something was written at %s", it.Path)
			}
			entries, _ := os.ReadDir(filepath.Dir(it.Path))
			for _, e := range entries {
				if e.Name() != "q" {
					t.Errorf("left behind: %s", e.Name())
				}
			}
		})
	}
}

func TestAddRefuses(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(filepath.Join(dir, "q"))
	os.WriteFile(filepath.Join(dir, "target"), []byte("x"), 0o644)
	os.Symlink("target", filepath.Join(dir, "link"))
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	mkfifo(filepath.Join(dir, "fifo"))
	for _, name := range []string{"q/key", "link", "sub", "fifo", "missing"} {
		p := filepath.Join(dir, name)
		_, before := os.Lstat(p)
		if _, err := s.Add(p, nil); err == nil {
			t.Errorf("%s: quarantined", name)
		}
		if _, after := os.Lstat(p); (before == nil) != (after == nil) {
			t.Errorf("%s: changed", name)
		}
	}
	if items, err := s.List(); err != nil || len(items) != 0 {
		t.Errorf("store holds %v, %v", items, err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "target")); string(got) != "x" {
		t.Error("link target changed")
	}
}

func TestIDsAndList(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(filepath.Join(dir, "q"))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "q", keyName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", fi.Mode(), err)
	}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 3 {
		s.now = func() time.Time { return base.Add(time.Duration(2-i) * time.Hour) }
		p := filepath.Join(dir, "f")
		os.WriteFile(p, []byte{byte(i)}, 0o644)
		it, err := s.Add(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, it.ID)
	}
	items, err := s.List()
	if err != nil || len(items) != 3 || items[0].ID != ids[2] || items[2].ID != ids[0] {
		t.Fatalf("List: %v %v", items, err)
	}
	// A second Open uses the same key.
	s2, err := Open(filepath.Join(dir, "q"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Restore(ids[1], RestoreOptions{To: filepath.Join(dir, "back")}); err != nil {
		t.Fatal(err)
	}
	if err := s2.Delete(ids[0]); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"../key", "", "ABCDEF0123456789", ids[0], "0123456789abcdef"} {
		if _, err := s2.Get(bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q): %v", bad, err)
		}
		if err := s2.Delete(bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("Delete(%q): %v", bad, err)
		}
	}
	if items, _ := s2.List(); len(items) != 1 || items[0].ID != ids[2] {
		t.Errorf("after restore and delete: %v", items)
	}
}

func TestOpenExisting(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "q")
	if _, err := OpenExisting(dir); !errors.Is(err, ErrNoStore) {
		t.Errorf("OpenExisting of nothing: %v", err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("OpenExisting created the store")
	}
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenExisting(dir); err != nil {
		t.Errorf("OpenExisting: %v", err)
	}
}

func TestBadKey(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, keyName), []byte("short"), 0o600)
	if _, err := Open(dir); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Open with a short key: %v", err)
	}
}

// TestRecordTampered: a record edited to restore elsewhere is refused.
func TestRecordTampered(t *testing.T) {
	s, it := addOne(t, []byte("payload"))
	p := s.metaPath(it.ID)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	evil := filepath.Join(filepath.Dir(it.Path), "elsewhere")
	changed := bytes.Replace(b, []byte(it.Path), []byte(evil), 1)
	if bytes.Equal(changed, b) {
		t.Fatal("path not found in record")
	}
	if err := os.WriteFile(p, changed, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Restore(it.ID, RestoreOptions{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Restore: %v, want ErrCorrupt", err)
	}
	if _, err := os.Lstat(evil); err == nil {
		t.Error("restored to the edited path")
	}
	if items, err := s.List(); len(items) != 0 || !errors.Is(err, ErrCorrupt) {
		t.Errorf("List: %v, %v", items, err)
	}
	// Delete still removes a corrupt item.
	if err := s.Delete(it.ID); err != nil {
		t.Errorf("Delete: %v", err)
	}
}
