//go:build unix

package quarantine

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func mkfifo(p string) { syscall.Mkfifo(p, 0o644) }

func TestOwnerRestoredAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	dir := t.TempDir()
	s, _ := Open(filepath.Join(dir, "q"))
	src := filepath.Join(dir, "f")
	os.WriteFile(src, []byte("x"), 0o644)
	if err := os.Chown(src, 1234, 5678); err != nil {
		t.Fatal(err)
	}
	it, err := s.Add(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if it.UID != 1234 || it.GID != 5678 {
		t.Errorf("recorded %d:%d", it.UID, it.GID)
	}
	if _, err := s.Restore(it.ID, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(src)
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != 1234 || st.Gid != 5678 {
		t.Errorf("restored owner %d:%d", st.Uid, st.Gid)
	}
}
