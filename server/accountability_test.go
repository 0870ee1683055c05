package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"vigil/server/api"
	"vigil/server/store"
	"vigil/translog"
	"vigil/wire"
)

// rulesDocument is a keyword search: yara/lint class "document".
const rulesDocument = `rule salary { strings: $a = "quarterly salary review" condition: $a }`

// createHunt creates a hunt over /a with rules.
func createHunt(t testing.TB, s *Server, token, rules, why string) api.Hunt {
	t.Helper()
	var h api.Hunt
	mustCall(t, s, http.StatusCreated, "POST", "/api/v1/hunts", token, api.HuntRequest{Rules: rules, Paths: []string{"/a"}, Why: why}, &h)
	return h
}

// logEntry returns entry i of the server's log through the public API.
func logEntry(t testing.TB, s *Server, i int64) api.LogEntry {
	t.Helper()
	var es []api.LogEntry
	mustCall(t, s, http.StatusOK, "GET", "/api/v1/log/entries?start="+itoa(i)+"&count=1", "", nil, &es)
	if len(es) != 1 || es[0].Index != i {
		t.Fatalf("log entry %d: got %+v", i, es)
	}
	return es[0]
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

// checkpointOf fetches the served checkpoint.
func checkpointOf(t testing.TB, s *Server) []byte {
	t.Helper()
	code, body := getRaw(t, s, "/api/v1/log/checkpoint", "")
	if code != http.StatusOK {
		t.Fatalf("GET checkpoint: %d %s", code, body)
	}
	return []byte(body)
}

func TestHuntLoggedBeforeStored(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, _ := startServer(t, Options{DataDir: dir})
	admin := s.AdminToken()

	h := createHunt(t, s, admin, rulesOK, "logged first")
	if h.State != store.HuntPending || h.LogIndex < 0 || h.ApprovalsRequired != 1 || h.LintClass != "code" || h.Entry == "" {
		t.Fatalf("new hunt: state %q, log index %d, %d approvals required, class %q, entry %d bytes",
			h.State, h.LogIndex, h.ApprovalsRequired, h.LintClass, len(h.Entry))
	}
	e := logEntry(t, s, h.LogIndex)
	if e.Kind != translog.KindHunt || e.Entry != h.Entry {
		t.Fatalf("log entry %d is %q, not the hunt's entry", h.LogIndex, e.Kind)
	}
	he, err := translog.DecodeHunt([]byte(e.Entry))
	if err != nil {
		t.Fatal(err)
	}
	if he.HuntID != h.ID || he.Requester != "admin" || he.RulesSHA256 != h.RulesSHA256 || he.ApprovalsRequired != 1 || he.LintClass != "code" {
		t.Errorf("logged hunt entry %+v does not describe hunt %s", he, h.ID)
	}
	st, err := s.Store().GetHunt(context.Background(), h.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := he.CheckHunt(&st.Hunt); err != nil {
		t.Errorf("the stored hunt is not the logged one: %v", err)
	}

	// When the log cannot take the entry, the store never gets the hunt,
	// nor an approval.
	bob := newApprover(t, s, admin, "bob", store.RoleApprover)
	approval := bob.approval(t, s, h.ID)
	signer, _, err := loadLogKey(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	broken, err := translog.New(noAppend{s.tlog.st}, signer)
	if err != nil {
		t.Fatal(err)
	}
	s.tlog.mu.Lock()
	s.tlog.log = broken
	s.tlog.mu.Unlock()
	code, msg := call(t, s, "POST", "/api/v1/hunts", admin, api.HuntRequest{Rules: rulesOK, Paths: []string{"/a"}, Why: "log broken"}, nil)
	if code != http.StatusInternalServerError {
		t.Errorf("hunt creation with a broken log: %d %q, want 500", code, msg)
	}
	list, err := s.Store().ListHunts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != h.ID {
		t.Errorf("store holds %d hunts after a failed log append, want only %s", len(list), h.ID)
	}
	code, msg = call(t, s, "POST", "/api/v1/hunts/"+h.ID+"/approve", bob.token, approval, nil)
	if code != http.StatusInternalServerError {
		t.Errorf("approval with a broken log: %d %q, want 500", code, msg)
	}
	if as, err := s.Store().Approvals(context.Background(), h.ID); err != nil || len(as) != 0 {
		t.Errorf("store holds approvals %+v (%v) after a failed log append", as, err)
	}
	if st, err := s.Store().GetHunt(context.Background(), h.ID); err != nil || st.State != store.HuntPending {
		t.Errorf("hunt after a failed approval: %q, %v", st.State, err)
	}
}

// noAppend is a log storage that can be read but takes no entries.
type noAppend struct{ translog.Storage }

func (noAppend) Append(context.Context, int64, [][]byte, []tlog.Hash) error {
	return errors.New("test: appends fail")
}

func TestApprovalGatesDelivery(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t, Options{DataDir: t.TempDir()})
	admin := s.AdminToken()
	ap := newApprover(t, s, admin, "alice", store.RoleApprover)
	f := enrollFake(t, s, newToken(t, s, admin, nil), nil, false)
	if f.enroll.LogKey == "" || f.enroll.MinApprovals != 1 || len(f.enroll.Approvers) != 1 || f.enroll.Approvers[0] != ap.vkey {
		t.Fatalf("enroll reply: log key %q, min approvals %d, approvers %q; want alice's key", f.enroll.LogKey, f.enroll.MinApprovals, f.enroll.Approvers)
	}
	pushed, err := f.nc.SubscribeSync(wire.HuntSubject(f.prefix, f.id))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.nc.Flush(); err != nil {
		t.Fatal(err)
	}

	h := createHunt(t, s, admin, rulesOK, "needs approval")
	if rep := f.sync(t); len(rep.Hunts) != 0 || rep.Error != "" {
		t.Fatalf("sync offers a pending hunt: %+v", rep)
	}
	// The server publishes pushes and sync replies on one connection, in
	// order: a push of the pending hunt would have arrived before the
	// sync reply.
	if m, err := pushed.NextMsg(time.Millisecond); err == nil {
		t.Fatalf("a pending hunt was pushed: %s", m.Data)
	}

	got := ap.approve(t, s, h.ID)
	if got.State != store.HuntRunning || len(got.Approvals) != 1 || got.Approvals[0].Approver != "alice" || got.Approvals[0].Key != ap.vkey {
		t.Fatalf("approved hunt: state %q, approvals %+v", got.State, got.Approvals)
	}
	if e := logEntry(t, s, got.Approvals[0].LogIndex); e.Kind != translog.KindApproval {
		t.Errorf("approval's log entry is of kind %q", e.Kind)
	}
	m, err := pushed.NextMsg(waitFor)
	if err != nil {
		t.Fatalf("approved hunt not pushed: %v", err)
	}
	var w wire.Hunt
	if err := wire.Decode(m.Data, &w); err != nil || w.ID != h.ID {
		t.Fatalf("push %+v: %v", w, err)
	}
	rep := f.sync(t)
	if len(rep.Hunts) != 1 || rep.Hunts[0].ID != h.ID || rep.Hunts[0].Log == nil || len(rep.Hunts[0].Log.Approvals) != 1 {
		t.Fatalf("sync after approval: %+v", rep)
	}

	// A document search needs two approvals (the default).
	bob := newApprover(t, s, admin, "bob", store.RoleApprover)
	d := createHunt(t, s, admin, rulesDocument, "keyword search")
	if d.LintClass != "document" || d.ApprovalsRequired != 2 {
		t.Fatalf("document hunt: class %q, %d approvals required", d.LintClass, d.ApprovalsRequired)
	}
	if got := ap.approve(t, s, d.ID); got.State != store.HuntPending {
		t.Fatalf("document hunt with one approval of two is %q", got.State)
	}
	if rep := f.sync(t, h.ID); len(rep.Hunts) != 0 {
		t.Fatalf("sync offers a document hunt with one approval of two: %+v", rep.Hunts)
	}
	if got := bob.approve(t, s, d.ID); got.State != store.HuntRunning {
		t.Fatalf("document hunt with two approvals is %q", got.State)
	}
	if rep := f.sync(t, h.ID); len(rep.Hunts) != 1 || rep.Hunts[0].ID != d.ID || len(rep.Hunts[0].Log.Approvals) != 2 {
		t.Fatalf("sync after two approvals: %+v", rep.Hunts)
	}
}

func TestApprovalRefusals(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t, Options{DataDir: t.TempDir()})
	admin := s.AdminToken()
	alice := newApprover(t, s, admin, "alice", store.RoleApprover)
	viewer := newApprover(t, s, admin, "vic", store.RoleViewer)
	hunter := newApprover(t, s, admin, "hank", store.RoleHunter)

	h := createHunt(t, s, alice.token, rulesOK, "alice's own hunt")
	approve := func(token string, r api.ApprovalRequest) (int, string) {
		return call(t, s, "POST", "/api/v1/hunts/"+h.ID+"/approve", token, r, nil)
	}
	refused := func(what string, wantCode int, wantMsg string, code int, msg string) {
		t.Helper()
		if code != wantCode || !strings.Contains(msg, wantMsg) {
			t.Errorf("%s: %d %q, want %d with %q", what, code, msg, wantCode, wantMsg)
		}
	}

	// The author may not approve, even holding a valid key.
	code, msg := approve(alice.token, alice.approval(t, s, h.ID))
	refused("approval by the author", http.StatusForbidden, "another approver", code, msg)

	// A viewer or hunter may not approve.
	code, msg = approve(viewer.token, viewer.approval(t, s, h.ID))
	refused("approval by a viewer", http.StatusForbidden, "needs role approver", code, msg)
	code, msg = approve(hunter.token, hunter.approval(t, s, h.ID))
	refused("approval by a hunter", http.StatusForbidden, "needs role approver", code, msg)

	// An approver signing with a key other than the registered one.
	bob := newApprover(t, s, admin, "bob", store.RoleApprover)
	other := &testApprover{name: "bob", token: bob.token}
	other.signer, other.vkey = newNoteKey(t, "bob")
	code, msg = approve(bob.token, other.approval(t, s, h.ID))
	refused("approval with an unregistered key", http.StatusForbidden, "not your registered approval key", code, msg)

	// A bad signature.
	r := bob.approval(t, s, h.ID)
	a, err := translog.DecodeApproval([]byte(r.Entry))
	if err != nil {
		t.Fatal(err)
	}
	a.Signature[0] ^= 1
	bad, err := a.Encode()
	if err != nil {
		t.Fatal(err)
	}
	code, msg = approve(bob.token, api.ApprovalRequest{Entry: string(bad)})
	refused("approval with a bad signature", http.StatusForbidden, "does not verify", code, msg)

	// Bob signing for someone else's name.
	code, msg = approve(bob.token, alice.approval(t, s, h.ID))
	refused("approval in another approver's name", http.StatusForbidden, "is by \"alice\"", code, msg)

	// An approver without a key.
	var oc api.OperatorCreated
	mustCall(t, s, http.StatusCreated, "POST", "/api/v1/operators", admin, api.OperatorRequest{Name: "carol", Role: store.RoleApprover}, &oc)
	code, msg = approve(oc.Token, bob.approval(t, s, h.ID))
	refused("approval by an approver without a key", http.StatusForbidden, "no approval key", code, msg)

	// Garbage.
	code, msg = approve(bob.token, api.ApprovalRequest{Entry: "not an entry"})
	refused("garbage approval", http.StatusBadRequest, "entry", code, msg)
	code, msg = approve(bob.token, api.ApprovalRequest{})
	refused("empty approval", http.StatusBadRequest, "entry", code, msg)

	// Nothing of the above was logged or stored.
	var got api.Hunt
	mustCall(t, s, http.StatusOK, "GET", "/api/v1/hunts/"+h.ID, admin, nil, &got)
	if got.State != store.HuntPending || len(got.Approvals) != 0 {
		t.Fatalf("after refused approvals: state %q, approvals %+v", got.State, got.Approvals)
	}
	var es []api.LogEntry
	mustCall(t, s, http.StatusOK, "GET", "/api/v1/log/entries?start=0&count=1000", "", nil, &es)
	if len(es) != 1 {
		t.Errorf("log holds %d entries after refused approvals, want the hunt's only", len(es))
	}

	// Bob's valid approval counts once.
	if got := bob.approve(t, s, h.ID); got.State != store.HuntRunning {
		t.Errorf("after bob's approval: %q", got.State)
	}
	code, msg = approve(bob.token, bob.approval(t, s, h.ID))
	refused("a second approval by the same approver", http.StatusConflict, "already approved", code, msg)

	// Key registration: the key's name must be the operator's, and a
	// private key is refused without being echoed.
	_, vkey := newNoteKey(t, "mallory")
	code, msg = call(t, s, "PUT", "/api/v1/whoami/key", bob.token, api.KeyRequest{Key: vkey}, nil)
	refused("a key named after someone else", http.StatusBadRequest, "named \"mallory\"", code, msg)
	skey, _, err := note.GenerateKey(nil, "bob")
	if err != nil {
		t.Fatal(err)
	}
	code, msg = call(t, s, "PUT", "/api/v1/whoami/key", bob.token, api.KeyRequest{Key: skey}, nil)
	refused("a private key", http.StatusBadRequest, "PRIVATE", code, msg)
	if strings.Contains(msg, skey) {
		t.Errorf("the private key is echoed in the error")
	}
	code, msg = call(t, s, "PUT", "/api/v1/whoami/key", bob.token, api.KeyRequest{Key: "bob+nonsense"}, nil)
	refused("a malformed key", http.StatusBadRequest, "not a note verifier key", code, msg)

	// The enroll reply lists approvers with keys only: not the viewer's
	// or the hunter's keys, and not carol (no key).
	f := enrollFake(t, s, newToken(t, s, admin, nil), nil, false)
	want := []string{alice.vkey, bob.vkey}
	if alice.vkey > bob.vkey {
		want = []string{bob.vkey, alice.vkey}
	}
	if strings.Join(f.enroll.Approvers, ",") != strings.Join(want, ",") {
		t.Errorf("enroll reply approvers %q, want %q", f.enroll.Approvers, want)
	}
}

func TestSyncProofsVerify(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t, Options{DataDir: t.TempDir()})
	admin := s.AdminToken()
	ap := newApprover(t, s, admin, "alice", store.RoleApprover)
	f := enrollFake(t, s, newToken(t, s, admin, nil), nil, false)
	v, err := translog.NewVerifierFromKey(f.enroll.LogKey)
	if err != nil {
		t.Fatal(err)
	}
	trusted := map[string]string{"alice": ap.vkey}

	// verify checks a sync reply as an agent must, advancing v.
	verify := func(rep wire.SyncReply) {
		t.Helper()
		if rep.Error != "" {
			t.Fatalf("sync: %s", rep.Error)
		}
		if err := v.Advance(rep.Checkpoint, toHashes(rep.Consistency)); err != nil {
			t.Fatalf("checkpoint does not advance the verifier: %v", err)
		}
		_, tree := v.Trusted()
		for _, h := range rep.Hunts {
			if h.Log == nil {
				t.Fatalf("hunt %s comes without its log proofs", h.ID)
			}
			if err := v.VerifyEntry(h.Log.Hunt.Entry, h.Log.Hunt.Index, toHashes(h.Log.Hunt.Inclusion), tree); err != nil {
				t.Fatalf("hunt %s: inclusion: %v", h.ID, err)
			}
			he, err := translog.DecodeHunt(h.Log.Hunt.Entry)
			if err != nil {
				t.Fatal(err)
			}
			if err := he.CheckHunt(&h); err != nil {
				t.Fatalf("hunt %s: %v", h.ID, err)
			}
			var approvals [][]byte
			for _, a := range h.Log.Approvals {
				if err := v.VerifyEntry(a.Entry, a.Index, toHashes(a.Inclusion), tree); err != nil {
					t.Fatalf("hunt %s approval %d: inclusion: %v", h.ID, a.Index, err)
				}
				approvals = append(approvals, a.Entry)
			}
			if _, err := translog.CheckApprovals(h.Log.Hunt.Entry, approvals, trusted, 1); err != nil {
				t.Fatalf("hunt %s: approvals: %v", h.ID, err)
			}
		}
	}

	h1 := createHunt(t, s, admin, rulesOK, "first")
	ap.approve(t, s, h1.ID)
	rep := f.syncFrom(t, 0)
	if len(rep.Hunts) != 1 || len(rep.Consistency) != 0 {
		t.Fatalf("first sync: %d hunts, %d consistency hashes", len(rep.Hunts), len(rep.Consistency))
	}
	verify(rep)
	_, tree1 := v.Trusted()
	old := rep.Checkpoint

	// More entries; the agent asks from its old size.
	for range 3 {
		h := createHunt(t, s, admin, rulesOK, "more")
		ap.approve(t, s, h.ID)
	}
	rep = f.syncFrom(t, tree1.N)
	if len(rep.Hunts) != 4 || len(rep.Consistency) == 0 {
		t.Fatalf("second sync: %d hunts, %d consistency hashes; want 4 and a proof", len(rep.Hunts), len(rep.Consistency))
	}
	verify(rep)
	_, tree2 := v.Trusted()
	if tree2.N != tree1.N+6 {
		t.Errorf("tree grew from %d to %d, want 6 more entries", tree1.N, tree2.N)
	}

	// The checks can fail: a tampered consistency proof, or an inclusion
	// proof in the wrong place, is refused.
	fresh, _ := translog.NewVerifierFromKey(f.enroll.LogKey)
	if err := fresh.Advance(old, nil); err != nil {
		t.Fatal(err)
	}
	bad := toHashes(rep.Consistency)
	bad[0][0] ^= 1
	var fork *translog.ForkError
	if err := fresh.Advance(rep.Checkpoint, bad); !errors.As(err, &fork) {
		t.Errorf("tampered consistency proof: %v, want a ForkError", err)
	}
	hl := rep.Hunts[1].Log.Hunt
	if err := v.VerifyEntry(hl.Entry, hl.Index+1, toHashes(hl.Inclusion), tree2); err == nil {
		t.Errorf("an inclusion proof verified at the wrong index")
	}

	// An agent claiming a larger log than the server's gets an error.
	if rep := f.syncFrom(t, tree2.N+5); rep.Error == "" || len(rep.Hunts) != 0 {
		t.Errorf("sync from beyond the log: %+v", rep)
	}
}

func toHashes(b [][]byte) []tlog.Hash {
	out := make([]tlog.Hash, len(b))
	for i := range b {
		copy(out[i][:], b[i])
	}
	return out
}

func TestWitnessCosign(t *testing.T) {
	t.Parallel()
	wSigner, wKey := newNoteKey(t, "witness-1")
	strangerSigner, strangerKey := newNoteKey(t, "stranger")
	s, _ := startServer(t, Options{DataDir: t.TempDir(), Witnesses: []string{wKey}, NoApprovals: true})
	admin := s.AdminToken()

	var lk api.LogKey
	mustCall(t, s, http.StatusOK, "GET", "/api/v1/log/key", "", nil, &lk)
	if len(lk.Witnesses) != 1 || lk.Witnesses[0] != wKey || lk.Origin != DefaultLogName || !strings.HasPrefix(lk.Key, DefaultLogName+"+") {
		t.Fatalf("log key %+v", lk)
	}
	createHunt(t, s, admin, rulesOK, "to be witnessed")

	wv, err := translog.NewVerifierFromKey(lk.Key)
	if err != nil {
		t.Fatal(err)
	}
	cp := checkpointOf(t, s)
	cosigned, err := translog.Cosign(wSigner, wv, cp, nil)
	if err != nil {
		t.Fatal(err)
	}
	postNote := func(b []byte) (int, string) {
		resp, err := http.Post(s.URL()+"/api/v1/log/cosign", "text/plain", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	// A stranger's cosignature is refused.
	sv, _ := translog.NewVerifierFromKey(lk.Key)
	strange, err := translog.Cosign(strangerSigner, sv, cp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := postNote(strange); code != http.StatusForbidden {
		t.Errorf("cosign by an unknown witness: %d %s, want 403", code, body)
	}
	if code, body := postNote([]byte("garbage")); code != http.StatusBadRequest {
		t.Errorf("cosign of garbage: %d %s, want 400", code, body)
	}
	if code, body := postNote(bytes.Repeat([]byte("x"), translog.MaxCheckpointSize+1)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("cosign of a huge body: %d %s, want 413", code, body)
	}

	if code, body := postNote(cosigned); code != http.StatusOK {
		t.Fatalf("cosign by the witness: %d %s", code, body)
	}
	served := checkpointOf(t, s)
	lv, _ := note.NewVerifier(lk.Key)
	wver, _ := note.NewVerifier(wKey)
	sver, _ := note.NewVerifier(strangerKey)
	n, err := note.Open(served, note.VerifierList(lv, wver, sver))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, sig := range n.Sigs {
		names[sig.Name] = true
	}
	if !names[DefaultLogName] || !names["witness-1"] || names["stranger"] {
		t.Fatalf("served checkpoint signed by %v, want the log and witness-1 only", names)
	}
	// An agent requiring one witness accepts it, in sync replies too.
	av, _ := translog.NewVerifierFromKey(lk.Key)
	if err := av.RequireWitnesses(1, wver); err != nil {
		t.Fatal(err)
	}
	if _, err := av.VerifyCheckpoint(served); err != nil {
		t.Errorf("cosigned checkpoint: %v", err)
	}
	f := enrollFake(t, s, newToken(t, s, admin, nil), nil, false)
	if len(f.enroll.Witnesses) != 1 || f.enroll.Witnesses[0] != wKey || f.enroll.MinApprovals != 0 {
		t.Errorf("enroll reply witnesses %q, min approvals %d", f.enroll.Witnesses, f.enroll.MinApprovals)
	}
	if _, err := av.VerifyCheckpoint(f.sync(t).Checkpoint); err != nil {
		t.Errorf("sync reply's checkpoint: %v", err)
	}

	// After a new entry, the old checkpoint's cosignature is stale, and
	// the new checkpoint has no cosignature until the witness catches up.
	createHunt(t, s, admin, rulesOK, "newer")
	if code, body := postNote(cosigned); code != http.StatusConflict {
		t.Errorf("cosign of an old checkpoint: %d %s, want 409", code, body)
	}
	if _, err := av.VerifyCheckpoint(checkpointOf(t, s)); err == nil {
		t.Errorf("a new checkpoint verified with a witness before it was cosigned")
	}
	_, oldTree := wv.Trusted()
	var p api.Proof
	newCP := checkpointOf(t, s)
	_, newTree, _ := translog.ParseCheckpoint(noteText(t, newCP))
	mustCall(t, s, http.StatusOK, "GET", "/api/v1/log/proof/tree?old="+itoa(oldTree.N)+"&new="+itoa(newTree.N), "", nil, &p)
	again, err := translog.Cosign(wSigner, wv, newCP, toHashes(p.Proof))
	if err != nil {
		t.Fatal(err)
	}
	if code, body := postNote(again); code != http.StatusOK {
		t.Fatalf("cosign of the new checkpoint: %d %s", code, body)
	}
	if _, err := av.VerifyCheckpoint(checkpointOf(t, s)); err != nil {
		t.Errorf("new cosigned checkpoint: %v", err)
	}
}

// noteText returns a signed note's text.
func noteText(t testing.TB, b []byte) []byte {
	t.Helper()
	i := bytes.LastIndex(b, []byte("\n\n"))
	if i < 0 {
		t.Fatalf("not a note: %q", b)
	}
	return b[:i+1]
}

func TestLogSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s1, _ := startServer(t, Options{DataDir: dir, NoApprovals: true})
	admin := s1.AdminToken()
	h1 := createHunt(t, s1, admin, rulesOK, "before restart")
	var k1 api.LogKey
	mustCall(t, s1, http.StatusOK, "GET", "/api/v1/log/key", "", nil, &k1)
	cp1 := checkpointOf(t, s1)
	stop(t, s1)

	s2, _ := startServer(t, Options{DataDir: dir, NoApprovals: true})
	var k2 api.LogKey
	mustCall(t, s2, http.StatusOK, "GET", "/api/v1/log/key", "", nil, &k2)
	if k2.Key != k1.Key {
		t.Fatalf("log key changed over a restart: %s, then %s", k1.Key, k2.Key)
	}
	if cp := checkpointOf(t, s2); !bytes.Equal(cp, cp1) {
		t.Errorf("checkpoint after restart differs from the one before:\n%s\n%s", cp1, cp)
	}
	h2 := createHunt(t, s2, admin, rulesOK, "after restart")
	if h2.LogIndex != h1.LogIndex+1 {
		t.Errorf("hunt after restart at log index %d, want %d", h2.LogIndex, h1.LogIndex+1)
	}
	if e := logEntry(t, s2, h1.LogIndex); e.Entry != h1.Entry {
		t.Errorf("entry %d changed over the restart", h1.LogIndex)
	}
	v, err := translog.NewVerifierFromKey(k1.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Advance(cp1, nil); err != nil {
		t.Fatal(err)
	}
	_, t1 := v.Trusted()
	cp2 := checkpointOf(t, s2)
	var p api.Proof
	mustCall(t, s2, http.StatusOK, "GET", "/api/v1/log/proof/tree?old="+itoa(t1.N)+"&new="+itoa(t1.N+1), "", nil, &p)
	if err := v.Advance(cp2, toHashes(p.Proof)); err != nil {
		t.Fatalf("checkpoint after restart is not consistent with the one before: %v", err)
	}
	if _, tr := v.Trusted(); tr.N != t1.N+1 {
		t.Errorf("tree after restart has %d entries, want %d", tr.N, t1.N+1)
	}
	var rp api.Proof
	mustCall(t, s2, http.StatusOK, "GET", "/api/v1/log/proof/record?index="+itoa(h1.LogIndex)+"&size="+itoa(t1.N+1), "", nil, &rp)
	_, tr := v.Trusted()
	if err := v.VerifyEntry([]byte(h1.Entry), h1.LogIndex, toHashes(rp.Proof), tr); err != nil {
		t.Errorf("record proof of the first hunt: %v", err)
	}

	// A data directory keeps its log name.
	stop(t, s2)
	s3, err := New(Options{DataDir: dir, LogName: "other-name", HTTPAddr: "127.0.0.1:0", NATSPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := s3.Start(ctx); err == nil || !strings.Contains(err.Error(), "other-name") {
		t.Errorf("start with another log name: %v, want a refusal", err)
	}
	s3.Shutdown(ctx)

	// The key is private; a log whose key is lost is not re-keyed.
	fi, err := os.Stat(filepath.Join(dir, LogKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", LogKeyFile, fi.Mode().Perm())
	}
	if err := os.Remove(filepath.Join(dir, LogKeyFile)); err != nil {
		t.Fatal(err)
	}
	s4, err := New(Options{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s4.Start(ctx); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("start with the log key gone: %v, want a refusal", err)
	}
	s4.Shutdown(ctx)
	if _, err := os.Stat(filepath.Join(dir, LogKeyFile)); err == nil {
		t.Errorf("a new log key was made for an existing log")
	}
}

func TestLogRoutes(t *testing.T) {
	t.Parallel()
	s, _ := startServer(t, Options{DataDir: t.TempDir(), LogName: "log.example/test", NoApprovals: true})
	admin := s.AdminToken()
	for range 3 {
		createHunt(t, s, admin, rulesOK, "routes")
	}
	var es []api.LogEntry
	mustCall(t, s, http.StatusOK, "GET", "/api/v1/log/entries", "", nil, &es)
	if len(es) != 3 || es[2].Index != 2 || es[0].Kind != translog.KindHunt {
		t.Fatalf("entries: %+v", es)
	}
	mustCall(t, s, http.StatusOK, "GET", "/api/v1/log/entries?start=2&count=5", "", nil, &es)
	if len(es) != 1 || es[0].Index != 2 {
		t.Errorf("entries from 2: %+v", es)
	}
	mustCall(t, s, http.StatusOK, "GET", "/api/v1/log/entries?start=3", "", nil, &es)
	if len(es) != 0 {
		t.Errorf("entries past the end: %+v", es)
	}
	origin, _, err := translog.ParseCheckpoint(noteText(t, checkpointOf(t, s)))
	if err != nil || origin != "log.example/test" {
		t.Errorf("checkpoint origin %q (%v), want the log name", origin, err)
	}
	for _, path := range []string{
		"/api/v1/log/entries?start=-1",
		"/api/v1/log/entries?count=0",
		"/api/v1/log/entries?count=1001",
		"/api/v1/log/entries?start=x",
		"/api/v1/log/proof/record?index=0",
		"/api/v1/log/proof/record?index=3&size=3",
		"/api/v1/log/proof/record?index=0&size=4",
		"/api/v1/log/proof/tree?old=2&new=1",
		"/api/v1/log/proof/tree?old=0&new=9",
		"/api/v1/log/proof/tree?new=1",
	} {
		if code, body := getRaw(t, s, path, ""); code != http.StatusBadRequest || !strings.Contains(body, `"error"`) {
			t.Errorf("GET %s: %d %s, want a 400 with an error", path, code, body)
		}
	}
	var p api.Proof
	mustCall(t, s, http.StatusOK, "GET", "/api/v1/log/proof/record?index=1&size=3", "", nil, &p)
	if len(p.Proof) == 0 {
		t.Errorf("record proof of entry 1 in a tree of 3 is empty")
	}
	if _, err := New(Options{DataDir: t.TempDir(), LogName: "has space"}); err == nil {
		t.Errorf("New accepted a log name with a space")
	}
	if _, err := New(Options{DataDir: t.TempDir(), Witnesses: []string{"nonsense"}}); err == nil {
		t.Errorf("New accepted a malformed witness key")
	}
	if _, err := New(Options{DataDir: t.TempDir(), MinApprovals: -1}); err == nil {
		t.Errorf("New accepted a negative approval count")
	}
}

// TestUnloggedHuntsNotSent: a running hunt in the store whose entry is not
// in this server's log (made before the log existed, or by another server
// sharing the database) is never sent to agents.
func TestUnloggedHuntsNotSent(t *testing.T) {
	t.Parallel()
	s, log := startServer(t, Options{DataDir: t.TempDir(), NoApprovals: true})
	admin := s.AdminToken()
	f := enrollFake(t, s, newToken(t, s, admin, nil), nil, false)
	logged := createHunt(t, s, admin, rulesOK, "logged")
	st, err := s.Store().GetHunt(context.Background(), logged.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, idx := range []int64{-1, logged.LogIndex, 99} {
		h := st
		h.ID = "h-unlogged" + itoa(int64(i))
		h.LogIndex = idx // -1: before the log; the logged hunt's entry; past the end
		if err := s.Store().CreateHunt(context.Background(), h, []string{f.id}); err != nil {
			t.Fatal(err)
		}
	}
	rep := f.sync(t)
	if len(rep.Hunts) != 1 || rep.Hunts[0].ID != logged.ID {
		var ids []string
		for _, h := range rep.Hunts {
			ids = append(ids, h.ID)
		}
		t.Fatalf("sync sent %v, want only the logged hunt %s", ids, logged.ID)
	}
	if !strings.Contains(log.all(), "h-unlogged1 not sent") {
		t.Errorf("the server did not log why a hunt was not sent:\n%s", log.all())
	}
	var h api.Hunt
	mustCall(t, s, http.StatusOK, "GET", "/api/v1/hunts/h-unlogged1", admin, nil, &h)
	if h.Entry != "" {
		t.Errorf("a hunt is shown with another hunt's log entry")
	}
}
