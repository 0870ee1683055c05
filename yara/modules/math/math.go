// Package math implements yara's "math" module: statistics over a range of
// the scanned data or over a string (entropy, mean, deviation,
// serial_correlation, monte_carlo_pi, count, percentage, mode) and small
// integer helpers (min, max, abs, to_number, in_range).
//
// Results follow yara 4.2.3 operation for operation, so floats come out bit
// for bit the same, including its quirks: the string forms of mean,
// deviation, serial_correlation and monte_carlo_pi read bytes as C's signed
// char; min and max compare as unsigned 64-bit integers; percentage divides
// in single precision; the global forms count(b), percentage(b) and mode()
// are undefined on empty data. A float result that is NaN (such as the mean
// of zero bytes) is undefined, as in yara. Entropy needs a logarithm that
// agrees with glibc's log2 (see log2.go); Go's math.Log2 does not.
package math

import (
	stdmath "math"

	"vigil/yara/module"
	"vigil/yara/modules/internal/yrval"
)

// meanBytes is the mean of uniformly distributed bytes, exported as
// math.MEAN_BYTES.
const meanBytes = 127.5

// Module returns the math module.
//
// to_number takes a boolean: its signature letter is 'b', yara's letter for
// a boolean argument, which yara does not accept an integer for.
func Module() *module.Module {
	f := func(args string, result module.Kind, impl func(*module.Context, []module.Value) module.Value) *module.Func {
		return &module.Func{Args: args, Result: result, Impl: impl}
	}
	const (
		i = module.KindInt
		d = module.KindFloat
	)
	return &module.Module{
		Name: "math",
		Type: module.StructOf(
			module.F("MEAN_BYTES", module.Float),
			module.F("in_range", module.FuncOf(f("fff", i, inRange))),
			module.F("deviation", module.FuncOf(f("iif", d, dataDeviation), f("sf", d, stringDeviation))),
			module.F("mean", module.FuncOf(f("ii", d, dataMean), f("s", d, stringMean))),
			module.F("serial_correlation", module.FuncOf(f("ii", d, dataSerialCorrelation), f("s", d, stringSerialCorrelation))),
			module.F("monte_carlo_pi", module.FuncOf(f("ii", d, dataMonteCarloPi), f("s", d, stringMonteCarloPi))),
			module.F("entropy", module.FuncOf(f("ii", d, dataEntropy), f("s", d, stringEntropy))),
			module.F("min", module.FuncOf(f("ii", i, minFunc))),
			module.F("max", module.FuncOf(f("ii", i, maxFunc))),
			module.F("to_number", module.FuncOf(f("b", i, toNumber))),
			module.F("abs", module.FuncOf(f("i", i, abs))),
			module.F("count", module.FuncOf(f("iii", i, countRange), f("i", i, countGlobal))),
			module.F("percentage", module.FuncOf(f("iii", d, percentageRange), f("i", d, percentageGlobal))),
			module.F("mode", module.FuncOf(f("ii", i, modeRange), f("", i, modeGlobal))),
		),
		Load: func(*module.Context) (*module.Struct, error) {
			return module.NewStruct().Set("MEAN_BYTES", meanBytes), nil
		},
	}
}

// dataRange returns the bytes selected by the integer arguments
// args[first], args[first+1] (offset, size).
func dataRange(c *module.Context, args []module.Value, first int) ([]byte, bool) {
	off, ok1 := yrval.IntArg(args, first)
	size, ok2 := yrval.IntArg(args, first+1)
	if !ok1 || !ok2 {
		return nil, false
	}
	return yrval.Range(c.Data, off, size)
}

// histogram counts each byte value in b.
type histogram [256]uint64

func histogramOf(b []byte) *histogram {
	var h histogram
	for _, c := range b {
		h[c]++
	}
	return &h
}

func (h *histogram) total() uint64 {
	var n uint64
	for _, v := range h {
		n += v
	}
	return n
}

// rangeHistogram is the histogram of a data range, or nil if undefined.
// The histogram of the whole data, which rules ask for most often
// (f(0, filesize)), is memoized per scan.
func rangeHistogram(c *module.Context, args []module.Value, first int) *histogram {
	b, ok := dataRange(c, args, first)
	if !ok {
		return nil
	}
	if len(b) == len(c.Data) {
		return globalHistogram(c)
	}
	return histogramOf(b)
}

// globalHistogram is the histogram of all the data, memoized per scan, or
// nil (undefined) for empty data: yara scans an empty file as a block with no
// data pointer, which its math module treats as unreadable.
func globalHistogram(c *module.Context) *histogram {
	if len(c.Data) == 0 {
		return nil
	}
	type key struct{}
	if h, ok := c.Cache[key{}].(*histogram); ok {
		return h
	}
	h := histogramOf(c.Data)
	if c.Cache != nil {
		c.Cache[key{}] = h
	}
	return h
}

// entropy is the Shannon entropy, in bits per byte, of a histogram of n
// bytes, summed in byte order like yara. It is 0 for n == 0.
func entropy(h *histogram, n uint64) float64 {
	e := 0.0
	for _, v := range h {
		if v != 0 {
			x := float64(v) / float64(n)
			e -= float64(x * log2(x)) // explicit rounding: no fused multiply-add
		}
	}
	return e
}

func dataEntropy(c *module.Context, args []module.Value) module.Value {
	h := rangeHistogram(c, args, 0)
	if h == nil {
		return nil
	}
	return yrval.Float(entropy(h, h.total()))
}

func stringEntropy(_ *module.Context, args []module.Value) module.Value {
	s, ok := yrval.StringArg(args, 0)
	if !ok {
		return nil
	}
	h := histogramOf([]byte(s))
	return yrval.Float(entropy(h, uint64(len(s))))
}

func dataMean(c *module.Context, args []module.Value) module.Value {
	h := rangeHistogram(c, args, 0)
	if h == nil {
		return nil
	}
	sum := 0.0
	for i, v := range h {
		sum += float64(float64(i) * float64(v))
	}
	return yrval.Float(sum / float64(h.total()))
}

// signedChar is the value C gives byte b read through yara's char pointer:
// char is signed on the platforms yara is built for (x86, x86-64).
func signedChar(b byte) float64 { return float64(int8(b)) }

func stringMean(_ *module.Context, args []module.Value) module.Value {
	s, ok := yrval.StringArg(args, 0)
	if !ok {
		return nil
	}
	sum := 0.0
	for i := 0; i < len(s); i++ {
		sum += signedChar(s[i])
	}
	return yrval.Float(sum / float64(len(s)))
}

func dataDeviation(c *module.Context, args []module.Value) module.Value {
	mean, ok := yrval.FloatArg(args, 2)
	h := rangeHistogram(c, args, 0)
	if !ok || h == nil {
		return nil
	}
	sum := 0.0
	for i, v := range h {
		sum += float64(stdmath.Abs(float64(i)-mean) * float64(v))
	}
	return yrval.Float(sum / float64(h.total()))
}

func stringDeviation(_ *module.Context, args []module.Value) module.Value {
	s, ok1 := yrval.StringArg(args, 0)
	mean, ok2 := yrval.FloatArg(args, 1)
	if !ok1 || !ok2 {
		return nil
	}
	sum := 0.0
	for i := 0; i < len(s); i++ {
		sum += stdmath.Abs(signedChar(s[i]) - mean)
	}
	return yrval.Float(sum / float64(len(s)))
}

// serialCorrelation is yara's serial correlation coefficient of n values
// produced by next, with yara's (and ent's) quirks: the last value is
// paired with itself, and a zero denominator gives -100000.
func serialCorrelation(n int, next func(i int) float64) float64 {
	var un, last, t1, t2, t3 float64
	for i := 0; i < n; i++ {
		un = next(i)
		t1 += float64(last * un)
		t2 += un
		t3 += float64(un * un)
		last = un
	}
	t1 += float64(last * un)
	t2 *= t2
	scc := float64(float64(n)*t3) - t2
	if scc == 0 {
		return -100000
	}
	return (float64(float64(n)*t1) - t2) / scc
}

func dataSerialCorrelation(c *module.Context, args []module.Value) module.Value {
	b, ok := dataRange(c, args, 0)
	if !ok {
		return nil
	}
	return yrval.Float(serialCorrelation(len(b), func(i int) float64 { return float64(b[i]) }))
}

func stringSerialCorrelation(_ *module.Context, args []module.Value) module.Value {
	s, ok := yrval.StringArg(args, 0)
	if !ok {
		return nil
	}
	return yrval.Float(serialCorrelation(len(s), func(i int) float64 { return signedChar(s[i]) }))
}

// monteCarloPi is yara's (and ent's) Monte Carlo estimate of pi over n
// values from next, taken six at a time as two 24-bit coordinates; it
// returns the relative error of the estimate, or NaN (undefined) when there
// are fewer than six values.
func monteCarloPi(n int, next func(i int) uint32) float64 {
	const inCircle = (256.0*256.0*256.0 - 1) * (256.0*256.0*256.0 - 1)
	var monte [6]uint32
	count, inside := 0, 0
	for i := 0; i < n; i++ {
		monte[i%6] = next(i)
		if i%6 != 5 {
			continue
		}
		count++
		var x, y float64
		for j := 0; j < 3; j++ {
			x = float64(x*256) + float64(monte[j])
			y = float64(y*256) + float64(monte[j+3])
		}
		if float64(x*x)+float64(y*y) <= inCircle {
			inside++
		}
	}
	if count == 0 {
		return stdmath.NaN()
	}
	est := 4 * (float64(inside) / float64(count))
	return stdmath.Abs((est - stdmath.Pi) / stdmath.Pi)
}

func dataMonteCarloPi(c *module.Context, args []module.Value) module.Value {
	b, ok := dataRange(c, args, 0)
	if !ok {
		return nil
	}
	return yrval.Float(monteCarloPi(len(b), func(i int) uint32 { return uint32(b[i]) }))
}

func stringMonteCarloPi(_ *module.Context, args []module.Value) module.Value {
	s, ok := yrval.StringArg(args, 0)
	if !ok {
		return nil
	}
	// yara converts a signed char to unsigned int: bytes >= 0x80 become
	// 0xFFFFFF80 and up.
	return yrval.Float(monteCarloPi(len(s), func(i int) uint32 { return uint32(int32(int8(s[i]))) }))
}

func inRange(_ *module.Context, args []module.Value) module.Value {
	test, ok1 := yrval.FloatArg(args, 0)
	lower, ok2 := yrval.FloatArg(args, 1)
	upper, ok3 := yrval.FloatArg(args, 2)
	if !ok1 || !ok2 || !ok3 {
		return nil
	}
	if lower <= test && test <= upper {
		return int64(1)
	}
	return int64(0)
}

// minFunc and maxFunc compare as unsigned integers, like yara: min(-1, 1)
// is 1.
func minFunc(_ *module.Context, args []module.Value) module.Value {
	a, ok1 := yrval.IntArg(args, 0)
	b, ok2 := yrval.IntArg(args, 1)
	if !ok1 || !ok2 {
		return nil
	}
	if uint64(a) < uint64(b) {
		return yrval.Int(a)
	}
	return yrval.Int(b)
}

func maxFunc(_ *module.Context, args []module.Value) module.Value {
	a, ok1 := yrval.IntArg(args, 0)
	b, ok2 := yrval.IntArg(args, 1)
	if !ok1 || !ok2 {
		return nil
	}
	if uint64(a) > uint64(b) {
		return yrval.Int(a)
	}
	return yrval.Int(b)
}

func toNumber(_ *module.Context, args []module.Value) module.Value {
	v, ok := yrval.IntArg(args, 0)
	if !ok {
		return nil
	}
	if v != 0 {
		return int64(1)
	}
	return int64(0)
}

// abs is C's llabs: abs of the most negative integer is itself.
func abs(_ *module.Context, args []module.Value) module.Value {
	v, ok := yrval.IntArg(args, 0)
	if !ok {
		return nil
	}
	if v < 0 {
		v = -v
	}
	return yrval.Int(v)
}

// byteArg is args[0] truncated to a byte, as yara's (uint8_t) cast does.
func byteArg(args []module.Value) (byte, bool) {
	v, ok := yrval.IntArg(args, 0)
	return byte(v), ok
}

func countRange(c *module.Context, args []module.Value) module.Value {
	b, ok := byteArg(args)
	h := rangeHistogram(c, args, 1)
	if !ok || h == nil {
		return nil
	}
	return int64(h[b])
}

func countGlobal(c *module.Context, args []module.Value) module.Value {
	b, ok := byteArg(args)
	h := globalHistogram(c)
	if !ok || h == nil {
		return nil
	}
	return int64(h[b])
}

// percentage is count/total computed in single precision, like yara.
func percentage(h *histogram, b byte) module.Value {
	return yrval.Float(float64(float32(h[b]) / float32(h.total())))
}

func percentageRange(c *module.Context, args []module.Value) module.Value {
	b, ok := byteArg(args)
	h := rangeHistogram(c, args, 1)
	if !ok || h == nil {
		return nil
	}
	return percentage(h, b)
}

func percentageGlobal(c *module.Context, args []module.Value) module.Value {
	b, ok := byteArg(args)
	h := globalHistogram(c)
	if !ok || h == nil {
		return nil
	}
	return percentage(h, b)
}

// mode is the most common byte, the smallest one on a tie (0 for no bytes).
func mode(h *histogram) module.Value {
	most := 0
	for i, v := range h {
		if v > h[most] {
			most = i
		}
	}
	return int64(most)
}

func modeRange(c *module.Context, args []module.Value) module.Value {
	h := rangeHistogram(c, args, 0)
	if h == nil {
		return nil
	}
	return mode(h)
}

func modeGlobal(c *module.Context, _ []module.Value) module.Value {
	h := globalHistogram(c)
	if h == nil {
		return nil
	}
	return mode(h)
}
