package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"vigil/server/api"
	"vigil/translog"
)

// ltRun runs one command function of the package in-process (the lead
// registers the commands in cli.go; these tests do not depend on it).
func ltRun(t *testing.T, stdin string, f func(*env, []string) int, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	e := &env{ctx: ctx, stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut}
	code := f(e, args)
	return code, out.String(), errOut.String()
}

func ltKey(t *testing.T, name string) (note.Signer, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s, vkey
}

func ltHunt(t *testing.T, id, class, requester string) *translog.HuntEntry {
	t.Helper()
	rules := "rule r_" + strings.ReplaceAll(id, "-", "_") + " { condition: true }\n"
	sum := sha256.Sum256([]byte(rules))
	return &translog.HuntEntry{
		HuntID: id, Name: "hunt " + id, RulesSHA256: hex.EncodeToString(sum[:]), Paths: []string{"/home", "/srv"},
		Requester: requester, Why: "incident " + id, Target: "site=berlin",
		Created:   time.Now().UTC().Truncate(time.Second),
		Expires:   time.Now().UTC().Add(24 * time.Hour).Truncate(time.Second),
		LintClass: class, ApprovalsRequired: 1,
	}
}

func ltEncode(t *testing.T, h *translog.HuntEntry) []byte {
	t.Helper()
	b, err := h.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ltAppend(t *testing.T, l *translog.Log, kind string, b []byte) int64 {
	t.Helper()
	i, err := l.Append(context.Background(), kind, b)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func ltApproval(t *testing.T, s note.Signer, vkey string, hunt []byte, index int64) []byte {
	t.Helper()
	a, err := translog.NewApproval(s, vkey, hunt, index, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := a.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ltServer serves the public log routes from a real translog.Log; tests
// may swap the log, serve another checkpoint or alter an entry.
type ltServer struct {
	srv *httptest.Server

	mu      sync.Mutex
	log     *translog.Log
	key     string
	served  []byte           // checkpoint served; a fresh one when nil
	tamper  map[int64]string // entry text served instead of the logged one
	cosigns [][]byte
}

func newLtServer(t *testing.T, l *translog.Log, key string) *ltServer {
	f := &ltServer{log: l, key: key, tamper: map[int64]string{}}
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, code int, err error) {
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(api.Error{Error: err.Error()})
	}
	mux.HandleFunc("GET /api/v1/log/key", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		json.NewEncoder(w).Encode(api.LogKey{Key: f.key, Origin: f.log.Origin(), Witnesses: []string{}})
	})
	mux.HandleFunc("GET /api/v1/log/checkpoint", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.served == nil {
			cp, err := f.log.Checkpoint(r.Context())
			if err != nil {
				fail(w, 500, err)
				return
			}
			f.served = cp
		}
		w.Write(f.served)
	})
	mux.HandleFunc("GET /api/v1/log/entries", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		start, err1 := strconv.ParseInt(r.URL.Query().Get("start"), 10, 64)
		count, err2 := strconv.ParseInt(r.URL.Query().Get("count"), 10, 64)
		size, _ := f.log.Size(r.Context())
		if err1 != nil || err2 != nil || start < 0 || count < 0 || count > 1000 {
			fail(w, 400, io.ErrUnexpectedEOF)
			return
		}
		out := []api.LogEntry{}
		for i := start; i < size && i < start+count; i++ {
			b, err := f.log.Entry(r.Context(), i)
			if err != nil {
				fail(w, 500, err)
				return
			}
			if s, ok := f.tamper[i]; ok {
				b = []byte(s)
			}
			k, _ := translog.Kind(b)
			out = append(out, api.LogEntry{Index: i, Kind: k, Entry: string(b)})
		}
		json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("GET /api/v1/log/proof/tree", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		l := f.log
		f.mu.Unlock()
		old, _ := strconv.ParseInt(r.URL.Query().Get("old"), 10, 64)
		nw, _ := strconv.ParseInt(r.URL.Query().Get("new"), 10, 64)
		p, err := l.ConsistencyProof(r.Context(), old, nw)
		if err != nil {
			fail(w, 400, err)
			return
		}
		out := api.Proof{Proof: [][]byte{}}
		for _, h := range p {
			out.Proof = append(out.Proof, append([]byte(nil), h[:]...))
		}
		json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("POST /api/v1/log/cosign", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		f.mu.Lock()
		defer f.mu.Unlock()
		f.cosigns = append(f.cosigns, b)
		f.served = b
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *ltServer) set(l *translog.Log) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log, f.served = l, nil
}

func (f *ltServer) posted() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.cosigns...)
}

// ltHonestLog builds a log of a code hunt, a document hunt approved by bob,
// and the code hunt approved by bob.
func ltHonestLog(t *testing.T, logS note.Signer) *translog.Log {
	t.Helper()
	l, err := translog.New(translog.NewMemoryStorage(), logS)
	if err != nil {
		t.Fatal(err)
	}
	bobS, bobV := ltKey(t, "bob")
	code := ltEncode(t, ltHunt(t, "h-code", translog.LintCode, "alice"))
	doc := ltEncode(t, ltHunt(t, "h-doc", translog.LintDocument, "alice"))
	ci := ltAppend(t, l, translog.KindHunt, code)
	di := ltAppend(t, l, translog.KindHunt, doc)
	ltAppend(t, l, translog.KindApproval, ltApproval(t, bobS, bobV, doc, di))
	ltAppend(t, l, translog.KindApproval, ltApproval(t, bobS, bobV, code, ci))
	return l
}

func TestLogVerifyHonestAndGrowing(t *testing.T) {
	logS, logKey := ltKey(t, "vigil-log")
	l := ltHonestLog(t, logS)
	f := newLtServer(t, l, logKey)
	cpFile := filepath.Join(t.TempDir(), "log.checkpoint")

	code, out, errOut := ltRun(t, "", (*env).logCmd, "verify", "--server", f.srv.URL, "--checkpoint", cpFile, "--log-key", logKey)
	if code != 0 {
		t.Fatalf("verify = %d\n%s%s", code, out, errOut)
	}
	t.Logf("vigil log verify:\n%s%s", out, errOut)
	for _, want := range []string{"checkpoint of 4 entries verified", "approval 2, hunt 2", "document-class hunts: 1", "h-doc", "bob", "saved this one"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	saved, err := os.ReadFile(cpFile)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := translog.NewVerifierFromKey(logKey)
	if tree, err := v.VerifyCheckpoint(saved); err != nil || tree.N != 4 {
		t.Fatalf("saved checkpoint: size %d, %v", tree.N, err)
	}

	// The log grows: consistent with the saved checkpoint, which moves on.
	ltAppend(t, l, translog.KindHunt, ltEncode(t, ltHunt(t, "h-3", translog.LintCode, "carol")))
	f.set(l)
	code, out, errOut = ltRun(t, "", (*env).logCmd, "verify", "--server", f.srv.URL, "--checkpoint", cpFile, "--json")
	if code != 0 {
		t.Fatalf("verify after growth = %d\n%s%s", code, out, errOut)
	}
	var rep logReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Size != 5 || rep.PreviousSize != 4 || rep.Kinds["hunt"] != 3 || len(rep.DocumentHunts) != 1 || len(rep.Problems) != 0 {
		t.Fatalf("report %+v", rep)
	}
	if !strings.Contains(errOut, "using the log key the server announces") {
		t.Errorf("no notice about the unpinned key:\n%s", errOut)
	}
	saved, _ = os.ReadFile(cpFile)
	if tree, err := v.VerifyCheckpoint(saved); err != nil || tree.N != 5 {
		t.Fatalf("saved checkpoint after growth: size %d, %v", tree.N, err)
	}
}

func TestLogVerifyRejectsTamperedEntries(t *testing.T) {
	logS, logKey := ltKey(t, "vigil-log")
	f := newLtServer(t, ltHonestLog(t, logS), logKey)
	// Entry 0 replaced by another well-formed hunt entry.
	f.tamper[0] = string(ltEncode(t, ltHunt(t, "h-other", translog.LintCode, "alice")))
	code, out, errOut := ltRun(t, "", (*env).logCmd, "verify", "--server", f.srv.URL, "--log-key", logKey)
	if code != exitError || !strings.Contains(errOut, "not the signed log") {
		t.Fatalf("tampered log: %d\n%s%s", code, out, errOut)
	}
}

func TestLogVerifyRejectsForeignCheckpoint(t *testing.T) {
	logS, logKey := ltKey(t, "vigil-log")
	otherS, otherKey := ltKey(t, "vigil-log") // same name, another key
	f := newLtServer(t, ltHonestLog(t, logS), logKey)
	cpFile := filepath.Join(t.TempDir(), "cp")
	if code, out, errOut := ltRun(t, "", (*env).logCmd, "verify", "--server", f.srv.URL, "--checkpoint", cpFile, "--log-key", logKey); code != 0 {
		t.Fatalf("honest: %d\n%s%s", code, out, errOut)
	}
	saved, _ := os.ReadFile(cpFile)

	// The server now serves the same entries signed by another key, and
	// announces that key.
	f.set(ltHonestLog(t, otherS))
	f.mu.Lock()
	f.key = otherKey
	f.mu.Unlock()
	code, out, errOut := ltRun(t, "", (*env).logCmd, "verify", "--server", f.srv.URL, "--log-key", logKey)
	if code != exitError || !strings.Contains(errOut, "does not verify with the log key") {
		t.Fatalf("foreign checkpoint with --log-key: %d\n%s%s", code, out, errOut)
	}
	// Without --log-key, the saved checkpoint still pins the old key.
	code, out, errOut = ltRun(t, "", (*env).logCmd, "verify", "--server", f.srv.URL, "--checkpoint", cpFile)
	if code != exitError || !strings.Contains(errOut, "saved checkpoint") {
		t.Fatalf("foreign key against saved checkpoint: %d\n%s%s", code, out, errOut)
	}
	if now, _ := os.ReadFile(cpFile); !bytes.Equal(now, saved) {
		t.Fatal("saved checkpoint overwritten after a failure")
	}
}

func TestLogVerifyRejectsFork(t *testing.T) {
	logS, logKey := ltKey(t, "vigil-log")
	f := newLtServer(t, ltHonestLog(t, logS), logKey)
	cpFile := filepath.Join(t.TempDir(), "cp")
	if code, out, errOut := ltRun(t, "", (*env).logCmd, "verify", "--server", f.srv.URL, "--checkpoint", cpFile, "--log-key", logKey); code != 0 {
		t.Fatalf("honest: %d\n%s%s", code, out, errOut)
	}
	saved, _ := os.ReadFile(cpFile)

	// A rewritten history with the same key: entry 1 differs, and it is longer.
	forked, err := translog.New(translog.NewMemoryStorage(), logS)
	if err != nil {
		t.Fatal(err)
	}
	ltAppend(t, forked, translog.KindHunt, ltEncode(t, ltHunt(t, "h-code", translog.LintCode, "alice")))
	for i := range 5 {
		ltAppend(t, forked, translog.KindHunt, ltEncode(t, ltHunt(t, "evil-"+strconv.Itoa(i), translog.LintCode, "mallory")))
	}
	f.set(forked)
	code, out, errOut := ltRun(t, "", (*env).logCmd, "verify", "--server", f.srv.URL, "--checkpoint", cpFile, "--log-key", logKey)
	if code != exitError || !strings.Contains(errOut, "fork detected") {
		t.Fatalf("forked log: %d\n%s%s", code, out, errOut)
	}
	if now, _ := os.ReadFile(cpFile); !bytes.Equal(now, saved) {
		t.Fatal("saved checkpoint overwritten by a forked one")
	}
	// Without the saved checkpoint the forked log is self-consistent.
	if code, out, errOut := ltRun(t, "", (*env).logCmd, "verify", "--server", f.srv.URL, "--log-key", logKey); code != 0 {
		t.Fatalf("forked log alone: %d\n%s%s", code, out, errOut)
	}
}

func TestLogVerifyReportsBadApproval(t *testing.T) {
	logS, logKey := ltKey(t, "vigil-log")
	l, _ := translog.New(translog.NewMemoryStorage(), logS)
	a := ltEncode(t, ltHunt(t, "h-a", translog.LintCode, "alice"))
	b := ltEncode(t, ltHunt(t, "h-b", translog.LintDocument, "alice"))
	ltAppend(t, l, translog.KindHunt, a)
	bi := ltAppend(t, l, translog.KindHunt, b)
	bobS, bobV := ltKey(t, "bob")
	// Bob signed hunt a, but the entry claims hunt b's index.
	ltAppend(t, l, translog.KindApproval, ltApproval(t, bobS, bobV, a, bi))
	// Alice approves her own hunt.
	aliceS, aliceV := ltKey(t, "alice")
	ltAppend(t, l, translog.KindApproval, ltApproval(t, aliceS, aliceV, b, bi))
	f := newLtServer(t, l, logKey)
	code, out, errOut := ltRun(t, "", (*env).logCmd, "verify", "--server", f.srv.URL, "--log-key", logKey)
	if code != exitError || !strings.Contains(errOut, "entry 2: approval by bob") || !strings.Contains(errOut, "own requester alice") {
		t.Fatalf("bad approvals: %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "0/1") {
		t.Errorf("document hunt shown with approvals:\n%s", out)
	}
}

func TestLogShow(t *testing.T) {
	logS, logKey := ltKey(t, "vigil-log")
	f := newLtServer(t, ltHonestLog(t, logS), logKey)
	code, out, errOut := ltRun(t, "", (*env).logCmd, "show", "--server", f.srv.URL)
	if code != 0 {
		t.Fatalf("show: %d\n%s%s", code, out, errOut)
	}
	t.Logf("vigil log show:\n%s", out)
	if lines := strings.Count(out, "\n"); lines != 5 {
		t.Errorf("%d lines, want header + 4:\n%s", lines, out)
	}
	for _, want := range []string{"hunt h-doc by alice [document", "approval of hunt h-doc (entry 1) by bob"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, errOut = ltRun(t, "", (*env).logCmd, "show", "--server", f.srv.URL, "--start", "1", "--count", "2", "--json")
	if code != 0 {
		t.Fatalf("show --json: %d\n%s%s", code, out, errOut)
	}
	var es []api.LogEntry
	if err := json.Unmarshal([]byte(out), &es); err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].Index != 1 || es[1].Index != 2 || es[1].Kind != translog.KindApproval {
		t.Fatalf("entries %+v", es)
	}
	code, out, _ = ltRun(t, "", (*env).logCmd, "show", "--server", f.srv.URL, "--start", "3", "--full")
	if code != 0 || !strings.HasPrefix(out, "=== entry 3 (approval)\n"+translog.EntryHeader) {
		t.Fatalf("show --full: %d\n%s", code, out)
	}
	if code, _, _ := ltRun(t, "", (*env).logCmd, "show", "--server", f.srv.URL, "--count", "-1"); code == 0 {
		t.Fatal("negative count accepted")
	}
}
