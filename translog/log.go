// Package translog is Vigil's transparency log: an append-only Merkle log of
// every rule set, hunt and approval, with signed checkpoints, inclusion and
// consistency proofs, verification on the agent side and witness
// cosignatures. The Merkle tree, proofs and signed notes are those of
// golang.org/x/mod/sumdb/tlog and golang.org/x/mod/sumdb/note; this package
// only stores, encodes and checks.
//
// # Checkpoints
//
// A checkpoint is a note (golang.org/x/mod/sumdb/note) whose text is three
// lines:
//
//	<origin>
//	<tree size, decimal>
//	<root hash, standard base64>
//
// The origin is the name of the log's signing key (for example
// "vigil.example/log"), so a checkpoint names the log it belongs to and a
// verifier refuses a checkpoint whose origin is not its log's key name. It is
// tlog.FormatTree's layout with the log's own origin instead of
// "go.sum database tree" (the C2SP checkpoint layout without extension
// lines). Witnesses add their own signatures to the same note.
package translog

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// MaxCheckpointSize is the largest signed checkpoint accepted.
const MaxCheckpointSize = 64 << 10

// FormatCheckpoint returns the note text of a checkpoint of tree for the log
// named origin.
func FormatCheckpoint(origin string, tree tlog.Tree) []byte {
	return fmt.Appendf(nil, "%s\n%d\n%s\n", origin, tree.N, base64.StdEncoding.EncodeToString(tree.Hash[:]))
}

// ParseCheckpoint parses checkpoint note text, returning its origin and tree.
// It accepts only the exact form FormatCheckpoint produces.
func ParseCheckpoint(text []byte) (origin string, tree tlog.Tree, err error) {
	if len(text) > MaxCheckpointSize {
		return "", tlog.Tree{}, errors.New("checkpoint too large")
	}
	lines := strings.Split(string(text), "\n")
	if len(lines) != 4 || lines[3] != "" || lines[0] == "" {
		return "", tlog.Tree{}, errors.New("malformed checkpoint: want origin, size and hash lines")
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != lines[1] {
		return "", tlog.Tree{}, fmt.Errorf("malformed checkpoint size %q", lines[1])
	}
	h, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(h) != tlog.HashSize || base64.StdEncoding.EncodeToString(h) != lines[2] {
		return "", tlog.Tree{}, fmt.Errorf("malformed checkpoint hash %q", lines[2])
	}
	tree = tlog.Tree{N: n}
	copy(tree.Hash[:], h)
	if !bytes.Equal(FormatCheckpoint(lines[0], tree), text) {
		return "", tlog.Tree{}, errors.New("checkpoint is not canonical")
	}
	return lines[0], tree, nil
}

// Log is an append-only transparency log over a Storage, signing checkpoints
// with its key. It is safe for concurrent use; appends are serialised.
type Log struct {
	st     Storage
	signer note.Signer
	mu     sync.Mutex // serialises Append
}

// New returns a Log over st that signs checkpoints with signer. The log's
// origin is signer.Name().
func New(st Storage, signer note.Signer) (*Log, error) {
	if st == nil || signer == nil {
		return nil, errors.New("translog: New needs a storage and a signer")
	}
	if signer.Name() == "" {
		return nil, errors.New("translog: signer has no name")
	}
	return &Log{st: st, signer: signer}, nil
}

// Origin is the log's origin line: its key name.
func (l *Log) Origin() string { return l.signer.Name() }

// Storage returns the log's storage.
func (l *Log) Storage() Storage { return l.st }

func (l *Log) hashReader(ctx context.Context) tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		return l.st.ReadHashes(ctx, indexes)
	})
}

// Append adds one canonical entry of the given kind and returns its index.
// The entry must be the exact canonical encoding of a known kind.
func (l *Log) Append(ctx context.Context, kind string, canonical []byte) (int64, error) {
	if k, err := Kind(canonical); err != nil {
		return 0, err
	} else if k != kind {
		return 0, fmt.Errorf("translog: entry is of kind %q, not %q", k, kind)
	}
	if err := CheckEntry(kind, canonical); err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		n, err := l.st.Size(ctx)
		if err != nil {
			return 0, err
		}
		hashes, err := tlog.StoredHashes(n, canonical, l.hashReader(ctx))
		if err != nil {
			return 0, err
		}
		err = l.st.Append(ctx, n, [][]byte{canonical}, hashes)
		if errors.Is(err, ErrConflict) && attempt < 100 {
			continue // another writer on the same storage appended first
		}
		if err != nil {
			return 0, err
		}
		return n, nil
	}
}

// Size returns the number of entries.
func (l *Log) Size(ctx context.Context) (int64, error) { return l.st.Size(ctx) }

// Tree returns the current tree size and root hash.
func (l *Log) Tree(ctx context.Context) (tlog.Tree, error) {
	n, err := l.st.Size(ctx)
	if err != nil {
		return tlog.Tree{}, err
	}
	h, err := tlog.TreeHash(n, l.hashReader(ctx))
	if err != nil {
		return tlog.Tree{}, err
	}
	return tlog.Tree{N: n, Hash: h}, nil
}

// Checkpoint signs a checkpoint of the current tree, stores it as the
// latest (unless the stored one is of a larger tree, which another writer on
// the same storage may have signed) and returns it.
func (l *Log) Checkpoint(ctx context.Context) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tree, err := l.Tree(ctx)
	if err != nil {
		return nil, err
	}
	signed, err := note.Sign(&note.Note{Text: string(FormatCheckpoint(l.Origin(), tree))}, l.signer)
	if err != nil {
		return nil, err
	}
	old, err := l.st.ReadCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	if i := bytes.LastIndex(old, []byte("\n\n")); i >= 0 {
		if _, t, err := ParseCheckpoint(old[:i+1]); err == nil && t.N > tree.N {
			return signed, nil
		}
	}
	if err := l.st.WriteCheckpoint(ctx, signed); err != nil {
		return nil, err
	}
	return signed, nil
}

// LatestCheckpoint returns the checkpoint last stored by Checkpoint, nil if
// none.
func (l *Log) LatestCheckpoint(ctx context.Context) ([]byte, error) {
	return l.st.ReadCheckpoint(ctx)
}

// InclusionProof proves that entry index is in the tree of size treeSize.
func (l *Log) InclusionProof(ctx context.Context, index, treeSize int64) (tlog.RecordProof, error) {
	n, err := l.st.Size(ctx)
	if err != nil {
		return nil, err
	}
	if index < 0 || index >= treeSize || treeSize > n {
		return nil, fmt.Errorf("translog: no inclusion proof of %d in a tree of %d (log has %d)", index, treeSize, n)
	}
	return tlog.ProveRecord(treeSize, index, l.hashReader(ctx))
}

// ConsistencyProof proves that the tree of size oldSize is a prefix of the
// tree of size newSize. The proof from an empty tree is empty.
func (l *Log) ConsistencyProof(ctx context.Context, oldSize, newSize int64) (tlog.TreeProof, error) {
	n, err := l.st.Size(ctx)
	if err != nil {
		return nil, err
	}
	if oldSize < 0 || oldSize > newSize || newSize > n {
		return nil, fmt.Errorf("translog: no consistency proof from %d to %d (log has %d)", oldSize, newSize, n)
	}
	if oldSize == 0 {
		return tlog.TreeProof{}, nil
	}
	return tlog.ProveTree(newSize, oldSize, l.hashReader(ctx))
}

// Entry returns the canonical bytes of entry index.
func (l *Log) Entry(ctx context.Context, index int64) ([]byte, error) {
	return l.st.ReadRecord(ctx, index)
}
