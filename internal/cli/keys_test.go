package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"vigil/server/api"
	"vigil/translog"
)

func TestKeyCreate(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "bob.key")
	code, out, errOut := ltRun(t, "", (*env).keyCmd, "create", "--name", "bob", "--out", keyFile)
	if code != 0 {
		t.Fatalf("key create: %d\n%s%s", code, out, errOut)
	}
	skey, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := os.ReadFile(keyFile + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, strings.TrimSpace(string(skey))) {
		t.Fatal("the private key was printed")
	}
	if !strings.Contains(out, strings.TrimSpace(string(vkey))) {
		t.Errorf("public key not printed:\n%s", out)
	}
	if runtime.GOOS != "windows" {
		for f, want := range map[string]os.FileMode{keyFile: 0o600, keyFile + ".pub": 0o644} {
			fi, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != want {
				t.Errorf("%s: mode %v, want %v", f, fi.Mode().Perm(), want)
			}
		}
	}
	// The two files are a working note key pair named bob.
	signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		t.Fatal(err)
	}
	if signer.Name() != "bob" || verifier.Name() != "bob" {
		t.Fatalf("names %q %q", signer.Name(), verifier.Name())
	}
	msg, err := note.Sign(&note.Note{Text: "hello\n"}, signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(msg, note.VerifierList(verifier)); err != nil {
		t.Fatalf("round trip: %v", err)
	}
	if _, _, err := readKeyPair(keyFile, io.Discard); err != nil {
		t.Fatalf("readKeyPair: %v", err)
	}

	// Never overwrites.
	if code, _, errOut := ltRun(t, "", (*env).keyCmd, "create", "--name", "bob", "--out", keyFile); code != exitError || !strings.Contains(errOut, "already exists") {
		t.Fatalf("overwrite: %d %s", code, errOut)
	}
	if now, _ := os.ReadFile(keyFile); string(now) != string(skey) {
		t.Fatal("key overwritten")
	}
	// Bad names and missing flags.
	if code, _, _ := ltRun(t, "", (*env).keyCmd, "create", "--name", "bad name+", "--out", filepath.Join(dir, "x")); code != exitError {
		t.Errorf("bad name: %d", code)
	}
	if code, _, _ := ltRun(t, "", (*env).keyCmd, "create", "--name", "bob"); code != exitUsage {
		t.Errorf("missing --out: %d", code)
	}
	// A mismatched pair is refused.
	other := filepath.Join(dir, "other.key")
	if code, _, _ := ltRun(t, "", (*env).keyCmd, "create", "--name", "bob", "--out", other); code != 0 {
		t.Fatal("second key")
	}
	pub, _ := os.ReadFile(other + ".pub")
	must(t, os.WriteFile(keyFile+".pub", pub, 0o644))
	if _, _, err := readKeyPair(keyFile, io.Discard); err == nil {
		t.Fatal("mismatched key pair accepted")
	}
}

// ltAPI is the operator part of a server's API for one hunt.
type ltAPI struct {
	srv *httptest.Server

	mu        sync.Mutex
	me        string
	hunt      api.Hunt
	approvals []api.ApprovalRequest
	keys      []api.KeyRequest
	tokens    []string
}

func newLtAPI(t *testing.T, me string, h api.Hunt) *ltAPI {
	f := &ltAPI{me: me, hunt: h}
	mux := http.NewServeMux()
	auth := func(r *http.Request) {
		f.mu.Lock()
		f.tokens = append(f.tokens, r.Header.Get("Authorization"))
		f.mu.Unlock()
	}
	mux.HandleFunc("GET /api/v1/whoami", func(w http.ResponseWriter, r *http.Request) {
		auth(r)
		json.NewEncoder(w).Encode(api.Operator{ID: "op1", Name: f.me, Role: "approver"})
	})
	mux.HandleFunc("PUT /api/v1/whoami/key", func(w http.ResponseWriter, r *http.Request) {
		auth(r)
		var k api.KeyRequest
		if err := json.NewDecoder(r.Body).Decode(&k); err != nil {
			w.WriteHeader(400)
			return
		}
		f.mu.Lock()
		f.keys = append(f.keys, k)
		f.mu.Unlock()
		json.NewEncoder(w).Encode(api.Operator{ID: "op1", Name: f.me, Role: "approver", Key: k.Key})
	})
	mux.HandleFunc("GET /api/v1/hunts/{id}", func(w http.ResponseWriter, r *http.Request) {
		auth(r)
		f.mu.Lock()
		defer f.mu.Unlock()
		if r.PathValue("id") != f.hunt.ID {
			w.WriteHeader(404)
			json.NewEncoder(w).Encode(api.Error{Error: "no such hunt"})
			return
		}
		json.NewEncoder(w).Encode(f.hunt)
	})
	mux.HandleFunc("POST /api/v1/hunts/{id}/approve", func(w http.ResponseWriter, r *http.Request) {
		auth(r)
		var a api.ApprovalRequest
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
			w.WriteHeader(400)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.approvals = append(f.approvals, a)
		h := f.hunt
		h.State = "running"
		h.Approvals = append(h.Approvals, api.Approval{Approver: f.me, LogIndex: 9, Time: time.Now()})
		json.NewEncoder(w).Encode(h)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *ltAPI) sent() ([]api.ApprovalRequest, []api.KeyRequest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.ApprovalRequest(nil), f.approvals...), append([]api.KeyRequest(nil), f.keys...)
}

func TestKeyRegister(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "bob.key")
	if code, _, _ := ltRun(t, "", (*env).keyCmd, "create", "--name", "bob", "--out", keyFile); code != 0 {
		t.Fatal("key create")
	}
	pub, _ := os.ReadFile(keyFile + ".pub")
	f := newLtAPI(t, "bob", api.Hunt{})
	code, out, errOut := ltRun(t, "", (*env).keyCmd, "register", keyFile+".pub", "--server", f.srv.URL, "--token", "tok-bob")
	if code != 0 {
		t.Fatalf("register: %d\n%s%s", code, out, errOut)
	}
	_, keys := f.sent()
	if len(keys) != 1 || keys[0].Key != strings.TrimSpace(string(pub)) {
		t.Fatalf("registered %+v, want %q", keys, pub)
	}
	if f.tokens[0] != "Bearer tok-bob" {
		t.Fatalf("token sent: %q", f.tokens[0])
	}
	// The private key is never sent.
	code, _, errOut = ltRun(t, "", (*env).keyCmd, "register", keyFile, "--server", f.srv.URL, "--token", "tok-bob")
	if code != exitError || !strings.Contains(errOut, "private key") {
		t.Fatalf("private key: %d %s", code, errOut)
	}
	skey, _ := os.ReadFile(keyFile)
	if strings.Contains(errOut, strings.TrimSpace(string(skey))) {
		t.Fatal("private key in an error message")
	}
	// A key named after someone else is refused before it is sent.
	f.mu.Lock()
	f.me = "carol"
	f.mu.Unlock()
	code, _, errOut = ltRun(t, "", (*env).keyCmd, "register", keyFile+".pub", "--server", f.srv.URL, "--token", "tok-carol")
	if code != exitError || !strings.Contains(errOut, `named "bob"`) {
		t.Fatalf("name mismatch: %d %s", code, errOut)
	}
	if _, keys := f.sent(); len(keys) != 1 {
		t.Fatalf("%d keys registered, want 1", len(keys))
	}
}

func TestHuntApprove(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "bob.key")
	if code, _, _ := ltRun(t, "", (*env).keyCmd, "create", "--name", "bob", "--out", keyFile); code != 0 {
		t.Fatal("key create")
	}
	_, vkey, err := readKeyPair(keyFile, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	he := ltHunt(t, "h-doc", translog.LintDocument, "alice")
	rules := "rule r_h_doc { condition: true }\n"
	entry := ltEncode(t, he)
	h := api.Hunt{ID: "h-doc", State: "pending", Why: he.Why, Paths: he.Paths, CreatedBy: "alice", RulesSHA256: he.RulesSHA256,
		Rules: rules, LogIndex: 7, LintClass: translog.LintDocument, ApprovalsRequired: 1, Entry: string(entry)}
	f := newLtAPI(t, "bob", h)
	args := []string{"approve", "h-doc", "--key", keyFile, "--server", f.srv.URL, "--token", "tok-bob"}
	approve := func(stdin string, extra ...string) (int, string, string) {
		// huntApprove is what the hunt dispatcher calls for "approve".
		return ltRun(t, stdin, (*env).huntApprove, append(args[1:], extra...)...)
	}

	// Declined: nothing sent.
	code, out, errOut := approve("n\n")
	if code != exitError {
		t.Fatalf("declined: %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"incident h-doc", "requester:  alice", "/home /srv", "site=berlin", "document (keyword", he.RulesSHA256, rules, "Approve hunt h-doc as bob? [y/N]"} {
		if !strings.Contains(out, want) {
			t.Errorf("approval screen lacks %q:\n%s", want, out)
		}
	}
	if a, _ := f.sent(); len(a) != 0 {
		t.Fatal("approval sent without confirmation")
	}

	// Confirmed: the approval is a valid translog approval of the entry.
	code, out, errOut = approve("y\n")
	if code != 0 {
		t.Fatalf("approve: %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "approved hunt h-doc: running, 1 of 1 approvals") {
		t.Errorf("output:\n%s", out)
	}
	sent, _ := f.sent()
	if len(sent) != 1 {
		t.Fatalf("%d approvals sent", len(sent))
	}
	a, err := translog.DecodeApproval([]byte(sent[0].Entry))
	if err != nil {
		t.Fatal(err)
	}
	if a.HuntID != "h-doc" || a.HuntIndex != 7 || a.Approver != "bob" || a.ApproverKey != vkey {
		t.Fatalf("approval %+v", a)
	}
	if err := a.Verify(entry); err != nil {
		t.Fatalf("approval does not verify: %v", err)
	}
	names, err := translog.CheckApprovals(entry, [][]byte{[]byte(sent[0].Entry)}, map[string]string{"bob": vkey}, 1)
	if err != nil || len(names) != 1 || names[0] != "bob" {
		t.Fatalf("CheckApprovals = %v, %v", names, err)
	}
	// An approval is for that entry only.
	other := ltEncode(t, ltHunt(t, "h-other", translog.LintCode, "alice"))
	if err := a.Verify(other); err == nil {
		t.Fatal("approval verifies for another hunt")
	}

	// --yes skips the prompt.
	if code, out, errOut := approve("", "--yes"); code != 0 || strings.Contains(out, "[y/N]") {
		t.Fatalf("--yes: %d\n%s%s", code, out, errOut)
	}

	// Rules that do not match the entry's hash: refused.
	f.mu.Lock()
	f.hunt.Rules = "rule evil { condition: true }\n"
	f.mu.Unlock()
	if code, _, errOut := approve("", "--yes"); code != exitError || !strings.Contains(errOut, "do not match") {
		t.Fatalf("rules mismatch: %d %s", code, errOut)
	}
	// An entry for another hunt: refused.
	f.mu.Lock()
	f.hunt.Rules, f.hunt.Entry = rules, string(other)
	f.mu.Unlock()
	if code, _, errOut := approve("", "--yes"); code != exitError || !strings.Contains(errOut, `"h-other"`) {
		t.Fatalf("entry of another hunt: %d %s", code, errOut)
	}
	// No entry: refused.
	f.mu.Lock()
	f.hunt.Entry = ""
	f.mu.Unlock()
	if code, _, errOut := approve("", "--yes"); code != exitError || !strings.Contains(errOut, "no log entry") {
		t.Fatalf("no entry: %d %s", code, errOut)
	}
	// One's own hunt: refused.
	own := ltHunt(t, "h-doc", translog.LintCode, "bob")
	f.mu.Lock()
	f.hunt.Entry, f.hunt.Rules = string(ltEncode(t, own)), ""
	f.mu.Unlock()
	if code, _, errOut := approve("", "--yes"); code != exitError || !strings.Contains(errOut, "requested this hunt") {
		t.Fatalf("own hunt: %d %s", code, errOut)
	}
	if sent, _ := f.sent(); len(sent) != 2 {
		t.Fatalf("%d approvals sent, want 2", len(sent))
	}
	// Missing --key.
	if code, _, _ := ltRun(t, "", (*env).huntApprove, "h-doc", "--server", f.srv.URL, "--token", "t"); code != exitUsage {
		t.Fatalf("missing --key: %d", code)
	}
}
