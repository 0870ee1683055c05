package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

const testTimeout = 20 * time.Second

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// startBus starts an embedded bus on a random port in a temporary data
// directory (unless o says otherwise) and shuts it down at cleanup.
func startBus(t testing.TB, o Options) *Bus {
	t.Helper()
	if o.URL == "" {
		if o.DataDir == "" {
			o.DataDir = t.TempDir()
		}
		if o.Port == 0 {
			o.Port = -1
		}
	}
	b, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := b.Start(testCtx(t)); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return b
}

// testAgent is an agent identity: its ID and NKey pair.
type testAgent struct {
	id string
	kp nkeys.KeyPair
}

func (a *testAgent) pub(t testing.TB) string {
	t.Helper()
	p, err := a.kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newAgent(t testing.TB, id string) *testAgent {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	return &testAgent{id: id, kp: kp}
}

// allowedAgent creates an agent and allows it on b.
func allowedAgent(t testing.TB, b *Bus, id string) *testAgent {
	t.Helper()
	a := newAgent(t, id)
	if err := b.AllowAgent(id, a.pub(t)); err != nil {
		t.Fatalf("AllowAgent(%s): %v", id, err)
	}
	return a
}

// errLog collects a connection's asynchronous errors.
type errLog struct {
	mu   sync.Mutex
	errs []error
	ch   chan struct{} // signalled on each new error
}

func newErrLog() *errLog { return &errLog{ch: make(chan struct{}, 1000)} }

func (l *errLog) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
	select {
	case l.ch <- struct{}{}:
	default:
	}
}

// waitFor waits until an error containing want arrives, and fails the test
// if none does.
func (l *errLog) waitFor(t testing.TB, want string) {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		l.mu.Lock()
		for _, err := range l.errs {
			if strings.Contains(err.Error(), want) {
				l.mu.Unlock()
				return
			}
		}
		l.mu.Unlock()
		select {
		case <-l.ch:
		case <-deadline:
			t.Fatalf("no asynchronous error containing %q; got %v", want, l.all())
		}
	}
}

func (l *errLog) all() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

// connectAs connects to url as agent a, signing the nonce with signer (a's
// own key pair unless another is given to forge a signature).
func connectAs(url string, a *testAgent, signer nkeys.KeyPair, extra ...nats.Option) (*nats.Conn, error) {
	pub, err := a.kp.PublicKey()
	if err != nil {
		return nil, err
	}
	if signer == nil {
		signer = a.kp
	}
	opts := []nats.Option{
		nats.Nkey(pub, func(nonce []byte) ([]byte, error) { return signer.Sign(nonce) }),
		nats.CustomInboxPrefix(fmt.Sprintf("_I.%s", a.id)),
		nats.Name("agent-" + a.id),
		nats.Timeout(testTimeout),
	}
	return nats.Connect(url, append(opts, extra...)...)
}

// mustConnect connects agent a to b and returns the connection and its
// error log; the connection is closed at cleanup.
func mustConnect(t testing.TB, b *Bus, a *testAgent, extra ...nats.Option) (*nats.Conn, *errLog) {
	t.Helper()
	el := newErrLog()
	nc, err := connectAs(b.ClientURLs()[0], a, nil, append([]nats.Option{nats.ErrorHandler(el.handler)}, extra...)...)
	if err != nil {
		t.Fatalf("agent %s connect: %v", a.id, err)
	}
	t.Cleanup(nc.Close)
	return nc, el
}

// pubAck is JetStream's reply to a publish.
type pubAck struct {
	Stream    string `json:"stream"`
	Seq       uint64 `json:"seq"`
	Duplicate bool   `json:"duplicate"`
	Error     *struct {
		Code        int    `json:"code"`
		Description string `json:"description"`
	} `json:"error"`
}

// testMsgID is a Nats-Msg-Id for tests of JetStream's duplicate detection.
// Agents send none (see wire: the detection spans the whole stream).
func testMsgID(agent, hunt, kind string, seq uint64) string {
	return fmt.Sprintf("%s/%s/%s/%d", agent, hunt, kind, seq)
}

// publishAcked publishes data on subject, with a Nats-Msg-Id unless msgID
// is empty, as a plain request (no $JS.API) the way an agent does, and
// returns JetStream's ack.
func publishAcked(nc *nats.Conn, subject, msgID string, data []byte) (pubAck, error) {
	m := nats.NewMsg(subject)
	m.Data = data
	if msgID != "" {
		m.Header.Set(nats.MsgIdHdr, msgID)
	}
	reply, err := nc.RequestMsg(m, testTimeout)
	if err != nil {
		return pubAck{}, err
	}
	var ack pubAck
	if err := json.Unmarshal(reply.Data, &ack); err != nil {
		return pubAck{}, fmt.Errorf("ack %q: %w", reply.Data, err)
	}
	if ack.Error != nil {
		return ack, fmt.Errorf("ack error %d: %s", ack.Error.Code, ack.Error.Description)
	}
	if ack.Stream == "" || ack.Seq == 0 {
		return ack, errors.New("ack without stream or sequence: " + string(reply.Data))
	}
	return ack, nil
}
