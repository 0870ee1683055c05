package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"vigil/server/api"
	"vigil/server/store"
	"vigil/wire"
)

// Services on the test machine (see notes/helpers-common.md).
const (
	externalNATS = "127.0.0.1:4222"
	postgresAddr = "127.0.0.1:5432"
)

// needService skips the test when addr does not answer, unless
// VIGIL_REQUIRE_SERVICES=1 (CI), when it fails.
func needService(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		c.Close()
		return
	}
	if os.Getenv("VIGIL_REQUIRE_SERVICES") == "1" {
		t.Fatalf("%s unreachable and VIGIL_REQUIRE_SERVICES=1: %v", addr, err)
	}
	t.Skipf("%s unreachable: %v", addr, err)
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// oneHunt runs one hunt end to end with a real agent and checks its results.
func oneHunt(t *testing.T, s *Server) {
	t.Helper()
	admin := s.AdminToken()
	secret := newToken(t, s, admin, map[string]string{"env": "svc"})
	ap := newApprover(t, s, admin, "alice", store.RoleApprover)
	a, _ := runAgent(t, t.TempDir(), s.URL(), secret, nil)
	aID := agentID(t, a)
	dir, want := huntFiles(t, 5)
	var h api.Hunt
	mustCall(t, s, http.StatusCreated, "POST", "/api/v1/hunts", admin, api.HuntRequest{Rules: rulesOK, Target: "env=svc", Paths: []string{dir}, Why: "services test"}, &h)
	if h.Progress.Agents != 1 {
		t.Fatalf("hunt assigned to %d agents, want 1", h.Progress.Agents)
	}
	ap.approve(t, s, h.ID)
	done := huntDone(t, s, admin, h.ID)
	if done.Progress.Results != int64(len(want)) {
		t.Fatalf("%d results, want %d", done.Progress.Results, len(want))
	}
	checkResults(t, allResults(t, s, admin, h.ID, ""), aID, want)
}

func TestExternalNATS(t *testing.T) {
	t.Parallel()
	needService(t, externalNATS)
	prefix := randomName("vt")
	s, _ := startServer(t, Options{DataDir: t.TempDir(), NATSURL: "nats://" + externalNATS, Prefix: prefix})
	t.Cleanup(func() {
		// Runs before the server stops (cleanups run last first).
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Bus().JetStream().DeleteStream(ctx, s.Bus().StreamName()); err != nil {
			t.Errorf("removing stream %s: %v", s.Bus().StreamName(), err)
		}
	})
	if got := s.Bus().Prefix(); got != prefix {
		t.Fatalf("prefix %q, want %q", got, prefix)
	}
	// The test cluster has no authentication, so it offers no nonce to
	// sign and the real agent (which logs in with its nkey) cannot
	// connect: a fake agent without credentials plays its part.
	admin := s.AdminToken()
	ap := newApprover(t, s, admin, "alice", store.RoleApprover)
	f := enrollFake(t, s, newToken(t, s, admin, nil), nil, true)
	pushed, err := f.nc.SubscribeSync(wire.HuntSubject(f.prefix, f.id))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	var h api.Hunt
	mustCall(t, s, http.StatusCreated, "POST", "/api/v1/hunts", admin, api.HuntRequest{Rules: rulesOK, Paths: []string{"/data"}, Why: "external NATS test"}, &h)
	ap.approve(t, s, h.ID)
	m, err := pushed.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("hunt not pushed: %v", err)
	}
	var wh wire.Hunt
	if err := wire.Decode(m.Data, &wh); err != nil || wh.ID != h.ID {
		t.Fatalf("pushed hunt %+v: %v", wh, err)
	}
	if rep := f.sync(t); len(rep.Hunts) != 1 || rep.Hunts[0].ID != h.ID {
		t.Fatalf("sync: %+v", rep)
	}
	f.status(t, wire.Status{HuntID: h.ID, Seq: 1, State: wire.StateRunning, Time: time.Now()})
	f.batch(t, wire.ResultBatch{HuntID: h.ID, Seq: 1, Matches: []wire.FileMatch{match("/data/a"), match("/data/b"), match("/data/c")}})
	f.status(t, wire.Status{HuntID: h.ID, Seq: 2, State: wire.StateDone, FilesScanned: 3, FilesMatched: 3, Batches: 1, Time: time.Now()})
	done := huntDone(t, s, admin, h.ID)
	if done.Progress.Results != 3 {
		t.Fatalf("%d results, want 3", done.Progress.Results)
	}
	if code, body := getRaw(t, s, "/metrics", admin); code != http.StatusOK || !strings.Contains(body, "vigil_agents_connected -1\n") {
		t.Errorf("/metrics with external NATS: %d\n%s", code, body)
	}

	// A real agent: enrollment tells it the cluster authenticates (here:
	// nobody), so it connects without its key and runs a hunt end to end.
	dir, want := huntFiles(t, 3)
	a, _ := runAgent(t, t.TempDir(), s.URL(), newToken(t, s, admin, map[string]string{"real": "yes"}), nil)
	id := agentID(t, a)
	var h2 api.Hunt
	mustCall(t, s, http.StatusCreated, "POST", "/api/v1/hunts", admin, api.HuntRequest{Rules: rulesOK, Paths: []string{dir}, Target: "real=yes", Why: "external NATS, real agent"}, &h2)
	ap.approve(t, s, h2.ID)
	huntDone(t, s, admin, h2.ID)
	checkResults(t, allResults(t, s, admin, h2.ID, ""), id, want)
}

// postgresDSNs are tried in turn (the test database's user differs
// between machines).
var postgresDSNs = []string{
	"postgres://postgres@127.0.0.1:5432/test?sslmode=disable&connect_timeout=5",
	"postgres://root@127.0.0.1:5432/test?sslmode=disable&connect_timeout=5",
}

func TestPostgresStore(t *testing.T) {
	t.Parallel()
	needService(t, postgresAddr)
	var dsn string
	var last error
	for _, d := range postgresDSNs {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		conn, err := pgx.Connect(ctx, d)
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			dsn = d
			break
		}
		last = err
	}
	if dsn == "" {
		if os.Getenv("VIGIL_REQUIRE_SERVICES") == "1" {
			t.Fatalf("PostgreSQL unreachable: %v", last)
		}
		t.Skipf("PostgreSQL unreachable: %v", last)
	}
	schema := randomName("vigil_srv_")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	dataDir := t.TempDir()
	s, _ := startServer(t, Options{DataDir: dataDir, DB: dsn + "&schema=" + schema})
	if s.AdminToken() == "" {
		t.Fatal("no admin token on a fresh PostgreSQL schema")
	}
	if _, err := os.Stat(filepath.Join(dataDir, DBFile)); !os.IsNotExist(err) {
		t.Errorf("a SQLite file was made although the store is PostgreSQL: %v", err)
	}
	oneHunt(t, s)
}
