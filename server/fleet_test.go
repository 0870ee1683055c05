package server

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"vigil/server/api"
	"vigil/server/store"
)

// magic is what rulesOK looks for.
const magic = "VIGIL-MAGIC-7f3a"

// huntFiles writes files into a new directory: some with magic at known
// offsets, some without. It returns the directory and, per matching file,
// the offsets of magic.
func huntFiles(t testing.TB, n int) (string, map[string][]int64) {
	t.Helper()
	dir := t.TempDir()
	want := map[string][]int64{}
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("hit-%03d.bin", i))
		pad := strings.Repeat("x", i%7)
		content := pad + magic + "----" + magic + "\n"
		writeFile(t, p, []byte(content))
		o1 := int64(len(pad))
		want[p] = []int64{o1, o1 + int64(len(magic)) + 4}
	}
	writeFile(t, filepath.Join(dir, "clean.txt"), []byte("nothing to see"))
	writeFile(t, filepath.Join(dir, "near.txt"), []byte(magic[:len(magic)-1]))
	return dir, want
}

// huntDone waits until every agent of the hunt is done and returns the hunt.
func huntDone(t testing.TB, s *Server, tok, id string) api.Hunt {
	t.Helper()
	var h api.Hunt
	eventually(t, "hunt "+id+" done", func() bool {
		mustCall(t, s, http.StatusOK, "GET", "/api/v1/hunts/"+id, tok, nil, &h)
		return h.Progress != nil && h.Progress.Agents > 0 && h.Progress.Done == h.Progress.Agents
	})
	return h
}

// allResults reads every page of a hunt's results.
func allResults(t testing.TB, s *Server, tok, id, query string) []api.Result {
	t.Helper()
	var out []api.Result
	after := int64(0)
	for {
		var page api.ResultPage
		mustCall(t, s, http.StatusOK, "GET", fmt.Sprintf("/api/v1/hunts/%s/results?limit=7&after=%d%s", id, after, query), tok, nil, &page)
		out = append(out, page.Results...)
		if !page.More {
			return out
		}
		if len(page.Results) == 0 || page.Next <= after {
			t.Fatalf("page after %d: More with no progress: %+v", after, page)
		}
		after = page.Next
	}
}

// checkResults compares results of one agent with the files expected.
func checkResults(t testing.TB, rs []api.Result, agentID string, want map[string][]int64) {
	t.Helper()
	got := map[string]api.Result{}
	for _, r := range rs {
		if r.AgentID != agentID {
			continue
		}
		if _, dup := got[r.Path]; dup {
			t.Errorf("agent %s: %s reported twice", agentID, r.Path)
		}
		got[r.Path] = r
	}
	if len(got) != len(want) {
		t.Errorf("agent %s: %d files matched, want %d", agentID, len(got), len(want))
	}
	for p, offs := range want {
		r, ok := got[p]
		if !ok {
			t.Errorf("agent %s: no result for %s", agentID, p)
			continue
		}
		if r.Rule != "magic" || r.Namespace != "default" || !slices.Equal(r.Tags, []string{"test"}) {
			t.Errorf("%s: rule %s:%s tags %v, want default:magic [test]", p, r.Namespace, r.Rule, r.Tags)
		}
		if len(r.Strings) != 1 || r.Strings[0].ID != "$m" || !slices.Equal(r.Strings[0].Offsets, offs) || r.Strings[0].Count != 2 {
			t.Errorf("%s: strings %+v, want $m at %v (2)", p, r.Strings, offs)
		}
		data, _ := os.ReadFile(p)
		if r.Size != int64(len(data)) || len(r.SHA256) != 64 || len(r.MD5) != 32 {
			t.Errorf("%s: size %d sha256 %q md5 %q", p, r.Size, r.SHA256, r.MD5)
		}
	}
}

func TestFleetEndToEnd(t *testing.T) {
	t.Parallel()
	s, log := startServer(t, Options{DataDir: t.TempDir()})
	admin := s.AdminToken()
	secret := newToken(t, s, admin, map[string]string{"env": "test"})
	// The approver registers its key before the agents enroll: they trust
	// the approvers the server names at enrollment.
	ap := newApprover(t, s, admin, "alice", store.RoleApprover)

	// Agent A (site=a) runs; agent B (site=b) runs but is not targeted;
	// agent C (site=a) is enrolled but offline when the hunt is created.
	a, _ := runAgent(t, t.TempDir(), s.URL(), secret, map[string]string{"site": "a"})
	b, _ := runAgent(t, t.TempDir(), s.URL(), secret, map[string]string{"site": "b"})
	aID, bID := agentID(t, a), agentID(t, b)
	cDir := t.TempDir()
	c, stopC := runAgent(t, cDir, s.URL(), secret, map[string]string{"site": "a"})
	cID := agentID(t, c)
	stopC()

	eventually(t, "agents A and B online", func() bool {
		var agents []api.Agent
		mustCall(t, s, http.StatusOK, "GET", "/api/v1/agents", admin, nil, &agents)
		on := map[string]bool{}
		for _, ag := range agents {
			on[ag.ID] = ag.Online
		}
		return len(agents) == 3 && on[aID] && on[bID]
	})
	// Hellos reach the store in bulk, a little later.
	eventually(t, "last seen written to the store", func() bool {
		st, err := s.Store().GetAgent(context.Background(), aID)
		return err == nil && !st.LastSeen.IsZero()
	})
	var ag api.Agent
	mustCall(t, s, http.StatusOK, "GET", "/api/v1/agents/"+aID, admin, nil, &ag)
	if ag.Labels["site"] != "a" || ag.Labels["env"] != "test" || ag.Version != "test" {
		t.Errorf("agent A: %+v, want labels site=a env=test (token's and its own)", ag)
	}
	var toks []api.Token
	mustCall(t, s, http.StatusOK, "GET", "/api/v1/tokens", admin, nil, &toks)
	if len(toks) != 1 || toks[0].Uses != 3 {
		t.Errorf("tokens %+v: want one with 3 uses", toks)
	}

	dir, want := huntFiles(t, 12)
	var h api.Hunt
	mustCall(t, s, http.StatusCreated, "POST", "/api/v1/hunts", admin, api.HuntRequest{
		Name: "magic", Rules: rulesOK, Target: "site=a", Paths: []string{dir}, Why: "end-to-end test",
	}, &h)
	if h.Progress.Agents != 2 || h.Rules != rulesOK || h.Target != "site=a" || h.State != "pending" {
		t.Fatalf("created hunt: %+v %+v, want 2 agents, pending", h, h.Progress)
	}
	if got := ap.approve(t, s, h.ID); got.State != "running" {
		t.Fatalf("approved hunt is %q", got.State)
	}

	// A finishes; C has not run yet.
	eventually(t, "agent A done", func() bool {
		var as []api.Assignment
		mustCall(t, s, http.StatusOK, "GET", "/api/v1/hunts/"+h.ID+"/agents", admin, nil, &as)
		return len(as) == 2 && slices.ContainsFunc(as, func(x api.Assignment) bool { return x.AgentID == aID && x.State == "done" })
	})
	var as []api.Assignment
	mustCall(t, s, http.StatusOK, "GET", "/api/v1/hunts/"+h.ID+"/agents", admin, nil, &as)
	for _, x := range as {
		if x.AgentID == bID {
			t.Errorf("agent B (site=b) was assigned a site=a hunt")
		}
		if x.AgentID == cID && x.State != "" {
			t.Errorf("offline agent C is in state %q", x.State)
		}
		if x.AgentID == aID && (x.FilesScanned != int64(len(want)+2) || x.FilesMatched != int64(len(want)) || x.Hostname == "") {
			t.Errorf("agent A's assignment: %+v, want %d files scanned, %d matched", x, len(want)+2, len(want))
		}
	}

	// C starts: it syncs and gets the hunt.
	runAgent(t, cDir, s.URL(), "", nil)
	done := huntDone(t, s, admin, h.ID)
	if done.Progress.Results != int64(2*len(want)) || done.Progress.Agents != 2 || done.State != "running" {
		t.Errorf("finished hunt: %+v %+v, want %d results", done, done.Progress, 2*len(want))
	}
	rs := allResults(t, s, admin, h.ID, "")
	if len(rs) != 2*len(want) {
		t.Fatalf("%d results, want %d", len(rs), 2*len(want))
	}
	checkResults(t, rs, aID, want)
	checkResults(t, rs, cID, want)
	if only := allResults(t, s, admin, h.ID, "&agent="+cID); len(only) != len(want) {
		t.Errorf("agent filter: %d results, want %d", len(only), len(want))
	}

	// Exports hold the same rows.
	code, body := getRaw(t, s, "/api/v1/hunts/"+h.ID+"/export?format=jsonl", admin)
	if code != http.StatusOK {
		t.Fatalf("jsonl export: %d %s", code, body)
	}
	var lines []api.Result
	dec := json.NewDecoder(strings.NewReader(body))
	for dec.More() {
		var r api.Result
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, r)
	}
	if len(lines) != len(rs) || strings.Count(body, "\n") != len(rs) {
		t.Errorf("jsonl export: %d lines, want %d", len(lines), len(rs))
	}
	checkResults(t, lines, aID, want)
	code, body = getRaw(t, s, "/api/v1/hunts/"+h.ID+"/export?format=csv", admin)
	if code != http.StatusOK {
		t.Fatalf("csv export: %d %s", code, body)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(rs)+1 || !slices.Equal(rows[0], api.CSVHeader) {
		t.Fatalf("csv export: %d rows (header %v), want %d", len(rows), rows[0], len(rs)+1)
	}
	for _, row := range rows[1:] {
		offs, ok := want[row[3]]
		if !ok {
			t.Errorf("csv row for unexpected path %q", row[3])
			continue
		}
		if wantS := fmt.Sprintf("$m@%d;%d (2)", offs[0], offs[1]); row[10] != wantS || row[7] != "magic" || row[9] != "test" {
			t.Errorf("csv row %v: strings %q, want %q", row, row[10], wantS)
		}
	}
	if code, _ := getRaw(t, s, "/api/v1/hunts/"+h.ID+"/export?format=xml", admin); code != http.StatusBadRequest {
		t.Errorf("xml export: %d, want 400", code)
	}

	// Metrics show what happened.
	code, body = getRaw(t, s, "/metrics", admin)
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, line := range []string{
		"vigil_agents_enrolled 3",
		`vigil_hunts{state="running"} 1`,
		fmt.Sprintf("vigil_results_ingested_total %d", 2*len(want)),
		"vigil_ingest_errors_total 0",
	} {
		if !strings.Contains(body, line+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", line, body)
		}
	}
	for _, name := range []string{"vigil_agents_connected", "vigil_agents_online", "vigil_statuses_ingested_total", "vigil_ingest_batches_total", "vigil_scan_file_errors_total"} {
		if !bytes.Contains([]byte(body), []byte("# TYPE "+name+" ")) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if metricValue(t, body, "vigil_statuses_ingested_total") < 4 || metricValue(t, body, "vigil_ingest_batches_total") < 2 || metricValue(t, body, "vigil_agents_connected") < 2 {
		t.Errorf("/metrics counters too low:\n%s", body)
	}

	// Cancel tells the agents; the hunt shows canceled.
	var ch api.Hunt
	mustCall(t, s, http.StatusOK, "POST", "/api/v1/hunts/"+h.ID+"/cancel", admin, nil, &ch)
	if ch.State != "canceled" {
		t.Errorf("state after cancel: %q", ch.State)
	}
	log.checkNoSecrets(t, admin, secret)
	if !strings.Contains(log.all(), "hunt "+h.ID+" created by admin") {
		t.Errorf("no log line for the hunt's creation:\n%s", log.all())
	}
}

// metricValue returns the value of an unlabelled metric.
func metricValue(t testing.TB, body, name string) int64 {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var n int64
			if _, err := fmt.Sscan(v, &n); err != nil {
				t.Fatalf("metric %s: %q", name, line)
			}
			return n
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
