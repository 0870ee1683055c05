package syntax

import (
	"fmt"
	"strconv"
)

// Limits of the parser.
const (
	// maxDepth bounds the nesting of expressions and hex alternations, so
	// that hostile input cannot exhaust the stack.
	maxDepth = 1000
	// maxErrors is how many errors are reported for one file before the
	// parser gives up.
	maxErrors = 100
)

// bailout is raised (with panic) to abandon the current declaration after
// a syntax error; Parse recovers it and resumes at the next rule. It never
// escapes Parse.
type bailout struct{}

type parser struct {
	lex   lexer
	tok   token
	file  string
	errs  ErrorList
	depth int
}

// Parse parses one YARA source file. It does not read included files: each
// `include` becomes an *Include declaration. On error it returns the
// declarations it could parse (rules with errors are left out) and an
// ErrorList holding every error found; the parser resumes at the next
// `rule`, `import` or `include` keyword after an error.
func Parse(filename string, src []byte) (*File, error) {
	p := &parser{lex: newLexer(filename, src), file: filename}
	defer p.lex.hex.done()
	p.next()
	f := &File{Name: filename, hex: p.lex.hex}
	for p.tok.kind != tEOF && len(p.errs) < maxErrors {
		start := p.lex.off
		if d := p.decl(); d != nil {
			f.Decls = append(f.Decls, d)
			continue
		}
		if p.lex.off == start && p.tok.kind != tEOF {
			p.next()
		}
		p.sync()
	}
	if len(p.errs) >= maxErrors {
		p.errs = append(p.errs[:maxErrors], &Error{File: filename, Pos: p.tok.pos, Code: CodeTooManyErrors, Msg: "too many errors"})
	}
	return f, p.errs.Err()
}

// decl parses one declaration; it returns nil after a syntax error.
func (p *parser) decl() (d Decl) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(bailout); !ok {
				panic(r)
			}
			d = nil
		}
	}()
	p.depth = 0
	switch {
	case p.isKw("import"), p.isKw("include"):
		pos, kw := p.tok.pos, p.tok.text
		p.next()
		if p.tok.kind != tString {
			p.unexpected()
		}
		s := string(p.tok.sval)
		p.next()
		if kw == "import" {
			return &Import{Pos: pos, Module: s}
		}
		return &Include{Pos: pos, Path: s}
	case p.isKw("rule"), p.isKw("private"), p.isKw("global"):
		return p.rule()
	}
	p.unexpected()
	return nil
}

// sync skips tokens up to the start of the next declaration, including a
// run of private/global modifiers just before a `rule`.
func (p *parser) sync() {
	var saved *parser
	for p.tok.kind != tEOF {
		switch {
		case p.isKw("rule"):
			if saved != nil {
				p.lex, p.tok = saved.lex, saved.tok
			}
			return
		case p.isKw("import"), p.isKw("include"):
			return
		case p.isKw("private"), p.isKw("global"):
			if saved == nil {
				saved = &parser{lex: p.lex, tok: p.tok}
			}
		default:
			saved = nil
		}
		p.next()
	}
}

func (p *parser) next() {
	p.tok = p.lex.next()
}

// peek returns the token after the current one without consuming it.
func (p *parser) peek() token {
	l := p.lex
	return l.next()
}

func (p *parser) isKw(s string) bool {
	return p.tok.kind == tKeyword && p.tok.text == s
}

func (p *parser) addErr(pos Pos, code, msg string) {
	p.errs = append(p.errs, &Error{File: p.file, Pos: pos, Code: code, Msg: msg})
}

// unexpected reports the current token as a syntax error and abandons the
// declaration. A token that is itself a lexical error reports that error.
func (p *parser) unexpected() {
	if p.tok.kind == tIllegal {
		p.errs = append(p.errs, p.tok.err)
	} else {
		p.addErr(p.tok.pos, CodeUnexpected, "syntax error, unexpected "+p.tok.String())
	}
	panic(bailout{})
}

func (p *parser) fail(pos Pos, code, msg string) {
	p.addErr(pos, code, msg)
	panic(bailout{})
}

func (p *parser) expect(k tokKind) token {
	t := p.tok
	if t.kind != k {
		p.unexpected()
	}
	p.next()
	return t
}

func (p *parser) expectKw(s string) token {
	t := p.tok
	if !p.isKw(s) {
		p.unexpected()
	}
	p.next()
	return t
}

func (p *parser) rule() *Rule {
	r := &Rule{Pos: p.tok.pos}
	for p.isKw("private") || p.isKw("global") {
		if p.tok.text == "private" {
			r.Private = true
		} else {
			r.Global = true
		}
		p.next()
	}
	p.expectKw("rule")
	name := p.expect(tIdent)
	r.Name, r.NamePos = name.text, name.pos
	if p.tok.kind == tColon {
		p.next()
		seen := map[string]bool{}
		for p.tok.kind == tIdent {
			if seen[p.tok.text] {
				p.fail(p.tok.pos, CodeDupTag, fmt.Sprintf("duplicated tag identifier %q", p.tok.text))
			}
			seen[p.tok.text] = true
			r.Tags = append(r.Tags, p.tok.text)
			p.next()
		}
		if len(r.Tags) == 0 {
			p.unexpected()
		}
	}
	p.expect(tLBrace)
	if p.isKw("meta") {
		p.next()
		p.expect(tColon)
		for p.tok.kind == tIdent {
			r.Meta = append(r.Meta, p.meta())
		}
	}
	if p.isKw("strings") {
		p.next()
		p.expect(tColon)
		for p.tok.kind == tStringID {
			r.Strings = append(r.Strings, p.stringDef())
		}
		if len(r.Strings) == 0 {
			p.unexpected()
		}
	}
	p.expectKw("condition")
	p.expect(tColon)
	r.Condition = p.expr()
	p.expect(tRBrace)
	return r
}

func (p *parser) meta() *Meta {
	key := p.expect(tIdent)
	m := &Meta{Pos: key.pos, Key: key.text}
	p.expect(tAssign)
	switch {
	case p.tok.kind == tString:
		m.Value = string(p.tok.sval)
	case p.tok.kind == tInt:
		m.Value = p.tok.ival
	case p.tok.kind == tMinus:
		p.next()
		if p.tok.kind != tInt {
			p.unexpected()
		}
		m.Value = -p.tok.ival
	case p.isKw("true"), p.isKw("false"):
		m.Value = p.tok.text == "true"
	default:
		p.unexpected()
	}
	p.next()
	return m
}

func (p *parser) stringDef() *StringDef {
	id := p.expect(tStringID)
	s := &StringDef{Pos: id.pos, ID: id.text}
	p.expect(tAssign)
	switch p.tok.kind {
	case tString:
		s.Kind = TextString
		s.Text = append([]byte(nil), p.tok.sval...) // sval may alias the source
		if len(s.Text) == 0 {
			p.fail(p.tok.pos, CodeEmptyString, fmt.Sprintf("empty string %q", s.ID))
		}
	case tRegex:
		s.Kind = RegexString
		s.Regex = p.tok.re
	case tLBrace:
		s.Kind = HexPattern
		hex, err := p.lex.scanHex(p.tok.pos)
		if err != nil {
			p.errs = append(p.errs, err)
			panic(bailout{})
		}
		s.Hex = hex
	default:
		p.unexpected()
	}
	p.next()
	p.modifiers(s)
	return s
}

// modifierAllowed tells which modifiers yara's grammar accepts for each
// kind of string.
func modifierAllowed(k StringKind, mod string) bool {
	switch k {
	case HexPattern:
		return mod == "private"
	case RegexString:
		switch mod {
		case "nocase", "ascii", "wide", "fullword", "private":
			return true
		}
		return false
	}
	return true
}

func (p *parser) modifiers(s *StringDef) {
	m := &s.Modifiers
	for p.tok.kind == tKeyword {
		kw, pos := p.tok.text, p.tok.pos
		switch kw {
		case "nocase", "ascii", "wide", "fullword", "private", "xor", "base64", "base64wide":
		default:
			return
		}
		if !modifierAllowed(s.Kind, kw) {
			p.fail(pos, CodeBadModifier, fmt.Sprintf("modifier %q not allowed here", kw))
		}
		if _, dup := m.Positions[kw]; dup {
			p.fail(pos, CodeDupModifier, "duplicated modifier")
		}
		if m.Positions == nil {
			m.Positions = map[string]Pos{}
		}
		m.Positions[kw] = pos
		p.next()
		switch kw {
		case "nocase":
			m.Nocase = true
		case "ascii":
			m.ASCII = true
		case "wide":
			m.Wide = true
		case "fullword":
			m.Fullword = true
		case "private":
			m.Private = true
		case "xor":
			m.Xor = true
			m.XorMin, m.XorMax = p.xorRange()
		case "base64":
			m.Base64 = true
			m.Base64Alphabet = p.base64Alphabet()
		case "base64wide":
			m.Base64Wide = true
			m.Base64WideAlphabet = p.base64Alphabet()
		}
	}
}

// xorRange parses the optional `(n)` or `(a-b)` after xor.
func (p *parser) xorRange() (lo, hi int) {
	if p.tok.kind != tLParen {
		return 0, 255
	}
	p.next()
	a := p.expect(tInt)
	if p.tok.kind == tRParen {
		p.next()
		if a.ival < 0 || a.ival > 255 {
			p.fail(a.pos, CodeXorRange, "invalid xor range")
		}
		return int(a.ival), int(a.ival)
	}
	p.expect(tMinus)
	b := p.expect(tInt)
	p.expect(tRParen)
	switch {
	case a.ival > 255:
		p.fail(a.pos, CodeXorRange, "lower bound for xor range exceeded (max: 255)")
	case b.ival > 255:
		p.fail(b.pos, CodeXorRange, "upper bound for xor range exceeded (max: 255)")
	case a.ival > b.ival:
		p.fail(a.pos, CodeXorOrder, "xor lower bound exceeds upper bound")
	}
	return int(a.ival), int(b.ival)
}

// base64Alphabet parses the optional `("alphabet")` after base64.
func (p *parser) base64Alphabet() string {
	if p.tok.kind != tLParen {
		return ""
	}
	p.next()
	s := p.expect(tString)
	p.expect(tRParen)
	if len(s.sval) != 64 {
		p.fail(s.pos, CodeBase64Alphabet, "length of base64 alphabet must be 64")
	}
	return string(s.sval)
}

func (p *parser) enter() {
	p.depth++
	if p.depth > maxDepth {
		p.fail(p.tok.pos, CodeTooDeep, "expression nested too deeply (max "+strconv.Itoa(maxDepth)+")")
	}
}

func (p *parser) leave() { p.depth-- }
