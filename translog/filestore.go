package translog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"golang.org/x/mod/sumdb/tlog"
)

// File names in a FileStorage directory.
const (
	recordsFile    = "records"    // frames: 4-byte big-endian length, then the record
	indexFile      = "index"      // 8-byte big-endian offset of each record's frame
	hashesFile     = "hashes"     // 32-byte stored hashes in tlog order
	checkpointFile = "checkpoint" // latest signed checkpoint
)

// ErrCorrupt wraps every integrity failure FileStorage finds on open.
var ErrCorrupt = errors.New("translog: log storage is corrupt")

// FileStorage is a Storage in a directory of append-only files, fsynced on
// every append. The index file is the commit record: an append writes and
// syncs the records and hashes first and the index last, so bytes past the
// last indexed record are an append interrupted by a crash and are discarded
// on open. Anything missing below that point (a records or hashes file
// shorter than the index says, a stored hash that does not match the
// records, fewer records than the stored checkpoint covers) is reported as
// ErrCorrupt and the storage is not opened. (Index entries cut at an 8-byte
// boundary beyond the stored checkpoint look like an interrupted append: the
// records they covered were never in a stored checkpoint, and are dropped.)
// Only one process may open a directory at a time; nothing enforces it.
type FileStorage struct {
	dir string

	mu      sync.RWMutex
	records *os.File
	index   *os.File
	hashes  *os.File
	n       int64 // committed records
	recEnd  int64 // end of the last committed frame
	closed  bool
}

// OpenFileStorage opens (creating if needed) the log storage in dir and
// checks it: every stored hash is recomputed from the records.
func OpenFileStorage(dir string) (*FileStorage, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &FileStorage{dir: dir}
	var err error
	open := func(name string) *os.File {
		if err != nil {
			return nil
		}
		var f *os.File
		f, err = os.OpenFile(filepath.Join(dir, name), os.O_RDWR|os.O_CREATE, 0o600)
		return f
	}
	s.records, s.index, s.hashes = open(recordsFile), open(indexFile), open(hashesFile)
	if err != nil {
		s.Close()
		return nil, err
	}
	if err := s.recover(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

func fileSize(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// recover establishes the committed size, discards an interrupted append
// and verifies everything below it.
func (s *FileStorage) recover() error {
	isz, err := fileSize(s.index)
	if err != nil {
		return err
	}
	n := isz / 8
	rsz, err := fileSize(s.records)
	if err != nil {
		return err
	}
	hsz, err := fileSize(s.hashes)
	if err != nil {
		return err
	}
	want := tlog.StoredHashCount(n) * tlog.HashSize
	if hsz < want {
		return corrupt("%s: %d bytes, %d records need %d (truncated)", hashesFile, hsz, n, want)
	}
	// Walk the records through the index, recomputing each record's stored
	// hashes from the records and the (already checked) earlier hashes.
	var end int64
	var buf [8]byte
	var checked int64 // stored hashes verified so far
	reader := tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(ix))
		for i, x := range ix {
			if x < 0 || x >= checked {
				return nil, fmt.Errorf("stored hash %d not yet checked", x)
			}
			if _, err := s.hashes.ReadAt(out[i][:], x*tlog.HashSize); err != nil {
				return nil, err
			}
		}
		return out, nil
	})
	var stored tlog.Hash
	for i := int64(0); i < n; i++ {
		if _, err := s.index.ReadAt(buf[:], i*8); err != nil {
			return corrupt("%s: record %d: %v", indexFile, i, err)
		}
		off := int64(binary.BigEndian.Uint64(buf[:]))
		if off != end {
			return corrupt("%s: record %d at offset %d, want %d", indexFile, i, off, end)
		}
		rec, err := readFrame(s.records, off, rsz)
		if err != nil {
			return corrupt("%s: record %d: %v", recordsFile, i, err)
		}
		end = off + 4 + int64(len(rec))
		hs, err := tlog.StoredHashes(i, rec, reader)
		if err != nil {
			return corrupt("record %d: %v", i, err)
		}
		for _, h := range hs {
			if _, err := s.hashes.ReadAt(stored[:], checked*tlog.HashSize); err != nil {
				return corrupt("%s: %v", hashesFile, err)
			}
			if stored != h {
				return corrupt("%s: stored hash %d does not match record %d", hashesFile, checked, i)
			}
			checked++
		}
	}
	// The stored checkpoint must not cover more than we hold.
	if cp, err := s.ReadCheckpoint(context.Background()); err != nil {
		return err
	} else if len(cp) > 0 {
		if i := lastBlankLine(cp); i >= 0 {
			if _, t, err := ParseCheckpoint(cp[:i+1]); err == nil && t.N > n {
				return corrupt("the stored checkpoint covers %d records but only %d remain (truncated)", t.N, n)
			}
		}
	}
	// Discard an interrupted append.
	for _, c := range []struct {
		f    *os.File
		size int64
		keep int64
	}{{s.index, isz, n * 8}, {s.records, rsz, end}, {s.hashes, hsz, want}} {
		if c.size > c.keep {
			if err := c.f.Truncate(c.keep); err != nil {
				return err
			}
			if err := c.f.Sync(); err != nil {
				return err
			}
		}
	}
	s.n, s.recEnd = n, end
	return nil
}

func lastBlankLine(b []byte) int {
	for i := len(b) - 2; i >= 0; i-- {
		if b[i] == '\n' && b[i+1] == '\n' {
			return i
		}
	}
	return -1
}

func readFrame(f *os.File, off, fileSize int64) ([]byte, error) {
	var lb [4]byte
	if off+4 > fileSize {
		return nil, fmt.Errorf("frame at %d past the end of the file (%d bytes; truncated)", off, fileSize)
	}
	if _, err := f.ReadAt(lb[:], off); err != nil {
		return nil, err
	}
	l := int64(binary.BigEndian.Uint32(lb[:]))
	if l > MaxEntrySize {
		return nil, fmt.Errorf("frame at %d claims %d bytes, over the %d limit", off, l, MaxEntrySize)
	}
	if off+4+l > fileSize {
		return nil, fmt.Errorf("frame at %d of %d bytes runs past the end of the file (%d bytes; truncated)", off, l, fileSize)
	}
	rec := make([]byte, l)
	if _, err := f.ReadAt(rec, off+4); err != nil {
		return nil, err
	}
	return rec, nil
}

// Close closes the files.
func (s *FileStorage) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	var first error
	for _, f := range []*os.File{s.records, s.index, s.hashes} {
		if f != nil {
			if err := f.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// Size implements Storage.
func (s *FileStorage) Size(ctx context.Context) (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, errors.New("translog: storage closed")
	}
	return s.n, nil
}

// Append implements Storage.
func (s *FileStorage) Append(ctx context.Context, n int64, records [][]byte, hashes []tlog.Hash) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("translog: storage closed")
	}
	if n != s.n {
		return ErrConflict
	}
	if err := checkAppendShape(n, records, hashes); err != nil {
		return err
	}
	var recBuf, idxBuf, hBuf []byte
	off := s.recEnd
	for _, r := range records {
		if len(r) > MaxEntrySize {
			return fmt.Errorf("translog: record of %d bytes over the %d limit", len(r), MaxEntrySize)
		}
		idxBuf = binary.BigEndian.AppendUint64(idxBuf, uint64(off))
		recBuf = binary.BigEndian.AppendUint32(recBuf, uint32(len(r)))
		recBuf = append(recBuf, r...)
		off += 4 + int64(len(r))
	}
	for _, h := range hashes {
		hBuf = append(hBuf, h[:]...)
	}
	// On any failure, the index is unchanged, so the append did not happen;
	// the stray bytes are cut now (and on the next open, if this fails).
	undo := func(err error) error {
		s.records.Truncate(s.recEnd)
		s.hashes.Truncate(tlog.StoredHashCount(s.n) * tlog.HashSize)
		s.index.Truncate(s.n * 8)
		return err
	}
	if _, err := s.records.WriteAt(recBuf, s.recEnd); err != nil {
		return undo(err)
	}
	if _, err := s.hashes.WriteAt(hBuf, tlog.StoredHashCount(s.n)*tlog.HashSize); err != nil {
		return undo(err)
	}
	if err := s.records.Sync(); err != nil {
		return undo(err)
	}
	if err := s.hashes.Sync(); err != nil {
		return undo(err)
	}
	if _, err := s.index.WriteAt(idxBuf, s.n*8); err != nil {
		return undo(err)
	}
	if err := s.index.Sync(); err != nil {
		return undo(err)
	}
	s.n += int64(len(records))
	s.recEnd = off
	return nil
}

// ReadRecord implements Storage.
func (s *FileStorage) ReadRecord(ctx context.Context, index int64) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, errors.New("translog: storage closed")
	}
	if index < 0 || index >= s.n {
		return nil, fmt.Errorf("translog: no record %d (log has %d)", index, s.n)
	}
	var buf [8]byte
	if _, err := s.index.ReadAt(buf[:], index*8); err != nil {
		return nil, err
	}
	return readFrame(s.records, int64(binary.BigEndian.Uint64(buf[:])), s.recEnd)
}

// ReadHashes implements Storage.
func (s *FileStorage) ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, errors.New("translog: storage closed")
	}
	have := tlog.StoredHashCount(s.n)
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= have {
			return nil, fmt.Errorf("translog: no stored hash %d (have %d)", x, have)
		}
		if _, err := s.hashes.ReadAt(out[i][:], x*tlog.HashSize); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ReadCheckpoint implements Storage.
func (s *FileStorage) ReadCheckpoint(ctx context.Context) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, checkpointFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err == nil && len(b) > MaxCheckpointSize {
		return nil, corrupt("%s: %d bytes", checkpointFile, len(b))
	}
	return b, err
}

// WriteCheckpoint implements Storage: it writes a temporary file, syncs it
// and renames it over the old one.
func (s *FileStorage) WriteCheckpoint(ctx context.Context, signed []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tmp := filepath.Join(s.dir, checkpointFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(signed); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, checkpointFile)); err != nil {
		return err
	}
	return syncDir(s.dir)
}

func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be synced there; rename is durable enough
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
