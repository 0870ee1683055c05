package server

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/server/api"
	"vigil/wire"
)

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestCancelAndExpiry(t *testing.T) {
	t.Parallel()
	clock := &testClock{t: time.Now()}
	s, _ := startServer(t, Options{DataDir: t.TempDir(), Now: clock.now, NoApprovals: true})
	admin := s.AdminToken()
	f := enrollFake(t, s, newToken(t, s, admin, nil), nil, false)
	canceled, err := f.nc.SubscribeSync(wire.CancelSubject(f.prefix, f.id))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.nc.Flush(); err != nil {
		t.Fatal(err)
	}

	// Cancel: the agent is told, sync no longer offers the hunt.
	var h1 api.Hunt
	mustCall(t, s, http.StatusCreated, "POST", "/api/v1/hunts", admin, api.HuntRequest{Rules: rulesOK, Paths: []string{"/a"}, Why: "cancel test"}, &h1)
	mustCall(t, s, http.StatusOK, "POST", "/api/v1/hunts/"+h1.ID+"/cancel", admin, nil, nil)
	m, err := canceled.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("no cancel message: %v", err)
	}
	var c wire.Cancel
	if err := wire.Decode(m.Data, &c); err != nil || c.HuntID != h1.ID {
		t.Fatalf("cancel message %+v: %v", c, err)
	}
	if rep := f.sync(t); len(rep.Hunts) != 0 {
		t.Fatalf("sync offers a canceled hunt: %+v", rep)
	}

	// Expiry: past Expires the API says expired and sync stops offering it.
	var h2 api.Hunt
	mustCall(t, s, http.StatusCreated, "POST", "/api/v1/hunts", admin, api.HuntRequest{Rules: rulesOK, Paths: []string{"/a"}, Why: "expiry test", ExpiresIn: "1h"}, &h2)
	if rep := f.sync(t); len(rep.Hunts) != 1 || rep.Hunts[0].ID != h2.ID || !rep.Hunts[0].Expires.Equal(h2.Expires) {
		t.Fatalf("sync before expiry: %+v", rep)
	}
	clock.add(2 * time.Hour)
	var got api.Hunt
	mustCall(t, s, http.StatusOK, "GET", "/api/v1/hunts/"+h2.ID, admin, nil, &got)
	if got.State != "expired" {
		t.Fatalf("hunt past its expiry in state %q, want expired", got.State)
	}
	if rep := f.sync(t); len(rep.Hunts) != 0 {
		t.Fatalf("sync offers an expired hunt: %+v", rep)
	}
	// The sync just now counts as a sign of life, at the clock's time.
	_, body := getRaw(t, s, "/metrics", admin)
	for _, line := range []string{`vigil_hunts{state="expired"} 1`, `vigil_hunts{state="canceled"} 1`, `vigil_hunts{state="running"} 0`, "vigil_agents_online 1"} {
		if !strings.Contains(body, line+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", line, body)
		}
	}
}
