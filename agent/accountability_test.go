package agent

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/agent/policy"
	"vigil/journal"
	"vigil/scan"
	"vigil/translog"
	"vigil/wire"
)

// refusedWith waits for hunt id's terminal status and checks it is a
// refusal whose reason contains every want, with no results.
func (h *harness) refusedWith(id string, want ...string) wire.Status {
	h.t.Helper()
	final, _, batches := h.terminal(id)
	if final.State != wire.StateRefused {
		h.t.Errorf("hunt %s: final %+v; want refused", id, final)
		return final
	}
	for _, w := range want {
		if !strings.Contains(final.Error, w) {
			h.t.Errorf("hunt %s: refusal %q does not say %q", id, final.Error, w)
		}
	}
	if len(batches) != 0 {
		h.t.Errorf("hunt %s: refused but sent %d batches", id, len(batches))
	}
	return final
}

// ranWith waits for hunt id to end done with matched files.
func (h *harness) ranWith(id string, matched int64) []wire.ResultBatch {
	h.t.Helper()
	final, _, batches := h.terminal(id)
	if final.State != wire.StateDone || final.FilesMatched != matched {
		h.t.Errorf("hunt %s: final %+v; want done with %d matched", id, final, matched)
	}
	return batches
}

// writePolicy writes a policy file trusting the harness's log key and
// alice, plus extra lines.
func (h *harness) writePolicy(path string, extra ...string) {
	h.t.Helper()
	text := "log-key " + h.logVKey + "\napprover " + h.approvers["alice"].vkey + "\nmin-approvals 1\n" + strings.Join(extra, "\n") + "\n"
	if _, err := policy.Parse(path, []byte(text)); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		h.t.Fatal(err)
	}
}

func records(t *testing.T, a *Agent) []journal.Record {
	t.Helper()
	recs, err := a.Journal().Records()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func findRecord(recs []journal.Record, id string) *journal.Record {
	for i := range recs {
		if recs[i].HuntID == id {
			return &recs[i]
		}
	}
	return nil
}

func TestHuntNotInLogRefused(t *testing.T) {
	h := newHarness(t)
	r := h.startAgent(t.TempDir(), h.token, nil)
	data := t.TempDir()
	writeFiles(t, data, map[string]string{"x": pattern})
	h.ready(r)

	decoy := makeHunt("h-decoy", rules, data)
	h.logHunt(decoy, huntLog{})
	noLog := makeHunt("h-nolog", rules, data)
	other := makeHunt("h-other-entry", rules, data)
	badProof := makeHunt("h-bad-proof", rules, data)
	good := makeHunt("h-good", rules, data)
	h.mu.Lock()
	h.tamper = func(x *wire.Hunt) {
		// h.mu is held by buildReply.
		switch x.ID {
		case noLog.ID:
			x.Log = nil
		case other.ID:
			n, _ := h.tl.Size(context.Background())
			d, err := withLog(h.tl, decoy, h.inLog[decoy.ID], n)
			if err != nil {
				panic(err)
			}
			x.Log = d.Log
		case badProof.ID:
			if x.Log != nil && len(x.Log.Hunt.Inclusion) > 0 {
				p := append([]byte(nil), x.Log.Hunt.Inclusion[0]...)
				p[0] ^= 1
				x.Log.Hunt.Inclusion[0] = p
			}
		}
	}
	h.mu.Unlock()
	for _, x := range []wire.Hunt{noLog, other, badProof, good} {
		h.offer(x, huntLog{})
	}
	h.refusedWith(noLog.ID, "not in the server's transparency log")
	h.refusedWith(other.ID, `is for hunt "h-decoy"`)
	h.refusedWith(badProof.ID, "not proven to be in the transparency log")
	h.ranWith(good.ID, 1)
}

func TestPushOnlyTriggersSync(t *testing.T) {
	h := newHarness(t)
	r := h.startAgent(t.TempDir(), h.token, func(a *Agent) { a.syncEvery = time.Hour })
	data := t.TempDir()
	writeFiles(t, data, map[string]string{"x": pattern})
	h.ready(r)
	// A hunt pushed with a self-made "log" but not offered by the server's
	// sync: the push only makes the agent sync, so it never runs.
	rogue := makeHunt("h-rogue", rules, data)
	if _, err := h.appendHunt(newTestLog(t, h.logKey), rogue, huntLog{}); err != nil {
		t.Fatal(err)
	}
	before := h.syncCount()
	h.push2(r.a.ID(), rogue)
	h.waitFor("the sync a push triggers", func() bool { return h.syncCount() > before })
	// A logged hunt pushed: the push's sync (the hour-long sync interval
	// is not reached) brings it with its proofs and it runs.
	good := makeHunt("h-pushed-good", rules, data)
	h.push(r.a.ID(), good)
	h.ranWith(good.ID, 1)
	if st, _ := h.huntMsgs(rogue.ID); len(st) != 0 {
		t.Errorf("a hunt only pushed got statuses %+v", st)
	}
}

// push2 publishes a hunt on the agent's hunt subject without offering it
// in sync replies.
func (h *harness) push2(agentID string, hunt wire.Hunt) {
	h.t.Helper()
	data, err := wire.Encode(hunt)
	if err != nil {
		h.t.Fatal(err)
	}
	h.pushRaw(wire.HuntSubject(h.prefix, agentID), data)
}

func TestForkDetectedAndRefused(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	r := h.startAgent(dir, h.token, nil)
	data := t.TempDir()
	writeFiles(t, data, map[string]string{"x": pattern})
	h.ready(r)
	first := makeHunt("h-first", rules, data)
	h.offer(first, huntLog{})
	h.ranWith(first.ID, 1)
	h.waitSyncs(2) // the agent has seen the log with h-first
	ctx := context.Background()
	trustedTree, err := h.tl.Tree(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// A second log with the same key rewrites history: another entry where
	// h-first was, then the next hunt.
	forked := newTestLog(t, h.logKey)
	if _, err := h.appendHunt(forked, makeHunt("h-rewritten", rules, data), huntLog{}); err != nil {
		t.Fatal(err)
	}
	second := makeHunt("h-second", rules, data)
	lh, err := h.appendHunt(forked, second, huntLog{})
	if err != nil {
		t.Fatal(err)
	}
	forkTree, err := forked.Tree(ctx)
	if err != nil {
		t.Fatal(err)
	}
	original := h.tl
	h.mu.Lock()
	h.tl = forked
	h.inLog[second.ID] = lh
	h.syncHunts = append(h.syncHunts, second)
	h.mu.Unlock()
	final := h.refusedWith(second.ID, "forked", "log.state")
	for _, tr := range [][2]string{{"size", strconv.FormatInt(trustedTree.N, 10)}, {"size", strconv.FormatInt(forkTree.N, 10)}, {"hash", trustedTree.Hash.String()}, {"hash", forkTree.Hash.String()}} {
		if !strings.Contains(final.Error, tr[0]+" "+tr[1]) {
			t.Errorf("refusal %q lacks %s %s", final.Error, tr[0], tr[1])
		}
	}
	state, err := os.ReadFile(filepath.Join(dir, logStateFile))
	if err != nil || !strings.Contains(string(state), `"fork"`) {
		t.Errorf("log.state after the fork: %v %s", err, state)
	}

	// Back on the original log, the agent still refuses: only the
	// machine's administrator clears a fork.
	third := makeHunt("h-third", rules, data)
	h.mu.Lock()
	h.tl = original
	h.mu.Unlock()
	h.offer(third, huntLog{})
	h.refusedWith(third.ID, "forked")

	recs := records(t, r.a)
	var forkRec *journal.Record
	for i := range recs {
		if recs[i].HuntID == "" && strings.Contains(recs[i].Reason, "forked") {
			forkRec = &recs[i]
		}
	}
	if forkRec == nil || forkRec.Action != journal.ActionRefused {
		t.Errorf("no fork record in the journal: %+v", recs)
	}
	for _, id := range []string{second.ID, third.ID} {
		if rec := findRecord(recs, id); rec == nil || rec.Action != journal.ActionRefused || !strings.Contains(rec.Reason, "forked") {
			t.Errorf("journal record of %s: %+v", id, rec)
		}
	}

	// A restarted agent still refuses.
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	r.a.Close()
	r2 := h.startAgent(dir, "", nil)
	fourth := makeHunt("h-fourth", rules, data)
	h.offer(fourth, huntLog{})
	h.refusedWith(fourth.ID, "forked")
	_ = r2
}

func TestApprovalsRequired(t *testing.T) {
	h := newHarness(t)
	r := h.startAgent(t.TempDir(), h.token, nil)
	data := t.TempDir()
	writeFiles(t, data, map[string]string{"x": pattern})
	h.ready(r)
	none := makeHunt("h-unapproved", rules, data)
	self := makeHunt("h-self-approved", rules, data) // CreatedBy "tester"
	stranger := makeHunt("h-stranger", rules, data)
	two := makeHunt("h-needs-two", rules, data)
	good := makeHunt("h-approved", rules, data)
	h.offer(none, huntLog{approvers: []string{}})
	h.offer(self, huntLog{approvers: []string{"tester"}})
	h.offer(stranger, huntLog{approvers: []string{"mallory"}})
	h.offer(two, huntLog{approvers: []string{"alice"}, required: 2})
	h.offer(good, huntLog{approvers: []string{"bob"}})
	for _, id := range []string{none.ID, self.ID, stranger.ID, two.ID} {
		h.refusedWith(id, "not approved as the local policy requires")
	}
	h.ranWith(good.ID, 1)
	if rec := findRecord(records(t, r.a), good.ID); rec == nil || !slices.Equal(rec.Approvers, []string{"bob"}) {
		t.Errorf("journal record %+v; want approved by bob", rec)
	}
}

func TestContentHuntRefused(t *testing.T) {
	h := newHarness(t)
	r := h.startAgent(t.TempDir(), h.token, nil)
	data := t.TempDir()
	writeFiles(t, data, map[string]string{"x": pattern})
	h.ready(r)
	content := makeHunt("h-content", rules, data)
	doc := makeHunt("h-document", rules, data)
	h.offer(content, huntLog{content: true})
	h.offer(doc, huntLog{class: translog.LintDocument, approvers: []string{"alice", "bob"}})
	h.refusedWith(content.ID, "collect file content")
	h.refusedWith(doc.ID, "document")
}

func TestForbiddenPaths(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	data := t.TempDir()
	secret := filepath.Join(data, "secret")
	if err := os.MkdirAll(secret, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, data, map[string]string{"open.txt": pattern})
	writeFiles(t, secret, map[string]string{"hidden.txt": pattern})
	// The agent keeps a policy file that exists (no trust on first use).
	h.writePolicy(filepath.Join(dir, "policy"), "forbid-path "+filepath.ToSlash(secret))
	var mu sync.Mutex
	var seen []string
	r := h.startAgent(dir, h.token, func(a *Agent) {
		a.scanHook = func(_ context.Context, id string, e scan.Event) {
			if id == "h-forbidden-inside" {
				mu.Lock()
				seen = append(seen, e.Path)
				mu.Unlock()
			}
		}
	})
	h.ready(r)

	root := makeHunt("h-forbidden-root", rules, secret)
	h.offer(root, huntLog{})
	h.refusedWith(root.ID, "forbidden")

	inside := makeHunt("h-forbidden-inside", rules, data)
	h.offer(inside, huntLog{})
	batches := h.ranWith(inside.ID, 1)
	if rec := findRecord(records(t, r.a), inside.ID); rec == nil || rec.Action != journal.ActionRan || !strings.Contains(rec.Reason, "skips") {
		t.Errorf("journal record of the hunt with a forbidden place inside: %+v", rec)
	}
	for _, b := range batches {
		for _, m := range b.Matches {
			if m.Path != filepath.Join(data, "open.txt") {
				t.Errorf("match reported in a forbidden place: %s", m.Path)
			}
		}
	}
	// The forbidden place was not even walked.
	mu.Lock()
	for _, p := range seen {
		if strings.HasPrefix(p, secret) {
			t.Errorf("the scan walked %s, in a forbidden place", p)
		}
	}
	mu.Unlock()

	if runtime.GOOS == "windows" {
		return // symbolic links need privileges there
	}
	// A root that is a link into the forbidden place is refused.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	viaLink := makeHunt("h-link-root", rules, link)
	h.offer(viaLink, huntLog{})
	h.refusedWith(viaLink.ID, "resolves to")

	// A walked link into the forbidden place, followed: not reported.
	other := t.TempDir()
	writeFiles(t, other, map[string]string{"mine.txt": pattern})
	if err := os.Symlink(secret, filepath.Join(other, "sub")); err != nil {
		t.Fatal(err)
	}
	follow := makeHunt("h-follow", rules, other)
	follow.Limits.FollowSymlinks = true
	h.offer(follow, huntLog{})
	for _, b := range h.ranWith(follow.ID, 1) {
		for _, m := range b.Matches {
			if m.Path != filepath.Join(other, "mine.txt") {
				t.Errorf("match reported through a link into a forbidden place: %s", m.Path)
			}
		}
	}
}

func TestTOFUPolicy(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	custom := filepath.Join(t.TempDir(), "my-policy")
	r := h.startAgent(dir, h.token, func(a *Agent) { a.o.PolicyFile = custom })
	h.ready(r)
	p, err := policy.Load(custom)
	if err != nil {
		t.Fatal(err)
	}
	if p.LogKey != h.logVKey || !slices.Equal(p.Approvers, h.enrollApprovers) || p.MinApprovals != 1 || p.MinWitnesses != 0 {
		t.Errorf("TOFU policy: %+v", p)
	}
	if !h.logged("trust on first use") {
		t.Error("the agent did not say it trusted the server's keys on first use")
	}
	if _, err := os.Stat(filepath.Join(dir, "policy")); !os.IsNotExist(err) {
		t.Errorf("a policy was written in the state directory too: %v", err)
	}

	// A policy file that does not parse stops Run.
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "policy"), []byte("log-key\nno-such-directive 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{StateDir: bad, Server: h.web.URL, Token: h.token, Logf: h.logf})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "policy") {
		t.Errorf("Run with a broken policy: %v", err)
	}
	if a.Enrolled() {
		t.Error("the agent enrolled with a broken policy")
	}
}

func TestJournalAndDailyCap(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	h.writePolicy(filepath.Join(dir, "policy"), "max-hunts-per-day 1")
	r := h.startAgent(dir, h.token, nil)
	data := t.TempDir()
	writeFiles(t, data, map[string]string{"x": pattern, "y": "no"})
	h.ready(r)
	first := makeHunt("h-journal-ran", rules, data)
	h.offer(first, huntLog{})
	h.ranWith(first.ID, 1)
	second := makeHunt("h-journal-capped", rules, data)
	h.offer(second, huntLog{})
	h.refusedWith(second.ID, "accepted 1 hunts today")

	recs := records(t, r.a)
	ran := findRecord(recs, first.ID)
	h.mu.Lock()
	idx := h.inLog[first.ID].index
	h.mu.Unlock()
	if ran == nil || ran.Action != journal.ActionRan || ran.LogIndex != idx || ran.Matches != 1 || ran.FilesScanned != 2 ||
		!slices.Equal(ran.Approvers, []string{"alice"}) || ran.RulesSHA256 != first.RulesSHA256 ||
		!slices.Equal(ran.Paths, []string{data}) || ran.Requester != "tester" || ran.TreeSize <= idx {
		t.Errorf("ran record %+v (log index %d)", ran, idx)
	}
	refused := findRecord(recs, second.ID)
	if refused == nil || refused.Action != journal.ActionRefused || !strings.Contains(refused.Reason, "today") || refused.LogIndex < 0 {
		t.Errorf("refused record %+v", refused)
	}
	if err := journal.Verify(filepath.Join(dir, journalFile)); err != nil {
		t.Error(err)
	}
}

func TestWitnessesRequired(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	w := newKey(t, "witness-1")
	h.writePolicy(filepath.Join(dir, "policy"), "witness "+w.vkey, "min-witnesses 1")
	r := h.startAgent(dir, h.token, nil)
	data := t.TempDir()
	writeFiles(t, data, map[string]string{"x": pattern})
	hunt := makeHunt("h-witnessed", rules, data)
	h.offer(hunt, huntLog{})
	// Not cosigned: the hunt is left for later, not run, not refused.
	h.waitSyncs(3)
	if st, _ := h.huntMsgs(hunt.ID); len(st) != 0 {
		t.Fatalf("hunt judged without the witness's cosignature: %+v", st)
	}
	if !h.logged("not accepted now") {
		t.Error("the agent did not say why it left the hunt")
	}
	h.mu.Lock()
	h.tamperReply = func(rep *wire.SyncReply) {
		v, err := translog.NewVerifierFromKey(h.logVKey)
		if err != nil {
			panic(err)
		}
		cos, err := translog.Cosign(w.signer, v, rep.Checkpoint, nil)
		if err != nil {
			panic(err)
		}
		rep.Checkpoint = cos
	}
	h.mu.Unlock()
	h.ranWith(hunt.ID, 1)
	_ = r
}

// TestRollbackIsFork: a server whose log is smaller than the checkpoint
// the agent stored says it cannot prove consistency; the agent records
// the rollback as a fork and refuses hunts from then on.
func TestRollbackIsFork(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	r := h.startAgent(dir, h.token, nil)
	data := t.TempDir()
	writeFiles(t, data, map[string]string{"x": pattern})
	h.ready(r)
	first := makeHunt("h-before-rollback", rules, data)
	h.offer(first, huntLog{})
	h.ranWith(first.ID, 1)
	h.waitSyncs(2)

	original := h.tl
	small := newTestLog(t, h.logKey)
	if _, err := small.Append(context.Background(), translog.KindRuleSet, mustRuleSet(t)); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.tl = small
	h.tamperReply = func(rep *wire.SyncReply) {
		rep.Hunts = []wire.Hunt{}
		rep.Error = "your checkpoint is larger than this log: it cannot prove consistency"
	}
	h.mu.Unlock()
	h.waitFor("the rollback to be recorded", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, logStateFile))
		return err == nil && strings.Contains(string(b), `"fork"`)
	})
	h.mu.Lock()
	h.tl = original
	h.tamperReply = nil
	h.mu.Unlock()
	next := makeHunt("h-after-rollback", rules, data)
	h.offer(next, huntLog{})
	h.refusedWith(next.ID, "forked")
}

func mustRuleSet(t *testing.T) []byte {
	t.Helper()
	rs := &translog.RuleSetEntry{Name: "rs", RulesSHA256: strings.Repeat("ab", 32), Publisher: "alice", Created: time.Now().UTC(), LintClass: translog.LintCode}
	b, err := rs.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
