package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"vigil/wire"
)

const externalNATS = "nats://127.0.0.1:4222"

// needExternalNATS skips the test when the shared NATS server is not
// reachable, unless VIGIL_REQUIRE_SERVICES=1.
func needExternalNATS(t *testing.T) {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:4222", 2*time.Second)
	if err == nil {
		c.Close()
		return
	}
	if os.Getenv("VIGIL_REQUIRE_SERVICES") == "1" {
		t.Fatalf("NATS at 127.0.0.1:4222 unreachable: %v", err)
	}
	t.Skipf("NATS at 127.0.0.1:4222 unreachable: %v", err)
}

// TestExternal runs the bus against the shared NATS server with a random
// prefix and removes its stream afterwards.
func TestExternal(t *testing.T) {
	needExternalNATS(t)
	rnd := make([]byte, 6)
	if _, err := rand.Read(rnd); err != nil {
		t.Fatal(err)
	}
	p := "vigiltest-" + hex.EncodeToString(rnd)
	name := wire.StreamName(p)
	t.Cleanup(func() {
		nc, err := nats.Connect(externalNATS)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := js.DeleteStream(ctx, name); err != nil {
			t.Errorf("cleanup: delete stream %s: %v", name, err)
		}
	})

	// The shared server has no authentication and ignores the user and
	// password; ClientURLs must not pass them on to agents.
	b := startBus(t, Options{URL: "nats://vigil:pw-secret@127.0.0.1:4222", Prefix: p})
	if b.Embedded() {
		t.Error("Embedded() = true")
	}
	if u := b.ClientURLs(); len(u) != 1 || u[0] != externalNATS {
		t.Errorf("ClientURLs = %v", u)
	}
	if n := b.AgentConnections(); n != -1 {
		t.Errorf("AgentConnections = %d, want -1", n)
	}
	if err := b.AllowAgent("a1", "not checked here"); err != nil {
		t.Errorf("AllowAgent in external mode: %v", err)
	}
	if err := b.AllowAgent("Bad ID", ""); err == nil {
		t.Error("AllowAgent accepted a bad ID")
	}
	b.RevokeAgent("a1")

	ctx := testCtx(t)
	st, err := b.JetStream().Stream(ctx, name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	cfg := st.CachedInfo().Config
	if cfg.Retention != jetstream.WorkQueuePolicy || cfg.Storage != jetstream.FileStorage ||
		cfg.Duplicates != wire.DuplicateWindow || cfg.MaxMsgSize != wire.MaxMessage || cfg.MaxAge != StreamMaxAge {
		t.Errorf("stream config %+v", cfg)
	}

	// Publish as an agent would (plain request with a message ID) and
	// consume.
	ack, err := publishAcked(b.Conn(), wire.ResultsSubject(p, "a1"), testMsgID("a1", "h1", "results", 1), []byte("r1"))
	if err != nil {
		t.Fatal(err)
	}
	if ack.Stream != name {
		t.Errorf("acked by stream %s", ack.Stream)
	}
	m, err := b.Consumer().Next(jetstream.FetchMaxWait(testTimeout))
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject() != wire.ResultsSubject(p, "a1") || string(m.Data()) != "r1" {
		t.Errorf("consumed %s %q", m.Subject(), m.Data())
	}
	if err := m.DoubleAck(ctx); err != nil {
		t.Fatal(err)
	}

	// A second bus on the same prefix (a server restart) finds the stream
	// and consumer and updates them.
	b2 := startBus(t, Options{URL: externalNATS, Prefix: p})
	info, err := b2.Consumer().Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Durable != ConsumerName || info.Config.AckPolicy != jetstream.AckExplicitPolicy || info.Config.MaxAckPending != MaxAckPending {
		t.Errorf("consumer config %+v", info.Config)
	}
}
