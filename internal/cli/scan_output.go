package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"

	"vigil/yara"
	"vigil/yara/module"
)

// reported is a rule as yara's scanner reports it to the command line's
// callback: every public rule, in declaration order, matching or not.
type reported struct {
	rule     *yara.MatchRule
	matching bool
}

// reports lists the rules of a result in callback order. Without -n and -l
// the rules that did not match cannot change the output and are left out.
func (r *scanRun) reports(res *yara.Result) []reported {
	out := make([]reported, 0, len(res.Matching)+len(res.NotMatching))
	for i := range res.Matching {
		out = append(out, reported{&res.Matching[i], true})
	}
	if r.o.negate || r.o.limit != 0 {
		for i := range res.NotMatching {
			out = append(out, reported{&res.NotMatching[i], false})
		}
		pos := func(x reported) int {
			if i, ok := r.order[ruleKey(x.rule.Namespace, x.rule.Name)]; ok {
				return i
			}
			return len(r.order)
		}
		sort.SliceStable(out, func(i, j int) bool { return pos(out[i]) < pos(out[j]) })
	}
	return out
}

// selected applies -t and -i as yara's handle_message does: with -t a rule
// is shown when it has one of the tags; with -i when its name is one of
// the identifiers, whatever its tags.
func (r *scanRun) selected(rule *yara.MatchRule) bool {
	show := true
	if len(r.o.tags) > 0 {
		show = false
		for _, t := range r.o.tags {
			for _, rt := range rule.Tags {
				if t == rt {
					show = true
				}
			}
		}
	}
	if len(r.o.identifiers) > 0 {
		show = false
		for _, id := range r.o.identifiers {
			if id == rule.Name {
				show = true
			}
		}
	}
	return show
}

// visit walks the reported rules of res like yara's callback: it calls
// show for every rule to print, counts matching rules, and stops when -l
// is reached. It returns the number of matching rules counted for this
// file (yara's -c).
func (r *scanRun) visit(res *yara.Result, show func(*yara.MatchRule)) int {
	count := 0
	for _, x := range r.reports(res) {
		if r.selected(x.rule) && x.matching != r.o.negate {
			show(x.rule)
		}
		if x.matching {
			count++
			r.total++
		}
		if r.o.limit != 0 && r.total >= r.o.limit {
			break
		}
	}
	return count
}

// printText prints the results of one file in yara's format. The caller
// holds r.mu; the whole block goes out in one write.
func (r *scanRun) printText(path string, res *yara.Result) {
	var b bytes.Buffer
	// yara loads (and with -D prints) every imported module before it
	// evaluates the conditions that log console messages.
	for _, m := range res.Modules {
		_ = module.Dump(&b, m.Name, m.Type, m.Value)
	}
	for _, line := range res.Console {
		b.WriteString(line)
		b.WriteByte('\n')
	}
	count := r.visit(res, func(rule *yara.MatchRule) {
		if !r.o.count {
			r.formatRule(&b, path, rule)
		}
	})
	if r.o.count {
		if r.dirMode {
			fmt.Fprintf(&b, "%s: %d\n", path, count)
		} else {
			fmt.Fprintf(&b, "%d\n", count)
		}
	}
	r.e.stdout.Write(b.Bytes())
}

// formatRule writes one rule line (and with -s or -L its string lines).
func (r *scanRun) formatRule(b *bytes.Buffer, path string, rule *yara.MatchRule) {
	if r.o.printNamespace {
		b.WriteString(rule.Namespace)
		b.WriteByte(':')
	}
	b.WriteString(rule.Name)
	b.WriteByte(' ')
	if r.o.printTags {
		b.WriteByte('[')
		for i, t := range rule.Tags {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(t)
		}
		b.WriteString("] ")
	}
	if r.o.printMeta {
		b.WriteByte('[')
		for i, m := range rule.Meta {
			if i > 0 {
				b.WriteByte(',')
			}
			writeMeta(b, m)
		}
		b.WriteString("] ")
	}
	b.WriteString(path)
	b.WriteByte('\n')
	if !r.o.printStrings && !r.o.printLength {
		return
	}
	for _, s := range rule.Strings {
		for _, m := range s.Matches {
			data := m.Data
			if len(data) > m.Length {
				data = data[:m.Length]
			}
			if len(data) > maxMatchData {
				data = data[:maxMatchData]
			}
			b.WriteString("0x")
			b.WriteString(strconv.FormatUint(uint64(m.Offset), 16))
			b.WriteByte(':')
			if r.o.printLength {
				b.WriteString(strconv.Itoa(len(data)))
				b.WriteByte(':')
			}
			b.WriteString(s.ID)
			if r.o.printStrings {
				b.WriteString(": ")
				if s.Hex {
					writeHexData(b, data)
				} else {
					writeTextData(b, data)
				}
			}
			b.WriteByte('\n')
		}
	}
}

// writeMeta writes one meta entry as yara does: `k="text"`, `k=true`, and
// for integers `k =3` (sic: yara 4.2.3 prints a space before '=').
func writeMeta(b *bytes.Buffer, m yara.Meta) {
	b.WriteString(m.Key)
	switch v := m.Value.(type) {
	case bool:
		b.WriteByte('=')
		b.WriteString(strconv.FormatBool(v))
	case int64:
		b.WriteString(" =")
		b.WriteString(strconv.FormatInt(v, 10))
	case int:
		b.WriteString(" =")
		b.WriteString(strconv.Itoa(v))
	case string:
		b.WriteString(`="`)
		writeEscaped(b, []byte(v))
		b.WriteByte('"')
	case []byte:
		b.WriteString(`="`)
		writeEscaped(b, v)
		b.WriteByte('"')
	default:
		fmt.Fprintf(b, "=%v", v)
	}
}

// writeEscaped escapes a meta string like yara's print_escaped: quotes and
// backslashes get a backslash, \a \b \t \n \v \f \r their C escapes, other
// bytes below 32 or from 127 up an octal escape. yara stores meta strings
// NUL-terminated, so it prints nothing from the first NUL on.
func writeEscaped(b *bytes.Buffer, s []byte) {
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	for _, c := range s {
		switch {
		case c == '"' || c == '\'' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c >= 127:
			fmt.Fprintf(b, "\\%03o", c)
		case c >= 32:
			b.WriteByte(c)
		case cEscape(c) != 0:
			b.WriteByte('\\')
			b.WriteByte(cEscape(c))
		default:
			fmt.Fprintf(b, "\\%03o", c)
		}
	}
}

// cEscape returns the letter of C's escape for control byte c, or 0.
func cEscape(c byte) byte {
	switch c {
	case 7:
		return 'a'
	case 8:
		return 'b'
	case 9:
		return 't'
	case 10:
		return 'n'
	case 11:
		return 'v'
	case 12:
		return 'f'
	case 13:
		return 'r'
	}
	return 0
}

// writeTextData prints matched bytes as yara's print_string: printable
// ASCII as is, anything else as \xHH.
func writeTextData(b *bytes.Buffer, data []byte) {
	const hexDigits = "0123456789ABCDEF"
	for _, c := range data {
		if c >= 32 && c <= 126 {
			b.WriteByte(c)
			continue
		}
		b.WriteString(`\x`)
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
}

// maxHexPrinted is how many bytes of a hex string's match yara prints.
const maxHexPrinted = 64

// writeHexData prints matched bytes of a hex string as yara's
// print_hex_string: "4D 5A 90", at most 64 bytes, then " ...".
func writeHexData(b *bytes.Buffer, data []byte) {
	const hexDigits = "0123456789ABCDEF"
	for i, c := range data {
		if i == maxHexPrinted {
			b.WriteString(" ...")
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
}

// The --json format; docs/cli.md documents it. Field names are stable.
type jsonFile struct {
	Path    string     `json:"path"`
	Matches []jsonRule `json:"matches,omitempty"`
	Console []string   `json:"console,omitempty"`
	Error   string     `json:"error,omitempty"`
}

type jsonRule struct {
	Rule      string       `json:"rule"`
	Namespace string       `json:"namespace"`
	Tags      []string     `json:"tags"`
	Meta      []jsonMeta   `json:"meta"`
	Strings   []jsonString `json:"strings"`
}

type jsonMeta struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

type jsonString struct {
	ID      string      `json:"id"`
	Matches []jsonMatch `json:"matches"`
}

type jsonMatch struct {
	Offset int64  `json:"offset"`
	Length int    `json:"length"`
	Data   []byte `json:"data"`
	XorKey *int   `json:"xor_key,omitempty"`
}

// printJSON prints the results of one file as one JSON line, when a rule
// is shown or a console message was logged. The caller holds r.mu.
func (r *scanRun) printJSON(path string, res *yara.Result) {
	out := jsonFile{Path: path, Console: res.Console}
	r.visit(res, func(rule *yara.MatchRule) {
		out.Matches = append(out.Matches, toJSONRule(rule))
	})
	if len(out.Matches) == 0 && len(out.Console) == 0 {
		return
	}
	writeJSONLine(r.e.stdout, out)
}

func toJSONRule(rule *yara.MatchRule) jsonRule {
	jr := jsonRule{
		Rule:      rule.Name,
		Namespace: rule.Namespace,
		Tags:      append([]string{}, rule.Tags...),
		Meta:      []jsonMeta{},
		Strings:   []jsonString{},
	}
	for _, m := range rule.Meta {
		v := m.Value
		if bs, ok := v.([]byte); ok {
			v = string(bs)
		}
		jr.Meta = append(jr.Meta, jsonMeta{m.Key, v})
	}
	for _, s := range rule.Strings {
		js := jsonString{ID: s.ID, Matches: []jsonMatch{}}
		for _, m := range s.Matches {
			jm := jsonMatch{Offset: m.Offset, Length: m.Length, Data: m.Data}
			if m.XorKey != 0 {
				k := m.XorKey
				jm.XorKey = &k
			}
			js.Matches = append(js.Matches, jm)
		}
		jr.Strings = append(jr.Strings, js)
	}
	return jr
}

func writeJSONLine(w io.Writer, v any) {
	line, err := json.Marshal(v)
	if err != nil {
		return
	}
	w.Write(append(line, '\n'))
}
