package module_test

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"vigil/yara/module"
	"vigil/yara/modules"
	"vigil/yara/modules/elf"
)

// The expected dumps below are written by hand from yara 4.2.3's
// yr_object_print_data (libyara/object.c): one tab per level, " = " before
// values, YR_UNDEFINED for undefined scalars, %f for floats, \xNN for bytes
// outside 0x20-0x7e, "[i]" for array items, keys for dictionary items,
// functions omitted, and struct members in reverse declaration order except
// under an odd number of array or dictionary items. TestDumpYara checks the
// same rules against yara itself on real modules.
func TestDump(t *testing.T) {
	fn := module.FuncOf(&module.Func{Args: "i", Result: module.KindInt,
		Impl: func(*module.Context, []module.Value) module.Value { return nil }})
	point := module.StructOf(module.F("x", module.Int), module.F("y", module.Int))
	tests := []struct {
		name string
		typ  *module.Type
		val  *module.Struct
		want string
	}{
		{
			name: "scalars",
			typ: module.StructOf(
				module.F("i", module.Int),
				module.F("neg", module.Int),
				module.F("undef", module.Int),
				module.F("f", fn),
				module.F("s", module.String),
				module.F("fl", module.Float),
			),
			val: module.NewStruct().Set("i", int64(42)).Set("neg", int64(-7)).
				Set("s", "a\"b\\c\x00\x7f\x80\xff\t\n ~").Set("fl", 127.5),
			want: "m\n\tfl = 127.500000\n\ts = \"a\"b\\c\\x00\\x7f\\x80\\xff\\x09\\x0a ~\"\n\tundef = YR_UNDEFINED\n\tneg = -7\n\ti = 42\n",
		},
		{
			name: "undefined marker",
			typ:  module.StructOf(module.F("i", module.Int), module.F("f", module.Float)),
			val: module.NewStruct().Set("i", int64(-0x0005452505452501)).
				Set("f", math.Float64frombits(0xFFFABADAFABADAFF)),
			want: "m\n\tf = YR_UNDEFINED\n\ti = YR_UNDEFINED\n",
		},
		{
			name: "floats",
			typ: module.StructOf(module.F("a", module.Float), module.F("b", module.Float),
				module.F("c", module.Float), module.F("d", module.Float), module.F("e", module.Float),
				module.F("f", module.Float), module.F("g", module.Float)),
			val: module.NewStruct().
				Set("a", 0.0078125). // a tie: rounds to even
				Set("b", math.Copysign(0, -1)).
				Set("c", math.Inf(1)).
				Set("d", math.Inf(-1)).
				Set("e", math.NaN()).
				Set("f", 1e20).
				Set("g", -2.0000005),
			want: "m\n\tg = -2.000001\n\tf = 100000000000000000000.000000\n\te = nan\n\td = -inf\n\tc = inf\n\tb = -0.000000\n\ta = 0.007812\n",
		},
		{
			name: "nested",
			typ: module.StructOf(
				module.F("p", point),
				module.F("arr", module.ArrayOf(point)),
				module.F("ints", module.ArrayOf(module.Int)),
				module.F("d", module.DictOf(module.StructOf(
					module.F("a", module.Int),
					module.F("inner", module.ArrayOf(point)),
				))),
				module.F("empty", module.ArrayOf(point)),
				module.F("nilstruct", point),
			),
			val: module.NewStruct().
				Set("p", module.NewStruct().Set("x", int64(1)).Set("y", int64(2))).
				Set("arr", &module.Array{Items: []module.Value{
					module.NewStruct().Set("x", int64(3)),
					nil,
					module.NewStruct().Set("y", int64(4)),
				}}).
				Set("ints", &module.Array{Items: []module.Value{int64(5), nil, int64(6)}}).
				Set("d", &module.Dict{Keys: []string{"k1", "k\x002"}, Items: map[string]module.Value{
					"k1": module.NewStruct().Set("a", int64(7)).Set("inner", &module.Array{Items: []module.Value{
						module.NewStruct().Set("x", int64(8)).Set("y", int64(9)),
					}}),
					"k\x002": module.NewStruct(),
				}}),
			want: "m" +
				"\n\tnilstruct\n\t\ty = YR_UNDEFINED\n\t\tx = YR_UNDEFINED" +
				"\n\tempty" +
				"\n\td" +
				"\n\t\tk1\n\t\t\ta = 7\n\t\t\tinner\n\t\t\t\t[0]\n\t\t\t\t\ty = 9\n\t\t\t\t\tx = 8" +
				"\n\t\tk\n\t\t\ta = YR_UNDEFINED\n\t\t\tinner" +
				"\n\tints\n\t\t[0] = 5\n\t\t[2] = 6" +
				"\n\tarr\n\t\t[0]\n\t\t\tx = 3\n\t\t\ty = YR_UNDEFINED\n\t\t[2]\n\t\t\tx = YR_UNDEFINED\n\t\t\ty = 4" +
				"\n\tp\n\t\ty = 2\n\t\tx = 1\n",
		},
		{
			name: "functions only",
			typ:  module.StructOf(module.F("f", fn), module.F("g", fn)),
			val:  module.NewStruct(),
			want: "m\n",
		},
		{
			name: "nil root",
			typ:  module.StructOf(module.F("a", module.String)),
			want: "m\n\ta = YR_UNDEFINED\n",
		},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := module.Dump(&b, "m", tt.typ, tt.val); err != nil {
			t.Fatal(err)
		}
		if got := b.String(); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

// TestDumpDepth checks yara's indentation cap of 31 tabs.
func TestDumpDepth(t *testing.T) {
	typ := module.StructOf(module.F("v", module.Int))
	val := module.NewStruct().Set("v", int64(1))
	for range 40 {
		typ = module.StructOf(module.F("s", typ))
		val = module.NewStruct().Set("s", val)
	}
	var b bytes.Buffer
	if err := module.Dump(&b, "m", typ, val); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 42 {
		t.Fatalf("%d lines, want 42", len(lines))
	}
	for i, line := range lines {
		tabs := len(line) - len(strings.TrimLeft(line, "\t"))
		if want := min(i, 31); tabs != want {
			t.Errorf("line %d: %d tabs, want %d", i, tabs, want)
		}
	}
}

// TestDumpYara compares Dump with `yara -D` for every built-in module and
// for elf, on a few files.
func TestDumpYara(t *testing.T) {
	bin := os.Getenv("VIGIL_YARA")
	if bin == "" {
		bin = "/usr/bin/yara"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("reference yara not available: %v", err)
	}
	mods := modules.Builtin()
	mods["elf"] = elf.Module()
	dir := t.TempDir()
	files := map[string][]byte{"empty": nil, "text": []byte("some text\n")}
	if data, err := os.ReadFile("/usr/bin/true"); err == nil {
		files["true"] = data
	}
	for name, m := range mods {
		rule := filepath.Join(dir, name+".yar")
		if err := os.WriteFile(rule, []byte("import \""+name+"\"\nrule r { condition: false }\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		for fname, data := range files {
			path := filepath.Join(dir, fname)
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			want, err := exec.Command(bin, "-D", rule, path).Output()
			if err != nil {
				t.Fatalf("yara %s %s: %v", name, fname, err)
			}
			st, err := m.Load(&module.Context{Data: data, Cache: map[any]any{}})
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := module.Dump(&got, m.Name, m.Type, st); err != nil {
				t.Fatal(err)
			}
			if got.String() != string(want) {
				t.Errorf("module %s on %s: dump differs from yara -D\n got %.300q\nwant %.300q", name, fname, got.String(), want)
			}
		}
	}
}
