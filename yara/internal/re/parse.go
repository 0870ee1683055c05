package re

import (
	"fmt"
	"strconv"
)

// Limits of the parser. Each mirrors a limit of yara 4.2.3 or protects
// against hostile patterns.
const (
	// MaxRepeat is the largest count allowed in {n,m} (yara's RE_MAX_RANGE,
	// INT16_MAX): larger counts are rejected with "repeat interval too large".
	MaxRepeat = 32767

	// maxNesting bounds the depth of nested groups so that recursive
	// descent cannot exhaust the stack.
	maxNesting = 1000
)

// Op is the kind of a Node.
type Op uint8

const (
	OpEmpty           Op = iota // matches the empty string
	OpClass                     // one byte from Set
	OpConcat                    // Subs in sequence
	OpAlt                       // first matching of Subs, in priority order
	OpRepeat                    // Subs[0] repeated Min..Max times (Max -1: unbounded); Lazy for *? +? ?? {n,m}?
	OpBegin                     // ^: position 0 of the scanned data
	OpEnd                       // $: end of the scanned data
	OpWordBoundary              // \b
	OpNotWordBoundary           // \B
)

// Node is a parsed pattern (a regex or a hex string). It is plain data;
// Compile turns it into a Prog. A Node is not modified by Compile and may be
// compiled several times with different options.
type Node struct {
	Op   Op
	Set  ByteSet // OpClass
	Subs []*Node // OpConcat, OpAlt, OpRepeat (one sub)
	Min  int     // OpRepeat
	Max  int     // OpRepeat; -1 means unbounded
	Lazy bool    // OpRepeat
	Neg  bool    // OpClass: Set is the complement of a written set ([^...], '.', \W); nocase folds before negating

	hex   bool // root of a FromHex tree: shortest-match semantics (doc.go)
	any   bool // OpClass from '.' or a hex jump: yara's RE_NODE_ANY
	chain bool // OpConcat at the top level, not in a group: Chain may split it
	group bool // written in parentheses (yara's tree has a node for it)
	// OpRepeat: its sub was written in parentheses ((.){2,}? is a RANGE
	// node for yara, not a RANGE_ANY).
	ofGroup bool

	// How yara sees the node (ynode.go): atoms come only from literals,
	// masked hex bytes and "any" nodes, and the quantifier form decides
	// the repeat node kind.
	kind  litKind // OpClass: literal, masked byte or any (else a class)
	val   byte    // kind != 0: the byte value (masked bits zero)
	mask  byte    // kind != 0: the mask (0xFF literal, 0x00 any)
	quant byte    // OpRepeat: the quantifier character: * + ? or {
}

// litKind tells how yara classifies a one-byte node.
type litKind uint8

const (
	kindClass  litKind = iota // class, \w, \d, ...: no atom
	kindLit                   // RE_NODE_LITERAL
	kindMasked                // RE_NODE_MASKED_LITERAL (hex X?, ?X, [1])
	kindAny                   // RE_NODE_ANY ('.', hex ??)
)

// Flags are the regex flags written after the closing slash.
type Flags struct {
	Nocase bool // /i: ASCII case folding
	Dotall bool // /s: '.' also matches '\n'
}

// Error is a syntax error in a regular expression. Offset is the byte
// offset in the source text where the problem was found. Msg uses yara's
// wording where yara has one.
type Error struct {
	Offset int
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("offset %d: %s", e.Offset, e.Msg) }

// Messages of parse errors (yara's wording).
const (
	msgSyntax        = "syntax error"
	msgEmpty         = "empty regular expression"
	msgBadRepeat     = "bad repeat interval"
	msgRepeatTooBig  = "repeat interval too large"
	msgMissingRBrack = "missing terminating ] for character class"
	msgBadRange      = "bad character range"
	msgIllegalEscape = "illegal escape sequence"
	msgBackref       = "backreferences are not allowed"
	msgMixedGreedy   = "greedy and ungreedy quantifiers can't be mixed in a regular expression"
	msgTooDeep       = "regular expression nested too deeply"
)

type parser struct {
	src    string
	pos    int
	flags  Flags
	depth  int
	greedy int // offset+1 of the first greedy quantifier, 0 if none
	lazy   int // offset+1 of the first lazy quantifier, 0 if none
}

// Parse parses YARA regex syntax; src is the text between the slashes.
// The returned error is an *Error.
func Parse(src string, flags Flags) (*Node, error) {
	if src == "" {
		return nil, &Error{0, msgEmpty}
	}
	p := &parser{src: src, flags: flags}
	n, err := p.alternation()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.src) {
		return nil, &Error{p.pos, msgSyntax}
	}
	if p.greedy != 0 && p.lazy != 0 {
		return nil, &Error{max(p.greedy, p.lazy) - 1, msgMixedGreedy}
	}
	return n, nil
}

func (p *parser) errf(off int, msg string) error { return &Error{off, msg} }

// alternation := concat ('|' concat?)*. yara rejects an empty first
// alternative ("|a", "(|a)") but accepts empty later ones ("a|", "(a|)").
func (p *parser) alternation() (*Node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxNesting {
		return nil, p.errf(p.pos, msgTooDeep)
	}
	first, err := p.concat()
	if err != nil {
		return nil, err
	}
	if first == nil {
		return nil, p.errf(p.pos, msgSyntax)
	}
	alts := []*Node{first}
	for p.pos < len(p.src) && p.src[p.pos] == '|' {
		p.pos++
		n, err := p.concat()
		if err != nil {
			return nil, err
		}
		if n == nil {
			n = &Node{Op: OpEmpty}
		}
		alts = append(alts, n)
	}
	if len(alts) == 1 {
		return first, nil
	}
	return &Node{Op: OpAlt, Subs: alts}, nil
}

// concat parses items up to '|', ')' or the end; nil when there is none.
func (p *parser) concat() (*Node, error) {
	var items []*Node
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == '|' || c == ')' {
			break
		}
		n, err := p.repeat()
		if err != nil {
			return nil, err
		}
		items = append(items, n)
	}
	switch len(items) {
	case 0:
		return nil, nil
	case 1:
		return items[0], nil
	}
	return &Node{Op: OpConcat, Subs: items, chain: p.depth == 1}, nil
}

// repeat parses one atom and at most one quantifier.
func (p *parser) repeat() (*Node, error) {
	group := p.src[p.pos] == '('
	n, err := p.single()
	if err != nil {
		return nil, err
	}
	qpos := p.pos
	lo, hi, ok, err := p.quantifier()
	if err != nil || !ok {
		if group && err == nil {
			n.group = true
		}
		return n, err
	}
	// An anchor cannot be repeated, unless in a group: (\b){1} is fine.
	if !group && (n.Op == OpBegin || n.Op == OpEnd || n.Op == OpWordBoundary || n.Op == OpNotWordBoundary) {
		return nil, p.errf(qpos, msgSyntax)
	}
	lazy := false
	if p.pos < len(p.src) && p.src[p.pos] == '?' {
		lazy = true
		p.pos++
	}
	if lazy {
		if p.lazy == 0 {
			p.lazy = qpos + 1
		}
	} else if p.greedy == 0 {
		p.greedy = qpos + 1
	}
	if p.pos < len(p.src) && isQuantStart(p.src, p.pos) {
		return nil, p.errf(p.pos, msgSyntax)
	}
	return &Node{Op: OpRepeat, Subs: []*Node{n}, Min: lo, Max: hi, Lazy: lazy, quant: p.src[qpos], ofGroup: group}, nil
}

func isQuantStart(s string, i int) bool {
	switch s[i] {
	case '*', '+', '?':
		return true
	case '{':
		_, _, end := scanBraces(s, i)
		return end > 0
	}
	return false
}

// quantifier parses * + ? or a brace repeat at p.pos.
func (p *parser) quantifier() (lo, hi int, ok bool, err error) {
	if p.pos >= len(p.src) {
		return 0, 0, false, nil
	}
	switch p.src[p.pos] {
	case '*':
		p.pos++
		return 0, -1, true, nil
	case '+':
		p.pos++
		return 1, -1, true, nil
	case '?':
		p.pos++
		return 0, 1, true, nil
	case '{':
		at := p.pos
		lo, hi, end := scanBraces(p.src, p.pos)
		if end < 0 {
			return 0, 0, false, nil // not a repeat: '{' is a literal
		}
		p.pos = end
		if lo > MaxRepeat || hi > MaxRepeat {
			return 0, 0, false, p.errf(at, msgRepeatTooBig)
		}
		if hi >= 0 && (lo > hi || hi == 0) {
			return 0, 0, false, p.errf(at, msgBadRepeat)
		}
		return lo, hi, true, nil
	}
	return 0, 0, false, nil
}

// scanBraces recognises {n}, {n,}, {,m}, {n,m} and {,} (digits only, no
// spaces) starting at s[i] == '{'. It returns the bounds (hi -1 when
// unbounded) and the offset after '}', or end -1 when the text is not a
// repeat (yara then reads '{' as a literal). Counts saturate just above
// MaxRepeat so that overflow is impossible.
func scanBraces(s string, i int) (lo, hi, end int) {
	j := i + 1
	num := func() (int, bool) {
		v, k := 0, j
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			v = min(v*10+int(s[j]-'0'), MaxRepeat+1)
			j++
		}
		return v, j > k
	}
	lo, hasLo := num()
	if j < len(s) && s[j] == '}' {
		if !hasLo {
			return 0, 0, -1
		}
		return lo, lo, j + 1
	}
	if j >= len(s) || s[j] != ',' {
		return 0, 0, -1
	}
	j++
	hi, hasHi := num()
	if j >= len(s) || s[j] != '}' {
		return 0, 0, -1
	}
	if !hasHi {
		hi = -1
	}
	return lo, hi, j + 1
}

// single parses one item: a group, a class, '.', an anchor, an escape or a
// literal byte.
func (p *parser) single() (*Node, error) {
	c := p.src[p.pos]
	switch c {
	case '(':
		p.pos++
		if p.pos < len(p.src) && p.src[p.pos] == ')' {
			return nil, p.errf(p.pos, msgSyntax)
		}
		n, err := p.alternation()
		if err != nil {
			return nil, err
		}
		if p.pos >= len(p.src) || p.src[p.pos] != ')' {
			return nil, p.errf(p.pos, msgSyntax)
		}
		p.pos++
		return n, nil
	case '*', '+', '?':
		return nil, p.errf(p.pos, msgSyntax)
	case '{':
		if isQuantStart(p.src, p.pos) {
			return nil, p.errf(p.pos, msgSyntax)
		}
	case '[':
		return p.class()
	case '.':
		p.pos++
		var s ByteSet
		s.AddRange(0, 255)
		if !p.flags.Dotall {
			s.Remove('\n')
		}
		return &Node{Op: OpClass, Set: s, Neg: true, any: true, kind: kindAny}, nil
	case '^':
		p.pos++
		return &Node{Op: OpBegin}, nil
	case '$':
		p.pos++
		return &Node{Op: OpEnd}, nil
	case '\\':
		at := p.pos
		p.pos++
		if p.pos >= len(p.src) {
			return nil, p.errf(at, msgIllegalEscape)
		}
		switch p.src[p.pos] {
		case 'b':
			p.pos++
			return &Node{Op: OpWordBoundary}, nil
		case 'B':
			p.pos++
			return &Node{Op: OpNotWordBoundary}, nil
		}
		p.pos = at
		set, err := p.escape(false)
		if err != nil {
			return nil, err
		}
		n := p.classNode(set)
		if set.Len() == 1 && !isClassEscape(p.src[at+1]) {
			n.kind, n.val, n.mask = kindLit, set.Min(), 0xFF
		}
		return n, nil
	}
	p.pos++
	var s ByteSet
	s.Add(c)
	n := p.classNode(s)
	n.kind, n.val, n.mask = kindLit, c, 0xFF
	return n, nil
}

// isClassEscape reports whether \c is one of yara's class escapes.
func isClassEscape(c byte) bool {
	switch c {
	case 'w', 'W', 's', 'S', 'd', 'D':
		return true
	}
	return false
}

func (p *parser) classNode(s ByteSet) *Node {
	if p.flags.Nocase {
		s = s.Fold()
	}
	return &Node{Op: OpClass, Set: s}
}

// escape parses a backslash escape at p.pos and returns the bytes it
// stands for. single reports whether the escape denotes exactly one byte
// (needed for class ranges).
func (p *parser) escape(inClass bool) (ByteSet, error) {
	var s ByteSet
	at := p.pos
	p.pos++ // backslash
	if p.pos >= len(p.src) {
		return s, p.errf(at, msgIllegalEscape)
	}
	c := p.src[p.pos]
	p.pos++
	switch c {
	case 'n':
		s.Add('\n')
	case 't':
		s.Add('\t')
	case 'r':
		s.Add('\r')
	case 'f':
		s.Add('\f')
	case 'a':
		s.Add('\a')
	case 'x':
		if p.pos+2 > len(p.src) || !isHex(p.src[p.pos]) || !isHex(p.src[p.pos+1]) {
			return s, p.errf(at, msgIllegalEscape)
		}
		v, _ := strconv.ParseUint(p.src[p.pos:p.pos+2], 16, 8)
		p.pos += 2
		s.Add(byte(v))
	case 'w', 'W':
		s = wordSet
		if c == 'W' {
			s = s.Complement()
		}
	case 's', 'S':
		s = spaceSet
		if c == 'S' {
			s = s.Complement()
		}
	case 'd', 'D':
		s.AddRange('0', '9')
		if c == 'D' {
			s = s.Complement()
		}
	default:
		if c >= '0' && c <= '9' {
			return s, p.errf(at, msgBackref)
		}
		s.Add(c) // \\ \/ \. \b (in a class) and any other escaped byte
	}
	return s, nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// class parses [...] at p.pos. ']' right after '[' or '[^' is a literal;
// '-' first or last is a literal.
func (p *parser) class() (*Node, error) {
	open := p.pos
	p.pos++
	neg := false
	if p.pos < len(p.src) && p.src[p.pos] == '^' {
		neg = true
		p.pos++
	}
	var set ByteSet
	first := true
	for {
		if p.pos >= len(p.src) {
			return nil, p.errf(open, msgMissingRBrack)
		}
		c := p.src[p.pos]
		if c == ']' && !first {
			p.pos++
			break
		}
		first = false
		lo, loLit, err := p.classItem()
		if err != nil {
			return nil, err
		}
		// A range lo-hi needs '-' followed by something other than ']'.
		// yara reads a class escape at either end of a range as its
		// letter: [\d-f] is d-f, [a-\d] is a-d.
		if p.pos+1 < len(p.src) && p.src[p.pos] == '-' && p.src[p.pos+1] != ']' {
			dash := p.pos
			p.pos++
			_, hiLit, err := p.classItem()
			if err != nil {
				return nil, err
			}
			if loLit > hiLit {
				return nil, p.errf(dash, msgBadRange)
			}
			set.AddRange(loLit, hiLit)
			continue
		}
		set = set.Union(lo)
	}
	if p.flags.Nocase {
		set = set.Fold()
	}
	if neg {
		set = set.Complement()
	}
	return &Node{Op: OpClass, Set: set, Neg: neg}, nil
}

// classItem parses one byte or escape inside a class. lit is the byte the
// item stands for as a range end point (for \w and friends: the letter).
func (p *parser) classItem() (set ByteSet, lit byte, err error) {
	if p.src[p.pos] == '\\' {
		if p.pos+1 < len(p.src) {
			lit = p.src[p.pos+1]
		}
		s, err := p.escape(true)
		if err == nil && s.Len() == 1 {
			lit = s.Min()
		}
		return s, lit, err
	}
	c := p.src[p.pos]
	set.Add(c)
	p.pos++
	return set, c, nil
}

// Literal returns a node matching exactly b. An empty b gives an OpEmpty
// node.
func Literal(b []byte) *Node {
	if len(b) == 0 {
		return &Node{Op: OpEmpty}
	}
	subs := make([]*Node, len(b))
	for i, c := range b {
		subs[i] = &Node{Op: OpClass}
		subs[i].Set.Add(c)
	}
	if len(subs) == 1 {
		return subs[0]
	}
	return &Node{Op: OpConcat, Subs: subs}
}
