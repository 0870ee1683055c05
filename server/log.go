package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"vigil/server/api"
	"vigil/translog"
)

// The transparency log: every hunt and approval is appended to it before
// the store knows of it, and agents run only what it proves (issue 7).

// Files and defaults of the log.
const (
	// LogKeyFile is the log's private signing key in the data directory
	// (a note signer key, mode 0600).
	LogKeyFile = "log.key"
	// LogPubFile is the log's public key (note verifier key) in the data
	// directory, written for operators to hand to agents and witnesses.
	LogPubFile = "log.pub"
	// LogDir is the directory of the log's storage in the data directory.
	LogDir = "log"
	// DefaultLogName is the log key's name, and so the first line of every
	// checkpoint, when Options.LogName is empty.
	DefaultLogName = "vigil-log"
)

// Limits of the public log routes.
const (
	maxLogEntriesPage  = 1000    // entries in one GET /log/entries
	defaultLogEntries  = 100     // when count is not given
	maxLogEntriesBytes = 8 << 20 // canonical bytes in one page (at least one entry is sent)
	maxKeyLen          = 1024    // a note verifier key
)

// txlog is the server's log: the translog.Log, its key, and the checkpoint
// it serves (the newest tree, with any witness cosignatures of it).
type txlog struct {
	log       *translog.Log
	st        *translog.FileStorage
	vkey      string // the log's note verifier key
	verifier  note.Verifier
	witnesses []note.Verifier // accepted witnesses
	wkeys     []string        // their verifier keys, as configured

	// mu serializes append+checkpoint, so that the served checkpoint only
	// grows, and guards served.
	mu         sync.Mutex
	served     []byte    // signed note: the log's signature, then witnesses'
	servedTree tlog.Tree // its tree
}

// parseWitnesses parses Options.Witnesses.
func parseWitnesses(keys []string) ([]note.Verifier, error) {
	var out []note.Verifier
	names := map[string]bool{}
	for _, k := range keys {
		v, err := note.NewVerifier(strings.TrimSpace(k))
		if err != nil {
			return nil, fmt.Errorf("witness key %q: not a note verifier key: %v", k, err)
		}
		if names[v.Name()] {
			return nil, fmt.Errorf("witness key %q: two witnesses named %q", k, v.Name())
		}
		names[v.Name()] = true
		out = append(out, v)
	}
	return out, nil
}

// loadLogKey reads DataDir/log.key, creating it (and log.pub) on first
// start. name is Options.LogName ("" = the key's own name, or
// DefaultLogName for a new key).
func loadLogKey(dir, name string) (note.Signer, string, error) {
	path := filepath.Join(dir, LogKeyFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if name == "" {
			name = DefaultLogName
		}
		skey, vkey, err := note.GenerateKey(rand.Reader, name)
		if err != nil {
			return nil, "", fmt.Errorf("log key name %q: %v", name, err)
		}
		if err := writeFileSync(path, []byte(skey+"\n"), 0o600); err != nil {
			return nil, "", fmt.Errorf("writing the log key: %w", err)
		}
		if err := writeFileSync(filepath.Join(dir, LogPubFile), []byte(vkey+"\n"), 0o644); err != nil {
			return nil, "", fmt.Errorf("writing the log's public key: %w", err)
		}
		data = []byte(skey)
	} else if err != nil {
		return nil, "", fmt.Errorf("reading the log key: %w", err)
	}
	signer, err := note.NewSigner(strings.TrimSpace(string(data)))
	if err != nil {
		// Never echo the key: it is a secret.
		return nil, "", fmt.Errorf("%s is not a note signer key", path)
	}
	if name != "" && signer.Name() != name {
		return nil, "", fmt.Errorf("the log key in %s is named %q, not %q: a log keeps its name (remove the log name option, or use another data directory)", path, signer.Name(), name)
	}
	vkey, err := verifierKeyOf(data)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %v", path, err)
	}
	return signer, vkey, nil
}

// verifierKeyOf derives the verifier key "name+hash+keydata" from a signer
// key "PRIVATE+KEY+name+hash+keydata" (keydata: the algorithm byte and
// the ed25519 seed).
func verifierKeyOf(skey []byte) (string, error) {
	s := strings.TrimSpace(string(skey))
	parts := strings.SplitN(s, "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return "", errors.New("not a note signer key")
	}
	signer, err := note.NewSigner(s)
	if err != nil {
		return "", errors.New("not a note signer key")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != algEd25519 {
		return "", errors.New("not an ed25519 note signer key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(signer.Name(), pub)
	if err != nil {
		return "", err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil || v.KeyHash() != signer.KeyHash() {
		return "", errors.New("cannot derive the public key")
	}
	return vkey, nil
}

// algEd25519 is note's algorithm byte for ed25519 keys.
const algEd25519 = 1

// validKeyName reports whether name can name a note key.
func validKeyName(name string) bool {
	return name != "" && len(name) <= maxOperatorName*4 && utf8.ValidString(name) &&
		strings.IndexFunc(name, unicode.IsSpace) < 0 && !strings.Contains(name, "+")
}

// writeFileSync writes a file durably with the given mode.
func writeFileSync(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
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
	return os.Chmod(path, mode)
}

// openLog opens the log in DataDir/log with the key in DataDir/log.key and
// signs a checkpoint of its current tree.
func (s *Server) openLog(ctx context.Context) error {
	st, err := translog.OpenFileStorage(filepath.Join(s.o.DataDir, LogDir))
	if err != nil {
		return fmt.Errorf("server: transparency log: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			st.Close()
		}
	}()
	size, err := st.Size(ctx)
	if err != nil {
		return fmt.Errorf("server: transparency log: %w", err)
	}
	keyPath := filepath.Join(s.o.DataDir, LogKeyFile)
	if _, err := os.Stat(keyPath); errors.Is(err, os.ErrNotExist) && size > 0 {
		// A new key would sign a history agents pinned another key for.
		return fmt.Errorf("server: the transparency log has %d entries but its key %s is missing: restore it from a backup", size, keyPath)
	}
	signer, vkey, err := loadLogKey(s.o.DataDir, s.o.LogName)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return fmt.Errorf("server: log key: %v", err)
	}
	for _, w := range s.witnesses {
		if w.Name() == signer.Name() {
			return fmt.Errorf("server: witness key %q has the log's own name", w.Name())
		}
	}
	l, err := translog.New(st, signer)
	if err != nil {
		return fmt.Errorf("server: transparency log: %w", err)
	}
	t := &txlog{log: l, st: st, vkey: vkey, verifier: verifier, witnesses: s.witnesses, wkeys: s.o.Witnesses}
	if t.wkeys == nil {
		t.wkeys = []string{}
	}
	if err := t.checkpoint(ctx); err != nil {
		return fmt.Errorf("server: transparency log: %w", err)
	}
	ok = true
	s.tlog = t
	s.logf("transparency log: %d entries, key %s", t.servedTree.N, vkey)
	return nil
}

// checkpoint signs a checkpoint of the current tree and serves it. The
// caller holds t.mu or is the only user.
func (t *txlog) checkpoint(ctx context.Context) error {
	signed, err := t.log.Checkpoint(ctx)
	if err != nil {
		return err
	}
	n, err := note.Open(signed, note.VerifierList(t.verifier))
	if err != nil {
		return fmt.Errorf("checkpoint: %v", err)
	}
	_, tree, err := translog.ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return fmt.Errorf("checkpoint: %v", err)
	}
	if tree.N < t.servedTree.N {
		return fmt.Errorf("checkpoint: the log shrank from %d to %d entries", t.servedTree.N, tree.N)
	}
	if t.served == nil || tree != t.servedTree {
		t.served, t.servedTree = signed, tree
	}
	return nil
}

// appendEntry adds a canonical entry, signs and serves a new checkpoint,
// and returns the entry's index.
func (t *txlog) appendEntry(ctx context.Context, kind string, canonical []byte) (int64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	idx, err := t.log.Append(ctx, kind, canonical)
	if err != nil {
		return 0, fmt.Errorf("transparency log: append %s: %w", kind, err)
	}
	if err := t.checkpoint(ctx); err != nil {
		return 0, fmt.Errorf("transparency log: entry %d appended but not checkpointed: %w", idx, err)
	}
	return idx, nil
}

// current returns the served checkpoint and its tree.
func (t *txlog) current() ([]byte, tlog.Tree) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.served, t.servedTree
}

// cosign merges a witness's cosignature of the served checkpoint into it.
// It returns an *api.StatusError for what the caller did wrong.
func (t *txlog) cosign(msg []byte) ([]byte, error) {
	if len(msg) > translog.MaxCheckpointSize {
		return nil, api.Errorf(http.StatusRequestEntityTooLarge, "checkpoint over %d bytes", translog.MaxCheckpointSize)
	}
	known := append([]note.Verifier{t.verifier}, t.witnesses...)
	n, err := note.Open(msg, note.VerifierList(known...))
	if err != nil {
		var une *note.UnverifiedNoteError
		if errors.As(err, &une) {
			return nil, api.Errorf(http.StatusForbidden, "cosign: the checkpoint carries no signature by the log or a witness this server accepts")
		}
		return nil, api.Errorf(http.StatusBadRequest, "cosign: not a validly signed checkpoint note: %v", err)
	}
	if _, _, err := translog.ParseCheckpoint([]byte(n.Text)); err != nil {
		return nil, api.Errorf(http.StatusBadRequest, "cosign: %v", err)
	}
	logSigned := false
	var wsigs []note.Signature
	for _, sig := range n.Sigs {
		if sig.Name == t.verifier.Name() && sig.Hash == t.verifier.KeyHash() {
			logSigned = true
		} else {
			wsigs = append(wsigs, sig)
		}
	}
	if !logSigned {
		return nil, api.Errorf(http.StatusBadRequest, "cosign: the checkpoint is not signed by this log")
	}
	if len(wsigs) == 0 {
		return nil, api.Errorf(http.StatusForbidden, "cosign: no cosignature by a witness this server accepts")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	cur, err := note.Open(t.served, note.VerifierList(known...))
	if err != nil {
		return nil, fmt.Errorf("cosign: the served checkpoint does not open: %v", err)
	}
	if cur.Text != n.Text {
		return nil, api.Errorf(http.StatusConflict, "cosign: not the latest checkpoint (the log has %d entries): fetch it again", t.servedTree.N)
	}
	// Keep the log's signature first, then every witness's newest one.
	sigs := cur.Sigs
	for _, w := range wsigs {
		replaced := false
		for i := range sigs {
			if sigs[i].Name == w.Name && sigs[i].Hash == w.Hash {
				sigs[i], replaced = w, true
			}
		}
		if !replaced {
			sigs = append(sigs, w)
		}
	}
	merged, err := note.Sign(&note.Note{Text: cur.Text, Sigs: sigs})
	if err != nil {
		return nil, fmt.Errorf("cosign: %v", err)
	}
	t.served = merged
	return merged, nil
}

// close closes the storage.
func (t *txlog) close() error { return t.st.Close() }

// entryProof returns entry index with its inclusion proof in tree.
func (t *txlog) entryProof(ctx context.Context, index int64, tree tlog.Tree) ([]byte, tlog.RecordProof, error) {
	if index < 0 || index >= tree.N {
		return nil, nil, fmt.Errorf("entry %d is not in the tree of %d entries", index, tree.N)
	}
	e, err := t.log.Entry(ctx, index)
	if err != nil {
		return nil, nil, err
	}
	p, err := t.log.InclusionProof(ctx, index, tree.N)
	if err != nil {
		return nil, nil, err
	}
	return e, p, nil
}

// LogKey returns the log's public key, origin and accepted witnesses. It
// needs no operator: the log is public.
func (v *Service) LogKey(ctx context.Context) (api.LogKey, error) {
	t := v.s.tlog
	if t == nil {
		return api.LogKey{}, api.Errorf(http.StatusServiceUnavailable, "the server is not started")
	}
	return api.LogKey{Key: t.vkey, Origin: t.log.Origin(), Witnesses: t.wkeys}, nil
}

// Checkpoint returns the served signed checkpoint: the log's signature
// over its newest tree and the witnesses' cosignatures of that tree.
func (v *Service) Checkpoint(ctx context.Context) ([]byte, error) {
	t := v.s.tlog
	if t == nil {
		return nil, api.Errorf(http.StatusServiceUnavailable, "the server is not started")
	}
	cp, _ := t.current()
	return cp, nil
}

// LogEntries returns up to count (1-1000) entries from start. It may
// return fewer when they are large; none when start is at the end.
func (v *Service) LogEntries(ctx context.Context, start, count int64) ([]api.LogEntry, error) {
	t := v.s.tlog
	if t == nil {
		return nil, api.Errorf(http.StatusServiceUnavailable, "the server is not started")
	}
	if start < 0 {
		return nil, api.Errorf(http.StatusBadRequest, "start must not be negative")
	}
	if count < 1 || count > maxLogEntriesPage {
		return nil, api.Errorf(http.StatusBadRequest, "count must be 1-%d", maxLogEntriesPage)
	}
	_, tree := t.current()
	out := []api.LogEntry{}
	total := 0
	for i := start; i < tree.N && i < start+count; i++ {
		e, err := t.log.Entry(ctx, i)
		if err != nil {
			return nil, err
		}
		if len(out) > 0 && total+len(e) > maxLogEntriesBytes {
			break
		}
		total += len(e)
		kind, err := translog.Kind(e)
		if err != nil {
			return nil, fmt.Errorf("log entry %d: %w", i, err)
		}
		out = append(out, api.LogEntry{Index: i, Kind: kind, Entry: string(e)})
	}
	return out, nil
}

// recordProof proves entry index is in the tree of size.
func (v *Service) recordProof(ctx context.Context, index, size int64) (api.Proof, error) {
	t := v.s.tlog
	_, tree := t.current()
	if size < 1 || size > tree.N {
		return api.Proof{}, api.Errorf(http.StatusBadRequest, "size %d: want 1-%d (the latest checkpoint's size)", size, tree.N)
	}
	if index < 0 || index >= size {
		return api.Proof{}, api.Errorf(http.StatusBadRequest, "index %d: want 0-%d", index, size-1)
	}
	p, err := t.log.InclusionProof(ctx, index, size)
	if err != nil {
		return api.Proof{}, err
	}
	return api.Proof{Proof: hashBytes(p)}, nil
}

// treeProof proves the tree of size newSize extends the tree of oldSize.
func (v *Service) treeProof(ctx context.Context, oldSize, newSize int64) (api.Proof, error) {
	t := v.s.tlog
	_, tree := t.current()
	if newSize < 0 || newSize > tree.N {
		return api.Proof{}, api.Errorf(http.StatusBadRequest, "new %d: want 0-%d (the latest checkpoint's size)", newSize, tree.N)
	}
	if oldSize < 0 || oldSize > newSize {
		return api.Proof{}, api.Errorf(http.StatusBadRequest, "old %d: want 0-%d", oldSize, newSize)
	}
	p, err := t.log.ConsistencyProof(ctx, oldSize, newSize)
	if err != nil {
		return api.Proof{}, err
	}
	return api.Proof{Proof: hashBytes(p)}, nil
}

// hashBytes converts tlog hashes to byte slices (the JSON and wire form).
func hashBytes(hs []tlog.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = append([]byte(nil), hs[i][:]...)
	}
	return out
}

// logRoutes adds the public /api/v1/log routes.
func (s *Server) logRoutes(mux *http.ServeMux) {
	v := s.svc
	mux.HandleFunc("GET /api/v1/log/key", func(w http.ResponseWriter, r *http.Request) {
		s.reply(w, r)(v.LogKey(r.Context()))
	})
	mux.HandleFunc("GET /api/v1/log/checkpoint", func(w http.ResponseWriter, r *http.Request) {
		cp, err := v.Checkpoint(r.Context())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeNote(w, cp)
	})
	mux.HandleFunc("GET /api/v1/log/entries", func(w http.ResponseWriter, r *http.Request) {
		q := queryInts(r)
		start, err := q.get("start", 0)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		count, err := q.get("count", defaultLogEntries)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.reply(w, r)(v.LogEntries(r.Context(), start, count))
	})
	mux.HandleFunc("GET /api/v1/log/proof/record", func(w http.ResponseWriter, r *http.Request) {
		q := queryInts(r)
		index, err := q.get("index", -1)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		size, err := q.get("size", -1)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.reply(w, r)(v.recordProof(r.Context(), index, size))
	})
	mux.HandleFunc("GET /api/v1/log/proof/tree", func(w http.ResponseWriter, r *http.Request) {
		q := queryInts(r)
		oldSize, err := q.get("old", -1)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		newSize, err := q.get("new", -1)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.reply(w, r)(v.treeProof(r.Context(), oldSize, newSize))
	})
	mux.HandleFunc("POST /api/v1/log/cosign", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, translog.MaxCheckpointSize))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				s.writeError(w, r, api.Errorf(http.StatusRequestEntityTooLarge, "checkpoint over %d bytes", translog.MaxCheckpointSize))
				return
			}
			s.writeError(w, r, api.Errorf(http.StatusBadRequest, "reading the body: %v", err))
			return
		}
		merged, err := s.tlog.cosign(body)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeNote(w, merged)
	})
}

func writeNote(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// intQuery reads integer query parameters with clear 400s.
type intQuery struct{ r *http.Request }

func queryInts(r *http.Request) intQuery { return intQuery{r} }

// get returns parameter name as an int64; def when absent, or a 400 when
// absent and def < 0 (required).
func (q intQuery) get(name string, def int64) (int64, error) {
	s := q.r.URL.Query().Get(name)
	if s == "" {
		if def < 0 {
			return 0, api.Errorf(http.StatusBadRequest, "query parameter %s is required", name)
		}
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, api.Errorf(http.StatusBadRequest, "%s %q: not a number", name, s)
	}
	return n, nil
}
