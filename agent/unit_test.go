package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"vigil/agent/policy"
	"vigil/wire"
)

func TestShrink(t *testing.T) {
	fm := wire.FileMatch{Path: "/x", Size: 1}
	for i := range 5000 {
		rh := wire.RuleHit{Rule: strings.Repeat("r", 60) + string(rune('a'+i%26)), Namespace: "default"}
		for j := range 4 {
			rh.Strings = append(rh.Strings, wire.StringHit{ID: "$s" + string(rune('0'+j)), Offsets: make([]int64, wire.MaxOffsetsPerHit), Count: 100})
		}
		fm.Rules = append(fm.Rules, rh)
	}
	if encodedSize(fm) <= maxMatchBytes {
		t.Fatal("test match is not over the limit")
	}
	note, ok := shrink(&fm)
	if !ok || encodedSize(fm) > maxMatchBytes || len(fm.Rules) == 0 || !strings.Contains(note, "not reported") {
		t.Errorf("shrink: ok %v, %d bytes, %d rules, note %q", ok, encodedSize(fm), len(fm.Rules), note)
	}
	if dropped := 5000 - len(fm.Rules); !strings.HasPrefix(note, fmt.Sprintf("%d more matching rules", dropped)) {
		t.Errorf("%d rules dropped, note %q", dropped, note)
	}

	huge := wire.FileMatch{Path: strings.Repeat("p", maxMatchBytes), Rules: []wire.RuleHit{{Rule: "r"}}}
	if _, ok := shrink(&huge); ok {
		t.Error("a match whose path alone is over the limit was kept")
	}
}

func TestParseAck(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{`{"stream":"S","seq":3}`, true},
		{`{"stream":"S","seq":3,"duplicate":true}`, true},
		{`{"stream":"S","seq":3,"domain":"d"}`, true},
		{`{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}`, false},
		{`{}`, false},
		{`garbage`, false},
		{``, false},
	} {
		_, err := parseAck([]byte(c.in))
		if (err == nil) != c.ok {
			t.Errorf("parseAck(%q): %v", c.in, err)
		}
	}
}

func TestServerMessage(t *testing.T) {
	tok := "s3cr3t-token"
	for _, c := range []struct {
		code int
		body string
		want string
	}{
		{401, `{"error":"unknown or expired token"}`, "unknown or expired token"},
		{403, `not json`, "Forbidden"},
		{400, `{"error":"token ` + tok + ` is bad\nreally"}`, "token [token] is bad really"},
	} {
		if got := serverMessage(c.code, []byte(c.body), tok); got != c.want {
			t.Errorf("serverMessage(%d, %q) = %q, want %q", c.code, c.body, got, c.want)
		}
	}
	if got := serverMessage(400, []byte(`{"error":"`+strings.Repeat("é", 1000)+`"}`), tok); len(got) > maxServerMsg+len("…") || !strings.HasSuffix(got, "…") {
		t.Errorf("long message not cut: %d bytes", len(got))
	}
}

func TestFIFOSlot(t *testing.T) {
	var f fifoSlot
	ctx := context.Background()
	if err := f.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	order := make(chan int, 3)
	cctx, cancel := context.WithCancelCause(ctx)
	gaveUp := make(chan error, 1)
	go func() { gaveUp <- f.acquire(cctx) }()
	for i := range 3 {
		go func() {
			if f.acquire(ctx) == nil {
				order <- i
				f.release()
			}
		}()
		// Let each waiter queue up before the next.
		deadline := time.Now().Add(waitLimit)
		for {
			f.mu.Lock()
			n := len(f.waiters)
			f.mu.Unlock()
			if n == i+2 || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	stop := errors.New("stop")
	cancel(stop)
	if err := <-gaveUp; !errors.Is(err, stop) {
		t.Errorf("canceled waiter: %v", err)
	}
	f.release()
	for want := range 3 {
		if got := <-order; got != want {
			t.Errorf("waiter %d got the slot in place %d", got, want)
		}
	}
}

// TestThrottle: with cpu-share s% and w workers, a worker rests
// busy*(100*w/s - 1) in total, owed until it reaches minRest.
func TestThrottle(t *testing.T) {
	pol := policy.Default()
	pol.CPUShare = 25
	thr := newThrottle(pol, 1)
	if thr.factor != 3 {
		t.Fatalf("factor %v, want 3", thr.factor)
	}
	if two := newThrottle(pol, 2); two.factor != 7 {
		t.Errorf("two workers: factor %v, want 7", two.factor)
	}
	pol.CPUShare = 100
	if full := newThrottle(pol, 1); full.factor != 0 {
		t.Errorf("100%%: factor %v, want 0", full.factor)
	}
	// Small scans are owed, then paid in one rest.
	thr.rest(context.Background(), time.Millisecond)
	if thr.debt != 3*time.Millisecond {
		t.Errorf("debt %v, want 3ms", thr.debt)
	}
	start := time.Now()
	thr.rest(context.Background(), time.Millisecond)
	if thr.debt != 0 || time.Since(start) < 6*time.Millisecond {
		t.Errorf("after 6ms owed: debt %v, rested %v", thr.debt, time.Since(start))
	}
	// A cancelled context ends the rest at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start = time.Now()
	thr.rest(ctx, time.Hour)
	if time.Since(start) > time.Minute {
		t.Error("rest ignored the cancelled context")
	}
}
