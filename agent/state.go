package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nkeys"

	"vigil/wire"
)

// Files and directories in the state directory.
const (
	identityFile = "identity.json"
	huntsDir     = "hunts"
	finishedFile = "finished.json"
	activeDir    = "active"
	// maxStateFile bounds a file read back from the state directory.
	maxStateFile = 64 << 20
	// maxKnown bounds the Known list of a SyncRequest (the newest expiries
	// are kept), so the request stays under wire.MaxMessage.
	maxKnown = 10000
	// refusedKeep is how long a refused hunt without a usable expiry is
	// remembered.
	refusedKeep = 24 * time.Hour
)

// identity is what enrollment gave the agent. It holds the nkey seed: the
// file is 0600 and the seed is never logged.
type identity struct {
	AgentID string            `json:"agent_id"`
	Seed    string            `json:"nkey_seed"`
	NATS    []string          `json:"nats"`
	Prefix  string            `json:"prefix"`
	Server  string            `json:"server"`
	Labels  map[string]string `json:"labels,omitempty"`
	// NATSAuth is the EnrollReply's: "" or wire.NATSAuthNKey, or
	// wire.NATSAuthExternal (Options.NATSCredsFile, if any, authenticates).
	NATSAuth string `json:"nats_auth,omitempty"`
}

// check validates an identity read from disk or built from an EnrollReply.
func (id *identity) check() error {
	if err := wire.ValidID(id.AgentID); err != nil {
		return fmt.Errorf("agent ID: %w", err)
	}
	if len(id.NATS) == 0 {
		return errors.New("no NATS URL")
	}
	for _, u := range id.NATS {
		if u == "" || strings.ContainsAny(u, ", \t\r\n") {
			return fmt.Errorf("bad NATS URL %q", u)
		}
	}
	if id.Prefix == "" || strings.ContainsAny(id.Prefix, "*> \t\r\n") || strings.HasPrefix(id.Prefix, ".") || strings.HasSuffix(id.Prefix, ".") {
		return fmt.Errorf("bad subject prefix %q", id.Prefix)
	}
	kp, err := nkeys.FromSeed([]byte(id.Seed))
	if err != nil {
		return errors.New("the nkey seed does not parse") // never the seed itself
	}
	defer kp.Wipe()
	if pub, err := kp.PublicKey(); err != nil || !nkeys.IsValidPublicUserKey(pub) {
		return errors.New("the nkey seed is not a user key")
	}
	return nil
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, synced and renamed over path.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// Windows has no Unix modes; elsewhere a failure is an error.
	if err := f.Chmod(perm); err != nil && !isWindows {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return nil
}

// readFileLimited reads a state file of at most maxStateFile bytes.
func readFileLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxStateFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxStateFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxStateFile)
	}
	return data, nil
}

// loadIdentity reads the identity file; it returns nil, nil when there is
// none.
func loadIdentity(dir string) (*identity, error) {
	path := filepath.Join(dir, identityFile)
	data, err := readFileLimited(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("agent identity: %w", err)
	}
	var id identity
	if err := json.Unmarshal(data, &id); err != nil {
		// The decoder's message may quote the file: say only where.
		return nil, fmt.Errorf("agent identity %s: not valid JSON", path)
	}
	if err := id.check(); err != nil {
		return nil, fmt.Errorf("agent identity %s: %w", path, err)
	}
	return &id, nil
}

func saveIdentity(dir string, id *identity) error {
	data, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, identityFile), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("saving the agent identity: %w", err)
	}
	return nil
}

// seqState is what is written down about an active hunt before each of its
// messages is sent.
type seqState struct {
	Status uint64 `json:"status_seq"` // the last status Seq used
	Batch  uint64 `json:"batch_seq"`  // the last batch Seq used
	// Terminal is the terminal status being sent: resent after a restart.
	Terminal *wire.Status `json:"terminal,omitempty"`
}

// huntStore is the local record of hunts: finished ones with their expiry,
// and the active ones (accepted, not finished) with their sequence numbers.
type huntStore struct {
	dir      string // StateDir/hunts
	finished map[string]time.Time
}

// savedHunt is an active hunt read back from the store.
type savedHunt struct {
	hunt wire.Hunt
	seq  seqState
}

func openHuntStore(stateDir string) (*huntStore, error) {
	dir := filepath.Join(stateDir, huntsDir)
	if err := os.MkdirAll(filepath.Join(dir, activeDir), 0o700); err != nil {
		return nil, fmt.Errorf("hunt record: %w", err)
	}
	s := &huntStore{dir: dir, finished: map[string]time.Time{}}
	data, err := readFileLimited(filepath.Join(dir, finishedFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("hunt record: %w", err)
	default:
		if err := json.Unmarshal(data, &s.finished); err != nil {
			return nil, fmt.Errorf("hunt record %s: not valid JSON", filepath.Join(dir, finishedFile))
		}
		for id := range s.finished {
			if wire.ValidID(id) != nil {
				delete(s.finished, id)
			}
		}
	}
	return s, nil
}

// prune forgets finished hunts expired before now.
func (s *huntStore) prune(now time.Time) {
	for id, exp := range s.finished {
		if exp.Before(now) {
			delete(s.finished, id)
		}
	}
}

func (s *huntStore) saveFinished() error {
	data, err := json.Marshal(s.finished)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.dir, finishedFile), data, 0o600)
}

// finish records hunt id as finished until exp and forgets its active files.
func (s *huntStore) finish(id string, exp, now time.Time) error {
	s.prune(now)
	s.finished[id] = exp
	if err := s.saveFinished(); err != nil {
		return fmt.Errorf("hunt record: %w", err)
	}
	s.dropActive(id)
	return nil
}

// known lists finished hunts for a SyncRequest, newest expiry first.
func (s *huntStore) known() []string {
	ids := make([]string, 0, len(s.finished))
	for id := range s.finished {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := s.finished[ids[i]], s.finished[ids[j]]
		if !a.Equal(b) {
			return a.After(b)
		}
		return ids[i] < ids[j]
	})
	if len(ids) > maxKnown {
		ids = ids[:maxKnown]
	}
	return ids
}

func (s *huntStore) activePath(id, ext string) string {
	return filepath.Join(s.dir, activeDir, id+ext)
}

// addActive writes down a hunt accepted for running.
func (s *huntStore) addActive(h *wire.Hunt) error {
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.activePath(h.ID, ".hunt"), data, 0o600); err != nil {
		return fmt.Errorf("hunt record: %w", err)
	}
	return nil
}

// saveSeq writes down an active hunt's sequence numbers.
func (s *huntStore) saveSeq(id string, st seqState) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.activePath(id, ".seq"), data, 0o600); err != nil {
		return fmt.Errorf("hunt record: %w", err)
	}
	return nil
}

func (s *huntStore) dropActive(id string) {
	os.Remove(s.activePath(id, ".hunt"))
	os.Remove(s.activePath(id, ".seq"))
}

// loadActive reads back the active hunts, skipping (and removing) broken or
// finished ones; bad reports what was skipped.
func (s *huntStore) loadActive() (hunts []savedHunt, bad []string) {
	entries, err := os.ReadDir(filepath.Join(s.dir, activeDir))
	if err != nil {
		return nil, []string{err.Error()}
	}
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".hunt")
		if !ok || wire.ValidID(id) != nil {
			continue
		}
		if _, done := s.finished[id]; done {
			s.dropActive(id)
			continue
		}
		data, err := readFileLimited(s.activePath(id, ".hunt"))
		var h wire.Hunt
		if err == nil {
			err = wire.Decode(data, &h)
		}
		if err == nil && h.ID != id {
			err = errors.New("hunt ID differs from the file name")
		}
		if err != nil {
			bad = append(bad, fmt.Sprintf("hunt %s: %v", id, err))
			s.dropActive(id)
			continue
		}
		var st seqState
		if data, err := readFileLimited(s.activePath(id, ".seq")); err == nil {
			if json.Unmarshal(data, &st) != nil {
				bad = append(bad, fmt.Sprintf("hunt %s: sequence file is not valid JSON", id))
				st = seqState{}
			}
		}
		hunts = append(hunts, savedHunt{hunt: h, seq: st})
	}
	sort.Slice(hunts, func(i, j int) bool { return hunts[i].hunt.Created.Before(hunts[j].hunt.Created) })
	return hunts, bad
}
