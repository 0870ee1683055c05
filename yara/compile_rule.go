package yara

import (
	"fmt"
	"slices"
	"strings"

	"vigil/yara/syntax"
)

// ruleCtx is the state of compiling one rule.
type ruleCtx struct {
	c      *Compiler
	file   string
	ns     int
	idx    int // index the rule will get
	name   string
	strIDs map[string]int // "$a" → global string index
	strs   []int          // global string indexes in definition order
	used   map[int]bool
	anon   int // number of anonymous strings so far
	fixed  map[int]*fixedUse

	scopes   []loopVar // loop variables, innermost last
	anonStk  []anonScope
	slots    int
	maxSlots int
	depth    int
	loops    int
}

// anonScope is an enclosing for..of: `$` and friends refer to its string.
type anonScope struct {
	slot int
	set  []int
}

func (rc *ruleCtx) errorf(pos syntax.Pos, code, format string, args ...any) {
	rc.c.diag(SeverityError, code, rc.file, pos, rc.name, fmt.Sprintf(format, args...))
}

func (rc *ruleCtx) warnf(pos syntax.Pos, code, format string, args ...any) {
	rc.c.diag(SeverityWarning, code, rc.file, pos, rc.name, fmt.Sprintf(format, args...))
}

func (c *Compiler) compileRule(file string, d *syntax.Rule, ns int) {
	rc := &ruleCtx{c: c, file: file, ns: ns, idx: len(c.rules), name: d.Name, strIDs: map[string]int{}, used: map[int]bool{}}
	errsBefore := c.errors
	registered := false
	if _, dup := c.ruleNames[ns][d.Name]; dup {
		rc.errorf(d.NamePos, CodeDupRule, "duplicated identifier %q", d.Name)
	} else if _, ext := c.extIndex[d.Name]; ext {
		rc.errorf(d.NamePos, CodeDupIdent, "duplicated identifier %q", d.Name)
	} else {
		for _, p := range c.wildcards[ns] {
			if strings.HasPrefix(d.Name, p) {
				rc.errorf(d.NamePos, CodeRuleSet, "rule identifier %q matches previously used wildcard rule set", d.Name)
				break
			}
		}
		// The rule can refer to itself (it is false while being evaluated).
		c.ruleNames[ns][d.Name] = rc.idx
		registered = true
	}
	ru := &rule{
		info: RuleInfo{
			Namespace: c.namespaces[ns],
			Name:      d.Name,
			Tags:      append([]string(nil), d.Tags...),
			Private:   d.Private,
			Global:    d.Global,
		},
		ns:      ns,
		global:  d.Global,
		private: d.Private,
	}
	for _, m := range d.Meta {
		v := m.Value
		if b, ok := v.([]byte); ok {
			v = string(b)
		}
		ru.info.Meta = append(ru.info.Meta, Meta{Key: m.Key, Value: v})
	}
	firstStr := len(c.strings)
	firstVar := len(c.variants)
	for _, s := range d.Strings {
		rc.compileString(s)
	}
	var cond intFn
	if d.Condition != nil {
		e := rc.expr(d.Condition)
		cond = rc.toBool(e)
	}
	for _, si := range rc.strs {
		s := c.strings[si]
		if !rc.used[si] {
			rc.errorf(rc.stringPos(d, s.id), CodeUnrefString, "unreferenced string %q", s.id)
		}
	}
	if c.errors > errsBefore || cond == nil {
		// Drop what this rule added so later rules see a clean state.
		c.strings = c.strings[:firstStr]
		c.variants = c.variants[:firstVar]
		if registered {
			delete(c.ruleNames[ns], d.Name)
		}
		return
	}
	ru.strings = rc.strs
	ru.needsMatch = len(rc.strs) > 0 && needsMatch(d.Condition)
	for si, f := range rc.fixed {
		if f.set && !f.dis && c.strings[si].literal {
			c.strings[si].fixedOff = f.off
			c.strings[si].hasFixed = true
		}
	}
	ru.cond = cond
	ru.maxSlots = rc.maxSlots
	if rc.maxSlots > c.maxSlots {
		c.maxSlots = rc.maxSlots
	}
	c.rules = append(c.rules, ru)
}

func (rc *ruleCtx) stringPos(d *syntax.Rule, id string) syntax.Pos {
	for _, s := range d.Strings {
		if s.ID == id {
			return s.Pos
		}
	}
	return d.Pos
}

// compileString checks a string definition and expands it to variants.
func (rc *ruleCtx) compileString(s *syntax.StringDef) {
	c := rc.c
	id := s.ID
	if id == "$" {
		rc.anon++
		id = fmt.Sprintf("$_anon%d", rc.anon)
	}
	if _, dup := rc.strIDs[id]; dup {
		rc.errorf(s.Pos, CodeDupString, "duplicated string identifier %q", s.ID)
		return
	}
	m := s.Modifiers
	if !rc.checkModifiers(s) {
		return
	}
	si := len(c.strings)
	sd := &stringDef{id: s.ID, rule: rc.idx, private: m.Private, singleMatch: true, literal: literalPattern(s), hex: s.Kind == syntax.HexPattern}
	var vs []*variant
	var err error
	switch s.Kind {
	case syntax.TextString:
		if len(s.Text) == 0 {
			rc.errorf(s.Pos, CodeEmptyString, "empty string %q", s.ID)
			return
		}
		vs, err = textVariants(s.Text, m)
	case syntax.HexPattern:
		vs, err = hexVariants(s.Hex)
		if err == nil {
			addHexPrefilters(s.Hex, vs) // compile_prefilter.go
		}
	case syntax.RegexString:
		vs, err = regexVariants(s.Regex, m)
		if err == nil && regexHasDotStar(s.Regex.Source) {
			rc.warnf(s.Pos, CodeRegexDotStar, "%s contains .*, .+ or .{x,} consider using .{,N}, .{1,N} or {x,N} with a reasonable value for N", s.ID)
		}
	}
	if err != nil {
		rc.errorf(s.Pos, CodeRegex, "invalid string %q: %v", s.ID, err)
		return
	}
	if len(vs) > maxVariants {
		rc.errorf(s.Pos, CodeTooComplex, "string %q expands to too many patterns", s.ID)
		return
	}
	order := 0
	for _, v := range vs {
		v.str = si
		v.order = order
		if !v.piece {
			order++
		}
		v.fullword = m.Fullword
		v.idx = len(c.variants)
		sd.variants = append(sd.variants, len(c.variants))
		c.variants = append(c.variants, v)
	}
	var quality int
	switch s.Kind {
	case syntax.TextString:
		quality = textQuality(s, vs)
	case syntax.HexPattern:
		quality = hexQuality(s.Hex, vs)
	default:
		quality = regexQuality(s.Regex, m)
	}
	if quality < atomQualityWarning {
		rc.warnf(s.Pos, CodeSlowString, "string %q may slow down scanning", s.ID)
	}
	c.strings = append(c.strings, sd)
	rc.strIDs[id] = si
	rc.strs = append(rc.strs, si)
}

// checkModifiers rejects the modifier combinations yara rejects.
func (rc *ruleCtx) checkModifiers(s *syntax.StringDef) bool {
	m := s.Modifiers
	bad := func(a, b string) bool {
		pos := s.Pos
		if p, ok := m.Positions[b]; ok {
			pos = p
		}
		rc.errorf(pos, CodeModifiers, "invalid modifier combination: %s %s", a, b)
		return false
	}
	switch s.Kind {
	case syntax.HexPattern:
		for _, k := range []struct {
			on   bool
			name string
		}{{m.Nocase, "nocase"}, {m.ASCII, "ascii"}, {m.Wide, "wide"}, {m.Fullword, "fullword"}, {m.Xor, "xor"}, {m.Base64, "base64"}, {m.Base64Wide, "base64wide"}} {
			if k.on {
				rc.errorf(s.Pos, CodeModifiers, "modifier %s not allowed on hex strings", k.name)
				return false
			}
		}
	case syntax.RegexString:
		if m.Xor || m.Base64 || m.Base64Wide {
			rc.errorf(s.Pos, CodeModifiers, "modifiers xor and base64 are not allowed on regular expressions")
			return false
		}
	}
	if m.Xor {
		if m.Nocase {
			return bad("xor", "nocase")
		}
		if m.XorMin < 0 || m.XorMax > 255 || m.XorMin > 255 || m.XorMax < 0 {
			rc.errorf(s.Pos, CodeXor, "invalid xor range")
			return false
		}
		if m.XorMin > m.XorMax {
			rc.errorf(s.Pos, CodeXor, "xor lower bound exceeds upper bound")
			return false
		}
	}
	if m.Base64 || m.Base64Wide {
		name := "base64"
		if !m.Base64 {
			name = "base64wide"
		}
		switch {
		case m.Nocase:
			return bad(name, "nocase")
		case m.Xor:
			return bad(name, "xor")
		case m.Fullword:
			return bad(name, "fullword")
		}
		for _, a := range []string{m.Base64Alphabet, m.Base64WideAlphabet} {
			if a != "" && len(a) != 64 {
				rc.errorf(s.Pos, CodeBase64, "length of base64 alphabet must be 64")
				return false
			}
		}
	}
	return true
}

// regexHasDotStar reports whether a regex source has .*, .+ or .{n,}.
func regexHasDotStar(src string) bool {
	for i := 0; i+1 < len(src); i++ {
		if src[i] == '\\' {
			i++
			continue
		}
		if src[i] != '.' {
			continue
		}
		switch src[i+1] {
		case '*', '+':
			return true
		case '{':
			j := strings.IndexByte(src[i+1:], '}')
			if j > 0 && strings.HasSuffix(src[i+2:i+1+j], ",") {
				return true
			}
		}
	}
	return false
}

// textVariants expands a text string with its modifiers into literals.
func textVariants(text []byte, m syntax.Modifiers) ([]*variant, error) {
	ascii := m.ASCII || !m.Wide
	var forms [][]byte // plain forms before xor/base64
	var wides []bool
	if m.Base64 || m.Base64Wide {
		// wide and ascii choose the text that is encoded; base64wide
		// widens the encoding.
		var plains [][]byte
		if ascii {
			plains = append(plains, text)
		}
		if m.Wide {
			plains = append(plains, widen(text))
		}
		var out []*variant
		for _, t := range plains {
			if m.Base64 {
				for _, p := range base64Forms(t, m.Base64Alphabet) {
					out = append(out, &variant{lit: p})
				}
			}
			if m.Base64Wide {
				for _, p := range base64Forms(t, m.Base64WideAlphabet) {
					out = append(out, &variant{lit: widen(p), wide: true})
				}
			}
		}
		return out, nil
	}
	if ascii {
		forms = append(forms, text)
		wides = append(wides, false)
	}
	if m.Wide {
		forms = append(forms, widen(text))
		wides = append(wides, true)
	}
	var out []*variant
	if m.Xor {
		// When the ascii and wide forms match at one offset, yara keeps the
		// first match found. A string whose longest form fits in an atom
		// (4 bytes) is matched by its atoms alone, and the shorter ascii
		// atom is found first. A longer one is verified from its atoms, and
		// for xor strings yara tries the wide form first (for the others the
		// ascii form), so there the wide match is the one reported.
		longest := len(text)
		if m.Wide {
			longest *= 2
		}
		if longest > maxAtomLen {
			slices.Reverse(forms)
			slices.Reverse(wides)
		}
		for i, f := range forms {
			for k := m.XorMin; k <= m.XorMax; k++ {
				b := make([]byte, len(f))
				for j := range f {
					b[j] = f[j] ^ byte(k)
				}
				out = append(out, &variant{lit: b, wide: wides[i], xorKey: k})
			}
		}
		return out, nil
	}
	for i, f := range forms {
		out = append(out, &variant{lit: f, wide: wides[i], nocase: m.Nocase})
	}
	return out, nil
}

func widen(b []byte) []byte {
	w := make([]byte, 2*len(b))
	for i, c := range b {
		w[2*i] = c
	}
	return w
}

const stdBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// base64Forms returns the three encodings of text, at the three possible
// alignments, keeping only the characters that do not depend on the
// surrounding bytes (as yara does).
func base64Forms(text []byte, alphabet string) [][]byte {
	if alphabet == "" {
		alphabet = stdBase64
	}
	var out [][]byte
	for pad := 0; pad < 3; pad++ {
		buf := make([]byte, pad+len(text))
		copy(buf[pad:], text)
		enc := base64Encode(buf, alphabet)
		// Leading characters that depend on the padding bytes.
		lead := [3]int{0, 2, 3}[pad]
		// Trailing characters that depend on the next, unknown bytes.
		trail := 0
		switch len(buf) % 3 {
		case 1:
			trail = 1
		case 2:
			trail = 1
		}
		if lead+trail >= len(enc) {
			continue
		}
		out = append(out, enc[lead:len(enc)-trail])
	}
	return out
}

// base64Encode encodes without padding characters.
func base64Encode(b []byte, alphabet string) []byte {
	var out []byte
	for i := 0; i < len(b); i += 3 {
		var n uint32
		rem := len(b) - i
		switch {
		case rem >= 3:
			n = uint32(b[i])<<16 | uint32(b[i+1])<<8 | uint32(b[i+2])
			out = append(out, alphabet[n>>18&63], alphabet[n>>12&63], alphabet[n>>6&63], alphabet[n&63])
		case rem == 2:
			n = uint32(b[i])<<16 | uint32(b[i+1])<<8
			out = append(out, alphabet[n>>18&63], alphabet[n>>12&63], alphabet[n>>6&63])
		default:
			n = uint32(b[i]) << 16
			out = append(out, alphabet[n>>18&63], alphabet[n>>12&63])
		}
	}
	return out
}

// needsMatch reports whether e is false whenever no string of its rule
// matched. It errs on the side of false.
func needsMatch(e syntax.Expr) bool {
	switch e := e.(type) {
	case *syntax.Paren:
		return needsMatch(e.X)
	case *syntax.StringRef:
		return e.ID != "$"
	case *syntax.Of:
		if e.Strings == nil {
			return false
		}
		switch e.Q.Kind {
		case syntax.QuantAny:
			return true
		case syntax.QuantAll:
			return true
		case syntax.QuantExpr, syntax.QuantPercent:
			n, ok := e.Q.Expr.(*syntax.IntLit)
			return ok && n.Value >= 1
		}
		return false
	case *syntax.Binary:
		switch e.Op {
		case syntax.OpAnd:
			return needsMatch(e.X) || needsMatch(e.Y)
		case syntax.OpOr:
			return needsMatch(e.X) && needsMatch(e.Y)
		case syntax.OpGt, syntax.OpGe:
			// #a > N (N >= 0), #a >= N (N >= 1)
			c, ok1 := e.X.(*syntax.StringCount)
			n, ok2 := e.Y.(*syntax.IntLit)
			if ok1 && ok2 && c.ID != "$" && c.In == nil {
				return n.Value >= 1 || (e.Op == syntax.OpGt && n.Value >= 0)
			}
		}
	}
	return false
}
