package quarantine

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Errors a caller may test with errors.Is.
var (
	ErrNotFound = errors.New("no such quarantined item")
	ErrExists   = errors.New("file exists (use force to replace it)")
	ErrChanged  = errors.New("file changed while it was quarantined")
	ErrCorrupt  = errors.New("quarantined content is corrupt or was altered")
	ErrNotFile  = errors.New("not a regular file")
	ErrNoStore  = errors.New("not a quarantine store")
	ErrInStore  = errors.New("file of the quarantine store itself")
)

const (
	keyName    = "key"
	keySize    = 32 // AES-256
	dataSuffix = ".data"
	metaSuffix = ".json"
	tmpSuffix  = ".tmp"
	// maxRecord bounds the size of a record file read back.
	maxRecord = 1 << 20
)

// Item is the record of one quarantined file.
type Item struct {
	ID     string `json:"id"`
	Path   string `json:"path"` // absolute path of the original
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // of the original content, hex
	// Mode holds the permission bits with setuid (04000), setgid (02000)
	// and sticky (01000), as chmod takes them.
	Mode    uint32    `json:"mode"`
	UID     int       `json:"uid"` // -1 where unknown
	GID     int       `json:"gid"`
	ModTime time.Time `json:"mtime"`
	// AccessTime is zero where the system does not report it.
	AccessTime time.Time `json:"atime,omitzero"`
	Rules      []string  `json:"rules"`
	Time       time.Time `json:"quarantined"`
	// MAC authenticates the record (HMAC-SHA256 of its JSON form without
	// MAC, with a key derived from the store's): a record edited to send
	// a restore elsewhere is refused.
	MAC string `json:"mac"`
}

// Store is a quarantine directory.
type Store struct {
	dir    string
	aead   cipher.AEAD
	macKey []byte
	now    func() time.Time
}

// Open opens the store in dir, creating it (mode 0700) and its key file
// (mode 0600) when missing.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	key, err := loadKey(filepath.Join(dir, keyName))
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	macKey, err := hkdf.Key(sha256.New, key, nil, "vigil quarantine record", sha256.Size)
	if err != nil {
		return nil, err
	}
	return &Store{dir: dir, aead: aead, macKey: macKey, now: time.Now}, nil
}

// mac computes the MAC of a record.
func (s *Store) mac(it Item) (string, error) {
	it.MAC = ""
	b, err := json.Marshal(it)
	if err != nil {
		return "", err
	}
	h := hmac.New(sha256.New, s.macKey)
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// OpenExisting opens the store in dir; unlike Open it fails with
// ErrNoStore when dir holds no store, and creates nothing.
func OpenExisting(dir string) (*Store, error) {
	if _, err := os.Stat(filepath.Join(dir, keyName)); err != nil {
		return nil, fmt.Errorf("%s: %w (%v)", dir, ErrNoStore, err)
	}
	return Open(dir)
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// loadKey reads the key file, creating it when it does not exist.
func loadKey(name string) ([]byte, error) {
	key := make([]byte, keySize)
	f, err := os.Open(name)
	if err == nil {
		defer f.Close()
		n, err := io.ReadFull(f, key)
		if err != nil || n != keySize {
			return nil, fmt.Errorf("quarantine key %s: want %d bytes: %w", name, keySize, ErrCorrupt)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	f, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return loadKey(name) // made meanwhile by another process
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return key, syncDir(filepath.Dir(name))
}

// validID reports whether id has the form of an item ID, so that an ID
// from the command line can never name a path outside the store.
func validID(id string) bool {
	if len(id) != 2*idBytes {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

const idBytes = 8

func newID() (string, error) {
	b := make([]byte, idBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func (s *Store) dataPath(id string) string { return filepath.Join(s.dir, id+dataSuffix) }
func (s *Store) metaPath(id string) string { return filepath.Join(s.dir, id+metaSuffix) }

// Get returns the record of item id.
func (s *Store) Get(id string) (Item, error) {
	if !validID(id) {
		return Item{}, fmt.Errorf("%q: %w", id, ErrNotFound)
	}
	f, err := os.Open(s.metaPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return Item{}, fmt.Errorf("%s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Item{}, err
	}
	defer f.Close()
	var it Item
	if err := json.NewDecoder(io.LimitReader(f, maxRecord)).Decode(&it); err != nil {
		return Item{}, fmt.Errorf("record %s: %v: %w", id, err, ErrCorrupt)
	}
	if it.ID != id {
		return Item{}, fmt.Errorf("record %s names item %q: %w", id, it.ID, ErrCorrupt)
	}
	want, err := s.mac(it)
	if err != nil {
		return Item{}, err
	}
	if !hmac.Equal([]byte(want), []byte(it.MAC)) {
		return Item{}, fmt.Errorf("record %s: bad MAC: %w", id, ErrCorrupt)
	}
	return it, nil
}

// List returns the records of all items, oldest first. Unreadable records
// are returned as errors after the readable ones.
func (s *Store) List() ([]Item, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var (
		items []Item
		errs  []error
	)
	for _, de := range entries {
		id, ok := strings.CutSuffix(de.Name(), metaSuffix)
		if !ok || !validID(id) {
			continue
		}
		it, err := s.Get(id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		items = append(items, it)
	}
	slices.SortFunc(items, func(a, b Item) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return items, errors.Join(errs...)
}

// Delete removes item id from the store for good.
func (s *Store) Delete(id string) error {
	if _, err := s.Get(id); err != nil && !errors.Is(err, ErrCorrupt) {
		return err
	}
	err := errors.Join(removeIfExists(s.dataPath(id)), removeIfExists(s.metaPath(id)))
	if err != nil {
		return err
	}
	return syncDir(s.dir)
}

func removeIfExists(name string) error {
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// syncDir flushes a directory's entries to disk where the system allows
// it (not on Windows).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !ignoreDirSyncError(err) {
		return err
	}
	return nil
}
