package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/mod/sumdb/tlog"

	"vigil/server/store"
	"vigil/translog"
	"vigil/wire"
)

// Dispatch: hunts and cancels pushed to agents, sync requests answered,
// Hellos recorded.

const (
	// syncQueue is the queue group of sync subscribers, so that several
	// servers sharing a bus answer each request once.
	syncQueue = "vigil-sync"
	// helloFlushEvery is how often buffered Hellos are written to the store.
	helloFlushEvery = 2 * time.Second
	// syncTimeout bounds the store work of one sync request.
	syncTimeout = 10 * time.Second
	// maxKnown bounds the hunt IDs of a SyncRequest's Known list.
	maxKnown = 10_000
)

// pushHunt publishes h to each agent, best effort: an agent that misses it
// gets it at its next sync.
func (s *Server) pushHunt(h wire.Hunt, agents []string) {
	data, err := wire.Encode(h)
	if err != nil {
		s.logf("hunt %s: not pushed: %v", h.ID, err)
		return
	}
	s.publishAll(agents, data, func(id string) string { return wire.HuntSubject(s.prefix, id) })
}

// pushCancel tells each agent to stop hunt id, best effort.
func (s *Server) pushCancel(id string, agents []string) {
	data, err := wire.Encode(wire.Cancel{HuntID: id})
	if err != nil {
		s.logf("hunt %s: cancel not pushed: %v", id, err)
		return
	}
	s.publishAll(agents, data, func(a string) string { return wire.CancelSubject(s.prefix, a) })
}

func (s *Server) publishAll(agents []string, data []byte, subject func(string) string) {
	nc := s.bus.Conn()
	if nc == nil || len(agents) == 0 {
		return
	}
	failed := 0
	for _, id := range agents {
		if err := nc.Publish(subject(id), data); err != nil {
			failed++
		}
	}
	if failed > 0 {
		s.logf("publish: %d of %d agents not reached now (they will sync)", failed, len(agents))
	}
}

// handleSync answers an agent's SyncRequest with its pending hunts.
func (s *Server) handleSync(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	reply := func(r wire.SyncReply) {
		data, err := encodeSyncReply(r)
		if err != nil {
			s.logf("sync: %v", err)
			return
		}
		_ = m.Respond(data)
	}
	id, err := wire.AgentFromSubject(s.prefix, m.Subject)
	if err != nil {
		s.ingestErrors.Add(1)
		return
	}
	// NATS does not restrict reply subjects: an agent could ask for its
	// hunts to be delivered into another agent's inbox. Answer only into
	// the asking agent's own inbox.
	if !strings.HasPrefix(m.Reply, wire.InboxPrefix(id)+".") {
		s.logf("sync from agent %s: reply subject outside its inbox refused", id)
		s.ingestErrors.Add(1)
		return
	}
	var req wire.SyncRequest
	if err := wire.Decode(m.Data, &req); err != nil {
		s.logf("sync from agent %s: %v", id, err)
		reply(wire.SyncReply{Error: "malformed sync request"})
		return
	}
	if len(req.Known) > maxKnown {
		reply(wire.SyncReply{Error: "too many known hunts"})
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, syncTimeout)
	defer cancel()
	hunts, err := s.store.PendingHunts(ctx, id, s.clock())
	if err != nil {
		s.logf("sync from agent %s: %v", id, err)
		reply(wire.SyncReply{Error: "server error"})
		return
	}
	known := make(map[string]bool, len(req.Known))
	for _, k := range req.Known {
		known[k] = true
	}
	// The checkpoint is read after the hunts: every hunt and approval in
	// the store was logged and checkpointed before it was stored, so the
	// checkpoint covers them.
	cp, tree := s.tlog.current()
	out := wire.SyncReply{Hunts: []wire.Hunt{}, Checkpoint: cp}
	if req.LogSize < 0 || req.LogSize > tree.N {
		s.logf("sync from agent %s: it holds a checkpoint of %d entries, the log has %d", id, req.LogSize, tree.N)
		out.Error = fmt.Sprintf("your checkpoint is of %d entries but this log has %d: it cannot prove consistency", req.LogSize, tree.N)
		reply(out)
		return
	}
	if req.LogSize > 0 && req.LogSize < tree.N {
		p, err := s.tlog.log.ConsistencyProof(ctx, req.LogSize, tree.N)
		if err != nil {
			s.logf("sync from agent %s: consistency proof %d..%d: %v", id, req.LogSize, tree.N, err)
			reply(wire.SyncReply{Error: "server error"})
			return
		}
		out.Consistency = hashBytes(p)
	}
	for _, h := range hunts {
		if known[h.ID] || h.LogIndex < 0 {
			// A hunt made before the server had a log (the API shows
			// log_index -1) is never sent: no agent could check it.
			continue
		}
		hl, err := s.huntLog(ctx, h, tree)
		if err != nil {
			// Never send a hunt the log does not prove: the agent would
			// refuse it anyway.
			s.logf("sync from agent %s: hunt %s not sent: %v", id, h.ID, err)
			continue
		}
		w := h.Hunt
		w.Log = hl
		out.Hunts = append(out.Hunts, w)
	}
	s.hellos.seen(id, s.clock(), "", "")
	reply(out)
}

// loggedHunt returns the canonical log entry of a stored hunt, checking
// that it is this hunt's: a store shared with another server (which keeps
// its own log) could name an index of that server's log.
func (s *Server) loggedHunt(ctx context.Context, h store.Hunt) ([]byte, error) {
	if h.LogIndex < 0 {
		return nil, errors.New("not in the transparency log")
	}
	e, err := s.tlog.log.Entry(ctx, h.LogIndex)
	if err != nil {
		return nil, fmt.Errorf("log entry %d: %w", h.LogIndex, err)
	}
	if err := checkHuntEntry(e, h); err != nil {
		return nil, err
	}
	return e, nil
}

// checkHuntEntry checks that e is the log entry of hunt h.
func checkHuntEntry(e []byte, h store.Hunt) error {
	he, err := translog.DecodeHunt(e)
	if err != nil {
		return fmt.Errorf("log entry %d is not a hunt entry: %w", h.LogIndex, err)
	}
	if err := he.CheckHunt(&h.Hunt); err != nil {
		return fmt.Errorf("log entry %d is not this hunt's: %w", h.LogIndex, err)
	}
	if he.ApprovalsRequired != h.ApprovalsRequired || he.LintClass != h.LintClass {
		return fmt.Errorf("log entry %d: approvals required or lint class differ from the stored hunt's", h.LogIndex)
	}
	return nil
}

// huntLog returns a hunt's log entry and approvals with their inclusion
// proofs in tree.
func (s *Server) huntLog(ctx context.Context, h store.Hunt, tree tlog.Tree) (*wire.HuntLog, error) {
	if h.LogIndex < 0 {
		return nil, errors.New("not in the transparency log")
	}
	e, p, err := s.tlog.entryProof(ctx, h.LogIndex, tree)
	if err != nil {
		return nil, err
	}
	if err := checkHuntEntry(e, h); err != nil {
		return nil, err
	}
	hl := &wire.HuntLog{Hunt: wire.LoggedEntry{Index: h.LogIndex, Entry: e, Inclusion: hashBytes(p)}}
	as, err := s.store.Approvals(ctx, h.ID)
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		e, p, err := s.tlog.entryProof(ctx, a.LogIndex, tree)
		if err != nil {
			return nil, fmt.Errorf("approval by %s: %w", a.Approver, err)
		}
		if !bytes.Equal(e, a.Entry) {
			return nil, fmt.Errorf("approval by %s: log entry %d is not the stored approval", a.Approver, a.LogIndex)
		}
		hl.Approvals = append(hl.Approvals, wire.LoggedEntry{Index: a.LogIndex, Entry: e, Inclusion: hashBytes(p)})
	}
	return hl, nil
}

// encodeSyncReply encodes r, leaving out the last hunts when the reply
// would be over wire.MaxMessage: they follow at a later sync, once the
// agent reports the first ones as known.
func encodeSyncReply(r wire.SyncReply) ([]byte, error) {
	for {
		data, err := wire.Encode(r)
		if err == nil || len(r.Hunts) == 0 {
			return data, err
		}
		r.Hunts = r.Hunts[:len(r.Hunts)-1]
	}
}

// handleHello records an agent's heartbeat in the Hello buffer.
func (s *Server) handleHello(m *nats.Msg) {
	id, err := wire.AgentFromSubject(s.prefix, m.Subject)
	if err != nil {
		s.ingestErrors.Add(1)
		return
	}
	var h wire.Hello
	if err := wire.Decode(m.Data, &h); err != nil {
		s.ingestErrors.Add(1)
		s.logf("hello from agent %s: %v", id, err)
		return
	}
	if len(h.Hostname) > maxHostField {
		h.Hostname = ""
	}
	if len(h.Agent) > maxHostField {
		h.Agent = ""
	}
	s.hellos.seen(id, s.clock(), h.Hostname, h.Agent)
}

// hello is an agent's last Hello.
type hello struct {
	seen              time.Time
	hostname, version string
}

// helloBuffer coalesces Hellos: agents' last-seen times are kept in memory
// and written to the store every helloFlushEvery, one write per agent
// heard from, however often it spoke.
type helloBuffer struct {
	mu      sync.Mutex
	pending map[string]hello // not yet written
	last    map[string]hello // written or not: the newest per agent
}

func newHelloBuffer() *helloBuffer {
	return &helloBuffer{pending: map[string]hello{}, last: map[string]hello{}}
}

// seen records that agent id was heard from at t. Empty hostname or
// version keep the previous ones.
func (b *helloBuffer) seen(id string, t time.Time, hostname, version string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	old := b.last[id]
	if hostname == "" {
		hostname = old.hostname
	}
	if version == "" {
		version = old.version
	}
	h := hello{seen: t, hostname: hostname, version: version}
	b.last[id] = h
	b.pending[id] = h
}

// get returns the newest Hello of agent id.
func (b *helloBuffer) get(id string) (hello, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h, ok := b.last[id]
	return h, ok
}

// forget drops agent id, unknown to the store: the buffer holds only
// enrolled agents, so its size is bounded by theirs.
func (b *helloBuffer) forget(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.last, id)
}

// take removes and returns the pending Hellos.
func (b *helloBuffer) take() map[string]hello {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.pending
	b.pending = map[string]hello{}
	return p
}

// flushHellos writes the pending Hellos to the store.
func (s *Server) flushHellos(ctx context.Context) {
	for id, h := range s.hellos.take() {
		err := s.store.TouchAgent(ctx, id, h.seen, h.hostname, h.version)
		switch {
		case errors.Is(err, store.ErrNotFound):
			s.hellos.forget(id)
		case err != nil:
			s.logf("recording hello of agent %s: %v", id, err)
		}
	}
}

// helloLoop flushes Hellos until stop is closed, then once more.
func (s *Server) helloLoop(stop <-chan struct{}) {
	t := time.NewTicker(helloFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.flushHellos(context.Background())
		case <-stop:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			s.flushHellos(ctx)
			cancel()
			return
		}
	}
}
