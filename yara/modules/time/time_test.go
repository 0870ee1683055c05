package time

import (
	"fmt"
	"testing"
	stdtime "time"

	"vigil/yara/modules/internal/modtest"
)

func TestNow(t *testing.T) {
	tests := []struct {
		clock stdtime.Time
		want  int64
	}{
		{stdtime.Unix(0, 0), 0},
		{stdtime.Unix(1700000000, 999999999), 1700000000}, // truncated, not rounded
		{stdtime.Date(2026, 11, 25, 20, 0, 0, 0, stdtime.UTC), 1795636800},
		{stdtime.Unix(-5, 0), -5},
	}
	for _, tt := range tests {
		mod := moduleWithClock(func() stdtime.Time { return tt.clock })
		_, c := modtest.Load(t, mod, nil)
		if got := modtest.Call(t, mod, c, "now"); got != tt.want {
			t.Errorf("now() at %v = %v, want %d", tt.clock, got, tt.want)
		}
	}
}

// TestDifferential checks that yara's time.now() lies between two readings
// of our clock taken around the yara run.
func TestDifferential(t *testing.T) {
	modtest.Yara(t)
	mod := Module()
	_, c := modtest.Load(t, mod, nil)
	before := modtest.Call(t, mod, c, "now").(int64)
	rules := fmt.Sprintf("import \"time\"\nrule t { condition: time.now() >= %d and time.now() <= %d }\n", before, before+3600)
	matched, _ := modtest.RunYara(t, rules, nil)
	after := modtest.Call(t, mod, c, "now").(int64)
	if !matched["t"] && after-before < 3600 {
		t.Errorf("yara's time.now() is not within an hour after %d", before)
	}
}
