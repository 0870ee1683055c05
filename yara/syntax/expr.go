package syntax

// This file parses conditions. yara's grammar has two levels: boolean
// expressions (and/or/not, comparisons, string references, of/for, true,
// false) and "primary" expressions (numbers, strings, arithmetic,
// identifiers). Comparison and arithmetic operands must be primary, so
// `1 == 1 == true`, `true == true` and `(1 == 1) + 2` are syntax errors, as
// in yara. Parentheses take the level of what they enclose.

// isBoolean reports whether e is a boolean-level expression in yara's
// grammar (not usable as an operand of comparisons or arithmetic).
func isBoolean(e Expr) bool {
	switch e := e.(type) {
	case *BoolLit, *StringRef, *Of, *ForOf, *ForIn:
		return true
	case *Unary:
		return e.Op == OpNot || e.Op == OpDefined
	case *Binary:
		return e.Op < OpAdd
	case *Paren:
		return isBoolean(e.X)
	}
	return false
}

// primary checks that e may be an operand of arithmetic or a comparison.
func (p *parser) primary(e Expr) Expr {
	if isBoolean(e) {
		p.fail(e.Position(), CodeUnexpected, "syntax error, boolean expression used as operand")
	}
	return e
}

// operatorOperand checks that x, followed by the operator at the current
// token, may be its left operand; if not, the operator is unexpected.
func (p *parser) operatorOperand(x Expr) {
	if isBoolean(x) {
		p.unexpected()
	}
}

func (p *parser) expr() Expr {
	p.enter()
	defer p.leave()
	x := p.and()
	for p.isKw("or") {
		pos := p.tok.pos
		p.next()
		x = &Binary{Pos: pos, Op: OpOr, X: x, Y: p.and()}
	}
	return x
}

func (p *parser) and() Expr {
	x := p.not()
	for p.isKw("and") {
		pos := p.tok.pos
		p.next()
		x = &Binary{Pos: pos, Op: OpAnd, X: x, Y: p.not()}
	}
	return x
}

func (p *parser) not() Expr {
	if p.isKw("not") || p.isKw("defined") {
		p.enter()
		defer p.leave()
		pos, op := p.tok.pos, OpNot
		if p.tok.text == "defined" {
			op = OpDefined
		}
		p.next()
		return &Unary{Pos: pos, Op: op, X: p.not()}
	}
	return p.comparison()
}

var cmpOps = map[string]Op{
	"contains": OpContains, "icontains": OpIContains, "startswith": OpStartsWith,
	"istartswith": OpIStartsWith, "endswith": OpEndsWith, "iendswith": OpIEndsWith,
	"iequals": OpIEquals, "matches": OpMatches,
}

// cmpOp returns the comparison operator at the current token, if any.
func (p *parser) cmpOp() Op {
	switch p.tok.kind {
	case tEq:
		return OpEq
	case tNe:
		return OpNe
	case tLt:
		return OpLt
	case tLe:
		return OpLe
	case tGt:
		return OpGt
	case tGe:
		return OpGe
	case tKeyword:
		return cmpOps[p.tok.text]
	}
	return OpInvalid
}

func (p *parser) comparison() Expr {
	x := p.arith(0)
	if p.isKw("of") {
		p.operatorOperand(x)
		x = p.of(&Quantifier{Pos: x.Position(), Kind: QuantExpr, Expr: x})
	} else if p.tok.kind == tPercent {
		p.operatorOperand(x)
		q := &Quantifier{Pos: x.Position(), Kind: QuantPercent, Expr: x}
		p.next()
		x = p.of(q)
	}
	op := p.cmpOp()
	if op == OpInvalid {
		return x
	}
	pos := p.tok.pos
	p.operatorOperand(x)
	p.next()
	var y Expr
	if op == OpMatches {
		if p.tok.kind != tRegex {
			p.unexpected()
		}
		y = &RegexpLit{Pos: p.tok.pos, Regex: p.tok.re}
		p.next()
	} else {
		y = p.primary(p.arith(0))
	}
	if p.cmpOp() != OpInvalid || p.isKw("of") || p.tok.kind == tPercent {
		p.unexpected()
	}
	return &Binary{Pos: pos, Op: op, X: x, Y: y}
}

// binPrec is the precedence of arithmetic and bitwise operators, higher
// binds tighter; 0 means not such an operator.
func binPrec(k tokKind) (Op, int) {
	switch k {
	case tPipe:
		return OpBitOr, 1
	case tCaret:
		return OpBitXor, 2
	case tAmp:
		return OpBitAnd, 3
	case tShl:
		return OpShl, 4
	case tShr:
		return OpShr, 4
	case tPlus:
		return OpAdd, 5
	case tMinus:
		return OpSub, 5
	case tStar:
		return OpMul, 6
	case tBackslash:
		return OpDiv, 6
	case tPercent:
		return OpMod, 6
	}
	return OpInvalid, 0
}

// arith parses a left-associative chain of operators of precedence at
// least min.
func (p *parser) arith(min int) Expr {
	x := p.unary()
	for {
		op, prec := binPrec(p.tok.kind)
		if prec == 0 || prec < min {
			return x
		}
		if op == OpMod {
			if t := p.peek(); t.kind == tKeyword && t.text == "of" {
				return x // `50% of`
			}
		}
		pos := p.tok.pos
		p.operatorOperand(x)
		p.next()
		y := p.primary(p.arith(prec + 1))
		x = &Binary{Pos: pos, Op: op, X: x, Y: y}
	}
}

func (p *parser) unary() Expr {
	if p.tok.kind == tMinus || p.tok.kind == tTilde {
		p.enter()
		defer p.leave()
		pos, op := p.tok.pos, OpNeg
		if p.tok.kind == tTilde {
			op = OpBitNot
		}
		p.next()
		return &Unary{Pos: pos, Op: op, X: p.primary(p.unary())}
	}
	return p.operand()
}

// operand parses a primary expression, a string reference or an
// expression introduced by a keyword (of, for).
func (p *parser) operand() Expr {
	p.enter()
	defer p.leave()
	t := p.tok
	switch t.kind {
	case tLParen:
		p.next()
		x := p.expr()
		p.expect(tRParen)
		return &Paren{Pos: t.pos, X: x}
	case tInt:
		p.next()
		return &IntLit{Pos: t.pos, Value: t.ival}
	case tFloat:
		p.next()
		return &FloatLit{Pos: t.pos, Value: t.fval}
	case tString:
		p.next()
		v := append([]byte{}, t.sval...) // sval may alias the source
		return &StringLit{Pos: t.pos, Value: v}
	case tRegex:
		// yara types a regexp as a primary expression: it is how module
		// functions such as pe.exports(/re/) receive one.
		p.next()
		return &RegexpLit{Pos: t.pos, Regex: t.re}
	case tStringID:
		p.next()
		r := &StringRef{Pos: t.pos, ID: t.text}
		if p.isKw("at") {
			p.next()
			r.At = p.primary(p.arith(0))
		} else if p.isKw("in") {
			p.next()
			r.In = p.rangeExpr()
		}
		return r
	case tCount:
		p.next()
		c := &StringCount{Pos: t.pos, ID: "$" + t.text[1:]}
		if p.isKw("in") {
			p.next()
			c.In = p.rangeExpr()
		}
		return c
	case tOffset, tLength:
		p.next()
		id := "$" + t.text[1:]
		var idx Expr
		if p.tok.kind == tLBrack {
			p.next()
			idx = p.primary(p.arith(0))
			p.expect(tRBrack)
		}
		if t.kind == tOffset {
			return &StringOffset{Pos: t.pos, ID: id, Index: idx}
		}
		return &StringLength{Pos: t.pos, ID: id, Index: idx}
	case tIdent:
		return p.identifier()
	case tKeyword:
		return p.keywordOperand()
	}
	p.unexpected()
	return nil
}

func (p *parser) keywordOperand() Expr {
	t := p.tok
	switch t.text {
	case "true", "false":
		p.next()
		return &BoolLit{Pos: t.pos, Value: t.text == "true"}
	case "filesize", "entrypoint":
		p.next()
		return &Keyword{Pos: t.pos, Name: t.text}
	case "all", "any", "none":
		p.next()
		k := map[string]QuantKind{"all": QuantAll, "any": QuantAny, "none": QuantNone}[t.text]
		return p.of(&Quantifier{Pos: t.pos, Kind: k})
	case "for":
		return p.forExpr()
	}
	if isIntFunc(t.text) {
		p.next()
		p.expect(tLParen)
		arg := p.primary(p.arith(0))
		p.expect(tRParen)
		return &Call{Pos: t.pos, Fun: &Ident{Pos: t.pos, Name: t.text}, Args: []Expr{arg}}
	}
	p.unexpected()
	return nil
}

// identifier parses `a`, `a.b`, `a[i]`, `a(args)` and chains of those.
func (p *parser) identifier() Expr {
	t := p.expect(tIdent)
	var x Expr = &Ident{Pos: t.pos, Name: t.text}
	for {
		switch p.tok.kind {
		case tDot:
			p.next()
			n := p.expect(tIdent)
			x = &Member{Pos: t.pos, X: x, Name: n.text}
		case tLBrack:
			p.next()
			i := p.primary(p.arith(0))
			p.expect(tRBrack)
			x = &Index{Pos: t.pos, X: x, Index: i}
		case tLParen:
			p.next()
			c := &Call{Pos: t.pos, Fun: x}
			for p.tok.kind != tRParen {
				if len(c.Args) > 0 {
					p.expect(tComma)
				}
				c.Args = append(c.Args, p.expr())
			}
			p.next()
			x = c
		default:
			return x
		}
	}
}

// rangeExpr parses `(lo..hi)`.
func (p *parser) rangeExpr() *Range {
	t := p.expect(tLParen)
	lo := p.primary(p.arith(0))
	p.expect(tDotDot)
	hi := p.primary(p.arith(0))
	p.expect(tRParen)
	return &Range{Pos: t.pos, Lo: lo, Hi: hi}
}

// of parses the rest of `Q of set [in range]` after the quantifier.
func (p *parser) of(q *Quantifier) Expr {
	p.expectKw("of")
	o := &Of{Pos: q.Pos, Q: q}
	if p.tok.kind == tLParen && p.peek().kind == tIdent {
		o.Rules = p.ruleSet()
		return o
	}
	o.Strings = p.stringSet()
	if p.isKw("in") {
		p.next()
		o.In = p.rangeExpr()
	}
	return o
}

// stringSet parses `them` or `($a, $b*, $*)`.
func (p *parser) stringSet() *StringSet {
	s := &StringSet{Pos: p.tok.pos}
	if p.isKw("them") {
		p.next()
		s.Them = true
		return s
	}
	p.expect(tLParen)
	for {
		t := p.tok
		if t.kind != tStringID && t.kind != tStringWild {
			p.unexpected()
		}
		p.next()
		s.Items = append(s.Items, SetItem{Pos: t.pos, Name: trimStar(t.text), Wildcard: t.kind == tStringWild})
		if p.tok.kind != tComma {
			break
		}
		p.next()
	}
	p.expect(tRParen)
	return s
}

func trimStar(s string) string {
	if len(s) > 0 && s[len(s)-1] == '*' {
		return s[:len(s)-1]
	}
	return s
}

// ruleSet parses `(rule1, prefix*)`.
func (p *parser) ruleSet() *RuleSet {
	s := &RuleSet{Pos: p.expect(tLParen).pos}
	for {
		t := p.expect(tIdent)
		it := SetItem{Pos: t.pos, Name: t.text}
		if p.tok.kind == tStar {
			p.next()
			it.Wildcard = true
		}
		s.Items = append(s.Items, it)
		if p.tok.kind != tComma {
			break
		}
		p.next()
	}
	p.expect(tRParen)
	return s
}

// forExpr parses `for Q of set : (E)` and `for Q v1, v2 in iter : (E)`.
// Unlike `of`, yara 4.2.3 does not accept a percentage after `for`.
func (p *parser) forExpr() Expr {
	pos := p.expectKw("for").pos
	q := &Quantifier{Pos: p.tok.pos}
	switch {
	case p.isKw("all"):
		q.Kind = QuantAll
		p.next()
	case p.isKw("any"):
		q.Kind = QuantAny
		p.next()
	case p.isKw("none"):
		q.Kind = QuantNone
		p.next()
	default:
		q.Kind = QuantExpr
		q.Expr = p.primary(p.arith(0))
	}
	if p.isKw("of") {
		p.next()
		f := &ForOf{Pos: pos, Q: q, Strings: p.stringSet()}
		f.Body = p.forBody()
		return f
	}
	f := &ForIn{Pos: pos, Q: q}
	for {
		f.Vars = append(f.Vars, p.expect(tIdent).text)
		if p.tok.kind != tComma {
			break
		}
		p.next()
	}
	p.expectKw("in")
	f.Iter = p.iterator()
	f.Body = p.forBody()
	return f
}

// iterator parses a range `(a..b)`, an enumeration `(a, b, c)` or an
// identifier chain naming a module array or dictionary.
func (p *parser) iterator() Iterator {
	if p.tok.kind != tLParen {
		if p.tok.kind != tIdent {
			p.unexpected()
		}
		return p.identifier()
	}
	pos := p.tok.pos
	p.next()
	first := p.primary(p.arith(0))
	if p.tok.kind == tDotDot {
		p.next()
		hi := p.primary(p.arith(0))
		p.expect(tRParen)
		return &Range{Pos: pos, Lo: first, Hi: hi}
	}
	e := &Enum{Pos: pos, Items: []Expr{first}}
	for p.tok.kind == tComma {
		p.next()
		e.Items = append(e.Items, p.primary(p.arith(0)))
	}
	p.expect(tRParen)
	return e
}

// forBody parses `: ( E )` and returns E (the parentheses are part of the
// for syntax, so no *Paren is kept).
func (p *parser) forBody() Expr {
	p.expect(tColon)
	p.expect(tLParen)
	x := p.expr()
	p.expect(tRParen)
	return x
}
