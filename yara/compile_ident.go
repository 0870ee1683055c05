package yara

import (
	"encoding/binary"

	"vigil/yara/module"
	"vigil/yara/syntax"
)

// loopVar is a variable bound by a for..in loop.
type loopVar struct {
	name string
	slot int
	t    typ
	mt   *module.Type
}

// slotExpr reads a loop variable slot.
func slotExpr(v loopVar, pos syntax.Pos) cexpr {
	s := v.slot
	e := cexpr{t: v.t, mt: v.mt, pos: pos}
	switch v.t {
	case tInt, tBool:
		e.i = func(st *scanState) (int64, bool) { x := &st.vars[s]; return x.i, x.k != kUndef }
	case tFloat:
		e.f = func(st *scanState) (float64, bool) { x := &st.vars[s]; return x.f, x.k != kUndef }
	case tString:
		e.s = func(st *scanState) (string, bool) { x := &st.vars[s]; return x.s, x.k != kUndef }
	default:
		e.o = func(st *scanState) (any, bool) { x := &st.vars[s]; return x.o, x.k != kUndef }
	}
	return e
}

func (rc *ruleCtx) ident(e *syntax.Ident) cexpr {
	for i := len(rc.scopes) - 1; i >= 0; i-- {
		if rc.scopes[i].name == e.Name {
			return slotExpr(rc.scopes[i], e.Pos)
		}
	}
	if ri, ok := rc.c.ruleNames[rc.ns][e.Name]; ok {
		return cexpr{t: tBool, i: func(st *scanState) (int64, bool) { return b2i(st.ruleRes[ri]), true }, pos: e.Pos}
	}
	if xi, ok := rc.c.extIndex[e.Name]; ok {
		v := rc.c.externals[xi].val
		ex := cexpr{pos: e.Pos}
		switch v.k {
		case kBool:
			ex.t = tBool
			ex.i = func(st *scanState) (int64, bool) { return st.ext[xi].i, true }
		case kInt:
			ex.t = tInt
			ex.i = func(st *scanState) (int64, bool) { return st.ext[xi].i, true }
		case kFloat:
			ex.t = tFloat
			ex.f = func(st *scanState) (float64, bool) { return st.ext[xi].f, true }
		case kString:
			ex.t = tString
			ex.s = func(st *scanState) (string, bool) { return st.ext[xi].s, true }
		}
		return ex
	}
	if rc.c.nsImports[rc.ns][e.Name] {
		slot := rc.c.modSlot[e.Name]
		m := rc.c.modList[slot]
		return cexpr{t: tStruct, mt: m.Type, o: func(st *scanState) (any, bool) {
			s, ok := st.module(slot)
			return s, ok
		}, pos: e.Pos}
	}
	switch e.Name {
	case "uint8", "uint16", "uint32", "uint8be", "uint16be", "uint32be",
		"int8", "int16", "int32", "int8be", "int16be", "int32be":
		rc.errorf(e.Pos, CodeCall, "%s needs an offset argument", e.Name)
		return bad
	}
	rc.errorf(e.Pos, CodeUndefIdent, "undefined identifier %q", e.Name)
	return bad
}

// typeOf maps a module type to a condition type.
func typeOf(mt *module.Type) typ {
	switch mt.Kind {
	case module.KindInt:
		return tInt
	case module.KindFloat:
		return tFloat
	case module.KindString:
		return tString
	case module.KindStruct:
		return tStruct
	case module.KindArray:
		return tArray
	case module.KindDict:
		return tDict
	case module.KindFunc:
		return tFunc
	}
	return tBad
}

// fromObj turns a getter of module values of type mt into a typed expression.
func fromObj(get objFn, mt *module.Type, pos syntax.Pos) cexpr {
	e := cexpr{t: typeOf(mt), mt: mt, pos: pos}
	switch e.t {
	case tInt:
		e.i = func(st *scanState) (int64, bool) {
			v, ok := get(st)
			if !ok {
				return 0, false
			}
			switch x := v.(type) {
			case int64:
				return x, true
			case bool:
				return b2i(x), true
			case int:
				return int64(x), true
			}
			return 0, false
		}
	case tFloat:
		e.f = func(st *scanState) (float64, bool) {
			v, ok := get(st)
			if !ok {
				return 0, false
			}
			switch x := v.(type) {
			case float64:
				return x, true
			case int64:
				return float64(x), true
			}
			return 0, false
		}
	case tString:
		e.s = func(st *scanState) (string, bool) {
			v, ok := get(st)
			if !ok {
				return "", false
			}
			s, ok := v.(string)
			return s, ok
		}
	default:
		e.o = get
	}
	return e
}

func (rc *ruleCtx) member(e *syntax.Member) cexpr {
	x := rc.expr(e.X)
	if x.t == tBad {
		return bad
	}
	if x.t != tStruct || x.mt == nil {
		rc.errorf(e.Pos, CodeField, "%q is not a structure", describe(e.X))
		return bad
	}
	f := x.mt.Lookup(e.Name)
	if f == nil {
		rc.errorf(e.Pos, CodeField, "invalid field name %q", e.Name)
		return bad
	}
	if f.Type.Kind == module.KindFunc {
		// o keeps the struct the function hangs off, for Context.Parent.
		return cexpr{t: tFunc, mt: f.Type, pos: e.Pos, cs: e.Name, o: x.o}
	}
	parent := x.o
	name := e.Name
	get := func(st *scanState) (any, bool) {
		p, ok := parent(st)
		if !ok {
			return nil, false
		}
		s, ok := p.(*module.Struct)
		if !ok || s == nil {
			return nil, false
		}
		v, ok := s.Fields[name]
		return v, ok && v != nil
	}
	return fromObj(get, f.Type, e.Pos)
}

func describe(e syntax.Expr) string {
	switch e := e.(type) {
	case *syntax.Ident:
		return e.Name
	case *syntax.Member:
		return describe(e.X) + "." + e.Name
	}
	return "expression"
}

func (rc *ruleCtx) index(e *syntax.Index) cexpr {
	x := rc.expr(e.X)
	if x.t == tBad {
		return bad
	}
	k := rc.expr(e.Index)
	if k.t == tBad {
		return bad
	}
	parent := x.o
	switch x.t {
	case tArray:
		if k.t != tInt {
			rc.errorf(e.Index.Position(), CodeType, "array index must be an integer")
			return bad
		}
		ki := k.i
		get := func(st *scanState) (any, bool) {
			p, ok := parent(st)
			if !ok {
				return nil, false
			}
			i, ok := ki(st)
			if !ok {
				return nil, false
			}
			a, ok := p.(*module.Array)
			if !ok || a == nil || i < 0 || i >= int64(len(a.Items)) {
				return nil, false
			}
			v := a.Items[i]
			return v, v != nil
		}
		return fromObj(get, x.mt.Elem, e.Pos)
	case tDict:
		if k.t != tString {
			rc.errorf(e.Index.Position(), CodeType, "dictionary key must be a string")
			return bad
		}
		ks := k.s
		get := func(st *scanState) (any, bool) {
			p, ok := parent(st)
			if !ok {
				return nil, false
			}
			key, ok := ks(st)
			if !ok {
				return nil, false
			}
			d, ok := p.(*module.Dict)
			if !ok || d == nil {
				return nil, false
			}
			v, ok := d.Items[key]
			return v, ok && v != nil
		}
		return fromObj(get, x.mt.Elem, e.Pos)
	}
	rc.errorf(e.Pos, CodeField, "%q is not an array or dictionary", describe(e.X))
	return bad
}

func (rc *ruleCtx) call(e *syntax.Call) cexpr {
	if id, ok := e.Fun.(*syntax.Ident); ok {
		if r, ok := rc.builtinRead(id.Name, e); ok {
			return r
		}
	}
	fn := rc.expr(e.Fun)
	if fn.t == tBad {
		return bad
	}
	if fn.t != tFunc {
		rc.errorf(e.Pos, CodeCall, "%q is not a function", describe(e.Fun))
		return bad
	}
	args := make([]cexpr, len(e.Args))
	sig := make([]byte, len(e.Args))
	for i, a := range e.Args {
		args[i] = rc.expr(a)
		switch args[i].t {
		case tBad:
			return bad
		case tInt:
			sig[i] = 'i'
		case tBool:
			sig[i] = 'b'
		case tFloat:
			sig[i] = 'f'
		case tString:
			sig[i] = 's'
		case tRegexp:
			sig[i] = 'r'
		default:
			rc.errorf(a.Position(), CodeCall, "wrong argument type %q", args[i].t.String())
			return bad
		}
	}
	var chosen *module.Func
	for _, o := range fn.mt.Overloads {
		if o.Args == string(sig) {
			chosen = o
			break
		}
	}
	if chosen == nil {
		rc.errorf(e.Pos, CodeCall, "wrong arguments for function %q", describe(e.Fun))
		return bad
	}
	getters := make([]func(*scanState) (any, bool), len(args))
	for i, a := range args {
		getters[i] = argGetter(a, chosen.Args[i])
	}
	impl := chosen.Impl
	parent := fn.o
	get := func(st *scanState) (any, bool) {
		vals := make([]module.Value, len(getters))
		for i, g := range getters {
			v, ok := g(st)
			if !ok {
				return nil, false
			}
			vals[i] = v
		}
		if impl == nil {
			return nil, false
		}
		st.mctx.Parent = nil
		if parent != nil {
			if p, ok := parent(st); ok {
				st.mctx.Parent, _ = p.(*module.Struct)
			}
		}
		r := impl(&st.mctx, vals)
		return r, r != nil
	}
	return fromObj(get, &module.Type{Kind: chosen.Result}, e.Pos)
}

func argGetter(a cexpr, want byte) func(*scanState) (any, bool) {
	switch {
	case want == 'f' && a.t != tFloat:
		fi := a.i
		return func(st *scanState) (any, bool) { v, ok := fi(st); return float64(v), ok }
	case a.t == tInt || a.t == tBool:
		fi := a.i
		return func(st *scanState) (any, bool) { v, ok := fi(st); return v, ok }
	case a.t == tFloat:
		ff := a.f
		return func(st *scanState) (any, bool) { v, ok := ff(st); return v, ok }
	case a.t == tString:
		fs := a.s
		return func(st *scanState) (any, bool) { v, ok := fs(st); return v, ok }
	}
	r := progRegexp{a.prog}
	return func(*scanState) (any, bool) { return r, true }
}

// builtinRead compiles uint8(x) and friends: read past the end is undefined.
func (rc *ruleCtx) builtinRead(name string, e *syntax.Call) (cexpr, bool) {
	type reader struct {
		size int
		f    func([]byte) int64
	}
	var rd reader
	switch name {
	case "uint8", "uint8be":
		rd = reader{1, func(b []byte) int64 { return int64(b[0]) }}
	case "int8", "int8be":
		rd = reader{1, func(b []byte) int64 { return int64(int8(b[0])) }}
	case "uint16":
		rd = reader{2, func(b []byte) int64 { return int64(binary.LittleEndian.Uint16(b)) }}
	case "int16":
		rd = reader{2, func(b []byte) int64 { return int64(int16(binary.LittleEndian.Uint16(b))) }}
	case "uint32":
		rd = reader{4, func(b []byte) int64 { return int64(binary.LittleEndian.Uint32(b)) }}
	case "int32":
		rd = reader{4, func(b []byte) int64 { return int64(int32(binary.LittleEndian.Uint32(b))) }}
	case "uint16be":
		rd = reader{2, func(b []byte) int64 { return int64(binary.BigEndian.Uint16(b)) }}
	case "int16be":
		rd = reader{2, func(b []byte) int64 { return int64(int16(binary.BigEndian.Uint16(b))) }}
	case "uint32be":
		rd = reader{4, func(b []byte) int64 { return int64(binary.BigEndian.Uint32(b)) }}
	case "int32be":
		rd = reader{4, func(b []byte) int64 { return int64(int32(binary.BigEndian.Uint32(b))) }}
	default:
		return cexpr{}, false
	}
	for _, s := range rc.scopes {
		if s.name == name {
			return cexpr{}, false
		}
	}
	if len(e.Args) != 1 {
		rc.errorf(e.Pos, CodeCall, "%s takes one argument", name)
		return bad, true
	}
	x := rc.expr(e.Args[0])
	if x.t == tBad {
		return bad, true
	}
	if x.t != tInt {
		rc.errorf(e.Args[0].Position(), CodeCall, "wrong type %q for %s argument", x.t.String(), name)
		return bad, true
	}
	fx, size, f := x.i, int64(rd.size), rd.f
	return cexpr{t: tInt, i: func(st *scanState) (int64, bool) {
		off, ok := fx(st)
		if !ok || off < 0 || off > int64(len(st.data))-size {
			return 0, false
		}
		return f(st.data[off : off+size]), true
	}, pos: e.Pos}, true
}
