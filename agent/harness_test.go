package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"golang.org/x/mod/sumdb/note"

	"vigil/scan"
	"vigil/translog"
	"vigil/wire"
)

// waitLimit bounds every wait in these tests: it only keeps a broken
// agent from hanging the test run.
const waitLimit = 30 * time.Second

// captured is one message the agent sent, as the test server saw it.
type captured struct {
	Subject string
	MsgID   string
	Data    []byte
	Status  *wire.Status
	Batch   *wire.ResultBatch
}

// harness plays the Vigil server: an embedded NATS server with JetStream
// and nkey authorization (the agent's user restricted to exactly
// wire.AgentPermissions), an HTTP enrollment endpoint, a sync responder and
// a consumer of the status/results stream.
type harness struct {
	t      *testing.T
	ns     *server.Server
	prefix string
	nc     *nats.Conn // the server side's own, unrestricted, connection
	web    *httptest.Server
	token  string

	mu        sync.Mutex
	base      *server.Options
	enrolls   int
	enrollReq []wire.EnrollRequest
	agentN    int
	syncHunts []wire.Hunt
	syncReqs  []wire.SyncRequest
	syncRaw   [][]byte
	hellos    []wire.Hello
	helloRaw  [][]byte
	msgs      []captured
	logs      []string

	// The transparency log the harness plays, with its key, and the
	// approvers' keys (name → key). enrollApprovers are the approver
	// keys the enrollment reply lists (the agent's TOFU policy).
	tl              *translog.Log
	logKey          *approverKey
	logSigner       note.Signer
	logVKey         string
	approvers       map[string]*approverKey
	enrollApprovers []string
	minApprovals    int
	inLog           map[string]*loggedHunt
	// tamper, when set, changes each hunt of a sync reply after its
	// proofs are attached; tamperReply changes the whole reply.
	tamper      func(*wire.Hunt)
	tamperReply func(*wire.SyncReply)
}

// approverKey is an approver's note key pair.
type approverKey struct {
	name   string
	signer note.Signer
	vkey   string
}

// loggedHunt is where a hunt and its approvals are in the harness's log.
type loggedHunt struct {
	index     int64
	approvals []int64
}

// huntLog says how logHunt logs a hunt.
type huntLog struct {
	approvers []string // approver names (default: alice)
	content   bool     // the entry says content is collected
	class     string   // lint class (default "code")
	required  int      // ApprovalsRequired (default 1)
}

func newKey(t *testing.T, name string) *approverKey {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return &approverKey{name: name, signer: signer, vkey: vkey}
}

// newTestLog makes an empty log signed by key.
func newTestLog(t *testing.T, key *approverKey) *translog.Log {
	t.Helper()
	l, err := translog.New(translog.NewMemoryStorage(), key.signer)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// appendHunt logs hunt in l with approvals by the named keys.
func (h *harness) appendHunt(l *translog.Log, hunt wire.Hunt, o huntLog) (*loggedHunt, error) {
	ctx := context.Background()
	e := translog.HuntEntryFromWire(&hunt)
	e.LintClass = translog.LintCode
	if o.class != "" {
		e.LintClass = o.class
	}
	e.ApprovalsRequired = 1
	if o.required != 0 {
		e.ApprovalsRequired = o.required
	}
	e.ContentCollection = o.content
	canon, err := e.Encode()
	if err != nil {
		return nil, err
	}
	idx, err := l.Append(ctx, translog.KindHunt, canon)
	if err != nil {
		return nil, err
	}
	lh := &loggedHunt{index: idx}
	names := o.approvers
	if names == nil {
		names = []string{"alice"}
	}
	for _, n := range names {
		k := h.approvers[n]
		ap, err := translog.NewApproval(k.signer, k.vkey, canon, idx, time.Now())
		if err != nil {
			return nil, err
		}
		ab, err := ap.Encode()
		if err != nil {
			return nil, err
		}
		ai, err := l.Append(ctx, translog.KindApproval, ab)
		if err != nil {
			return nil, err
		}
		lh.approvals = append(lh.approvals, ai)
	}
	return lh, nil
}

// logHunt logs hunt in the harness's log (once).
func (h *harness) logHunt(hunt wire.Hunt, o huntLog) {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.inLog[hunt.ID]; ok {
		return
	}
	lh, err := h.appendHunt(h.tl, hunt, o)
	if err != nil {
		// Hunts too malformed to log are served without a log entry.
		h.logs = append(h.logs, fmt.Sprintf("TEST: hunt %s not logged: %v", hunt.ID, err))
		return
	}
	h.inLog[hunt.ID] = lh
}

// withLog returns hunt with its log entry, approvals and inclusion proofs
// in l's tree of size n.
func withLog(l *translog.Log, hunt wire.Hunt, lh *loggedHunt, n int64) (wire.Hunt, error) {
	ctx := context.Background()
	entry := func(i int64) (wire.LoggedEntry, error) {
		b, err := l.Entry(ctx, i)
		if err != nil {
			return wire.LoggedEntry{}, err
		}
		p, err := l.InclusionProof(ctx, i, n)
		if err != nil {
			return wire.LoggedEntry{}, err
		}
		le := wire.LoggedEntry{Index: i, Entry: b}
		for _, x := range p {
			le.Inclusion = append(le.Inclusion, append([]byte(nil), x[:]...))
		}
		return le, nil
	}
	hl := &wire.HuntLog{}
	var err error
	if hl.Hunt, err = entry(lh.index); err != nil {
		return hunt, err
	}
	for _, i := range lh.approvals {
		le, err := entry(i)
		if err != nil {
			return hunt, err
		}
		hl.Approvals = append(hl.Approvals, le)
	}
	hunt.Log = hl
	return hunt, nil
}

// buildReply is the harness's sync reply: its current checkpoint, the
// consistency proof from req.LogSize, and the hunts with their proofs.
func (h *harness) buildReply(req wire.SyncRequest) wire.SyncReply {
	ctx := context.Background()
	h.mu.Lock()
	defer h.mu.Unlock()
	reply := wire.SyncReply{Hunts: []wire.Hunt{}}
	cp, err := h.tl.Checkpoint(ctx)
	if err != nil {
		h.logs = append(h.logs, "TEST: checkpoint: "+err.Error())
		return reply
	}
	reply.Checkpoint = cp
	n, _ := h.tl.Size(ctx)
	if req.LogSize > 0 && req.LogSize < n {
		p, err := h.tl.ConsistencyProof(ctx, req.LogSize, n)
		if err != nil {
			h.logs = append(h.logs, "TEST: consistency proof: "+err.Error())
		}
		for _, x := range p {
			reply.Consistency = append(reply.Consistency, append([]byte(nil), x[:]...))
		}
	}
	for _, hunt := range h.syncHunts {
		if lh := h.inLog[hunt.ID]; lh != nil {
			var err error
			if hunt, err = withLog(h.tl, hunt, lh, n); err != nil {
				h.logs = append(h.logs, "TEST: proofs: "+err.Error())
			}
		}
		if h.tamper != nil {
			h.tamper(&hunt)
		}
		reply.Hunts = append(reply.Hunts, hunt)
	}
	if h.tamperReply != nil {
		h.tamperReply(&reply)
	}
	return reply
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	srvKey, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	srvPub, _ := srvKey.PublicKey()
	h := &harness{t: t, prefix: fmt.Sprintf("t%d", time.Now().UnixNano()%1e9), token: "tok-" + randomHex(t),
		approvers: map[string]*approverKey{}, inLog: map[string]*loggedHunt{}, minApprovals: 1}
	logKey := newKey(t, "vigil-test-log")
	h.logKey, h.logSigner, h.logVKey = logKey, logKey.signer, logKey.vkey
	h.tl = newTestLog(t, logKey)
	for _, n := range []string{"alice", "bob", "tester", "mallory"} {
		h.approvers[n] = newKey(t, n)
	}
	// mallory's key is not one the server lists: the agent's policy does
	// not trust it.
	for _, n := range []string{"alice", "bob", "tester"} {
		h.enrollApprovers = append(h.enrollApprovers, h.approvers[n].vkey)
	}
	h.base = &server.Options{
		Host:       "127.0.0.1",
		Port:       -1,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		NoLog:      true,
		NoSigs:     true,
		MaxPayload: 4 << 20, // so that an oversized message reaches the agent
		Nkeys:      []*server.NkeyUser{{Nkey: srvPub}},
	}
	ns, err := server.NewServer(h.base.Clone())
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() { h.server().Shutdown() })
	if !ns.ReadyForConnections(waitLimit) {
		t.Fatal("nats server not ready")
	}
	h.ns = ns
	h.nc, err = nats.Connect(ns.ClientURL(), nats.Nkey(srvPub, srvKey.Sign), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.nc.Close)

	ctx := context.Background()
	js, err := jetstream.New(h.nc)
	if err != nil {
		t.Fatal(err)
	}
	stream := wire.StreamName(h.prefix)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:       stream,
		Subjects:   []string{wire.AllStatus(h.prefix), wire.AllResults(h.prefix)},
		Duplicates: wire.DuplicateWindow,
		Storage:    jetstream.FileStorage, // survives restartNATS
	}); err != nil {
		t.Fatal(err)
	}
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		c := captured{Subject: m.Subject(), MsgID: m.Headers().Get(nats.MsgIdHdr), Data: append([]byte(nil), m.Data()...)}
		if strings.HasSuffix(c.Subject, ".status") {
			var st wire.Status
			if err := wire.Decode(c.Data, &st); err != nil {
				h.logf("TEST: bad status from the agent: %v", err)
			} else {
				c.Status = &st
			}
		} else {
			var b wire.ResultBatch
			if err := wire.Decode(c.Data, &b); err != nil {
				h.logf("TEST: bad batch from the agent: %v", err)
			} else {
				c.Batch = &b
			}
		}
		h.mu.Lock()
		h.msgs = append(h.msgs, c)
		h.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)

	if _, err := h.nc.Subscribe(wire.AllSync(h.prefix), func(m *nats.Msg) {
		var req wire.SyncRequest
		if err := wire.Decode(m.Data, &req); err != nil {
			h.logf("TEST: bad sync request: %v", err)
			m.Respond([]byte(`{"hunts":[],"error":"bad request"}`))
			return
		}
		h.mu.Lock()
		h.syncReqs = append(h.syncReqs, req)
		h.syncRaw = append(h.syncRaw, append([]byte(nil), m.Data...))
		h.mu.Unlock()
		// Like a server that has not yet seen the terminal statuses:
		// the hunts come back every time, Known or not.
		reply := h.buildReply(req)
		data, _ := wire.Encode(reply)
		m.Respond(data)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.nc.Subscribe(wire.AllHello(h.prefix), func(m *nats.Msg) {
		var hello wire.Hello
		if err := wire.Decode(m.Data, &hello); err != nil {
			h.logf("TEST: bad hello: %v", err)
			return
		}
		h.mu.Lock()
		h.hellos = append(h.hellos, hello)
		h.helloRaw = append(h.helloRaw, append([]byte(nil), m.Data...))
		h.mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	if err := h.nc.Flush(); err != nil {
		t.Fatal(err)
	}

	h.web = httptest.NewServer(http.HandlerFunc(h.enroll))
	t.Cleanup(h.web.Close)
	t.Cleanup(func() {
		if t.Failed() {
			h.mu.Lock()
			defer h.mu.Unlock()
			for _, l := range h.logs {
				t.Log(l)
			}
		}
	})
	return h
}

func randomHex(t *testing.T) string {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	sum := sha256.Sum256([]byte(pub))
	return hex.EncodeToString(sum[:8])
}

// logf collects the agent's log lines (and the harness's own).
func (h *harness) logf(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.logs = append(h.logs, fmt.Sprintf(format, args...))
}

func (h *harness) logged(sub string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range h.logs {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

// enroll is the enrollment endpoint: it admits the agent's key to NATS with
// exactly the agent's permissions.
func (h *harness) enroll(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]string{"error": msg})
	}
	if r.Method != http.MethodPost || r.URL.Path != EnrollPath {
		fail(http.StatusNotFound, "no such route")
		return
	}
	var req wire.EnrollRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail(http.StatusBadRequest, "malformed request")
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.enrollReq = append(h.enrollReq, req)
	if req.Token != h.token {
		fail(http.StatusUnauthorized, "unknown or expired token")
		return
	}
	if !nkeys.IsValidPublicUserKey(req.PublicKey) {
		fail(http.StatusBadRequest, "bad public key")
		return
	}
	h.enrolls++
	h.agentN++
	id := fmt.Sprintf("agent-%d", h.agentN)
	perms := wire.AgentPermissions(h.prefix, id)
	opts := h.base.Clone()
	opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: req.PublicKey, Permissions: &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: perms.Publish},
		Subscribe: &server.SubjectPermission{Allow: perms.Subscribe},
	}})
	if err := h.ns.ReloadOptions(opts.Clone()); err != nil { // h.mu is held
		fail(http.StatusInternalServerError, "nats reload: "+err.Error())
		return
	}
	h.base = opts
	labels := map[string]string{"site": "test"}
	for k, v := range req.Labels {
		labels[k] = v
	}
	json.NewEncoder(w).Encode(wire.EnrollReply{AgentID: id, NATS: []string{h.ns.ClientURL()}, Prefix: h.prefix, Labels: labels,
		LogKey: h.logVKey, Approvers: h.enrollApprovers, MinApprovals: h.minApprovals})
}

// running is an agent started by startAgent.
type running struct {
	a        *Agent
	stop     func() error
	syncBase int // sync requests seen before the agent started
}

// startAgent runs an agent on dir; tune may adjust it before Run.
func (h *harness) startAgent(dir, token string, tune func(*Agent)) *running {
	h.t.Helper()
	syncBase := h.syncCount()
	a, err := New(Options{StateDir: dir, Server: h.web.URL, Token: token, Labels: map[string]string{"role": "tester"}, Version: "v-test", Logf: h.logf})
	if err != nil {
		h.t.Fatal(err)
	}
	a.syncEvery = 100 * time.Millisecond
	a.helloEvery = time.Second
	if tune != nil {
		tune(a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(waitLimit):
				runErr = fmt.Errorf("Run did not return within %v of its context's end", waitLimit)
			}
		})
		return runErr
	}
	h.t.Cleanup(func() {
		stop()
		a.Close()
	})
	return &running{a: a, stop: stop, syncBase: syncBase}
}

// ready waits until agent r has enrolled and subscribed: its first sync
// request comes after its subscriptions, so a hunt pushed then reaches it.
func (h *harness) ready(r *running) {
	h.t.Helper()
	h.waitFor("the agent's first sync", func() bool { return r.a.Enrolled() && h.syncCount() > r.syncBase })
}

// waitFor polls cond until it holds.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// huntMsgs returns the messages of hunt id, in stream order.
func (h *harness) huntMsgs(id string) (statuses []wire.Status, batches []wire.ResultBatch) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.msgs {
		if c.Status != nil && c.Status.HuntID == id {
			statuses = append(statuses, *c.Status)
		}
		if c.Batch != nil && c.Batch.HuntID == id {
			batches = append(batches, *c.Batch)
		}
	}
	return
}

// terminal waits for hunt id's terminal status and returns its messages.
func (h *harness) terminal(id string) (wire.Status, []wire.Status, []wire.ResultBatch) {
	h.t.Helper()
	var st []wire.Status
	var b []wire.ResultBatch
	h.waitFor("hunt "+id+" to end", func() bool {
		st, b = h.huntMsgs(id)
		return len(st) > 0 && wire.Terminal(st[len(st)-1].State)
	})
	return st[len(st)-1], st, b
}

// syncCount is the number of sync requests seen.
func (h *harness) syncCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.syncReqs)
}

// waitSyncs waits for n more sync requests after now.
func (h *harness) waitSyncs(n int) wire.SyncRequest {
	h.t.Helper()
	start := h.syncCount()
	h.waitFor(fmt.Sprintf("%d more sync requests", n), func() bool { return h.syncCount() >= start+n })
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.syncReqs[len(h.syncReqs)-1]
}

// setSync makes the sync replies carry hunts (logged first, with the
// default approval, unless logged already).
func (h *harness) setSync(hunts ...wire.Hunt) {
	for _, hunt := range hunts {
		h.logHunt(hunt, huntLog{})
	}
	h.mu.Lock()
	h.syncHunts = hunts
	h.mu.Unlock()
}

// offer logs hunt as o says (unless logged already) and adds it to the
// sync replies.
func (h *harness) offer(hunt wire.Hunt, o huntLog) {
	h.logHunt(hunt, o)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, x := range h.syncHunts {
		if x.ID == hunt.ID {
			return
		}
	}
	h.syncHunts = append(h.syncHunts, hunt)
}

// push does what the server does with a new hunt: logs it (with the
// default approval, unless logged already), adds it to the sync replies
// and publishes it, without its log proofs, on the agent's hunt subject.
func (h *harness) push(agentID string, hunt wire.Hunt) {
	h.t.Helper()
	h.offer(hunt, huntLog{})
	data, err := wire.Encode(hunt)
	if err != nil {
		h.t.Fatal(err)
	}
	h.pushRaw(wire.HuntSubject(h.prefix, agentID), data)
}

func (h *harness) pushRaw(subject string, data []byte) {
	h.t.Helper()
	if err := h.nc.Publish(subject, data); err != nil {
		h.t.Fatal(err)
	}
	if err := h.nc.Flush(); err != nil {
		h.t.Fatal(err)
	}
}

// allRaw returns every byte the agent sent over NATS.
func (h *harness) allRaw() [][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out [][]byte
	for _, c := range h.msgs {
		out = append(out, c.Data, []byte(c.MsgID))
	}
	out = append(out, h.helloRaw...)
	return append(out, h.syncRaw...)
}

func (h *harness) noneContains(t *testing.T, markers ...string) {
	t.Helper()
	for _, raw := range h.allRaw() {
		for _, m := range markers {
			if bytes.Contains(raw, []byte(m)) {
				t.Errorf("a message from the agent contains %q: %s", m, raw)
			}
		}
	}
}

// makeHunt builds a valid hunt.
func makeHunt(id, rules string, paths ...string) wire.Hunt {
	sum := sha256.Sum256([]byte(rules))
	now := time.Now().UTC()
	return wire.Hunt{
		ID: id, Name: id, Rules: rules, RulesSHA256: hex.EncodeToString(sum[:]), Paths: paths,
		Why: "test", CreatedBy: "tester", Created: now, Expires: now.Add(time.Hour),
	}
}

// blockOn returns a scan hook that blocks the scan of hunt id on its n-th
// event (from 1) until the scan's context ends, and a channel closed when
// it starts blocking.
func blockOn(id string, n int) (func(context.Context, string, scan.Event), chan struct{}) {
	blocked := make(chan struct{})
	var mu sync.Mutex
	seen := 0
	return func(ctx context.Context, hunt string, e scan.Event) {
		if hunt != id {
			return
		}
		mu.Lock()
		seen++
		k := seen
		mu.Unlock()
		if k != n {
			return
		}
		close(blocked)
		select {
		case <-ctx.Done():
		case <-time.After(waitLimit):
		}
	}, blocked
}

func (h *harness) server() *server.Server {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ns
}

// restartNATS stops the NATS server and starts it again on the same port
// with the same options (and JetStream store).
func (h *harness) restartNATS() {
	h.t.Helper()
	old := h.server()
	port := old.Addr().(*net.TCPAddr).Port
	old.Shutdown()
	old.WaitForShutdown()
	h.mu.Lock()
	opts := h.base.Clone()
	h.mu.Unlock()
	opts.Port = port
	ns, err := server.NewServer(opts)
	if err != nil {
		h.t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(waitLimit) {
		h.t.Fatal("restarted nats server not ready")
	}
	h.mu.Lock()
	h.ns = ns
	h.mu.Unlock()
}
