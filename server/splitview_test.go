package server

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"vigil/agent"
	"vigil/journal"
	"vigil/server/api"
	"vigil/translog"
	"vigil/witness"
)

// approveWith approves hunt id on s as the operator holding token, with the
// approver's signer (what `vigil hunt approve` does on their machine).
func approveWith(t testing.TB, s *Server, token, id string, signer note.Signer, vkey string) {
	t.Helper()
	var h api.Hunt
	mustCall(t, s, http.StatusOK, "GET", "/api/v1/hunts/"+id, token, nil, &h)
	a, err := translog.NewApproval(signer, vkey, []byte(h.Entry), h.LogIndex, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e, err := a.Encode()
	if err != nil {
		t.Fatal(err)
	}
	mustCall(t, s, http.StatusOK, "POST", "/api/v1/hunts/"+id+"/approve", token, api.ApprovalRequest{Entry: string(e)}, &h)
}

// TestSplitViewCaughtByWitnesses: a server operator runs two logs under
// one log key and shows each to a different agent. Both agents' policies
// require the cosignatures of two witnesses. The honest log is cosigned
// and its hunt runs; the second log's hunt never runs (no witness cosigns
// it), and a witness shown the second log records the fork with evidence.
func TestSplitViewCaughtByWitnesses(t *testing.T) {
	t.Parallel()
	w1, w1v := newNoteKey(t, "w1")
	w2, w2v := newNoteKey(t, "w2")
	bob, bobV := newNoteKey(t, "bob")
	witnesses := []string{w1v, w2v}

	d1, d2 := t.TempDir(), t.TempDir()
	s1, _ := startServer(t, Options{DataDir: d1, Witnesses: witnesses})
	// The second log: a copy of the log key in another data directory.
	for _, f := range []string{"log.key", "log.pub"} {
		b, err := os.ReadFile(filepath.Join(d1, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d2, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s2, _ := startServer(t, Options{DataDir: d2, Witnesses: witnesses})
	logKey, err := os.ReadFile(filepath.Join(d1, "log.pub"))
	if err != nil {
		t.Fatal(err)
	}
	var k1, k2 api.LogKey
	mustCall(t, s1, http.StatusOK, "GET", "/api/v1/log/key", "", nil, &k1)
	mustCall(t, s2, http.StatusOK, "GET", "/api/v1/log/key", "", nil, &k2)
	if k1.Key != k2.Key || k1.Key != strings.TrimSpace(string(logKey)) {
		t.Fatalf("the two servers must share one log key: %q %q", k1.Key, k2.Key)
	}

	// Bob approves on both servers with the same key.
	bobToken := map[*Server]string{}
	for _, s := range []*Server{s1, s2} {
		var oc api.OperatorCreated
		mustCall(t, s, http.StatusCreated, "POST", "/api/v1/operators", s.AdminToken(), api.OperatorRequest{Name: "bob", Role: "approver"}, &oc)
		mustCall(t, s, http.StatusOK, "PUT", "/api/v1/whoami/key", oc.Token, api.KeyRequest{Key: bobV}, nil)
		bobToken[s] = oc.Token
	}

	// The machines' owners require both witnesses.
	policy := "log-key " + k1.Key + "\napprover " + bobV + "\nmin-approvals 1\nwitness " + w1v + "\nwitness " + w2v + "\nmin-witnesses 2\n"
	startAgent := func(s *Server, name string) (*agent.Agent, string) {
		dir := t.TempDir()
		pol := filepath.Join(dir, "policy")
		if err := os.WriteFile(pol, []byte(policy), 0o600); err != nil {
			t.Fatal(err)
		}
		a, err := agent.New(agent.Options{StateDir: filepath.Join(dir, "state"), Server: s.URL(), Token: newToken(t, s, s.AdminToken(), nil), PolicyFile: pol, Version: "test"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			<-done
			a.Close()
		})
		return a, filepath.Join(dir, "state")
	}
	agentA, _ := startAgent(s1, "a")
	_, stateB := startAgent(s2, "b")

	wit := func(s *Server, signer note.Signer, dir string) *witness.Witness {
		w, err := witness.New(witness.Options{Server: s.URL(), Signer: signer, LogKey: k1.Key, StateDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	w1dir, w2dir := t.TempDir(), t.TempDir()
	wit1, wit2 := wit(s1, w1, w1dir), wit(s1, w2, w2dir)

	// The honest log: the hunt runs once both witnesses cosigned.
	dir, want := huntFiles(t, 2)
	var h1 api.Hunt
	mustCall(t, s1, http.StatusCreated, "POST", "/api/v1/hunts", s1.AdminToken(), api.HuntRequest{Rules: rulesOK, Paths: []string{dir}, Why: "honest hunt"}, &h1)
	approveWith(t, s1, bobToken[s1], h1.ID, bob, bobV)
	eventually(t, "the honest hunt done", func() bool {
		for _, w := range []*witness.Witness{wit1, wit2} {
			if err := w.Once(context.Background()); err != nil {
				t.Logf("witness: %v", err)
			}
		}
		var h api.Hunt
		mustCall(t, s1, http.StatusOK, "GET", "/api/v1/hunts/"+h1.ID, s1.AdminToken(), nil, &h)
		return h.Progress != nil && h.Progress.Done == 1
	})
	checkResults(t, allResults(t, s1, s1.AdminToken(), h1.ID, ""), agentID(t, agentA), want)

	// The second log shows agent B a different hunt under the same key.
	var h2 api.Hunt
	mustCall(t, s2, http.StatusCreated, "POST", "/api/v1/hunts", s2.AdminToken(), api.HuntRequest{Rules: rulesOK, Paths: []string{dir}, Why: "secret hunt"}, &h2)
	approveWith(t, s2, bobToken[s2], h2.ID, bob, bobV)

	// A witness shown the second log refuses it and keeps the evidence.
	wit1b := wit(s2, w1, w1dir)
	err = wit1b.Once(context.Background())
	var fork *translog.ForkError
	if !errors.As(err, &fork) {
		t.Fatalf("witness on the second log: %v, want a ForkError", err)
	}
	ev, err := witness.ReadEvidence(w1dir)
	if err != nil || len(ev) == 0 {
		t.Fatalf("fork evidence: %v %v", ev, err)
	}

	// Agent B never runs the secret hunt: nothing cosigns its checkpoint.
	time.Sleep(3 * time.Second)
	var as []api.Assignment
	mustCall(t, s2, http.StatusOK, "GET", "/api/v1/hunts/"+h2.ID+"/agents", s2.AdminToken(), nil, &as)
	for _, a := range as {
		if a.State == "running" || a.State == "done" || a.FilesScanned > 0 {
			t.Errorf("agent %s ran the split-view hunt: %+v", a.AgentID, a)
		}
	}
	var res api.ResultPage
	mustCall(t, s2, http.StatusOK, "GET", "/api/v1/hunts/"+h2.ID+"/results", s2.AdminToken(), nil, &res)
	if len(res.Results) != 0 {
		t.Errorf("the split-view hunt has %d results", len(res.Results))
	}
	if j, err := journal.Open(filepath.Join(stateB, "journal")); err == nil {
		recs, _ := j.Records()
		for _, r := range recs {
			if r.HuntID == h2.ID && r.Action == "ran" {
				t.Errorf("agent B's journal says it ran the split-view hunt")
			}
		}
		j.Close()
	}
}
