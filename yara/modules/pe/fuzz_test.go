package pe

import (
	"os"
	"path/filepath"
	"testing"

	"vigil/yara/module"
	"vigil/yara/modules/internal/modtest"
)

// maxFuzzSeed bounds the size of seed files: the fuzzer spends its time
// on small inputs (the Go samples are megabytes).
const maxFuzzSeed = 256 << 10

// FuzzPE loads arbitrary data and calls every function of the module on
// it: nothing may panic, and the data must agree with the declared types.
// The corpus is seeded with the built samples and VIGIL_PE_SAMPLES files.
func FuzzPE(f *testing.F) {
	f.Add([]byte("MZ"))
	f.Add(tinyPE())
	if d := os.Getenv("VIGIL_PE_SAMPLES"); d != "" {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if b, err := os.ReadFile(filepath.Join(d, e.Name())); err == nil && len(b) < maxFuzzSeed {
				f.Add(b)
			}
		}
	}
	if os.Getenv("VIGIL_PE_FUZZ_SAMPLES") != "" {
		for _, s := range samples(f) {
			if b, err := os.ReadFile(s.path); err == nil && len(b) < maxFuzzSeed {
				f.Add(b)
			}
		}
	}
	mod := Module()
	f.Fuzz(func(t *testing.T, data []byte) {
		st, ctx := modtest.Load(t, mod, data)
		callAll(t, mod.Type, ctx, st)
	})
}

// callAll calls every function of typ (a struct type whose value is v)
// with a few arguments of each signature, walking into the first item of
// arrays.
func callAll(t *testing.T, typ *module.Type, ctx *module.Context, v *module.Struct) {
	args := map[byte][]module.Value{
		'i': {int64(0), int64(1), int64(-1), int64(0x409), int64(1 << 40)},
		's': {"", "kernel32.dll", "GetTickCount", ".text"},
		'r': {goRegexp{re: reAny}},
	}
	for _, fld := range typ.Fields {
		switch fld.Type.Kind {
		case module.KindFunc:
			for _, o := range fld.Type.Overloads {
				vals := make([]module.Value, len(o.Args))
				calls := 3
				if len(o.Args) == 0 {
					calls = 1 // no arguments to vary
				}
				for k := 0; k < calls; k++ {
					for i := range vals {
						choices := args[o.Args[i]]
						vals[i] = choices[(k+i)%len(choices)]
					}
					modtest.CheckValue(t, fld.Name, &module.Type{Kind: o.Result}, o.Impl(ctx, vals))
				}
			}
		case module.KindStruct:
			var sub *module.Struct
			if v != nil {
				sub, _ = v.Fields[fld.Name].(*module.Struct)
			}
			callAll(t, fld.Type, ctx, sub)
		case module.KindArray:
			if fld.Type.Elem.Kind == module.KindStruct {
				callAll(t, fld.Type.Elem, ctx, arrayItem(v, fld.Name, 0))
			}
		}
	}
}
