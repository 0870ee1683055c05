package cli

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"vigil/journal"
	"vigil/server/api"
	"vigil/translog"
	"vigil/wire"
)

// auditLog is a transparency log served over the public log routes.
type auditLog struct {
	log  *translog.Log
	vkey string
	srv  *httptest.Server
}

func newAuditLog(t *testing.T) *auditLog {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "audit-test-log")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	l, err := translog.New(translog.NewMemoryStorage(), signer)
	if err != nil {
		t.Fatal(err)
	}
	al := &auditLog{log: l, vkey: vkey}
	hashes := func(p []tlog.Hash) api.Proof {
		out := api.Proof{Proof: [][]byte{}}
		for _, h := range p {
			out.Proof = append(out.Proof, append([]byte(nil), h[:]...))
		}
		return out
	}
	num := func(r *http.Request, k string) int64 {
		n, _ := strconv.ParseInt(r.URL.Query().Get(k), 10, 64)
		return n
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/log/key", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(api.LogKey{Key: vkey, Origin: "audit-test-log"})
	})
	mux.HandleFunc("GET /api/v1/log/checkpoint", func(w http.ResponseWriter, r *http.Request) {
		cp, err := l.Checkpoint(r.Context())
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write(cp)
	})
	mux.HandleFunc("GET /api/v1/log/entries", func(w http.ResponseWriter, r *http.Request) {
		start, count := num(r, "start"), num(r, "count")
		n, _ := l.Size(r.Context())
		out := []api.LogEntry{}
		for i := start; i < start+count && i < n; i++ {
			b, err := l.Entry(r.Context(), i)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			k, _ := translog.Kind(b)
			out = append(out, api.LogEntry{Index: i, Kind: k, Entry: string(b)})
		}
		json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("GET /api/v1/log/proof/record", func(w http.ResponseWriter, r *http.Request) {
		p, err := l.InclusionProof(r.Context(), num(r, "index"), num(r, "size"))
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		json.NewEncoder(w).Encode(hashes(p))
	})
	mux.HandleFunc("GET /api/v1/log/proof/tree", func(w http.ResponseWriter, r *http.Request) {
		p, err := l.ConsistencyProof(r.Context(), num(r, "old"), num(r, "new"))
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		json.NewEncoder(w).Encode(hashes(p))
	})
	al.srv = httptest.NewServer(mux)
	t.Cleanup(al.srv.Close)
	return al
}

// addHunt logs a hunt entry and returns its index and rules hash.
func (al *auditLog) addHunt(t *testing.T, id string) (int64, string) {
	t.Helper()
	rules := "rule " + strings.ReplaceAll(id, "-", "_") + " { condition: true }"
	sum := sha256.Sum256([]byte(rules))
	now := time.Now().UTC()
	h := wire.Hunt{ID: id, Rules: rules, RulesSHA256: hex.EncodeToString(sum[:]), Paths: []string{"/srv"},
		Why: "audit test", CreatedBy: "carol", Created: now, Expires: now.Add(time.Hour)}
	e := translog.HuntEntryFromWire(&h)
	e.LintClass, e.ApprovalsRequired = translog.LintCode, 1
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := al.log.Append(context.Background(), translog.KindHunt, b)
	if err != nil {
		t.Fatal(err)
	}
	return idx, h.RulesSHA256
}

func TestAuditJournal(t *testing.T) {
	al := newAuditLog(t)
	idx1, sha1 := al.addHunt(t, "h-one")
	idx2, sha2 := al.addHunt(t, "h-two")
	state := t.TempDir()
	if err := os.WriteFile(filepath.Join(state, "policy"), []byte("log-key "+al.vkey+"\nmin-approvals 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(filepath.Join(state, "journal"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for _, r := range []journal.Record{
		{Time: now, HuntID: "h-one", LogIndex: idx1, TreeSize: 2, Action: journal.ActionRan, RulesSHA256: sha1,
			Requester: "carol", Approvers: []string{"alice"}, Paths: []string{"/srv"}, FilesScanned: 7, Matches: 3},
		{Time: now, HuntID: "h-two", LogIndex: idx2, TreeSize: 2, Action: journal.ActionRefused, RulesSHA256: sha2,
			Reason: "Hunt path \"/home/x/Documents\" is forbidden by the local policy."},
	} {
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()

	code, out, errOut := run(t, "", "audit", "--state", state)
	if code != 0 {
		t.Fatalf("audit: exit %d, %s", code, errOut)
	}
	for _, want := range []string{"2 records, hash chain verified", "ran", "hunt h-one", "log index 0", "approved by:  alice",
		"7 scanned, 3 matched", "refused", "hunt h-two", "forbidden by the local policy", "/srv"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit output lacks %q:\n%s", want, out)
		}
	}

	code, out, errOut = run(t, "", "audit", "--state", state, "--server", al.srv.URL)
	if code != 0 || !strings.Contains(out, "every record matches the server's transparency log") || strings.Count(out, "server log:   ok") != 2 {
		t.Fatalf("audit --server: exit %d\n%s\n%s", code, out, errOut)
	}

	code, out, _ = run(t, "", "audit", "--state", state, "--json")
	var rep auditReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Chain != "ok" || len(rep.Records) != 2 || rep.Records[0].Matches != 3 {
		t.Errorf("audit --json: exit %d, %+v\n%s", code, rep, out)
	}

	// A record whose log index holds another hunt is a mismatch.
	j, err = journal.Open(filepath.Join(state, "journal"))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(journal.Record{Time: now, HuntID: "h-three", LogIndex: idx2, Action: journal.ActionRan, RulesSHA256: sha2}); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(journal.Record{Time: now, HuntID: "h-four", LogIndex: 99, Action: journal.ActionRan}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	code, out, _ = run(t, "", "audit", "--state", state, "--server", al.srv.URL)
	if code != 1 || !strings.Contains(out, `the entry is hunt "h-two", not "h-three"`) || !strings.Contains(out, "not in the server's log of size 2") {
		t.Errorf("audit --server with mismatches: exit %d\n%s", code, out)
	}

	// A server whose log key is not the pinned one is a mismatch.
	other := newAuditLog(t)
	other.addHunt(t, "h-one")
	code, out, _ = run(t, "", "audit", "--state", state, "--server", other.srv.URL)
	if code != 1 || !strings.Contains(out, "is not the one the agent's policy") {
		t.Errorf("audit against another log: exit %d\n%s", code, out)
	}
}

func TestAuditDetectsEditedJournal(t *testing.T) {
	state := t.TempDir()
	path := filepath.Join(state, "journal")
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"h-a", "h-b", "h-c"} {
		if err := j.Append(journal.Record{Time: time.Now().UTC(), HuntID: id, LogIndex: int64(i), Action: journal.ActionRan, Matches: 5}); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	if code, _, errOut := run(t, "", "audit", "--state", state); code != 0 {
		t.Fatalf("intact journal: exit %d %s", code, errOut)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	if !strings.Contains(lines[1], `"matches":5`) {
		t.Fatalf("line 2: %s", lines[1])
	}
	lines[1] = strings.Replace(lines[1], `"matches":5`, `"matches":0`, 1)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "", "audit", "--state", state)
	if code != 1 || !strings.Contains(errOut, "TAMPERED") || !strings.Contains(errOut, "line 2 was edited") {
		t.Errorf("edited journal: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if code, _, errOut := run(t, "", "audit", "--state", t.TempDir()); code != 1 || !strings.Contains(errOut, "journal") {
		t.Errorf("no journal: exit %d %s", code, errOut)
	}
	if code, _, _ := run(t, "", "audit"); code != exitUsage {
		t.Errorf("no --state: exit %d", code)
	}
}
