package math

import (
	"fmt"
	stdmath "math"
	"math/rand"
	"strings"
	"testing"

	"vigil/yara/module"
	"vigil/yara/modules/internal/modtest"
	"vigil/yara/modules/internal/yrval"
)

// allBytes holds each byte value once, in order.
var allBytes = func() string {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return string(b)
}()

func TestLoad(t *testing.T) {
	st, _ := modtest.Load(t, Module(), []byte("x"))
	if got := st.Fields["MEAN_BYTES"]; got != 127.5 {
		t.Errorf("MEAN_BYTES = %v, want 127.5", got)
	}
}

// Expected values below are worked out by hand from yara's definitions
// (see the comments); the differential test confirms them with yara.
func TestStringForms(t *testing.T) {
	tests := []struct {
		fn   string
		args []any
		want module.Value
	}{
		{"entropy", []any{""}, 0.0},
		{"entropy", []any{"aaaa"}, 0.0},
		{"entropy", []any{"ab"}, 1.0},
		{"entropy", []any{"abcd"}, 2.0},
		{"entropy", []any{"aabbccdd\x80\x80\xff\xff\x01\x01\x02\x02"}, 3.0}, // 8 values, 1/8 each
		{"entropy", []any{allBytes}, 8.0},
		{"mean", []any{"abc"}, 98.0},
		{"mean", []any{"\xff"}, -1.0},          // signed char
		{"mean", []any{"\x80\x7f"}, -0.5},      // (-128 + 127) / 2
		{"mean", []any{""}, nil},               // 0/0
		{"deviation", []any{"ab", 98.0}, 0.5},  // (1 + 0) / 2
		{"deviation", []any{"\xff", 1.0}, 2.0}, // |-1 - 1|
		{"deviation", []any{"", 1.0}, nil},     // 0/0
		{"serial_correlation", []any{""}, -100000.0},
		{"serial_correlation", []any{"aaaa"}, -100000.0}, // zero variance
		{"serial_correlation", []any{"ab"}, 195.0},       // (2*19110 - 195^2) / (2*19013 - 195^2)
		{"monte_carlo_pi", []any{"abcde"}, nil},          // fewer than 6 bytes
		{"monte_carlo_pi", []any{"\x00\x00\x00\x00\x00\x00"}, stdmath.Abs(4-stdmath.Pi) / stdmath.Pi},
		// (2^24-1, 0) is on the circle, so inside if bytes were unsigned;
		// as signed chars converted to unsigned int, x is huge: outside.
		{"monte_carlo_pi", []any{"\xff\xff\xff\x00\x00\x00"}, 1.0},
		{"monte_carlo_pi", []any{"\x7f\xff\xff\x00\x00\x00"}, 1.0},
		{"in_range", []any{1.0, 1.0, 2.0}, int64(1)},
		{"in_range", []any{2.0, 1.0, 2.0}, int64(1)},
		{"in_range", []any{2.5, 1.0, 2.0}, int64(0)},
		{"in_range", []any{1.5, 2.0, 1.0}, int64(0)},
		{"min", []any{int64(1), int64(2)}, int64(1)},
		{"min", []any{int64(-1), int64(1)}, int64(1)},  // unsigned comparison
		{"max", []any{int64(-1), int64(1)}, int64(-1)}, // unsigned comparison
		{"max", []any{int64(3), int64(2)}, int64(3)},
		{"min", []any{yrval.Undefined, int64(-1)}, nil}, // yara's undefined marker
		{"abs", []any{int64(-5)}, int64(5)},
		{"abs", []any{int64(7)}, int64(7)},
		{"abs", []any{int64(stdmath.MinInt64)}, int64(stdmath.MinInt64)},
		{"to_number", []any{true}, int64(1)},
		{"to_number", []any{false}, int64(0)},
	}
	mod := Module()
	_, c := modtest.Load(t, mod, nil)
	for _, tt := range tests {
		if got := modtest.Call(t, mod, c, tt.fn, tt.args...); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.fn, tt.args, got, tt.want)
		}
	}
}

func TestRangeForms(t *testing.T) {
	aab := []byte("AAB")
	ramp := []byte(allBytes)
	tests := []struct {
		data []byte
		fn   string
		args []any
		want module.Value
	}{
		{aab, "entropy", []any{int64(0), int64(2)}, 0.0},
		{aab, "entropy", []any{int64(1), int64(2)}, 1.0},
		{aab, "entropy", []any{int64(1), int64(1 << 40)}, 1.0}, // clamped
		{aab, "entropy", []any{int64(0), int64(0)}, 0.0},       // no bytes: 0, defined
		{aab, "entropy", []any{int64(3), int64(0)}, nil},       // offset at the end
		{aab, "entropy", []any{int64(-1), int64(2)}, nil},
		{aab, "entropy", []any{int64(0), int64(-2)}, nil},
		{ramp, "entropy", []any{int64(0), int64(256)}, 8.0},
		{ramp, "entropy", []any{int64(16), int64(16)}, 4.0},
		{ramp, "mean", []any{int64(0), int64(256)}, 127.5},
		{ramp, "mean", []any{int64(255), int64(1)}, 255.0}, // unsigned, unlike the string form
		{ramp, "mean", []any{int64(10), int64(0)}, nil},    // 0/0
		{ramp, "deviation", []any{int64(0), int64(256), 127.5}, 64.0},
		{ramp, "deviation", []any{int64(255), int64(9), 0.0}, 255.0},
		{ramp, "deviation", []any{int64(256), int64(9), 0.0}, nil},
		{aab, "serial_correlation", []any{int64(0), int64(2)}, -100000.0},
		{ramp, "serial_correlation", []any{int64(97), int64(2)}, 195.0}, // "ab"
		{ramp, "serial_correlation", []any{int64(0), int64(0)}, -100000.0},
		{ramp, "serial_correlation", []any{int64(300), int64(0)}, nil},
		{ramp, "monte_carlo_pi", []any{int64(0), int64(5)}, nil},
		{ramp, "monte_carlo_pi", []any{int64(250), int64(6)}, 1.0}, // x, y near 2^24: outside, estimate 0
		{aab, "count", []any{int64(65), int64(0), int64(3)}, int64(2)},
		{aab, "count", []any{int64(65 + 256), int64(0), int64(3)}, int64(2)}, // byte truncated
		{aab, "count", []any{int64(65), int64(1), int64(5)}, int64(1)},
		{aab, "count", []any{int64(65), int64(3), int64(1)}, nil},
		{aab, "count", []any{int64(65)}, int64(2)},
		{aab, "count", []any{int64(67)}, int64(0)},
		{nil, "count", []any{int64(65)}, nil}, // global forms: undefined on empty data
		{aab, "percentage", []any{int64(65)}, float64(float32(2) / float32(3))},
		{aab, "percentage", []any{int64(66), int64(1), int64(2)}, 0.5},
		{aab, "percentage", []any{int64(66), int64(1), int64(0)}, nil}, // 0/0
		{aab, "percentage", []any{int64(66), int64(-1), int64(1)}, nil},
		{nil, "percentage", []any{int64(65)}, nil},
		{aab, "mode", []any{}, int64(65)},
		{[]byte("ABB"), "mode", []any{}, int64(66)},
		{[]byte("BA"), "mode", []any{}, int64(65)}, // tie: smallest byte
		{aab, "mode", []any{int64(1), int64(2)}, int64(65)},
		{aab, "mode", []any{int64(2), int64(2)}, int64(66)},
		{aab, "mode", []any{int64(0), int64(0)}, int64(0)},
		{aab, "mode", []any{int64(4), int64(0)}, nil},
		{nil, "mode", []any{}, nil},
	}
	mod := Module()
	for _, tt := range tests {
		_, c := modtest.Load(t, mod, tt.data)
		if got := modtest.Call(t, mod, c, tt.fn, tt.args...); got != tt.want {
			t.Errorf("%s%v on %q = %v, want %v", tt.fn, tt.args, tt.data, got, tt.want)
		}
	}
}

// TestLog2 checks log2 on exact powers of two and against ratios whose
// correctly rounded logarithms are known.
func TestLog2(t *testing.T) {
	for e := -1074; e <= 1023; e++ {
		if got := log2(stdmath.Ldexp(1, e)); got != float64(e) {
			t.Fatalf("log2(2^%d) = %v", e, got)
		}
	}
	tests := []struct{ x, want float64 }{
		// Correctly rounded values (computed with 50-digit decimal
		// arithmetic); glibc agrees, Go's math.Log2 is one ulp off on some.
		{28.0 / 31, -0.14684138832927116},
		{43.0 / 50, -0.21759143507262677},
		{59.0 / 61, -0.048094288201045075},
		{3, 1.584962500721156},
		{0.1, -3.321928094887362},
		{0, stdmath.Inf(-1)},
		{stdmath.Inf(1), stdmath.Inf(1)},
	}
	for _, tt := range tests {
		if got := log2(tt.x); got != tt.want {
			t.Errorf("log2(%v) = %v, want %v", tt.x, got, tt.want)
		}
	}
	for _, x := range []float64{-1, stdmath.NaN()} {
		if got := log2(x); !stdmath.IsNaN(got) {
			t.Errorf("log2(%v) = %v, want NaN", x, got)
		}
	}
}

// TestBadArgs checks that arguments of the wrong type, which the compiler
// never produces, give undefined instead of a panic.
func TestBadArgs(t *testing.T) {
	mod := Module()
	c := &module.Context{Data: []byte("x")}
	for _, f := range mod.Type.Fields {
		for _, o := range f.Type.Overloads {
			if o.Args == "" {
				continue
			}
			if got := o.Impl(c, []module.Value{[]byte("x"), []byte("x"), []byte("x")}); got != nil {
				t.Errorf("%s(%s) with bad args = %v, want undefined", f.Name, o.Args, got)
			}
			if got := o.Impl(c, nil); got != nil {
				t.Errorf("%s(%s) with no args = %v, want undefined", f.Name, o.Args, got)
			}
		}
	}
}

// diffStrings are the strings the differential test passes to string forms.
var diffStrings = []string{
	"", "a", "ab", "abcdef", "hello world", "\x00\x00\x00\x00\x00\x00",
	"\xff\xff\xff\x00\x00\x00", "\x80\x81\xfe\xff\x7f\x00\x10\x20\x30\x40\x50\x60",
	strings.Repeat("yara", 20), allBytes[200:] + allBytes[:60],
}

// TestDifferential checks every function against the reference yara on a
// few files: ranges inside, across and outside each file, global forms, and
// string forms. Floats are compared exactly.
func TestDifferential(t *testing.T) {
	modtest.Yara(t)
	r := rand.New(rand.NewSource(1))
	random := make([]byte, 5000)
	r.Read(random)
	skewed := make([]byte, 3000)
	for i := range skewed {
		skewed[i] = byte(r.ExpFloat64() * 12)
	}
	files := [][]byte{nil, []byte("A"), []byte("hello world"), []byte(allBytes), random, skewed}
	mod := Module()
	for _, data := range files {
		_, c := modtest.Load(t, mod, data)
		n := int64(len(data))
		ranges := [][2]int64{{0, n}, {0, 0}, {0, 1}, {0, 7}, {1, n}, {n / 3, n / 2}, {n - 1, 1}, {n - 1, 9}, {n, 0}, {n, 1}, {-1, 1}, {0, -1}, {0, 1 << 62}}
		for i := 0; i < 40 && n > 0; i++ {
			off := r.Int63n(n)
			ranges = append(ranges, [2]int64{off, r.Int63n(n - off + 1)})
		}
		var cases []modtest.Case
		add := func(fn string, args ...any) {
			lits := make([]string, len(args))
			for i, a := range args {
				lits[i] = modtest.Literal(a)
			}
			cases = append(cases, modtest.Case{
				Expr: fmt.Sprintf("math.%s(%s)", fn, strings.Join(lits, ", ")),
				Want: modtest.Call(t, mod, c, fn, args...),
			})
		}
		for _, rg := range ranges {
			for _, fn := range []string{"entropy", "mean", "serial_correlation", "monte_carlo_pi", "mode"} {
				add(fn, rg[0], rg[1])
			}
			add("deviation", rg[0], rg[1], 127.5)
			add("deviation", rg[0], rg[1], 3.25)
			add("count", int64(0), rg[0], rg[1])
			add("count", int64(108), rg[0], rg[1])
			add("percentage", int64(0), rg[0], rg[1])
			add("percentage", int64(108), rg[0], rg[1])
		}
		for _, b := range []int64{0, 1, 65, 108, 255, 256 + 108, -148} {
			add("count", b)
			add("percentage", b)
		}
		add("mode")
		cases = append(cases, modtest.Case{Expr: "math.MEAN_BYTES", Want: 127.5})
		modtest.Differential(t, []string{"math"}, data, cases)
	}

	// Functions that do not read the data, on an empty file.
	_, c := modtest.Load(t, mod, nil)
	var cases []modtest.Case
	call := func(fn string, args ...any) {
		lits := make([]string, len(args))
		for i, a := range args {
			lits[i] = modtest.Literal(a)
		}
		cases = append(cases, modtest.Case{
			Expr: fmt.Sprintf("math.%s(%s)", fn, strings.Join(lits, ", ")),
			Want: modtest.Call(t, mod, c, fn, args...),
		})
	}
	for _, s := range diffStrings {
		for _, fn := range []string{"entropy", "mean", "serial_correlation", "monte_carlo_pi"} {
			call(fn, s)
		}
		call("deviation", s, 127.5)
		call("deviation", s, -3.5)
	}
	// Not yrval.Undefined: yara takes an argument with that value for an
	// undefined one and never calls the function.
	ints := []int64{0, 1, -1, 2, 1 << 40, stdmath.MaxInt64, stdmath.MinInt64}
	for _, a := range ints {
		call("abs", a)
		for _, b := range ints {
			call("min", a, b)
			call("max", a, b)
		}
	}
	for _, v := range []float64{-1, 0, 0.5, 1, 2, 2.5} {
		call("in_range", v, 0.0, 2.0)
		call("in_range", v, 2.0, 0.0)
	}
	call("to_number", true)
	call("to_number", false)
	modtest.Differential(t, []string{"math"}, nil, cases)
}

// TestEntropyDifferential compares entropy with yara over many random
// ranges of files with varied byte distributions, where a logarithm one ulp
// off would show.
func TestEntropyDifferential(t *testing.T) {
	modtest.Yara(t)
	r := rand.New(rand.NewSource(2))
	mod := Module()
	for f := 0; f < 8; f++ {
		data := make([]byte, 200+r.Intn(4000))
		alphabet := 1 + r.Intn(256)
		for i := range data {
			data[i] = byte(r.Intn(alphabet) * r.Intn(alphabet) % 256)
		}
		_, c := modtest.Load(t, mod, data)
		var cases []modtest.Case
		for i := 0; i < 300; i++ {
			off := r.Int63n(int64(len(data)))
			size := r.Int63n(int64(len(data)) - off + 1)
			cases = append(cases, modtest.Case{
				Expr: fmt.Sprintf("math.entropy(%d, %d)", off, size),
				Want: modtest.Call(t, mod, c, "entropy", off, size),
			})
		}
		modtest.Differential(t, []string{"math"}, data, cases)
	}
}

// FuzzLog2 checks log2 by exponentiation: 2^log2(x) must give back x up
// to the error of log2's result (yara's log(x)/ln 2 is within 2 ulps:
// relative |log2 x| * 2^-51, times ln 2) and the rounding of Exp2. (Go's
// math.Log2 is no oracle: near 1 it is ulps off.)
func FuzzLog2(f *testing.F) {
	for _, x := range []float64{1, 0.5, 28.0 / 31, 3, 1.0569494225408205, 1e-300, stdmath.MaxFloat64, 0.005078887463063755} {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, x float64) {
		got := log2(x)
		switch {
		case stdmath.IsNaN(x) || x < 0:
			if !stdmath.IsNaN(got) {
				t.Fatalf("log2(%v) = %v, want NaN", x, got)
			}
			return
		case x < 0x1p-1021 || stdmath.IsInf(x, 1):
			return // zero, tiny or infinite: covered by TestLog2
		}
		// Compare halves so that 2^1024 does not overflow.
		half := stdmath.Exp2(got - 1)
		tol := 5e-16 + stdmath.Abs(got)*0x1p-51*stdmath.Ln2*1.01
		if rel := stdmath.Abs(half/(x/2) - 1); rel > tol {
			t.Fatalf("log2(%v) = %v: 2^that is %v, relative error %g > %g", x, got, 2*half, rel, tol)
		}
	})
}

func BenchmarkEntropy(b *testing.B) {
	data := make([]byte, 1<<20)
	rand.New(rand.NewSource(3)).Read(data)
	mod := Module()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		// A fresh context each time: no memoized histogram.
		c := &module.Context{Data: data, Cache: map[any]any{}}
		modtest.Call(b, mod, c, "entropy", int64(0), int64(len(data)))
	}
}
