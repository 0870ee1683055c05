package watch

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/scan"
	"vigil/yara"
)

// markScanner matches rule "Marked" when the data holds "MARK".
type markScanner struct{}

func (markScanner) ScanBytes(_ context.Context, data []byte) (*yara.Result, error) {
	res := &yara.Result{}
	if bytes.Contains(data, []byte("MARK")) {
		res.Matching = []yara.MatchRule{{RuleInfo: yara.RuleInfo{Name: "Marked"}}}
	}
	return res, nil
}

// recorder collects events and lets a test wait for one.
type recorder struct {
	mu     sync.Mutex
	events []scan.Event
	signal chan struct{}
}

func (r *recorder) emit(e scan.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

// wait waits (generously: this is a functional test, not a benchmark)
// for an event satisfying ok.
func (r *recorder) wait(t *testing.T, what string, ok func(scan.Event) bool) scan.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		for _, e := range r.events {
			if ok(e) {
				r.mu.Unlock()
				return e
			}
		}
		r.mu.Unlock()
		select {
		case <-r.signal:
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("no event for %s; got %v", what, r.events)
		}
	}
}

func matched(path string) func(scan.Event) bool {
	return func(e scan.Event) bool {
		return e.Kind == scan.Scanned && e.Path == path && e.Result != nil && len(e.Result.Matching) == 1
	}
}

func start(t *testing.T, o Options, roots ...string) *recorder {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rec := &recorder{signal: make(chan struct{}, 1)}
	ready := make(chan int, 1)
	o.Ready = func(n int) { ready <- n }
	done := make(chan error, 1)
	go func() { done <- Run(ctx, o, roots, markScanner{}, rec.emit) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Run ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("watch not ready")
	}
	return rec
}

func write(t *testing.T, p, data string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWatch(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "old", "deep"), 0o755)
	write(t, filepath.Join(dir, "existing"), "MARK") // not scanned: there before the watch
	var x scan.Excludes
	x.Add("*.skip")
	rec := start(t, Options{Options: scan.Options{Exclude: &x}}, dir)

	// A file created in a watched directory, and one in a directory that
	// existed before.
	f1 := filepath.Join(dir, "new.exe")
	write(t, f1, "xx MARK xx")
	rec.wait(t, f1, matched(f1))
	f2 := filepath.Join(dir, "old", "deep", "f")
	write(t, f2, "MARK")
	rec.wait(t, f2, matched(f2))

	// A new subdirectory tree is watched, files made in it before its
	// watch was in place included.
	sub := filepath.Join(dir, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	f3 := filepath.Join(sub, "f3")
	write(t, f3, "MARK")
	rec.wait(t, f3, matched(f3))
	f4 := filepath.Join(sub, "f4")
	write(t, f4, "no match")
	rec.wait(t, f4, func(e scan.Event) bool { return e.Path == f4 && e.Kind == scan.Scanned })

	// Removing a watched directory breaks nothing; recreating it works.
	if err := os.RemoveAll(filepath.Join(dir, "a")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "old")); err != nil {
		t.Fatal(err)
	}
	f5 := filepath.Join(dir, "after-remove")
	write(t, f5, "MARK")
	rec.wait(t, f5, matched(f5))
	os.MkdirAll(sub, 0o755)
	f6 := filepath.Join(sub, "again")
	write(t, f6, "MARK")
	rec.wait(t, f6, matched(f6))

	// Excluded files are not scanned; a symbolic link is reported, not
	// followed.
	write(t, filepath.Join(dir, "x.skip"), "MARK")
	link := filepath.Join(dir, "link")
	os.Symlink(f5, link)
	rec.wait(t, link, func(e scan.Event) bool {
		return e.Path == link && e.Kind == scan.Skipped && e.Reason == scan.ReasonSymlink
	})
	f7 := filepath.Join(dir, "last")
	write(t, f7, "MARK")
	rec.wait(t, f7, matched(f7))

	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, e := range rec.events {
		if strings.HasSuffix(e.Path, ".skip") || strings.HasSuffix(e.Path, "existing") {
			t.Errorf("unexpected event %+v", e)
		}
		if e.Kind == scan.Failed {
			t.Errorf("failure: %+v", e)
		}
	}
}

// TestDebounce: a file written in several steps within the debounce
// interval is scanned once, complete.
func TestDebounce(t *testing.T) {
	dir := t.TempDir()
	rec := start(t, Options{Debounce: 2 * time.Second}, dir)
	p := filepath.Join(dir, "slow")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("MA")
	f.Sync()
	f.WriteString("RK")
	f.Close()
	rec.wait(t, p, matched(p))
	end := filepath.Join(dir, "end")
	write(t, end, "x")
	rec.wait(t, end, func(e scan.Event) bool { return e.Path == end })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	n := 0
	for _, e := range rec.events {
		if e.Path == p {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%s scanned %d times, want 1: %v", p, n, rec.events)
	}
}

// TestFollowSymlinks: with FollowSymlinks a link to a file is scanned
// under its own name, and a link to a directory is ignored.
func TestFollowSymlinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "target")
	write(t, target, "MARK")
	rec := start(t, Options{Options: scan.Options{FollowSymlinks: true}}, dir)
	os.Symlink(filepath.Dir(target), filepath.Join(dir, "dirlink"))
	link := filepath.Join(dir, "link")
	os.Symlink(target, link)
	rec.wait(t, link, matched(link))
	last := filepath.Join(dir, "last")
	write(t, last, "x")
	rec.wait(t, last, func(e scan.Event) bool { return e.Path == last })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, e := range rec.events {
		if strings.Contains(e.Path, "dirlink") {
			t.Errorf("event for a link to a directory: %+v", e)
		}
	}
}

func TestRunErrors(t *testing.T) {
	ctx := context.Background()
	if err := Run(ctx, Options{}, nil, markScanner{}, func(scan.Event) {}); err != ErrNoRoots {
		t.Errorf("no roots: %v", err)
	}
	if err := Run(ctx, Options{}, []string{filepath.Join(t.TempDir(), "missing")}, markScanner{}, func(scan.Event) {}); err == nil {
		t.Error("missing root: no error")
	}
}
