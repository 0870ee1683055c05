// Package witness is a transparency-log witness for a Vigil server: it
// watches the server's public log, checks that every checkpoint the server
// serves extends the last one it saw (a consistency proof, verified with
// translog), cosigns the consistent ones with its own note key and sends the
// cosignature back to the server. A checkpoint that is not consistent with
// the witness's history is never cosigned: the witness keeps the evidence
// (both signed checkpoints and the proof that failed) in its state
// directory, and keeps refusing.
//
// State directory layout:
//
//	log.key      the log's note verifier key, pinned at the first run
//	checkpoint   the last checkpoint the witness verified and cosigned
//	forks/       one JSON file per fork seen (see Evidence)
package witness

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"vigil/server/api"
	"vigil/translog"
)

// DefaultInterval is how often Run checks the log when Options.Interval is 0.
const DefaultInterval = 10 * time.Second

// State file names inside Options.StateDir.
const (
	LogKeyFile     = "log.key"
	CheckpointFile = "checkpoint"
	ForksDir       = "forks"
)

// maxProofHashes bounds a consistency proof the witness accepts: a proof
// between two trees of fewer than 2^63 entries has fewer than 128 hashes.
const maxProofHashes = 128

// Options configure a Witness.
type Options struct {
	// Server is the Vigil server's base URL, e.g. "https://vigil.example:7480".
	Server string
	// Signer is the witness's own note signer (`vigil key create`). Its name
	// must differ from the log's origin.
	Signer note.Signer
	// LogKey is the log's note verifier key. When empty, the key pinned in
	// StateDir is used; with neither, the key the server announces is pinned
	// at the first run (trust on first use). A LogKey that differs from the
	// pinned one is an error: a log never changes its key.
	LogKey string
	// StateDir holds the pinned log key, the last cosigned checkpoint and
	// the fork evidence. It is created if needed.
	StateDir string
	// Interval is how often Run checks the log (default DefaultInterval).
	Interval time.Duration
	// HTTPClient is used for every request (nil = http.DefaultClient).
	HTTPClient *http.Client
	// Logf, if not nil, receives one line per event (cosigned, refused, error).
	Logf func(format string, args ...any)
}

// Witness watches and cosigns one log. Its methods are safe for concurrent
// use; rounds are serialised.
type Witness struct {
	opts   Options
	client *api.Client

	mu       sync.Mutex
	verifier *translog.Verifier // nil until the log key is known
	logKey   string
}

// Evidence is the content of a fork file in StateDir/forks: the two
// checkpoints the log key signed that the witness cannot reconcile, and the
// consistency proof the server offered between them.
type Evidence struct {
	Detected    time.Time `json:"detected"`
	Origin      string    `json:"origin"`
	LogKey      string    `json:"log_key"`
	Trusted     string    `json:"trusted"` // signed checkpoint the witness had cosigned
	TrustedSize int64     `json:"trusted_size"`
	TrustedHash string    `json:"trusted_hash"`
	Offered     string    `json:"offered"` // signed checkpoint the witness refused
	OfferedSize int64     `json:"offered_size"`
	OfferedHash string    `json:"offered_hash"`
	Proof       [][]byte  `json:"proof"`  // the consistency proof that failed (may be empty)
	Proven      bool      `json:"proven"` // same size, different hashes: the two notes alone prove the fork
	Error       string    `json:"error"`
}

// New checks the options and loads the witness's state (pinned key and last
// checkpoint) from StateDir. It makes no network request.
func New(opts Options) (*Witness, error) {
	if opts.Server == "" {
		return nil, errors.New("witness: no server URL")
	}
	if opts.Signer == nil {
		return nil, errors.New("witness: no signer key")
	}
	if opts.StateDir == "" {
		return nil, errors.New("witness: no state directory")
	}
	if opts.Interval < 0 {
		return nil, errors.New("witness: negative interval")
	}
	if opts.Interval == 0 {
		opts.Interval = DefaultInterval
	}
	if err := os.MkdirAll(filepath.Join(opts.StateDir, ForksDir), 0o700); err != nil {
		return nil, fmt.Errorf("witness: state directory: %w", err)
	}
	w := &Witness{opts: opts, client: api.NewClient(opts.Server, "")}
	w.client.HTTP = opts.HTTPClient

	pinned, err := readTrimmed(filepath.Join(opts.StateDir, LogKeyFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("witness: %w", err)
	}
	key := opts.LogKey
	switch {
	case key != "" && pinned != "" && key != pinned:
		return nil, fmt.Errorf("witness: log key %q differs from the key pinned in %s (%q); a log never changes its key: remove the state directory only if you are sure", key, filepath.Join(opts.StateDir, LogKeyFile), pinned)
	case key == "":
		key = pinned
	}
	if key != "" {
		if err := w.pin(key, pinned == ""); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// pin makes key the log key, loads the saved checkpoint and, if save, writes
// the key to StateDir. The caller holds w.mu or has not shared w yet.
func (w *Witness) pin(key string, save bool) error {
	lv, err := note.NewVerifier(key)
	if err != nil {
		return fmt.Errorf("witness: log key: %w", err)
	}
	if w.opts.Signer.Name() == lv.Name() {
		return fmt.Errorf("witness: the witness key has the log's own name %q", lv.Name())
	}
	v := translog.NewVerifier(lv)
	state, err := os.ReadFile(filepath.Join(w.opts.StateDir, CheckpointFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("witness: %w", err)
	}
	if err := v.UnmarshalState(state); err != nil {
		return fmt.Errorf("witness: %s: %w", filepath.Join(w.opts.StateDir, CheckpointFile), err)
	}
	if save {
		if err := writeFileAtomic(filepath.Join(w.opts.StateDir, LogKeyFile), []byte(key+"\n"), 0o600); err != nil {
			return fmt.Errorf("witness: %w", err)
		}
	}
	w.verifier, w.logKey = v, key
	return nil
}

// LogKey returns the pinned log key, "" before it is known.
func (w *Witness) LogKey() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.logKey
}

// Trusted returns the last checkpoint the witness verified and cosigned
// and its tree (nil and the empty tree before the first).
func (w *Witness) Trusted() ([]byte, tlog.Tree) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.verifier == nil {
		return nil, tlog.Tree{}
	}
	return w.verifier.Trusted()
}

func (w *Witness) logf(format string, args ...any) {
	if w.opts.Logf != nil {
		w.opts.Logf(format, args...)
	}
}

// Run checks the log at once and then every Interval until ctx is done,
// logging each round's outcome through Logf. Errors of a round (the server
// unreachable, a bad checkpoint, a fork) do not stop it: the next round
// tries again, and a forked log keeps being refused. It returns nil when ctx
// is done.
func (w *Witness) Run(ctx context.Context) error {
	t := time.NewTicker(w.opts.Interval)
	defer t.Stop()
	for {
		if err := w.Once(ctx); err != nil && ctx.Err() == nil {
			w.logf("witness: %v", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Once runs one round: it fetches the latest checkpoint, verifies it with
// the pinned log key, fetches the consistency proof from the last
// checkpoint the witness cosigned, cosigns it (translog.Cosign) and sends
// the cosigned checkpoint to the server, unless the server already serves
// this witness's cosignature. The new checkpoint is saved in StateDir
// before it is sent. A fork returns a *translog.ForkError after the
// evidence is written to StateDir/forks.
func (w *Witness) Once(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.verifier == nil {
		k, err := w.client.LogKey(ctx)
		if err != nil {
			return fmt.Errorf("log key: %w", err)
		}
		if err := w.pin(strings.TrimSpace(k.Key), true); err != nil {
			return err
		}
		w.logf("witness: pinned log key %s (trust on first use)", w.logKey)
	}
	cp, err := w.client.Checkpoint(ctx)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	tree, err := w.verifier.VerifyCheckpoint(cp)
	if err != nil {
		return fmt.Errorf("checkpoint from %s: %w", w.opts.Server, err)
	}
	_, trusted := w.verifier.Trusted()
	var proof tlog.TreeProof
	if trusted.N != tree.N && trusted.N != 0 && tree.N != 0 {
		lo, hi := min(trusted.N, tree.N), max(trusted.N, tree.N)
		p, err := w.client.TreeProof(ctx, lo, hi)
		if err != nil {
			return fmt.Errorf("consistency proof %d->%d: %w", lo, hi, err)
		}
		if proof, err = toHashes(p.Proof); err != nil {
			return fmt.Errorf("consistency proof %d->%d: %w", lo, hi, err)
		}
	}
	cosigned, err := translog.Cosign(w.opts.Signer, w.verifier, cp, proof)
	if err != nil {
		var fe *translog.ForkError
		if errors.As(err, &fe) {
			path, isNew, werr := w.recordFork(fe)
			switch {
			case werr != nil:
				w.logf("witness: REFUSED a forked checkpoint; writing the evidence failed: %v\ntrusted checkpoint:\n%s\noffered checkpoint:\n%s", werr, fe.Trusted, fe.Offered)
			case isNew:
				w.logf("witness: REFUSED a forked checkpoint; evidence in %s\ntrusted checkpoint:\n%s\noffered checkpoint:\n%s", path, fe.Trusted, fe.Offered)
			default:
				w.logf("witness: still REFUSING the forked checkpoint; evidence in %s", path)
			}
		}
		return err
	}
	if err := w.saveState(); err != nil {
		return err
	}
	if tree.N < trusted.N {
		w.logf("witness: server serves checkpoint of size %d, older than the size %d already cosigned (consistent)", tree.N, trusted.N)
	}
	if hasLine(cp, lastLine(cosigned)) {
		return nil // the server already serves this witness's cosignature
	}
	if err := w.client.Cosign(ctx, cosigned); err != nil {
		return fmt.Errorf("sending the cosignature of size %d: %w", tree.N, err)
	}
	w.logf("witness: cosigned checkpoint of size %d (%s)", tree.N, tree.Hash)
	return nil
}

// saveState writes the verifier's trusted checkpoint to StateDir.
func (w *Witness) saveState() error {
	state := w.verifier.MarshalState()
	if state == nil {
		return nil
	}
	if err := writeFileAtomic(filepath.Join(w.opts.StateDir, CheckpointFile), state, 0o600); err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	return nil
}

// recordFork writes the evidence of fe to StateDir/forks and returns the
// file's path and whether it is new. The same pair of checkpoints is
// written once.
func (w *Witness) recordFork(fe *translog.ForkError) (path string, isNew bool, err error) {
	sum := sha256.Sum256(append(append([]byte(nil), fe.Trusted...), fe.Offered...))
	path = filepath.Join(w.opts.StateDir, ForksDir, "fork-"+hex.EncodeToString(sum[:8])+".json")
	if _, err := os.Stat(path); err == nil {
		return path, false, nil
	}
	ev := Evidence{
		Detected: time.Now().UTC(), Origin: w.verifier.Origin(), LogKey: w.logKey,
		Trusted: string(fe.Trusted), TrustedSize: fe.TrustedTree.N, TrustedHash: fe.TrustedTree.Hash.String(),
		Offered: string(fe.Offered), OfferedSize: fe.OfferedTree.N, OfferedHash: fe.OfferedTree.Hash.String(),
		Proven: fe.Proven, Proof: [][]byte{},
	}
	if fe.Err != nil {
		ev.Error = fe.Err.Error()
	}
	for _, h := range fe.Proof {
		ev.Proof = append(ev.Proof, append([]byte(nil), h[:]...))
	}
	b, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		return "", false, err
	}
	return path, true, writeFileAtomic(path, append(b, '\n'), 0o600)
}

// ReadEvidence reads the fork evidence files in stateDir/forks.
func ReadEvidence(stateDir string) ([]Evidence, error) {
	dir := filepath.Join(stateDir, ForksDir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []Evidence
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		var ev Evidence
		if err := json.Unmarshal(b, &ev); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// toHashes converts a Proof's hashes, checking their number and length.
func toHashes(p [][]byte) ([]tlog.Hash, error) {
	if len(p) > maxProofHashes {
		return nil, fmt.Errorf("proof of %d hashes is too long", len(p))
	}
	out := make([]tlog.Hash, len(p))
	for i, b := range p {
		if len(b) != tlog.HashSize {
			return nil, fmt.Errorf("proof hash %d has %d bytes, want %d", i, len(b), tlog.HashSize)
		}
		copy(out[i][:], b)
	}
	return out, nil
}

// lastLine returns the last line of b, with its newline.
func lastLine(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	return append(b, '\n')
}

// hasLine reports whether note contains line (with its newline) as a whole line.
func hasLine(note, line []byte) bool {
	return bytes.HasPrefix(note, line) || bytes.Contains(note, append([]byte{'\n'}, line...))
}

func readTrimmed(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// writeFileAtomic writes b to a temporary file, syncs it and renames it
// over path.
func writeFileAtomic(path string, b []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil && !errors.Is(err, errors.ErrUnsupported) {
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
	return os.Rename(tmp, path)
}
