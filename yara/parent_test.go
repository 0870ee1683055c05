package yara

import (
	"context"
	"testing"

	"vigil/yara/module"
	"vigil/yara/modules"
)

// TestFunctionParent checks that a function reached through a struct (as
// pe.signatures[i].valid_on(t) is) sees that struct as Context.Parent, and
// that a function on an undefined struct sees none.
func TestFunctionParent(t *testing.T) {
	item := module.StructOf(
		module.F("v", module.Int),
		module.F("get", module.FuncOf(&module.Func{Args: "", Result: module.KindInt,
			Impl: func(c *module.Context, _ []module.Value) module.Value {
				if c.Parent == nil {
					return nil
				}
				return c.Parent.Fields["v"]
			}})),
	)
	mod := &module.Module{
		Name: "par",
		Type: module.StructOf(module.F("items", module.ArrayOf(item)), module.F("one", item)),
		Load: func(*module.Context) (*module.Struct, error) {
			return module.NewStruct().
				Set("items", &module.Array{Items: []module.Value{
					module.NewStruct().Set("v", int64(10)),
					module.NewStruct().Set("v", int64(20)),
				}}).
				Set("one", module.NewStruct().Set("v", int64(7))), nil
		},
	}
	mods := modules.Builtin()
	mods["par"] = mod
	for _, tc := range []struct {
		cond string
		want bool
	}{
		{`par.items[0].get() == 10`, true},
		{`par.items[1].get() == 20`, true},
		{`par.one.get() == 7`, true},
		{`not defined par.items[5].get()`, true},
		{`for all x in par.items : (x.get() == x.v)`, true},
		{`par.items[0].get() == 20`, false},
	} {
		c := newCompiler(mods)
		if err := c.AddSource("t.yar", []byte(`import "par" rule r { condition: `+tc.cond+` }`), ""); err != nil {
			t.Fatalf("%s: %v", tc.cond, err)
		}
		r, err := c.Rules()
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.NewScanner().ScanBytes(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(res.Matching) == 1; got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.cond, got, tc.want)
		}
	}
}
