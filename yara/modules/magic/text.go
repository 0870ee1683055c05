package magic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf16"
)

const (
	// maxLineLen is libmagic's MAXLINELEN: longer lines are reported.
	maxLineLen = 300
	// maxRegex is how far libmagic's line-pattern tests look (its
	// "regex" parameter, 8 KiB).
	maxRegex = 8 << 10
)

// Character classes of libmagic's text tables.
const (
	clsBinary   = 0 // never in text
	clsText     = 1 // ASCII text
	clsISO      = 2 // ISO-8859 text
	clsExtended = 3 // non-ISO extended ASCII
)

// charClass classifies a byte as libmagic's text_chars table does.
func charClass(c byte) int {
	switch {
	case c >= 7 && c <= 13, c == 27, c >= 32 && c <= 126:
		return clsText
	case c >= 160:
		return clsISO
	case c >= 128:
		return clsExtended
	}
	return clsBinary
}

// encoding is the result of classifying bytes as text.
type encoding struct {
	name  string // "ASCII", "Unicode text, UTF-8", ...
	runes []rune // the decoded text, for line statistics
	stats bool   // whether line statistics are reported
}

// classify decides whether b looks like text and in which encoding, in
// libmagic's order.
//
// raw is the data before trailing NULs were trimmed, which UTF-16 needs.
func classify(b, raw []byte) (encoding, bool) {
	if len(b) == 0 {
		return encoding{}, false
	}
	maxCls := clsText
	for _, c := range b {
		cls := charClass(c)
		if cls == clsBinary {
			maxCls = -1
			break
		}
		maxCls = max(maxCls, cls)
	}
	if maxCls == clsText {
		return encoding{"ASCII", bytesToRunes(b), true}, true
	}
	if bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
		if r, _, ok := decodeUTF8(b[3:]); ok {
			return encoding{"Unicode text, UTF-8 (with BOM)", r, true}, true
		}
	}
	if r, multi, ok := decodeUTF8(b); ok && multi {
		return encoding{"Unicode text, UTF-8", r, true}, true
	}
	if len(raw) >= 2 && (raw[0] == 0xff && raw[1] == 0xfe || raw[0] == 0xfe && raw[1] == 0xff) {
		if r, ok := decodeUTF16(raw); ok {
			order := "little-endian"
			if raw[0] == 0xfe {
				order = "big-endian"
			}
			return encoding{"Unicode text, UTF-16, " + order, r, false}, true
		}
	}
	switch maxCls {
	case clsISO:
		return encoding{"ISO-8859", bytesToRunes(b), true}, true
	case clsExtended:
		return encoding{"Non-ISO extended-ASCII", bytesToRunes(b), true}, true
	}
	return encoding{}, false
}

func bytesToRunes(b []byte) []rune {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return r
}

// decodeUTF8 decodes b with libmagic's lenient UTF-8 rules (overlong forms
// allowed, a truncated final sequence accepted); it fails on bytes that are
// not text. multi reports whether there was a multi-byte sequence.
func decodeUTF8(b []byte) (runes []rune, multi, ok bool) {
	out := make([]rune, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c < 0x80 {
			if charClass(c) != clsText {
				return nil, false, false
			}
			out = append(out, rune(c))
			continue
		}
		var n int
		var r rune
		switch {
		case c&0x40 == 0:
			return nil, false, false
		case c&0x20 == 0:
			n, r = 1, rune(c&0x1f)
		case c&0x10 == 0:
			n, r = 2, rune(c&0x0f)
		case c&0x08 == 0:
			n, r = 3, rune(c&0x07)
		case c&0x04 == 0:
			n, r = 4, rune(c&0x03)
		case c&0x02 == 0:
			n, r = 5, rune(c&0x01)
		default:
			return nil, false, false
		}
		for k := 0; k < n; k++ {
			i++
			if i >= len(b) {
				break
			}
			if b[i]&0xc0 != 0x80 {
				return nil, false, false
			}
			r = r<<6 | rune(b[i]&0x3f)
		}
		multi = true
		out = append(out, r)
	}
	return out, multi, true
}

// decodeUTF16 decodes UTF-16 with a byte order mark; every unit must be a
// text character.
func decodeUTF16(b []byte) ([]rune, bool) {
	if len(b) < 2 {
		return nil, false
	}
	b = b[:len(b)&^1] // an odd final byte is ignored
	be := b[0] == 0xfe
	u := make([]uint16, 0, len(b)/2-1)
	for i := 2; i+1 < len(b); i += 2 {
		v := uint16(b[i]) | uint16(b[i+1])<<8
		if be {
			v = uint16(b[i])<<8 | uint16(b[i+1])
		}
		if v < 0x80 && charClass(byte(v)) != clsText {
			return nil, false
		}
		u = append(u, v)
	}
	return utf16.Decode(u), true
}

// lineInfo returns libmagic's suffix about lines, escapes and overstriking.
func lineInfo(r []rune) string {
	var nCRLF, nLF, nCR, nNEL, longest int
	var escapes, backspace, seenCR bool
	lastEnd := -1
	for i, c := range r {
		if c == '\n' {
			if seenCR {
				nCRLF++
			} else {
				nLF++
			}
			lastEnd = i
		} else if seenCR {
			nCR++
		}
		seenCR = c == '\r'
		if seenCR {
			lastEnd = i
		}
		if c == 0x85 {
			nNEL++
			lastEnd = i
		}
		if i > lastEnd+maxLineLen {
			longest = max(longest, i-lastEnd)
		}
		switch c {
		case 0x1b:
			escapes = true
		case '\b':
			backspace = true
		}
	}
	if seenCR {
		nCR++
	}
	var sb strings.Builder
	if longest > 0 {
		fmt.Fprintf(&sb, ", with very long lines (%d)", longest)
	}
	none := nCRLF == 0 && nCR == 0 && nLF == 0 && nNEL == 0
	if none || nCRLF != 0 || nCR != 0 || nNEL != 0 {
		if none {
			sb.WriteString(", with no line terminators")
		} else {
			var kinds []string
			for _, k := range []struct {
				n    int
				name string
			}{{nCRLF, "CRLF"}, {nCR, "CR"}, {nLF, "LF"}, {nNEL, "NEL"}} {
				if k.n != 0 {
					kinds = append(kinds, k.name)
				}
			}
			sb.WriteString(", with " + strings.Join(kinds, ", ") + " line terminators")
		}
	}
	if escapes {
		sb.WriteString(", with escape sequences")
	}
	if backspace {
		sb.WriteString(", with overstriking")
	}
	return sb.String()
}

// textKind is what a text-pattern test decided: the description before the
// encoding ("C source"), whether libmagic calls it "executable", and the
// MIME type ("" for text/plain).
type textKind struct {
	desc     string
	mime     string
	verbatim bool // desc is the whole answer, without the encoding
}

// detectText classifies text data.
func detectText(data []byte) (result, bool) {
	raw := data
	b := bytes.TrimRight(data, "\x00")
	if len(b) > maxEncoding {
		b = b[:maxEncoding]
	}
	enc, ok := classify(b, raw[:min(len(raw), maxEncoding)])
	if !ok {
		if k, ok := shebang(raw); ok && !k.verbatim {
			return result{binaryScript(k.desc), k.mimeOr("text/plain")}, true
		}
		return result{}, false
	}
	if bytes.IndexByte(raw[:min(len(raw), maxEncoding)], 0) >= 0 {
		if k, ok := shebang(raw); ok && !k.verbatim {
			return result{binaryScript(k.desc), k.mimeOr("text/plain")}, true
		}
	}
	if isJSON(data) {
		return result{"JSON text data", "application/json"}, true
	}
	var suffix string
	if enc.stats {
		suffix = lineInfo(enc.runes)
	}
	// Pattern tests see the text as UTF-8 (libmagic converts it).
	text := b
	if enc.name == "Unicode text, UTF-8 (with BOM)" {
		text = b[3:]
	} else if !strings.HasPrefix(enc.name, "ASCII") && !strings.HasPrefix(enc.name, "Unicode text, UTF-8") {
		text = []byte(string(enc.runes))
	}
	k, found := textPatterns(text)
	if !found {
		return result{enc.name + " text" + suffix, "text/plain"}, true
	}
	if k.verbatim {
		return result{k.desc, k.mimeOr("text/plain")}, true
	}
	var s string
	if before, after, ok := strings.Cut(k.desc, " text"); ok {
		s = before + ", " + enc.name + " text" + after
	} else {
		s = k.desc + ", " + enc.name + " text"
	}
	return result{s + suffix, k.mimeOr("text/plain")}, true
}

func (k textKind) mimeOr(def string) string {
	if k.mime == "" {
		return def
	}
	return k.mime
}

// isJSON reports whether data is a JSON object or array, possibly with
// surrounding white space, as libmagic's is_json requires.
func isJSON(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	if len(t) == 0 || (t[0] != '{' && t[0] != '[') {
		return false
	}
	return json.Valid(data)
}

// binaryScript turns a script description into libmagic's wording for a
// script that is not text.
func binaryScript(desc string) string {
	desc = strings.TrimSuffix(desc, " text executable")
	desc = strings.TrimSuffix(desc, " executable")
	return desc + " executable (binary data)"
}
