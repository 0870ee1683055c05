// Package server is the Vigil server: it enrolls agents, stores hunts and
// sends them to agents over NATS (server/bus), ingests their statuses and
// results into a Store (SQLite or PostgreSQL), and serves the HTTP JSON API
// (server/api), Prometheus metrics and the web UI (server/webui).
//
// Create a Server with New, then Start it; Shutdown stops it gracefully.
// The business logic is in Service, which both the HTTP handlers and the
// web UI call.
//
// # Security
//
// Operators authenticate with API tokens ("vop_..."); agents enroll once
// with an enrollment secret ("vet_...") and afterwards authenticate to
// NATS with their own NKey. Only the sha256 of tokens and secrets is
// stored, and none is ever logged. Everything an agent sends is hostile
// input: its identity comes from the NATS subject (which the embedded NATS
// server lets only that agent publish on), never from a message body,
// and every message is size- and shape-checked before it is stored.
// Without TLSCert and TLSKey nothing is encrypted: the server then warns
// when it listens beyond loopback.
//
// # Accountability
//
// Every hunt and approval is appended to a transparency log (package
// translog, in DataDir/log, signed with the key in DataDir/log.key) before
// the store holds it. A hunt waits in state "pending" until approvers other
// than its author approve it with their own keys (Options.MinApprovals,
// MinDocumentApprovals); only then do agents get it, with its log entry,
// its approvals and Merkle proofs against a signed checkpoint, which they
// check against their own policy before they run anything. Witnesses
// cosign checkpoints (Options.Witnesses). The log's routes are public:
// see log.go and docs/api.md.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/mod/sumdb/note"

	"vigil/server/bus"
	"vigil/server/store"
	"vigil/server/store/postgres"
	"vigil/server/store/sqlite"
	"vigil/wire"
)

// Defaults of Options and files in the data directory.
const (
	// DefaultHTTPAddr is where the HTTP API listens by default.
	DefaultHTTPAddr = "127.0.0.1:7480"
	// AdminTokenFile is the file in the data directory that receives the
	// first operator's API token.
	AdminTokenFile = "admin.token"
	// DBFile is the SQLite database in the data directory.
	DBFile = "vigil.db"
	// AdminName is the operator created on a fresh store.
	AdminName = "admin"
)

// Options configure a Server.
type Options struct {
	DataDir  string // required: SQLite database, JetStream storage, admin token file
	HTTPAddr string // default DefaultHTTPAddr; "127.0.0.1:0" picks a free port
	NATSHost string // embedded NATS listen host; default "127.0.0.1"
	NATSPort int    // embedded NATS port; default 7422, -1 = random
	NATSURL  string // external NATS ("nats://...") instead of the embedded one
	DB       string // "" = SQLite at DataDir/vigil.db; "postgres://..." = PostgreSQL
	Prefix   string // NATS subject prefix, default wire.Prefix
	// TLSCert and TLSKey are PEM files; when both are set the HTTP API is
	// HTTPS and the embedded NATS requires TLS.
	TLSCert, TLSKey string
	Logf            func(format string, args ...any) // nil = silent
	Now             func() time.Time                 // nil = time.Now (tests)

	// LogName names the transparency log's key, made in DataDir/log.key at
	// first start: it is the first line of every checkpoint. Default
	// DefaultLogName; a data directory keeps the name its key was made with.
	LogName string
	// MinApprovals is how many approvals by approvers other than its author
	// a hunt needs before agents get it; 0 means the default, 1.
	MinApprovals int
	// MinDocumentApprovals is the same for hunts whose rules search
	// documents for words (yara/lint class "document"); 0 means the
	// default, 2. It is never below MinApprovals.
	MinDocumentApprovals int
	// NoApprovals makes every hunt run without approval (tests and demos
	// only: agents whose policy asks for approvals refuse such hunts).
	NoApprovals bool
	// Witnesses are the note verifier keys of the witnesses whose
	// cosignatures the server accepts on POST /api/v1/log/cosign and serves
	// with its checkpoints.
	Witnesses []string
}

// Defaults of the approval counts.
const (
	DefaultMinApprovals         = 1
	DefaultMinDocumentApprovals = 2
)

// Server is a Vigil server. Its methods are safe for concurrent use.
type Server struct {
	o      Options
	logf   func(format string, args ...any)
	now    func() time.Time
	prefix string
	svc    *Service

	store store.Store
	bus   *bus.Bus
	tls   *tls.Config
	tlog  *txlog

	witnesses []note.Verifier // parsed Options.Witnesses
	// approveMu serializes approvals in this process, so that one
	// approver's two concurrent approvals are not both logged.
	approveMu sync.Mutex

	hellos      *helloBuffer
	enrollLimit *failLimiter

	// ctx lives from Start to Shutdown.
	ctx    context.Context
	cancel context.CancelFunc

	mu         sync.Mutex
	started    bool
	stopped    bool
	adminToken string
	url        string
	httpSrv    *http.Server
	subs       []*nats.Subscription
	stopLoops  chan struct{}
	loops      sync.WaitGroup

	// Counters shown by /metrics.
	resultsIngested  atomic.Int64
	statusesIngested atomic.Int64
	batchesIngested  atomic.Int64
	fileErrors       atomic.Int64
	ingestErrors     atomic.Int64

	// testHookStored, when set, runs after a fetched batch was stored
	// (results: the result rows it stored) and before it is acknowledged;
	// returning false skips the acks, as a crash would.
	testHookStored atomic.Pointer[func(results int64) bool]
}

// New checks o and returns a Server that is not started yet.
func New(o Options) (*Server, error) {
	if o.DataDir == "" {
		return nil, errors.New("server: a data directory is required")
	}
	if o.HTTPAddr == "" {
		o.HTTPAddr = DefaultHTTPAddr
	}
	if o.NATSHost == "" {
		o.NATSHost = bus.DefaultHost
	}
	if o.NATSPort == 0 {
		o.NATSPort = bus.DefaultPort
	}
	if o.Prefix == "" {
		o.Prefix = wire.Prefix
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return nil, errors.New("server: TLS needs both a certificate and a key")
	}
	if o.MinApprovals < 0 || o.MinDocumentApprovals < 0 {
		return nil, errors.New("server: approval counts must not be negative")
	}
	if o.MinApprovals == 0 {
		o.MinApprovals = DefaultMinApprovals
	}
	if o.MinDocumentApprovals == 0 {
		o.MinDocumentApprovals = DefaultMinDocumentApprovals
	}
	o.MinDocumentApprovals = max(o.MinDocumentApprovals, o.MinApprovals)
	if o.NoApprovals {
		o.MinApprovals, o.MinDocumentApprovals = 0, 0
	}
	if o.LogName != "" {
		if !validKeyName(o.LogName) {
			return nil, fmt.Errorf("server: log name %q: want UTF-8 without spaces or '+'", o.LogName)
		}
	}
	ws := make([]string, 0, len(o.Witnesses)) // the caller's slice stays as it was
	for _, w := range o.Witnesses {
		ws = append(ws, strings.TrimSpace(w))
	}
	o.Witnesses = ws
	witnesses, err := parseWitnesses(o.Witnesses)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if o.DB != "" && !isPostgres(o.DB) {
		return nil, errors.New(`server: database must be "" (SQLite in the data directory) or a postgres:// URL`)
	}
	s := &Server{
		o:      o,
		logf:   o.Logf,
		now:    o.Now,
		prefix: o.Prefix,
		hellos: newHelloBuffer(),

		witnesses: witnesses,
	}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.enrollLimit = newFailLimiter(s.now)
	s.svc = &Service{s: s}
	return s, nil
}

func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// Start opens the store, starts the bus and allows every enrolled agent on
// it, starts ingestion and dispatch, and serves HTTP. On a fresh store it
// creates the operator "admin" with a random API token, written to
// DataDir/admin.token (mode 0600) and returned by AdminToken. A Server
// starts once; on error, what was started is stopped again.
func (s *Server) Start(ctx context.Context) (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("server: already started")
	}
	s.started = true
	s.ctx, s.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			s.stopLocked(context.Background())
		}
	}()
	if err := os.MkdirAll(s.o.DataDir, 0o700); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if s.o.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(s.o.TLSCert, s.o.TLSKey)
		if err != nil {
			return fmt.Errorf("server: TLS: %w", err)
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if err := s.openStore(ctx); err != nil {
		return err
	}
	if err := s.openLog(ctx); err != nil {
		return err
	}
	if err := s.bootstrapAdmin(ctx); err != nil {
		return err
	}
	if err := s.startBus(ctx); err != nil {
		return err
	}
	if err := s.startDispatch(); err != nil {
		return err
	}
	return s.startHTTP()
}

func (s *Server) openStore(ctx context.Context) error {
	var err error
	if isPostgres(s.o.DB) {
		s.store, err = postgres.Open(ctx, s.o.DB)
		if err != nil {
			// pgx errors do not echo the password, but the DSN itself may
			// hold one: never print it.
			return fmt.Errorf("server: PostgreSQL: %w", err)
		}
		return nil
	}
	path := filepath.Join(s.o.DataDir, DBFile)
	s.store, err = sqlite.Open(ctx, path)
	if err != nil {
		return fmt.Errorf("server: SQLite %s: %w", path, err)
	}
	return nil
}

// bootstrapAdmin creates the first operator on a store that has none.
func (s *Server) bootstrapAdmin(ctx context.Context) error {
	ops, err := s.store.ListOperators(ctx)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if len(ops) > 0 {
		return nil
	}
	token := newSecret(operatorTokenPrefix)
	path := filepath.Join(s.o.DataDir, AdminTokenFile)
	// Write the file first: a token stored but never shown would lock
	// everyone out.
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return fmt.Errorf("server: writing the admin token: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	o := store.Operator{
		ID:        newID(operatorIDPrefix),
		Name:      AdminName,
		Role:      store.RoleAdmin,
		TokenHash: hashSecret(token),
		Created:   s.clock(),
	}
	if err := s.store.CreateOperator(ctx, o); err != nil {
		os.Remove(path)
		return fmt.Errorf("server: creating the admin operator: %w", err)
	}
	s.adminToken = token
	s.logf("created operator %s (%s); its API token is in %s", o.Name, o.ID, path)
	return nil
}

func (s *Server) startBus(ctx context.Context) error {
	bo := bus.Options{
		Host:    s.o.NATSHost,
		Port:    s.o.NATSPort,
		DataDir: s.o.DataDir,
		TLS:     s.tls,
		URL:     s.o.NATSURL,
		Prefix:  s.o.Prefix,
		Logf:    s.logf,
	}
	b, err := bus.New(bo)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	agents, err := s.store.ListAgents(ctx)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	for _, a := range agents {
		if err := b.AllowAgent(a.ID, a.PublicKey); err != nil {
			s.logf("agent %s not allowed on the bus: %v", a.ID, err)
		}
	}
	if err := b.Start(ctx); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.bus = b
	if s.o.NATSURL == "" && s.tls == nil && !isLoopback(s.o.NATSHost) {
		s.logf("WARNING: NATS listens on %s without TLS: agents' traffic is not encrypted; use --tls-cert and --tls-key", s.o.NATSHost)
	}
	s.logf("NATS: %s (prefix %s, %d agents enrolled)", strings.Join(b.ClientURLs(), ", "), s.prefix, len(agents))
	return nil
}

func (s *Server) startDispatch() error {
	nc := s.bus.Conn()
	sub, err := nc.QueueSubscribe(wire.AllSync(s.prefix), syncQueue, s.handleSync)
	if err != nil {
		return fmt.Errorf("server: subscribe: %w", err)
	}
	s.subs = append(s.subs, sub)
	sub, err = nc.Subscribe(wire.AllHello(s.prefix), s.handleHello)
	if err != nil {
		return fmt.Errorf("server: subscribe: %w", err)
	}
	s.subs = append(s.subs, sub)
	s.stopLoops = make(chan struct{})
	s.loops.Add(2)
	go func() { defer s.loops.Done(); s.ingestLoop(s.stopLoops) }()
	go func() { defer s.loops.Done(); s.helloLoop(s.stopLoops) }()
	return nil
}

func (s *Server) startHTTP() error {
	ln, err := net.Listen("tcp", s.o.HTTPAddr)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	scheme := "http"
	if s.tls != nil {
		scheme = "https"
		ln = tls.NewListener(ln, s.tls)
	} else if host, _, _ := net.SplitHostPort(s.o.HTTPAddr); !isLoopback(host) {
		s.logf("WARNING: HTTP API listens on %s without TLS: tokens and enrollment secrets cross the network in the clear; use --tls-cert and --tls-key", s.o.HTTPAddr)
	}
	s.url = scheme + "://" + ln.Addr().String()
	s.httpSrv = &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(logWriter(s.logf), "http: ", 0),
	}
	srv := s.httpSrv
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logf("http: %v", err)
		}
	}()
	s.logf("HTTP API: %s", s.url)
	return nil
}

// isLoopback reports whether host is a loopback name or address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Shutdown stops the server gracefully: HTTP first (in-flight requests
// finish), then the sync and hello subscriptions, then ingestion (the
// batch in hand is stored and acknowledged), then the bus and the store.
// It may be called more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked(ctx)
}

func (s *Server) stopLocked(ctx context.Context) error {
	if s.stopped || !s.started {
		return nil
	}
	s.stopped = true
	var errs []error
	if s.httpSrv != nil {
		if err := s.httpSrv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http: %w", err))
			s.httpSrv.Close()
		}
	}
	for _, sub := range s.subs {
		_ = sub.Unsubscribe()
	}
	if s.stopLoops != nil {
		close(s.stopLoops)
		s.loops.Wait()
	}
	if s.cancel != nil {
		s.cancel()
	}
	if s.bus != nil {
		if err := s.bus.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("store: %w", err))
		}
	}
	if s.tlog != nil {
		if err := s.tlog.close(); err != nil {
			errs = append(errs, fmt.Errorf("transparency log: %w", err))
		}
	}
	return errors.Join(errs...)
}

// URL is the base URL the HTTP API listens on ("http://127.0.0.1:7480"),
// known after Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// AdminToken is the API token of the operator "admin" when this Start
// created it (a fresh store), else "".
func (s *Server) AdminToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.adminToken
}

// Service is the business logic the HTTP API and the web UI call.
func (s *Server) Service() *Service { return s.svc }

// Store is the server's store (nil before Start).
func (s *Server) Store() store.Store {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.store
}

// Bus is the server's NATS layer (nil before Start).
func (s *Server) Bus() *bus.Bus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bus
}

// clock is the current time in UTC, to the microsecond the stores keep.
func (s *Server) clock() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// logWriter sends the lines of a log.Logger to a Logf function.
type logWriter func(format string, args ...any)

func (w logWriter) Write(p []byte) (int, error) {
	w("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
