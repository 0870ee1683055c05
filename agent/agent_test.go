package agent

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"vigil/wire"
	"vigil/yara"
)

func TestEnrollRefused(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	bad := "wrong-token-5150"
	a, err := New(Options{StateDir: dir, Server: h.web.URL, Token: bad, Logf: h.logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	err = a.Enroll(context.Background())
	want := "enroll: server said 401: unknown or expired token"
	if err == nil || err.Error() != want {
		t.Fatalf("Enroll with a bad token: got %v, want %q", err, want)
	}
	var ee *EnrollError
	if !errors.As(err, &ee) || ee.Status != 401 || !ee.Permanent() {
		t.Errorf("error %#v is not a permanent *EnrollError with status 401", err)
	}
	if a.Enrolled() || a.ID() != "" {
		t.Error("agent enrolled after a refusal")
	}
	if _, err := os.Stat(filepath.Join(dir, identityFile)); !os.IsNotExist(err) {
		t.Errorf("identity file after a refusal: %v", err)
	}
	// Run gives up on a refused token at once, with the same message.
	if err := a.Run(context.Background()); err == nil || err.Error() != want {
		t.Errorf("Run with a bad token: got %v, want %q", err, want)
	}
	if h.logged(bad) {
		t.Error("the token appears in a log line")
	}
}

func TestEnrollAndReload(t *testing.T) {
	h := newHarness(t)
	dir := filepath.Join(t.TempDir(), "state")
	a, err := New(Options{StateDir: dir, Server: h.web.URL + "/", Token: h.token, Labels: map[string]string{"role": "db"}, Version: "v1.2.3", Logf: h.logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if a.Enrolled() {
		t.Fatal("enrolled before Enroll")
	}
	if err := a.Enroll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !a.Enrolled() || a.ID() != "agent-1" {
		t.Fatalf("after Enroll: enrolled %v, ID %q", a.Enrolled(), a.ID())
	}
	h.mu.Lock()
	req := h.enrollReq[len(h.enrollReq)-1]
	h.mu.Unlock()
	if !nkeys.IsValidPublicUserKey(req.PublicKey) || req.Labels["role"] != "db" || req.Version != "v1.2.3" ||
		req.OS != runtime.GOOS || req.Arch != runtime.GOARCH {
		t.Errorf("enroll request %+v", req)
	}
	raw, err := os.ReadFile(filepath.Join(dir, identityFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), h.token) {
		t.Error("the identity file holds the enrollment token")
	}
	if runtime.GOOS != "windows" {
		for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, identityFile): 0o600} {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != want {
				t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), want)
			}
		}
	}
	if err := a.Enroll(context.Background()); err == nil {
		t.Error("a second Enroll succeeded")
	}

	// A new agent on the same directory is enrolled without the server.
	b, err := New(Options{StateDir: dir, Server: h.web.URL, Logf: h.logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if !b.Enrolled() || b.ID() != "agent-1" {
		t.Fatalf("reloaded: enrolled %v, ID %q", b.Enrolled(), b.ID())
	}
	r := h.startAgent(dir, "", nil)
	h.waitFor("a hello", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.hellos) > 0
	})
	h.mu.Lock()
	hello, enrolls := h.hellos[0], h.enrolls
	h.mu.Unlock()
	if enrolls != 1 {
		t.Errorf("%d enrollments, want 1", enrolls)
	}
	if hello.Version != wire.Version || hello.Agent != "v-test" || hello.OS != runtime.GOOS || hello.Time.IsZero() {
		t.Errorf("hello %+v", hello)
	}
	if err := r.stop(); err != nil {
		t.Errorf("Run: %v", err)
	}

	// A broken identity file is an error, not a re-enrollment.
	if err := os.WriteFile(filepath.Join(dir, identityFile), []byte(`{"agent_id":"x","nkey_seed":"SUAsecret"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{StateDir: dir}); err == nil || strings.Contains(err.Error(), "SUAsecret") {
		t.Errorf("New with a broken identity: %v", err)
	}
}

// writeFiles creates name → content files in dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const (
	marker  = "TOPSECRET-MARKER-7f3a"
	pattern = "EVIL-PATTERN-42"
	rules   = `rule evil : apt backdoor {
	strings:
		$a = "EVIL-PATTERN-42"
		$b = "nothing-like-this"
	condition:
		$a or $b
}
rule other { strings: $x = "never-ever-present" condition: $x }`
)

func TestHuntResults(t *testing.T) {
	h := newHarness(t)
	r := h.startAgent(t.TempDir(), h.token, nil)
	data := t.TempDir()
	many := marker + strings.Repeat("xx"+pattern, 20) + marker
	files := map[string]string{
		"a.txt": "nothing here " + marker,
		"b.bin": marker + " prefix " + pattern + " middle " + pattern + " " + marker,
		"c.txt": "EVIL-PATTERN-41 is not it",
		"d.txt": many,
		"e.txt": "",
	}
	writeFiles(t, data, files)
	h.ready(r)
	hunt := makeHunt("h-results", rules, data)
	h.push(r.a.ID(), hunt)
	final, statuses, batches := h.terminal(hunt.ID)

	if final.State != wire.StateDone || final.Error != "" {
		t.Fatalf("final status %+v", final)
	}
	var states []string
	for i, s := range statuses {
		states = append(states, s.State)
		if s.Seq != uint64(i+1) {
			t.Errorf("status %d has Seq %d", i, s.Seq)
		}
	}
	if len(states) < 3 || states[0] != wire.StateReceived || states[1] != wire.StateRunning {
		t.Errorf("states %v: want received, running, ..., done", states)
	}
	if final.FilesScanned != 5 || final.FilesMatched != 2 || final.FileErrors != 0 || final.Started.IsZero() {
		t.Errorf("final counters %+v", final)
	}
	if final.Batches != uint64(len(batches)) || len(batches) != 1 {
		t.Fatalf("final.Batches %d, %d batches received", final.Batches, len(batches))
	}
	got := map[string]wire.FileMatch{}
	for _, m := range batches[0].Matches {
		got[m.Path] = m
	}
	if len(got) != 2 {
		t.Fatalf("matches for %d paths, want 2: %+v", len(got), batches[0].Matches)
	}
	compiled, err := yara.Compile(rules)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"b.bin", "d.txt"} {
		path := filepath.Join(data, name)
		m, ok := got[path]
		if !ok {
			t.Errorf("no match for %s", path)
			continue
		}
		content := []byte(files[name])
		sh, md := sha256.Sum256(content), md5.Sum(content)
		if m.Size != int64(len(content)) || m.SHA256 != hex.EncodeToString(sh[:]) || m.MD5 != hex.EncodeToString(md[:]) {
			t.Errorf("%s: size %d sha256 %s md5 %s", name, m.Size, m.SHA256, m.MD5)
		}
		res, err := compiled.NewScanner().ScanBytes(context.Background(), content)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Rules) != 1 || m.Rules[0].Rule != "evil" || m.Rules[0].Namespace != "default" || !slices.Equal(m.Rules[0].Tags, []string{"apt", "backdoor"}) {
			t.Errorf("%s: rules %+v", name, m.Rules)
			continue
		}
		ms := res.Matching[0].Strings[0]
		var want []int64
		for _, x := range ms.Matches {
			want = append(want, x.Offset)
		}
		hits := m.Rules[0].Strings
		if len(hits) != 1 || hits[0].ID != "$a" || hits[0].Count != len(want) {
			t.Errorf("%s: strings %+v, want $a with %d matches", name, hits, len(want))
			continue
		}
		if len(want) > wire.MaxOffsetsPerHit {
			want = want[:wire.MaxOffsetsPerHit]
		}
		if !slices.Equal(hits[0].Offsets, want) {
			t.Errorf("%s: offsets %v, yara says %v", name, hits[0].Offsets, want)
		}
	}
	if m := got[filepath.Join(data, "d.txt")]; len(m.Rules) == 1 && len(m.Rules[0].Strings) == 1 && m.Rules[0].Strings[0].Count != 20 {
		t.Errorf("d.txt: count %d, want 20", m.Rules[0].Strings[0].Count)
	}
	h.noneContains(t, marker, pattern)
	if h.logged("Permissions Violation") || h.logged("permissions violation") {
		t.Error("the agent went beyond its NATS permissions")
	}
	if testing.Verbose() {
		h.mu.Lock()
		for _, c := range h.msgs {
			t.Logf("%s [Nats-Msg-Id %s] %s", c.Subject, c.MsgID, c.Data)
		}
		if len(h.helloRaw) > 0 {
			t.Logf("hello: %s", h.helloRaw[0])
		}
		if len(h.syncRaw) > 0 {
			t.Logf("sync: %s", h.syncRaw[len(h.syncRaw)-1])
		}
		h.mu.Unlock()
	}
}

func TestPushAndSyncRunOnce(t *testing.T) {
	h := newHarness(t)
	r := h.startAgent(t.TempDir(), h.token, nil)
	data := t.TempDir()
	writeFiles(t, data, map[string]string{"x": pattern})
	pushed := makeHunt("h-pushed", rules, data)
	pulled := makeHunt("h-pulled", rules, data)
	// The sync reply carries both: the pushed one must not run twice.
	h.setSync(pulled, pushed)
	h.ready(r)
	h.push(r.a.ID(), pushed)
	for _, id := range []string{pushed.ID, pulled.ID} {
		if final, _, _ := h.terminal(id); final.State != wire.StateDone || final.FilesMatched != 1 {
			t.Errorf("hunt %s: final %+v", id, final)
		}
	}
	// More syncs return both again, and the hunt is pushed again.
	h.push(r.a.ID(), pushed)
	req := h.waitSyncs(3)
	if !slices.Contains(req.Known, pushed.ID) || !slices.Contains(req.Known, pulled.ID) {
		t.Errorf("sync request Known %v lacks the finished hunts", req.Known)
	}
	if req.Version != wire.Version {
		t.Errorf("sync request version %d", req.Version)
	}
	for _, id := range []string{pushed.ID, pulled.ID} {
		statuses, batches := h.huntMsgs(id)
		received, terminal := 0, 0
		for _, s := range statuses {
			if s.State == wire.StateReceived {
				received++
			}
			if wire.Terminal(s.State) {
				terminal++
			}
		}
		if received != 1 || terminal != 1 || len(batches) != 1 {
			t.Errorf("hunt %s: %d received, %d terminal statuses, %d batches; want 1 each", id, received, terminal, len(batches))
		}
	}
}

func TestCompileFailure(t *testing.T) {
	h := newHarness(t)
	r := h.startAgent(t.TempDir(), h.token, nil)
	bad := "rule broken { condition: $nope }"
	_, cerr := yara.Compile(bad)
	if cerr == nil {
		t.Fatal("the bad rule compiles")
	}
	h.ready(r)
	hunt := makeHunt("h-bad-rules", bad, t.TempDir())
	h.push(r.a.ID(), hunt)
	final, statuses, _ := h.terminal(hunt.ID)
	if final.State != wire.StateFailed || !strings.Contains(final.Error, cerr.Error()) {
		t.Errorf("final %+v; want failed with %q", final, cerr.Error())
	}
	if statuses[0].State != wire.StateReceived || final.Batches != 0 {
		t.Errorf("statuses %+v", statuses)
	}
}

func TestRefusals(t *testing.T) {
	h := newHarness(t)
	r := h.startAgent(t.TempDir(), h.token, nil)
	h.ready(r)
	dir := t.TempDir()

	mismatch := makeHunt("h-sha", rules, dir)
	mismatch.RulesSHA256 = strings.Repeat("0", 64)
	include := makeHunt("h-include", `include "/etc/passwd" rule r { condition: true }`, dir)
	expired := makeHunt("h-expired", rules, dir)
	expired.Expires = time.Now().Add(-time.Minute)
	invalid := makeHunt("h-invalid", rules)
	cases := map[string]string{
		mismatch.ID: "rules_sha256",
		include.ID:  "may not include",
		expired.ID:  "expired",
		invalid.ID:  "paths",
	}
	for _, hunt := range []wire.Hunt{mismatch, include, expired, invalid} {
		h.push(r.a.ID(), hunt)
	}
	for id, want := range cases {
		final, statuses, _ := h.terminal(id)
		if final.State != wire.StateRefused || !strings.Contains(final.Error, want) || len(statuses) != 1 || final.Seq != 1 {
			t.Errorf("hunt %s: statuses %+v; want one refused status mentioning %q", id, statuses, want)
		}
	}
	req := h.waitSyncs(2)
	for id := range cases {
		if !slices.Contains(req.Known, id) {
			t.Errorf("refused hunt %s not in Known %v", id, req.Known)
		}
	}
}

func TestCancel(t *testing.T) {
	h := newHarness(t)
	hook, blocked := blockOn("h-cancel", 1)
	r := h.startAgent(t.TempDir(), h.token, func(a *Agent) { a.scanHook = hook })
	data := t.TempDir()
	for i := range 10 {
		writeFiles(t, data, map[string]string{fmt.Sprintf("f%02d", i): pattern})
	}
	h.ready(r)
	hunt := makeHunt("h-cancel", rules, data)
	// Queued behind the blocked hunt, a second one must still run.
	after := makeHunt("h-after", rules, data)
	h.push(r.a.ID(), hunt)
	<-blocked
	h.push(r.a.ID(), after)
	h.waitFor("h-after to be received", func() bool {
		st, _ := h.huntMsgs(after.ID)
		return len(st) > 0
	})
	if st, _ := h.huntMsgs(after.ID); len(st) != 1 || st[0].State != wire.StateReceived {
		t.Errorf("queued hunt statuses %+v; want only received", st)
	}
	data2, _ := wire.Encode(wire.Cancel{HuntID: hunt.ID})
	h.pushRaw(wire.CancelSubject(h.prefix, r.a.ID()), data2)
	final, _, _ := h.terminal(hunt.ID)
	if final.State != wire.StateCanceled || !strings.Contains(final.Error, "canceled by the server") {
		t.Errorf("final %+v; want canceled by the server", final)
	}
	if final.FilesScanned >= 10 {
		t.Errorf("the canceled scan went on: %d files scanned", final.FilesScanned)
	}
	if f, _, _ := h.terminal(after.ID); f.State != wire.StateDone || f.FilesMatched != 10 {
		t.Errorf("the queued hunt: %+v", f)
	}
}

func TestBatchSplit(t *testing.T) {
	h := newHarness(t)
	r := h.startAgent(t.TempDir(), h.token, func(a *Agent) {
		a.flushEvery = time.Hour // batches are sent only when full, and at the end
		a.o.Workers = 2
	})
	data := t.TempDir()
	n := 2*wire.MaxMatchesPerMsg + 5
	files := map[string]string{}
	for i := range n {
		files[fmt.Sprintf("m%04d", i)] = fmt.Sprintf("%d %s", i, pattern)
	}
	writeFiles(t, data, files)
	h.ready(r)
	hunt := makeHunt("h-split", rules, data)
	h.push(r.a.ID(), hunt)
	final, _, batches := h.terminal(hunt.ID)
	if final.State != wire.StateDone || final.FilesMatched != int64(n) {
		t.Fatalf("final %+v", final)
	}
	if final.Batches != 3 || len(batches) != 3 {
		t.Fatalf("final.Batches %d, %d batches; want 3", final.Batches, len(batches))
	}
	paths := map[string]bool{}
	for i, b := range batches {
		if b.Seq != uint64(i+1) {
			t.Errorf("batch %d has Seq %d", i, b.Seq)
		}
		want := wire.MaxMatchesPerMsg
		if i == 2 {
			want = 5
		}
		if len(b.Matches) != want {
			t.Errorf("batch %d: %d matches, want %d", b.Seq, len(b.Matches), want)
		}
		for _, m := range b.Matches {
			paths[m.Path] = true
		}
	}
	if len(paths) != n {
		t.Errorf("%d distinct paths, want %d", len(paths), n)
	}
}

func TestRestartDoesNotRerunFinished(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	data := t.TempDir()
	writeFiles(t, data, map[string]string{"x": pattern})
	hunt := makeHunt("h-once", rules, data)
	h.setSync(hunt)
	r := h.startAgent(dir, h.token, nil)
	if final, _, _ := h.terminal(hunt.ID); final.State != wire.StateDone {
		t.Fatalf("final %+v", final)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	r2 := h.startAgent(dir, "", nil)
	h.ready(r2)
	h.push(r2.a.ID(), hunt)
	req := h.waitSyncs(3)
	if !slices.Contains(req.Known, hunt.ID) {
		t.Errorf("Known %v after restart", req.Known)
	}
	statuses, batches := h.huntMsgs(hunt.ID)
	received := 0
	for _, s := range statuses {
		if s.State == wire.StateReceived {
			received++
		}
	}
	if received != 1 || len(batches) != 1 {
		t.Errorf("%d received statuses and %d batches; the hunt ran again", received, len(batches))
	}
	h.mu.Lock()
	enrolls := h.enrolls
	h.mu.Unlock()
	if enrolls != 1 {
		t.Errorf("%d enrollments", enrolls)
	}
}

func TestRestartRerunsInterrupted(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	data := t.TempDir()
	writeFiles(t, data, map[string]string{"a1": pattern, "a2": pattern, "a3": "no"})
	hunt := makeHunt("h-rerun", rules, data)
	// First run: the first match is sent in batch 1, then the scan blocks
	// on the second file and the agent is stopped.
	hook, blocked := blockOn(hunt.ID, 2)
	r := h.startAgent(dir, h.token, func(a *Agent) {
		a.scanHook = hook
		a.flushEvery = 20 * time.Millisecond
	})
	h.ready(r)
	h.push(r.a.ID(), hunt)
	<-blocked
	h.waitFor("batch 1", func() bool {
		_, b := h.huntMsgs(hunt.ID)
		return len(b) == 1
	})
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	before, _ := h.huntMsgs(hunt.ID)
	if len(before) == 0 || wire.Terminal(before[len(before)-1].State) {
		t.Fatalf("statuses before the restart: %+v", before)
	}

	// Second run, without the server's help: the local record has it.
	r2 := h.startAgent(dir, "", nil)
	final, statuses, batches := h.terminal(hunt.ID)
	if final.State != wire.StateDone || final.FilesMatched != 2 {
		t.Fatalf("final %+v", final)
	}
	for i := 1; i < len(statuses); i++ {
		if statuses[i].Seq <= statuses[i-1].Seq {
			t.Errorf("status Seq went from %d to %d across the restart", statuses[i-1].Seq, statuses[i].Seq)
		}
	}
	received := 0
	for _, s := range statuses {
		if s.State == wire.StateReceived {
			received++
		}
	}
	if received != 2 {
		t.Errorf("%d received statuses, want 2 (one per run)", received)
	}
	// The rerun resent batch 1 empty (a duplicate the server's store
	// drops: it keeps the first of each Seq, as done here), then sent its
	// own matches as batch 2.
	var kept []wire.ResultBatch
	seen := map[uint64]bool{}
	for _, b := range batches {
		if !seen[b.Seq] {
			seen[b.Seq] = true
			kept = append(kept, b)
		}
	}
	batches = kept
	if final.Batches != 2 || len(batches) != 2 || batches[0].Seq != 1 || batches[1].Seq != 2 ||
		len(batches[0].Matches) != 1 || len(batches[1].Matches) != 2 {
		t.Errorf("final.Batches %d; batches %+v", final.Batches, batches)
	}
	if err := r2.stop(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, huntsDir, activeDir)); len(entries) != 0 {
		t.Errorf("active hunt files left: %v", entries)
	}
}

func TestGarbageIgnored(t *testing.T) {
	h := newHarness(t)
	r := h.startAgent(t.TempDir(), h.token, nil)
	h.ready(r)
	id := r.a.ID()
	hs, cs := wire.HuntSubject(h.prefix, id), wire.CancelSubject(h.prefix, id)
	secret := "SUAGARBAGESEED"
	for _, g := range [][]byte{
		[]byte("not json " + secret),
		[]byte(`{"id":"x","unknown_field":1}`),
		[]byte(`{"id":"BAD ID!","rules":"x"}`),
		[]byte(`[1,2,3]`),
		[]byte(`{"id":"ok"}{"id":"trailing"}`),
		{},
		[]byte(`{"id":"` + strings.Repeat("a", wire.MaxMessage) + `"}`),
	} {
		h.pushRaw(hs, g)
		h.pushRaw(cs, g)
	}
	h.pushRaw(cs, []byte(`{"hunt_id":"no-such-hunt"}`))
	data := t.TempDir()
	writeFiles(t, data, map[string]string{"x": pattern})
	hunt := makeHunt("h-after-garbage", rules, data)
	h.push(id, hunt)
	if final, _, _ := h.terminal(hunt.ID); final.State != wire.StateDone || final.FilesMatched != 1 {
		t.Errorf("final %+v", final)
	}
	if !h.logged("ignored a pushed hunt") || !h.logged("ignored a cancel") {
		t.Error("garbage was not logged")
	}
	if h.logged(secret) {
		t.Error("garbage content was logged")
	}
	if _, b := h.huntMsgs("x"); len(b) != 0 {
		t.Error("garbage produced results")
	}
}

// TestPermissionsEnforced shows that the test's NATS server really holds
// the agent to wire.AgentPermissions: with the agent's own key, publishing
// as another agent is refused.
func TestPermissionsEnforced(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	a, err := New(Options{StateDir: dir, Server: h.web.URL, Token: h.token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if err := a.Enroll(context.Background()); err != nil {
		t.Fatal(err)
	}
	id, err := loadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := nkeys.FromSeed([]byte(id.Seed))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	errs := make(chan error, 10)
	nc, err := nats.Connect(id.NATS[0], nats.Nkey(pub, kp.Sign), nats.CustomInboxPrefix(wire.InboxPrefix(id.AgentID)),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Publish(wire.StatusSubject(h.prefix, "agent-999"), []byte("{}"))
	nc.Flush()
	select {
	case err := <-errs:
		if !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
			t.Errorf("publishing as another agent: %v", err)
		}
	case <-time.After(waitLimit):
		t.Error("publishing as another agent was not refused")
	}
}

func TestLimits(t *testing.T) {
	h := newHarness(t)
	hook, _ := blockOn("h-timeout", 1)
	r := h.startAgent(t.TempDir(), h.token, func(a *Agent) { a.scanHook = hook })
	data := t.TempDir()
	for i := range 10 {
		writeFiles(t, data, map[string]string{fmt.Sprintf("f%02d", i): pattern})
	}
	h.ready(r)

	capped := makeHunt("h-maxfiles", rules, data)
	capped.Limits.MaxFiles = 3
	h.push(r.a.ID(), capped)
	final, _, _ := h.terminal(capped.ID)
	if final.State != wire.StateDone || final.FilesScanned != 3 || final.FilesMatched != 3 || !strings.Contains(final.Error, "max_files") {
		t.Errorf("MaxFiles 3: final %+v", final)
	}

	// The hook blocks the scan until the hunt's timeout ends it.
	slow := makeHunt("h-timeout", rules, data)
	slow.Limits.Timeout = 100 * time.Millisecond
	h.push(r.a.ID(), slow)
	final, _, _ = h.terminal(slow.ID)
	if final.State != wire.StateFailed || !strings.Contains(final.Error, "hunt timeout of 100ms passed") || final.FilesScanned >= 10 {
		t.Errorf("timeout: final %+v", final)
	}

	// A relative path cannot be judged by the local policy: the hunt is
	// refused, nothing scanned.
	rel := makeHunt("h-relative", rules, "relative/path", data)
	h.push(r.a.ID(), rel)
	final, statuses, batches := h.terminal(rel.ID)
	if final.State != wire.StateRefused || !strings.Contains(final.Error, `"relative/path"`) || len(statuses) != 1 || len(batches) != 0 {
		t.Errorf("relative path: final %+v, batches %+v", final, batches)
	}
}

func TestArchiveMembers(t *testing.T) {
	h := newHarness(t)
	r := h.startAgent(t.TempDir(), h.token, nil)
	data := t.TempDir()
	member := []byte(marker + " inside " + pattern + " " + marker)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("dir/inner.txt")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(member)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "pack.zip"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	h.ready(r)
	hunt := makeHunt("h-zip", rules, data)
	hunt.Limits.Archives = true
	h.push(r.a.ID(), hunt)
	final, _, batches := h.terminal(hunt.ID)
	if final.State != wire.StateDone || len(batches) != 1 {
		t.Fatalf("final %+v, %d batches", final, len(batches))
	}
	want := filepath.Join(data, "pack.zip") + "!dir/inner.txt"
	sh, md := sha256.Sum256(member), md5.Sum(member)
	found := false
	for _, m := range batches[0].Matches {
		if m.Path != want {
			continue
		}
		found = true
		if m.Size != int64(len(member)) || m.SHA256 != hex.EncodeToString(sh[:]) || m.MD5 != hex.EncodeToString(md[:]) {
			t.Errorf("member match %+v", m)
		}
	}
	if !found {
		t.Errorf("no match for %s in %+v", want, batches[0].Matches)
	}
	h.noneContains(t, marker, pattern)
}

func TestReconnect(t *testing.T) {
	h := newHarness(t)
	r := h.startAgent(t.TempDir(), h.token, nil)
	data := t.TempDir()
	writeFiles(t, data, map[string]string{"x": pattern})
	h.ready(r)
	first := makeHunt("h-before", rules, data)
	h.push(r.a.ID(), first)
	h.terminal(first.ID)

	h.restartNATS()
	h.waitFor("the agent to reconnect", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		n := 0
		for _, l := range h.logs {
			if strings.HasPrefix(l, "nats: connected to") {
				n++
			}
		}
		return n >= 2
	})
	h.waitSyncs(2)
	second := makeHunt("h-after", rules, data)
	h.push(r.a.ID(), second)
	if final, _, _ := h.terminal(second.ID); final.State != wire.StateDone || final.FilesMatched != 1 {
		t.Errorf("after reconnecting: final %+v", final)
	}
}

func TestExpiryWhileQueuedAndRunning(t *testing.T) {
	h := newHarness(t)
	hook, blocked := blockOn("h-long", 1)
	r := h.startAgent(t.TempDir(), h.token, func(a *Agent) { a.scanHook = hook })
	data := t.TempDir()
	writeFiles(t, data, map[string]string{"x": pattern, "y": pattern})
	h.ready(r)
	// h-long blocks in its scan until it expires; h-queued waits behind
	// it and expires first.
	long := makeHunt("h-long", rules, data)
	long.Expires = time.Now().Add(3 * time.Second)
	queued := makeHunt("h-queued", rules, data)
	queued.Expires = time.Now().Add(1500 * time.Millisecond)
	h.push(r.a.ID(), long)
	<-blocked
	h.push(r.a.ID(), queued)
	final, statuses, _ := h.terminal(queued.ID)
	if final.State != wire.StateCanceled || !strings.Contains(final.Error, "before it could run") || len(statuses) != 2 {
		t.Errorf("queued hunt: statuses %+v", statuses)
	}
	final, _, _ = h.terminal(long.ID)
	if final.State != wire.StateCanceled || !strings.Contains(final.Error, "expired") || !strings.Contains(final.Error, "while running") {
		t.Errorf("running hunt: final %+v", final)
	}
}
