package translog

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/mod/sumdb/tlog"
)

// ErrConflict is returned by Storage.Append when the log no longer has the
// size the caller expected (another writer appended first). Log.Append
// retries on it.
var ErrConflict = errors.New("translog: concurrent append conflict")

// Storage is where a Log keeps its records, its stored Merkle hashes (in
// tlog's stored-hash numbering) and its latest signed checkpoint.
// Implementations must be safe for concurrent use.
type Storage interface {
	// Size returns the number of records.
	Size(ctx context.Context) (int64, error)
	// Append adds records with indexes [n, n+len(records)) and the stored
	// hashes with indexes [tlog.StoredHashCount(n),
	// tlog.StoredHashCount(n+len(records))), all or nothing, durably. It
	// returns ErrConflict if the log does not have exactly n records.
	Append(ctx context.Context, n int64, records [][]byte, hashes []tlog.Hash) error
	// ReadRecord returns the record at index.
	ReadRecord(ctx context.Context, index int64) ([]byte, error)
	// ReadHashes returns the stored hashes at the given stored-hash indexes
	// (the contract of tlog.HashReader).
	ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error)
	// ReadCheckpoint returns the latest signed checkpoint, nil if none.
	ReadCheckpoint(ctx context.Context) ([]byte, error)
	// WriteCheckpoint replaces the latest signed checkpoint, durably.
	WriteCheckpoint(ctx context.Context, signed []byte) error
}

// MemoryStorage is a Storage in memory, for tests and for agents that only
// hold a copy.
type MemoryStorage struct {
	mu         sync.RWMutex
	records    [][]byte
	hashes     []tlog.Hash
	checkpoint []byte
}

// NewMemoryStorage returns an empty in-memory Storage.
func NewMemoryStorage() *MemoryStorage { return &MemoryStorage{} }

// Size implements Storage.
func (m *MemoryStorage) Size(ctx context.Context) (int64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return int64(len(m.records)), nil
}

// Append implements Storage.
func (m *MemoryStorage) Append(ctx context.Context, n int64, records [][]byte, hashes []tlog.Hash) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if int64(len(m.records)) != n {
		return ErrConflict
	}
	if err := checkAppendShape(n, records, hashes); err != nil {
		return err
	}
	if int64(len(m.hashes)) != tlog.StoredHashCount(n) {
		return fmt.Errorf("translog: memory storage holds %d hashes for %d records", len(m.hashes), n)
	}
	for _, r := range records {
		m.records = append(m.records, append([]byte(nil), r...))
	}
	m.hashes = append(m.hashes, hashes...)
	return nil
}

func checkAppendShape(n int64, records [][]byte, hashes []tlog.Hash) error {
	want := tlog.StoredHashCount(n+int64(len(records))) - tlog.StoredHashCount(n)
	if int64(len(hashes)) != want {
		return fmt.Errorf("translog: append of %d records at %d with %d hashes, want %d", len(records), n, len(hashes), want)
	}
	return nil
}

// ReadRecord implements Storage.
func (m *MemoryStorage) ReadRecord(ctx context.Context, index int64) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if index < 0 || index >= int64(len(m.records)) {
		return nil, fmt.Errorf("translog: no record %d (log has %d)", index, len(m.records))
	}
	return append([]byte(nil), m.records[index]...), nil
}

// ReadHashes implements Storage.
func (m *MemoryStorage) ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m.hashes)) {
			return nil, fmt.Errorf("translog: no stored hash %d (have %d)", x, len(m.hashes))
		}
		out[i] = m.hashes[x]
	}
	return out, nil
}

// ReadCheckpoint implements Storage.
func (m *MemoryStorage) ReadCheckpoint(ctx context.Context) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return append([]byte(nil), m.checkpoint...), nil
}

// WriteCheckpoint implements Storage.
func (m *MemoryStorage) WriteCheckpoint(ctx context.Context, signed []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.checkpoint = append([]byte(nil), signed...)
	return nil
}
