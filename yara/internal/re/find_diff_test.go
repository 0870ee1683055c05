package re

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDiffFind compares Find with yara's `matches` operator on random
// patterns, passing the subject as an external string variable.
func TestDiffFind(t *testing.T) {
	if !haveYara() {
		t.Skip("yara not installed")
	}
	r := rand.New(rand.NewSource(5))
	type tc struct {
		src  string
		prog *Prog
	}
	var cases []tc
	for len(cases) < *diffN {
		src := genRegex(r, 0, r.Intn(3) == 0)
		n, err := Parse(src, Flags{})
		if err != nil {
			continue
		}
		p, err := Compile(n, CompileOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// Skip what yara rejects, fails on (error 46) or hangs on.
		if _, failed := yaraMatches(t, []string{src}, []int{0}, []byte("cacaaabbc abc")); failed[0] {
			continue
		}
		cases = append(cases, tc{src, p})
	}
	inputs := genInputs(r, 15, "abc ")
	inputs = append(inputs, []byte{})
	all := make([]int, len(cases))
	for i := range all {
		all[i] = i
	}
	srcs := make([]string, len(cases))
	for i, c := range cases {
		srcs[i] = c.src
	}
	differ, skipped := 0, 0
	for _, in := range inputs {
		matched, failed := yaraMatches(t, srcs, all, in)
		skipped += len(failed)
		for i, c := range cases {
			if failed[i] {
				continue
			}
			if got := c.prog.Find(in); got != matched[i] {
				differ++
				t.Errorf("%q matches /%s/: yara %v, we %v", in, c.src, matched[i], got)
			}
		}
	}
	t.Logf("find: %d comparisons, %d differ, %d skipped (yara error)", len(cases)*len(inputs), differ, skipped)
}

// yaraMatches evaluates `s matches /src/` for the given patterns with s =
// in. Patterns that make yara fail (error 46, too many fibers) are
// isolated by bisection and returned in failed.
func yaraMatches(t *testing.T, srcs []string, idx []int, in []byte) (matched, failed map[int]bool) {
	matched, failed = map[int]bool{}, map[int]bool{}
	var rules strings.Builder
	for _, i := range idx {
		fmt.Fprintf(&rules, "rule r%d { condition: s matches /%s/ }\n", i, srcs[i])
	}
	dir := t.TempDir()
	rf := filepath.Join(dir, "r.yar")
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(rf, []byte(rules.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	timeout := 5 * time.Second
	if len(idx) == 1 {
		timeout = time.Second
	}
	// yara hangs on some patterns, e.g. /(\B)+?c/ (an empty loop): a
	// timeout counts as a failure like error 46.
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, yaraPath, "-w", "-d", "s="+string(in), rf, empty)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() == nil && !strings.Contains(stderr.String(), "error: 46") && !strings.Contains(stderr.String(), "error:") {
			t.Fatalf("yara: %v: %s", err, stderr.Bytes())
		}
		if len(idx) == 1 {
			failed[idx[0]] = true
			return matched, failed
		}
		for _, half := range [][]int{idx[:len(idx)/2], idx[len(idx)/2:]} {
			m, f := yaraMatches(t, srcs, half, in)
			for k := range m {
				matched[k] = true
			}
			for k := range f {
				failed[k] = true
			}
		}
		return matched, failed
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		name, _, _ := strings.Cut(sc.Text(), " ")
		i, _ := strconv.Atoi(strings.TrimPrefix(name, "r"))
		matched[i] = true
	}
	return matched, failed
}
