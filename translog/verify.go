package translog

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// ForkError says that a checkpoint offered by the log is not consistent with
// the one the verifier trusted before: the log was forked or rewritten, or
// it cannot prove otherwise. Both signed checkpoints are the evidence; when
// the two trees have the same size and different hashes (Proven), the two
// notes alone prove that the log key signed two different histories.
// Otherwise anyone can ask the log for a consistency proof between the two
// checkpoints: an honest log can always give one.
type ForkError struct {
	Trusted     []byte // the signed checkpoint the verifier held
	Offered     []byte // the signed checkpoint it refused
	TrustedTree tlog.Tree
	OfferedTree tlog.Tree
	Proof       tlog.TreeProof // the consistency proof that failed (may be empty)
	Proven      bool           // same size, different hashes
	Err         error          // why the proof failed
}

// Error describes the fork with both tree sizes and hashes.
func (e *ForkError) Error() string {
	what := "is not proven consistent with"
	if e.Proven {
		what = "contradicts"
	}
	msg := fmt.Sprintf("translog: fork detected: checkpoint of size %d (%s) %s the trusted checkpoint of size %d (%s)",
		e.OfferedTree.N, e.OfferedTree.Hash, what, e.TrustedTree.N, e.TrustedTree.Hash)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Verifier checks checkpoints, consistency and inclusion for one log. It is
// what agents and witnesses hold. It remembers the last checkpoint it
// trusted; callers persist it with MarshalState and restore it with
// UnmarshalState. A Verifier is safe for concurrent use.
type Verifier struct {
	mu        sync.Mutex
	logKey    note.Verifier
	witnesses []note.Verifier
	k         int

	trusted     []byte // signed checkpoint, nil before the first
	trustedTree tlog.Tree
}

// NewVerifier returns a Verifier for the log whose note verifier is logKey,
// with no trusted checkpoint yet (the first checkpoint passed to Advance is
// trusted on first use, unless UnmarshalState restores one).
func NewVerifier(logKey note.Verifier) *Verifier {
	return &Verifier{logKey: logKey}
}

// NewVerifierFromKey is NewVerifier with a note verifier key string
// ("name+hash+keydata").
func NewVerifierFromKey(vkey string) (*Verifier, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	return NewVerifier(v), nil
}

// Origin is the log's origin: its key name.
func (v *Verifier) Origin() string { return v.logKey.Name() }

// RequireWitnesses makes VerifyCheckpoint demand valid cosignatures by at
// least k distinct witnesses (by name) among verifiers.
func (v *Verifier) RequireWitnesses(k int, verifiers ...note.Verifier) error {
	if k < 0 || k > len(verifiers) {
		return fmt.Errorf("translog: cannot require %d of %d witnesses", k, len(verifiers))
	}
	for _, w := range verifiers {
		if w.Name() == v.logKey.Name() {
			return fmt.Errorf("translog: witness %q has the log's own name", w.Name())
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.k = k
	v.witnesses = append([]note.Verifier(nil), verifiers...)
	return nil
}

func (v *Verifier) verifiers() note.Verifiers {
	return note.VerifierList(append([]note.Verifier{v.logKey}, v.witnesses...)...)
}

// VerifyCheckpoint checks a signed checkpoint: signed by the log key, of this
// log's origin, well formed, and cosigned by the required witnesses. It does
// not check consistency with earlier checkpoints: see Advance.
func (v *Verifier) VerifyCheckpoint(signed []byte) (tlog.Tree, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.verifyCheckpoint(signed, true)
}

func (v *Verifier) verifyCheckpoint(signed []byte, witnesses bool) (tlog.Tree, error) {
	if len(signed) > MaxCheckpointSize {
		return tlog.Tree{}, fmt.Errorf("translog: checkpoint of %d bytes is too large", len(signed))
	}
	n, err := note.Open(signed, v.verifiers())
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("translog: checkpoint: %w", err)
	}
	logSigned := false
	names := map[string]bool{}
	for _, s := range n.Sigs {
		if s.Name == v.logKey.Name() && s.Hash == v.logKey.KeyHash() {
			logSigned = true
		} else {
			names[s.Name] = true
		}
	}
	if !logSigned {
		return tlog.Tree{}, fmt.Errorf("translog: checkpoint is not signed by the log key %s", v.logKey.Name())
	}
	origin, tree, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("translog: %w", err)
	}
	if origin != v.logKey.Name() {
		return tlog.Tree{}, fmt.Errorf("translog: checkpoint of log %q, want %q", origin, v.logKey.Name())
	}
	if witnesses && len(names) < v.k {
		return tlog.Tree{}, fmt.Errorf("translog: checkpoint has %d of the %d required witness cosignatures", len(names), v.k)
	}
	return tree, nil
}

// Trusted returns the last trusted checkpoint and its tree; nil and the empty
// tree before the first.
func (v *Verifier) Trusted() ([]byte, tlog.Tree) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]byte(nil), v.trusted...), v.trustedTree
}

// Advance verifies newCheckpoint (as VerifyCheckpoint does) and its
// consistency with the trusted checkpoint, proof being the consistency proof
// between the smaller and the larger of the two trees. A larger consistent
// checkpoint becomes the trusted one; a smaller or equal consistent one is
// accepted and leaves the trusted one unchanged. An inconsistent one is
// refused with a *ForkError. With no trusted checkpoint yet, the first
// valid checkpoint is trusted on first use.
func (v *Verifier) Advance(newCheckpoint []byte, proof tlog.TreeProof) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	tree, err := v.verifyCheckpoint(newCheckpoint, true)
	if err != nil {
		return err
	}
	if v.trusted == nil {
		v.trusted, v.trustedTree = append([]byte(nil), newCheckpoint...), tree
		return nil
	}
	if err := consistent(v.trustedTree, tree, proof); err != nil {
		return &ForkError{
			Trusted: append([]byte(nil), v.trusted...), Offered: append([]byte(nil), newCheckpoint...),
			TrustedTree: v.trustedTree, OfferedTree: tree, Proof: proof,
			Proven: tree.N == v.trustedTree.N, Err: err,
		}
	}
	if tree.N > v.trustedTree.N {
		v.trusted, v.trustedTree = append([]byte(nil), newCheckpoint...), tree
	}
	return nil
}

// consistent checks that a and b are trees of one log, proof going from the
// smaller to the larger.
func consistent(a, b tlog.Tree, proof tlog.TreeProof) error {
	if a.N > b.N {
		a, b = b, a
	}
	if a.N == b.N {
		if a.Hash != b.Hash {
			return errors.New("same size, different root hashes")
		}
		return nil
	}
	if a.N == 0 {
		if a.Hash != emptyTreeHash() {
			return errors.New("empty tree with a non-empty hash")
		}
		return nil
	}
	return tlog.CheckTree(proof, b.N, b.Hash, a.N, a.Hash)
}

func emptyTreeHash() tlog.Hash {
	h, _ := tlog.TreeHash(0, nil)
	return h
}

// VerifyEntry checks that canonical is entry index of tree, by proof. The
// caller must have verified tree (VerifyCheckpoint and Advance).
func (v *Verifier) VerifyEntry(canonical []byte, index int64, proof tlog.RecordProof, tree tlog.Tree) error {
	if index < 0 || index >= tree.N {
		return fmt.Errorf("translog: entry %d is outside a tree of size %d", index, tree.N)
	}
	if err := tlog.CheckRecord(proof, tree.N, tree.Hash, index, tlog.RecordHash(canonical)); err != nil {
		return fmt.Errorf("translog: entry %d is not in the tree of size %d: %w", index, tree.N, err)
	}
	return nil
}

// MarshalState returns the trusted checkpoint (a signed note), for the
// caller to store; nil before the first.
func (v *Verifier) MarshalState() []byte {
	b, _ := v.Trusted()
	return b
}

// UnmarshalState restores a trusted checkpoint saved with MarshalState. It
// checks the log's signature again (not the witnesses': the policy may have
// changed since). Empty state means none.
func (v *Verifier) UnmarshalState(state []byte) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(state) == 0 {
		v.trusted, v.trustedTree = nil, tlog.Tree{}
		return nil
	}
	tree, err := v.verifyCheckpoint(state, false)
	if err != nil {
		return fmt.Errorf("translog: saved state: %w", err)
	}
	v.trusted, v.trustedTree = append([]byte(nil), state...), tree
	return nil
}

// Cosign is what a witness does with a checkpoint: it verifies it with the
// witness's own Verifier v of the log (which holds the last checkpoint the
// witness cosigned or saw), checks consistency with proof (Advance: a fork
// gives a *ForkError and no signature), and returns the checkpoint with the
// witness's signature added after the signatures already present.
func Cosign(witnessSigner note.Signer, v *Verifier, checkpoint []byte, proof tlog.TreeProof) ([]byte, error) {
	if witnessSigner.Name() == v.Origin() {
		return nil, errors.New("translog: a witness cannot use the log's own key name")
	}
	if err := v.Advance(checkpoint, proof); err != nil {
		return nil, err
	}
	n, err := note.Open(checkpoint, note.VerifierList(v.logKey))
	if err != nil {
		return nil, fmt.Errorf("translog: checkpoint: %w", err)
	}
	return note.Sign(n, witnessSigner)
}
