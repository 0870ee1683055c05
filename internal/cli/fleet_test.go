package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"vigil/server/api"
)

// background runs a long-lived command (server, agent) until the test ends.
func background(t *testing.T, args ...string) *syncBuffer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan int)
	go func() { done <- Run(ctx, args, strings.NewReader(""), out, out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("vigil %s did not stop", args[0])
		}
	})
	return out
}

// waitForMatch polls out until re matches, and returns the submatches.
func waitForMatch(t *testing.T, out *syncBuffer, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %q in output:\n%s", re, out.String())
	return nil
}

// vigil runs a short command and returns its exit code and output.
func vigil(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	code := Run(ctx, args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestFleetFromTheCommandLine walks the README's five steps with the vigil
// commands: server, token, agent (two, one off-target), hunt, results.
func TestFleetFromTheCommandLine(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and agents")
	}
	dir := t.TempDir()
	// A witness key first: the server is told which witnesses to trust.
	if code, _, errOut := vigil(t, nil, "key", "create", "--name", "w1", "--out", filepath.Join(dir, "w1.key")); code != 0 {
		t.Fatalf("key create w1: %s", errOut)
	}
	wpub, err := os.ReadFile(filepath.Join(dir, "w1.key.pub"))
	if err != nil {
		t.Fatal(err)
	}
	srv := background(t, "server", "--data", filepath.Join(dir, "server"), "--http", "127.0.0.1:0", "--nats-port", "-1", "--witness", strings.TrimSpace(string(wpub)), "-v")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server:\n%s", srv.String())
		}
	})
	url := waitForMatch(t, srv, regexp.MustCompile(`web UI and API at (\S+)`))[1]
	token := waitForMatch(t, srv, regexp.MustCompile(`(?m)^\s+(vop_\S+)\s*$`))[1]
	env := map[string]string{"VIGIL_SERVER": url, "VIGIL_TOKEN": token}

	// An approver with a key of her own, registered before agents enroll
	// (they pin the approvers' keys in their policy at enrollment).
	code, out, errOut := vigil(t, env, "operator", "create", "carol", "--role", "approver", "--json")
	var carol api.OperatorCreated
	if code != 0 || json.Unmarshal([]byte(out), &carol) != nil || carol.Token == "" {
		t.Fatalf("operator create: %d %s %s", code, out, errOut)
	}
	carolKey := filepath.Join(dir, "carol.key")
	if code, _, errOut := vigil(t, nil, "key", "create", "--name", "carol", "--out", carolKey); code != 0 {
		t.Fatalf("key create carol: %s", errOut)
	}
	if code, _, errOut := vigil(t, env, "key", "register", carolKey+".pub", "--token", carol.Token); code != 0 {
		t.Fatalf("key register: %s", errOut)
	}

	// Step 2: tokens and agents.
	code, out, errOut = vigil(t, env, "token", "create", "--labels", "os=linux,site=berlin")
	if code != 0 {
		t.Fatalf("token create: %d %s", code, errOut)
	}
	secret := regexp.MustCompile(`secret: (\S+)`).FindStringSubmatch(out)
	if secret == nil || !strings.Contains(out, "vigil agent --server "+url+" --token "+secret[1]) {
		t.Fatalf("token create printed:\n%s", out)
	}
	code, out, _ = vigil(t, env, "token", "create", "--labels", "site=paris", "--json")
	var paris api.TokenCreated
	if code != 0 || json.Unmarshal([]byte(out), &paris) != nil || paris.Secret == "" {
		t.Fatalf("token create --json: %d %s", code, out)
	}
	a1 := background(t, "agent", "--server", url, "--token", secret[1], "--state", filepath.Join(dir, "a1"), "-v")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent a1:\n%s", a1.String())
		}
	})
	a2 := background(t, "agent", "--server", url, "--token", paris.Secret, "--state", filepath.Join(dir, "a2"))
	id1 := waitForMatch(t, a1, regexp.MustCompile(`vigil agent: enrolled as (\S+)`))[1]
	waitForMatch(t, a2, regexp.MustCompile(`vigil agent: enrolled as (\S+)`))
	// Both online.
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, out, _ = vigil(t, env, "agents", "--json")
		var agents []api.Agent
		if code == 0 && json.Unmarshal([]byte(out), &agents) == nil && len(agents) == 2 && agents[0].Online && agents[1].Online {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("agents not both online: %s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Step 3: a hunt for berlin over files we plant.
	files := filepath.Join(dir, "files")
	os.MkdirAll(filepath.Join(files, "sub"), 0o755)
	// A binary marker: a rule of plain words would be a document search
	// (vigil check --lint) and need two approvals.
	marker := "\x7fVGL\x00\x13\x37\xfe"
	os.WriteFile(filepath.Join(files, "a.txt"), []byte("SECRET-CONTENT "+marker+" xx"), 0o644)
	os.WriteFile(filepath.Join(files, "sub", "b.bin"), []byte("\x00\x01SECRET-CONTENT"+marker), 0o644)
	os.WriteFile(filepath.Join(files, "c.txt"), []byte("nothing here"), 0o644)
	rules := filepath.Join(dir, "r.yar")
	os.WriteFile(rules, []byte(`rule marker : demo { strings: $m = { 7F 56 47 4C 00 13 37 FE } condition: $m }`), 0o644)

	code, _, errOut = vigil(t, env, "hunt", "create", "--rules", rules, "--path", files)
	if code != exitUsage || !strings.Contains(errOut, "--why") {
		t.Errorf("hunt without --why: exit %d, %s", code, errOut)
	}
	code, out, errOut = vigil(t, env, "hunt", "create", "--rules", rules, "--path", files, "--target", "site=berlin", "--why", "test")
	m := regexp.MustCompile(`hunt (h-\S+) created \(pending`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("hunt create: %d %s %s", code, out, errOut)
	}
	huntID := m[1]
	// The author cannot approve; carol can.
	if code, _, errOut := vigil(t, env, "hunt", "approve", huntID, "--key", carolKey, "--yes"); code == 0 {
		t.Errorf("the author approved with carol's key: %s", errOut)
	}
	if code, out, errOut := vigil(t, env, "hunt", "approve", huntID, "--key", carolKey, "--yes", "--token", carol.Token); code != 0 {
		t.Fatalf("hunt approve: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := vigil(t, env, "hunt", "wait", huntID); code != 0 {
		t.Fatalf("hunt wait: %s", errOut)
	}
	code, out, errOut = vigil(t, env, "hunt", "results", huntID)
	if code != 0 {
		t.Fatalf("hunt results: %d %s", code, errOut)
	}
	for _, want := range []string{"default:marker " + filepath.Join(files, "a.txt"), "default:marker " + filepath.Join(files, "sub", "b.bin")} {
		if !strings.Contains(out, want) {
			t.Errorf("hunt results lack %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "c.txt") || strings.Count(out, "\n") != 2 {
		t.Errorf("hunt results: want exactly 2 lines:\n%s", out)
	}

	// Step 5: results as JSON lines and CSV, hunt show and list.
	code, out, _ = vigil(t, env, "hunt", "list", "--json")
	var hunts []api.Hunt
	if code != 0 || json.Unmarshal([]byte(out), &hunts) != nil || len(hunts) != 1 {
		t.Fatalf("hunt list: %s", out)
	}
	h := hunts[0]
	if h.Progress == nil || h.Progress.Agents != 1 || h.Progress.Done != 1 || h.Progress.Results != 2 {
		t.Errorf("progress: %+v", h.Progress)
	}
	code, out, _ = vigil(t, env, "hunt", "results", h.ID, "--json")
	if code != 0 || strings.Count(out, "\n") != 2 {
		t.Fatalf("results --json: %s", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r api.Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		if r.AgentID != id1 || r.Rule != "marker" || len(r.SHA256) != 64 || len(r.Strings) != 1 || r.Strings[0].ID != "$m" {
			t.Errorf("result %+v", r)
		}
		if strings.Contains(line, "SECRET-CONTENT") {
			t.Errorf("file content in results: %s", line)
		}
	}
	code, out, _ = vigil(t, env, "hunt", "results", h.ID, "--csv")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(recs) != 3 || strings.Join(recs[0], ",") != strings.Join(api.CSVHeader, ",") {
		t.Errorf("results --csv: %v\n%s", err, out)
	}
	code, out, _ = vigil(t, env, "hunt", "show", h.ID)
	if code != 0 || !strings.Contains(out, id1) || !strings.Contains(out, "done") {
		t.Errorf("hunt show:\n%s", out)
	}
	// Accountability from the command line: the witness cosigns, the log
	// verifies, and the agent's journal matches the log.
	if code, out, errOut := vigil(t, env, "witness", "--server", url, "--key", filepath.Join(dir, "w1.key"), "--state", filepath.Join(dir, "w"), "--once"); code != 0 {
		t.Errorf("witness --once: %d %s %s", code, out, errOut)
	}
	code, out, errOut = vigil(t, env, "log", "verify", "--server", url, "--checkpoint", filepath.Join(dir, "checkpoint"))
	if code != 0 || !strings.Contains(out, "hunt") {
		t.Errorf("log verify: %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = vigil(t, env, "audit", "--state", filepath.Join(dir, "a1"), "--server", url)
	if code != 0 || !strings.Contains(out, huntID) || !strings.Contains(out, "ran") {
		t.Errorf("audit: %d\n%s%s", code, out, errOut)
	}

	// A wrong token is refused.
	code, _, errOut = vigil(t, map[string]string{"VIGIL_SERVER": url, "VIGIL_TOKEN": "vop_wrong"}, "hunt", "list")
	if code != exitError || !strings.Contains(errOut, "401") && !strings.Contains(strings.ToLower(errOut), "token") {
		t.Errorf("wrong token: exit %d, %s", code, errOut)
	}
}
