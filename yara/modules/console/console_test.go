package console

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"vigil/yara/module"
	"vigil/yara/modules/internal/modtest"
)

// The expected messages are what yara 4.2.3 printed for the same calls.
var logTests = []struct {
	fn   string
	args []any
	want string
}{
	{"log", []any{"hello"}, "hello"},
	{"log", []any{""}, ""},
	{"log", []any{"a\x00b\xff\n\tz"}, `a\x00b\xff\x0a\x09z`},
	{"log", []any{"~ \x7f\x1f\x80"}, `~ \x7f\x1f\x80`},
	{"log", []any{`q"\`}, `q"\`},
	{"log", []any{"pre\x00fix:", "v\x01"}, `prev\x01`}, // prefix cut at NUL, not escaped
	{"log", []any{"p\xff:", "v"}, "p\xff:v"},
	{"log", []any{int64(-5)}, "-5"},
	{"log", []any{"i:", int64(math.MaxInt64)}, "i:9223372036854775807"},
	{"log", []any{"i:", int64(math.MinInt64)}, "i:-9223372036854775808"},
	{"log", []any{0.0078125}, "0.007812"}, // ties round to even, as glibc
	{"log", []any{"f:", -0.5}, "f:-0.500000"},
	{"log", []any{123456789.123456789}, "123456789.123457"},
	{"log", []any{1e29}, "99999999999999991433150857216.000000"},
	{"log", []any{math.Inf(1)}, "inf"},
	{"log", []any{math.Inf(-1)}, "-inf"},
	{"log", []any{math.Copysign(0, -1)}, "-0.000000"},
	{"log", []any{-math.NaN()}, "-nan"},
	{"hex", []any{int64(-1)}, "0xffffffffffffffff"},
	{"hex", []any{int64(0)}, "0x0"},
	{"hex", []any{"h:", int64(255)}, "h:0xff"},
	{"hex", []any{"h\x00x:", int64(0xABC)}, "h0xabc"},
}

func TestLog(t *testing.T) {
	mod := Module()
	_, c := modtest.Load(t, mod, nil)
	var got []string
	c.Log = func(msg string) { got = append(got, msg) }
	for _, tt := range logTests {
		got = got[:0]
		v := modtest.Call(t, mod, c, tt.fn, tt.args...)
		if v != int64(1) {
			t.Errorf("%s%q returned %v, want 1", tt.fn, tt.args, v)
		}
		if len(got) != 1 || got[0] != tt.want {
			t.Errorf("%s%q logged %q, want %q", tt.fn, tt.args, got, tt.want)
		}
	}
}

func TestNilLog(t *testing.T) {
	mod := Module()
	if v := modtest.Call(t, mod, &module.Context{}, "log", "x"); v != int64(1) {
		t.Errorf("log without a Log func = %v, want 1", v)
	}
}

func TestBadArgs(t *testing.T) {
	mod := Module()
	logged := 0
	c := &module.Context{Log: func(string) { logged++ }}
	for _, f := range mod.Type.Fields {
		for _, o := range f.Type.Overloads {
			for _, args := range [][]module.Value{nil, {[]byte("x"), []byte("y")}} {
				if got := o.Impl(c, args); got != nil {
					t.Errorf("%s(%s) with %v = %v, want undefined", f.Name, o.Args, args, got)
				}
			}
		}
	}
	if logged != 0 {
		t.Errorf("bad calls logged %d messages", logged)
	}
}

// TestDifferential runs the same calls through yara and compares the lines
// it prints with the module's messages. NaN is left out: yara never passes
// an undefined (NaN) float to a function.
func TestDifferential(t *testing.T) {
	modtest.Yara(t)
	mod := Module()
	_, c := modtest.Load(t, mod, nil)
	var want []string
	c.Log = func(msg string) { want = append(want, msg) }
	var rules strings.Builder
	rules.WriteString("import \"console\"\n")
	n := 0
	add := func(fn string, args ...any) {
		lits := make([]string, len(args))
		for i, a := range args {
			lits[i] = modtest.Literal(a)
		}
		fmt.Fprintf(&rules, "rule r%d { condition: console.%s(%s) }\n", n, fn, strings.Join(lits, ", "))
		n++
		modtest.Call(t, mod, c, fn, args...)
	}
	for _, tt := range logTests {
		if f, ok := tt.args[len(tt.args)-1].(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0) || f == 0) {
			continue // no literal for these in yara
		}
		add(tt.fn, tt.args...)
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	add("log", string(all))
	add("log", string(all[1:]), string(all))
	for _, f := range []float64{0.5, 1e-7, 5e-7, 0.0000015, 2.5e-6, 1.0 / 3, 1e15 + 0.3, 98.7654325} {
		add("log", f)
	}
	for _, i := range []int64{1, 7, 1 << 33, math.MinInt64} {
		add("hex", i)
		add("log", "x", i)
	}
	matched, got := modtest.RunYara(t, rules.String(), nil)
	if len(matched) != n || len(want) != n {
		t.Errorf("yara matched %d rules, module logged %d messages, want %d of each", len(matched), len(want), n)
	}
	// yara prints each message on a line; a raw prefix may hold newlines.
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("yara printed:\n%s\nmodule logged:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
