package pe

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"vigil/yara/module"
	"vigil/yara/modules/internal/modtest"
)

// goRegexp stands in for the engine's regular expressions in tests. The
// patterns used here mean the same in Go and yara.
type goRegexp struct {
	yara string // as written in a rule, with slashes
	re   *regexp.Regexp
}

func (r goRegexp) Match(s []byte) bool { return r.re.Match(s) }

func re(yara, gosyntax string) goRegexp {
	return goRegexp{yara: yara, re: regexp.MustCompile(gosyntax)}
}

// call is one function call: the function's path under the module, its
// arguments (int64, string or goRegexp) and the rule expression.
type call struct {
	path string
	args []any
}

func (c call) expr() string {
	parts := make([]string, len(c.args))
	for i, a := range c.args {
		switch a := a.(type) {
		case goRegexp:
			parts[i] = a.yara
		case rawExpr:
			parts[i] = string(a)
		default:
			parts[i] = modtest.Literal(a)
		}
	}
	return fmt.Sprintf("pe.%s(%s)", c.path, strings.Join(parts, ", "))
}

// rawExpr is an argument written as a yara expression (pe.IMPORT_ANY),
// with the value it has.
type rawExpr string

var rawValues = map[rawExpr]int64{
	"pe.IMPORT_STANDARD": importStandard,
	"pe.IMPORT_DELAYED":  importDelayed,
	"pe.IMPORT_ANY":      importAny,
}

// eval calls our implementation of c.
func eval(t *testing.T, mod *module.Module, ctx *module.Context, c call) module.Value {
	t.Helper()
	typ := mod.Type
	var f *module.Field
	for _, name := range strings.Split(c.path, ".") {
		f = typ.Lookup(name)
		if f == nil {
			t.Fatalf("no field %s", c.path)
		}
		typ = f.Type
		if typ.Kind == module.KindArray {
			typ = typ.Elem
		}
	}
	var sig strings.Builder
	vals := make([]module.Value, len(c.args))
	for i, a := range c.args {
		switch a := a.(type) {
		case int64:
			sig.WriteByte('i')
			vals[i] = a
		case string:
			sig.WriteByte('s')
			vals[i] = a
		case goRegexp:
			sig.WriteByte('r')
			vals[i] = a
		case rawExpr:
			sig.WriteByte('i')
			vals[i] = rawValues[a]
		}
	}
	for _, o := range f.Type.Overloads {
		if o.Args == sig.String() {
			return o.Impl(ctx, vals)
		}
	}
	t.Fatalf("%s: no overload %q", c.path, sig.String())
	return nil
}

// callsFor lists calls worth checking on the parsed file f: arguments
// taken from its own sections, exports, imports, resources and Rich
// header, and some that match nothing.
func callsFor(f *file) []call {
	r := f.root
	cs := []call{
		{"is_dll", nil}, {"is_32bit", nil}, {"is_64bit", nil},
		{"imphash", nil}, {"calculate_checksum", nil},
		{"rva_to_offset", []any{int64(0)}}, {"rva_to_offset", []any{int64(-1)}},
		{"rva_to_offset", []any{int64(0x7fffffff)}}, {"rva_to_offset", []any{getInt(r, "entry_point_raw")}},
		{"section_index", []any{"nonexistent"}}, {"section_index", []any{int64(0)}},
		{"exports", []any{int64(0)}}, {"exports", []any{int64(1)}}, {"exports", []any{int64(3)}},
		{"exports", []any{int64(7)}}, {"exports", []any{"nonexistent"}},
		{"exports", []any{re("/^S/", "^S")}}, {"exports", []any{re("/d$/", "d$")}},
		{"exports_index", []any{int64(1)}}, {"exports_index", []any{int64(7)}},
		{"exports_index", []any{re("/^[a-z]+$/", "^[a-z]+$")}}, {"exports_index", []any{"add"}},
		{"imports", []any{re("/kernel32/i", "(?i)kernel32"), re("/^Get/", "^Get")}},
		{"imports", []any{re("/\\.dll/", "\\.dll"), re("/./", ".")}},
		{"imports", []any{rawExpr("pe.IMPORT_ANY"), re("/dll/i", "(?i)dll"), re("/./", ".")}},
		{"imports", []any{rawExpr("pe.IMPORT_DELAYED"), re("/dll/i", "(?i)dll"), re("/./", ".")}},
		{"imports", []any{rawExpr("pe.IMPORT_ANY"), re("/.*/", ".*"), re("/.*/", ".*")}},
		{"exports", []any{re("/.*/", ".*")}},
		{"imports", []any{"nonexistent.dll"}}, {"imports", []any{"kernel32.dll", "nonexistent"}},
		{"locale", []any{int64(0x409)}}, {"locale", []any{int64(0x407)}}, {"locale", []any{int64(0)}},
		{"language", []any{int64(9)}}, {"language", []any{int64(7)}}, {"language", []any{int64(0)}},
		{"rich_signature.version", []any{int64(0)}}, {"rich_signature.toolid", []any{int64(0)}},
	}
	a, _ := r.Fields["sections"].(*module.Array)
	if a != nil {
		for _, it := range a.Items {
			s, _ := it.(*module.Struct)
			if name, ok := getString(s, "name"); ok && !strings.ContainsRune(name, 0) {
				cs = append(cs, call{"section_index", []any{name}})
			}
			off := getInt(s, "raw_data_offset")
			cs = append(cs, call{"section_index", []any{off}}, call{"section_index", []any{off - 1}})
			cs = append(cs, call{"rva_to_offset", []any{getInt(s, "virtual_address") + 1}})
		}
	}
	a, _ = r.Fields["export_details"].(*module.Array)
	if a != nil {
		for i, it := range a.Items {
			if i == 20 {
				break
			}
			s, _ := it.(*module.Struct)
			if name, ok := getString(s, "name"); ok {
				cs = append(cs, call{"exports", []any{name}}, call{"exports", []any{strings.ToUpper(name)}},
					call{"exports_index", []any{name}})
			}
		}
	}
	for k, dlls := range [][]*importedDLL{f.imports, f.delayed} {
		for _, d := range dlls {
			flag := rawExpr("pe.IMPORT_STANDARD")
			if k == 1 {
				flag = "pe.IMPORT_DELAYED"
			}
			cs = append(cs, call{"imports", []any{d.name}}, call{"imports", []any{strings.ToUpper(d.name)}},
				call{"imports", []any{flag, d.name}}, call{"imports", []any{rawExpr("pe.IMPORT_ANY"), d.name}})
			for i, fn := range d.functions {
				if i == 5 {
					break
				}
				cs = append(cs, call{"imports", []any{d.name, fn.name}}, call{"imports", []any{flag, d.name, fn.name}},
					call{"imports", []any{strings.ToLower(d.name), strings.ToUpper(fn.name)}})
				if fn.hasOrdinal {
					o := int64(fn.ordinal)
					cs = append(cs, call{"imports", []any{d.name, o}}, call{"imports", []any{flag, d.name, o}},
						call{"imports", []any{rawExpr("pe.IMPORT_ANY"), d.name, o + 1}})
				}
			}
		}
	}
	if rs, ok := r.Fields["rich_signature"].(*module.Struct); ok {
		clear, _ := getString(rs, "clear_data")
		for i := 16; i+8 <= len(clear) && i < 16+8*8; i += 8 {
			id := binary.LittleEndian.Uint32([]byte(clear[i:]))
			v, tool := int64(id&0xffff), int64(id>>16)
			cs = append(cs, call{"rich_signature.version", []any{v}}, call{"rich_signature.toolid", []any{tool}},
				call{"rich_signature.version", []any{v, tool}}, call{"rich_signature.toolid", []any{tool, v}},
				call{"rich_signature.version", []any{v, tool + 1}})
		}
	}
	return cs
}

// checkFunctions evaluates callsFor on data with our module and has yara
// confirm every result.
func checkFunctions(t *testing.T, label string, data []byte) int {
	t.Helper()
	mod := Module()
	_, ctx := modtest.Load(t, mod, data)
	f := fileOf(ctx)
	var cases []modtest.Case
	for _, c := range callsFor(f) {
		cases = append(cases, modtest.Case{Expr: c.expr(), Want: eval(t, mod, ctx, c)})
	}
	t.Run(label, func(t *testing.T) { modtest.Differential(t, []string{"pe"}, data, cases) })
	return len(cases)
}

// TestFunctionsAgainstYara checks the module's functions on every sample
// (and on files of VIGIL_PE_SAMPLES) against yara.
func TestFunctionsAgainstYara(t *testing.T) {
	n := 0
	for _, s := range samples(t) {
		data, err := os.ReadFile(s.path)
		if err != nil {
			t.Fatal(err)
		}
		n += checkFunctions(t, s.name, data)
	}
	if dir := os.Getenv("VIGIL_PE_SAMPLES"); dir != "" {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err == nil && !e.IsDir() {
				n += checkFunctions(t, e.Name(), data)
			}
		}
	}
	// Not a PE: every function is undefined.
	n += checkFunctions(t, "not-pe", []byte("MZ not really a PE file"))
	t.Logf("%d function calls agree with yara", n)
}

// TestValidOnAgainstYara checks signatureValidOn, the computation of
// signatures[i].valid_on(t), against yara around each signature's bounds.
// (The module function itself cannot reach the signature yet; see validOn.)
func TestValidOnAgainstYara(t *testing.T) {
	n := 0
	for _, s := range samples(t) {
		data, err := os.ReadFile(s.path)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := modtest.Load(t, Module(), data)
		var cases []modtest.Case
		for i := int64(0); i < getInt(st, "number_of_signatures"); i++ {
			sig := arrayItem(st, "signatures", i)
			for _, ts := range []int64{getInt(sig, "not_before") - 1, getInt(sig, "not_before"), getInt(sig, "not_after"), getInt(sig, "not_after") + 1} {
				expr := fmt.Sprintf("pe.signatures[%d].valid_on(%d)", i, ts)
				cases = append(cases, modtest.Case{Expr: expr, Want: signatureValidOn(sig, ts)})
			}
		}
		if len(cases) > 0 {
			modtest.Differential(t, []string{"pe"}, data, cases)
			n += len(cases)
		}
	}
	t.Logf("%d valid_on calls agree with yara", n)
}
