package yara

import (
	"vigil/yara/module"
	"vigil/yara/syntax"
)

// forIn compiles `for Q v1, v2 in Iter : (Body)`. The body counts as false
// when undefined; a range with an undefined bound or lo > hi, or an
// undefined array or dictionary, makes the whole loop false (yara 4.2.3).
func (rc *ruleCtx) forIn(e *syntax.ForIn) cexpr {
	if rc.loops >= maxLoopDepth {
		rc.errorf(e.Pos, CodeTooComplex, "loop nesting limit exceeded")
		return bad
	}
	for i, v := range e.Vars {
		for _, w := range e.Vars[:i] {
			if v == w {
				rc.errorf(e.Pos, CodeLoopVars, "duplicated loop variable %q", v)
				return bad
			}
		}
		for _, s := range rc.scopes {
			if s.name == v {
				rc.errorf(e.Pos, CodeLoopVars, "duplicated loop variable %q", v)
				return bad
			}
		}
	}
	type iterKind int
	const (
		itRange iterKind = iota
		itEnum
		itArray
		itDict
	)
	var kind iterKind
	var lo, hi intFn
	var items []cexpr
	var coll cexpr
	var vtypes []loopVar
	switch it := e.Iter.(type) {
	case *syntax.Range:
		kind = itRange
		var ok bool
		lo, hi, ok = rc.rangeFns(it)
		if !ok {
			return bad
		}
		vtypes = []loopVar{{t: tInt}}
	case *syntax.Enum:
		kind = itEnum
		for _, x := range it.Items {
			c := rc.expr(x)
			if c.t == tBad {
				return bad
			}
			if c.t != tInt && c.t != tString && c.t != tFloat {
				rc.errorf(x.Position(), CodeType, "wrong type %q in enumeration", c.t.String())
				return bad
			}
			if len(items) > 0 && c.t != items[0].t {
				rc.errorf(x.Position(), CodeType, "mismatching types in enumeration")
				return bad
			}
			items = append(items, c)
		}
		vtypes = []loopVar{{t: items[0].t}}
	case syntax.Expr:
		coll = rc.expr(it)
		switch coll.t {
		case tBad:
			return bad
		case tArray:
			kind = itArray
			vtypes = []loopVar{{t: typeOf(coll.mt.Elem), mt: coll.mt.Elem}}
		case tDict:
			kind = itDict
			vtypes = []loopVar{{t: tString}, {t: typeOf(coll.mt.Elem), mt: coll.mt.Elem}}
		default:
			rc.errorf(it.Position(), CodeType, "%q is not iterable", describe(it))
			return bad
		}
	default:
		rc.errorf(e.Pos, CodeType, "invalid iterator")
		return bad
	}
	if len(e.Vars) != len(vtypes) {
		rc.errorf(e.Pos, CodeLoopVars, "iterator yields %d values per item, loop has %d variables", len(vtypes), len(e.Vars))
		return bad
	}
	q, ok := rc.quantifier(e.Q, 0)
	if !ok {
		return bad
	}
	slot := rc.allocSlots(len(vtypes))
	scopesBefore := len(rc.scopes)
	for i, v := range e.Vars {
		lv := vtypes[i]
		lv.name = v
		lv.slot = slot + i
		rc.scopes = append(rc.scopes, lv)
	}
	rc.loops++
	body := rc.expr(e.Body)
	rc.loops--
	rc.scopes = rc.scopes[:scopesBefore]
	rc.slots -= len(vtypes)
	if body.t == tBad {
		return bad
	}
	b := rc.toBool(body)
	test := func(st *scanState) bool {
		v, ok := b(st)
		return ok && v != 0
	}
	var run func(st *scanState) bool
	switch kind {
	case itRange:
		run = func(st *scanState) bool {
			l, ok1 := lo(st)
			h, ok2 := hi(st)
			if !ok1 || !ok2 || l > h {
				return false
			}
			n := h - l + 1
			if n <= 0 { // overflowed span
				n = 1 << 62
			}
			return q.decideN(st, n, true, func(i int64) bool {
				st.vars[slot] = value{k: kInt, i: l + i}
				return test(st)
			})
		}
	case itEnum:
		set := make([]func(st *scanState), len(items))
		for i, it := range items {
			set[i] = slotSetter(it, slot)
		}
		run = func(st *scanState) bool {
			return q.decideN(st, int64(len(set)), true, func(i int64) bool {
				set[i](st)
				return test(st)
			})
		}
	case itArray:
		get := coll.o
		run = func(st *scanState) bool {
			o, ok := get(st)
			a, _ := o.(*module.Array)
			if !ok || a == nil {
				return false
			}
			return q.decideN(st, int64(len(a.Items)), true, func(i int64) bool {
				st.vars[slot] = moduleValue(a.Items[i])
				return test(st)
			})
		}
	case itDict:
		get := coll.o
		run = func(st *scanState) bool {
			o, ok := get(st)
			d, _ := o.(*module.Dict)
			if !ok || d == nil {
				return false
			}
			return q.decideN(st, int64(len(d.Keys)), true, func(i int64) bool {
				k := d.Keys[i]
				st.vars[slot] = value{k: kString, s: k}
				st.vars[slot+1] = moduleValue(d.Items[k])
				return test(st)
			})
		}
	}
	return cexpr{t: tBool, i: func(st *scanState) (int64, bool) { return b2i(run(st)), true }, pos: e.Pos}
}

// slotSetter evaluates an enumeration item into a loop slot.
func slotSetter(c cexpr, slot int) func(*scanState) {
	switch c.t {
	case tInt:
		f := c.i
		return func(st *scanState) {
			v, ok := f(st)
			st.vars[slot] = value{k: defKind(ok, kInt), i: v}
		}
	case tFloat:
		f := c.f
		return func(st *scanState) {
			v, ok := f(st)
			st.vars[slot] = value{k: defKind(ok, kFloat), f: v}
		}
	}
	f := c.s
	return func(st *scanState) {
		v, ok := f(st)
		st.vars[slot] = value{k: defKind(ok, kString), s: v}
	}
}

func defKind(ok bool, k vkind) vkind {
	if ok {
		return k
	}
	return kUndef
}

// moduleValue turns a module value into a slot value.
func moduleValue(v module.Value) value {
	switch x := v.(type) {
	case nil:
		return value{}
	case int64:
		return value{k: kInt, i: x}
	case bool:
		return value{k: kInt, i: b2i(x)}
	case float64:
		return value{k: kFloat, f: x}
	case string:
		return value{k: kString, s: x}
	}
	return value{k: kObj, o: v}
}
