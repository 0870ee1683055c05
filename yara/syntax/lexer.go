package syntax

import (
	"strconv"
	"sync"
)

// Limits of the lexer. They follow yara 4.2.3.
const (
	// MaxIdentifierLength is the longest identifier yara accepts
	// (YR_MAX_IDENTIFIER_LENGTH); longer ones are an error.
	MaxIdentifierLength = 128
)

type tokKind int

const (
	tEOF tokKind = iota
	tIllegal
	tIdent      // foo
	tStringID   // $a, $
	tStringWild // $a*, $*
	tCount      // #a, #
	tOffset     // @a, @
	tLength     // !a, !
	tInt
	tFloat
	tString
	tRegex
	tKeyword // Text holds the keyword

	// Punctuation.
	tLBrace
	tRBrace
	tLParen
	tRParen
	tLBrack
	tRBrack
	tColon
	tComma
	tDot
	tDotDot
	tAssign // =
	tEq     // ==
	tNe     // !=
	tLt
	tLe
	tGt
	tGe
	tShl
	tShr
	tPlus
	tMinus
	tStar
	tBackslash
	tPercent
	tAmp
	tPipe
	tCaret
	tTilde
)

var punctText = map[tokKind]string{
	tLBrace: "{", tRBrace: "}", tLParen: "(", tRParen: ")", tLBrack: "[", tRBrack: "]",
	tColon: ":", tComma: ",", tDot: ".", tDotDot: "..", tAssign: "=", tEq: "==", tNe: "!=",
	tLt: "<", tLe: "<=", tGt: ">", tGe: ">=", tShl: "<<", tShr: ">>", tPlus: "+",
	tMinus: "-", tStar: "*", tBackslash: "\\", tPercent: "%", tAmp: "&", tPipe: "|",
	tCaret: "^", tTilde: "~",
}

// keywords are the reserved words of yara 4.2.3. The integer functions
// (uint8 ... int32be) are reserved too: they cannot name a rule.
var keywords = map[string]bool{
	"all": true, "and": true, "any": true, "ascii": true, "at": true, "base64": true,
	"base64wide": true, "condition": true, "contains": true, "defined": true,
	"endswith": true, "entrypoint": true, "false": true, "filesize": true, "for": true,
	"fullword": true, "global": true, "icontains": true, "iendswith": true,
	"iequals": true, "import": true, "in": true, "include": true, "istartswith": true,
	"matches": true, "meta": true, "nocase": true, "none": true, "not": true, "of": true,
	"or": true, "private": true, "rule": true, "startswith": true, "strings": true,
	"them": true, "true": true, "wide": true, "xor": true,
	"int8": true, "int16": true, "int32": true, "int8be": true, "int16be": true, "int32be": true,
	"uint8": true, "uint16": true, "uint32": true, "uint8be": true, "uint16be": true, "uint32be": true,
}

func isIntFunc(s string) bool {
	switch s {
	case "int8", "int16", "int32", "int8be", "int16be", "int32be",
		"uint8", "uint16", "uint32", "uint8be", "uint16be", "uint32be":
		return true
	}
	return false
}

type token struct {
	kind tokKind
	pos  Pos
	text string // identifier, keyword or raw text of the token
	ival int64
	fval float64
	sval []byte  // tString: bytes after escape processing
	re   *Regexp // tRegex
	err  *Error  // tIllegal (and tokens carrying a recoverable error)
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of file"
	case tString:
		return "text string"
	case tRegex:
		return "regular expression"
	case tInt, tFloat:
		return "number " + strconv.Quote(t.text)
	case tKeyword:
		return "keyword " + strconv.Quote(t.text)
	case tIdent, tStringID, tStringWild, tCount, tOffset, tLength:
		return "identifier " + strconv.Quote(t.text)
	}
	if s, ok := punctText[t.kind]; ok {
		return strconv.Quote(s)
	}
	return "token"
}

// lexer turns source bytes into tokens. It is a value type so that the
// parser can save and restore it to look ahead.
type lexer struct {
	src  []byte
	off  int
	line int
	col  int // column of src[off]
	file string
	// hex is the slab the hex strings' bytes are taken from: one
	// allocation per 256 hex bytes instead of one per byte (hex strings
	// are most of what large rule sets hold). It is a pointer so that
	// saved copies of the lexer share it and never hand out a slot twice.
	hex *hexSlab
}

// hexSlab hands out HexByte values and token slices from chunks. The
// chunks can be recycled (File.Release): hex strings are most of what
// large rule sets hold, and most of the garbage of compiling them.
type hexSlab struct {
	bytes  []HexByte  // the free part of the current chunk
	toks   []HexToken // the free part of the current chunk
	stack  []HexToken // the tokens of the sequences being parsed
	chunks []*[hexByteChunk]HexByte
	tchunk []*[hexTokChunk]HexToken
}

// Chunk sizes; token slices over a quarter of hexTokChunk get their own.
const (
	hexByteChunk = 512
	hexTokChunk  = 4096
)

// Free chunks, and the stacks, kept from one file to the next.
var (
	hexByteChunks = sync.Pool{New: func() any { return new([hexByteChunk]HexByte) }}
	hexTokChunks  = sync.Pool{New: func() any { return new([hexTokChunk]HexToken) }}
	hexStacks     = sync.Pool{New: func() any { return new([]HexToken) }}
)

// new returns a HexByte at p with its other fields zero.
func (s *hexSlab) new(p Pos) *HexByte {
	if len(s.bytes) == 0 {
		c := hexByteChunks.Get().(*[hexByteChunk]HexByte)
		s.chunks = append(s.chunks, c)
		s.bytes = c[:]
	}
	b := &s.bytes[0]
	s.bytes = s.bytes[1:]
	*b = HexByte{Pos: p}
	return b
}

// tokens returns a copy of t of its exact size.
func (s *hexSlab) tokens(t []HexToken) []HexToken {
	n := len(t)
	if n > hexTokChunk/4 {
		return append(make([]HexToken, 0, n), t...)
	}
	if len(s.toks) < n {
		c := hexTokChunks.Get().(*[hexTokChunk]HexToken)
		s.tchunk = append(s.tchunk, c)
		s.toks = c[:]
	}
	out := s.toks[:n:n]
	copy(out, t)
	s.toks = s.toks[n:]
	return out
}

// done returns the stack to hexStacks once the file is parsed.
func (s *hexSlab) done() {
	if s.stack == nil || cap(s.stack) > 1<<16 {
		return
	}
	st := s.stack[:cap(s.stack)]
	clear(st)
	st = st[:0]
	s.stack = nil
	hexStacks.Put(&st)
}

// recycle gives the chunks back for later files.
func (s *hexSlab) recycle() {
	for _, c := range s.chunks {
		hexByteChunks.Put(c)
	}
	for _, c := range s.tchunk {
		clear(c[:])
		hexTokChunks.Put(c)
	}
	*s = hexSlab{}
}

func newLexer(file string, src []byte) lexer {
	return lexer{src: src, line: 1, col: 1, file: file, hex: &hexSlab{}}
}

func (l *lexer) pos() Pos { return Pos{Line: l.line, Col: l.col} }

func (l *lexer) peekByte(i int) byte {
	if l.off+i < len(l.src) {
		return l.src[l.off+i]
	}
	return 0
}

func (l *lexer) advance() {
	if l.off >= len(l.src) {
		return
	}
	if l.src[l.off] == '\n' {
		l.line++
		l.col = 1
	} else {
		l.col++
	}
	l.off++
}

func (l *lexer) errTok(p Pos, code, msg string) token {
	return token{kind: tIllegal, pos: p, err: &Error{File: l.file, Pos: p, Code: code, Msg: msg}}
}

// skipSpace skips white space and comments. An unterminated /* comment
// runs to the end of the file: yara 4.2.3 accepts that silently.
func (l *lexer) skipSpace() {
	for l.off < len(l.src) {
		c := l.src[l.off]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
			l.advance()
		case c == '/' && l.peekByte(1) == '/':
			for l.off < len(l.src) && l.src[l.off] != '\n' {
				l.advance()
			}
		case c == '/' && l.peekByte(1) == '*':
			l.advance()
			l.advance()
			for l.off < len(l.src) && !(l.src[l.off] == '*' && l.peekByte(1) == '/') {
				l.advance()
			}
			l.advance()
			l.advance()
		default:
			return
		}
	}
}

func isIdentStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) }
func isDigit(c byte) bool     { return '0' <= c && c <= '9' }

func isHexDigit(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func hexVal(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// keywordText maps each keyword to itself: keyword tokens share its
// strings instead of copying them from the source.
var keywordText = func() map[string]string {
	m := make(map[string]string, len(keywords))
	for k := range keywords {
		m[k] = k
	}
	return m
}()

// next returns the next token.
func (l *lexer) next() token {
	l.skipSpace()
	p := l.pos()
	if l.off >= len(l.src) {
		return token{kind: tEOF, pos: p}
	}
	c := l.src[l.off]
	switch {
	case isIdentStart(c):
		start := l.off
		for l.off < len(l.src) && isIdentChar(l.src[l.off]) {
			l.advance()
		}
		b := l.src[start:l.off]
		if len(b) > MaxIdentifierLength {
			return l.errTok(p, CodeIdentTooLong, "identifier too long")
		}
		if kw, ok := keywordText[string(b)]; ok {
			return token{kind: tKeyword, pos: p, text: kw}
		}
		return token{kind: tIdent, pos: p, text: string(b)}
	case isDigit(c):
		return l.number(p)
	case c == '"':
		return l.text(p)
	case c == '/':
		return l.regex(p)
	case c == '$' || c == '#' || c == '@' || (c == '!' && l.peekByte(1) != '='):
		return l.stringIdent(p, c)
	}
	return l.punct(p, c)
}

func (l *lexer) stringIdent(p Pos, c byte) token {
	start := l.off
	l.advance()
	for l.off < len(l.src) && isIdentChar(l.src[l.off]) {
		l.advance()
	}
	s := string(l.src[start:l.off])
	// yara 4.2.3 limits rule and other identifiers, not string
	// identifiers ($a, #a, @a, !a).
	var k tokKind
	switch c {
	case '$':
		k = tStringID
	case '#':
		k = tCount
	case '@':
		k = tOffset
	case '!':
		k = tLength
	}
	if c == '$' && l.peekByte(0) == '*' {
		l.advance()
		k = tStringWild
	}
	return token{kind: k, pos: p, text: s}
}

var twoCharPunct = map[string]tokKind{
	"..": tDotDot, "==": tEq, "!=": tNe, "<=": tLe, ">=": tGe, "<<": tShl, ">>": tShr,
}

var oneCharPunct = map[byte]tokKind{
	'{': tLBrace, '}': tRBrace, '(': tLParen, ')': tRParen, '[': tLBrack, ']': tRBrack,
	':': tColon, ',': tComma, '.': tDot, '=': tAssign, '<': tLt, '>': tGt, '+': tPlus,
	'-': tMinus, '*': tStar, '\\': tBackslash, '%': tPercent, '&': tAmp, '|': tPipe,
	'^': tCaret, '~': tTilde,
}

func (l *lexer) punct(p Pos, c byte) token {
	if l.off+1 < len(l.src) {
		if k, ok := twoCharPunct[string(l.src[l.off:l.off+2])]; ok {
			l.advance()
			l.advance()
			return token{kind: k, pos: p}
		}
	}
	if k, ok := oneCharPunct[c]; ok {
		l.advance()
		return token{kind: k, pos: p}
	}
	l.advance()
	return l.errTok(p, CodeIllegalChar, "illegal character "+strconv.QuoteRune(rune(c)))
}

// number scans decimal (with optional KB/MB suffix), 0x hex, 0o octal
// integers and decimal floats "1.5" (a digit must follow the dot, so that
// "0..10" is a range).
func (l *lexer) number(p Pos) token {
	start := l.off
	base := 10
	if l.src[l.off] == '0' && (l.peekByte(1) == 'x' || l.peekByte(1) == 'o') && l.digitAt(2, l.peekByte(1)) {
		if l.peekByte(1) == 'x' {
			base = 16
		} else {
			base = 8
		}
		l.advance()
		l.advance()
		for l.off < len(l.src) && l.digitAt(0, l.src[start+1]) {
			l.advance()
		}
	} else {
		for l.off < len(l.src) && isDigit(l.src[l.off]) {
			l.advance()
		}
		if l.peekByte(0) == '.' && isDigit(l.peekByte(1)) {
			l.advance()
			for l.off < len(l.src) && isDigit(l.src[l.off]) {
				l.advance()
			}
			s := string(l.src[start:l.off])
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return l.errTok(p, CodeIntOverflow, "invalid number "+strconv.Quote(s))
			}
			return token{kind: tFloat, pos: p, text: s, fval: f}
		}
	}
	digits := string(l.src[start:l.off])
	text := digits
	mult := int64(1)
	if base == 10 && (l.peekByte(0) == 'K' || l.peekByte(0) == 'M') && l.peekByte(1) == 'B' {
		if l.peekByte(0) == 'K' {
			mult = 1024
		} else {
			mult = 1024 * 1024
		}
		l.advance()
		l.advance()
		text = string(l.src[start:l.off])
	}
	if base != 10 {
		digits = digits[2:]
	}
	v, err := strconv.ParseInt(digits, base, 64)
	if err != nil || v > (1<<63-1)/mult {
		return l.errTok(p, CodeIntOverflow, "integer overflow in "+strconv.Quote(text))
	}
	return token{kind: tInt, pos: p, text: text, ival: v * mult}
}

func (l *lexer) digitAt(i int, kind byte) bool {
	c := l.peekByte(i)
	if kind == 'x' {
		return isHexDigit(c)
	}
	return '0' <= c && c <= '7'
}

// text scans a double-quoted text string. Escapes accepted by yara 4.2.3:
// \n \t \r \\ \" and \xHH; any other escape is an error. A newline
// before the closing quote is an error.
func (l *lexer) text(p Pos) token {
	// Most strings have no escape: their bytes are the source's (sval
	// then aliases src: the parser copies what it keeps).
	for i := l.off + 1; i < len(l.src); i++ {
		c := l.src[i]
		if c == '"' {
			var sval []byte
			if i > l.off+1 {
				sval = l.src[l.off+1 : i : i]
			}
			l.col += i + 1 - l.off
			l.off = i + 1
			return token{kind: tString, pos: p, sval: sval}
		}
		if c == '\\' || c == '\n' {
			break
		}
	}
	start := l.off
	l.advance()
	var buf []byte
	for {
		if l.off >= len(l.src) || l.src[l.off] == '\n' {
			return l.errTok(p, CodeUnterminatedStr, "unterminated string")
		}
		c := l.src[l.off]
		if c == '"' {
			l.advance()
			return token{kind: tString, pos: p, text: string(l.src[start:l.off]), sval: buf}
		}
		if c != '\\' {
			buf = append(buf, c)
			l.advance()
			continue
		}
		ep := l.pos()
		switch e := l.peekByte(1); e {
		case 'n', 't', 'r', '\\', '"':
			buf = append(buf, map[byte]byte{'n': '\n', 't': '\t', 'r': '\r', '\\': '\\', '"': '"'}[e])
			l.advance()
			l.advance()
		case 'x':
			if !isHexDigit(l.peekByte(2)) || !isHexDigit(l.peekByte(3)) {
				l.skipRestOfString()
				return l.errTok(ep, CodeBadEscape, "illegal escape sequence")
			}
			buf = append(buf, hexVal(l.peekByte(2))<<4|hexVal(l.peekByte(3)))
			for range 4 {
				l.advance()
			}
		default:
			l.skipRestOfString()
			return l.errTok(ep, CodeBadEscape, "illegal escape sequence")
		}
	}
}

// skipRestOfString moves past the closing quote (or to the end of the
// line) after an error inside a text string.
func (l *lexer) skipRestOfString() {
	l.advance()
	for l.off < len(l.src) && l.src[l.off] != '\n' {
		c := l.src[l.off]
		l.advance()
		if c == '"' {
			return
		}
		if c == '\\' && l.off < len(l.src) && l.src[l.off] != '\n' {
			l.advance()
		}
	}
}

// regex scans /.../flags. Like yara 4.2.3's lexer, a backslash protects
// the next byte (so `\/` does not end the regex and is stored as `/`), and
// the first unescaped `/` ends it, even inside a character class: yara
// rejects /a[/]b/. A newline before the end is an error. Flags are `i`
// then `s`, in that order, as in yara.
func (l *lexer) regex(p Pos) token {
	l.advance()
	var buf []byte
	for {
		if l.off >= len(l.src) || l.src[l.off] == '\n' {
			return l.errTok(p, CodeUnterminatedRegex, "unterminated regular expression")
		}
		c := l.src[l.off]
		if c == '/' {
			l.advance()
			break
		}
		if c == '\\' && l.peekByte(1) == '/' {
			buf = append(buf, '/')
			l.advance()
			l.advance()
			continue
		}
		if c == '\\' && l.off+1 < len(l.src) && l.src[l.off+1] != '\n' {
			buf = append(buf, c, l.src[l.off+1])
			l.advance()
			l.advance()
			continue
		}
		buf = append(buf, c)
		l.advance()
	}
	re := &Regexp{Pos: p, Source: string(buf)}
	if l.peekByte(0) == 'i' {
		re.Nocase = true
		l.advance()
	}
	if l.peekByte(0) == 's' {
		re.Dotall = true
		l.advance()
	}
	return token{kind: tRegex, pos: p, re: re}
}
