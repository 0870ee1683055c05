package re

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// yaraPath is the oracle; tests that need it skip when it is absent.
const yaraPath = "/usr/bin/yara"

func haveYara() bool {
	_, err := os.Stat(yaraPath)
	return err == nil
}

// yaraCase is one string definition (the text after `$a =`, with
// modifiers) scanned over several inputs.
type yaraResult map[int]int // offset -> length

// runYara scans every input with every string definition in one yara run.
// It returns res[def][input] (nil for a definition yara rejects) and the
// per-definition compile error text.
func runYara(t testing.TB, defs []string, inputs [][]byte) ([][]yaraResult, []string) {
	t.Helper()
	dir := t.TempDir()
	for i, in := range inputs {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("in%d", i)), in, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	errs := make([]string, len(defs))
	ok := make([]bool, len(defs))
	// Try all at once; on failure, find the bad definitions one by one.
	if yaraCompiles(t, defs) {
		for i := range ok {
			ok[i] = true
		}
	} else {
		for i, d := range defs {
			out, err := yaraCompileOne(t, d)
			if err == nil {
				ok[i] = true
			} else {
				errs[i] = out
			}
		}
	}
	res := make([][]yaraResult, len(defs))
	var out []byte
	// A rule can fail at scan time (yara error 46, too many regex
	// fibers): drop it and scan again.
	for attempt := 0; ; attempt++ {
		var rules strings.Builder
		for i, d := range defs {
			if ok[i] {
				fmt.Fprintf(&rules, "rule r%d { strings: $a = %s condition: $a }\n", i, d)
			}
		}
		rf := filepath.Join(t.TempDir(), "r.yar")
		if err := os.WriteFile(rf, []byte(rules.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, yaraPath, "-w", "-s", "-L", "-p", "1", rf, dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		var err error
		out, err = cmd.Output()
		cancel()
		if err != nil {
			t.Fatalf("yara: %v\n%s", err, stderr.Bytes())
		}
		failed := scanErrRule.FindAllStringSubmatch(stderr.String(), -1)
		if len(failed) == 0 {
			break
		}
		if attempt > 5 {
			t.Fatalf("yara keeps failing: %s", stderr.Bytes())
		}
		for _, f := range failed {
			i, _ := strconv.Atoi(f[1])
			ok[i] = false
			errs[i] = "scan error"
			scanFailed[defs[i]] = true
		}
	}
	for i := range defs {
		if ok[i] {
			res[i] = make([]yaraResult, len(inputs))
			for j := range inputs {
				res[i][j] = yaraResult{}
			}
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	rule, input := -1, -1
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "r") {
			var name, path string
			if _, err := fmt.Sscanf(line, "%s %s", &name, &path); err != nil {
				t.Fatalf("bad yara line %q", line)
			}
			rule, _ = strconv.Atoi(name[1:])
			input, _ = strconv.Atoi(strings.TrimPrefix(filepath.Base(path), "in"))
			continue
		}
		if strings.HasPrefix(line, "0x") {
			parts := strings.SplitN(line, ":", 3)
			off, _ := strconv.ParseInt(parts[0][2:], 16, 64)
			n, _ := strconv.Atoi(parts[1])
			res[rule][input][int(off)] = n
		}
	}
	return res, errs
}

func yaraCompiles(t testing.TB, defs []string) bool {
	var rules strings.Builder
	for i, d := range defs {
		fmt.Fprintf(&rules, "rule r%d { strings: $a = %s condition: $a }\n", i, d)
	}
	return yaraCheck(t, rules.String()) == nil
}

func yaraCompileOne(t testing.TB, def string) (string, error) {
	src := fmt.Sprintf("rule r { strings: $a = %s condition: $a }\n", def)
	err := yaraCheck(t, src)
	if err != nil {
		return err.Error(), err
	}
	return "", nil
}

// yaraCheck compiles rule source with yara against an empty file.
func yaraCheck(t testing.TB, src string) error {
	dir := t.TempDir()
	rf := filepath.Join(dir, "r.yar")
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(rf, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(yaraPath, "-w", rf, empty).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s", bytes.TrimSpace(out))
	}
	return nil
}

var scanErrRule = regexp.MustCompile(`in rule "r([0-9]+)" caused error`)

// scanFailed records definitions that yara compiled but could not scan
// with (the comparison skips them).
var scanFailed = map[string]bool{}

// ourMatches scans data the way yara does (YaraScan). A scan error
// (too many fibers) is reported as a match at offset -1 of length -1,
// which yara's results never contain.
func ourMatches(p *Prog, data []byte) yaraResult {
	r := yaraResult{}
	ms, err := p.YaraScan(data)
	if err != nil {
		r[-1] = -1
		return r
	}
	for _, m := range ms {
		r[m.Start] = m.Len
	}
	return r
}

func resultString(r yaraResult) string {
	var offs []int
	for o := range r {
		offs = append(offs, o)
	}
	sortInts(offs)
	var b strings.Builder
	for _, o := range offs {
		fmt.Fprintf(&b, "%d:%d ", o, r[o])
	}
	return strings.TrimSpace(b.String())
}

func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}
