package agent

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"vigil/scan"
	"vigil/wire"
)

const isWindows = runtime.GOOS == "windows"

// Timing and bounds of the agent's conversation with the server.
const (
	// requestTimeout bounds one sync or publish request.
	requestTimeout = 10 * time.Second
	// maxBackoff caps the wait between retries (publishing, syncing,
	// reconnecting, enrolling).
	maxBackoff = 60 * time.Second
	// statusEvery is how often a scanning hunt reports its counters.
	statusEvery = 5 * time.Second
	// flushEvery is the longest a match waits in an unsent batch.
	flushEvery = 2 * time.Second
	// maxActive bounds the hunts accepted and not finished; more are
	// dropped (the server sends them again at a later sync).
	maxActive = 64
)

// Options configure an Agent.
type Options struct {
	// StateDir holds the agent's identity and its record of hunts. It is
	// required and created with mode 0700.
	StateDir string
	// Server is the server's HTTP(S) base URL, used to enroll.
	Server string
	// Token is the enrollment token, needed for the first run only. It is
	// never stored or logged.
	Token string
	// Labels are the agent's own labels, sent at enrollment.
	Labels map[string]string
	// Version is the build version reported in Hello.
	Version string
	// Workers is the number of scanning goroutines per hunt (default 1: an
	// agent is a guest on its machine).
	Workers int
	// HTTPClient is used to enroll (for its TLS configuration); nil means a
	// default client with a 30 s timeout.
	HTTPClient *http.Client
	// NATSOptions are extra options for the NATS connection (for example
	// TLS root CAs). They are applied after the agent's own.
	NATSOptions []nats.Option
	// NATSCredsFile is a NATS credentials file for an external NATS cluster
	// (a server started with --nats); the embedded NATS authenticates the
	// agent by its own key instead.
	NATSCredsFile string
	// Logf receives the agent's log lines; nil means silent.
	Logf func(format string, args ...any)
	// Now is the clock (for tests); nil means time.Now.
	Now func() time.Time
}

// Agent is an endpoint agent. Make one with New and call Run.
type Agent struct {
	o        Options
	enrollMu sync.Mutex // one enrollment at a time

	mu      sync.Mutex
	id      *identity
	running bool                // Run is active
	nc      *nats.Conn          // the current connection, nil when none
	runCtx  context.Context     // Run's context, for hunt goroutines
	hunts   map[string]*huntRun // accepted, not finished
	store   *huntStore
	slot    fifoSlot // one hunt scans at a time
	wg      sync.WaitGroup

	// Timing knobs, set by New to the protocol's values; tests shorten them.
	helloEvery, syncEvery, statusEvery, flushEvery time.Duration
	// scanHook, when set (tests), sees every scan event before the agent.
	scanHook func(ctx context.Context, huntID string, e scan.Event)
}

// New makes an agent, loading its identity and record of hunts from
// o.StateDir when present.
func New(o Options) (*Agent, error) {
	if o.StateDir == "" {
		return nil, errors.New("agent: no state directory")
	}
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("agent: state directory: %w", err)
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	id, err := loadIdentity(o.StateDir)
	if err != nil {
		return nil, err
	}
	store, err := openHuntStore(o.StateDir)
	if err != nil {
		return nil, err
	}
	store.prune(o.Now())
	return &Agent{
		o:           o,
		id:          id,
		store:       store,
		hunts:       map[string]*huntRun{},
		helloEvery:  wire.HelloInterval,
		syncEvery:   wire.SyncInterval,
		statusEvery: statusEvery,
		flushEvery:  flushEvery,
	}, nil
}

func (a *Agent) logf(format string, args ...any) {
	if a.o.Logf != nil {
		a.o.Logf(format, args...)
	}
}

func (a *Agent) now() time.Time { return a.o.Now() }

// backoff returns the wait before retry number n (from 0): doubling from
// base, capped at maxBackoff, with up to 20% jitter.
func backoff(n int, base time.Duration) time.Duration {
	d := base
	for i := 0; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}

// sleep waits d or until ctx is done, reporting false in the latter case.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Run enrolls if needed, connects to NATS and serves hunts until ctx is
// done, reconnecting forever. It returns nil when ctx is done, after every
// hunt goroutine has stopped (hunts that were running are rerun at the next
// Run); it returns an error when enrollment is refused or impossible.
func (a *Agent) Run(ctx context.Context) error {
	a.mu.Lock()
	if a.running {
		a.mu.Unlock()
		return errors.New("agent: already running")
	}
	a.running = true
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.running = false
		a.mu.Unlock()
	}()

	for attempt := 0; !a.Enrolled(); attempt++ {
		err := a.Enroll(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		// Only a network failure or a 5xx answer is worth retrying.
		var ee *EnrollError
		var ue *url.Error
		if errors.As(err, &ee) && ee.Permanent() || !errors.As(err, &ee) && !errors.As(err, &ue) {
			return err
		}
		d := backoff(attempt, time.Second)
		a.logf("%v; retrying in %v", err, d.Round(time.Second))
		if !sleep(ctx, d) {
			return nil
		}
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	a.mu.Lock()
	a.runCtx = runCtx
	a.mu.Unlock()

	// Hunts that were active when the agent last stopped run again.
	saved, bad := a.store.loadActive()
	for _, b := range bad {
		a.logf("hunt record: dropped %s", b)
	}
	for _, s := range saved {
		a.logf("hunt %s: was active when the agent stopped: running it again", s.hunt.ID)
		a.startHunt(runCtx, s.hunt, s.seq, true)
	}

	for attempt := 0; runCtx.Err() == nil; attempt++ {
		if a.session(runCtx) {
			attempt = -1
			continue
		}
		d := backoff(attempt, time.Second)
		if !sleep(runCtx, d) {
			break
		}
	}
	cancel()
	a.wg.Wait()
	a.mu.Lock()
	a.runCtx = nil
	a.mu.Unlock()
	return nil
}

// session connects and serves until ctx is done or the connection is
// closed for good. It reports whether it had connected.
func (a *Agent) session(ctx context.Context) bool {
	a.mu.Lock()
	id := a.id
	a.mu.Unlock()
	kp, err := nkeys.FromSeed([]byte(id.Seed))
	if err != nil {
		a.logf("agent identity: the nkey seed does not parse")
		return false
	}
	defer kp.Wipe()
	pub, err := kp.PublicKey()
	if err != nil {
		a.logf("agent identity: %v", err)
		return false
	}
	connected := make(chan struct{}, 1)
	closed := make(chan struct{})
	signal := func(*nats.Conn) {
		select {
		case connected <- struct{}{}:
		default:
		}
	}
	var auth nats.Option
	switch {
	case id.NATSAuth == wire.NATSAuthExternal && a.o.NATSCredsFile != "":
		auth = nats.UserCredentials(a.o.NATSCredsFile)
	case id.NATSAuth == wire.NATSAuthExternal:
		auth = func(*nats.Options) error { return nil } // the cluster lets us in, or refuses
	default:
		auth = nats.Nkey(pub, kp.Sign)
	}
	opts := []nats.Option{
		nats.Name("vigil-agent " + id.AgentID),
		auth,
		nats.CustomInboxPrefix(wire.InboxPrefix(id.AgentID)),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.IgnoreAuthErrorAbort(),
		nats.CustomReconnectDelay(func(n int) time.Duration { return backoff(n, 500*time.Millisecond) }),
		nats.ConnectHandler(signal),
		nats.ReconnectHandler(signal),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				a.logf("nats: disconnected: %v", err)
			}
		}),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				a.logf("nats: %s: %v", sub.Subject, err)
			} else {
				a.logf("nats: %v", err)
			}
		}),
	}
	opts = append(opts, a.o.NATSOptions...)
	nc, err := nats.Connect(strings.Join(id.NATS, ","), opts...)
	if err != nil {
		a.logf("nats: connecting to %s: %v", redactURLs(id.NATS), err)
		return false
	}
	defer func() {
		a.mu.Lock()
		if a.nc == nc {
			a.nc = nil
		}
		a.mu.Unlock()
		nc.Close()
	}()
	a.mu.Lock()
	a.nc = nc
	a.mu.Unlock()

	p, aid := id.Prefix, id.AgentID
	if _, err := nc.Subscribe(wire.HuntSubject(p, aid), func(m *nats.Msg) { a.onHunt(ctx, m.Data) }); err != nil {
		a.logf("nats: subscribing to hunts: %v", err)
		return false
	}
	if _, err := nc.Subscribe(wire.CancelSubject(p, aid), func(m *nats.Msg) { a.onCancel(m.Data) }); err != nil {
		a.logf("nats: subscribing to cancels: %v", err)
		return false
	}

	hello := time.NewTicker(a.helloEvery)
	defer hello.Stop()
	syncTimer := time.NewTimer(a.syncEvery)
	defer syncTimer.Stop()
	syncFails := 0
	doSync := func() {
		if err := a.sync(ctx, nc, p, aid); err != nil {
			if ctx.Err() != nil {
				return
			}
			d := min(backoff(syncFails, 2*time.Second), a.syncEvery)
			syncFails++
			a.logf("sync: %v; retrying in %v", err, d.Round(100*time.Millisecond))
			syncTimer.Reset(d)
			return
		}
		syncFails = 0
		syncTimer.Reset(a.syncEvery)
	}
	everConnected := false
	for {
		select {
		case <-ctx.Done():
			return everConnected
		case <-closed:
			a.logf("nats: connection closed")
			return everConnected
		case <-connected:
			everConnected = true
			a.logf("nats: connected to %s", nc.ConnectedUrlRedacted())
			a.hello(nc, p, aid)
			doSync()
		case <-hello.C:
			if nc.IsConnected() {
				a.hello(nc, p, aid)
			}
		case <-syncTimer.C:
			if nc.IsConnected() {
				doSync()
			} else {
				syncTimer.Reset(a.syncEvery)
			}
		}
	}
}

// conn returns the current connection, or nil.
func (a *Agent) conn() *nats.Conn {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.nc
}

// hello publishes a Hello.
func (a *Agent) hello(nc *nats.Conn, p, id string) {
	hostname, _ := os.Hostname()
	h := wire.Hello{
		Version:  wire.Version,
		Agent:    a.o.Version,
		Hostname: hostname,
		OS:       runtime.GOOS,
		Arch:     runtime.GOARCH,
		Running:  a.activeIDs(),
		Time:     a.now().UTC(),
	}
	data, err := wire.Encode(h)
	if err == nil {
		err = nc.Publish(wire.HelloSubject(p, id), data)
	}
	if err != nil {
		a.logf("hello: %v", err)
	}
}

// activeIDs lists the hunts accepted and not finished (queued or
// scanning), in arrival order.
func (a *Agent) activeIDs() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	runs := make([]*huntRun, 0, len(a.hunts))
	for _, r := range a.hunts {
		runs = append(runs, r)
	}
	sortRuns(runs)
	ids := make([]string, len(runs))
	for i, r := range runs {
		ids[i] = r.h.ID
	}
	return ids
}

// sync asks the server for this agent's hunts and starts the new ones.
func (a *Agent) sync(ctx context.Context, nc *nats.Conn, p, id string) error {
	a.mu.Lock()
	a.store.prune(a.now())
	req := wire.SyncRequest{Version: wire.Version, Known: a.store.known()}
	a.mu.Unlock()
	data, err := wire.Encode(req)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	msg, err := nc.RequestWithContext(rctx, wire.SyncSubject(p, id), data)
	if err != nil {
		return err
	}
	var reply wire.SyncReply
	if err := wire.Decode(msg.Data, &reply); err != nil {
		return fmt.Errorf("reply: %v", err)
	}
	if reply.Error != "" {
		return fmt.Errorf("server said: %s", truncate(reply.Error, maxServerMsg))
	}
	for _, h := range reply.Hunts {
		a.accept(ctx, h, "sync")
	}
	return nil
}

// onHunt handles a hunt pushed by the server.
func (a *Agent) onHunt(ctx context.Context, data []byte) {
	var h wire.Hunt
	if err := wire.Decode(data, &h); err != nil {
		a.logf("ignored a pushed hunt: %v", err)
		return
	}
	a.accept(ctx, h, "push")
}

// onCancel handles a Cancel.
func (a *Agent) onCancel(data []byte) {
	var c wire.Cancel
	if err := wire.Decode(data, &c); err != nil {
		a.logf("ignored a cancel: %v", err)
		return
	}
	if err := wire.ValidID(c.HuntID); err != nil {
		a.logf("ignored a cancel: %v", err)
		return
	}
	a.mu.Lock()
	r := a.hunts[c.HuntID]
	a.mu.Unlock()
	if r == nil {
		a.logf("hunt %s: cancel for a hunt that is not active: ignored", c.HuntID)
		return
	}
	a.logf("hunt %s: canceled by the server", c.HuntID)
	r.cancel(errCanceled)
}

// accept starts hunt h unless it is finished, already active, or the agent
// has too many active hunts.
func (a *Agent) accept(ctx context.Context, h wire.Hunt, from string) {
	if err := wire.ValidID(h.ID); err != nil {
		a.logf("ignored a hunt (%s): %v", from, err)
		return
	}
	a.mu.Lock()
	_, done := a.store.finished[h.ID]
	_, active := a.hunts[h.ID]
	full := len(a.hunts) >= maxActive
	runCtx := a.runCtx
	a.mu.Unlock()
	switch {
	case done || active:
		return
	case full:
		a.logf("hunt %s (%s): %d hunts already active: not accepted now", h.ID, from, maxActive)
		return
	case runCtx == nil || ctx.Err() != nil:
		return
	}
	a.logf("hunt %s: received (%s)", h.ID, from)
	a.startHunt(runCtx, h, seqState{}, false)
}

// fifoSlot lets one holder at a time in, in the order they asked.
type fifoSlot struct {
	mu      sync.Mutex
	busy    bool
	waiters []chan struct{}
}

func (f *fifoSlot) acquire(ctx context.Context) error {
	f.mu.Lock()
	if !f.busy {
		f.busy = true
		f.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	f.waiters = append(f.waiters, ch)
	f.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		f.mu.Lock()
		for i, w := range f.waiters {
			if w == ch {
				f.waiters = append(f.waiters[:i], f.waiters[i+1:]...)
				f.mu.Unlock()
				return context.Cause(ctx)
			}
		}
		f.mu.Unlock()
		// Granted meanwhile: pass it on.
		f.release()
		return context.Cause(ctx)
	}
}

func (f *fifoSlot) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.waiters) > 0 {
		close(f.waiters[0])
		f.waiters = f.waiters[1:]
		return
	}
	f.busy = false
}
