package cli

import (
	"bytes"
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The scripts in testdata/scan/*.txt compare `vigil scan` with yara 4.2.3.
// A script is a list of sections, each starting with a line "-- NAME --":
//
//   - "args": one yara command line per line, split on spaces, run in a
//     fresh directory holding the script's files. "< FILE" at the end feeds
//     FILE to standard input. A line starting with "sorted: " compares the
//     output lines in sorted order (for scans with several threads).
//     A line starting with "gap: " is a known difference that the engine
//     has yet to close: a mismatch is logged, not reported as a failure.
//     Lines starting with '#' are comments.
//   - "want N": what yara printed for command line N (0-based): a line
//     "exit CODE", then standard output. Written by `go test -update` from
//     the yara binary, never by hand.
//   - any other name is a file to create: "NAME.hex" is written as NAME
//     from hex digits, "NAME -> TARGET" is a symlink, "NAME/" a directory.
//
// When yara is installed the test also checks that the want sections
// still agree with it.

var update = flag.Bool("update", false, "rewrite the want sections of testdata scripts from /usr/bin/yara")

type section struct {
	name string
	body string
}

type script struct {
	comment  string
	sections []section
}

func parseScript(text string) script {
	var s script
	lines := strings.SplitAfter(text, "\n")
	cur := -1
	for _, l := range lines {
		t := strings.TrimRight(l, "\n")
		if strings.HasPrefix(t, "-- ") && strings.HasSuffix(t, " --") && len(t) > 6 {
			s.sections = append(s.sections, section{name: t[3 : len(t)-3]})
			cur = len(s.sections) - 1
			continue
		}
		if cur < 0 {
			s.comment += l
		} else {
			s.sections[cur].body += l
		}
	}
	return s
}

func (s script) String() string {
	var b strings.Builder
	b.WriteString(s.comment)
	for _, sec := range s.sections {
		fmt.Fprintf(&b, "-- %s --\n%s", sec.name, sec.body)
	}
	return b.String()
}

func (s script) get(name string) (string, bool) {
	for _, sec := range s.sections {
		if sec.name == name {
			return sec.body, true
		}
	}
	return "", false
}

// scriptCmd is one line of an args section.
type scriptCmd struct {
	line   string
	args   []string
	stdin  string
	sorted bool
	gap    bool
}

func (s script) commands() []scriptCmd {
	body, _ := s.get("args")
	var out []scriptCmd
	for _, l := range strings.Split(body, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		c := scriptCmd{line: l}
		if rest, ok := strings.CutPrefix(l, "gap: "); ok {
			c.gap = true
			l = rest
		}
		if rest, ok := strings.CutPrefix(l, "sorted: "); ok {
			c.sorted = true
			l = rest
		}
		c.args = strings.Fields(l)
		if n := len(c.args); n >= 2 && c.args[n-2] == "<" {
			c.stdin = c.args[n-1]
			c.args = c.args[:n-2]
		}
		out = append(out, c)
	}
	return out
}

func isSpecial(name string) bool {
	return name == "args" || strings.HasPrefix(name, "want ")
}

// materialize creates the script's files under dir.
func (s script) materialize(t *testing.T, dir string) {
	t.Helper()
	for _, sec := range s.sections {
		if isSpecial(sec.name) {
			continue
		}
		name, data := sec.name, []byte(sec.body)
		if from, to, ok := strings.Cut(name, " -> "); ok {
			p := filepath.Join(dir, from)
			must(t, os.MkdirAll(filepath.Dir(p), 0o755))
			must(t, os.Symlink(to, p))
			continue
		}
		if strings.HasSuffix(name, "/") {
			must(t, os.MkdirAll(filepath.Join(dir, name), 0o755))
			continue
		}
		if base, ok := strings.CutSuffix(name, ".hex"); ok {
			var err error
			data, err = hex.DecodeString(strings.Join(strings.Fields(sec.body), ""))
			if err != nil {
				t.Fatalf("section %s: %v", name, err)
			}
			name = base
		}
		p := filepath.Join(dir, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, data, 0o644))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// outcome is what a scriptCmd line produced.
type outcome struct {
	exit   int
	stdout string
}

func (o outcome) String() string { return fmt.Sprintf("exit %d\n%s", o.exit, o.stdout) }

func parseOutcome(s string) (outcome, bool) {
	first, rest, _ := strings.Cut(s, "\n")
	var o outcome
	if _, err := fmt.Sscanf(first, "exit %d", &o.exit); err != nil {
		return o, false
	}
	o.stdout = rest
	return o, true
}

func (o outcome) normalized(sorted bool) outcome {
	if sorted {
		lines := strings.SplitAfter(o.stdout, "\n")
		sort.Strings(lines)
		o.stdout = strings.Join(lines, "")
	}
	return o
}

const yaraPath = "/usr/bin/yara"

func haveYara() bool {
	_, err := os.Stat(yaraPath)
	return err == nil
}

func runYara(t *testing.T, dir string, c scriptCmd) outcome {
	t.Helper()
	cmd := exec.Command(yaraPath, c.args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = &out
	if c.stdin != "" {
		f, err := os.Open(filepath.Join(dir, c.stdin))
		must(t, err)
		defer f.Close()
		cmd.Stdin = f
	}
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running yara: %v", err)
	}
	return outcome{code, out.String()}
}

func runVigil(t *testing.T, dir string, c scriptCmd) (outcome, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	var stdin bytes.Buffer
	if c.stdin != "" {
		data, err := os.ReadFile(filepath.Join(dir, c.stdin))
		must(t, err)
		stdin.Write(data)
	}
	code := Run(context.Background(), append([]string{"scan"}, c.args...), &stdin, &stdout, &stderr)
	return outcome{code, stdout.String()}, stderr.String()
}

func TestScanScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/scan/*.txt")
	must(t, err)
	if len(files) == 0 {
		t.Fatal("no scripts")
	}
	if *update && !haveYara() {
		t.Fatal("-update needs " + yaraPath)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			text, err := os.ReadFile(file)
			must(t, err)
			abs, err := filepath.Abs(file)
			must(t, err)
			s := parseScript(string(text))
			dir := t.TempDir()
			s.materialize(t, dir)
			t.Chdir(dir)
			cmds := s.commands()
			if *update {
				s = s.withWants(t, dir, cmds)
				must(t, os.WriteFile(abs, []byte(s.String()), 0o644))
			}
			for i, c := range cmds {
				body, ok := s.get(fmt.Sprintf("want %d", i))
				if !ok {
					t.Fatalf("%s: no want section for %q; run go test -update", file, c.line)
				}
				want, ok := parseOutcome(body)
				if !ok {
					t.Fatalf("%s: bad want section %d", file, i)
				}
				if haveYara() && !*update {
					if live := runYara(t, dir, c); live.normalized(c.sorted) != want.normalized(c.sorted) {
						t.Errorf("%s: want section %d is stale for %q; run go test -update\nyara now:\n%s", file, i, c.line, live)
					}
				}
				got, stderr := runVigil(t, dir, c)
				report := t.Errorf
				if c.gap {
					report = t.Logf
				}
				if got.normalized(c.sorted) != want.normalized(c.sorted) {
					report("vigil scan %s\n--- got (stderr: %q)\n%s--- want (yara)\n%s", c.line, stderr, got, want)
				}
			}
		})
	}
}

// withWants replaces the want sections by yara's outcomes.
func (s script) withWants(t *testing.T, dir string, cmds []scriptCmd) script {
	var kept []section
	for _, sec := range s.sections {
		if !strings.HasPrefix(sec.name, "want ") {
			kept = append(kept, sec)
		}
	}
	s.sections = kept
	for i, c := range cmds {
		o := runYara(t, dir, c)
		if !strings.HasSuffix(o.stdout, "\n") && o.stdout != "" {
			t.Fatalf("yara output of %q does not end with a newline", c.line)
		}
		s.sections = append(s.sections, section{fmt.Sprintf("want %d", i), o.String()})
	}
	return s
}
