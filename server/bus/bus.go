// Package bus is the Vigil server's NATS layer: an embedded NATS server
// with JetStream (the default) or a connection to an external NATS
// cluster, the server's own privileged connection, the JetStream stream
// that holds agents' statuses and results, and the durable "ingest"
// consumer the server reads them from.
//
// # Authentication (embedded mode)
//
// The embedded server admits only two kinds of client:
//
//   - agents, each with its own NKey. AllowAgent records an agent's ID and
//     NKey public key; the agent proves it holds the private key by signing
//     the nonce the server sends it (nats.Nkey on the client side). It then
//     gets exactly wire.AgentPermissions: publish on P.from.ID.>, subscribe
//     to P.to.ID.> and its inbox _I.ID.>, and nothing else (no other
//     agent's subjects, no $JS.API, no $SYS). Replies to its requests and
//     the JetStream acknowledgements of its statuses and results arrive in
//     its inbox. RevokeAgent refuses the agent from then on and closes its
//     connection.
//   - the Vigil server itself, over an in-process pipe (never the network),
//     with a user and password drawn at random for each process and never
//     logged. It has full permissions.
//
// # External mode
//
// With Options.URL set, the bus connects to that NATS cluster instead.
// Per-agent authentication is then the cluster's business: its operator
// issues agents their credentials and permissions (the equivalent of
// wire.AgentPermissions), AllowAgent and RevokeAgent do nothing, and
// AgentConnections returns -1.
package bus

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"vigil/wire"
)

// Defaults and fixed settings.
const (
	// DefaultHost is the embedded server's default listen address.
	DefaultHost = "127.0.0.1"
	// DefaultPort is the embedded server's default client port.
	DefaultPort = 7422
	// ConsumerName is the durable pull consumer the server ingests from.
	ConsumerName = "ingest"
	// StreamMaxAge is how long an unconsumed status or result is kept.
	StreamMaxAge = 7 * 24 * time.Hour
	// AckWait is how long the ingest consumer waits for an ack before
	// redelivering.
	AckWait = 30 * time.Second
	// MaxConnsPerAgent is how many connections one agent may hold open at
	// once in embedded mode (one is normal; a few more cover reconnects
	// before the server notices a dead connection). It bounds what a
	// stolen agent key can cost the server.
	MaxConnsPerAgent = 8
	// MaxAckPending is how many ingest messages may be unacknowledged.
	MaxAckPending = 20000
	// payloadHeadroom is added to wire.MaxMessage for the server's max
	// payload, so that headers and JSON framing never push a legal message
	// over the NATS limit; the stream still enforces wire.MaxMessage.
	payloadHeadroom = 64 << 10
)

// Options configure a Bus.
type Options struct {
	// Host is the embedded server's listen address (default "127.0.0.1").
	Host string
	// Port is the embedded server's client port: 0 means DefaultPort, -1
	// a random free port (tests).
	Port int
	// DataDir holds JetStream's storage (in DataDir/nats); required when
	// embedded.
	DataDir string
	// SyncAlways makes the embedded JetStream fsync every write. Without
	// it, acknowledged messages survive a restart of the process (they are
	// in the OS's page cache) but up to about two minutes of them can be
	// lost if the whole machine crashes; with it they cannot, at some cost
	// in throughput.
	SyncAlways bool
	// TLS, when set, makes the embedded server require TLS on client
	// connections (the server's own in-process connection excepted).
	TLS *tls.Config
	// Advertise, when set, is what ClientURLs returns in embedded mode;
	// by default it is built from Host (or this machine's hostname when
	// Host is a wildcard address) and the listening port.
	Advertise []string

	// URL, when set, is an external NATS cluster (comma-separated URLs) to
	// connect to instead of embedding a server.
	URL string
	// CredsFile is an optional NATS credentials file for the server's own
	// connection to the external cluster.
	CredsFile string
	// ExternalTLS, when set, is the client TLS configuration (custom CA,
	// client certificate) for the connection to the external cluster.
	// Options.TLS is the embedded server's and is not used in external
	// mode.
	ExternalTLS *tls.Config
	// Replicas is the stream's replica count on an external cluster
	// (default 1). The embedded server always uses 1.
	Replicas int

	// Prefix is the subject prefix (default wire.Prefix): dot-separated
	// tokens of letters, digits, '_' and '-'.
	Prefix string
	// Logf receives log lines (nil: silent). Lines never contain secrets.
	Logf func(format string, args ...any)
}

// Bus is the server's NATS layer. Create it with New, then Start it.
type Bus struct {
	o      Options
	prefix string
	auth   *authenticator // embedded mode only
	log    *natsLogger

	mu       sync.Mutex
	started  bool
	stopped  bool
	ns       *server.Server
	nc       *nats.Conn
	js       jetstream.JetStream
	consumer jetstream.Consumer
	urls     []string
}

// New checks o and returns a Bus that is not started yet.
func New(o Options) (*Bus, error) {
	if o.Prefix == "" {
		o.Prefix = wire.Prefix
	}
	if err := validPrefix(o.Prefix); err != nil {
		return nil, err
	}
	b := &Bus{o: o, prefix: o.Prefix, log: &natsLogger{logf: o.Logf}}
	if o.URL != "" {
		if _, err := parseURLs(o.URL); err != nil {
			return nil, err
		}
		if o.Replicas < 0 || o.Replicas > 5 {
			return nil, fmt.Errorf("bus: replicas %d: want 1-5", o.Replicas)
		}
		return b, nil
	}
	if o.DataDir == "" {
		return nil, errors.New("bus: embedded NATS needs a data directory")
	}
	if o.Host == "" {
		b.o.Host = DefaultHost
	}
	switch {
	case o.Port == 0:
		b.o.Port = DefaultPort
	case o.Port < -1 || o.Port > 65535:
		return nil, fmt.Errorf("bus: port %d out of range", o.Port)
	}
	user, err := randomHex(12)
	if err != nil {
		return nil, err
	}
	pass, err := randomHex(32)
	if err != nil {
		return nil, err
	}
	b.auth = newAuthenticator(b.prefix, "vigil-server-"+user, pass)
	return b, nil
}

// validPrefix accepts dot-separated tokens of [A-Za-z0-9_-].
func validPrefix(p string) error {
	if len(p) > 64 {
		return fmt.Errorf("bus: prefix %q is longer than 64 characters", p)
	}
	for _, tok := range strings.Split(p, ".") {
		if tok == "" {
			return fmt.Errorf("bus: prefix %q has an empty token", p)
		}
		for _, c := range tok {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				return fmt.Errorf("bus: prefix %q: character %q not allowed", p, c)
			}
		}
	}
	return nil
}

// parseURLs splits a comma-separated list of NATS URLs and checks each.
func parseURLs(s string) ([]*url.URL, error) {
	var out []*url.URL
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		u, err := url.Parse(part)
		if err != nil || u.Host == "" {
			// Do not echo the URL: it may carry a password.
			return nil, errors.New("bus: NATS URL is not of the form scheme://host:port")
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, errors.New("bus: empty NATS URL")
	}
	return out, nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("bus: random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Start starts the embedded NATS server (in embedded mode), connects the
// server's own connection, and creates or updates the stream and the
// ingest consumer. A Bus starts once.
func (b *Bus) Start(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started {
		return errors.New("bus: already started")
	}
	b.started = true
	var err error
	if b.o.URL == "" {
		err = b.startEmbedded(ctx)
	} else {
		err = b.connectExternal()
	}
	if err == nil {
		err = b.setupStream(ctx)
	}
	if err != nil {
		b.closeLocked(ctx)
		return err
	}
	return nil
}

func (b *Bus) startEmbedded(ctx context.Context) error {
	store := filepath.Join(b.o.DataDir, "nats")
	if err := os.MkdirAll(store, 0o700); err != nil {
		return fmt.Errorf("bus: %w", err)
	}
	so := &server.Options{
		ServerName:                 "vigil",
		Host:                       b.o.Host,
		Port:                       b.o.Port,
		NoLog:                      b.o.Logf == nil,
		NoSigs:                     true,
		MaxPayload:                 wire.MaxMessage + payloadHeadroom,
		JetStream:                  true,
		StoreDir:                   store,
		SyncAlways:                 b.o.SyncAlways,
		CustomClientAuthentication: b.auth,
		// Custom authentication alone does not make the server send a
		// nonce; agents need one to sign.
		AlwaysEnableNonce:      true,
		DisableJetStreamBanner: true,
	}
	if b.o.TLS != nil {
		so.TLS = true
		so.TLSConfig = b.o.TLS.Clone()
		so.TLSTimeout = 5
	}
	ns, err := server.NewServer(so)
	if err != nil {
		return fmt.Errorf("bus: embedded NATS: %w", err)
	}
	ns.SetLoggerV2(b.log, false, false, false)
	b.auth.alive = func(cid uint64) bool { return ns.GetClient(cid) != nil }
	b.ns = ns
	ns.Start()
	for !ns.ReadyForConnections(100 * time.Millisecond) {
		if msg := b.log.fatal(); msg != "" {
			return fmt.Errorf("bus: embedded NATS did not start: %s", msg)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("bus: embedded NATS did not start: %w", err)
		}
	}
	if msg := b.log.fatal(); msg != "" {
		return fmt.Errorf("bus: embedded NATS did not start: %s", msg)
	}
	if len(b.o.Advertise) > 0 {
		b.urls = append([]string(nil), b.o.Advertise...)
	} else {
		b.urls = []string{b.clientURL(ns)}
	}

	nc, err := nats.Connect("",
		nats.InProcessServer(ns),
		nats.UserInfo(b.auth.serverUser, b.auth.serverPass),
		nats.Name("vigil-server"),
		nats.MaxReconnects(-1),
		nats.ErrorHandler(b.asyncError),
	)
	if err != nil {
		return fmt.Errorf("bus: server connection to embedded NATS: %w", err)
	}
	b.nc = nc
	return nil
}

// clientURL is the URL agents use to reach the embedded server.
func (b *Bus) clientURL(ns *server.Server) string {
	scheme := "nats"
	if b.o.TLS != nil {
		scheme = "tls"
	}
	port := b.o.Port
	if a, ok := ns.Addr().(*net.TCPAddr); ok && a != nil {
		port = a.Port
	}
	host := b.o.Host
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		}
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port))
}

func (b *Bus) connectExternal() error {
	us, err := parseURLs(b.o.URL)
	if err != nil {
		return err
	}
	for _, u := range us {
		u.User = nil // agents get their own credentials
		b.urls = append(b.urls, u.String())
	}
	opts := []nats.Option{
		nats.Name("vigil-server"),
		nats.MaxReconnects(-1),
		nats.ErrorHandler(b.asyncError),
	}
	if b.o.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(b.o.CredsFile))
	}
	if b.o.ExternalTLS != nil {
		opts = append(opts, nats.Secure(b.o.ExternalTLS.Clone()))
	}
	nc, err := nats.Connect(b.o.URL, opts...)
	if err != nil {
		return fmt.Errorf("bus: connect to external NATS: %w", err)
	}
	b.nc = nc
	return nil
}

func (b *Bus) asyncError(_ *nats.Conn, sub *nats.Subscription, err error) {
	if sub != nil {
		b.log.out("nats: subscription %s: %v", sub.Subject, err)
		return
	}
	b.log.out("nats: %v", err)
}

func (b *Bus) setupStream(ctx context.Context) error {
	js, err := jetstream.New(b.nc)
	if err != nil {
		return fmt.Errorf("bus: jetstream: %w", err)
	}
	replicas := 1
	if b.o.URL != "" && b.o.Replicas > 0 {
		replicas = b.o.Replicas
	}
	cfg := jetstream.StreamConfig{
		Name:        wire.StreamName(b.prefix),
		Description: "Vigil agent statuses and results",
		Subjects:    []string{wire.AllStatus(b.prefix), wire.AllResults(b.prefix)},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      StreamMaxAge,
		Duplicates:  wire.DuplicateWindow,
		MaxMsgSize:  wire.MaxMessage,
		Replicas:    replicas,
	}
	if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("bus: stream %s: %w", cfg.Name, err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, cfg.Name, jetstream.ConsumerConfig{
		Durable:       ConsumerName,
		Description:   "Vigil server ingest",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       AckWait,
		MaxAckPending: MaxAckPending,
	})
	if err != nil {
		return fmt.Errorf("bus: consumer %s on stream %s: %w", ConsumerName, cfg.Name, err)
	}
	b.js = js
	b.consumer = cons
	return nil
}

// Shutdown drains the server's connection (until ctx ends; then it closes
// it without draining and reports that) and stops the embedded server,
// waiting for it to finish even after ctx has ended, because until then it
// holds the JetStream storage. It may be called more than once.
func (b *Bus) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closeLocked(ctx)
}

func (b *Bus) closeLocked(ctx context.Context) error {
	if b.stopped {
		return nil
	}
	b.stopped = true
	var errs []error
	if nc := b.nc; nc != nil {
		closed := make(chan struct{})
		nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
		if err := nc.Drain(); err != nil {
			nc.Close()
		}
		select {
		case <-closed:
		case <-ctx.Done():
			nc.Close()
			errs = append(errs, fmt.Errorf("bus: drain: %w", ctx.Err()))
		}
	}
	if ns := b.ns; ns != nil {
		// Wait for the server to stop even if ctx has ended: until it has,
		// it holds the JetStream storage in DataDir.
		ns.Shutdown()
		ns.WaitForShutdown()
	}
	return errors.Join(errs...)
}

// Conn is the server's own connection, with full permissions. Nil before
// Start.
func (b *Bus) Conn() *nats.Conn {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.nc
}

// JetStream is the JetStream context of the server's connection. Nil
// before Start.
func (b *Bus) JetStream() jetstream.JetStream {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.js
}

// Consumer is the durable "ingest" pull consumer on the stream. Nil before
// Start.
func (b *Bus) Consumer() jetstream.Consumer {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.consumer
}

// StreamName is the name of the bus's JetStream stream.
func (b *Bus) StreamName() string { return wire.StreamName(b.prefix) }

// Prefix is the subject prefix.
func (b *Bus) Prefix() string { return b.prefix }

// Embedded reports whether the bus runs its own NATS server.
func (b *Bus) Embedded() bool { return b.o.URL == "" }

// ClientURLs are the URLs agents connect to: the embedded server's
// ("nats://host:port", or "tls://host:port" with TLS) or the external
// cluster's (without any user or password in them). Empty before Start.
func (b *Bus) ClientURLs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.urls...)
}

// AllowAgent lets agent agentID connect with the NKey user public key
// nkeyPublic (embedded mode). Allowing the same pair again does nothing;
// a new key for a known agent replaces the old one and closes connections
// made with it. A key may belong to one agent only. In external mode it
// checks its arguments and records nothing: the cluster's own
// authentication applies.
func (b *Bus) AllowAgent(agentID, nkeyPublic string) error {
	if b.auth == nil {
		if err := wire.ValidID(agentID); err != nil {
			return fmt.Errorf("bus: agent: %w", err)
		}
		return nil
	}
	stale, err := b.auth.allow(agentID, nkeyPublic)
	if err != nil {
		return err
	}
	b.disconnect(stale)
	return nil
}

// RevokeAgent refuses agent agentID's future connections and closes its
// current ones (embedded mode; nothing in external mode).
func (b *Bus) RevokeAgent(agentID string) {
	if b.auth == nil {
		return
	}
	b.disconnect(b.auth.revoke(agentID))
}

func (b *Bus) disconnect(cids []uint64) {
	if len(cids) == 0 {
		return
	}
	b.mu.Lock()
	ns := b.ns
	b.mu.Unlock()
	if ns == nil {
		return
	}
	for _, cid := range cids {
		_ = ns.DisconnectClientByID(cid) // an error means it is gone already
	}
}

// AgentConnections is the number of agent connections open now (embedded
// mode), or -1 when unknown (external mode).
func (b *Bus) AgentConnections() int {
	if b.auth == nil {
		return -1
	}
	b.mu.Lock()
	ns := b.ns
	b.mu.Unlock()
	if ns == nil {
		return 0
	}
	return b.auth.connections(func(cid uint64) bool { return ns.GetClient(cid) != nil })
}

// natsLogger adapts nats-server's logger to Options.Logf. It drops debug
// and trace lines and remembers the last fatal error so that Start can
// report why the embedded server did not come up.
type natsLogger struct {
	logf func(format string, args ...any)

	mu        sync.Mutex
	lastFatal string
}

func (l *natsLogger) out(format string, args ...any) {
	if l.logf != nil {
		l.logf(format, args...)
	}
}

func (l *natsLogger) fatal() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastFatal
}

// Noticef logs a notice.
func (l *natsLogger) Noticef(format string, args ...any) { l.out("nats: "+format, args...) }

// Warnf logs a warning.
func (l *natsLogger) Warnf(format string, args ...any) { l.out("nats warning: "+format, args...) }

// Errorf logs an error.
func (l *natsLogger) Errorf(format string, args ...any) { l.out("nats error: "+format, args...) }

// Fatalf logs a fatal error and remembers it; it does not exit.
func (l *natsLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.mu.Lock()
	l.lastFatal = msg
	l.mu.Unlock()
	l.out("nats fatal: %s", msg)
}

// Debugf drops a debug line.
func (l *natsLogger) Debugf(string, ...any) {}

// Tracef drops a trace line.
func (l *natsLogger) Tracef(string, ...any) {}
