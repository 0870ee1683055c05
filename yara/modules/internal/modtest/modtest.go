// Package modtest holds test helpers shared by the built-in modules' tests:
// a checker that a module's declared types agree with the values it
// produces, a way to call a module function by name with Go values, and a
// differential harness that asks the reference yara binary to confirm
// expected values.
//
// It is imported only from _test files.
package modtest

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"vigil/yara/module"
)

// CheckType reports problems with a declared type: function overloads with
// unknown argument letters, bad result kinds, missing implementations or
// duplicate signatures, and struct fields declared twice.
func CheckType(t testing.TB, path string, typ *module.Type) {
	t.Helper()
	if typ == nil {
		t.Errorf("%s: nil type", path)
		return
	}
	switch typ.Kind {
	case module.KindInt, module.KindFloat, module.KindString:
	case module.KindStruct:
		seen := map[string]bool{}
		for _, f := range typ.Fields {
			if seen[f.Name] {
				t.Errorf("%s: field %q declared twice", path, f.Name)
			}
			seen[f.Name] = true
			CheckType(t, path+"."+f.Name, f.Type)
		}
	case module.KindArray, module.KindDict:
		CheckType(t, path+"[]", typ.Elem)
	case module.KindFunc:
		if len(typ.Overloads) == 0 {
			t.Errorf("%s: function without overloads", path)
		}
		seen := map[string]bool{}
		for _, o := range typ.Overloads {
			if strings.Trim(o.Args, "ifsrb") != "" {
				t.Errorf("%s(%s): unknown argument letter", path, o.Args)
			}
			if seen[o.Args] {
				t.Errorf("%s(%s): signature declared twice", path, o.Args)
			}
			seen[o.Args] = true
			switch o.Result {
			case module.KindInt, module.KindFloat, module.KindString:
			default:
				t.Errorf("%s(%s): bad result kind %d", path, o.Args, o.Result)
			}
			if o.Impl == nil {
				t.Errorf("%s(%s): no implementation", path, o.Args)
			}
		}
	default:
		t.Errorf("%s: unknown kind %d", path, typ.Kind)
	}
}

// CheckValue reports where value v does not have declared type typ. A nil
// value (undefined) agrees with every type; functions have no data value.
func CheckValue(t testing.TB, path string, typ *module.Type, v module.Value) {
	t.Helper()
	if v == nil || typ == nil {
		return
	}
	ok := false
	switch typ.Kind {
	case module.KindInt:
		_, ok = v.(int64)
	case module.KindFloat:
		_, ok = v.(float64)
	case module.KindString:
		_, ok = v.(string)
	case module.KindStruct:
		var s *module.Struct
		if s, ok = v.(*module.Struct); ok {
			names := make([]string, 0, len(s.Fields))
			for name := range s.Fields {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				f := typ.Lookup(name)
				if f == nil {
					t.Errorf("%s.%s: value for an undeclared field", path, name)
					continue
				}
				CheckValue(t, path+"."+name, f.Type, s.Fields[name])
			}
		}
	case module.KindArray:
		var a *module.Array
		if a, ok = v.(*module.Array); ok {
			for i, item := range a.Items {
				CheckValue(t, fmt.Sprintf("%s[%d]", path, i), typ.Elem, item)
			}
		}
	case module.KindDict:
		var d *module.Dict
		if d, ok = v.(*module.Dict); ok {
			for k, item := range d.Items {
				CheckValue(t, fmt.Sprintf("%s[%q]", path, k), typ.Elem, item)
			}
		}
	case module.KindFunc:
		t.Errorf("%s: function field has a data value %T", path, v)
		return
	}
	if !ok {
		t.Errorf("%s: value %T does not match kind %d", path, v, typ.Kind)
	}
}

// Load loads mod over data and checks its types and its data against them.
func Load(t testing.TB, mod *module.Module, data []byte) (*module.Struct, *module.Context) {
	t.Helper()
	CheckType(t, mod.Name, mod.Type)
	c := &module.Context{Data: data, Cache: map[any]any{}}
	st, err := mod.Load(c)
	if err != nil {
		t.Fatalf("%s: Load: %v", mod.Name, err)
	}
	CheckValue(t, mod.Name, mod.Type, st)
	return st, c
}

// Signature returns the yara argument letters for Go argument values:
// int64 'i', float64 'f', string 's', bool 'b'.
func Signature(args []any) string {
	var b strings.Builder
	for _, a := range args {
		switch a.(type) {
		case int64:
			b.WriteByte('i')
		case float64:
			b.WriteByte('f')
		case string:
			b.WriteByte('s')
		case bool:
			b.WriteByte('b')
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

// Call calls the overload of function name of mod matching the Go types of
// args (a bool is passed as an int64 0 or 1, as yara does), checks that the
// result agrees with the declared result kind, and returns it.
func Call(t testing.TB, mod *module.Module, c *module.Context, name string, args ...any) module.Value {
	t.Helper()
	f := mod.Type.Lookup(name)
	if f == nil || f.Type.Kind != module.KindFunc {
		t.Fatalf("%s.%s: no such function", mod.Name, name)
	}
	sig := Signature(args)
	for _, o := range f.Type.Overloads {
		if o.Args != sig {
			continue
		}
		vals := make([]module.Value, len(args))
		for i, a := range args {
			if b, ok := a.(bool); ok {
				a = int64(0)
				if b {
					a = int64(1)
				}
			}
			vals[i] = a
		}
		v := o.Impl(c, vals)
		CheckValue(t, fmt.Sprintf("%s.%s(%s)", mod.Name, name, sig), &module.Type{Kind: o.Result}, v)
		return v
	}
	t.Fatalf("%s.%s: no overload (%s)", mod.Name, name, sig)
	return nil
}

// Literal returns v written as a yara expression: a decimal integer, a
// float with enough digits to read back exactly, a quoted string with \xNN
// escapes, or true/false for a bool.
func Literal(v any) string {
	switch v := v.(type) {
	case int64:
		if v == math.MinInt64 {
			return "(-9223372036854775807 - 1)"
		}
		if v < 0 {
			return "(" + strconv.FormatInt(v, 10) + ")"
		}
		return strconv.FormatInt(v, 10)
	case float64:
		s := strconv.FormatFloat(math.Abs(v), 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		if math.Signbit(v) {
			return "(-" + s + ")"
		}
		return s
	case string:
		var b strings.Builder
		b.WriteByte('"')
		for i := 0; i < len(v); i++ {
			c := v[i]
			if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, `\x%02x`, c)
			}
		}
		b.WriteByte('"')
		return b.String()
	case bool:
		return strconv.FormatBool(v)
	}
	panic(fmt.Sprintf("modtest.Literal: unsupported %T", v))
}

// Condition returns a yara condition that holds exactly when expr evaluates
// to want: "not defined" for nil, and for a float two inclusive bounds,
// because yara's float == tolerates a difference below DBL_EPSILON.
func Condition(expr string, want module.Value) string {
	switch want := want.(type) {
	case nil:
		return "not defined (" + expr + ")"
	case float64:
		l := Literal(want)
		return fmt.Sprintf("(%s) >= %s and (%s) <= %s", expr, l, expr, l)
	default:
		return fmt.Sprintf("(%s) == %s", expr, Literal(want))
	}
}

// Yara returns the path of the reference yara binary, skipping the test if
// it is absent. VIGIL_YARA overrides the default /usr/bin/yara.
func Yara(t testing.TB) string {
	t.Helper()
	path := os.Getenv("VIGIL_YARA")
	if path == "" {
		path = "/usr/bin/yara"
	}
	if _, err := os.Stat(path); err != nil {
		t.Skipf("reference yara not available: %v", err)
	}
	return path
}

// RunYara writes rules and data to a temporary directory, runs yara on
// them and returns the names of the matching rules and the lines yara wrote
// to standard output that are not match lines (console output).
func RunYara(t testing.TB, rules string, data []byte) (matched map[string]bool, console []string) {
	t.Helper()
	bin := Yara(t)
	dir := t.TempDir()
	rulePath := filepath.Join(dir, "rules.yar")
	dataPath := filepath.Join(dir, "data")
	if err := os.WriteFile(rulePath, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dataPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd := exec.Command(bin, rulePath, dataPath)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("yara: %v: %s", err, stderr.String())
	}
	matched = map[string]bool{}
	if len(out) == 0 {
		return matched, nil
	}
	suffix := " " + dataPath
	for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		if name, ok := strings.CutSuffix(line, suffix); ok && !strings.Contains(name, " ") {
			matched[name] = true
			continue
		}
		console = append(console, line)
	}
	return matched, console
}

// Case is one expression with the value it must have.
type Case struct {
	Expr string
	Want module.Value
}

// Differential checks with the reference yara that every case holds on
// data, one rule per case. imports lists the modules the expressions use.
func Differential(t *testing.T, imports []string, data []byte, cases []Case) {
	t.Helper()
	var b strings.Builder
	for _, m := range imports {
		fmt.Fprintf(&b, "import %q\n", m)
	}
	for i, c := range cases {
		fmt.Fprintf(&b, "rule r%d { condition: %s }\n", i, Condition(c.Expr, c.Want))
	}
	matched, _ := RunYara(t, b.String(), data)
	for i, c := range cases {
		if !matched[fmt.Sprintf("r%d", i)] {
			t.Errorf("yara disagrees: %s is not %s (data %d bytes)", c.Expr, describe(c.Want), len(data))
		}
	}
}

func describe(v module.Value) string {
	if v == nil {
		return "undefined"
	}
	return Literal(v)
}
