package yara

import (
	"strings"

	"vigil/yara/syntax"
)

// strSel yields the string a reference designates: fixed for `$a`, the
// current string of the enclosing for..of for `$`.
type strSel struct {
	fixed int // -1 for anonymous
	slot  int
}

func (s strSel) get(st *scanState) int {
	if s.fixed >= 0 {
		return s.fixed
	}
	return int(st.vars[s.slot].i)
}

// resolveString resolves a string identifier of the current rule. single
// says whether one match is enough for this use (yara's SINGLE_MATCH).
func (rc *ruleCtx) resolveString(pos syntax.Pos, id string, single bool) (strSel, bool) {
	return rc.resolveStringAt(pos, id, single, nil)
}

// resolveStringAt is resolveString; at is the constant offset of a
// `$a at C` use, nil for any other use. yara searches a string only at C
// when every use of it is `at C` with the same C.
func (rc *ruleCtx) resolveStringAt(pos syntax.Pos, id string, single bool, at *int64) (strSel, bool) {
	if id == "$" {
		if len(rc.anonStk) == 0 {
			rc.errorf(pos, CodeAnonString, "wrong use of anonymous string")
			return strSel{}, false
		}
		sc := rc.anonStk[len(rc.anonStk)-1]
		if !single {
			for _, si := range sc.set {
				rc.c.strings[si].singleMatch = false
			}
		}
		return strSel{fixed: -1, slot: sc.slot}, true
	}
	si, ok := rc.strIDs[id]
	if !ok {
		rc.errorf(pos, CodeUndefString, "undefined string %q", id)
		return strSel{}, false
	}
	rc.used[si] = true
	if !single {
		rc.c.strings[si].singleMatch = false
	}
	rc.noteFixed(si, at)
	return strSel{fixed: si}, true
}

// rangeFns compiles `(lo..hi)`.
func (rc *ruleCtx) rangeFns(r *syntax.Range) (intFn, intFn, bool) {
	lo := rc.expr(r.Lo)
	hi := rc.expr(r.Hi)
	if lo.t == tBad || hi.t == tBad {
		return nil, nil, false
	}
	if lo.t != tInt || hi.t != tInt {
		rc.errorf(r.Pos, CodeType, "wrong type for range bounds (want integer)")
		return nil, nil, false
	}
	return lo.i, hi.i, true
}

func (rc *ruleCtx) stringRef(e *syntax.StringRef) cexpr {
	var at cexpr
	var atConst *int64
	if e.At != nil {
		at = rc.expr(e.At)
		if at.t == tBad {
			return bad
		}
		if at.isConst && at.t == tInt {
			atConst = &at.ci
		}
	}
	sel, ok := rc.resolveStringAt(e.Pos, e.ID, e.At == nil && e.In == nil, atConst)
	if !ok {
		return bad
	}
	switch {
	case e.At != nil:
		if at.t != tInt {
			rc.errorf(e.At.Position(), CodeType, "wrong type %q after at (want integer)", at.t.String())
			return bad
		}
		fa := at.i
		return cexpr{t: tBool, i: func(st *scanState) (int64, bool) {
			off, ok := fa(st)
			if !ok {
				return 0, true
			}
			return b2i(st.foundAt(sel.get(st), off)), true
		}, pos: e.Pos}
	case e.In != nil:
		lo, hi, ok := rc.rangeFns(e.In)
		if !ok {
			return bad
		}
		return cexpr{t: tBool, i: func(st *scanState) (int64, bool) {
			l, ok1 := lo(st)
			h, ok2 := hi(st)
			if !ok1 || !ok2 {
				return 0, false
			}
			return b2i(st.foundIn(sel.get(st), l, h)), true
		}, pos: e.Pos}
	}
	if sel.fixed >= 0 {
		si := sel.fixed
		return cexpr{t: tBool, i: func(st *scanState) (int64, bool) { return b2i(len(st.matches[si]) > 0), true }, pos: e.Pos}
	}
	return cexpr{t: tBool, i: func(st *scanState) (int64, bool) { return b2i(len(st.matches[sel.get(st)]) > 0), true }, pos: e.Pos}
}

func (rc *ruleCtx) stringCount(e *syntax.StringCount) cexpr {
	sel, ok := rc.resolveString(e.Pos, e.ID, false)
	if !ok {
		return bad
	}
	if e.In != nil {
		lo, hi, ok := rc.rangeFns(e.In)
		if !ok {
			return bad
		}
		return cexpr{t: tInt, i: func(st *scanState) (int64, bool) {
			l, ok1 := lo(st)
			h, ok2 := hi(st)
			if !ok1 || !ok2 {
				return 0, false
			}
			return st.countIn(sel.get(st), l, h), true
		}, pos: e.Pos}
	}
	return cexpr{t: tInt, i: func(st *scanState) (int64, bool) { return st.count(sel.get(st)), true }, pos: e.Pos}
}

func (rc *ruleCtx) stringOffLen(pos syntax.Pos, id string, index syntax.Expr, length bool) cexpr {
	sel, ok := rc.resolveString(pos, id, false)
	if !ok {
		return bad
	}
	idx := constInt(1, pos)
	if index != nil {
		idx = rc.expr(index)
		if idx.t == tBad {
			return bad
		}
		if idx.t != tInt {
			rc.errorf(index.Position(), CodeType, "wrong type %q for index (want integer)", idx.t.String())
			return bad
		}
	}
	fi := idx.i
	if length {
		return cexpr{t: tInt, i: func(st *scanState) (int64, bool) {
			i, ok := fi(st)
			if !ok {
				return 0, false
			}
			return st.length(sel.get(st), i)
		}, pos: pos}
	}
	return cexpr{t: tInt, i: func(st *scanState) (int64, bool) {
		i, ok := fi(st)
		if !ok {
			return 0, false
		}
		return st.offset(sel.get(st), i)
	}, pos: pos}
}

// stringSet resolves `them` or `($a, $b*)` to string indexes.
func (rc *ruleCtx) stringSet(s *syntax.StringSet) ([]int, bool) {
	if s.Them {
		if len(rc.strs) == 0 {
			rc.errorf(s.Pos, CodeNoStrings, "undefined string")
			return nil, false
		}
		for _, si := range rc.strs {
			rc.used[si] = true
			rc.noteFixed(si, nil)
		}
		return append([]int(nil), rc.strs...), true
	}
	var out []int
	for _, it := range s.Items {
		found := false
		for _, si := range rc.strs {
			id := rc.c.strings[si].id
			if (it.Wildcard && strings.HasPrefix(id, it.Name)) || (!it.Wildcard && id == it.Name) {
				found = true
				rc.used[si] = true
				rc.noteFixed(si, nil)
				out = append(out, si) // duplicates count twice, as in yara
			}
		}
		if !found {
			name := it.Name
			if it.Wildcard {
				name += "*"
			}
			rc.errorf(it.Pos, CodeUndefString, "undefined string %q", name)
			return nil, false
		}
	}
	return out, true
}

// ruleSet resolves `(r1, r2*)` to earlier rules of the namespace.
func (rc *ruleCtx) ruleSet(s *syntax.RuleSet) ([]int, bool) {
	var out []int
	for _, it := range s.Items {
		found := false
		if it.Wildcard {
			rc.c.wildcards[rc.ns] = append(rc.c.wildcards[rc.ns], it.Name)
		}
		// Earlier rules of the namespace, and the rule itself.
		for ri := 0; ri <= len(rc.c.rules); ri++ {
			n := rc.name
			if ri < len(rc.c.rules) {
				if rc.c.rules[ri].ns != rc.ns {
					continue
				}
				n = rc.c.rules[ri].info.Name
			}
			if (it.Wildcard && strings.HasPrefix(n, it.Name)) || (!it.Wildcard && n == it.Name) {
				found = true
				out = append(out, ri) // duplicates count twice, as in yara
			}
		}
		if !found {
			name := it.Name
			if it.Wildcard {
				name += "*"
			}
			rc.errorf(it.Pos, CodeRuleSet, "undefined identifier %q", name)
			return nil, false
		}
	}
	return out, true
}

// quant is a compiled quantifier.
type quant struct {
	kind syntax.QuantKind
	n    intFn
}

func (rc *ruleCtx) quantifier(q *syntax.Quantifier, total int) (quant, bool) {
	qq := quant{kind: q.Kind}
	if q.Kind == syntax.QuantExpr || q.Kind == syntax.QuantPercent {
		x := rc.expr(q.Expr)
		if x.t == tBad {
			return qq, false
		}
		if x.t != tInt {
			rc.errorf(q.Pos, CodeType, "wrong type %q for quantifier (want integer)", x.t.String())
			return qq, false
		}
		if q.Kind == syntax.QuantPercent && x.isConst && (x.ci < 1 || x.ci > 100) {
			rc.errorf(q.Pos, CodeType, "percentage must be between 1 and 100 (inclusive)")
			return qq, false
		}
		qq.n = x.i
	}
	return qq, true
}

// need returns how many true items satisfy q out of total; ok is false
// when the quantity is undefined (the expression is then false).
func (q quant) need(st *scanState, total int) (need int64, ok bool) {
	switch q.kind {
	case syntax.QuantAll:
		return int64(total), true
	case syntax.QuantAny:
		return 1, true
	case syntax.QuantNone:
		return 0, true
	case syntax.QuantExpr:
		return q.n(st)
	}
	p, ok := q.n(st)
	if !ok {
		return 0, false
	}
	// found*100 >= p*total, as a ceiling on the count.
	n := (p*int64(total) + 99) / 100
	return n, true
}

// decide evaluates an `of` expression over n items, item(i) telling
// whether item i is true. yara 4.2.3: `none` and a quantity of 0 mean
// "no item is true"; otherwise at least the quantity must be true (`all`:
// every item).
func (q quant) decide(st *scanState, n int, item func(i int) bool) bool {
	return q.decideN(st, int64(n), false, func(i int64) bool { return item(int(i)) })
}

// decideN evaluates a quantifier over n items. For loops (`for ... of`,
// `for ... in`) yara 4.2.3 counts the true bodies and compares the count
// with the quantity, so `none` (a quantity of 0) holds as soon as there is
// one iteration; a loop over nothing is false. Undefined bodies count as
// false.
func (q quant) decideN(st *scanState, n int64, loop bool, item func(i int64) bool) bool {
	if loop && n == 0 {
		return false
	}
	need, ok := q.need(st, int(min(n, 1<<40)))
	if !ok {
		return false
	}
	exactZero := !loop && need == 0 && q.kind != syntax.QuantPercent
	count := int64(0)
	for i := int64(0); i < n; i++ {
		if loop && st.tick() {
			return false
		}
		if st.err != nil {
			return false
		}
		t := item(i)
		switch {
		case exactZero:
			if t {
				return false
			}
		case q.kind == syntax.QuantAll:
			if !t {
				return false
			}
		default:
			if t {
				count++
			}
			if count >= need {
				return true
			}
		}
	}
	if exactZero || q.kind == syntax.QuantAll {
		return true
	}
	return count >= need
}

func (rc *ruleCtx) of(e *syntax.Of) cexpr {
	var lo, hi intFn
	if e.In != nil {
		var ok bool
		lo, hi, ok = rc.rangeFns(e.In)
		if !ok {
			return bad
		}
	}
	if e.Rules != nil {
		rs, ok := rc.ruleSet(e.Rules)
		if !ok {
			return bad
		}
		q, ok := rc.quantifier(e.Q, len(rs))
		if !ok {
			return bad
		}
		return cexpr{t: tBool, i: func(st *scanState) (int64, bool) {
			return b2i(q.decide(st, len(rs), func(i int) bool { return st.ruleRes[rs[i]] })), true
		}, pos: e.Pos}
	}
	set, ok := rc.stringSet(e.Strings)
	if !ok {
		return bad
	}
	// yara keeps fast mode's single match even for `of ... in (range)`.
	q, ok := rc.quantifier(e.Q, len(set))
	if !ok {
		return bad
	}
	if lo != nil {
		return cexpr{t: tBool, i: func(st *scanState) (int64, bool) {
			l, ok1 := lo(st)
			h, ok2 := hi(st)
			if !ok1 || !ok2 {
				return 0, true
			}
			return b2i(q.decide(st, len(set), func(i int) bool { return st.foundIn(set[i], l, h) })), true
		}, pos: e.Pos}
	}
	return cexpr{t: tBool, i: func(st *scanState) (int64, bool) {
		return b2i(q.decide(st, len(set), func(i int) bool { return len(st.matches[set[i]]) > 0 })), true
	}, pos: e.Pos}
}

func (rc *ruleCtx) forOf(e *syntax.ForOf) cexpr {
	set, ok := rc.stringSet(e.Strings)
	if !ok {
		return bad
	}
	q, ok := rc.quantifier(e.Q, len(set))
	if !ok {
		return bad
	}
	if rc.loops >= maxLoopDepth {
		rc.errorf(e.Pos, CodeTooComplex, "loop nesting limit exceeded")
		return bad
	}
	slot := rc.allocSlots(1)
	rc.anonStk = append(rc.anonStk, anonScope{slot: slot, set: set})
	rc.loops++
	body := rc.expr(e.Body)
	rc.loops--
	rc.anonStk = rc.anonStk[:len(rc.anonStk)-1]
	rc.slots--
	if body.t == tBad {
		return bad
	}
	b := rc.toBool(body)
	return cexpr{t: tBool, i: func(st *scanState) (int64, bool) {
		return b2i(q.decideN(st, int64(len(set)), true, func(i int64) bool {
			st.vars[slot].i = int64(set[i])
			v, ok := b(st)
			return ok && v != 0
		})), true
	}, pos: e.Pos}
}

func (rc *ruleCtx) allocSlots(n int) int {
	s := rc.slots
	rc.slots += n
	if rc.slots > rc.maxSlots {
		rc.maxSlots = rc.slots
	}
	return s
}

// fixedUse tracks whether every use of a string is `at` one constant.
type fixedUse struct {
	off      int64
	set, dis bool
}

func (rc *ruleCtx) noteFixed(si int, at *int64) {
	if rc.fixed == nil {
		rc.fixed = map[int]*fixedUse{}
	}
	f := rc.fixed[si]
	if f == nil {
		f = &fixedUse{}
		rc.fixed[si] = f
	}
	switch {
	case at == nil:
		f.dis = true
	case !f.set:
		f.set, f.off = true, *at
	case f.off != *at:
		f.dis = true
	}
}
