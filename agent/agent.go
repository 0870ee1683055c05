package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"golang.org/x/mod/sumdb/tlog"

	"vigil/agent/policy"
	"vigil/journal"
	"vigil/scan"
	"vigil/translog"
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
	// PolicyFile is the machine owner's local policy (package
	// agent/policy); "" means StateDir/policy. Run reads it (and again on
	// SIGHUP where the system has it); a file that exists and does not
	// parse stops Run. When it does not exist at enrollment, the agent
	// writes one from the server's enrollment reply (trust on first use).
	PolicyFile string
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

	pol      atomic.Pointer[policy.Policy] // the local policy in force
	syncNow  chan struct{}                 // a push asks for a sync
	logMu    sync.Mutex                    // guards logState and its file
	logState *logState
	jnl      *journal.Journal
	// ranTimes are the times of the journal's "ran" records of the last
	// day (guarded by mu), for the policy's daily cap.
	ranTimes []time.Time
	decideMu sync.Mutex // one policy decision at a time

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
	ls, err := loadLogState(o.StateDir)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	jpath := filepath.Join(o.StateDir, journalFile)
	jnl, err := journal.Open(jpath)
	if err != nil {
		return nil, fmt.Errorf("agent: %w (vigil audit --state %s shows it; move it away to start a new journal)", err, o.StateDir)
	}
	recs, err := jnl.Records()
	if err != nil {
		jnl.Close()
		return nil, fmt.Errorf("agent: %w", err)
	}
	var ran []time.Time
	for _, r := range recs {
		if r.Action == journal.ActionRan && r.Time.After(o.Now().Add(-24*time.Hour)) {
			ran = append(ran, r.Time)
		}
	}
	return &Agent{
		logState:    ls,
		jnl:         jnl,
		ranTimes:    ran,
		syncNow:     make(chan struct{}, 1),
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

	// A policy file that exists must parse, before anything else.
	if _, err := os.Stat(a.policyPath()); err == nil || !errors.Is(err, fs.ErrNotExist) {
		if err := a.loadPolicy(); err != nil {
			return err
		}
	}
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

	// The policy (possibly written at enrollment) is in force from here.
	if err := a.loadPolicy(); err != nil {
		return err
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	a.watchPolicy(runCtx)
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
		a.startHunt(runCtx, s.hunt, s.seq, true, verdict{})
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
		case <-a.syncNow:
			if nc.IsConnected() {
				doSync()
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

// sync asks the server for this agent's hunts, verifies the reply's log
// checkpoint against the agent's stored one and starts the new hunts with
// their verdicts.
func (a *Agent) sync(ctx context.Context, nc *nats.Conn, p, id string) error {
	a.mu.Lock()
	a.store.prune(a.now())
	req := wire.SyncRequest{Version: wire.Version, Known: a.store.known()}
	a.mu.Unlock()
	a.logMu.Lock()
	if a.logState.Fork == nil {
		req.LogSize = a.logState.Size
	}
	a.logMu.Unlock()
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
		if len(reply.Checkpoint) > 0 {
			// Still check the checkpoint: a log smaller than the one the
			// agent stored (the server cannot prove consistency) is a
			// rollback, recorded as a fork.
			a.verifyCheckpoint(&wire.SyncReply{Checkpoint: reply.Checkpoint, Consistency: reply.Consistency})
		}
		return fmt.Errorf("server said: %s", truncate(reply.Error, maxServerMsg))
	}
	v, tree, refuseAll, deferErr := a.verifyCheckpoint(&reply)
	if deferErr != nil {
		if len(reply.Hunts) > 0 {
			// Retried with the sync's backoff (for example until the
			// witnesses have cosigned the checkpoint).
			return fmt.Errorf("%v: %d hunts not accepted now", deferErr, len(reply.Hunts))
		}
		a.logf("sync: %v", deferErr)
		return nil
	}
	for i := range reply.Hunts {
		h := reply.Hunts[i]
		if wire.ValidID(h.ID) != nil || a.isKnown(h.ID) {
			a.accept(ctx, h, "sync", verdict{})
			continue
		}
		why := refuseAll
		if why == "" {
			why = verifyHuntLog(v, tree, &h)
		}
		a.accept(ctx, h, "sync", verdict{refuse: why, treeSize: tree.N})
	}
	return nil
}

// isKnown reports whether hunt id is finished or active.
func (a *Agent) isKnown(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, done := a.store.finished[id]
	_, active := a.hunts[id]
	return done || active
}

// verifyCheckpoint checks a sync reply's checkpoint with the pinned log key
// and advances the stored state with the consistency proof. It returns the
// verifier and the checkpoint's tree to check the hunts' entries against;
// refuseAll, when not "", is the reason every hunt of the reply is refused
// (a fork, no pinned log key); deferErr, when not nil, means the reply
// cannot be judged now (its hunts are left for a later sync: for example
// witnesses have not cosigned the checkpoint yet).
func (a *Agent) verifyCheckpoint(reply *wire.SyncReply) (v *translog.Verifier, tree tlog.Tree, refuseAll string, deferErr error) {
	a.logMu.Lock()
	defer a.logMu.Unlock()
	st := a.logState
	if st.Fork != nil {
		return nil, tree, st.Fork.summary(a.o.StateDir), nil
	}
	pol := a.policy()
	v, err := pol.Verifier()
	if err != nil {
		return nil, tree, fmt.Sprintf("the local policy (%s) cannot verify the server's transparency log: %v; this machine's administrator must pin the log key", a.policyPath(), err), nil
	}
	if st.Checkpoint != "" {
		if err := v.UnmarshalState([]byte(st.Checkpoint)); err != nil {
			return nil, tree, fmt.Sprintf("the stored log checkpoint (%s) does not verify with the pinned log key: %v; this machine's administrator must check the policy's log-key or delete that file",
				filepath.Join(a.o.StateDir, logStateFile), err), nil
		}
	}
	if len(reply.Checkpoint) == 0 {
		if len(reply.Hunts) == 0 {
			return v, tree, "", nil
		}
		return nil, tree, "the server sent no transparency-log checkpoint, so no hunt can be verified", nil
	}
	if len(reply.Checkpoint) > translog.MaxCheckpointSize {
		return nil, tree, "", fmt.Errorf("checkpoint of %d bytes", len(reply.Checkpoint))
	}
	tree, err = v.VerifyCheckpoint(reply.Checkpoint)
	if err != nil {
		return nil, tree, "", fmt.Errorf("log checkpoint not verified: %v", err)
	}
	proof, err := proofHashes(reply.Consistency)
	if err != nil {
		return nil, tree, "", fmt.Errorf("consistency proof: %v", err)
	}
	if err := v.Advance(reply.Checkpoint, tlog.TreeProof(proof)); err != nil {
		var fe *translog.ForkError
		if !errors.As(err, &fe) {
			return nil, tree, "", fmt.Errorf("log checkpoint not accepted: %v", err)
		}
		ev := newForkEvidence(fe, a.now())
		st.Fork = ev
		if err := saveLogState(a.o.StateDir, st); err != nil {
			a.logf("log: %v", err)
		}
		why := ev.summary(a.o.StateDir)
		a.logf("log: FORK DETECTED: %s", why)
		a.journal(journal.Record{HuntID: "", LogIndex: -1, TreeSize: ev.OfferedSize, Action: journal.ActionRefused, Reason: why})
		return nil, tree, why, nil
	}
	trusted, ttree := v.Trusted()
	if string(trusted) != st.Checkpoint {
		first := st.Checkpoint == ""
		st.Checkpoint, st.Size = string(trusted), ttree.N
		if err := saveLogState(a.o.StateDir, st); err != nil {
			a.logf("log: %v", err)
		}
		if first {
			a.logf("log: first checkpoint trusted (size %d, hash %s)", ttree.N, ttree.Hash)
		}
	}
	return v, tree, "", nil
}

// journal appends rec to the journal, with the time, and keeps the daily
// count of hunts run.
func (a *Agent) journal(rec journal.Record) {
	rec.Time = a.now().UTC()
	if err := a.jnl.Append(rec); err != nil {
		a.logf("journal: %v", err)
		return
	}
	if rec.Action == journal.ActionRan {
		a.mu.Lock()
		a.ranTimes = append(a.ranTimes, rec.Time)
		a.mu.Unlock()
	}
}

// Journal returns the agent's journal (for tests and tools in-process).
func (a *Agent) Journal() *journal.Journal { return a.jnl }

// Close releases the agent's journal. Call it after Run has returned.
func (a *Agent) Close() error { return a.jnl.Close() }

// onHunt handles a hunt pushed by the server.
func (a *Agent) onHunt(ctx context.Context, data []byte) {
	var h wire.Hunt
	if err := wire.Decode(data, &h); err != nil {
		a.logf("ignored a pushed hunt: %v", err)
		return
	}
	// A pushed hunt carries no log proofs: answer it by syncing, which
	// brings the hunt with its log entry, approvals and proofs.
	a.logf("hunt %s: pushed: syncing to get it with its log proofs", truncate(h.ID, 64))
	select {
	case a.syncNow <- struct{}{}:
	default:
	}
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
// v says what the log verification found.
func (a *Agent) accept(ctx context.Context, h wire.Hunt, from string, v verdict) {
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
	a.startHunt(runCtx, h, seqState{}, false, v)
}

// verdict is what the log verification of a sync reply found about a hunt.
type verdict struct {
	refuse   string // why the hunt is refused, "" if its log proofs hold
	treeSize int64  // size of the checkpoint it was verified against
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
