package difftest

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// stringKind tells text, hex and regex strings apart.
type stringKind int

const (
	kindText stringKind = iota
	kindHex
	kindRegex
)

// modifiers of a string, as generated.
type modifiers struct {
	nocase, ascii, wide, fullword, private bool
	xor                                    bool
	xorLo, xorHi                           int
	base64, base64wide                     bool
	alphabet                               string // custom base64 alphabet ("" for the standard one)
}

// genString is a generated string definition. It keeps its structure so
// that the input generator can produce instances that match.
type genString struct {
	id   string // "$a1", or "$" for an anonymous string
	kind stringKind
	src  string // the definition's right-hand side, modifiers included
	mods modifiers

	text  []byte   // kindText
	hex   []hexTok // kindHex
	re    *reNode  // kindRegex
	reDot bool     // regex has the s flag
	reI   bool     // regex has the i flag
}

// textAlphabet is what text strings and inputs are mostly made of: few
// symbols, so that random data hits the strings often.
const textAlphabet = "aaabbbcAB01 _.-\x00\xff\n\"\\"

func (g *ruleGen) textBytes(max int) []byte {
	n := 1 + g.r.IntN(max)
	b := make([]byte, n)
	for i := range b {
		if g.chance(12) {
			b[i] = byte(g.r.IntN(256))
		} else {
			b[i] = textAlphabet[g.r.IntN(len(textAlphabet))]
		}
	}
	return b
}

// quoteText renders b as a YARA text string literal.
func quoteText(b []byte) string {
	var s strings.Builder
	s.WriteByte('"')
	for _, c := range b {
		switch {
		case c == '"':
			s.WriteString(`\"`)
		case c == '\\':
			s.WriteString(`\\`)
		case c == '\n':
			s.WriteString(`\n`)
		case c == '\t':
			s.WriteString(`\t`)
		case c >= 0x20 && c < 0x7f:
			s.WriteByte(c)
		default:
			fmt.Fprintf(&s, `\x%02x`, c)
		}
	}
	s.WriteByte('"')
	return s.String()
}

func (g *ruleGen) stringID() string {
	if g.f.AnonymousStrings && g.chance(15) {
		return "$"
	}
	return "$" + g.pick("a", "b", "ab", "s") + fmt.Sprint(g.r.IntN(4))
}

func (g *ruleGen) genString() *genString {
	s := &genString{id: g.stringID()}
	kinds := []stringKind{kindText, kindText}
	if g.f.Hex {
		kinds = append(kinds, kindHex)
	}
	if g.f.Regex {
		kinds = append(kinds, kindRegex)
	}
	s.kind = kinds[g.r.IntN(len(kinds))]
	switch s.kind {
	case kindText:
		s.text = g.textBytes(maxTextLen)
		s.src = quoteText(s.text) + g.textModifiers(&s.mods)
	case kindHex:
		s.hex = g.hexSeq(0, true)
		s.src = "{ " + renderHex(s.hex) + " }"
		if g.chance(6) {
			s.mods.private = true
			s.src += " private"
		}
	case kindRegex:
		g.genRegex(s)
	}
	return s
}

// textModifiers picks a valid combination of modifiers for a text string.
// yara 4.2.3 rejects xor with nocase, and base64 with nocase, xor or
// fullword.
func (g *ruleGen) textModifiers(m *modifiers) string {
	var out []string
	if g.f.Base64 && g.chance(6) {
		m.base64 = g.chance(2)
		m.base64wide = !m.base64 || g.chance(3)
		if g.chance(3) {
			m.alphabet = g.alphabet()
		}
		alpha := ""
		if m.alphabet != "" {
			alpha = "(" + quoteText([]byte(m.alphabet)) + ")"
		}
		if m.base64 {
			out = append(out, "base64"+alpha)
		}
		if m.base64wide {
			out = append(out, "base64wide"+alpha)
		}
		if g.f.TextModifiers && g.chance(4) {
			out = append(out, "private")
			m.private = true
		}
		g.r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		return " " + strings.Join(out, " ")
	}
	if g.f.Xor && g.chance(5) {
		m.xor = true
		switch g.r.IntN(3) {
		case 0:
			m.xorLo, m.xorHi = 0, 255
			out = append(out, "xor")
		case 1:
			k := g.r.IntN(256)
			m.xorLo, m.xorHi = k, k
			out = append(out, fmt.Sprintf("xor(%d)", k))
		default:
			lo := g.r.IntN(256)
			hi := lo + g.r.IntN(min(256-lo, 8))
			m.xorLo, m.xorHi = lo, hi
			out = append(out, fmt.Sprintf("xor(%d-%d)", lo, hi))
		}
	}
	if g.f.TextModifiers {
		if !m.xor && g.chance(4) {
			m.nocase = true
			out = append(out, "nocase")
		}
		if g.chance(4) {
			m.wide = true
			out = append(out, "wide")
		}
		if g.chance(5) || (m.wide && g.chance(2)) {
			m.ascii = true
			out = append(out, "ascii")
		}
		if g.chance(5) {
			m.fullword = true
			out = append(out, "fullword")
		}
		if g.chance(8) {
			m.private = true
			out = append(out, "private")
		}
	}
	if len(out) == 0 {
		return ""
	}
	g.r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return " " + strings.Join(out, " ")
}

// alphabet returns a random permutation of 64 distinct printable
// characters, none of which needs escaping or is '='.
func (g *ruleGen) alphabet() string {
	var pool []byte
	for c := byte('!'); c < 0x7f; c++ {
		if c != '"' && c != '\\' && c != '=' {
			pool = append(pool, c)
		}
	}
	g.r.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	return string(pool[:64])
}

// hexTok is one token of a hex string.
type hexTok struct {
	kind   byte // 'b' byte, 'w' ??, 'h' X?, 'l' ?X, 'j' jump, 'a' alternation
	b      byte
	lo, hi int // jump bounds; hi < 0: unbounded; lo < 0: [-]
	alts   [][]hexTok
}

// hexSeq generates a token sequence that starts and ends with a byte and
// never has two jumps in a row. Inside alternatives (top false) jumps are
// bounded, as yara requires.
func (g *ruleGen) hexSeq(depth int, top bool) []hexTok {
	var seq []hexTok
	n := 1 + g.r.IntN(5)
	if !top {
		n = 1 + g.r.IntN(3)
	}
	seq = append(seq, hexTok{kind: 'b', b: g.hexByte()})
	for i := 1; i < n; i++ {
		switch k := g.r.IntN(10); {
		case k < 1 && seq[len(seq)-1].kind != 'j' && g.f.HexJumps:
			t := hexTok{kind: 'j', lo: g.r.IntN(4)}
			switch g.r.IntN(5) {
			case 0:
				t.hi = t.lo
			case 1:
				if top {
					t.hi = -1
				} else {
					t.hi = t.lo + g.r.IntN(4)
				}
			case 2:
				if top {
					t.lo, t.hi = -1, -1
				} else {
					t.hi = t.lo + 1
				}
			default:
				t.hi = t.lo + g.r.IntN(4)
			}
			seq = append(seq, t)
		case k < 2 && depth < 2 && g.f.HexAlternatives:
			t := hexTok{kind: 'a'}
			for a := 2 + g.r.IntN(2); a > 0; a-- {
				t.alts = append(t.alts, g.hexSeq(depth+1, false))
			}
			seq = append(seq, t)
		case k < 3:
			seq = append(seq, hexTok{kind: 'w'})
		case k < 4:
			seq = append(seq, hexTok{kind: "hl"[g.r.IntN(2)], b: g.hexByte()})
		default:
			seq = append(seq, hexTok{kind: 'b', b: g.hexByte()})
		}
	}
	if seq[len(seq)-1].kind == 'j' {
		seq = append(seq, hexTok{kind: 'b', b: g.hexByte()})
	}
	return seq
}

func (g *ruleGen) hexByte() byte {
	if g.chance(5) {
		return byte(g.r.IntN(256))
	}
	return textAlphabet[g.r.IntN(len(textAlphabet))]
}

func renderHex(seq []hexTok) string {
	var parts []string
	for _, t := range seq {
		switch t.kind {
		case 'b':
			parts = append(parts, fmt.Sprintf("%02X", t.b))
		case 'w':
			parts = append(parts, "??")
		case 'h':
			parts = append(parts, fmt.Sprintf("%X?", t.b>>4))
		case 'l':
			parts = append(parts, fmt.Sprintf("?%X", t.b&15))
		case 'j':
			switch {
			case t.lo < 0:
				parts = append(parts, "[-]")
			case t.hi < 0:
				parts = append(parts, fmt.Sprintf("[%d-]", t.lo))
			case t.hi == t.lo && t.lo > 0: // [0] is rejected, [0-0] is not
				parts = append(parts, fmt.Sprintf("[%d]", t.lo))
			default:
				parts = append(parts, fmt.Sprintf("[%d-%d]", t.lo, t.hi))
			}
		case 'a':
			var alts []string
			for _, a := range t.alts {
				alts = append(alts, renderHex(a))
			}
			parts = append(parts, "( "+strings.Join(alts, " | ")+" )")
		}
	}
	return strings.Join(parts, " ")
}

// sampleHex returns bytes that the hex string matches.
func sampleHex(r *rand.Rand, seq []hexTok) []byte {
	var out []byte
	for _, t := range seq {
		switch t.kind {
		case 'b':
			out = append(out, t.b)
		case 'w':
			out = append(out, randByte(r))
		case 'h':
			out = append(out, t.b&0xF0|byte(r.IntN(16)))
		case 'l':
			out = append(out, t.b&0x0F|byte(r.IntN(16))<<4)
		case 'j':
			lo, hi := max(t.lo, 0), t.hi
			if hi < 0 {
				hi = lo + 3
			}
			for n := lo + r.IntN(hi-lo+1); n > 0; n-- {
				out = append(out, randByte(r))
			}
		case 'a':
			out = append(out, sampleHex(r, t.alts[r.IntN(len(t.alts))])...)
		}
	}
	return out
}

func randByte(r *rand.Rand) byte {
	if r.IntN(3) == 0 {
		return byte(r.IntN(256))
	}
	return textAlphabet[r.IntN(len(textAlphabet))]
}
