package lint

// This file reduces a rule's condition to its set of paths (see paths.go).

import (
	"fmt"
	"math"
	"strings"

	"vigil/yara/syntax"
)

// ruleCtx is the state of the analysis of one rule.
type ruleCtx struct {
	a       *analyzer
	rule    *syntax.Rule
	strIdx  map[string]int // string id -> index in rule.Strings
	strPath []paths        // paths of each string being present
	ev      []string       // evidence descriptions; witnesses index this
	evIdx   map[string]int
	anon    *paths // paths of `$` inside for..of
	usesFS  bool   // the condition mentions filesize
	steps   int    // work done, bounded by maxSteps
	tooBig  bool   // the budget ran out
}

// maxSteps bounds the work spent on one rule's condition. Nested loops
// over many strings could otherwise take very long; a condition over the
// budget is treated as a document search (the cautious answer), and its
// verdict says so.
const maxSteps = 200000

// evidence returns the index of the evidence described by d.
func (c *ruleCtx) evidence(d string) int {
	if i, ok := c.evIdx[d]; ok {
		return i
	}
	c.ev = append(c.ev, d)
	c.evIdx[d] = len(c.ev) - 1
	return len(c.ev) - 1
}

// strPaths returns the paths of "string id is present".
func (c *ruleCtx) strPaths(id string) paths {
	if id == "$" {
		if c.anon != nil {
			return *c.anon
		}
		return always()
	}
	if i, ok := c.strIdx[id]; ok {
		return c.strPath[i]
	}
	return always() // unknown string: the compiler rejects it
}

// setItems returns the paths of each string of a string set.
func (c *ruleCtx) setItems(s *syntax.StringSet) []paths {
	var out []paths
	if s == nil {
		return out
	}
	if s.Them {
		return append(out, c.strPath...)
	}
	for _, it := range s.Items {
		if it.Wildcard {
			for j, sd := range c.rule.Strings {
				if strings.HasPrefix(sd.ID, it.Name) {
					out = append(out, c.strPath[j])
				}
			}
			continue
		}
		out = append(out, c.strPaths(it.Name))
	}
	return out
}

// ruleItems returns the paths of each rule of a rule set.
func (c *ruleCtx) ruleItems(s *syntax.RuleSet) []paths {
	var out []paths
	if s == nil {
		return out
	}
	for _, it := range s.Items {
		if it.Wildcard {
			for _, name := range c.a.order {
				if strings.HasPrefix(name, it.Name) && name != c.rule.Name {
					out = append(out, c.rulePaths(name))
				}
			}
			continue
		}
		out = append(out, c.rulePaths(it.Name))
	}
	return out
}

// rulePaths returns the paths of a referenced rule, with the reference
// itself as the evidence.
func (c *ruleCtx) rulePaths(name string) paths {
	r, ok := c.a.done[name]
	if !ok {
		return always()
	}
	ev := c.evidence(fmt.Sprintf("rule %s (classified %s)", name, r.verdict.Class))
	var out paths
	for m := 0; m < numMasks; m++ {
		if r.own.has[m] {
			out.has[m] = true
			out.w[m] = []int{ev}
		}
	}
	return out
}

// quantN returns how many items of n a quantifier needs, and whether the
// quantifier is `none`.
func quantN(q *syntax.Quantifier, n int) (need int, none bool) {
	if q == nil {
		return 1, false
	}
	switch q.Kind {
	case syntax.QuantAll:
		return n, false
	case syntax.QuantAny:
		return 1, false
	case syntax.QuantNone:
		return 0, true
	case syntax.QuantExpr:
		if v, ok := intConst(q.Expr); ok {
			return int(min(max(v, 0), int64(n)+1)), false
		}
		return 1, false // unknown count: assume the least
	case syntax.QuantPercent:
		if v, ok := intConst(q.Expr); ok {
			v = min(max(v, 0), 100)
			return int(math.Ceil(float64(v) * float64(n) / 100)), false
		}
		return 1, false
	}
	return 1, false
}

// intConst returns the value of a constant integer expression.
func intConst(e syntax.Expr) (int64, bool) {
	switch e := e.(type) {
	case *syntax.IntLit:
		return e.Value, true
	case *syntax.Paren:
		return intConst(e.X)
	case *syntax.Unary:
		if e.Op == syntax.OpNeg {
			v, ok := intConst(e.X)
			return -v, ok
		}
	}
	return 0, false
}

// cond returns the paths by which e is true (neg false) or false (neg true).
func (c *ruleCtx) cond(e syntax.Expr, neg bool) paths {
	c.steps++
	if c.steps > maxSteps {
		c.tooBig = true
		return single(needWord, c.evidence("a condition too complex to analyse (treated as a document search to be safe)"))
	}
	switch e := e.(type) {
	case nil:
		return always()
	case *syntax.Paren:
		return c.cond(e.X, neg)
	case *syntax.BoolLit:
		if e.Value != neg {
			return always()
		}
		return never()
	case *syntax.Unary:
		switch e.Op {
		case syntax.OpNot:
			return c.cond(e.X, !neg)
		case syntax.OpDefined:
			return always()
		}
		if neg {
			return always()
		}
		return c.value(e)
	case *syntax.Binary:
		return c.binary(e, neg)
	case *syntax.StringRef:
		if neg {
			return always()
		}
		p := c.strPaths(e.ID)
		if e.At != nil {
			p = and(p, c.value(e.At))
		}
		if e.In != nil {
			p = and(p, and(c.value(e.In.Lo), c.value(e.In.Hi)))
		}
		return p
	case *syntax.StringCount, *syntax.StringOffset, *syntax.StringLength:
		if neg {
			return always()
		}
		return c.value(e)
	case *syntax.Of:
		var items []paths
		if e.Rules != nil {
			items = c.ruleItems(e.Rules)
		} else {
			items = c.setItems(e.Strings)
		}
		p := c.quantified(e.Q, items, neg)
		if e.In != nil && !neg {
			p = and(p, and(c.value(e.In.Lo), c.value(e.In.Hi)))
		}
		return p
	case *syntax.ForOf:
		strs := c.setItems(e.Strings)
		items := make([]paths, len(strs))
		saved := c.anon
		// The body's paths depend only on which masks `$` has, so
		// strings with the same masks share one evaluation.
		cache := map[[numMasks]bool]paths{}
		for i := range strs {
			if p, ok := cache[strs[i].has]; ok {
				items[i] = p
				continue
			}
			c.anon = &strs[i]
			items[i] = c.cond(e.Body, false)
			cache[strs[i].has] = items[i]
		}
		c.anon = saved
		return c.quantified(e.Q, items, neg)
	case *syntax.ForIn:
		body := c.cond(e.Body, false)
		var iter paths
		switch it := e.Iter.(type) {
		case *syntax.Range:
			iter = and(c.value(it.Lo), c.value(it.Hi))
		case *syntax.Enum:
			iter = always()
			for _, x := range it.Items {
				iter = and(iter, c.value(x))
			}
		case syntax.Expr:
			iter = c.value(it)
		default:
			iter = always()
		}
		_, none := quantN(e.Q, 1)
		if none == neg { // any/all/n true, or `none` false: some body is true
			return and(iter, body)
		}
		return always()
	case *syntax.Ident:
		if neg {
			return always()
		}
		if _, ok := c.a.done[e.Name]; ok {
			return c.rulePaths(e.Name)
		}
		return always() // external variable or loop variable
	}
	if neg {
		return always()
	}
	return c.value(e)
}

// quantified returns the paths of a quantifier over items.
func (c *ruleCtx) quantified(q *syntax.Quantifier, items []paths, neg bool) paths {
	need, none := quantN(q, len(items))
	switch {
	case none && !neg:
		return always()
	case none && neg: // not (none of ...) is any of ...
		return atLeast(1, items)
	case neg: // fewer than need: true with none of them present
		if need <= 0 {
			return never()
		}
		return always()
	}
	return atLeast(need, items)
}

// isComparison reports whether op compares two values.
func isComparison(op syntax.Op) bool {
	return op >= syntax.OpEq && op <= syntax.OpGe
}

// isStringOp reports whether op is a string comparison.
func isStringOp(op syntax.Op) bool {
	return op >= syntax.OpContains && op <= syntax.OpMatches
}

func (c *ruleCtx) binary(e *syntax.Binary, neg bool) paths {
	switch e.Op {
	case syntax.OpAnd:
		if neg {
			return or(c.cond(e.X, true), c.cond(e.Y, true))
		}
		return and(c.cond(e.X, false), c.cond(e.Y, false))
	case syntax.OpOr:
		if neg {
			return and(c.cond(e.X, true), c.cond(e.Y, true))
		}
		return or(c.cond(e.X, false), c.cond(e.Y, false))
	}
	if isComparison(e.Op) {
		if p, ok := c.countCompare(e, neg); ok {
			return p
		}
	}
	if neg {
		return always()
	}
	if e.Op == syntax.OpEq {
		if p, ok := c.headerCheck(e); ok {
			return p
		}
	}
	if isComparison(e.Op) || isStringOp(e.Op) {
		if p, ok := c.typeCheck(e); ok {
			return p
		}
	}
	return and(c.value(e.X), c.value(e.Y))
}

// countCompare handles `#a OP n`: the string is needed only when a count
// of zero makes the comparison false.
func (c *ruleCtx) countCompare(e *syntax.Binary, neg bool) (paths, bool) {
	x, y, op := unparen(e.X), unparen(e.Y), e.Op
	cnt, ok := x.(*syntax.StringCount)
	n, okN := intConst(y)
	if !ok {
		cnt, ok = y.(*syntax.StringCount)
		n, okN = intConst(x)
		op = flip(op)
	}
	if !ok || !okN {
		return paths{}, false
	}
	zeroTrue := compareInts(0, op, n)
	if neg {
		zeroTrue = !zeroTrue
	}
	if zeroTrue {
		return always(), true
	}
	p := c.strPaths(cnt.ID)
	if cnt.In != nil {
		p = and(p, and(c.value(cnt.In.Lo), c.value(cnt.In.Hi)))
	}
	return p, true
}

func unparen(e syntax.Expr) syntax.Expr {
	for {
		p, ok := e.(*syntax.Paren)
		if !ok {
			return e
		}
		e = p.X
	}
}

// flip turns `n OP x` into `x OP' n`.
func flip(op syntax.Op) syntax.Op {
	switch op {
	case syntax.OpLt:
		return syntax.OpGt
	case syntax.OpLe:
		return syntax.OpGe
	case syntax.OpGt:
		return syntax.OpLt
	case syntax.OpGe:
		return syntax.OpLe
	}
	return op
}

func compareInts(a int64, op syntax.Op, b int64) bool {
	switch op {
	case syntax.OpEq:
		return a == b
	case syntax.OpNe:
		return a != b
	case syntax.OpLt:
		return a < b
	case syntax.OpLe:
		return a <= b
	case syntax.OpGt:
		return a > b
	case syntax.OpGe:
		return a >= b
	}
	return true
}

// value returns the paths by which e has a defined value: the strings
// whose offsets or lengths it reads, the executable-format modules it
// uses, entrypoint.
func (c *ruleCtx) value(e syntax.Expr) paths {
	switch e := e.(type) {
	case nil:
		return always()
	case *syntax.Paren:
		return c.value(e.X)
	case *syntax.Keyword:
		switch e.Name {
		case "entrypoint":
			return single(needCode, c.evidence("uses entrypoint (executable code)"))
		case "filesize":
			c.usesFS = true
		}
		return always()
	case *syntax.StringOffset:
		return and(c.strPaths(e.ID), c.value(e.Index))
	case *syntax.StringLength:
		return and(c.strPaths(e.ID), c.value(e.Index))
	case *syntax.StringCount:
		if e.In != nil {
			return and(c.value(e.In.Lo), c.value(e.In.Hi))
		}
		return always()
	case *syntax.Unary:
		return c.value(e.X)
	case *syntax.Binary:
		if !isComparison(e.Op) && !isStringOp(e.Op) && e.Op != syntax.OpAnd && e.Op != syntax.OpOr {
			return and(c.value(e.X), c.value(e.Y))
		}
		return c.cond(e, false)
	case *syntax.Call:
		p := c.value(e.Fun)
		if id, ok := e.Fun.(*syntax.Ident); ok && isReader(id.Name) && len(e.Args) == 1 {
			// Reading at an offset read from the file is parsing its structure.
			if hasReader(e.Args[0]) {
				p = and(p, single(needCode, c.evidence(fmt.Sprintf("%s at an offset read from the file (parses a binary file format)", id.Name))))
			}
		}
		for _, a := range e.Args {
			p = and(p, c.value(a))
		}
		return p
	case *syntax.Member, *syntax.Index:
		if mod := rootModule(e); mod != "" {
			if what, ok := codeModules[mod]; ok {
				return single(needCode, c.evidence(fmt.Sprintf("uses the %s module (%s)", mod, what)))
			}
		}
		if ix, ok := e.(*syntax.Index); ok {
			return and(c.value(ix.X), c.value(ix.Index))
		}
		return always()
	case *syntax.Ident:
		if _, ok := codeModules[e.Name]; ok && c.a.imported(e.Name) {
			return single(needCode, c.evidence(fmt.Sprintf("uses the %s module (%s)", e.Name, codeModules[e.Name])))
		}
		return c.cond(e, false)
	case *syntax.StringRef, *syntax.Of, *syntax.ForOf, *syntax.ForIn:
		return c.cond(e, false)
	}
	return always()
}

// codeModules are the modules that parse executable formats: using one
// means the rule looks at executable structure.
var codeModules = map[string]string{
	"pe":     "Windows executable structure",
	"elf":    "Linux executable structure",
	"macho":  "macOS executable structure",
	"dotnet": ".NET assembly structure",
	"dex":    "Android executable structure",
	"cuckoo": "behaviour in a sandbox",
}

// rootModule returns the identifier at the root of a.b.c / a.b[i] / a.f().
func rootModule(e syntax.Expr) string {
	for {
		switch x := e.(type) {
		case *syntax.Member:
			e = x.X
		case *syntax.Index:
			e = x.X
		case *syntax.Call:
			e = x.Fun
		case *syntax.Paren:
			e = x.X
		case *syntax.Ident:
			return x.Name
		default:
			return ""
		}
	}
}

// isReader reports whether name is one of yara's integer readers.
func isReader(name string) bool {
	switch strings.TrimSuffix(name, "be") {
	case "int8", "int16", "int32", "uint8", "uint16", "uint32":
		return true
	}
	return false
}

// hasReader reports whether e reads an integer from the file.
func hasReader(e syntax.Expr) bool {
	switch e := e.(type) {
	case *syntax.Call:
		if id, ok := e.Fun.(*syntax.Ident); ok && isReader(id.Name) {
			return true
		}
		for _, a := range e.Args {
			if hasReader(a) {
				return true
			}
		}
	case *syntax.Paren:
		return hasReader(e.X)
	case *syntax.Binary:
		return hasReader(e.X) || hasReader(e.Y)
	case *syntax.Unary:
		return hasReader(e.X)
	}
	return false
}

// magics are known file headers, in file byte order.
var magics = []struct {
	bytes string
	mask  uint8
	what  string
}{
	{"MZ", needCode, "the Windows executable (MZ) header"},
	{"ZM", needCode, "the Windows executable (MZ) header"},
	{"PE\x00\x00", needCode, "the PE signature"},
	{"\x7fELF", needCode, "the ELF executable header"},
	{"\xfe\xed\xfa\xce", needCode, "the Mach-O executable header"},
	{"\xfe\xed\xfa\xcf", needCode, "the Mach-O executable header"},
	{"\xce\xfa\xed\xfe", needCode, "the Mach-O executable header"},
	{"\xcf\xfa\xed\xfe", needCode, "the Mach-O executable header"},
	{"\xca\xfe\xba\xbe", needCode, "the Mach-O universal or Java class header"},
	{"dex\n", needCode, "the Android DEX header"},
	{"\x00asm", needCode, "the WebAssembly header"},
	{"#!", needCode, "a script interpreter line (#!)"},
	{"%PDF", needDoc, "the PDF header"},
	{"\xd0\xcf\x11\xe0", needDoc, "the OLE header of old Office files"},
	{"PK\x03\x04", 0, "the zip header (not counted: zip files are not only Office documents)"},
	{"PK", 0, "the zip header (not counted: zip files are not only Office documents)"},
	{"{\\rt", needDoc, "the RTF header"},
	{"!BDN", needDoc, "the Outlook PST header"},
	{"From", needDoc, "a mailbox (mbox) header"},
	{"Rece", needDoc, "a mail header"},
	{"Retu", needDoc, "a mail header"},
	{"MIME", needDoc, "a mail header"},
}

// headerCheck recognises `uintN(off) == MAGIC` (either order, with an
// optional mask) and says what file type it requires.
func (c *ruleCtx) headerCheck(e *syntax.Binary) (paths, bool) {
	call, k, ok := readerAndConst(e.X, e.Y)
	if !ok {
		call, k, ok = readerAndConst(e.Y, e.X)
	}
	if !ok {
		return paths{}, false
	}
	name := call.Fun.(*syntax.Ident).Name
	width := 1
	switch {
	case strings.Contains(name, "16"):
		width = 2
	case strings.Contains(name, "32"):
		width = 4
	}
	b := make([]byte, width)
	for i := 0; i < width; i++ {
		shift := 8 * i
		if strings.HasSuffix(name, "be") {
			shift = 8 * (width - 1 - i)
		}
		b[i] = byte(uint64(k) >> shift)
	}
	src := fmt.Sprintf("%s == 0x%X", exprString(call, 0), k)
	if hasReader(call.Args[0]) {
		base := single(needCode, c.evidence(src+" at an offset read from the file (parses a binary file format)"))
		return base, true
	}
	for _, m := range magics {
		if len(m.bytes) <= len(b) && string(b[:len(m.bytes)]) == m.bytes ||
			len(b) < len(m.bytes) && strings.HasPrefix(m.bytes, string(b)) && len(b) >= 2 {
			if m.mask == 0 {
				return c.value(call.Args[0]), true
			}
			return and(single(m.mask, c.evidence(fmt.Sprintf("%s checks for %s", src, m.what))), c.value(call.Args[0])), true
		}
	}
	if width < 2 {
		return always(), true // one byte says little about the file type
	}
	printable := true
	for _, x := range b {
		if x < 0x20 || x >= 0x7f {
			printable = false
		}
	}
	if printable {
		return always(), true // text at an offset: not an executable format
	}
	return single(needCode, c.evidence(src+" checks binary header bytes")), true
}

// readerAndConst matches `uintN(off)` (possibly masked with `& K`) against
// a constant.
func readerAndConst(x, y syntax.Expr) (*syntax.Call, int64, bool) {
	x = unparen(x)
	if b, ok := x.(*syntax.Binary); ok && b.Op == syntax.OpBitAnd {
		if _, okK := intConst(b.Y); okK {
			x = unparen(b.X)
		}
	}
	call, ok := x.(*syntax.Call)
	if !ok || len(call.Args) != 1 {
		return nil, 0, false
	}
	id, ok := call.Fun.(*syntax.Ident)
	if !ok || !isReader(id.Name) {
		return nil, 0, false
	}
	k, ok := intConst(y)
	return call, k, ok
}

// docTypeWords and exeTypeWords are what magic-module types, MIME types or
// file-name conditions say about the targeted file type.
var docTypeWords = []string{
	"pdf", "msword", "officedocument", "wordprocessingml", "spreadsheetml", "presentationml",
	"ms-excel", "ms-powerpoint", "opendocument", "rtf", "rich text", "rfc822", "rfc 822",
	"mail", "composite document", "microsoft word", "microsoft excel", "microsoft powerpoint",
	"microsoft office", "text/plain", "ascii text", "utf-8 unicode text", "outlook",
	".doc", ".xls", ".ppt", ".odt", ".ods", ".odp", ".eml", ".msg", ".pst", ".mbox", ".txt",
	"doc$", "docx", "xlsx", "pptx", "eml$", "msg$", "txt$", "\\.doc", "\\.pdf", "\\.xls", "\\.ppt",
	"\\.eml", "\\.msg", "\\.txt",
}

var exeTypeWords = []string{
	"executable", "pe32", "x-dosexec", "elf 32", "elf 64", "x-elf", "mach-o", ".exe", ".dll", ".sys",
	"\\.exe", "\\.dll", "shared object", "x-sharedlib", "java archive",
}

// typeCheck recognises string comparisons that pick a file type: the magic
// module (`magic.mime_type() == "application/pdf"`) or a file-name
// external variable (`filename matches /\.docx$/`).
func (c *ruleCtx) typeCheck(e *syntax.Binary) (paths, bool) {
	lit, other := literalText(e.Y), e.X
	if lit == "" {
		lit, other = literalText(e.X), e.Y
	}
	if lit == "" {
		return paths{}, false
	}
	root := rootModule(other)
	if root == "" {
		return paths{}, false
	}
	if _, isRule := c.a.done[root]; isRule {
		return paths{}, false
	}
	if _, isCode := codeModules[root]; isCode {
		return paths{}, false // handled by value: the module is the evidence
	}
	low := strings.ToLower(lit)
	for _, w := range exeTypeWords {
		if strings.Contains(low, w) {
			return single(needCode, c.evidence(fmt.Sprintf("%s is compared with %q (an executable file type)", root, lit))), true
		}
	}
	for _, w := range docTypeWords {
		if strings.Contains(low, w) {
			return single(needDoc, c.evidence(fmt.Sprintf("%s is compared with %q (a document file type)", root, lit))), true
		}
	}
	return paths{}, false
}

// literalText returns the text of a string literal or regular expression
// in a condition, or "".
func literalText(e syntax.Expr) string {
	switch e := unparen(e).(type) {
	case *syntax.StringLit:
		return string(e.Value)
	case *syntax.RegexpLit:
		if e.Regex != nil {
			return e.Regex.Source
		}
	}
	return ""
}

// exprString renders the integer expressions of header checks for
// reasons: literals, reader calls and arithmetic; anything else is "...".
func exprString(e syntax.Expr, depth int) string {
	if depth > 4 {
		return "..."
	}
	switch e := e.(type) {
	case *syntax.IntLit:
		if e.Value > 9 || e.Value < 0 {
			return fmt.Sprintf("0x%X", e.Value)
		}
		return fmt.Sprint(e.Value)
	case *syntax.Paren:
		return "(" + exprString(e.X, depth+1) + ")"
	case *syntax.Keyword:
		return e.Name
	case *syntax.Call:
		id, ok := e.Fun.(*syntax.Ident)
		if !ok || len(e.Args) != 1 {
			return "..."
		}
		return id.Name + "(" + exprString(e.Args[0], depth+1) + ")"
	case *syntax.Binary:
		if e.Op >= syntax.OpAdd {
			return exprString(e.X, depth+1) + " " + e.Op.String() + " " + exprString(e.Y, depth+1)
		}
	}
	return "..."
}
