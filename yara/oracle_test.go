package yara

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The oracle helpers run /usr/bin/yara (4.2.3) on the same rules and data
// as Vigil and compare: matching rules and, for each, string offsets and
// lengths. Tests that carry hard-coded expectations also check them against
// yara when it is installed, so that every expected value is confirmed.

const yaraPath = "/usr/bin/yara"

func haveYara() bool {
	_, err := os.Stat(yaraPath)
	return err == nil
}

// scanSummary is a comparable view of a scan: one line per matching rule,
// followed by one line per string match "rule $id off:len".
type scanSummary []string

var yaraLine = regexp.MustCompile(`^0x([0-9a-f]+):([0-9]+):(\$[A-Za-z0-9_]*):`)

// yaraScan runs yara -s -L and returns the summary. extra are additional
// flags (for example "-f" or "-d", "x=1").
func yaraScan(t *testing.T, src string, data []byte, extra ...string) (scanSummary, string, error) {
	t.Helper()
	dir := t.TempDir()
	rf := filepath.Join(dir, "r.yar")
	df := filepath.Join(dir, "data")
	if err := os.WriteFile(rf, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(df, data, 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-s", "-L", "-w"}, extra...)
	args = append(args, rf, df)
	cmd := exec.Command(yaraPath, args...)
	var out, stderr strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err != nil || stderr.Len() > 0 {
		return nil, stderr.String(), fmt.Errorf("yara: %v: %s", err, stderr.String())
	}
	var sum scanSummary
	cur := ""
	for _, line := range strings.Split(out.String(), "\n") {
		if line == "" {
			continue
		}
		if m := yaraLine.FindStringSubmatch(line); m != nil {
			var off int64
			fmt.Sscanf(m[1], "%x", &off)
			sum = append(sum, fmt.Sprintf("%s %s %d:%s", cur, m[3], off, m[2]))
			continue
		}
		cur = strings.TrimSuffix(line, " "+df)
		sum = append(sum, cur)
	}
	return sum, stderr.String(), nil
}

// vigilScan compiles and scans with Vigil and returns the same summary.
func vigilScan(t *testing.T, src string, data []byte, opts ScanOptions, vars map[string]any) (scanSummary, error) {
	t.Helper()
	c := NewCompiler()
	for k, v := range vars {
		if err := c.DefineVariable(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.AddSource("r.yar", []byte(src), ""); err != nil {
		return nil, err
	}
	r, err := c.Rules()
	if err != nil {
		return nil, err
	}
	s := r.NewScanner()
	s.SetOptions(opts)
	res, err := s.ScanBytes(context.Background(), data)
	if err != nil {
		return nil, err
	}
	var sum scanSummary
	for _, m := range res.Matching {
		sum = append(sum, m.Name)
		for _, ms := range m.Strings {
			for _, x := range ms.Matches {
				// yara -L prints the length of the kept data.
				sum = append(sum, fmt.Sprintf("%s %s %d:%d", m.Name, ms.ID, x.Offset, len(x.Data)))
			}
		}
	}
	return sum, nil
}

// rulesOnly keeps the rule lines of a summary, sorted.
func rulesOnly(s scanSummary) []string {
	var out []string
	for _, l := range s {
		if !strings.Contains(l, " ") {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

// checkAgainstYara asserts that Vigil and yara agree on src and data.
func checkAgainstYara(t *testing.T, src string, data []byte, opts ScanOptions, extra ...string) {
	t.Helper()
	if !haveYara() {
		t.Skip("yara not installed")
	}
	want, _, err := yaraScan(t, src, data, extra...)
	if err != nil {
		t.Fatalf("yara failed on %.300q: %.2000v", src, err)
	}
	got, err := vigilScan(t, src, data, opts, nil)
	if err != nil {
		t.Fatalf("vigil failed on %.300q: %.2000v", src, err)
	}
	matchedLines += len(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rules %s\ndata %q\nvigil:\n  %s\nyara:\n  %s", src, trunc(data), strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// matchedLines counts the lines of yara output compared so far, so that a
// differential test can tell that it compared something.
var matchedLines int

func trunc(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}
