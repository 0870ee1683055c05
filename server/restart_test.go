package server

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vigil/server/api"
	"vigil/server/store"
	"vigil/server/store/sqlite"
	"vigil/wire"
)

// TestRestartMidHunt stops the server while an agent is sending results,
// right after ingestion stored a batch and before it acknowledged it (as a
// crash would), and restarts it on the same data: every result arrives
// once, none is lost and none is counted twice.
func TestRestartMidHunt(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	natsPort := freePort(t) // the agent keeps the NATS URL it enrolled with
	o := Options{DataDir: dataDir, NATSPort: natsPort}
	s1, _ := startServer(t, o)
	admin := s1.AdminToken()
	secret := newToken(t, s1, admin, nil)

	crashed := make(chan struct{})
	var once sync.Once
	var dead atomic.Bool
	crash := func(results int64) bool {
		if results > 0 {
			once.Do(func() { dead.Store(true); close(crashed) })
		}
		return !dead.Load() // once "dead", acknowledge nothing
	}
	s1.testHookStored.Store(&crash)

	const files = 700 // several batches of at most wire.MaxMatchesPerMsg
	dir, want := huntFiles(t, files)
	ap := newApprover(t, s1, admin, "alice", store.RoleApprover) // before the agent enrolls: it trusts the approvers it is told of then
	a, _ := runAgent(t, t.TempDir(), s1.URL(), secret, nil)
	aID := agentID(t, a)
	var h api.Hunt
	mustCall(t, s1, http.StatusCreated, "POST", "/api/v1/hunts", admin, api.HuntRequest{Rules: rulesOK, Paths: []string{dir}, Why: "restart test"}, &h)
	ap.approve(t, s1, h.ID)

	select {
	case <-crashed:
	case <-time.After(waitFor):
		t.Fatal("ingestion stored nothing")
	}
	// Count after the stop: the "dead" server's ingestion may store (and
	// not acknowledge) more fetched batches after the first one.
	stop(t, s1)
	db, err := sqlite.Open(context.Background(), filepath.Join(dataDir, DBFile))
	if err != nil {
		t.Fatal(err)
	}
	stored, err := db.Progress(context.Background(), h.ID)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("server stopped with %d results stored and unacknowledged", stored.Results)
	if stored.Results == 0 {
		t.Fatalf("the crash hook ran before anything was stored")
	}

	s2, _ := startServer(t, o)
	huntDone(t, s2, admin, h.ID)
	// The unacknowledged messages come back after the stream's ack wait
	// (bus.AckWait): wait until the stream is empty, then count.
	eventually(t, "every message redelivered and acknowledged", func() bool {
		ci, err := s2.Bus().Consumer().Info(context.Background())
		return err == nil && ci.NumPending == 0 && ci.NumAckPending == 0
	})
	var done api.Hunt
	mustCall(t, s2, http.StatusOK, "GET", "/api/v1/hunts/"+h.ID, admin, nil, &done)
	if done.Progress.Results != files {
		t.Fatalf("after the restart: %d results, want exactly %d", done.Progress.Results, files)
	}
	// What the first server stored came again and was not stored again.
	if got, want := s2.resultsIngested.Load(), files-stored.Results; got != want {
		t.Errorf("second server stored %d results, want %d (%d of %d were stored before the crash)", got, want, stored.Results, files)
	}
	rs := allResults(t, s2, admin, h.ID, "")
	if len(rs) != files {
		t.Fatalf("%d result rows, want %d", len(rs), files)
	}
	checkResults(t, rs, aID, want)
}

// TestRestartWhileSending restarts the server (gracefully) while an agent
// publishes batches, retrying each until the stream acknowledges it as an
// agent does: the count is exact.
func TestRestartWhileSending(t *testing.T) {
	t.Parallel()
	o := Options{DataDir: t.TempDir(), NATSPort: freePort(t), NoApprovals: true}
	s1, _ := startServer(t, o)
	admin := s1.AdminToken()
	f := enrollFake(t, s1, newToken(t, s1, admin, nil), nil, false)
	var h api.Hunt
	mustCall(t, s1, http.StatusCreated, "POST", "/api/v1/hunts", admin, api.HuntRequest{Rules: rulesOK, Paths: []string{"/data"}, Why: "restart test"}, &h)

	const batches, perBatch = 60, 10
	sent := make(chan uint64, batches)
	errc := make(chan error, 1)
	go func() {
		for seq := uint64(1); seq <= batches; seq++ {
			b := wire.ResultBatch{HuntID: h.ID, Seq: seq}
			for i := range perBatch {
				b.Matches = append(b.Matches, match(fmt.Sprintf("/data/%d/%d", seq, i)))
			}
			data, _ := wire.Encode(b)
			if err := f.publishRetry(wire.ResultsSubject(f.prefix, f.id), testMsgID(f.id, h.ID, "results", seq), data); err != nil {
				errc <- err
				return
			}
			sent <- seq
		}
		st, _ := wire.Encode(wire.Status{HuntID: h.ID, Seq: 1, State: wire.StateDone, Batches: batches, Time: time.Now()})
		errc <- f.publishRetry(wire.StatusSubject(f.prefix, f.id), testMsgID(f.id, h.ID, "status", 1), st)
	}()
	for range batches / 3 {
		<-sent
	}
	stop(t, s1)
	s2, _ := startServer(t, o)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	done := huntDone(t, s2, admin, h.ID)
	if done.Progress.Results != batches*perBatch {
		t.Fatalf("%d results, want exactly %d", done.Progress.Results, batches*perBatch)
	}
	if n := len(allResults(t, s2, admin, h.ID, "")); n != batches*perBatch {
		t.Fatalf("%d result rows, want %d", n, batches*perBatch)
	}
}
