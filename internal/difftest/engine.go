package difftest

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Source is a rule set compiled into its own namespace.
type Source struct {
	Namespace string
	Text      string
}

// StringHit is one match of a string.
type StringHit struct {
	ID     string
	Offset int64
	// Length is the length of the match as yara -L prints it: the length
	// of the recorded data, at most MaxMatchData.
	Length int
	// Data is the matched data (at most MaxMatchData bytes), nil for
	// engines that only know how yara prints it.
	Data []byte
	// Text is the data as yara -s prints it: escaped text, or hex bytes
	// for hex strings. An engine that leaves it empty has Data rendered
	// the way yara rendered the same match (renderHits).
	Text string
}

// RuleHit is a matching rule with its matched strings, in the order the
// engine reports them.
type RuleHit struct {
	Namespace string
	Rule      string
	// Tags and Meta are rendered as yara -g -m prints them: "t1,t2" and
	// `n =1,s="x",b=true` (see metaText).
	Tags    string
	Meta    string
	Strings []StringHit
}

// MaxMatchData is how many bytes of a match yara records and prints.
const MaxMatchData = 512

// Engine is a YARA implementation under comparison.
type Engine interface {
	Name() string
	// Accepts compiles src alone and reports whether it compiles; msg is
	// the error when it does not. err is for failures of the engine
	// itself (for example the yara binary could not run).
	Accepts(src Source) (ok bool, msg string, err error)
	// Scan compiles all srcs together, each in its namespace, and scans
	// every input. It returns the matching rules per input. When the
	// sources do not compile it returns a *CompileFailure.
	Scan(srcs []Source, inputs [][]byte) ([][]RuleHit, error)
}

// CompileFailure is returned by Engine.Scan when the sources are rejected.
type CompileFailure struct{ Msg string }

func (e *CompileFailure) Error() string { return "compile failure: " + e.Msg }

func isCompileFailure(err error) bool {
	var cf *CompileFailure
	return errors.As(err, &cf)
}

// escapeData renders data as yara -s prints text and regex matches:
// printable ASCII as is (backslash included), anything else as \xNN.
func escapeData(data []byte) string {
	var b strings.Builder
	for _, c := range data {
		if c >= 0x20 && c <= 0x7e {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, `\x%02X`, c)
		}
	}
	return b.String()
}

// hexPrintMax is how many bytes of a hex string match yara -s prints
// before " ...".
const hexPrintMax = 64

// hexData renders data as yara -s prints hex string matches.
func hexData(data []byte) string {
	n := min(len(data), hexPrintMax)
	parts := make([]string, n)
	for i, c := range data[:n] {
		parts[i] = fmt.Sprintf("%02X", c)
	}
	s := strings.Join(parts, " ")
	if len(data) > hexPrintMax {
		s += " ..."
	}
	return s
}

// metaString renders a meta string value as yara -m prints it: up to the
// first NUL byte, with C escapes (\a \b \t \n \v \f \r \" \' \\) and
// other bytes outside printable ASCII in 3-digit octal.
func metaString(v string) string {
	if i := strings.IndexByte(v, 0); i >= 0 {
		v = v[:i]
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch c {
		case '\a':
			b.WriteString(`\a`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\v':
			b.WriteString(`\v`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		case '"', '\'', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			if c >= 0x20 && c < 0x7f {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, "\\%03o", c)
			}
		}
	}
	return b.String()
}

// metaText renders a rule's meta entries as yara -m prints them:
// integers as "name =value" (with that space), strings as name="value",
// booleans as name=true.
func metaText(keys []string, values []any) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		switch v := values[i].(type) {
		case string:
			parts[i] = k + `="` + metaString(v) + `"`
		case bool:
			parts[i] = fmt.Sprintf("%s=%v", k, v)
		default:
			parts[i] = fmt.Sprintf("%s =%v", k, v)
		}
	}
	return strings.Join(parts, ",")
}

// renderHits formats the hits of one namespace, one line per rule and per
// string match. ref holds the texts yara printed, keyed by
// hitKey; an engine reporting Data is rendered the way yara rendered the
// same match (hex or escaped), so that the two compare.
func renderHits(hits []RuleHit, ref map[string]string) string {
	// The yara texts not yet used, per match key: anonymous strings ("$")
	// can share a key, their texts are separated by NUL bytes.
	left := map[string][]string{}
	var b strings.Builder
	for _, h := range hits {
		fmt.Fprintf(&b, "%s:%s [%s] [%s]\n", h.Namespace, h.Rule, h.Tags, h.Meta)
		for _, s := range h.Strings {
			text := s.Text
			if text == "" && s.Data != nil {
				text = renderLike(ref, left, h, s)
			}
			fmt.Fprintf(&b, "  0x%x:%d:%s: %s\n", s.Offset, s.Length, s.ID, text)
		}
	}
	return b.String()
}

// renderLike renders the data of s escaped or in hex, as yara rendered
// the same match, or failing that any match of the same string.
func renderLike(ref map[string]string, left map[string][]string, h RuleHit, s StringHit) string {
	esc, hex := escapeData(s.Data), hexData(s.Data)
	k := hitKey(h, s)
	texts, seen := left[k]
	if !seen {
		if t, ok := ref[k]; ok {
			texts = strings.Split(t, "\x00")
		}
	}
	// The n-th match with a key is rendered like yara's n-th.
	if len(texts) > 0 {
		left[k] = texts[1:]
		if texts[0] == esc || texts[0] == hex {
			return texts[0]
		}
		return esc
	}
	left[k] = texts
	if ref[idKey(h, s)] == "hex" {
		return hex
	}
	return esc
}

func hitKey(h RuleHit, s StringHit) string {
	return fmt.Sprintf("%s:%s:%s:%d:%d", h.Namespace, h.Rule, s.ID, s.Offset, s.Length)
}

func idKey(h RuleHit, s StringHit) string {
	return fmt.Sprintf("%s:%s:%s", h.Namespace, h.Rule, s.ID)
}

// hexTextRE matches yara's rendering of hex string matches.
var hexTextRE = regexp.MustCompile(`^[0-9A-F]{2}( [0-9A-F]{2})*( \.\.\.)?$`)

// yaraTexts indexes the data texts of hits for renderHits: by match, and
// by string ("hex" when every match of the string looks hex-rendered).
func yaraTexts(hits []RuleHit) map[string]string {
	m := map[string]string{}
	for _, h := range hits {
		for _, s := range h.Strings {
			if t, ok := m[hitKey(h, s)]; ok {
				m[hitKey(h, s)] = t + "\x00" + s.Text
			} else {
				m[hitKey(h, s)] = s.Text
			}
			k := idKey(h, s)
			if hexTextRE.MatchString(s.Text) && m[k] != "text" {
				m[k] = "hex"
			} else {
				m[k] = "text"
			}
		}
	}
	return m
}

// byNamespace splits hits by namespace.
func byNamespace(hits []RuleHit) map[string][]RuleHit {
	m := map[string][]RuleHit{}
	for _, h := range hits {
		m[h.Namespace] = append(m[h.Namespace], h)
	}
	return m
}
