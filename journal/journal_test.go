package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func rec(i int) Record {
	return Record{
		Time:        time.Date(2026, 11, 25, 10, i, 0, 0, time.UTC),
		HuntID:      fmt.Sprintf("h%d", i),
		LogIndex:    int64(10 + i),
		TreeSize:    int64(20 + i),
		Action:      []string{ActionRan, ActionRefused, ActionFailed}[i%3],
		Reason:      "because",
		RulesSHA256: strings.Repeat("ab", 32),
		Requester:   "alice",
		Approvers:   []string{"bob", "carol"},
		Paths:       []string{"/usr/bin"},
		Matches:     int64(i),
	}
}

// build writes a journal of n records and returns its path.
func build(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "journal")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for i := 1; i <= n; i++ {
		if err := j.Append(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(string(b), "\n")
}

func write(t *testing.T, path string, ls []string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(ls, "")), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestAppendAndReopen(t *testing.T) {
	path := build(t, 3)
	if err := Verify(path); err != nil {
		t.Fatal(err)
	}
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := j.Head(); n != 3 {
		t.Fatalf("head %d", n)
	}
	for i := 4; i <= 5; i++ {
		if err := j.Append(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := j.Records()
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	if len(recs) != 5 {
		t.Fatalf("%d records", len(recs))
	}
	for i, r := range recs {
		want := rec(i + 1)
		want.Seq, want.Prev = r.Seq, r.Prev
		if r.Seq != int64(i+1) || !reflect.DeepEqual(r, want) {
			t.Fatalf("record %d = %+v, want %+v", i+1, r, want)
		}
	}
	if recs[0].Prev != Genesis || recs[3].Prev != hashLine([]byte(strings.TrimSuffix(lines(t, path)[2], "\n"))) {
		t.Fatal("the chain does not continue across reopen")
	}
	if err := Verify(path); err != nil {
		t.Fatal(err)
	}
	if err := (&Journal{}).Append(Record{Action: "deleted"}); err == nil {
		t.Fatal("unknown action accepted")
	}
}

func TestTamperingDetected(t *testing.T) {
	for _, c := range []struct {
		name   string
		mutate func(ls []string) []string
		line   int64
	}{
		{"edited middle line", func(ls []string) []string {
			ls[2] = strings.Replace(ls[2], `"matches":3`, `"matches":0`, 1)
			return ls
		}, 4},
		{"edited first line", func(ls []string) []string {
			ls[0] = strings.Replace(ls[0], `"h1"`, `"h9"`, 1)
			return ls
		}, 2},
		{"edited last line", func(ls []string) []string {
			ls[4] = strings.Replace(ls[4], `"matches":5`, `"matches":0`, 1)
			return ls
		}, 5},
		{"deleted middle line", func(ls []string) []string { return append(ls[:2:2], ls[3:]...) }, 3},
		{"deleted first line", func(ls []string) []string { return ls[1:] }, 1},
		{"deleted last line", func(ls []string) []string { return append(ls[:4:4], "") }, 5},
		{"reordered lines", func(ls []string) []string {
			ls[1], ls[2] = ls[2], ls[1]
			return ls
		}, 2},
		{"truncated last line", func(ls []string) []string {
			ls[4] = ls[4][:len(ls[4])/2]
			return ls
		}, 5},
		{"last newline cut", func(ls []string) []string {
			ls[4] = strings.TrimSuffix(ls[4], "\n")
			return ls
		}, 5},
		{"garbage line inserted", func(ls []string) []string {
			return append(ls[:2:2], append([]string{"{not json\n"}, ls[2:]...)...)
		}, 3},
		{"seq renumbered after deletion", func(ls []string) []string {
			ls = append(ls[:2:2], ls[3:]...)
			ls[2] = strings.Replace(ls[2], `"seq":4`, `"seq":3`, 1)
			return ls
		}, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := build(t, 5)
			ls := lines(t, path)
			if len(ls) != 6 || ls[5] != "" {
				t.Fatalf("unexpected layout: %q", ls)
			}
			orig := strings.Join(ls, "")
			ls = c.mutate(ls)
			if strings.Join(ls, "") == orig {
				t.Fatal("mutation did not change the file")
			}
			write(t, path, ls)
			for what, err := range map[string]error{"Verify": Verify(path), "Open": openErr(path)} {
				var ce *ChainError
				if !errors.As(err, &ce) {
					t.Fatalf("%s = %v, want a ChainError", what, err)
				}
				if ce.Line != c.line {
					t.Fatalf("%s: error at line %d, want %d: %v", what, ce.Line, c.line, err)
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("line %d", c.line)) {
					t.Fatalf("%s: message does not name the line: %v", what, err)
				}
			}
		})
	}
}

func openErr(path string) error {
	j, err := Open(path)
	if err == nil {
		j.Close()
	}
	return err
}

func TestHeadFile(t *testing.T) {
	path := build(t, 2)
	if err := os.Remove(headPath(path)); err != nil {
		t.Fatal(err)
	}
	if err := Verify(path); err == nil {
		t.Fatal("journal without its head verified")
	}

	// An append interrupted between the line and the head: accepted, and
	// the head catches up on open.
	path = build(t, 2)
	head, _ := os.ReadFile(headPath(path))
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(rec(3)); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if err := os.WriteFile(headPath(path), head, 0o600); err != nil {
		t.Fatal(err)
	}
	j, err = Open(path)
	if err != nil {
		t.Fatalf("journal one line ahead of its head: %v", err)
	}
	j.Close()
	if h2, _ := os.ReadFile(headPath(path)); string(h2) == string(head) {
		t.Fatal("head did not catch up")
	}
	// But two lines ahead is not a crash.
	path = build(t, 1)
	head, _ = os.ReadFile(headPath(path))
	j, _ = Open(path)
	j.Append(rec(2))
	j.Append(rec(3))
	j.Close()
	os.WriteFile(headPath(path), head, 0o600)
	if err := Verify(path); err == nil {
		t.Fatal("journal two lines ahead of its head verified")
	}
}

func TestChangedAfterOpen(t *testing.T) {
	path := build(t, 3)
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	ls := lines(t, path)
	write(t, path, ls[:2])
	if _, err := j.Records(); err == nil {
		t.Fatal("Records did not notice the journal shrank")
	}
}

func TestConcurrentAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				if err := j.Append(rec(w*10 + i)); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	j.Close()
	if err := Verify(path); err != nil {
		t.Fatal(err)
	}
	j, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	recs, err := j.Records()
	if err != nil || len(recs) != 40 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
}

func TestGarbageInput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	long := strings.Repeat("x", MaxLine+10) + "\n"
	for _, content := range []string{long, "\x00\x01\n", "[]\n", `{"seq":1,"prev":"` + Genesis + `","action":"ran","extra":1}` + "\n"} {
		os.WriteFile(path, []byte(content), 0o600)
		os.WriteFile(headPath(path), []byte(fmt.Sprintf("%s\n1\n%s\n", headMagic, Genesis)), 0o600)
		var ce *ChainError
		if err := Verify(path); !errors.As(err, &ce) || ce.Line != 1 {
			t.Errorf("%.20q: %v", content, err)
		}
	}
}
