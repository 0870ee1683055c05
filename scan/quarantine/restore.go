package quarantine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// RestoreOptions change where and how an item is restored.
type RestoreOptions struct {
	// To restores to this path instead of the original one.
	To string
	// Force replaces an existing file.
	Force bool
	// Keep leaves the item in the store after restoring it.
	Keep bool
}

// Restore writes item id back, byte for byte, with its mode and times and,
// when running as root, its owner; then removes it from the store unless
// o.Keep. It fails with ErrExists if the path exists and not o.Force, and
// with ErrCorrupt if the stored content does not decrypt to the recorded
// hash (nothing is written then).
func (s *Store) Restore(id string, o RestoreOptions) (Item, error) {
	it, err := s.Get(id)
	if err != nil {
		return Item{}, err
	}
	dst := it.Path
	if o.To != "" {
		if dst, err = filepath.Abs(o.To); err != nil {
			return it, err
		}
	}
	if _, err := os.Lstat(dst); err == nil && !o.Force {
		return it, fmt.Errorf("%s: %w", dst, ErrExists)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return it, err
	}
	dir := filepath.Dir(dst)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return it, fmt.Errorf("%s: %w", dir, errNoParent)
	}
	in, err := os.Open(s.dataPath(id))
	if err != nil {
		return it, err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(dir, ".vigil-restore-*")
	if err != nil {
		return it, err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	n, err := open(s.aead, id, &teeWriter{tmp, h}, in)
	if err != nil {
		return it, err
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != it.Size || got != it.SHA256 {
		return it, fmt.Errorf("%s: content has %d bytes, sha256 %s; recorded %d, %s: %w", id, n, got, it.Size, it.SHA256, ErrCorrupt)
	}
	if err := tmp.Sync(); err != nil {
		return it, err
	}
	if err := tmp.Close(); err != nil {
		return it, err
	}
	if err := setMeta(tmp.Name(), it); err != nil {
		return it, err
	}
	if o.Force {
		// Rename replaces files, but not directories: refuse those.
		if fi, err := os.Lstat(dst); err == nil && fi.IsDir() {
			return it, fmt.Errorf("%s: is a directory: %w", dst, ErrExists)
		}
	} else if _, err := os.Lstat(dst); err == nil {
		return it, fmt.Errorf("%s: %w", dst, ErrExists) // appeared meanwhile
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return it, err
	}
	done = true
	if err := syncDir(dir); err != nil {
		return it, err
	}
	if o.Keep {
		return it, nil
	}
	return it, s.Delete(id)
}

// setMeta restores owner (as root), mode and times on name. The owner
// goes first: chown clears the setuid and setgid bits.
func setMeta(name string, it Item) error {
	if os.Geteuid() == 0 && it.UID >= 0 && it.GID >= 0 {
		if err := os.Chown(name, it.UID, it.GID); err != nil {
			return err
		}
	}
	if err := os.Chmod(name, fileMode(it.Mode)); err != nil {
		return err
	}
	atime := it.AccessTime
	if atime.IsZero() {
		atime = time.Now()
	}
	return os.Chtimes(name, atime, it.ModTime)
}

type teeWriter struct {
	f *os.File
	h interface{ Write([]byte) (int, error) }
}

func (t *teeWriter) Write(p []byte) (int, error) {
	t.h.Write(p)
	return t.f.Write(p)
}
