package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestScanQuarantine: matching files, and archives with a matching
// member, move into the store; a restore brings them back byte for byte.
func TestScanQuarantine(t *testing.T) {
	dir := archiveTree(t)
	orig := map[string][]byte{}
	for _, p := range []string{"d/plain.txt", "d/a.log", "d/out.zip", "d/x.gz"} {
		b, err := os.ReadFile(p)
		must(t, err)
		orig[p] = b
	}
	must(t, os.Chmod("d/a.log", 0o600))
	writeFiles(t, dir, map[string]string{"d/clean.txt": "nothing here", "target.txt": "hello target"})
	must(t, os.Symlink("../target.txt", "d/link"))

	code, out, stderr := run(t, "", "scan", "-p", "1", "--archives", "--exclude=x.gz", "--quarantine", "q", "-r", "r.yar", "d")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// The output is the scan's, unchanged; the moves are on stderr.
	want := []string{"Hello d/a.log", "Hello d/link", "Hello d/out.zip!../../etc/passwd", "Hello d/out.zip!in.zip!deep/evil.exe", "Hello d/plain.txt"}
	if got := sortedLines(out); !slices.Equal(got, want) {
		t.Errorf("stdout:\n%s", out)
	}
	for _, p := range []string{"d/plain.txt", "d/a.log", "d/out.zip"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s not moved", p)
		}
		if !strings.Contains(stderr, "quarantined "+p+" as ") {
			t.Errorf("stderr lacks the move of %s: %s", p, stderr)
		}
	}
	if !strings.Contains(stderr, "not quarantined d/link: ") {
		t.Errorf("stderr lacks the refusal of the link: %s", stderr)
	}
	for _, p := range []string{"d/clean.txt", "d/x.gz", "d/link", "target.txt"} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s moved: %v", p, err)
		}
	}
	// The store's content does not match the rules any more.
	if code, out, _ := run(t, "", "scan", "-r", "r.yar", "q"); code != 0 || out != "" {
		t.Errorf("scan of the store: exit %d, %q", code, out)
	}

	code, out, stderr = run(t, "", "quarantine", "list", "--json", "q")
	if code != 0 {
		t.Fatalf("list: exit %d: %s", code, stderr)
	}
	ids := map[string]string{} // relative path → ID
	for _, line := range sortedLines(out) {
		var it struct {
			ID    string   `json:"id"`
			Path  string   `json:"path"`
			Rules []string `json:"rules"`
			Mode  uint32   `json:"mode"`
		}
		must(t, json.Unmarshal([]byte(line), &it))
		rel, _ := filepath.Rel(dir, it.Path)
		ids[rel] = it.ID
		if !slices.Equal(it.Rules, []string{"Hello"}) {
			t.Errorf("%s: rules %v", rel, it.Rules)
		}
		if rel == "d/a.log" && it.Mode != 0o600 {
			t.Errorf("a.log mode %o", it.Mode)
		}
	}
	if len(ids) != 3 || ids["d/out.zip"] == "" {
		t.Fatalf("list: %v", ids)
	}
	code, out, _ = run(t, "", "quarantine", "list", "q")
	if code != 0 || len(sortedLines(out)) != 3 || !strings.Contains(out, filepath.Join(dir, "d/out.zip")) {
		t.Errorf("list: exit %d\n%s", code, out)
	}

	// Restore: exact bytes and mode; refused over an existing file.
	for _, p := range []string{"d/out.zip", "d/a.log"} {
		if code, _, stderr := run(t, "", "quarantine", "restore", "q", ids[p]); code != 0 {
			t.Fatalf("restore %s: exit %d: %s", p, code, stderr)
		}
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, orig[p]) {
			t.Errorf("%s: restored content differs (%v)", p, err)
		}
	}
	if fi, _ := os.Stat("d/a.log"); fi.Mode().Perm() != 0o600 {
		t.Errorf("a.log restored with mode %v", fi.Mode())
	}
	writeFiles(t, dir, map[string]string{"d/plain.txt": "a new file"})
	code, _, stderr = run(t, "", "quarantine", "restore", "q", ids["d/plain.txt"])
	if code != exitError || !strings.Contains(stderr, "--force") {
		t.Errorf("restore over a file: exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile("d/plain.txt"); string(b) != "a new file" {
		t.Errorf("existing file changed: %q", b)
	}
	if code, _, stderr := run(t, "", "quarantine", "restore", "--force", "q", ids["d/plain.txt"]); code != 0 {
		t.Errorf("restore --force: exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile("d/plain.txt"); !bytes.Equal(b, orig["d/plain.txt"]) {
		t.Errorf("forced restore: %q", b)
	}
	// Everything restored: the store is empty; unknown IDs fail.
	if code, out, _ := run(t, "", "quarantine", "list", "q"); code != 0 || out != "" {
		t.Errorf("list after restores: %q", out)
	}
	for _, args := range [][]string{
		{"quarantine", "restore", "q", ids["d/a.log"]},
		{"quarantine", "delete", "q", "../r.yar"},
		{"quarantine", "list", "no-store"},
	} {
		if code, _, _ := run(t, "", args...); code != exitError {
			t.Errorf("%q: exit %d", args, code)
		}
	}
	if _, err := os.Stat("r.yar"); err != nil {
		t.Errorf("r.yar: %v", err)
	}
}

func TestQuarantineDeleteAndJSON(t *testing.T) {
	archiveTree(t)
	code, out, stderr := run(t, "", "scan", "--json", "--quarantine=q", "r.yar", "d/plain.txt")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var id string
	for _, line := range sortedLines(out) {
		var obj map[string]any
		must(t, json.Unmarshal([]byte(line), &obj))
		if q, ok := obj["quarantined"].(string); ok {
			id = q
			if obj["path"] != "d/plain.txt" || obj["store"] != "q" {
				t.Errorf("%s", line)
			}
		}
	}
	if id == "" {
		t.Fatalf("no quarantined object in %q", out)
	}
	if code, out, _ := run(t, "", "quarantine", "delete", "q", id); code != 0 || out != "deleted "+id+"\n" {
		t.Errorf("delete: %d %q", code, out)
	}
	if code, out, _ := run(t, "", "quarantine", "list", "q"); code != 0 || out != "" {
		t.Errorf("list: %d %q", code, out)
	}
}

func TestQuarantineUsage(t *testing.T) {
	for _, args := range [][]string{
		{"quarantine"}, {"quarantine", "frob", "q"}, {"quarantine", "list"}, {"quarantine", "restore", "q"},
		{"quarantine", "delete", "q"}, {"quarantine", "list", "--bad", "q"},
	} {
		if code, _, _ := run(t, "", args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code, out, _ := run(t, "", "help", "quarantine"); code != 0 || !strings.Contains(out, "restore") {
		t.Errorf("help: %d %q", code, out)
	}
}

// TestQuarantineFailure: when files cannot be quarantined (here the store
// is a file) the exit status is 1 and the files stay.
func TestQuarantineFailure(t *testing.T) {
	dir := archiveTree(t)
	writeFiles(t, dir, map[string]string{"q": "not a directory"})
	code, out, stderr := run(t, "", "scan", "--quarantine=q", "r.yar", "d/plain.txt")
	if code != exitError || !strings.Contains(stderr, "error: quarantine q: ") || out != "Hello d/plain.txt\n" {
		t.Errorf("exit %d: %q %q", code, out, stderr)
	}
	if _, err := os.Stat("d/plain.txt"); err != nil {
		t.Error(err)
	}
}

// TestQuarantineStoreInTree: the store's own files are never moved, even
// when they match.
func TestQuarantineStoreInTree(t *testing.T) {
	dir := archiveTree(t)
	writeFiles(t, dir, map[string]string{"any.yar": "rule Any { condition: true }"})
	code, _, stderr := run(t, "", "scan", "--quarantine=d/q", "-r", "any.yar", "d/plain.txt")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	code, _, stderr = run(t, "", "scan", "--quarantine=d/q", "-r", "any.yar", "d")
	if code != 0 || !strings.Contains(stderr, "not quarantined d/q/key: a file of the quarantine store") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if code, out, stderr := run(t, "", "quarantine", "list", "d/q"); code != 0 || len(sortedLines(out)) != 4 {
		t.Errorf("list: exit %d: %s%s", code, out, stderr)
	}
}
