package difftest

import (
	"fmt"
	"math"
	"strings"
)

// intExpr is a generated integer expression. When konst is set, yara folds
// it at compile time to val, and compile-time errors (division by zero,
// overflow, negative shifts) must be avoided by the generator.
type intExpr struct {
	src   string
	konst bool
	val   int64
}

// paren parenthesizes a boolean operand, usually: without parentheses
// the text parses by YARA's precedence rules, the same in both engines.
func (g *ruleGen) paren(s string) string {
	if g.chance(8) {
		return s
	}
	return "(" + s + ")"
}

// iparen parenthesizes an integer operand, always unless it is atomic:
// the generator folds constants as yara does (to avoid its compile-time
// errors) and its tree must be the one yara parses.
func (g *ruleGen) iparen(s string) string {
	if !strings.ContainsAny(s, " -~") && g.chance(4) {
		return s
	}
	return "(" + s + ")"
}

// boolExpr generates a boolean expression.
func (g *ruleGen) boolExpr(depth int) string {
	if depth >= maxCondDepth {
		return g.boolLeaf()
	}
	switch k := g.r.IntN(20); {
	case k < 3:
		return g.paren(g.boolExpr(depth+1)) + " and " + g.paren(g.boolExpr(depth+1))
	case k < 6:
		return g.paren(g.boolExpr(depth+1)) + " or " + g.paren(g.boolExpr(depth+1))
	case k < 7:
		return "not " + "(" + g.boolExpr(depth+1) + ")"
	case k < 9 && g.f.Of:
		return g.ofExpr(depth)
	case k < 11 && g.f.ForLoops && g.loopDepth < maxLoopNesting:
		if g.chance(2) && !g.inForOf && len(g.strs) > 0 {
			return g.forOf(depth)
		}
		return g.forIn(depth)
	case k < 13:
		return g.compare(depth)
	case k < 14 && g.f.StringOps:
		return g.strOp()
	case k < 15:
		return "defined " + g.iparen(g.intExpr(depth+1).src)
	default:
		return g.boolLeaf()
	}
}

func (g *ruleGen) boolLeaf() string {
	switch k := g.r.IntN(14); {
	case k < 1:
		return g.pick("true", "false")
	case k < 2 && len(g.rules) > 0:
		return g.rules[g.r.IntN(len(g.rules))]
	case k < 3 && g.f.Externals:
		return "eb"
	case k < 4:
		return g.compare(maxCondDepth)
	case k < 5 && g.inForOf:
		switch g.r.IntN(4) {
		case 0:
			return "$"
		case 1:
			return "$ at " + g.smallInt().src
		case 2:
			return "$ in " + g.rangeExpr()
		default:
			return g.pick("#", "@", "!") + " " + g.pick("==", ">", "<", "!=") + " " + g.smallInt().src
		}
	}
	if id := g.strRef(); id != "" {
		switch g.r.IntN(5) {
		case 0:
			return "$" + id + " at " + g.smallInt().src
		case 1:
			return "$" + id + " in " + g.rangeExpr()
		default:
			return "$" + id
		}
	}
	return g.compare(maxCondDepth)
}

// strRef returns the name (without $) of a random named string of the
// rule and marks it referenced, or "" when there is none.
func (g *ruleGen) strRef() string {
	var named []string
	for _, s := range g.strs {
		if s.id != "$" {
			named = append(named, s.id)
		}
	}
	if len(named) == 0 {
		return ""
	}
	id := named[g.r.IntN(len(named))]
	g.referenced[id] = true
	return id[1:]
}

func (g *ruleGen) compare(depth int) string {
	op := g.pick("==", "!=", "<", "<=", ">", ">=")
	if g.f.Floats && g.chance(10) {
		return g.floatExpr(depth+1) + " " + op + " " + g.iparen(g.intExpr(depth+1).src)
	}
	a := g.intExpr(depth + 1)
	b := g.intExpr(depth + 1)
	return g.iparen(a.src) + " " + op + " " + g.iparen(b.src)
}

func (g *ruleGen) floatExpr(depth int) string {
	lit := g.pick("1.5", "0.5", "2.0", "0.0", "100.25", "-3.5")
	k := g.r.IntN(4)
	if k == 3 {
		return lit
	}
	i := "(" + g.intExpr(depth).src + ")"
	switch k {
	case 0:
		return "(" + i + " * " + lit + ")"
	case 1:
		return "(" + i + " \\ " + g.pick("2.0", "0.5", "3.0") + ")"
	default:
		return "(" + lit + " + " + i + ")"
	}
}

// rangeExpr returns "(lo..hi)". A constant range with lo > hi (which
// yara accepts) is generated only with Features.ReversedRanges.
func (g *ruleGen) rangeExpr() string {
	lo, hi := g.smallInt(), g.smallInt()
	if lo.konst && hi.konst && lo.val > hi.val && !g.f.ReversedRanges {
		lo, hi = hi, lo
	}
	return "(" + lo.src + ".." + hi.src + ")"
}

// smallInt returns an expression with a small value: what ranges,
// offsets and loop bounds use, so that loops stay short.
func (g *ruleGen) smallInt() intExpr {
	switch k := g.r.IntN(10); {
	case k < 5:
		v := int64(g.r.IntN(12))
		return intExpr{fmt.Sprint(v), true, v}
	case k < 6:
		return intExpr{src: "filesize"}
	case k < 7:
		v := g.r.IntN(4)
		return intExpr{src: fmt.Sprintf("filesize - %d", v)}
	case k < 8 && len(g.loopVars) > 0:
		return intExpr{src: g.loopVars[g.r.IntN(len(g.loopVars))]}
	case k < 9:
		if id := g.strRef(); id != "" {
			return intExpr{src: "#" + id}
		}
	}
	v := int64(g.r.IntN(300))
	return intExpr{fmt.Sprint(v), true, v}
}

func (g *ruleGen) intLeaf() intExpr {
	switch k := g.r.IntN(20); {
	case k < 5:
		return g.smallInt()
	case k < 7:
		lits := []struct {
			s string
			v int64
		}{{"0", 0}, {"1", 1}, {"-1", -1}, {"0x7FFFFFFFFFFFFFFF", math.MaxInt64}, {"0x10", 16},
			{"1KB", 1024}, {"2MB", 2 << 20}, {"0o17", 15}, {"255", 255}, {"0x80000000", 0x80000000}, {"-0x7FFFFFFFFFFFFFFF", -math.MaxInt64}}
		l := lits[g.r.IntN(len(lits))]
		return intExpr{l.s, true, l.v}
	case k < 10:
		if id := g.strRef(); id != "" {
			switch g.r.IntN(6) {
			case 0:
				return intExpr{src: "#" + id}
			case 1:
				return intExpr{src: "@" + id}
			case 2:
				return intExpr{src: "!" + id}
			case 3:
				return intExpr{src: "@" + id + "[" + g.smallInt().src + "]"}
			case 4:
				return intExpr{src: "!" + id + "[" + g.smallInt().src + "]"}
			default:
				// yara 4.2.3 fails at scan time (internal error 31) on
				// "#a in (lo..hi)" with lo != 0: only 0 is comparable.
				return intExpr{src: "#" + id + " in (0.." + g.smallInt().src + ")"}
			}
		}
	case k < 13 && g.f.IntReads:
		fn := g.pick("int8", "int16", "int32", "uint8", "uint16", "uint32",
			"int8be", "int16be", "int32be", "uint8be", "uint16be", "uint32be")
		return intExpr{src: fn + "(" + g.smallInt().src + ")"}
	case k < 14 && g.f.Externals:
		return intExpr{src: "ei"}
	case k < 15 && g.inForOf:
		return intExpr{src: g.pick("#", "@", "!")}
	case k < 16:
		return intExpr{src: "filesize"}
	}
	return g.smallInt()
}

// intExpr generates an integer expression, avoiding what yara rejects
// when it folds constants.
func (g *ruleGen) intExpr(depth int) intExpr {
	if depth >= maxCondDepth || !g.f.Arithmetic || g.chance(2) {
		return g.intLeaf()
	}
	if g.chance(8) {
		a := g.intExpr(depth + 1)
		if g.chance(2) {
			return intExpr{"~" + g.iparen(a.src), a.konst, ^a.val}
		}
		if a.konst && a.val == math.MinInt64 {
			return a
		}
		return intExpr{"-" + "(" + a.src + ")", a.konst, -a.val}
	}
	a := g.intExpr(depth + 1)
	b := g.intExpr(depth + 1)
	op := g.pick("+", "-", "*", "\\", "%", "&", "|", "^", "<<", ">>")
	e := intExpr{src: g.iparen(a.src) + " " + op + " " + g.iparen(b.src)}
	if op == "\\" || op == "%" || op == "<<" || op == ">>" {
		// Always parenthesized: the generator's idea of which operand is
		// a constant zero or a big shift must match yara's parse.
		e.src = "(" + a.src + ") " + op + " (" + b.src + ")"
	}
	if b.konst && (op == "<<" || op == ">>") && b.val >= 64 {
		// yara folds "x << 64+" and "x >> 64+" to the constant 0 even
		// when x is not constant (and then rejects a division by it).
		return intExpr{src: e.src, konst: true, val: 0}
	}
	if !a.konst || !b.konst {
		shiftDivisor := (op == "\\" || op == "%") && !b.konst &&
			(strings.Contains(b.src, "<<") || strings.Contains(b.src, ">>"))
		if b.konst && (op == "\\" || op == "%") && b.val == 0 || shiftDivisor {
			// A divisor that is a constant zero, or a shift (yara 4.2.3
			// reports "division by zero" for some non-constant shifts, for
			// example "x \ (ei >> (1 >> 15))"), is made a sum with
			// filesize; b is kept, it may reference strings.
			e.src = "(" + a.src + ") " + op + " (filesize - " + fmt.Sprint(g.r.IntN(5)) + " + (" + b.src + "))"
		}
		if b.konst && (op == "<<" || op == ">>") && b.val < 0 {
			e.src = g.iparen(a.src) + " " + op + " " + fmt.Sprint(g.r.IntN(70))
		}
		return e
	}
	// Both constant: fold as yara does and avoid its errors.
	x, y := a.val, b.val
	e.konst = true
	var ok = true
	switch op {
	case "+":
		e.val = x + y
		ok = !((y > 0 && x > math.MaxInt64-y) || (y < 0 && x < math.MinInt64-y))
	case "-":
		e.val = x - y
		ok = !((y < 0 && x > math.MaxInt64+y) || (y > 0 && x < math.MinInt64+y))
	case "*":
		e.val = x * y
		ok = x == 0 || (e.val/x == y && !(x == -1 && y == math.MinInt64) && !(y == -1 && x == math.MinInt64))
	case "\\", "%":
		ok = y != 0 && !(x == math.MinInt64 && y == -1)
		if ok {
			if op == "\\" {
				e.val = x / y
			} else {
				e.val = x % y
			}
		}
	case "&":
		e.val = x & y
	case "|":
		e.val = x | y
	case "^":
		e.val = x ^ y
	case "<<", ">>":
		ok = y >= 0
		if ok {
			switch {
			case y >= 64 && op == "<<":
				e.val = 0
			case y >= 64:
				e.val = 0
			case op == "<<":
				e.val = x << uint(y)
			default:
				e.val = x >> uint(y)
			}
		}
	}
	if !ok {
		// Replace by a run-time expression with the same operands.
		return intExpr{src: "(" + a.src + ") " + op + " (filesize + (" + b.src + "))"}
	}
	return e
}

func (g *ruleGen) strExpr() string {
	if g.f.Externals && g.chance(2) {
		return "es"
	}
	var b []byte
	for n := g.r.IntN(5); n > 0; n-- {
		b = append(b, "abcAB \x00\\"[g.r.IntN(8)])
	}
	return quoteText(b)
}

func (g *ruleGen) strOp() string {
	op := g.pick("==", "!=", "contains", "icontains", "startswith", "istartswith",
		"endswith", "iendswith", "iequals", "matches")
	if op == "matches" {
		s := &genString{}
		saved := g.f
		g.f.TextModifiers = false
		g.genRegex(s)
		g.f = saved
		re := "/" + renderRe(s.re) + "/"
		if s.reI {
			re += "i"
		}
		if s.reDot {
			re += "s"
		}
		return g.strExpr() + " matches " + re
	}
	return g.strExpr() + " " + op + " " + g.strExpr()
}

// stringSet generates a string set for of / for..of and marks what it
// references.
func (g *ruleGen) stringSet() string {
	if g.chance(3) {
		g.referenced["them"] = true
		return "them"
	}
	saved := map[string]bool{}
	for k, v := range g.referenced {
		saved[k] = v
	}
	var items []string
	for k := 1 + g.r.IntN(3); k > 0; k-- {
		if g.chance(3) {
			p := "$" + g.pick("a", "b", "s", "")
			// A wildcard must match at least one string.
			matched := false
			for _, s := range g.strs {
				if s.id != "$" && strings.HasPrefix(s.id, p) {
					matched = true
				}
			}
			if matched {
				items = append(items, p+"*")
				g.referenced[p+"*"] = true
				continue
			}
		}
		if id := g.strRef(); id != "" {
			items = append(items, "$"+id)
		}
	}
	if len(items) == 0 {
		g.referenced["them"] = true
		return "them"
	}
	if !g.f.DuplicateSetItems {
		// Only what stays in the set is referenced.
		items = g.distinctItems(items)
		g.referenced = saved
		for _, it := range items {
			g.referenced[it] = true
		}
	}
	return "(" + strings.Join(items, ", ") + ")"
}

// distinctItems drops repeated items, and keeps a wildcard alone, so
// that no string or rule is in a set twice.
func (g *ruleGen) distinctItems(items []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, it := range items {
		if strings.HasSuffix(it, "*") {
			return []string{it}
		}
		if !seen[it] {
			seen[it] = true
			out = append(out, it)
		}
	}
	return out
}

func (g *ruleGen) quantifier() string {
	switch g.r.IntN(6) {
	case 0:
		return "all"
	case 1:
		return "any"
	case 2:
		return "none"
	case 3:
		if !g.inForOf && g.allowPercent {
			return fmt.Sprintf("%d%%", g.pick4(1, 50, 100, 33))
		}
		return "any"
	default:
		if g.f.ZeroOf {
			return fmt.Sprint(g.r.IntN(4))
		}
		return fmt.Sprint(1 + g.r.IntN(3))
	}
}

func (g *ruleGen) pick4(a, b, c, d int) int { return []int{a, b, c, d}[g.r.IntN(4)] }

func (g *ruleGen) ofExpr(depth int) string {
	if g.f.RuleSets && len(g.rules) > 0 && (len(g.strs) == 0 || g.chance(3)) {
		var items []string
		for k := 1 + g.r.IntN(2); k > 0; k-- {
			if g.chance(3) {
				// A rule wildcard: later rules must not match it (yara
				// rejects that), see ruleName.
				p := g.rules[g.r.IntN(len(g.rules))][:1]
				g.wildcards[p] = true
				items = append(items, p+g.tag+"*")
			} else {
				items = append(items, g.rules[g.r.IntN(len(g.rules))])
			}
		}
		if !g.f.DuplicateSetItems {
			items = g.distinctItems(items)
		}
		g.allowPercent = true
		q := g.quantifier()
		g.allowPercent = false
		return q + " of (" + strings.Join(items, ", ") + ")"
	}
	if len(g.strs) == 0 {
		return g.compare(depth)
	}
	g.allowPercent = true
	q := g.quantifier()
	g.allowPercent = false
	set := g.stringSet()
	if g.chance(4) && !strings.HasSuffix(q, "%") { // yara 4.2.3: no "N% of ... in"
		return q + " of " + set + " in " + g.rangeExpr()
	}
	return q + " of " + set
}

func (g *ruleGen) forOf(depth int) string {
	q := g.quantifier()
	if q == "none" && !g.f.ForNone {
		q = "all"
	}
	set := g.stringSet()
	g.inForOf = true
	g.loopDepth++
	body := g.boolExpr(depth + 1)
	g.loopDepth--
	g.inForOf = false
	return "for " + q + " of " + set + " : ( " + body + " )"
}

func (g *ruleGen) forIn(depth int) string {
	v := []string{"i", "j", "k"}[len(g.loopVars)]
	q := g.quantifier()
	if strings.HasSuffix(q, "%") || q == "none" && !g.f.ForNone {
		q = "any"
	}
	var over string
	if g.chance(2) {
		over = g.rangeExpr()
	} else {
		var items []string
		for k := 1 + g.r.IntN(4); k > 0; k-- {
			items = append(items, g.smallInt().src)
		}
		over = "(" + strings.Join(items, ", ") + ")"
	}
	g.loopVars = append(g.loopVars, v)
	g.loopDepth++
	body := g.boolExpr(depth + 1)
	g.loopDepth--
	g.loopVars = g.loopVars[:len(g.loopVars)-1]
	return "for " + q + " " + v + " in " + over + " : ( " + body + " )"
}
