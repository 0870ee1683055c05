package syntax

import "strconv"

// Limits of hex strings.
const (
	// MaxAltJump is the longest jump yara allows inside an alternation
	// (YR_STRING_CHAINING_THRESHOLD).
	MaxAltJump = 200
	// maxJump bounds jump lengths so that they fit an int everywhere.
	maxJump = 1<<31 - 1
)

// hexScanner parses the body of a hex string. It works directly on the
// lexer, which is positioned just after the opening '{'.
type hexScanner struct {
	l     *lexer
	err   *Error
	depth int
}

func (h *hexScanner) fail(p Pos, code, msg string) {
	if h.err == nil {
		h.err = &Error{File: h.l.file, Pos: p, Code: code, Msg: msg}
	}
}

// skip skips white space and comments inside a hex string.
func (h *hexScanner) skip() {
	h.l.skipSpace()
}

// scanHex parses a hex string whose '{' is at p. On error it returns the
// error and leaves the lexer after the closing '}' if there is one on the
// way, so that parsing can go on.
func (l *lexer) scanHex(p Pos) (*HexString, *Error) {
	if l.hex == nil {
		l.hex = &hexSlab{}
	}
	if l.hex.stack == nil {
		l.hex.stack = *hexStacks.Get().(*[]HexToken)
	}
	h := &hexScanner{l: l}
	toks := h.seq(0, p)
	if h.err == nil {
		h.skip()
		if l.off >= len(l.src) {
			h.fail(p, CodeUnterminatedHex, "unterminated hex string")
		} else if l.src[l.off] != '}' {
			h.fail(l.pos(), CodeHexSyntax, "invalid hex string: unexpected "+strconv.QuoteRune(rune(l.src[l.off])))
		} else {
			l.advance()
		}
	}
	if h.err != nil {
		for l.off < len(l.src) && l.src[l.off] != '}' {
			l.advance()
		}
		l.advance()
		return nil, h.err
	}
	return &HexString{Pos: p, Tokens: toks}, nil
}

// seq parses tokens up to '}', '|' or ')' (not consumed). Like yara, a
// sequence is not empty and neither starts nor ends with a jump. The
// tokens are gathered on the slab's stack (alternatives nest), then
// copied to a slice of their exact size.
func (h *hexScanner) seq(altDepth int, start Pos) []HexToken {
	s := h.l.hex
	base := len(s.stack)
	var lastJump bool
	for h.err == nil {
		h.skip()
		l := h.l
		if l.off >= len(l.src) {
			h.fail(start, CodeUnterminatedHex, "unterminated hex string")
			s.stack = s.stack[:base]
			return nil
		}
		p := l.pos()
		c := l.src[l.off]
		if c == '}' || c == '|' || c == ')' {
			if len(s.stack) == base {
				h.fail(p, CodeHexSyntax, "invalid hex string: empty sequence")
			} else if lastJump {
				h.fail(p, CodeHexSyntax, "invalid hex string: sequence ends with a jump")
			}
			break
		}
		switch {
		case c == '[':
			j := h.jump(altDepth > 0)
			if len(s.stack) == base && h.err == nil {
				h.fail(p, CodeHexSyntax, "invalid hex string: sequence starts with a jump")
			}
			s.stack = append(s.stack, j)
			lastJump = true
			continue
		case c == '(':
			a := h.alt(altDepth)
			s.stack = append(s.stack, a)
		default:
			b := h.byteTok()
			s.stack = append(s.stack, b)
			// Then the bytes that follow after a single space, without
			// the general loop: byteTok would take them the same way.
			for l.off+2 < len(l.src) && l.src[l.off] == ' ' && h.err == nil {
				hi, lo := hexNibble[l.src[l.off+1]], hexNibble[l.src[l.off+2]]
				if hi&lo&nibOK == 0 {
					break
				}
				l.off++
				l.col++
				b := h.byteTok()
				s.stack = append(s.stack, b)
			}
		}
		lastJump = false
	}
	toks := s.tokens(s.stack[base:])
	s.stack = s.stack[:base]
	return toks
}

func (h *hexScanner) alt(altDepth int) *HexAlt {
	l := h.l
	p := l.pos()
	h.depth++
	defer func() { h.depth-- }()
	if h.depth > maxDepth {
		h.fail(p, CodeTooDeep, "hex string nested too deeply")
		return nil
	}
	l.advance()
	a := &HexAlt{Pos: p}
	for h.err == nil {
		a.Alts = append(a.Alts, h.seq(altDepth+1, p))
		if h.err != nil {
			break
		}
		c := l.src[l.off]
		if c == '|' {
			l.advance()
			continue
		}
		if c == ')' {
			l.advance()
			return a
		}
		h.fail(l.pos(), CodeHexSyntax, "invalid hex string: unexpected "+strconv.QuoteRune(rune(c)))
	}
	return a
}

// hexNibble classifies the characters of a hex byte: nibOK for a digit
// or '?', plus nibDigit and the value for a digit.
var hexNibble = func() (t [256]byte) {
	t['?'] = nibOK
	for c := 0; c < 256; c++ {
		if isHexDigit(byte(c)) {
			t[c] = nibOK | nibDigit | hexVal(byte(c))
		}
	}
	return t
}()

const (
	nibOK    = 0x80
	nibDigit = 0x40
)

func (h *hexScanner) nibble() (v, m byte, ok bool) {
	l := h.l
	c := l.peekByte(0)
	switch {
	case c == '?':
		l.advance()
		return 0, 0, true
	case isHexDigit(c):
		l.advance()
		return hexVal(c), 0xF, true
	}
	return 0, 0, false
}

func (h *hexScanner) byteTok() *HexByte {
	l := h.l
	p := l.pos()
	b := l.hex.new(p)
	if l.off+1 < len(l.src) {
		// Two digits or '?' (no newline in between): the common case.
		hi, lo := hexNibble[l.src[l.off]], hexNibble[l.src[l.off+1]]
		if hi&lo&nibOK != 0 {
			b.Value = (hi&0xF)<<4 | lo&0xF
			if hi&nibDigit != 0 {
				b.Mask = 0xF0
			}
			if lo&nibDigit != 0 {
				b.Mask |= 0x0F
			}
			l.off += 2
			l.col += 2
			return b
		}
	}
	if l.peekByte(0) == '~' {
		b.Not = true
		l.advance()
	}
	hv, hm, ok := h.nibble()
	if !ok {
		c := l.peekByte(0)
		h.fail(l.pos(), CodeHexSyntax, "invalid hex string: unexpected "+strconv.QuoteRune(rune(c)))
		return b
	}
	lv, lm, ok := h.nibble()
	if !ok {
		h.fail(p, CodeHexOddDigits, "invalid hex string: uneven number of digits in hex string")
		return b
	}
	b.Value = hv<<4 | lv
	b.Mask = hm<<4 | lm
	if b.Not && b.Mask == 0 {
		h.fail(p, CodeHexSyntax, "invalid hex string: ~?? matches nothing")
	}
	return b
}

// jump parses [n], [n-m], [n-] or [-]. Numbers are decimal.
func (h *hexScanner) jump(inAlt bool) *HexJump {
	l := h.l
	p := l.pos()
	l.advance()
	j := &HexJump{Pos: p, Min: 0, Max: -1}
	h.skip()
	lo, hasLo := h.jumpNum()
	h.skip()
	if l.peekByte(0) == '-' {
		l.advance()
		h.skip()
		hi, hasHi := h.jumpNum()
		j.Min, j.Range = lo, true
		if hasHi {
			j.Max = hi
		}
	} else {
		if !hasLo {
			h.fail(l.pos(), CodeHexSyntax, "invalid hex string: expected jump length")
			return j
		}
		j.Min, j.Max = lo, lo
	}
	h.skip()
	if l.peekByte(0) != ']' {
		h.fail(l.pos(), CodeHexSyntax, "invalid hex string: expected ']'")
		return j
	}
	l.advance()
	switch {
	case j.Max >= 0 && j.Min > j.Max:
		h.fail(p, CodeJumpRange, "invalid hex string: invalid jump range")
	case inAlt && j.Max < 0:
		h.fail(p, CodeJumpUnbounded, "invalid hex string: unbounded jumps not allowed inside alternation (|)")
	case inAlt && j.Max > MaxAltJump:
		h.fail(p, CodeJumpTooLong, "invalid hex string: jumps over 200 not allowed inside alternation (|)")
	}
	return j
}

func (h *hexScanner) jumpNum() (int, bool) {
	l := h.l
	p := l.pos()
	start := l.off
	for l.off < len(l.src) && isDigit(l.src[l.off]) {
		l.advance()
	}
	if l.off == start {
		return 0, false
	}
	v, err := strconv.ParseInt(string(l.src[start:l.off]), 10, 64)
	if err != nil || v > maxJump {
		h.fail(p, CodeJumpRange, "invalid hex string: jump length too large")
		return 0, true
	}
	return int(v), true
}
