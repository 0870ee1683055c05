package bus

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"vigil/wire"
)

// TestIsolation checks what the product promises: an agent can neither
// read another agent's work nor forge another agent's messages, and can do
// its own job.
func TestIsolation(t *testing.T) {
	logs := &logCapture{}
	var b *Bus
	// Registered first, so it runs last: after the bus has shut down.
	t.Cleanup(func() {
		lines := logs.all()
		if len(lines) == 0 {
			t.Error("Logf received nothing")
		}
		for _, l := range lines {
			if strings.Contains(l, b.auth.serverPass) {
				t.Errorf("log line contains the server's password: %s", l)
			}
		}
		if testing.Verbose() {
			for _, l := range lines {
				t.Log(l)
			}
		}
	})
	b = startBus(t, Options{Logf: logs.logf})
	p := b.Prefix()
	a := allowedAgent(t, b, "agent-a")
	bb := allowedAgent(t, b, "agent-b")
	ncA, errsA := mustConnect(t, b, a)
	ncB, _ := mustConnect(t, b, bb)
	sc := b.Conn()

	if n := b.AgentConnections(); n != 2 {
		t.Errorf("AgentConnections = %d, want 2", n)
	}

	// The server sees everything under the prefix.
	all, err := sc.SubscribeSync(p + ".>")
	if err != nil {
		t.Fatal(err)
	}
	// Unread messages on a synchronous subscription would hold up the
	// bus's drain at shutdown.
	t.Cleanup(func() { _ = all.Unsubscribe() })
	if err := sc.Flush(); err != nil {
		t.Fatal(err)
	}

	t.Run("subscribe", func(t *testing.T) {
		forbidden := []string{
			wire.HuntSubject(p, bb.id),
			wire.CancelSubject(p, bb.id),
			p + ".to.*.hunt",
			p + ".to.>",
			p + ".from." + bb.id + ".>",
			wire.InboxPrefix(bb.id) + ".>",
			"_INBOX.>",
			">",
			"$JS.API.>",
			"$SYS.>",
		}
		var spies []*nats.Subscription
		for _, subj := range forbidden {
			s, err := ncA.SubscribeSync(subj)
			if err != nil {
				t.Fatalf("SubscribeSync(%s): %v", subj, err)
			}
			spies = append(spies, s)
		}
		own, err := ncA.SubscribeSync(wire.HuntSubject(p, a.id))
		if err != nil {
			t.Fatal(err)
		}
		victim, err := ncB.SubscribeSync(wire.HuntSubject(p, bb.id))
		if err != nil {
			t.Fatal(err)
		}
		for _, nc := range []*nats.Conn{ncA, ncB} {
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		for _, subj := range forbidden {
			errsA.waitFor(t, `Permissions Violation for Subscription to "`+subj+`"`)
		}

		// The server sends B a hunt, then A one. A gets its own only.
		if err := sc.Publish(wire.HuntSubject(p, bb.id), []byte("secret-for-b")); err != nil {
			t.Fatal(err)
		}
		if err := sc.Publish(wire.HuntSubject(p, a.id), []byte("for-a")); err != nil {
			t.Fatal(err)
		}
		if err := sc.Flush(); err != nil {
			t.Fatal(err)
		}
		m, err := victim.NextMsg(testTimeout)
		if err != nil || string(m.Data) != "secret-for-b" {
			t.Fatalf("B did not get its hunt: %v %v", m, err)
		}
		m, err = own.NextMsg(testTimeout)
		if err != nil || string(m.Data) != "for-a" {
			t.Fatalf("A did not get its hunt: %v %v", m, err)
		}
		// Messages to one connection arrive in order: had any spy
		// subscription been granted, B's hunt would be queued on it now.
		for i, s := range spies {
			if n, _, _ := s.Pending(); n != 0 {
				t.Errorf("A's subscription to %s received %d messages", forbidden[i], n)
			}
		}
		for _, s := range append(spies, own) {
			_ = s.Unsubscribe()
		}
		_ = victim.Unsubscribe()
	})

	t.Run("publish", func(t *testing.T) {
		drain(all)
		forged := []string{
			wire.ResultsSubject(p, bb.id),
			wire.StatusSubject(p, bb.id),
			wire.HelloSubject(p, bb.id),
			wire.SyncSubject(p, bb.id),
			wire.HuntSubject(p, bb.id), // pushing work to another agent
			wire.HuntSubject(p, a.id),  // or to itself: only the server sends hunts
			"$JS.API.STREAM.PURGE." + b.StreamName(),
			"$JS.API.STREAM.DELETE." + b.StreamName(),
			"$JS.API.CONSUMER.MSG.NEXT." + b.StreamName() + "." + ConsumerName,
		}
		victim, err := ncB.SubscribeSync(wire.HuntSubject(p, bb.id))
		if err != nil {
			t.Fatal(err)
		}
		if err := ncB.Flush(); err != nil {
			t.Fatal(err)
		}
		jsBefore := streamMsgs(t, b)
		for _, subj := range forged {
			if err := ncA.Publish(subj, []byte("forged")); err != nil {
				t.Fatal(err)
			}
		}
		if err := ncA.Publish(wire.HelloSubject(p, a.id), []byte("marker")); err != nil {
			t.Fatal(err)
		}
		if err := ncA.Flush(); err != nil {
			t.Fatal(err)
		}
		for _, subj := range forged {
			errsA.waitFor(t, `Permissions Violation for Publish to "`+subj+`"`)
		}
		// Messages from one connection arrive in order: the first thing
		// the server sees from A must be the marker.
		m, err := all.NextMsg(testTimeout)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != wire.HelloSubject(p, a.id) || string(m.Data) != "marker" {
			t.Fatalf("server saw %s %q before A's marker", m.Subject, m.Data)
		}
		// B's hunt subscription got nothing from A: send B a real hunt and
		// check it is the first thing B sees.
		if err := sc.Publish(wire.HuntSubject(p, bb.id), []byte("real")); err != nil {
			t.Fatal(err)
		}
		if m, err := victim.NextMsg(testTimeout); err != nil || string(m.Data) != "real" {
			t.Fatalf("B saw %v (%v) before the server's hunt", m, err)
		}
		_ = victim.Unsubscribe()
		if after := streamMsgs(t, b); after != jsBefore {
			t.Errorf("stream went from %d to %d messages after forged publishes", jsBefore, after)
		}
	})

	t.Run("own work", func(t *testing.T) {
		drain(all)
		// The server answers sync requests (as the core will).
		syncSub, err := sc.Subscribe(wire.AllSync(p), func(m *nats.Msg) {
			id, err := wire.AgentFromSubject(p, m.Subject)
			if err != nil {
				return
			}
			_ = m.Respond([]byte("hunts-for-" + id))
		})
		if err != nil {
			t.Fatal(err)
		}
		defer syncSub.Unsubscribe()
		if err := sc.Flush(); err != nil {
			t.Fatal(err)
		}
		reply, err := ncA.Request(wire.SyncSubject(p, a.id), []byte("{}"), testTimeout)
		if err != nil {
			t.Fatalf("A's sync request: %v", err)
		}
		if string(reply.Data) != "hunts-for-"+a.id {
			t.Fatalf("sync reply %q", reply.Data)
		}

		// Results and statuses are acknowledged by JetStream.
		ack, err := publishAcked(ncA, wire.ResultsSubject(p, a.id), testMsgID(a.id, "h1", "results", 1), []byte("r1"))
		if err != nil {
			t.Fatalf("A's results: %v", err)
		}
		if ack.Stream != b.StreamName() || ack.Duplicate {
			t.Errorf("ack %+v", ack)
		}
		if _, err := publishAcked(ncA, wire.StatusSubject(p, a.id), testMsgID(a.id, "h1", "status", 1), []byte("s1")); err != nil {
			t.Fatalf("A's status: %v", err)
		}
		// The server reads them from the ingest consumer.
		got := map[string]string{}
		batch, err := b.Consumer().Fetch(2, jetstream.FetchMaxWait(testTimeout))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			got[m.Subject()] = string(m.Data())
			if err := m.DoubleAck(testCtx(t)); err != nil {
				t.Fatal(err)
			}
		}
		if batch.Error() != nil {
			t.Fatal(batch.Error())
		}
		if got[wire.ResultsSubject(p, a.id)] != "r1" || got[wire.StatusSubject(p, a.id)] != "s1" {
			t.Errorf("ingest got %v", got)
		}
	})

	t.Run("refused", func(t *testing.T) {
		url := b.ClientURLs()[0]
		stranger := newAgent(t, "stranger")
		if nc, err := connectAs(url, stranger, nil); err == nil {
			nc.Close()
			t.Error("an unknown NKey connected")
		} else if !errors.Is(err, nats.ErrAuthorization) {
			t.Errorf("unknown NKey: %v, want authorization violation", err)
		}
		// A's public key with a signature made by another key.
		if nc, err := connectAs(url, a, stranger.kp); err == nil {
			nc.Close()
			t.Error("a wrong signature connected")
		} else if !errors.Is(err, nats.ErrAuthorization) {
			t.Errorf("wrong signature: %v, want authorization violation", err)
		}
		// No credentials at all.
		if nc, err := nats.Connect(url, nats.Timeout(testTimeout)); err == nil {
			nc.Close()
			t.Error("a client without credentials connected")
		}
		// The server's own user and password, but over the network.
		if nc, err := nats.Connect(url, nats.UserInfo(b.auth.serverUser, b.auth.serverPass), nats.Timeout(testTimeout)); err == nil {
			nc.Close()
			t.Error("the server's credentials were accepted from the network")
		}
		// A's NKey plus a user name.
		pub := a.pub(t)
		if nc, err := nats.Connect(url, nats.UserInfo("x", "y"), nats.Nkey(pub, a.kp.Sign), nats.Timeout(testTimeout)); err == nil {
			nc.Close()
			t.Error("an NKey with a user name connected")
		}
	})

	t.Run("revoke", func(t *testing.T) {
		c := allowedAgent(t, b, "agent-c")
		closed := make(chan struct{})
		ncC, _ := mustConnect(t, b, c, nats.NoReconnect(), nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
		if err := ncC.Flush(); err != nil {
			t.Fatal(err)
		}
		if n := b.AgentConnections(); n != 3 {
			t.Errorf("AgentConnections = %d, want 3", n)
		}
		b.RevokeAgent(c.id)
		select {
		case <-closed:
		case <-time.After(testTimeout):
			t.Fatal("revoked agent still connected")
		}
		if nc, err := connectAs(b.ClientURLs()[0], c, nil); err == nil {
			nc.Close()
			t.Fatal("revoked agent reconnected")
		} else if !errors.Is(err, nats.ErrAuthorization) {
			t.Errorf("revoked agent: %v, want authorization violation", err)
		}
		waitConnections(t, b, 2)
		// Revoking again, or an unknown agent, is harmless.
		b.RevokeAgent(c.id)
		b.RevokeAgent("nobody")
		// Allowed again, it connects again.
		if err := b.AllowAgent(c.id, c.pub(t)); err != nil {
			t.Fatal(err)
		}
		nc, err := connectAs(b.ClientURLs()[0], c, nil)
		if err != nil {
			t.Fatalf("re-allowed agent: %v", err)
		}
		nc.Close()
	})
}

// TestAllowAgent checks AllowAgent's validation, idempotence and key
// replacement.
func TestAllowAgent(t *testing.T) {
	b := startBus(t, Options{})
	a := newAgent(t, "a1")
	pub := a.pub(t)
	seed, err := a.kp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	bad := []struct{ id, key string }{
		{"", pub},
		{"Upper", pub},
		{"a.b", pub},
		{"a>", pub},
		{strings.Repeat("x", 65), pub},
		{"a1", ""},
		{"a1", "garbage"},
		{"a1", string(seed)},
		{"a1", "A" + pub[1:]}, // not a user key
	}
	for _, c := range bad {
		if err := b.AllowAgent(c.id, c.key); err == nil {
			t.Errorf("AllowAgent(%q, %q) accepted", c.id, c.key)
		} else if strings.Contains(err.Error(), string(seed)) {
			t.Errorf("error message contains the seed")
		}
	}
	if err := b.AllowAgent("a1", pub); err != nil {
		t.Fatal(err)
	}
	if err := b.AllowAgent("a1", pub); err != nil {
		t.Fatalf("AllowAgent is not idempotent: %v", err)
	}
	if err := b.AllowAgent("a2", pub); err == nil {
		t.Error("one key allowed for two agents")
	}

	// A new key for a1 closes the connection made with the old one and
	// refuses the old key.
	closed := make(chan struct{})
	_, _ = mustConnect(t, b, a, nats.NoReconnect(), nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	a2 := newAgent(t, "a1")
	if err := b.AllowAgent("a1", a2.pub(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(testTimeout):
		t.Fatal("connection with the replaced key is still open")
	}
	if nc, err := connectAs(b.ClientURLs()[0], a, nil); err == nil {
		nc.Close()
		t.Error("replaced key still accepted")
	}
	nc, err := connectAs(b.ClientURLs()[0], a2, nil)
	if err != nil {
		t.Fatalf("new key refused: %v", err)
	}
	nc.Close()
	// The old key is free for another agent now.
	if err := b.AllowAgent("a2", pub); err != nil {
		t.Errorf("freed key: %v", err)
	}
}

func drain(s *nats.Subscription) {
	for {
		if _, err := s.NextMsg(0); err != nil {
			return
		}
	}
}

func streamMsgs(t *testing.T, b *Bus) uint64 {
	t.Helper()
	st, err := b.JetStream().Stream(testCtx(t), b.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// waitConnections waits until AgentConnections reports n.
func waitConnections(t testing.TB, b *Bus, n int) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		got := b.AgentConnections()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("AgentConnections = %d, want %d", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConnsPerAgent: one agent may hold at most MaxConnsPerAgent
// connections; closed ones stop counting.
func TestConnsPerAgent(t *testing.T) {
	b := startBus(t, Options{})
	a := allowedAgent(t, b, "a1")
	url := b.ClientURLs()[0]
	var conns []*nats.Conn
	for i := 0; i < MaxConnsPerAgent; i++ {
		nc, err := connectAs(url, a, nil, nats.NoReconnect())
		if err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
		defer nc.Close()
		conns = append(conns, nc)
	}
	if nc, err := connectAs(url, a, nil); err == nil {
		nc.Close()
		t.Fatalf("connection %d accepted", MaxConnsPerAgent+1)
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("connection %d: %v, want authorization violation", MaxConnsPerAgent+1, err)
	}
	// Another agent is not affected.
	other := allowedAgent(t, b, "a2")
	nc2, err := connectAs(url, other, nil)
	if err != nil {
		t.Fatalf("other agent: %v", err)
	}
	nc2.Close()
	// Once one closes (and the server has noticed), a new one is admitted.
	conns[0].Close()
	waitConnections(t, b, MaxConnsPerAgent-1)
	nc, err := connectAs(url, a, nil)
	if err != nil {
		t.Fatalf("after a close: %v", err)
	}
	nc.Close()
}

// TestDedupCrossAgent: JetStream's duplicate detection spans the stream,
// not a subject, so a message ID one agent can predict lets another agent
// publish it first and get the genuine message dropped. Agents therefore
// send no Nats-Msg-Id (the server's store keeps each (hunt, agent, seq)
// once): whatever IDs agent A squats, agent B's messages are stored.
func TestDedupCrossAgent(t *testing.T) {
	b := startBus(t, Options{})
	p := b.Prefix()
	a := allowedAgent(t, b, "agent-a")
	v := allowedAgent(t, b, "agent-b")
	ncA, _ := mustConnect(t, b, a)
	ncV, _ := mustConnect(t, b, v)
	for _, squat := range []string{testMsgID(v.id, "h1", "results", 1), ""} {
		if _, err := publishAcked(ncA, wire.ResultsSubject(p, a.id), squat, []byte("squat")); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2; i++ {
		ack, err := publishAcked(ncV, wire.ResultsSubject(p, v.id), "", []byte("genuine"))
		if err != nil {
			t.Fatal(err)
		}
		if ack.Duplicate {
			t.Errorf("agent B's genuine result %d was dropped as a duplicate", i)
		}
	}
}

// logCapture collects log lines.
type logCapture struct {
	mu    sync.Mutex
	lines []string
}

func (l *logCapture) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logCapture) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}
