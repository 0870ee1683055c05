package syntax

import (
	"fmt"
	"strconv"
	"strings"
)

// Dump returns a compact, deterministic text form of f, one line per
// declaration, for tests and debugging. The format is S-expression-like:
//
//	(import "pe")
//	(rule private global name (tags a b) (meta (k "v")) (strings ($a text "x" nocase)) (cond (and $a (> filesize 10))))
//
// Positions are not shown.
func (f *File) Dump() string {
	var b strings.Builder
	for _, d := range f.Decls {
		dumpDecl(&b, d)
		b.WriteByte('\n')
	}
	return b.String()
}

// DumpExpr returns the dump of one expression, as used inside File.Dump.
func DumpExpr(e Expr) string {
	var b strings.Builder
	dumpExpr(&b, e)
	return b.String()
}

func dumpDecl(b *strings.Builder, d Decl) {
	switch d := d.(type) {
	case *Import:
		fmt.Fprintf(b, "(import %s)", strconv.Quote(d.Module))
	case *Include:
		fmt.Fprintf(b, "(include %s)", strconv.Quote(d.Path))
	case *Rule:
		dumpRule(b, d)
	default:
		b.WriteString("(?decl)")
	}
}

func dumpRule(b *strings.Builder, r *Rule) {
	b.WriteString("(rule ")
	if r.Private {
		b.WriteString("private ")
	}
	if r.Global {
		b.WriteString("global ")
	}
	b.WriteString(r.Name)
	if len(r.Tags) > 0 {
		b.WriteString(" (tags " + strings.Join(r.Tags, " ") + ")")
	}
	if len(r.Meta) > 0 {
		b.WriteString(" (meta")
		for _, m := range r.Meta {
			b.WriteString(" (" + m.Key + " ")
			switch v := m.Value.(type) {
			case string:
				b.WriteString(strconv.Quote(v))
			case int64:
				b.WriteString(strconv.FormatInt(v, 10))
			case bool:
				b.WriteString(strconv.FormatBool(v))
			default:
				b.WriteString("?")
			}
			b.WriteByte(')')
		}
		b.WriteByte(')')
	}
	if len(r.Strings) > 0 {
		b.WriteString(" (strings")
		for _, s := range r.Strings {
			b.WriteByte(' ')
			dumpString(b, s)
		}
		b.WriteByte(')')
	}
	b.WriteString(" (cond ")
	dumpExpr(b, r.Condition)
	b.WriteString("))")
}

func dumpString(b *strings.Builder, s *StringDef) {
	b.WriteString("(" + s.ID + " ")
	switch s.Kind {
	case TextString:
		b.WriteString("text " + strconv.Quote(string(s.Text)))
	case HexPattern:
		b.WriteString("hex {")
		if s.Hex != nil {
			dumpHex(b, s.Hex.Tokens)
		}
		b.WriteByte('}')
	case RegexString:
		b.WriteString("regex ")
		dumpRegexp(b, s.Regex)
	}
	m := s.Modifiers
	flags := []struct {
		on   bool
		name string
	}{{m.Nocase, "nocase"}, {m.ASCII, "ascii"}, {m.Wide, "wide"}, {m.Fullword, "fullword"}, {m.Private, "private"}}
	for _, f := range flags {
		if f.on {
			b.WriteString(" " + f.name)
		}
	}
	if m.Xor {
		fmt.Fprintf(b, " xor(%d-%d)", m.XorMin, m.XorMax)
	}
	if m.Base64 {
		b.WriteString(" base64")
		if m.Base64Alphabet != "" {
			b.WriteString("(" + strconv.Quote(m.Base64Alphabet) + ")")
		}
	}
	if m.Base64Wide {
		b.WriteString(" base64wide")
		if m.Base64WideAlphabet != "" {
			b.WriteString("(" + strconv.Quote(m.Base64WideAlphabet) + ")")
		}
	}
	b.WriteByte(')')
}

func dumpRegexp(b *strings.Builder, r *Regexp) {
	if r == nil {
		b.WriteString("/?/")
		return
	}
	// Quote so that the dump stays on one line whatever the source holds.
	q := strconv.Quote(r.Source)
	b.WriteString("/" + q[1:len(q)-1] + "/")
	if r.Nocase {
		b.WriteByte('i')
	}
	if r.Dotall {
		b.WriteByte('s')
	}
}

const hexDigits = "0123456789ABCDEF"

func dumpHex(b *strings.Builder, toks []HexToken) {
	for i, t := range toks {
		if i > 0 {
			b.WriteByte(' ')
		}
		switch t := t.(type) {
		case *HexByte:
			if t.Not {
				b.WriteByte('~')
			}
			for shift := 4; shift >= 0; shift -= 4 {
				if t.Mask>>shift&0xF == 0 {
					b.WriteByte('?')
				} else {
					b.WriteByte(hexDigits[t.Value>>shift&0xF])
				}
			}
		case *HexJump:
			switch {
			case t.Max < 0:
				fmt.Fprintf(b, "[%d-]", t.Min)
			case t.Min == t.Max:
				fmt.Fprintf(b, "[%d]", t.Min)
			default:
				fmt.Fprintf(b, "[%d-%d]", t.Min, t.Max)
			}
		case *HexAlt:
			b.WriteByte('(')
			for j, a := range t.Alts {
				if j > 0 {
					b.WriteString(" | ")
				}
				dumpHex(b, a)
			}
			b.WriteByte(')')
		default:
			b.WriteString("?")
		}
	}
}

func dumpExpr(b *strings.Builder, e Expr) {
	switch e := e.(type) {
	case nil:
		b.WriteString("<nil>")
	case *BoolLit:
		b.WriteString(strconv.FormatBool(e.Value))
	case *IntLit:
		b.WriteString(strconv.FormatInt(e.Value, 10))
	case *FloatLit:
		s := strconv.FormatFloat(e.Value, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eIN") {
			s += ".0"
		}
		b.WriteString(s)
	case *StringLit:
		b.WriteString(strconv.Quote(string(e.Value)))
	case *RegexpLit:
		dumpRegexp(b, e.Regex)
	case *Keyword:
		b.WriteString(e.Name)
	case *StringRef:
		switch {
		case e.At != nil:
			b.WriteString("(at " + e.ID + " ")
			dumpExpr(b, e.At)
			b.WriteByte(')')
		case e.In != nil:
			b.WriteString("(in " + e.ID + " ")
			dumpRange(b, e.In)
			b.WriteByte(')')
		default:
			b.WriteString(e.ID)
		}
	case *StringCount:
		id := "#" + strings.TrimPrefix(e.ID, "$")
		if e.In != nil {
			b.WriteString("(in " + id + " ")
			dumpRange(b, e.In)
			b.WriteByte(')')
		} else {
			b.WriteString(id)
		}
	case *StringOffset:
		dumpIndexed(b, "@"+strings.TrimPrefix(e.ID, "$"), e.Index)
	case *StringLength:
		dumpIndexed(b, "!"+strings.TrimPrefix(e.ID, "$"), e.Index)
	case *Ident:
		b.WriteString(e.Name)
	case *Member:
		b.WriteString("(. ")
		dumpExpr(b, e.X)
		b.WriteString(" " + e.Name + ")")
	case *Index:
		b.WriteString("(index ")
		dumpExpr(b, e.X)
		b.WriteByte(' ')
		dumpExpr(b, e.Index)
		b.WriteByte(')')
	case *Call:
		b.WriteString("(call ")
		dumpExpr(b, e.Fun)
		for _, a := range e.Args {
			b.WriteByte(' ')
			dumpExpr(b, a)
		}
		b.WriteByte(')')
	case *Unary:
		b.WriteString("(" + e.Op.String() + " ")
		dumpExpr(b, e.X)
		b.WriteByte(')')
	case *Binary:
		b.WriteString("(" + e.Op.String() + " ")
		dumpExpr(b, e.X)
		b.WriteByte(' ')
		dumpExpr(b, e.Y)
		b.WriteByte(')')
	case *Paren:
		b.WriteString("(paren ")
		dumpExpr(b, e.X)
		b.WriteByte(')')
	case *Of:
		b.WriteString("(of ")
		dumpQuant(b, e.Q)
		b.WriteByte(' ')
		dumpSets(b, e.Strings, e.Rules)
		if e.In != nil {
			b.WriteByte(' ')
			dumpRange(b, e.In)
		}
		b.WriteByte(')')
	case *ForOf:
		b.WriteString("(for ")
		dumpQuant(b, e.Q)
		b.WriteString(" of ")
		dumpSets(b, e.Strings, nil)
		b.WriteByte(' ')
		dumpExpr(b, e.Body)
		b.WriteByte(')')
	case *ForIn:
		b.WriteString("(for ")
		dumpQuant(b, e.Q)
		b.WriteString(" (vars " + strings.Join(e.Vars, " ") + ") in ")
		dumpIter(b, e.Iter)
		b.WriteByte(' ')
		dumpExpr(b, e.Body)
		b.WriteByte(')')
	default:
		fmt.Fprintf(b, "(?%T)", e)
	}
}

func dumpIndexed(b *strings.Builder, id string, idx Expr) {
	if idx == nil {
		b.WriteString(id)
		return
	}
	b.WriteString("(" + id + " ")
	dumpExpr(b, idx)
	b.WriteByte(')')
}

func dumpRange(b *strings.Builder, r *Range) {
	if r == nil {
		b.WriteString("(range <nil>)")
		return
	}
	b.WriteString("(range ")
	dumpExpr(b, r.Lo)
	b.WriteByte(' ')
	dumpExpr(b, r.Hi)
	b.WriteByte(')')
}

func dumpIter(b *strings.Builder, it Iterator) {
	switch it := it.(type) {
	case *Range:
		dumpRange(b, it)
	case *Enum:
		b.WriteString("(enum")
		for _, x := range it.Items {
			b.WriteByte(' ')
			dumpExpr(b, x)
		}
		b.WriteByte(')')
	case Expr:
		dumpExpr(b, it)
	default:
		b.WriteString("<nil>")
	}
}

func dumpQuant(b *strings.Builder, q *Quantifier) {
	if q == nil {
		b.WriteString("<nil>")
		return
	}
	switch q.Kind {
	case QuantAll:
		b.WriteString("all")
	case QuantAny:
		b.WriteString("any")
	case QuantNone:
		b.WriteString("none")
	case QuantExpr:
		dumpExpr(b, q.Expr)
	case QuantPercent:
		b.WriteString("(% ")
		dumpExpr(b, q.Expr)
		b.WriteByte(')')
	}
}

func dumpSets(b *strings.Builder, s *StringSet, r *RuleSet) {
	switch {
	case s != nil && s.Them:
		b.WriteString("them")
	case s != nil:
		b.WriteString("(")
		dumpItems(b, s.Items)
		b.WriteByte(')')
	case r != nil:
		b.WriteString("(rules ")
		dumpItems(b, r.Items)
		b.WriteByte(')')
	default:
		b.WriteString("<nil>")
	}
}

func dumpItems(b *strings.Builder, items []SetItem) {
	for i, it := range items {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(it.Name)
		if it.Wildcard {
			b.WriteByte('*')
		}
	}
}
