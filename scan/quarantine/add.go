package quarantine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Add moves the file at path into the store, recording the rules that
// matched it, and returns its record. path must name a regular file; a
// symbolic link is refused (its target is not moved). On any error the
// original is left in place and the store unchanged.
func (s *Store) Add(path string, rules []string) (Item, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Item{}, err
	}
	id, err := newID()
	if err != nil {
		return Item{}, err
	}
	// Never move the store's own files (its key above all).
	if pfi, err := os.Stat(filepath.Dir(abs)); err == nil {
		if sfi, err := os.Stat(s.dir); err == nil && os.SameFile(pfi, sfi) {
			return Item{}, fmt.Errorf("%s: %w", abs, ErrInStore)
		}
	}
	if fi, err := os.Lstat(abs); err != nil {
		return Item{}, err
	} else if !fi.Mode().IsRegular() {
		return Item{}, fmt.Errorf("%s: %w", abs, ErrNotFile)
	}
	f, err := os.OpenFile(abs, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return Item{}, err
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return Item{}, err
	}
	if !before.Mode().IsRegular() {
		return Item{}, fmt.Errorf("%s: %w", abs, ErrNotFile)
	}
	it := Item{ID: id, Path: abs, Mode: chmodBits(before.Mode()), ModTime: before.ModTime().UTC(),
		Rules: append([]string{}, rules...), Time: s.now().UTC()}
	it.UID, it.GID, it.AccessTime = ownerTimes(before)
	it.AccessTime = it.AccessTime.UTC()
	if it.Rules == nil {
		it.Rules = []string{}
	}

	// Copy, sealed, into a temporary data file, and sync it.
	tmpData := s.dataPath(id) + tmpSuffix
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmpData)
			os.Remove(s.metaPath(id) + tmpSuffix)
		}
	}()
	h := sha256.New()
	if it.Size, err = s.writeSealed(tmpData, id, io.TeeReader(f, h)); err != nil {
		return Item{}, err
	}
	it.SHA256 = hex.EncodeToString(h.Sum(nil))

	// The file must not have changed while it was copied.
	after, err := f.Stat()
	if err != nil {
		return Item{}, err
	}
	if after.Size() != it.Size || !after.ModTime().Equal(before.ModTime()) {
		return Item{}, fmt.Errorf("%s: %w", abs, ErrChanged)
	}
	// Verify: read the copy back from disk and compare.
	if err := s.verify(tmpData, id, it.SHA256); err != nil {
		return Item{}, err
	}
	if it.MAC, err = s.mac(it); err != nil {
		return Item{}, err
	}
	if err := writeSynced(s.metaPath(id)+tmpSuffix, it); err != nil {
		return Item{}, err
	}
	if err := os.Rename(tmpData, s.dataPath(id)); err != nil {
		return Item{}, err
	}
	if err := os.Rename(s.metaPath(id)+tmpSuffix, s.metaPath(id)); err != nil {
		os.Remove(s.dataPath(id))
		return Item{}, err
	}
	if err := syncDir(s.dir); err != nil {
		s.Delete(id)
		return Item{}, err
	}
	// Only now remove the original, if the path still names the file
	// that was copied.
	cur, err := os.Lstat(abs)
	if err == nil && !os.SameFile(cur, before) {
		err = fmt.Errorf("%s: replaced by another file: %w", abs, ErrChanged)
	} else if err == nil && (cur.Size() != it.Size || !cur.ModTime().Equal(before.ModTime())) {
		err = fmt.Errorf("%s: %w", abs, ErrChanged)
	}
	if err == nil {
		err = os.Remove(abs)
	}
	if err != nil {
		// The original stays; so does nothing of it in the store.
		s.Delete(id)
		return Item{}, err
	}
	ok = true
	if err := syncDir(filepath.Dir(abs)); err != nil {
		return it, fmt.Errorf("quarantined as %s, but syncing %s: %w", id, filepath.Dir(abs), err)
	}
	return it, nil
}

// writeSealed writes r, sealed, to a new file name and syncs it.
func (s *Store) writeSealed(name, id string, r io.Reader) (int64, error) {
	out, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := seal(s.aead, id, out, r)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// verify decrypts the data file name and compares its hash with want.
func (s *Store) verify(name, id, want string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := open(s.aead, id, h, f); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("copy has sha256 %s, file %s: %w", got, want, ErrCorrupt)
	}
	return nil
}

// writeSynced writes v as JSON to a new file and syncs it.
func writeSynced(name string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// chmodBits converts a FileMode to chmod's bits.
func chmodBits(m fs.FileMode) uint32 {
	b := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		b |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		b |= 0o1000
	}
	return b
}

// fileMode converts chmod's bits to a FileMode.
func fileMode(b uint32) fs.FileMode {
	m := fs.FileMode(b & 0o777)
	if b&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if b&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if b&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

var errNoParent = errors.New("the original directory does not exist")
