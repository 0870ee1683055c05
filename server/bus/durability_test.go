package bus

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"vigil/wire"
)

// TestDurability: results acknowledged by JetStream survive a restart of
// the bus on the same data directory, and duplicates are dropped.
func TestDurability(t *testing.T) {
	const n = 50
	dir := t.TempDir()
	p := "dur"

	b1, err := New(Options{DataDir: dir, Port: -1, Prefix: p})
	if err != nil {
		t.Fatal(err)
	}
	if err := b1.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b1.Shutdown(context.Background()) }) // in case of an early failure
	a := allowedAgent(t, b1, "a1")
	nc, err := connectAs(b1.ClientURLs()[0], a, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		ack, err := publishAcked(nc, wire.ResultsSubject(p, a.id), testMsgID(a.id, "h1", "results", uint64(i)), fmt.Appendf(nil, "batch-%d", i))
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if ack.Duplicate {
			t.Fatalf("publish %d acked as a duplicate", i)
		}
	}
	// The same message ID again, within the window: dropped.
	ack, err := publishAcked(nc, wire.ResultsSubject(p, a.id), testMsgID(a.id, "h1", "results", 1), []byte("again"))
	if err != nil {
		t.Fatal(err)
	}
	if !ack.Duplicate {
		t.Errorf("duplicate Nats-Msg-Id not detected: %+v", ack)
	}
	nc.Close()
	if err := b1.Shutdown(testCtx(t)); err != nil {
		t.Fatal(err)
	}

	// A new bus on the same directory has all n messages.
	// (Agents may be allowed before Start, as the server does at boot.)
	b2, err := New(Options{DataDir: dir, Port: -1, Prefix: p})
	if err != nil {
		t.Fatal(err)
	}
	if err := b2.AllowAgent(a.id, a.pub(t)); err != nil {
		t.Fatal(err)
	}
	if err := b2.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b2.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	nc2, _ := mustConnect(t, b2, a)
	// Duplicate detection survives the restart too.
	ack, err = publishAcked(nc2, wire.ResultsSubject(p, a.id), testMsgID(a.id, "h1", "results", 2), []byte("again"))
	if err != nil {
		t.Fatal(err)
	}
	if !ack.Duplicate {
		t.Errorf("duplicate after restart not detected: %+v", ack)
	}

	seen := map[string]bool{}
	ctx := testCtx(t)
	for len(seen) < n {
		batch, err := b2.Consumer().Fetch(n, jetstream.FetchMaxWait(testTimeout))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			if m.Subject() != wire.ResultsSubject(p, a.id) {
				t.Errorf("subject %s", m.Subject())
			}
			d := string(m.Data())
			if seen[d] {
				t.Errorf("%s delivered twice", d)
			}
			seen[d] = true
			if err := m.DoubleAck(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			t.Fatal(err)
		}
		if got == 0 {
			t.Fatalf("after restart, the consumer delivered %d of %d messages", len(seen), n)
		}
	}
	for i := 1; i <= n; i++ {
		if !seen[fmt.Sprintf("batch-%d", i)] {
			t.Errorf("batch-%d lost", i)
		}
	}
	if len(seen) != n {
		t.Errorf("got %d distinct messages, want %d", len(seen), n)
	}
	// Work-queue retention: acknowledged messages leave the stream.
	if left := streamMsgs(t, b2); left != 0 {
		t.Errorf("%d messages left in the stream after acks", left)
	}
}

// TestTLS: with a TLS config, agents must use TLS.
func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	b := startBus(t, Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
	u := b.ClientURLs()[0]
	if !strings.HasPrefix(u, "tls://") {
		t.Fatalf("ClientURLs = %v, want tls://", b.ClientURLs())
	}
	a := allowedAgent(t, b, "a1")
	nc, err := connectAs(u, a, nil, nats.Secure(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatalf("TLS agent: %v", err)
	}
	if _, err := nc.TLSConnectionState(); err != nil {
		t.Errorf("connection is not TLS: %v", err)
	}
	if _, err := publishAcked(nc, wire.ResultsSubject(b.Prefix(), a.id), "m1", []byte("x")); err != nil {
		t.Errorf("publish over TLS: %v", err)
	}
	nc.Close()
	// Plain text is refused.
	plain := "nats://" + strings.TrimPrefix(u, "tls://")
	if nc, err := connectAs(plain, a, nil); err == nil {
		nc.Close()
		t.Error("a plain-text connection was accepted")
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "vigil test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: c}, pool
}

// TestOptions checks New's validation and defaults.
func TestOptions(t *testing.T) {
	bad := []Options{
		{},                               // embedded without a data directory
		{DataDir: "x", Prefix: "a..b"},   // empty token
		{DataDir: "x", Prefix: "a.>"},    // wildcard
		{DataDir: "x", Prefix: "a b"},    // space
		{DataDir: "x", Prefix: "a/b"},    // not a stream-name character
		{DataDir: "x", Port: 70000},      // port
		{URL: "://nope"},                 // URL
		{URL: "nats://h:1", Replicas: 9}, // replicas
	}
	for _, o := range bad {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	b, err := New(Options{DataDir: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if b.Prefix() != wire.Prefix || !b.Embedded() || b.o.Port != DefaultPort || b.o.Host != DefaultHost {
		t.Errorf("defaults: prefix %q embedded %v port %d host %q", b.Prefix(), b.Embedded(), b.o.Port, b.o.Host)
	}
	if b.StreamName() != "VIGIL_FROM" {
		t.Errorf("StreamName = %q", b.StreamName())
	}
	// A password in the URL never reaches agents.
	e, err := New(Options{URL: "nats://user:secret@127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if e.Embedded() {
		t.Error("external bus reports embedded")
	}
	if _, err := New(Options{URL: "nats://user:secret@[::1"}); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("bad URL error %v", err)
	}
	// Start fails cleanly when the port is taken.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy, err := New(Options{DataDir: t.TempDir(), Port: l.Addr().(*net.TCPAddr).Port})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := busy.Start(ctx); err == nil {
		t.Error("Start on a busy port succeeded")
		_ = busy.Shutdown(ctx)
	} else {
		t.Logf("busy port: %v", err)
		if err := busy.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown after failed Start: %v", err)
		}
	}
}
