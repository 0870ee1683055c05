package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"golang.org/x/mod/sumdb/note"

	"vigil/agent"
	"vigil/server/api"
	"vigil/translog"
	"vigil/wire"
)

// waitFor is the generous bound of every wait in these tests: it only
// keeps a broken test from hanging.
const waitFor = 45 * time.Second

// testLog collects log lines and checks that no secret appears in them.
type testLog struct {
	t     testing.TB
	mu    sync.Mutex
	lines []string
}

func (l *testLog) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
}

func (l *testLog) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// checkNoSecrets fails the test if any secret appears in the log.
func (l *testLog) checkNoSecrets(t testing.TB, secrets ...string) {
	t.Helper()
	all := l.all()
	for _, s := range secrets {
		if s != "" && strings.Contains(all, s) {
			t.Errorf("a secret (%.8s...) appears in the server log", s)
		}
	}
	if strings.Contains(all, operatorTokenPrefix) || strings.Contains(all, enrollSecretPrefix) {
		t.Errorf("a token prefix appears in the server log:\n%s", all)
	}
}

// startServer starts a server on dir with random ports and stops it at
// the end of the test.
func startServer(t testing.TB, o Options) (*Server, *testLog) {
	t.Helper()
	log := &testLog{t: t}
	if o.HTTPAddr == "" {
		o.HTTPAddr = "127.0.0.1:0"
	}
	if o.NATSPort == 0 {
		o.NATSPort = -1
	}
	o.Logf = log.logf
	if os.Getenv("VIGIL_TEST_LOG") != "" {
		o.Logf = func(format string, args ...any) {
			log.logf(format, args...)
			t.Logf("server: "+format, args...)
		}
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatalf("start: %v\nlog:\n%s", err, log.all())
	}
	t.Cleanup(func() { stop(t, s) })
	return s, log
}

func stop(t testing.TB, s *Server) {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// freePort returns a TCP port that was free a moment ago (for a server
// that must come back on the same port after a restart).
func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// call does an API request and decodes a 2xx answer into out. It returns
// the status code and the error message of a failed request.
func call(t testing.TB, s *Server, method, path, token string, body, out any) (int, string) {
	t.Helper()
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.URL()+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode/100 != 2 {
		var e api.Error
		if err := json.Unmarshal(data, &e); err != nil {
			t.Fatalf("%s %s: %d with a body that is not an api.Error: %q", method, path, resp.StatusCode, data)
		}
		return resp.StatusCode, e.Error
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decoding %q: %v", method, path, data, err)
		}
	}
	return resp.StatusCode, ""
}

// mustCall is call that fails the test unless the status is want.
func mustCall(t testing.TB, s *Server, want int, method, path, token string, body, out any) {
	t.Helper()
	if code, msg := call(t, s, method, path, token, body, out); code != want {
		t.Fatalf("%s %s: got %d %q, want %d", method, path, code, msg, want)
	}
}

// getRaw does a GET and returns the status and body.
func getRaw(t testing.TB, s *Server, path, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", s.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(data)
}

// newToken creates an enrollment token and returns its secret.
func newToken(t testing.TB, s *Server, admin string, labels map[string]string) string {
	t.Helper()
	var tc api.TokenCreated
	mustCall(t, s, http.StatusCreated, "POST", "/api/v1/tokens", admin, api.TokenRequest{Labels: labels, Description: "test"}, &tc)
	if !strings.HasPrefix(tc.Secret, enrollSecretPrefix) {
		t.Fatalf("secret %q lacks the %s prefix", tc.Secret, enrollSecretPrefix)
	}
	return tc.Secret
}

// runAgent enrolls (if needed) and runs a real agent until the test ends
// or the returned stop function is called.
func runAgent(t testing.TB, dir, serverURL, token string, labels map[string]string) (a *agent.Agent, stop func()) {
	t.Helper()
	o := agent.Options{StateDir: dir, Server: serverURL, Token: token, Labels: labels, Version: "test"}
	if os.Getenv("VIGIL_TEST_LOG") != "" {
		o.Logf = func(format string, args ...any) { t.Logf("agent: "+format, args...) }
	}
	a, err := agent.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("agent: %v", err)
				}
			case <-time.After(waitFor):
				t.Errorf("agent did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return a, stop
}

// eventually polls cond until it holds or waitFor passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// agentID waits until the agent is enrolled and returns its ID.
func agentID(t testing.TB, a *agent.Agent) string {
	t.Helper()
	eventually(t, "agent enrollment", a.Enrolled)
	return a.ID()
}

// fakeAgent speaks the wire protocol by hand, for what a real agent never
// sends (garbage) and for exact control over batches.
type fakeAgent struct {
	id     string
	prefix string
	nc     *nats.Conn
	enroll wire.EnrollReply
}

// enrollFake enrolls a fake agent with a fresh nkey and connects it to the
// server's embedded NATS (or, with plain set, without credentials: for an
// external NATS without authentication).
func enrollFake(t testing.TB, s *Server, token string, labels map[string]string, plain bool) *fakeAgent {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	var rep wire.EnrollReply
	mustCall(t, s, http.StatusOK, "POST", "/api/v1/enroll", "", wire.EnrollRequest{
		Token: token, PublicKey: pub, Hostname: "fake", OS: "linux", Arch: "amd64", Version: "test", Labels: labels,
	}, &rep)
	opts := []nats.Option{nats.CustomInboxPrefix(wire.InboxPrefix(rep.AgentID)), nats.Name("fake agent"),
		nats.MaxReconnects(-1), nats.ReconnectWait(100 * time.Millisecond)}
	if !plain {
		opts = append(opts, nats.Nkey(pub, kp.Sign))
	}
	nc, err := nats.Connect(strings.Join(rep.NATS, ","), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return &fakeAgent{id: rep.AgentID, prefix: rep.Prefix, nc: nc, enroll: rep}
}

// sync asks for the agent's hunts.
func (f *fakeAgent) sync(t testing.TB, known ...string) wire.SyncReply {
	t.Helper()
	return f.syncFrom(t, 0, known...)
}

// syncFrom asks for the agent's hunts, holding a checkpoint of logSize.
func (f *fakeAgent) syncFrom(t testing.TB, logSize int64, known ...string) wire.SyncReply {
	t.Helper()
	data, _ := wire.Encode(wire.SyncRequest{Version: wire.Version, LogSize: logSize, Known: known})
	m, err := f.nc.Request(wire.SyncSubject(f.prefix, f.id), data, 10*time.Second)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	var rep wire.SyncReply
	if err := wire.Decode(m.Data, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// send publishes v on subject and waits for the stream's acknowledgement.
func (f *fakeAgent) send(t testing.TB, subject, msgID string, data []byte) {
	t.Helper()
	m := nats.NewMsg(subject)
	m.Data = data
	if msgID != "" {
		m.Header.Set(nats.MsgIdHdr, msgID)
	}
	reply, err := f.nc.RequestMsg(m, 10*time.Second)
	if err != nil {
		t.Fatalf("publish on %s: %v", subject, err)
	}
	if strings.Contains(string(reply.Data), `"error"`) {
		t.Fatalf("publish on %s: %s", subject, reply.Data)
	}
}

// publishRetry publishes until the stream acknowledges, over reconnections,
// as an agent does.
func (f *fakeAgent) publishRetry(subject, msgID string, data []byte) error {
	deadline := time.Now().Add(waitFor)
	for {
		m := nats.NewMsg(subject)
		m.Data = data
		m.Header.Set(nats.MsgIdHdr, msgID)
		reply, err := f.nc.RequestMsg(m, 2*time.Second)
		if err == nil && !strings.Contains(string(reply.Data), `"error"`) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("publish on %s: never acknowledged", subject)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (f *fakeAgent) status(t testing.TB, st wire.Status) {
	t.Helper()
	data, err := wire.Encode(st)
	if err != nil {
		t.Fatal(err)
	}
	f.send(t, wire.StatusSubject(f.prefix, f.id), testMsgID(f.id, st.HuntID, "status", st.Seq), data)
}

func (f *fakeAgent) batch(t testing.TB, b wire.ResultBatch) {
	t.Helper()
	data, err := wire.Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	f.send(t, wire.ResultsSubject(f.prefix, f.id), testMsgID(f.id, b.HuntID, "results", b.Seq), data)
}

// writeFile writes a test file.
func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// mustCallClient is mustCall with a given client and a raw body, for TLS.
func mustCallClient(t testing.TB, c *http.Client, s *Server, method, path, token, body string, out any) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL()+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatal(err)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// testMsgID is what tests pass as a Nats-Msg-Id; agents send none, so the
// tests that exercise redelivery pass "" (see wire).
func testMsgID(agent, hunt, kind string, seq uint64) string { return "" }

// testApprover is an operator with a registered approval key.
type testApprover struct {
	id, name, token string
	signer          note.Signer
	vkey            string
}

// newApprover creates an operator with role and a note key named after it,
// and registers the key.
func newApprover(t testing.TB, s *Server, admin, name, role string) *testApprover {
	t.Helper()
	var oc api.OperatorCreated
	mustCall(t, s, http.StatusCreated, "POST", "/api/v1/operators", admin, api.OperatorRequest{Name: name, Role: role}, &oc)
	ap := &testApprover{id: oc.Operator.ID, name: name, token: oc.Token}
	ap.signer, ap.vkey = newNoteKey(t, name)
	var o api.Operator
	mustCall(t, s, http.StatusOK, "PUT", "/api/v1/whoami/key", ap.token, api.KeyRequest{Key: ap.vkey}, &o)
	if o.Key != ap.vkey || o.Name != name {
		t.Fatalf("registered key: %+v, want key %s", o, ap.vkey)
	}
	return ap
}

// newNoteKey makes a note key pair named name.
func newNoteKey(t testing.TB, name string) (note.Signer, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return signer, vkey
}

// approval signs hunt id's log entry as the approver.
func (ap *testApprover) approval(t testing.TB, s *Server, id string) api.ApprovalRequest {
	t.Helper()
	var h api.Hunt
	mustCall(t, s, http.StatusOK, "GET", "/api/v1/hunts/"+id, ap.token, nil, &h)
	if h.Entry == "" || h.LogIndex < 0 {
		t.Fatalf("hunt %s has no log entry: %+v", id, h)
	}
	a, err := translog.NewApproval(ap.signer, ap.vkey, []byte(h.Entry), h.LogIndex, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e, err := a.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return api.ApprovalRequest{Entry: string(e)}
}

// approve approves hunt id and returns the hunt.
func (ap *testApprover) approve(t testing.TB, s *Server, id string) api.Hunt {
	t.Helper()
	var h api.Hunt
	mustCall(t, s, http.StatusOK, "POST", "/api/v1/hunts/"+id+"/approve", ap.token, ap.approval(t, s, id), &h)
	return h
}
