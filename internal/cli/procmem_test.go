package cli

import (
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestProcessTarget(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFiles(t, dir, map[string]string{"123": ""})
	// Checked against yara 4.2.3: "+12", " 12" and "007" name processes;
	// "0", "12 ", "0x10" and "12abc" files; an existing file wins.
	tests := []struct {
		in  string
		pid int
		ok  bool
	}{
		{"456", 456, true}, {"+12", 12, true}, {" 12", 12, true}, {"007", 7, true},
		{"0", 0, false}, {"12 ", 0, false}, {"0x10", 0, false}, {"12abc", 0, false}, {"", 0, false},
		{"-5", 0, false}, {"123", 0, false}, {"99999999999999999999999", 0, false},
	}
	for _, tc := range tests {
		pid, ok := processTarget(tc.in)
		if pid != tc.pid || ok != tc.ok {
			t.Errorf("processTarget(%q) = %d, %v; want %d, %v", tc.in, pid, ok, tc.pid, tc.ok)
		}
	}
}

// startMarked starts a shell that holds marker in its memory (its command
// line) and waits.
func startMarked(t *testing.T, marker string) int {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", "sleep 60; : "+marker)
	must(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	// Wait until the shell runs sleep: it has parsed its command line by
	// then, and its memory stays still.
	pid := cmd.Process.Pid
	children := "/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children"
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(children)
		if err == nil && len(strings.TrimSpace(string(b))) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("shell %d started no child: %v", pid, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return pid
}

func TestScanProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("linux only")
	}
	dir := t.TempDir()
	t.Chdir(dir)
	marker := "VIGIL" + strings.Repeat("_", 2) + "PROCMARK" + strconv.Itoa(os.Getpid())
	writeFiles(t, dir, map[string]string{"r.yar": `rule M { strings: $a = "` + marker + `" condition: $a }
rule N { strings: $b = "no such string anywhere 8e1f" condition: $b }`})
	pid := startMarked(t, marker)
	ps := strconv.Itoa(pid)
	code, out, stderr := run(t, "", "scan", "-s", "r.yar", ps)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if lines[0] != "M "+ps || len(lines) < 2 || !strings.HasSuffix(lines[1], ":$a: "+marker) {
		t.Fatalf("output:\n%s", out)
	}
	if code, out, _ := run(t, "", "scan", "-n", "r.yar", ps); code != 0 || out != "N "+ps+"\n" {
		t.Errorf("-n: %d %q", code, out)
	}
	if !haveYara() {
		return
	}
	for _, args := range [][]string{{"-s", "r.yar", ps}, {"-c", "r.yar", ps}, {"r.yar", "999999999"}} {
		_, out, _ := run(t, "", append([]string{"scan"}, args...)...)
		ycode, yout := yaraOutput(t, dir, args...)
		// Addresses in the same order; compared as sets in case yara
		// orders regions differently.
		if !slices.Equal(sortedLines(out), sortedLines(yout)) {
			t.Errorf("%q:\nvigil:\n%s\nyara (exit %d):\n%s", args, out, ycode, yout)
		}
	}
}

func TestScanProcessErrors(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFiles(t, dir, map[string]string{"r.yar": "rule A { condition: true }"})
	code, _, stderr := run(t, "", "scan", "r.yar", "999999999")
	want := "error scanning 999999999: can not attach to process (try running as root)\n"
	if runtime.GOOS != "linux" {
		want = "error scanning 999999999: scanning process memory is only supported on Linux\n"
	}
	if code != exitError || stderr != want {
		t.Errorf("exit %d: %q", code, stderr)
	}
	if code, _, _ := run(t, "", "scan", "--quarantine=q", "r.yar", "999999999"); code != exitError {
		t.Errorf("--quarantine with a PID: exit %d", code)
	}
}
