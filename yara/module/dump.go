package module

import (
	"bufio"
	"io"
	"math"
	"strconv"
	"strings"
)

// undefinedBits is yara's in-band marker for an undefined value
// (YR_UNDEFINED, 0xFFFABADAFABADAFF). yara prints an integer equal to it, or
// a float with these bits, as undefined.
const undefinedBits uint64 = 0xFFFABADAFABADAFF

// maxDumpIndent is the deepest indentation yara prints, in tabs: its
// indentation buffer holds 31 tabs, deeper levels print at that depth.
const maxDumpIndent = 31

// Dump writes the data v of a module called name, whose root type is t, as
// `yara -D` prints it, byte for byte, including the newline yara prints
// after each module.
//
// The format is yara's yr_object_print_data:
//
//   - the module name, then one line per field, indented with one tab per
//     level: "name = value" for integers (decimal), floats (C's %f) and
//     strings (quoted; bytes outside 0x20-0x7e as \xNN), "name = YR_UNDEFINED"
//     for an undefined scalar, "name" alone for a struct, array or
//     dictionary, followed by its members;
//   - array items as "[i]" and dictionary items by key, one level deeper;
//     undefined (nil) items are left out, and an item's index counts them;
//   - function fields are left out; an undefined struct prints its fields
//     as undefined, as yara always has the structure.
//
// yara keeps a struct's members in a list it prepends to, and copies
// (every array or dictionary item is a copy of a prototype) reverse the list
// again. So a struct prints its fields in reverse declaration order when it
// lies under an even number of array or dictionary items (the module root
// included), and in declaration order otherwise.
func Dump(w io.Writer, name string, t *Type, v *Struct) error {
	d := &dumper{w: bufio.NewWriter(w)}
	d.str(name)
	d.structure(t, v, 0, 0)
	d.str("\n")
	return d.w.Flush()
}

type dumper struct {
	w *bufio.Writer
}

func (d *dumper) str(s string) { d.w.WriteString(s) }

func (d *dumper) indent(n int) {
	n = min(n, maxDumpIndent)
	for range n {
		d.w.WriteByte('\t')
	}
}

// value prints v of type t after its identifier (or index, or key): the
// object is at indentation level indent and lies under copies array or
// dictionary items.
func (d *dumper) value(t *Type, v Value, indent, copies int) {
	switch t.Kind {
	case KindInt:
		i, ok := v.(int64)
		if !ok || uint64(i) == undefinedBits {
			d.str(" = YR_UNDEFINED")
			return
		}
		d.str(" = ")
		d.str(strconv.FormatInt(i, 10))
	case KindFloat:
		f, ok := v.(float64)
		if !ok || math.Float64bits(f) == undefinedBits {
			d.str(" = YR_UNDEFINED")
			return
		}
		d.str(" = ")
		d.str(formatFloat(f))
	case KindString:
		s, ok := v.(string)
		if !ok {
			d.str(" = YR_UNDEFINED")
			return
		}
		d.str(" = \"")
		d.str(escape(s))
		d.str("\"")
	case KindStruct:
		s, _ := v.(*Struct)
		d.structure(t, s, indent, copies)
	case KindArray:
		a, _ := v.(*Array)
		if a == nil {
			return
		}
		for i, item := range a.Items {
			if item == nil {
				continue
			}
			d.str("\n")
			d.indent(indent)
			d.str("\t[")
			d.str(strconv.Itoa(i))
			d.str("]")
			d.value(t.Elem, item, indent+1, copies+1)
		}
	case KindDict:
		m, _ := v.(*Dict)
		if m == nil {
			return
		}
		for _, k := range m.Keys {
			item, ok := m.Items[k]
			if !ok {
				continue
			}
			d.str("\n")
			d.indent(indent)
			d.str("\t")
			d.str(cString(k))
			d.value(t.Elem, item, indent+1, copies+1)
		}
	}
}

// structure prints the fields of struct s (nil: all undefined) of type t.
func (d *dumper) structure(t *Type, s *Struct, indent, copies int) {
	n := len(t.Fields)
	for i := range n {
		f := t.Fields[i]
		if copies%2 == 0 {
			f = t.Fields[n-1-i]
		}
		if f.Type.Kind == KindFunc {
			continue
		}
		var v Value
		if s != nil {
			v = s.Fields[f.Name]
		}
		d.str("\n")
		d.indent(indent + 1)
		d.str(f.Name)
		d.value(f.Type, v, indent+1, copies)
	}
}

// formatFloat formats f as C's printf("%f") does with glibc.
func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		if math.Signbit(f) {
			return "-nan"
		}
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'f', 6, 64)
}

// escape writes bytes that C's isprint accepts in the "C" locale (0x20 to
// 0x7e) as they are and the others as \xNN, as yara does.
func escape(s string) string {
	var b strings.Builder
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e {
			b.WriteByte(c)
			continue
		}
		b.WriteString(`\x`)
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

// cString is s up to its first NUL byte: yara prints dictionary keys with
// printf's %s.
func cString(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}
