package yara

import (
	"math"
	"math/bits"

	"vigil/yara/syntax"
)

// arith compiles arithmetic and bitwise operators. Integer arithmetic wraps
// as C int64 does at run time; on constants yara reports overflow, and so
// do we. Division or remainder by zero is undefined at run time and an
// error on a constant divisor.
func (rc *ruleCtx) arith(e *syntax.Binary, x, y cexpr) cexpr {
	op := e.Op
	intOnly := op == syntax.OpMod || op == syntax.OpBitAnd || op == syntax.OpBitOr ||
		op == syntax.OpBitXor || op == syntax.OpShl || op == syntax.OpShr
	for _, o := range []cexpr{x, y} {
		if !isNum(o.t) || o.t == tBool {
			rc.errorf(e.Pos, CodeType, "wrong type %q for %s operator", o.t.String(), op.String())
			return bad
		}
		if intOnly && o.t == tFloat {
			rc.errorf(e.Pos, CodeType, "wrong type %q for %s operator", o.t.String(), op.String())
			return bad
		}
	}
	if (op == syntax.OpDiv || op == syntax.OpMod) && y.known && y.t == tInt && y.kval == 0 && x.t != tFloat {
		rc.errorf(e.Pos, CodeDivZero, "division by zero")
		return bad
	}
	if (op == syntax.OpShl || op == syntax.OpShr) && y.isConst && y.ci < 0 {
		rc.errorf(e.Pos, CodeShift, "negative shift count")
		return bad
	}
	if x.t == tFloat || y.t == tFloat {
		return rc.floatArith(e, x, y)
	}
	if x.isConst && y.isConst {
		v, ok, ovf := intOp(op, x.ci, y.ci)
		if ovf {
			rc.errorf(e.Pos, CodeOverflow, "integer overflow in %q", op.String())
			return bad
		}
		if ok {
			return constInt(v, e.Pos)
		}
	}
	res := rc.intArith(e, x, y)
	switch {
	case (op == syntax.OpShl || op == syntax.OpShr) && y.known && y.kval >= 64:
		res.known, res.kval = true, 0
	case x.known && y.known:
		if v, ok, _ := intOp(op, x.kval, y.kval); ok {
			res.known, res.kval = true, v
		}
	}
	return res
}

func (rc *ruleCtx) intArith(e *syntax.Binary, x, y cexpr) cexpr {
	op := e.Op
	a, b := x.i, y.i
	if y.isConst {
		c := y.ci
		switch op {
		case syntax.OpAdd:
			return cexpr{t: tInt, i: func(st *scanState) (int64, bool) { v, ok := a(st); return v + c, ok }, pos: e.Pos}
		case syntax.OpSub:
			return cexpr{t: tInt, i: func(st *scanState) (int64, bool) { v, ok := a(st); return v - c, ok }, pos: e.Pos}
		case syntax.OpBitAnd:
			return cexpr{t: tInt, i: func(st *scanState) (int64, bool) { v, ok := a(st); return v & c, ok }, pos: e.Pos}
		}
	}
	return cexpr{t: tInt, i: func(st *scanState) (int64, bool) {
		p, ok := a(st)
		if !ok {
			return 0, false
		}
		q, ok := b(st)
		if !ok {
			return 0, false
		}
		v, ok, _ := intOp(op, p, q)
		return v, ok
	}, pos: e.Pos}
}

// intOp applies op with C int64 semantics. ok is false for an undefined
// result (division by zero, negative shift); ovf reports overflow.
func intOp(op syntax.Op, p, q int64) (v int64, ok, ovf bool) {
	switch op {
	case syntax.OpAdd:
		v = p + q
		return v, true, (p >= 0) == (q >= 0) && (v >= 0) != (p >= 0)
	case syntax.OpSub:
		v = p - q
		return v, true, (p >= 0) != (q >= 0) && (v >= 0) != (p >= 0)
	case syntax.OpMul:
		v = p * q
		hi, lo := bits.Mul64(uint64(abs64(p)), uint64(abs64(q)))
		neg := (p < 0) != (q < 0)
		ovf = hi != 0 || (lo > math.MaxInt64 && !(neg && lo == 1<<63))
		return v, true, ovf
	case syntax.OpDiv:
		if q == 0 {
			return 0, false, false
		}
		if p == math.MinInt64 && q == -1 {
			return p, true, true
		}
		return p / q, true, false
	case syntax.OpMod:
		if q == 0 {
			return 0, false, false
		}
		if q == -1 {
			return 0, true, false
		}
		return p % q, true, false
	case syntax.OpBitAnd:
		return p & q, true, false
	case syntax.OpBitOr:
		return p | q, true, false
	case syntax.OpBitXor:
		return p ^ q, true, false
	case syntax.OpShl:
		if q < 0 {
			return 0, false, false
		}
		if q >= 64 {
			return 0, true, false
		}
		return p << uint(q), true, false
	case syntax.OpShr:
		if q < 0 {
			return 0, false, false
		}
		if q >= 64 {
			return 0, true, false
		}
		return p >> uint(q), true, false
	}
	return 0, false, false
}

func abs64(v int64) uint64 {
	if v < 0 {
		return uint64(-v)
	}
	return uint64(v)
}

func (rc *ruleCtx) floatArith(e *syntax.Binary, x, y cexpr) cexpr {
	a, b := asFloat(x), asFloat(y)
	var f func(p, q float64) float64
	switch e.Op {
	case syntax.OpAdd:
		f = func(p, q float64) float64 { return p + q }
	case syntax.OpSub:
		f = func(p, q float64) float64 { return p - q }
	case syntax.OpMul:
		f = func(p, q float64) float64 { return p * q }
	case syntax.OpDiv:
		f = func(p, q float64) float64 { return p / q }
	default:
		rc.errorf(e.Pos, CodeType, "wrong type \"float\" for %s operator", e.Op.String())
		return bad
	}
	if x.isConst && y.isConst {
		xv, _ := a(nil)
		yv, _ := b(nil)
		return constFloat(f(xv, yv), e.Pos)
	}
	return cexpr{t: tFloat, f: func(st *scanState) (float64, bool) {
		p, ok := a(st)
		if !ok {
			return 0, false
		}
		q, ok := b(st)
		if !ok {
			return 0, false
		}
		return f(p, q), true
	}, pos: e.Pos}
}
