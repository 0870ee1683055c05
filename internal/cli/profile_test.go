package cli

import (
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestScanProfile checks --profile: the report lists the costliest rules,
// the costliest first, with their checks, and leaves standard output as
// without it.
func TestScanProfile(t *testing.T) {
	dir := t.TempDir()
	hexText := strings.Repeat("0123456789abcdef0123456789abcdef ", 3000)
	writeFiles(t, dir, map[string]string{
		"rules.yar": `
rule slow { strings: $a = /[a-f0-9]{32}/ condition: $a }
rule cheap { strings: $b = "zzzq" condition: $b }
rule quiet { strings: $c = "never there" condition: $c }
`,
		"data/a.txt": hexText + "zzzq",
		"data/b.txt": hexText,
	})
	rules, data := filepath.Join(dir, "rules.yar"), filepath.Join(dir, "data")
	code, wantOut, _ := run(t, "", "scan", "-w", "-r", "-p", "2", rules, data)
	if code != 0 {
		t.Fatalf("scan: exit %d", code)
	}
	for _, args := range [][]string{
		{"scan", "-r", "-w", "-p", "2", "--profile", rules, data},
		{"scan", "--profile=1", "-w", rules, filepath.Join(data, "a.txt")},
	} {
		code, out, errOut := run(t, "", args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, errOut)
		}
		if args[1] == "-r" && sortLines(out) != sortLines(wantOut) {
			t.Errorf("%v changed the output:\n%s\nwant:\n%s", args, out, wantOut)
		}
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if !strings.HasPrefix(lines[0], "profile: 3 rules;") || !strings.Contains(lines[1], "rule") {
			t.Fatalf("%v: report:\n%s", args, errOut)
		}
		rows := lines[2:]
		want := []string{"slow", "cheap"}
		if args[1] == "--profile=1" {
			want = want[:1]
		}
		if len(rows) != len(want) {
			t.Fatalf("%v: %d rows, want %d:\n%s", args, len(rows), len(want), errOut)
		}
		row := regexp.MustCompile(`^ *[0-9.]+s +[0-9.]+s +[0-9.]+s +([0-9]+) +[0-9.]+% +(\S+)$`)
		for i, r := range rows {
			m := row.FindStringSubmatch(r)
			if m == nil || m[2] != want[i] {
				t.Errorf("%v: row %d is %q, want rule %s", args, i, r, want[i])
				continue
			}
			if m[1] == "0" {
				t.Errorf("%v: %s has no checks: %q", args, want[i], r)
			}
		}
	}
}

func sortLines(s string) string {
	l := strings.Split(s, "\n")
	sort.Strings(l)
	return strings.Join(l, "\n")
}
