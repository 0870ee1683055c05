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
	srv := background(t, "server", "--data", filepath.Join(dir, "server"), "--http", "127.0.0.1:0", "--nats-port", "-1")
	url := waitForMatch(t, srv, regexp.MustCompile(`web UI and API at (\S+)`))[1]
	token := waitForMatch(t, srv, regexp.MustCompile(`(?m)^\s+(vop_\S+)\s*$`))[1]
	env := map[string]string{"VIGIL_SERVER": url, "VIGIL_TOKEN": token}

	// Step 2: tokens and agents.
	code, out, errOut := vigil(t, env, "token", "create", "--labels", "os=linux,site=berlin")
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
	a1 := background(t, "agent", "--server", url, "--token", secret[1], "--state", filepath.Join(dir, "a1"))
	a2 := background(t, "agent", "--server", url, "--token", paris.Secret, "--state", filepath.Join(dir, "a2"))
	id1 := waitForMatch(t, a1, regexp.MustCompile(`enrolled as (\S+)`))[1]
	waitForMatch(t, a2, regexp.MustCompile(`enrolled as (\S+)`))
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
	os.WriteFile(filepath.Join(files, "a.txt"), []byte("xx VIGIL-CLI-MARKER xx"), 0o644)
	os.WriteFile(filepath.Join(files, "sub", "b.bin"), []byte("\x00\x01VIGIL-CLI-MARKER"), 0o644)
	os.WriteFile(filepath.Join(files, "c.txt"), []byte("nothing here"), 0o644)
	rules := filepath.Join(dir, "r.yar")
	os.WriteFile(rules, []byte(`rule marker : demo { strings: $m = "VIGIL-CLI-MARKER" condition: $m }`), 0o644)

	code, _, errOut = vigil(t, env, "hunt", "create", "--rules", rules, "--path", files)
	if code != exitUsage || !strings.Contains(errOut, "--why") {
		t.Errorf("hunt without --why: exit %d, %s", code, errOut)
	}
	code, out, errOut = vigil(t, env, "hunt", "create", "--rules", rules, "--path", files, "--target", "site=berlin", "--why", "test", "--wait")
	if code != 0 {
		t.Fatalf("hunt create --wait: %d %s", code, errOut)
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
		if strings.Contains(line, "VIGIL-CLI-MARKER") {
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
	// A wrong token is refused.
	code, _, errOut = vigil(t, map[string]string{"VIGIL_SERVER": url, "VIGIL_TOKEN": "vop_wrong"}, "hunt", "list")
	if code != exitError || !strings.Contains(errOut, "401") && !strings.Contains(strings.ToLower(errOut), "token") {
		t.Errorf("wrong token: exit %d, %s", code, errOut)
	}
}
