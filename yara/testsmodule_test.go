package yara

import (
	"context"
	"strings"
	"testing"

	"vigil/yara/module"
	"vigil/yara/modules"
)

// testsModule mirrors the part of yara's built-in "tests" module whose
// values were confirmed by probing yara 4.2.3; it exercises structs, arrays
// with holes, dictionaries, struct arrays and overloaded functions.
func testsModule() *module.Module {
	sv := module.StructOf(module.F("i", module.Int), module.F("s", module.String))
	fn := func(args string, res module.Kind, impl func(*module.Context, []module.Value) module.Value) *module.Func {
		return &module.Func{Args: args, Result: res, Impl: impl}
	}
	sum := func(_ *module.Context, a []module.Value) module.Value {
		var s int64
		for _, x := range a {
			s += x.(int64)
		}
		return s
	}
	fsum := func(_ *module.Context, a []module.Value) module.Value {
		var s float64
		for _, x := range a {
			s += x.(float64)
		}
		return s
	}
	typ := module.StructOf(
		module.F("constants", module.StructOf(module.F("one", module.Int), module.F("two", module.Int),
			module.F("foo", module.String), module.F("empty", module.String))),
		module.F("undefined", module.StructOf(module.F("i", module.Int), module.F("f", module.Float))),
		module.F("module_data", module.String),
		module.F("integer_array", module.ArrayOf(module.Int)),
		module.F("string_array", module.ArrayOf(module.String)),
		module.F("string_dict", module.DictOf(module.String)),
		module.F("struct_array", module.ArrayOf(sv)),
		module.F("struct_dict", module.DictOf(sv)),
		module.F("empty_struct_array", module.ArrayOf(sv)),
		module.F("empty_struct_dict", module.DictOf(sv)),
		module.F("isum", module.FuncOf(fn("ii", module.KindInt, sum), fn("iii", module.KindInt, sum))),
		module.F("fsum", module.FuncOf(fn("ff", module.KindFloat, fsum), fn("fff", module.KindFloat, fsum))),
		module.F("length", module.FuncOf(fn("s", module.KindInt, func(_ *module.Context, a []module.Value) module.Value {
			return int64(len(a[0].(string)))
		}))),
		module.F("empty", module.FuncOf(fn("", module.KindString, func(*module.Context, []module.Value) module.Value { return "" }))),
		module.F("foobar", module.FuncOf(fn("i", module.KindString, func(_ *module.Context, a []module.Value) module.Value {
			switch a[0].(int64) {
			case 1:
				return "foo"
			case 2:
				return "bar"
			}
			return nil
		}))),
	)
	load := func(*module.Context) (*module.Struct, error) {
		ia := make([]module.Value, 257)
		ia[0], ia[1], ia[2], ia[256] = int64(0), int64(1), int64(2), int64(256)
		return module.NewStruct().
			Set("constants", module.NewStruct().Set("one", int64(1)).Set("two", int64(2)).Set("foo", "foo").Set("empty", "")).
			Set("undefined", module.NewStruct()).
			Set("integer_array", &module.Array{Items: ia}).
			Set("string_array", &module.Array{Items: []module.Value{"foo", "bar", "baz", "foo\x00bar"}}).
			Set("string_dict", &module.Dict{Keys: []string{"foo", "bar"}, Items: map[string]module.Value{"foo": "foo", "bar": "bar"}}).
			Set("struct_array", &module.Array{Items: []module.Value{module.NewStruct(), module.NewStruct().Set("i", int64(1))}}).
			Set("struct_dict", &module.Dict{Keys: []string{"foo"}, Items: map[string]module.Value{"foo": module.NewStruct().Set("i", int64(1)).Set("s", "foo")}}).
			Set("empty_struct_array", &module.Array{}).
			Set("empty_struct_dict", &module.Dict{Items: map[string]module.Value{}}), nil
	}
	return &module.Module{Name: "tests", Type: typ, Load: load}
}

// TestTestsModule checks module access, iteration and calls against yara's
// tests module: each condition's result in yara is asserted too.
func TestTestsModule(t *testing.T) {
	cases := []struct {
		cond string
		want bool // confirmed with yara 4.2.3
	}{
		{`tests.constants.one == 1 and tests.constants.two == 2 and tests.constants.foo == "foo" and tests.constants.empty == ""`, true},
		{`tests.integer_array[0] == 0 and tests.integer_array[1] == 1 and tests.integer_array[2] == 2`, true},
		{`tests.integer_array[256] == 256`, true},
		{`not defined tests.integer_array[3]`, true},
		{`not defined tests.integer_array[-1] and not defined tests.integer_array[1000]`, true},
		{`for all x in tests.integer_array : (x < 1000)`, false},
		{`for any x in tests.integer_array : (x == 256)`, true},
		{`for 4 x in tests.integer_array : (x >= 0)`, true},
		{`for 5 x in tests.integer_array : (x >= 0)`, false},
		{`for all x in tests.integer_array : (defined x)`, false},
		{`tests.string_array[0] == "foo" and tests.string_array[1] == "bar" and tests.string_array[2] == "baz"`, true},
		{`tests.string_array[3] == "foo\x00bar"`, true},
		{`tests.string_dict["foo"] == "foo" and tests.string_dict["bar"] == "bar"`, true},
		{`not defined tests.string_dict["baz"]`, true},
		{`for all k, v in tests.string_dict : (k == v)`, true},
		{`for any k, v in tests.string_dict : (k == "bar" and v == "bar")`, true},
		{`tests.struct_array[1].i == 1`, true},
		{`not defined tests.struct_array[0].i`, true},
		{`for any s in tests.struct_array : (s.i == 1)`, true},
		{`tests.struct_dict["foo"].i == 1 and tests.struct_dict["foo"].s == "foo"`, true},
		{`tests.isum(1,2) == 3 and tests.isum(1,2,3) == 6 and tests.fsum(1.0,2.0) == 3.0 and tests.fsum(1.0,2.0,3.0) == 6.0`, true},
		{`tests.length("dummy") == 5`, true},
		{`tests.foobar(1) == "foo" and tests.foobar(2) == "bar"`, true},
		{`tests.empty() == ""`, true},
		{`not defined tests.undefined.i and not defined tests.undefined.f`, true},
		{`for all s in tests.empty_struct_array : (false)`, false},
		{`not for any s in tests.empty_struct_array : (true)`, true},
		{`for none s in tests.empty_struct_array : (true)`, false},
		{`for all k, v in tests.empty_struct_dict : (false)`, false},
		{`tests.module_data == ""`, false},
		{`for all i in (0..2) : (tests.integer_array[i] == i)`, true},
	}
	mods := modules.Builtin()
	mods["tests"] = testsModule()
	for _, tc := range cases {
		src := `import "tests" rule r { condition: ` + tc.cond + ` }`
		c := newCompiler(mods)
		if err := c.AddSource("t.yar", []byte(src), ""); err != nil {
			t.Errorf("%s: %v", tc.cond, err)
			continue
		}
		r, err := c.Rules()
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.NewScanner().ScanBytes(context.Background(), []byte("data"))
		if err != nil {
			t.Fatal(err)
		}
		if got := len(res.Matching) == 1; got != tc.want {
			t.Errorf("%s: vigil %v, want %v", tc.cond, got, tc.want)
		}
		if haveYara() {
			sum, _, err := yaraScan(t, src, []byte("data"))
			if err != nil {
				t.Fatal(err)
			}
			if y := len(sum) == 1; y != tc.want {
				t.Errorf("%s: yara %v, table %v", tc.cond, y, tc.want)
			}
		}
	}
	// Overloads are exact: yara does not convert integers to floats.
	for _, bad := range []string{`tests.fsum(1, 2.0) == 3.0`, `tests.isum(1.0, 2) == 3`, `tests.nothing == 1`, `tests.constants == 1`, `tests.length(1) == 1`} {
		c := newCompiler(mods)
		err := c.AddSource("t.yar", []byte(`import "tests" rule r { condition: `+bad+` }`), "")
		if err == nil {
			t.Errorf("%s: accepted", bad)
		} else if !strings.Contains(err.Error(), "E2") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
