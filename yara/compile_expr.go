package yara

import (
	"bytes"
	"cmp"
	"math"
	"strings"

	"vigil/yara/module"
	"vigil/yara/syntax"
)

// typ is the static type of a condition expression.
type typ uint8

const (
	tBad typ = iota // an error was reported
	tBool
	tInt
	tFloat
	tString
	tRegexp
	tStruct
	tArray
	tDict
	tFunc
)

func (t typ) String() string {
	return [...]string{"invalid", "boolean", "integer", "float", "string", "regexp", "structure", "array", "dictionary", "function"}[t]
}

// cexpr is a compiled expression: its type and the closure of that type.
type cexpr struct {
	t    typ
	i    intFn // tBool, tInt
	f    floatFn
	s    strFn
	o    objFn // tStruct, tArray, tDict
	mt   *module.Type
	prog matchProg // tRegexp

	isConst bool
	ci      int64
	// known and kval track the value yara's compiler computes for integer
	// expressions (used only for its "division by zero" check): constants,
	// and also x << n / x >> n with a constant n >= 64, which yara takes
	// as 0 whatever x is.
	known bool
	kval  int64
	cf    float64
	cs    string
	lit   bool // a string literal, for the boolean warning
	pos   syntax.Pos
}

var bad = cexpr{t: tBad}

func constBool(b bool, pos syntax.Pos) cexpr {
	v := b2i(b)
	return cexpr{t: tBool, i: func(*scanState) (int64, bool) { return v, true }, isConst: true, ci: v, pos: pos}
}

func constInt(v int64, pos syntax.Pos) cexpr {
	return cexpr{t: tInt, i: func(*scanState) (int64, bool) { return v, true }, isConst: true, ci: v, known: true, kval: v, pos: pos}
}

func constFloat(v float64, pos syntax.Pos) cexpr {
	return cexpr{t: tFloat, f: func(*scanState) (float64, bool) { return v, true }, isConst: true, cf: v, pos: pos}
}

func constStr(v string, pos syntax.Pos) cexpr {
	return cexpr{t: tString, s: func(*scanState) (string, bool) { return v, true }, isConst: true, cs: v, pos: pos}
}

func undefInt(*scanState) (int64, bool) { return 0, false }

// isNum reports whether t is usable as a number.
func isNum(t typ) bool { return t == tInt || t == tFloat || t == tBool }

func isInt(t typ) bool { return t == tInt || t == tBool }

// asFloat returns e as a float closure.
func asFloat(e cexpr) floatFn {
	if e.t == tFloat {
		return e.f
	}
	fi := e.i
	return func(st *scanState) (float64, bool) {
		v, ok := fi(st)
		return float64(v), ok
	}
}

// toBool converts e for a boolean context.
func (rc *ruleCtx) toBool(e cexpr) intFn {
	switch e.t {
	case tBool:
		return e.i
	case tInt:
		fi := e.i
		return func(st *scanState) (int64, bool) {
			v, ok := fi(st)
			return b2i(v != 0), ok
		}
	case tFloat:
		ff := e.f
		return func(st *scanState) (int64, bool) {
			v, ok := ff(st)
			return b2i(v != 0), ok
		}
	case tString:
		if e.lit {
			rc.warnf(e.pos, CodeStringAsBool, "using literal string %q in a boolean operation.", e.cs)
		}
		fs := e.s
		return func(st *scanState) (int64, bool) {
			v, ok := fs(st)
			return b2i(v != ""), ok
		}
	case tBad:
		return undefInt
	}
	rc.errorf(e.pos, CodeType, "wrong type %q in boolean expression", e.t.String())
	return undefInt
}

// expr compiles a condition expression.
func (rc *ruleCtx) expr(e syntax.Expr) cexpr {
	rc.depth++
	defer func() { rc.depth-- }()
	if rc.depth > maxExprDepth {
		if rc.depth == maxExprDepth+1 {
			rc.errorf(e.Position(), CodeTooComplex, "condition nested too deeply")
		}
		return bad
	}
	switch e := e.(type) {
	case *syntax.BoolLit:
		return constBool(e.Value, e.Pos)
	case *syntax.IntLit:
		return constInt(e.Value, e.Pos)
	case *syntax.FloatLit:
		return constFloat(e.Value, e.Pos)
	case *syntax.StringLit:
		c := constStr(string(e.Value), e.Pos)
		c.lit = true
		return c
	case *syntax.RegexpLit:
		p, err := compileRegexp(e.Regex)
		if err != nil {
			rc.errorf(e.Pos, CodeRegex, "invalid regular expression: %v", err)
			return bad
		}
		return cexpr{t: tRegexp, prog: p, pos: e.Pos}
	case *syntax.Keyword:
		return rc.keyword(e)
	case *syntax.Paren:
		return rc.expr(e.X)
	case *syntax.StringRef:
		return rc.stringRef(e)
	case *syntax.StringCount:
		return rc.stringCount(e)
	case *syntax.StringOffset:
		return rc.stringOffLen(e.Pos, e.ID, e.Index, false)
	case *syntax.StringLength:
		return rc.stringOffLen(e.Pos, e.ID, e.Index, true)
	case *syntax.Ident:
		return rc.ident(e)
	case *syntax.Member:
		return rc.member(e)
	case *syntax.Index:
		return rc.index(e)
	case *syntax.Call:
		return rc.call(e)
	case *syntax.Unary:
		return rc.unary(e)
	case *syntax.Binary:
		return rc.binary(e)
	case *syntax.Of:
		return rc.of(e)
	case *syntax.ForOf:
		return rc.forOf(e)
	case *syntax.ForIn:
		return rc.forIn(e)
	}
	rc.errorf(e.Position(), CodeType, "unsupported expression")
	return bad
}

func (rc *ruleCtx) keyword(e *syntax.Keyword) cexpr {
	switch e.Name {
	case "filesize":
		return cexpr{t: tInt, i: func(st *scanState) (int64, bool) { return int64(len(st.data)), true }, pos: e.Pos}
	case "entrypoint":
		rc.warnf(e.Pos, CodeDeprecated, "Using deprecated \"entrypoint\" keyword. Use the \"entry_point\" function from PE module instead.")
		return cexpr{t: tInt, i: undefInt, pos: e.Pos}
	}
	rc.errorf(e.Pos, CodeUndefIdent, "undefined identifier %q", e.Name)
	return bad
}

func (rc *ruleCtx) unary(e *syntax.Unary) cexpr {
	x := rc.expr(e.X)
	if x.t == tBad {
		return bad
	}
	switch e.Op {
	case syntax.OpNot:
		b := rc.toBool(x)
		if x.isConst && isInt(x.t) {
			return constBool(x.ci == 0, e.Pos)
		}
		return cexpr{t: tBool, i: func(st *scanState) (int64, bool) {
			v, ok := b(st)
			return 1 - v, ok
		}, pos: e.Pos}
	case syntax.OpDefined:
		switch x.t {
		case tBool, tInt:
			fi := x.i
			return cexpr{t: tBool, i: func(st *scanState) (int64, bool) { _, ok := fi(st); return b2i(ok), true }, pos: e.Pos}
		case tFloat:
			ff := x.f
			return cexpr{t: tBool, i: func(st *scanState) (int64, bool) { _, ok := ff(st); return b2i(ok), true }, pos: e.Pos}
		case tString:
			fs := x.s
			return cexpr{t: tBool, i: func(st *scanState) (int64, bool) { _, ok := fs(st); return b2i(ok), true }, pos: e.Pos}
		case tStruct, tArray, tDict:
			fo := x.o
			return cexpr{t: tBool, i: func(st *scanState) (int64, bool) { _, ok := fo(st); return b2i(ok), true }, pos: e.Pos}
		}
	case syntax.OpNeg:
		switch x.t {
		case tInt:
			if x.isConst {
				if x.ci == math.MinInt64 {
					rc.errorf(e.Pos, CodeOverflow, "integer overflow")
					return bad
				}
				return constInt(-x.ci, e.Pos)
			}
			fi := x.i
			return cexpr{t: tInt, i: func(st *scanState) (int64, bool) { v, ok := fi(st); return -v, ok }, pos: e.Pos}
		case tFloat:
			if x.isConst {
				return constFloat(-x.cf, e.Pos)
			}
			ff := x.f
			return cexpr{t: tFloat, f: func(st *scanState) (float64, bool) { v, ok := ff(st); return -v, ok }, pos: e.Pos}
		}
	case syntax.OpBitNot:
		if x.t == tInt {
			if x.isConst {
				return constInt(^x.ci, e.Pos)
			}
			fi := x.i
			return cexpr{t: tInt, i: func(st *scanState) (int64, bool) { v, ok := fi(st); return ^v, ok }, pos: e.Pos}
		}
	}
	rc.errorf(e.Pos, CodeType, "wrong type %q for %s operator", x.t.String(), e.Op.String())
	return bad
}

func (rc *ruleCtx) binary(e *syntax.Binary) cexpr {
	switch e.Op {
	case syntax.OpAnd, syntax.OpOr:
		return rc.logical(e)
	}
	x := rc.expr(e.X)
	y := rc.expr(e.Y)
	if x.t == tBad || y.t == tBad {
		return bad
	}
	switch e.Op {
	case syntax.OpEq, syntax.OpNe, syntax.OpLt, syntax.OpLe, syntax.OpGt, syntax.OpGe:
		return rc.compare(e, x, y)
	case syntax.OpContains, syntax.OpIContains, syntax.OpStartsWith, syntax.OpIStartsWith,
		syntax.OpEndsWith, syntax.OpIEndsWith, syntax.OpIEquals:
		return rc.strOp(e, x, y)
	case syntax.OpMatches:
		if x.t != tString {
			rc.errorf(e.Pos, CodeType, "wrong type %q for matches operator", x.t.String())
			return bad
		}
		if y.t != tRegexp {
			rc.errorf(e.Y.Position(), CodeType, "wrong type %q for matches operator", y.t.String())
			return bad
		}
		fs, p := x.s, y.prog
		return cexpr{t: tBool, i: func(st *scanState) (int64, bool) {
			v, ok := fs(st)
			if !ok {
				return 0, false
			}
			return b2i(p.Find([]byte(v))), true
		}, pos: e.Pos}
	}
	return rc.arith(e, x, y)
}

// logical compiles `and` and `or`: undefined operands count as false and
// the result is always defined (yara 4.2.3).
func (rc *ruleCtx) logical(e *syntax.Binary) cexpr {
	// Flatten chains of the same operator to avoid deep closure nesting.
	var ops []syntax.Expr
	var walk func(x syntax.Expr)
	walk = func(x syntax.Expr) {
		if b, ok := x.(*syntax.Binary); ok && b.Op == e.Op {
			walk(b.X)
			walk(b.Y)
			return
		}
		if p, ok := x.(*syntax.Paren); ok {
			if b, ok := p.X.(*syntax.Binary); ok && b.Op == e.Op {
				walk(b)
				return
			}
		}
		ops = append(ops, x)
	}
	walk(e)
	fns := make([]intFn, 0, len(ops))
	for _, o := range ops {
		x := rc.expr(o)
		if x.t == tBad {
			return bad
		}
		fns = append(fns, rc.toBool(x))
	}
	if e.Op == syntax.OpAnd {
		if len(fns) == 2 {
			a, b := fns[0], fns[1]
			return cexpr{t: tBool, i: func(st *scanState) (int64, bool) {
				if v, ok := a(st); !ok || v == 0 {
					return 0, true
				}
				v, ok := b(st)
				return v & b2i(ok), true
			}, pos: e.Pos}
		}
		return cexpr{t: tBool, i: func(st *scanState) (int64, bool) {
			for _, f := range fns {
				if v, ok := f(st); !ok || v == 0 {
					return 0, true
				}
			}
			return 1, true
		}, pos: e.Pos}
	}
	if len(fns) == 2 {
		a, b := fns[0], fns[1]
		return cexpr{t: tBool, i: func(st *scanState) (int64, bool) {
			if v, ok := a(st); ok && v != 0 {
				return 1, true
			}
			v, ok := b(st)
			return v & b2i(ok), true
		}, pos: e.Pos}
	}
	return cexpr{t: tBool, i: func(st *scanState) (int64, bool) {
		for _, f := range fns {
			if v, ok := f(st); ok && v != 0 {
				return 1, true
			}
		}
		return 0, true
	}, pos: e.Pos}
}

func (rc *ruleCtx) compare(e *syntax.Binary, x, y cexpr) cexpr {
	op := e.Op
	switch {
	case isInt(x.t) && isInt(y.t):
		a, b := x.i, y.i
		f := ordered[int64](op)
		if x.isConst && y.isConst {
			return constBool(f(x.ci, y.ci), e.Pos)
		}
		if y.isConst && op == syntax.OpEq {
			c := y.ci
			return cexpr{t: tBool, i: func(st *scanState) (int64, bool) {
				p, ok := a(st)
				return b2i(p == c), ok
			}, pos: e.Pos}
		}
		return compareWith(a, b, f, e.Pos)
	case isNum(x.t) && isNum(y.t):
		a, b := asFloat(x), asFloat(y)
		if op == syntax.OpLt {
			// yara 4.2.3's float `<` yields a defined false when an operand
			// is undefined (the other float comparisons are undefined).
			return cexpr{t: tBool, i: func(st *scanState) (int64, bool) {
				p, ok1 := a(st)
				q, ok2 := b(st)
				return b2i(ok1 && ok2 && p < q), true
			}, pos: e.Pos}
		}
		f := ordered[float64](op)
		return compareWith(a, b, f, e.Pos)
	case x.t == tString && y.t == tString:
		a, b := x.s, y.s
		f := ordered[string](op)
		return compareWith(a, b, f, e.Pos)
	}
	rc.errorf(e.Pos, CodeType, "type mismatch")
	return bad
}

func (rc *ruleCtx) strOp(e *syntax.Binary, x, y cexpr) cexpr {
	if x.t != tString || y.t != tString {
		t := x.t
		if x.t == tString {
			t = y.t
		}
		rc.errorf(e.Pos, CodeType, "wrong type %q for %s operator", t.String(), e.Op.String())
		return bad
	}
	var f func(p, q string) bool
	switch e.Op {
	case syntax.OpContains:
		f = strings.Contains
	case syntax.OpIContains:
		f = func(p, q string) bool { return bytes.Contains(lowerBytes(p), lowerBytes(q)) }
	case syntax.OpStartsWith:
		f = strings.HasPrefix
	case syntax.OpIStartsWith:
		f = func(p, q string) bool { return len(p) >= len(q) && equalFold(p[:len(q)], q) }
	case syntax.OpEndsWith:
		f = strings.HasSuffix
	case syntax.OpIEndsWith:
		f = func(p, q string) bool { return len(p) >= len(q) && equalFold(p[len(p)-len(q):], q) }
	default:
		f = func(p, q string) bool { return len(p) == len(q) && equalFold(p, q) }
	}
	a, b := x.s, y.s
	return cexpr{t: tBool, i: func(st *scanState) (int64, bool) {
		p, ok := a(st)
		if !ok {
			return 0, false
		}
		q, ok := b(st)
		if !ok {
			return 0, false
		}
		return b2i(f(p, q)), true
	}, pos: e.Pos}
}

func lowerBytes(s string) []byte {
	b := []byte(s)
	for i, c := range b {
		b[i] = lower(c)
	}
	return b
}

// equalFold compares ASCII case-insensitively (yara does not fold UTF-8).
func equalFold(p, q string) bool {
	if len(p) != len(q) {
		return false
	}
	for i := 0; i < len(p); i++ {
		if lower(p[i]) != lower(q[i]) {
			return false
		}
	}
	return true
}

// ordered returns the comparison op (==, !=, <, <=, >, >=) on T.
func ordered[T cmp.Ordered](op syntax.Op) func(p, q T) bool {
	switch op {
	case syntax.OpEq:
		return func(p, q T) bool { return p == q }
	case syntax.OpNe:
		return func(p, q T) bool { return p != q }
	case syntax.OpLt:
		return func(p, q T) bool { return p < q }
	case syntax.OpLe:
		return func(p, q T) bool { return p <= q }
	case syntax.OpGt:
		return func(p, q T) bool { return p > q }
	}
	return func(p, q T) bool { return p >= q }
}

// compareWith is the condition f(a, b): undefined when either operand is.
func compareWith[T any](a, b func(*scanState) (T, bool), f func(p, q T) bool, pos syntax.Pos) cexpr {
	return cexpr{t: tBool, i: func(st *scanState) (int64, bool) {
		p, ok := a(st)
		if !ok {
			return 0, false
		}
		q, ok := b(st)
		if !ok {
			return 0, false
		}
		return b2i(f(p, q)), true
	}, pos: pos}
}
