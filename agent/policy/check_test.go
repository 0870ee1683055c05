package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"vigil/translog"
	"vigil/wire"
)

type fixture struct {
	logk, alice, bob, carol, mallory key
}

func newFixture(t *testing.T) *fixture {
	return &fixture{
		logk: newKey(t, "log.example"), alice: newKey(t, "alice"), bob: newKey(t, "bob"),
		carol: newKey(t, "carol"), mallory: newKey(t, "mallory"),
	}
}

// policy parses a Linux policy trusting alice, bob and carol, plus extra lines.
func (f *fixture) policy(t *testing.T, extra string) *Policy {
	t.Helper()
	return mustParse(t, "linux", "log-key "+f.logk.vkey+"\napprover "+f.alice.vkey+"\napprover "+f.bob.vkey+
		"\napprover "+f.carol.vkey+"\n"+extra)
}

func testWireHunt(requester string, paths ...string) *wire.Hunt {
	rules := "rule r { strings: $a = { 4d 5a } condition: $a }"
	sum := sha256.Sum256([]byte(rules))
	return &wire.Hunt{
		ID: "h1", Name: "mz", Rules: rules, RulesSHA256: hex.EncodeToString(sum[:]),
		Paths: paths, Why: "incident 7", CreatedBy: requester,
		Created: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
		Expires: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
	}
}

// entry encodes h's log entry, class "code", ApprovalsRequired 1, after mod.
func entry(t *testing.T, h *wire.Hunt, mod func(*translog.HuntEntry)) []byte {
	t.Helper()
	e := translog.HuntEntryFromWire(h)
	e.LintClass = translog.LintCode
	e.ApprovalsRequired = 1
	if mod != nil {
		mod(e)
	}
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func approve(t *testing.T, k key, vkey string, huntEntry []byte) []byte {
	t.Helper()
	a, err := translog.NewApproval(k.signer, vkey, huntEntry, 3, time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	b, err := a.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantAllowed(t *testing.T, d Decision) {
	t.Helper()
	if !d.Allowed {
		t.Fatalf("refused, want allowed: %q", d.Reasons)
	}
}

func wantRefused(t *testing.T, d Decision, reason string) {
	t.Helper()
	if d.Allowed {
		t.Fatalf("allowed, want refused (%s): %q", reason, d.Reasons)
	}
	for _, r := range d.Reasons {
		if strings.Contains(r, reason) {
			return
		}
	}
	t.Fatalf("refused, but no reason mentions %q: %q", reason, d.Reasons)
}

func TestCheckHonestHunt(t *testing.T) {
	f := newFixture(t)
	p := f.policy(t, "")
	h := testWireHunt("dave", "/usr/bin", "/opt")
	e := entry(t, h, nil)
	d := p.Check(h, e, [][]byte{approve(t, f.alice, f.alice.vkey, e)}, 0)
	wantAllowed(t, d)
	if len(d.Approvers) != 1 || d.Approvers[0] != "alice" || len(d.Exclude) != 0 {
		t.Errorf("decision %+v", d)
	}
}

func TestCheckPaths(t *testing.T) {
	f := newFixture(t)
	p := f.policy(t, "forbid-path /srv/secret/**\n")
	run := func(paths ...string) Decision {
		h := testWireHunt("dave", paths...)
		e := entry(t, h, nil)
		return p.Check(h, e, [][]byte{approve(t, f.bob, f.bob.vkey, e)}, 0)
	}
	// A root inside a forbidden place is refused, however it is spelled.
	for _, root := range []string{
		"/home/bob/Documents", "/home/bob/Documents/", "/home/bob/Documents/taxes",
		"//home//bob/Documents", "/tmp/../home/bob/Documents", "/home/bob/./Documents/x/..",
		"/srv/secret", "/srv/secret/a/b", "/srv/x/../secret",
	} {
		wantRefused(t, run("/usr/bin", root), "is forbidden by the local policy")
	}
	wantRefused(t, run("usr/bin"), "cannot be judged")
	// A forbidden place inside a root: allowed, listed in Exclude.
	d := run("/home")
	wantAllowed(t, d)
	has := func(x string) bool {
		for _, e := range d.Exclude {
			if e == x {
				return true
			}
		}
		return false
	}
	if !has("/home/*/Documents") || !has("/home/*/.ssh") || has("/srv/secret") || has("/var/mail") {
		t.Errorf("Exclude for /home = %q", d.Exclude)
	}
	if !strings.Contains(strings.Join(d.Reasons, " "), "skips what the local policy forbids: /home/*/Documents, ") {
		t.Errorf("reasons do not say what is skipped: %q", d.Reasons)
	}
	d = run("/srv", "/home/bob")
	wantAllowed(t, d)
	if !has("/srv/secret") || !has("/home/*/Documents") {
		t.Errorf("Exclude for /srv /home/bob = %q", d.Exclude)
	}
	d = run("/")
	wantAllowed(t, d)
	if !has("/var/mail") || !has("/root/.ssh") || !has("/srv/secret") {
		t.Errorf("Exclude for / = %q", d.Exclude)
	}
	// Unrelated roots exclude nothing.
	if d := run("/opt", "/srv/public"); !d.Allowed || len(d.Exclude) != 0 {
		t.Errorf("decision for /opt /srv/public: %+v", d)
	}
}

func TestCheckContent(t *testing.T) {
	f := newFixture(t)
	h := testWireHunt("dave", "/usr/bin")
	e := entry(t, h, func(e *translog.HuntEntry) { e.ContentCollection = true })
	a := [][]byte{approve(t, f.alice, f.alice.vkey, e)}
	wantRefused(t, f.policy(t, "").Check(h, e, a, 0), "collect file content")
	wantRefused(t, f.policy(t, "allow-content no\n").Check(h, e, a, 0), "collect file content")
	wantAllowed(t, f.policy(t, "allow-content yes\n").Check(h, e, a, 0))
}

func TestCheckApprovals(t *testing.T) {
	f := newFixture(t)
	p := f.policy(t, "")
	h := testWireHunt("alice", "/usr/bin")
	e := entry(t, h, nil)
	const why = "not approved"
	wantRefused(t, p.Check(h, e, nil, 0), why)
	// By the author.
	wantRefused(t, p.Check(h, e, [][]byte{approve(t, f.alice, f.alice.vkey, e)}, 0), why)
	// By a key the policy does not list.
	wantRefused(t, p.Check(h, e, [][]byte{approve(t, f.mallory, f.mallory.vkey, e)}, 0), why)
	// By another key under a trusted name.
	fakeBob := newKey(t, "bob")
	wantRefused(t, p.Check(h, e, [][]byte{approve(t, fakeBob, fakeBob.vkey, e)}, 0), why)
	// An approval of another hunt.
	other := entry(t, h, func(e *translog.HuntEntry) { e.Why = "something else" })
	wantRefused(t, p.Check(h, e, [][]byte{approve(t, f.bob, f.bob.vkey, other)}, 0), why)
	// Garbage.
	wantRefused(t, p.Check(h, e, [][]byte{[]byte("approve me")}, 0), why)
	// Bob counts.
	bob := approve(t, f.bob, f.bob.vkey, e)
	wantAllowed(t, p.Check(h, e, [][]byte{bob}, 0))

	// The entry asks for 2: bob alone (even twice) is not enough.
	e2 := entry(t, h, func(e *translog.HuntEntry) { e.ApprovalsRequired = 2 })
	bob2 := approve(t, f.bob, f.bob.vkey, e2)
	wantRefused(t, p.Check(h, e2, [][]byte{bob2, bob2}, 0), why)
	wantAllowed(t, p.Check(h, e2, [][]byte{bob2, approve(t, f.carol, f.carol.vkey, e2)}, 0))

	// The policy asks for 2 although the entry asks for 0.
	e0 := entry(t, h, func(e *translog.HuntEntry) { e.ApprovalsRequired = 0 })
	bob0 := approve(t, f.bob, f.bob.vkey, e0)
	p2 := f.policy(t, "min-approvals 2\n")
	wantRefused(t, p2.Check(h, e0, [][]byte{bob0}, 0), why)
	wantAllowed(t, p2.Check(h, e0, [][]byte{bob0, approve(t, f.carol, f.carol.vkey, e0)}, 0))
	// min-approvals 0 and an entry asking for 0: no approval needed.
	wantAllowed(t, f.policy(t, "min-approvals 0\n").Check(h, e0, nil, 0))
}

func TestCheckDocumentHunts(t *testing.T) {
	f := newFixture(t)
	h := testWireHunt("dave", "/usr/bin")
	for _, class := range []string{translog.LintDocument, "unknown-class"} {
		e := entry(t, h, func(e *translog.HuntEntry) { e.LintClass = class })
		one := [][]byte{approve(t, f.alice, f.alice.vkey, e)}
		two := append(one, approve(t, f.bob, f.bob.vkey, e))
		three := append(two, approve(t, f.carol, f.carol.vkey, e))
		wantRefused(t, f.policy(t, "").Check(h, e, three, 0), "refuses such hunts")
		wantRefused(t, f.policy(t, "document-hunts refuse\n").Check(h, e, three, 0), "refuses such hunts")
		allow := f.policy(t, "document-hunts allow\n") // min-document-approvals 2 by default
		wantRefused(t, allow.Check(h, e, one, 0), "not approved")
		wantAllowed(t, allow.Check(h, e, two, 0))
		allow3 := f.policy(t, "document-hunts allow\nmin-document-approvals 3\n")
		wantRefused(t, allow3.Check(h, e, two, 0), "not approved")
		wantAllowed(t, allow3.Check(h, e, three, 0))
	}
	// A code hunt is not held to min-document-approvals.
	e := entry(t, h, nil)
	wantAllowed(t, f.policy(t, "min-document-approvals 3\n").Check(h, e, [][]byte{approve(t, f.alice, f.alice.vkey, e)}, 0))
}

func TestCheckDailyLimit(t *testing.T) {
	f := newFixture(t)
	h := testWireHunt("dave", "/usr/bin")
	e := entry(t, h, nil)
	a := [][]byte{approve(t, f.alice, f.alice.vkey, e)}
	p := f.policy(t, "max-hunts-per-day 3\n")
	wantAllowed(t, p.Check(h, e, a, 2))
	wantRefused(t, p.Check(h, e, a, 3), "allows 3 a day")
	wantRefused(t, p.Check(h, e, a, 4), "allows 3 a day")
	wantRefused(t, f.policy(t, "max-hunts-per-day 0\n").Check(h, e, a, 0), "allows 0 a day")
	wantAllowed(t, f.policy(t, "max-hunts-per-day unlimited\n").Check(h, e, a, 1_000_000))
	wantRefused(t, f.policy(t, "").Check(h, e, a, 20), "allows 20 a day") // the default
}

func TestCheckEntryMismatch(t *testing.T) {
	f := newFixture(t)
	p := f.policy(t, "")
	h := testWireHunt("dave", "/usr/bin")
	e := entry(t, h, nil)
	a := [][]byte{approve(t, f.alice, f.alice.vkey, e)}
	wantAllowed(t, p.Check(h, e, a, 0))

	// The server sends other paths than the log says.
	h2 := *h
	h2.Paths = []string{"/usr/bin", "/srv"}
	wantRefused(t, p.Check(&h2, e, a, 0), "not the one its log entry describes")
	// Other rules.
	h3 := *h
	h3.Rules += " "
	wantRefused(t, p.Check(&h3, e, a, 0), "not the one its log entry describes")
	// An entry that is not an entry.
	wantRefused(t, p.Check(h, []byte("hunt h1 please"), a, 0), "log entry is not valid")
	wantRefused(t, p.Check(h, nil, a, 0), "log entry is not valid")
	// A malformed hunt.
	h4 := *h
	h4.Paths = nil
	wantRefused(t, p.Check(&h4, e, a, 0), "malformed")
	wantRefused(t, p.Check(nil, e, a, 0), "no hunt")
}

func TestVerifierWitnesses(t *testing.T) {
	f := newFixture(t)
	w1, w2 := newKey(t, "w1.example"), newKey(t, "w2.example")
	p := f.policy(t, "witness "+w1.vkey+"\nwitness "+w2.vkey+"\nmin-witnesses 1\n")

	lg, err := translog.New(translog.NewMemoryStorage(), f.logk.signer)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h := testWireHunt("dave", "/usr/bin")
	if _, err := lg.Append(ctx, translog.KindHunt, entry(t, h, nil)); err != nil {
		t.Fatal(err)
	}
	cp, err := lg.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, err := p.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyCheckpoint(cp); err == nil {
		t.Fatal("checkpoint without a witness cosignature accepted under min-witnesses 1")
	}
	lv, err := note.NewVerifier(f.logk.vkey)
	if err != nil {
		t.Fatal(err)
	}
	cosigned, err := translog.Cosign(w2.signer, translog.NewVerifier(lv), cp, tlog.TreeProof{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyCheckpoint(cosigned); err != nil {
		t.Fatalf("cosigned checkpoint refused: %v", err)
	}
	// A log key other than the pinned one is refused.
	other := newKey(t, "log.example")
	lg2, err := translog.New(translog.NewMemoryStorage(), other.signer)
	if err != nil {
		t.Fatal(err)
	}
	cp2, err := lg2.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cp2, err = translog.Cosign(w2.signer, translog.NewVerifier(mustVerifier(t, other.vkey)), cp2, tlog.TreeProof{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyCheckpoint(cp2); err == nil {
		t.Fatal("checkpoint by an unpinned log key accepted")
	}
}

func mustVerifier(t *testing.T, vkey string) note.Verifier {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCheckPathsOtherSystems(t *testing.T) {
	f := newFixture(t)
	keys := "log-key " + f.logk.vkey + "\napprover " + f.alice.vkey + "\n"
	run := func(p *Policy, paths ...string) Decision {
		h := testWireHunt("dave", paths...)
		e := entry(t, h, nil)
		return p.Check(h, e, [][]byte{approve(t, f.alice, f.alice.vkey, e)}, 0)
	}
	win := mustParse(t, "windows", keys+"forbid-path D:\\Secret\\**\n")
	for _, root := range []string{`C:\Users\bob\Documents`, `c:\users\bob\documents\x`, `C:\Users\bob\Desktop.\x`,
		`\\?\C:\Users\bob\Downloads`, `d:\secret\a`, `D:\Public\..\SECRET`} {
		wantRefused(t, run(win, root), "is forbidden by the local policy")
	}
	for _, root := range []string{`\\localhost\C$\Users\bob\Documents`, `C:Users`, `\Users`, `relative`} {
		wantRefused(t, run(win, root), "cannot be judged")
	}
	d := run(win, `C:\`, `D:\`)
	wantAllowed(t, d)
	if !slices.Contains(d.Exclude, filepath.FromSlash("?:/Users/*/Documents")) || !slices.Contains(d.Exclude, filepath.FromSlash("D:/Secret")) {
		t.Errorf("windows Exclude = %q", d.Exclude)
	}

	mac := mustParse(t, "darwin", keys)
	for _, root := range []string{"/Users/bob/Documents", "/users/bob/DOCUMENTS/a", "/System/Volumes/Data/Users/bob/Desktop",
		"/private/var/mail", "/Users/bob/Library/Mail"} {
		wantRefused(t, run(mac, root), "is forbidden by the local policy")
	}
	d = run(mac, "/System/Volumes/Data/Users")
	wantAllowed(t, d)
	if !slices.Contains(d.Exclude, "/Users/*/Documents") {
		t.Errorf("darwin Exclude = %q", d.Exclude)
	}
}
