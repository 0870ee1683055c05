package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"vigil/translog"
	"vigil/wire"
)

// Files in the state directory for the transparency log and the journal.
const (
	// logStateFile holds the last log checkpoint the agent verified and,
	// once a fork was seen, its evidence.
	logStateFile = "log.state"
	// journalFile is the agent's hash-chained journal (package journal).
	journalFile = "journal"
	// maxProofHashes bounds a consistency or inclusion proof (a tree of
	// 2^63 entries needs fewer than 64 hashes per level pair).
	maxProofHashes = 128
	// maxApprovalsPerHunt bounds the approvals checked for one hunt.
	maxApprovalsPerHunt = 256
)

// logState is what StateDir/log.state holds.
type logState struct {
	// Checkpoint is the trusted signed checkpoint (translog.Verifier's
	// MarshalState), empty before the first.
	Checkpoint string `json:"checkpoint,omitempty"`
	// Size is Checkpoint's tree size, sent as SyncRequest.LogSize.
	Size int64 `json:"size,omitempty"`
	// Fork, once set, makes the agent refuse every hunt until the
	// machine's administrator deletes the file.
	Fork *forkEvidence `json:"fork,omitempty"`
}

// forkEvidence is what the agent keeps of a fork of the server's log: both
// signed checkpoints, which anyone can check against the log key.
type forkEvidence struct {
	Detected    time.Time `json:"detected"`
	Trusted     string    `json:"trusted_checkpoint"`
	Offered     string    `json:"offered_checkpoint"`
	TrustedSize int64     `json:"trusted_size"`
	TrustedHash string    `json:"trusted_hash"`
	OfferedSize int64     `json:"offered_size"`
	OfferedHash string    `json:"offered_hash"`
	Error       string    `json:"error"`
}

func newForkEvidence(fe *translog.ForkError, now time.Time) *forkEvidence {
	return &forkEvidence{
		Detected:    now.UTC(),
		Trusted:     string(fe.Trusted),
		Offered:     string(fe.Offered),
		TrustedSize: fe.TrustedTree.N,
		TrustedHash: fe.TrustedTree.Hash.String(),
		OfferedSize: fe.OfferedTree.N,
		OfferedHash: fe.OfferedTree.Hash.String(),
		Error:       fe.Error(),
	}
}

// summary is the refusal reason every hunt gets after a fork.
func (f *forkEvidence) summary(stateDir string) string {
	return fmt.Sprintf("the server's transparency log forked (detected %s): the agent trusted a checkpoint of size %d, hash %s, "+
		"and was offered one of size %d, hash %s, that does not extend it; both signed checkpoints are kept in %s. "+
		"The agent refuses every hunt until this machine's administrator deletes that file",
		f.Detected.Format(time.RFC3339), f.TrustedSize, f.TrustedHash, f.OfferedSize, f.OfferedHash,
		filepath.Join(stateDir, logStateFile))
}

// loadLogState reads StateDir/log.state; a missing file is the empty state.
func loadLogState(dir string) (*logState, error) {
	path := filepath.Join(dir, logStateFile)
	data, err := readFileLimited(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &logState{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("log state: %w", err)
	}
	var st logState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("log state %s: not valid JSON (delete it to trust the server's log anew)", path)
	}
	if st.Size < 0 || st.Checkpoint == "" && st.Size != 0 {
		return nil, fmt.Errorf("log state %s: inconsistent (delete it to trust the server's log anew)", path)
	}
	return &st, nil
}

func saveLogState(dir string, st *logState) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, logStateFile), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("saving the log state: %w", err)
	}
	return nil
}

// proofHashes converts the wire form of a Merkle proof.
func proofHashes(p [][]byte) ([]tlog.Hash, error) {
	if len(p) > maxProofHashes {
		return nil, fmt.Errorf("proof of %d hashes", len(p))
	}
	out := make([]tlog.Hash, len(p))
	for i, h := range p {
		if len(h) != tlog.HashSize {
			return nil, fmt.Errorf("proof hash %d is %d bytes, want %d", i, len(h), tlog.HashSize)
		}
		copy(out[i][:], h)
	}
	return out, nil
}

// verifyHuntLog checks that hunt h came with its log entry and approvals,
// each proven to be in tree (already verified), and that the entry
// describes exactly h. It returns a refusal reason, "" if all holds.
func verifyHuntLog(v *translog.Verifier, tree tlog.Tree, h *wire.Hunt) string {
	if h.Log == nil {
		return "the hunt is not in the server's transparency log: it came without its log entry, and this agent runs only logged hunts"
	}
	le := h.Log.Hunt
	proof, err := proofHashes(le.Inclusion)
	if err == nil {
		err = v.VerifyEntry(le.Entry, le.Index, tlog.RecordProof(proof), tree)
	}
	if err != nil {
		return fmt.Sprintf("the hunt's log entry (index %d) is not proven to be in the transparency log of size %d: %v", le.Index, tree.N, err)
	}
	e, err := translog.DecodeHunt(le.Entry)
	if err != nil {
		return fmt.Sprintf("log entry %d is not a hunt entry: %v", le.Index, err)
	}
	if e.HuntID != h.ID {
		return fmt.Sprintf("log entry %d is for hunt %q, not this hunt", le.Index, truncate(e.HuntID, 128))
	}
	if err := e.CheckHunt(h); err != nil {
		return fmt.Sprintf("the hunt is not the one its log entry %d describes: %v", le.Index, err)
	}
	if len(h.Log.Approvals) > maxApprovalsPerHunt {
		return fmt.Sprintf("the hunt came with %d approvals, more than the %d this agent checks", len(h.Log.Approvals), maxApprovalsPerHunt)
	}
	for _, ap := range h.Log.Approvals {
		proof, err := proofHashes(ap.Inclusion)
		if err == nil {
			err = v.VerifyEntry(ap.Entry, ap.Index, tlog.RecordProof(proof), tree)
		}
		if err != nil {
			return fmt.Sprintf("approval entry %d is not proven to be in the transparency log of size %d: %v", ap.Index, tree.N, err)
		}
	}
	return ""
}
