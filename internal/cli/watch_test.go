package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader in two
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits until buf holds want. The deadline is generous: this is a
// functional test, not a timing benchmark.
func waitFor(t *testing.T, buf *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(buf.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in:\n%s", want, buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startWatch runs `vigil watch args...` until the test ends.
func startWatch(t *testing.T, args ...string) (stdout, stderr *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- Run(ctx, append([]string{"watch"}, args...), strings.NewReader(""), stdout, stderr) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("exit %d: %s", code, stderr)
		}
	})
	deadline := time.After(10 * time.Second)
	for !strings.Contains(stderr.String(), "vigil watch: watching") {
		select {
		case code := <-done:
			t.Fatalf("watch ended: exit %d: %s", code, stderr)
		case <-deadline:
			t.Fatalf("watch not ready: %s", stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	return stdout, stderr
}

func TestWatchText(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFiles(t, dir, map[string]string{
		"r.yar":    `rule Hello { strings: $h = "hello" condition: $h }`,
		"w/old":    "hello, there before",
		"w/s/keep": "",
	})
	out, stderr := startWatch(t, "-s", "r.yar", "w")
	if !strings.Contains(stderr.String(), "watching 2 directories") {
		t.Errorf("stderr: %s", stderr)
	}
	writeFiles(t, dir, map[string]string{"w/new": "say hello"})
	waitFor(t, out, "Hello w/new\n0x4:$h: hello\n")

	// A new subdirectory is watched; removing one breaks nothing.
	must(t, os.MkdirAll("w/n1/n2", 0o755))
	writeFiles(t, dir, map[string]string{"w/n1/n2/f": "hello"})
	waitFor(t, out, "Hello "+filepath.Join("w/n1/n2/f")+"\n")
	must(t, os.RemoveAll("w/n1"))
	must(t, os.RemoveAll("w/s"))
	writeFiles(t, dir, map[string]string{"w/after": "hello again"})
	waitFor(t, out, "Hello w/after\n0x0:$h: hello\n")
	if strings.Contains(out.String(), "w/old") {
		t.Errorf("a file there before the watch was scanned:\n%s", out)
	}
}

func TestWatchJSONQuarantine(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFiles(t, dir, map[string]string{
		"r.yar": `rule Hello { strings: $h = "hello" condition: $h }`,
		"w/x":   "",
	})
	out, _ := startWatch(t, "--json", "--quarantine=q", "--debounce=50ms", "r.yar", "w")
	writeFiles(t, dir, map[string]string{"w/evil": "hello"})
	waitFor(t, out, `"quarantined"`)
	var first map[string]any
	line, _, _ := strings.Cut(out.String(), "\n")
	must(t, json.Unmarshal([]byte(line), &first))
	if first["path"] != "w/evil" || first["matches"] == nil {
		t.Errorf("first line %s", line)
	}
	if _, err := os.Lstat("w/evil"); err == nil {
		t.Error("w/evil not quarantined")
	}
}

func TestWatchUsage(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFiles(t, dir, map[string]string{"r.yar": "rule A { condition: true }", "d/f": ""})
	for _, args := range [][]string{
		{"watch", "r.yar"}, {"watch", "d"}, {"watch", "--scan-list", "r.yar", "d"}, {"watch", "--bad", "r.yar", "d"},
		{"watch", "missing.yar", "d"},
	} {
		if code, _, _ := run(t, "", args...); code != exitError {
			t.Errorf("%q: exit %d", args, code)
		}
	}
	if code, out, _ := run(t, "", "watch", "--help"); code != 0 || !strings.Contains(out, "--debounce") {
		t.Errorf("--help: %d %q", code, out)
	}
}
