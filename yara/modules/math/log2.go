package math

import stdmath "math"

// yara computes entropy with the C library's log2, which on glibc returns
// the correctly rounded result in practice. Go's math.Log2 is off by one ulp
// for about a fifth of the ratios an entropy sums over, enough to break an
// exact comparison such as `math.entropy(0, filesize) == 2.75`. log2 below
// evaluates the logarithm in double-double arithmetic (about 100 bits) and
// rounds once, so it agrees with glibc.

// dd is an unevaluated sum hi+lo of two float64 with |lo| <= ulp(hi)/2.
type dd struct{ hi, lo float64 }

// twoSum returns a+b exactly as a double-double.
func twoSum(a, b float64) dd {
	s := a + b
	v := s - a
	e := (a - (s - v)) + (b - v)
	return dd{s, e}
}

// quickTwoSum is twoSum for |a| >= |b|.
func quickTwoSum(a, b float64) dd {
	s := a + b
	return dd{s, b - (s - a)}
}

// twoProd returns a*b exactly as a double-double.
func twoProd(a, b float64) dd {
	p := a * b
	return dd{p, stdmath.FMA(a, b, -p)}
}

func ddAdd(a, b dd) dd {
	s := twoSum(a.hi, b.hi)
	t := twoSum(a.lo, b.lo)
	s.lo += t.hi
	s = quickTwoSum(s.hi, s.lo)
	s.lo += t.lo
	return quickTwoSum(s.hi, s.lo)
}

func ddMul(a, b dd) dd {
	p := twoProd(a.hi, b.hi)
	p.lo += a.hi*b.lo + a.lo*b.hi
	return quickTwoSum(p.hi, p.lo)
}

func ddDiv(a, b dd) dd {
	q1 := a.hi / b.hi
	r := ddAdd(a, ddMul(dd{-q1, 0}, b))
	q2 := r.hi / b.hi
	r = ddAdd(r, ddMul(dd{-q2, 0}, b))
	q3 := r.hi / b.hi
	q := quickTwoSum(q1, q2)
	return ddAdd(q, dd{q3, 0})
}

// log2e is 1/ln(2) as a double-double.
var log2e = dd{1.4426950408889634, 2.0355273740931033e-17}

// atanhTerms is the number of terms of the atanh series used by log2: with
// |s| <= 0.1716 each term gains more than 5 bits, so 22 terms exceed the
// 106 bits of a double-double.
const atanhTerms = 22

// oddInverses[k] is 1/(2k+1) as a double-double.
var oddInverses = func() [atanhTerms]dd {
	var t [atanhTerms]dd
	for k := range t {
		t[k] = ddDiv(dd{1, 0}, dd{float64(2*k + 1), 0})
	}
	return t
}()

// log2 returns the base-2 logarithm of x, correctly rounded except in cases
// too close to a rounding boundary for 100 bits to decide.
func log2(x float64) float64 {
	switch {
	case x == 0:
		return stdmath.Inf(-1)
	case x < 0 || stdmath.IsNaN(x):
		return stdmath.NaN()
	case stdmath.IsInf(x, 1):
		return x
	}
	m, e := stdmath.Frexp(x) // x = m * 2^e, m in [0.5, 1)
	if m < stdmath.Sqrt2/2 {
		m *= 2
		e--
	}
	if m == 1 {
		return float64(e)
	}
	// ln(m) = 2 atanh(s) with s = (m-1)/(m+1) = f/(2+f).
	f := m - 1 // exact
	s := ddDiv(dd{f, 0}, twoSum(2, f))
	s2 := ddMul(s, s)
	t := oddInverses[atanhTerms-1]
	for k := atanhTerms - 2; k >= 0; k-- {
		t = ddAdd(ddMul(t, s2), oddInverses[k])
	}
	ln := ddMul(dd{2 * s.hi, 2 * s.lo}, t)
	r := ddAdd(dd{float64(e), 0}, ddMul(ln, log2e))
	return r.hi + r.lo
}
