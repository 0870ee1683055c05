package translog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

func openFS(t testing.TB, dir string) *FileStorage {
	t.Helper()
	fs, err := OpenFileStorage(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return fs
}

// fileLog builds a log of n entries in dir, with a checkpoint after the
// first cp entries (none if cp < 0), and closes it.
func fileLog(t *testing.T, dir string, n, cp int) []byte {
	t.Helper()
	s, _, _ := testKey(t, logName)
	fs := openFS(t, dir)
	l := newTestLog(t, fs, s)
	var signed []byte
	for i := 0; i < n; i++ {
		appendN(t, l, i, i+1, "")
		if i+1 == cp {
			var err error
			if signed, err = l.Checkpoint(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := fs.Close(); err != nil {
		t.Fatal(err)
	}
	return signed
}

func TestFileStorageReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, v, _ := testKey(t, logName)
	fs := openFS(t, dir)
	l := newTestLog(t, fs, s)
	appendN(t, l, 0, 10, "")
	cp1, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tree1, _ := l.Tree(ctx)
	fs.Close()

	fs2 := openFS(t, dir)
	l2 := newTestLog(t, fs2, s)
	if n, _ := l2.Size(ctx); n != 10 {
		t.Fatalf("reopened size %d", n)
	}
	if tr, _ := l2.Tree(ctx); tr != tree1 {
		t.Fatal("tree changed across reopen")
	}
	if got, _ := l2.LatestCheckpoint(ctx); string(got) != string(cp1) {
		t.Fatal("checkpoint not kept")
	}
	for i := 0; i < 10; i++ {
		e, err := l2.Entry(ctx, int64(i))
		if err != nil || string(e) != string(entry(t, i, "")) {
			t.Fatalf("entry %d after reopen: %v", i, err)
		}
	}
	appendN(t, l2, 10, 15, "")
	cp2, _ := l2.Checkpoint(ctx)
	ver := NewVerifier(v)
	if err := ver.Advance(cp1, nil); err != nil {
		t.Fatal(err)
	}
	p, err := l2.ConsistencyProof(ctx, 10, 15)
	if err != nil {
		t.Fatal(err)
	}
	if err := ver.Advance(cp2, p); err != nil {
		t.Fatalf("log after reopen is not consistent with before: %v", err)
	}
}

func truncate(t *testing.T, path string, by int64) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, st.Size()-by); err != nil {
		t.Fatal(err)
	}
}

func TestFileStorageDetectsDamage(t *testing.T) {
	for name, damage := range map[string]func(t *testing.T, dir string){
		"records tail cut": func(t *testing.T, dir string) { truncate(t, filepath.Join(dir, recordsFile), 5) },
		"hashes tail cut":  func(t *testing.T, dir string) { truncate(t, filepath.Join(dir, hashesFile), 1) },
		"index cut below checkpoint": func(t *testing.T, dir string) {
			truncate(t, filepath.Join(dir, indexFile), 8*4) // 8 left, checkpoint covers 10
		},
		"record edited": func(t *testing.T, dir string) {
			flip(t, filepath.Join(dir, recordsFile), 30)
		},
		"hash edited": func(t *testing.T, dir string) {
			flip(t, filepath.Join(dir, hashesFile), 5*tlog.HashSize+3)
		},
		"index edited": func(t *testing.T, dir string) {
			flip(t, filepath.Join(dir, indexFile), 8*3+7)
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			fileLog(t, dir, 12, 10)
			damage(t, dir)
			fs, err := OpenFileStorage(dir)
			if err == nil {
				fs.Close()
				t.Fatal("damaged storage opened")
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
		})
	}
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x40
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestFileStorageInterruptedAppend simulates a crash in the middle of an
// append: bytes written to the records and hashes files (and part of an
// index entry) but the index not complete. The append did not happen.
func TestFileStorageInterruptedAppend(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fileLog(t, dir, 6, 6)
	appendBytes := func(name string, b []byte) {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(b)
		f.Close()
	}
	appendBytes(recordsFile, []byte{0, 0, 0, 9, 'p', 'a', 'r'})
	appendBytes(hashesFile, make([]byte, 40))
	appendBytes(indexFile, []byte{0, 0, 0})
	fs := openFS(t, dir)
	if n, _ := fs.Size(ctx); n != 6 {
		t.Fatalf("size %d after an interrupted append", n)
	}
	s, _, _ := testKey(t, logName)
	l := newTestLog(t, fs, s)
	appendN(t, l, 6, 8, "")
	fs.Close()
	fs2 := openFS(t, dir) // verifies every hash again
	if n, _ := fs2.Size(ctx); n != 8 {
		t.Fatalf("size %d", n)
	}
}

func TestFileStorageBadReads(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fileLog(t, dir, 3, -1)
	fs := openFS(t, dir)
	if _, err := fs.ReadRecord(ctx, 3); err == nil {
		t.Fatal("read past the end")
	}
	if _, err := fs.ReadHashes(ctx, []int64{tlog.StoredHashCount(3)}); err == nil {
		t.Fatal("hash read past the end")
	}
	if err := fs.Append(ctx, 2, [][]byte{[]byte("x")}, []tlog.Hash{{}}); !errors.Is(err, ErrConflict) {
		t.Fatalf("append at a stale size: %v", err)
	}
	if err := fs.Append(ctx, 3, [][]byte{[]byte("x")}, nil); err == nil {
		t.Fatal("append with the wrong number of hashes")
	}
}
