// Package console implements yara's "console" module: log and hex write a
// message through Context.Log and return 1.
//
// Messages are formatted as yara 4.2.3 formats them: bytes of a logged
// string outside printable ASCII are written as \xNN (lowercase hex); the
// message prefix of the two-argument forms is written as is, up to its first
// NUL byte (yara passes it as a C string); integers are decimal, floats use
// C's "%f" (six decimals, "inf", "nan"), and hex writes "0x" and the
// two's-complement value in lowercase hex. The yara command line prints each
// message on its own line on standard output.
package console

import (
	"math"
	"strconv"
	"strings"

	"vigil/yara/module"
	"vigil/yara/modules/internal/yrval"
)

// Module returns the console module.
func Module() *module.Module {
	f := func(args string, format func([]module.Value) (string, bool)) *module.Func {
		return &module.Func{Args: args, Result: module.KindInt, Impl: func(c *module.Context, a []module.Value) module.Value {
			msg, ok := format(a)
			if !ok {
				return nil
			}
			if c != nil && c.Log != nil {
				c.Log(msg)
			}
			return int64(1)
		}}
	}
	return &module.Module{
		Name: "console",
		Type: module.StructOf(
			module.F("log", module.FuncOf(
				f("s", func(a []module.Value) (string, bool) { return format(a, "", escape) }),
				f("ss", func(a []module.Value) (string, bool) { return format(a, "s", escape) }),
				f("i", func(a []module.Value) (string, bool) { return format(a, "", decimal) }),
				f("si", func(a []module.Value) (string, bool) { return format(a, "s", decimal) }),
				f("f", func(a []module.Value) (string, bool) { return format(a, "", cFloat) }),
				f("sf", func(a []module.Value) (string, bool) { return format(a, "s", cFloat) }),
			)),
			module.F("hex", module.FuncOf(
				f("i", func(a []module.Value) (string, bool) { return format(a, "", hex) }),
				f("si", func(a []module.Value) (string, bool) { return format(a, "s", hex) }),
			)),
		),
		Load: func(*module.Context) (*module.Struct, error) {
			return module.NewStruct(), nil
		},
	}
}

// format builds a message from args: an optional prefix (prefix == "s")
// followed by the last argument formatted by value.
func format(args []module.Value, prefix string, value func(module.Value) (string, bool)) (string, bool) {
	var p string
	if prefix == "s" {
		s, ok := yrval.StringArg(args, 0)
		if !ok {
			return "", false
		}
		p = cString(s)
	}
	if len(args) == 0 {
		return "", false
	}
	v, ok := value(args[len(args)-1])
	return p + v, ok
}

// cString is s as C sees it through a char pointer: cut at the first NUL.
func cString(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// escape writes printable ASCII bytes (C's isprint: 0x20 to 0x7e) as they
// are and every other byte as \xNN.
func escape(v module.Value) (string, bool) {
	s, ok := v.(string)
	if !ok {
		return "", false
	}
	const digits = "0123456789abcdef"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x20 && c <= 0x7e {
			b.WriteByte(c)
		} else {
			b.WriteString(`\x`)
			b.WriteByte(digits[c>>4])
			b.WriteByte(digits[c&15])
		}
	}
	return b.String(), true
}

func decimal(v module.Value) (string, bool) {
	i, ok := v.(int64)
	return strconv.FormatInt(i, 10), ok
}

func hex(v module.Value) (string, bool) {
	i, ok := v.(int64)
	return "0x" + strconv.FormatUint(uint64(i), 16), ok
}

// cFloat formats like C's printf("%f") with glibc.
func cFloat(v module.Value) (string, bool) {
	f, ok := v.(float64)
	if !ok {
		return "", false
	}
	sign := ""
	if math.Signbit(f) {
		sign = "-"
	}
	switch {
	case math.IsNaN(f):
		return sign + "nan", true
	case math.IsInf(f, 0):
		return sign + "inf", true
	}
	return strconv.FormatFloat(f, 'f', 6, 64), true
}
