package difftest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// YaraPath is where the reference yara binary is expected.
const YaraPath = "/usr/bin/yara"

// yaraTimeout bounds one yara process; yaraScanTimeout (yara -a, in
// seconds) one scan. Inputs are small: a scan that long is a yara hang.
const (
	yaraTimeout     = time.Minute
	yaraScanTimeout = "10"
)

// YaraEngine runs the yara command-line tool.
type YaraEngine struct {
	Path string // the yara binary
	// Defines are -d arguments (external variables), for example "ei=7".
	Defines []string
}

// NewYaraEngine returns an engine running the yara at path with the
// package's external variables defined.
func NewYaraEngine(path string) *YaraEngine {
	e := &YaraEngine{Path: path}
	for _, x := range Externals {
		e.Defines = append(e.Defines, x.Flag)
	}
	return e
}

// Name implements Engine.
func (e *YaraEngine) Name() string { return "yara" }

func (e *YaraEngine) run(args []string) (stdout, stderr []byte, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), yaraTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.Path, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.Bytes(), errb.Bytes(), err
}

func (e *YaraEngine) baseArgs() []string {
	args := []string{"-s", "-L", "-e", "-g", "-m", "-w", "-p", "1", "-a", yaraScanTimeout}
	for _, d := range e.Defines {
		args = append(args, "-d", d)
	}
	return args
}

// Accepts implements Engine: it scans an empty file with src.
func (e *YaraEngine) Accepts(src Source) (bool, string, error) {
	dir, err := os.MkdirTemp("", "difftest-yara-")
	if err != nil {
		return false, "", err
	}
	defer os.RemoveAll(dir)
	rules := filepath.Join(dir, "rules.yar")
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(rules, []byte(src.Text), 0o600); err != nil {
		return false, "", err
	}
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		return false, "", err
	}
	_, stderr, err := e.run(append(e.baseArgs(), rules, empty))
	var exit *exec.ExitError
	switch {
	case err == nil:
		return true, "", nil
	case errors.As(err, &exit):
		if bytes.Contains(stderr, []byte("error scanning")) {
			return true, "", nil
		}
		return false, strings.TrimSpace(string(stderr)), nil
	default:
		return false, "", fmt.Errorf("running yara: %w", err)
	}
}

// Scan implements Engine. All inputs are scanned by one yara process
// through --scan-list.
func (e *YaraEngine) Scan(srcs []Source, inputs [][]byte) ([][]RuleHit, error) {
	dir, err := os.MkdirTemp("", "difftest-yara-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	args := e.baseArgs()
	for i, s := range srcs {
		p := filepath.Join(dir, fmt.Sprintf("rules%d.yar", i))
		if err := os.WriteFile(p, []byte(s.Text), 0o600); err != nil {
			return nil, err
		}
		args = append(args, s.Namespace+":"+p)
	}
	var list bytes.Buffer
	index := map[string]int{}
	for i, in := range inputs {
		p := filepath.Join(dir, fmt.Sprintf("in%05d", i))
		if err := os.WriteFile(p, in, 0o600); err != nil {
			return nil, err
		}
		index[p] = i
		list.WriteString(p + "\n")
	}
	listPath := filepath.Join(dir, "list")
	if err := os.WriteFile(listPath, list.Bytes(), 0o600); err != nil {
		return nil, err
	}
	args = append(args, "--scan-list", listPath)
	stdout, stderr, err := e.run(args)
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return nil, fmt.Errorf("running yara: %w", err)
		}
		if exit.ExitCode() < 0 {
			return nil, &YaraCrash{State: exit.String(), Stderr: strings.TrimSpace(string(stderr))}
		}
		if !bytes.Contains(stderr, []byte("error scanning")) {
			return nil, &CompileFailure{Msg: strings.TrimSpace(string(stderr))}
		}
	}
	files, err := ParseYaraOutput(stdout)
	if err != nil {
		return nil, err
	}
	out := make([][]RuleHit, len(inputs))
	// A file yara failed to scan gets a single ScanErrorRule hit.
	for _, l := range strings.Split(string(stderr), "\n") {
		rest, ok := strings.CutPrefix(l, "error scanning ")
		if !ok {
			continue
		}
		path, msg, _ := strings.Cut(rest, ": ")
		i, ok := index[path]
		if !ok {
			return nil, fmt.Errorf("yara: %s", l)
		}
		out[i] = []RuleHit{{Rule: ScanErrorRule, Strings: []StringHit{{Text: msg}}}}
	}
	for _, f := range files {
		i, ok := index[f.Path]
		if !ok {
			return nil, fmt.Errorf("yara output names unknown file %q", f.Path)
		}
		if len(out[i]) == 0 || out[i][0].Rule != ScanErrorRule {
			out[i] = append(out[i], f.Rules...)
		}
	}
	return out, nil
}

// YaraCrash is returned by YaraEngine.Scan when yara dies of a signal.
type YaraCrash struct {
	State  string // for example "signal: segmentation fault"
	Stderr string
}

func (e *YaraCrash) Error() string { return "yara crashed: " + e.State + " " + e.Stderr }

// ScanErrorRule is the rule name of the single hit that stands for a
// failed scan of an input.
const ScanErrorRule = "!scan-error"

// FileHits is the part of yara's output about one scanned file.
type FileHits struct {
	Path  string
	Rules []RuleHit
}

// ParseYaraOutput parses the output of yara -s -L -e: lines
// "namespace:rule path" followed by lines "0xOFFSET:LENGTH:$id: data".
// Consecutive rules of one file are grouped; a file that appears in
// several groups (multi-threaded scans) has several entries.
func ParseYaraOutput(out []byte) ([]FileHits, error) {
	var files []FileHits
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		t := sc.Text()
		if t == "" {
			continue
		}
		if strings.HasPrefix(t, "0x") {
			if len(files) == 0 {
				return nil, fmt.Errorf("line %d: string match before any rule", line)
			}
			f := &files[len(files)-1]
			h, err := parseMatchLine(t)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			r := &f.Rules[len(f.Rules)-1]
			r.Strings = append(r.Strings, h)
			continue
		}
		h, path, err := parseRuleLine(t)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if len(files) == 0 || files[len(files)-1].Path != path {
			files = append(files, FileHits{Path: path})
		}
		f := &files[len(files)-1]
		f.Rules = append(f.Rules, h)
	}
	return files, sc.Err()
}

// parseRuleLine parses "namespace:rule [tags] [meta] path" (-e -g -m;
// the namespace, tags and meta are optional). The path must not contain
// spaces.
func parseRuleLine(t string) (RuleHit, string, error) {
	var h RuleHit
	sp := strings.LastIndexByte(t, ' ')
	first := strings.IndexByte(t, ' ')
	if sp < 0 {
		return h, "", fmt.Errorf("no file name in %q", t)
	}
	path := t[sp+1:]
	name := t[:first]
	var ok bool
	h.Namespace, h.Rule, ok = strings.Cut(name, ":")
	if !ok {
		h.Namespace, h.Rule = "default", name
	}
	if first == sp {
		return h, path, nil
	}
	mid := t[first+1 : sp]
	end := strings.IndexByte(mid, ']')
	if !strings.HasPrefix(mid, "[") || end < 0 {
		return h, "", fmt.Errorf("bad tags in %q", t)
	}
	h.Tags = mid[1:end]
	if rest := mid[end+1:]; rest != "" {
		if !strings.HasPrefix(rest, " [") || !strings.HasSuffix(rest, "]") {
			return h, "", fmt.Errorf("bad meta in %q", t)
		}
		h.Meta = rest[2 : len(rest)-1]
	}
	return h, path, nil
}

// parseMatchLine parses "0xOFFSET:LENGTH:$id: data".
func parseMatchLine(t string) (StringHit, error) {
	var h StringHit
	off, rest, ok := strings.Cut(t[2:], ":")
	if !ok {
		return h, fmt.Errorf("bad match line %q", t)
	}
	o, err := strconv.ParseInt(off, 16, 64)
	if err != nil {
		return h, fmt.Errorf("bad offset in %q", t)
	}
	ln, rest, ok := strings.Cut(rest, ":")
	if !ok {
		return h, fmt.Errorf("bad match line %q (yara run without -L?)", t)
	}
	n, err := strconv.Atoi(ln)
	if err != nil {
		return h, fmt.Errorf("bad length in %q", t)
	}
	id, data, ok := strings.Cut(rest, ": ")
	if !ok || !strings.HasPrefix(id, "$") {
		return h, fmt.Errorf("bad string id in %q", t)
	}
	return StringHit{ID: id, Offset: o, Length: n, Text: data}, nil
}
