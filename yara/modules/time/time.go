// Package time implements yara's "time" module: now() is the current Unix
// time in seconds.
package time

import (
	stdtime "time"

	"vigil/yara/module"
)

// Module returns the time module, reading the clock with stdtime.Now.
func Module() *module.Module { return moduleWithClock(stdtime.Now) }

// moduleWithClock returns the time module reading the clock with now; tests
// pass a fixed clock.
func moduleWithClock(now func() stdtime.Time) *module.Module {
	return &module.Module{
		Name: "time",
		Type: module.StructOf(
			module.F("now", module.FuncOf(&module.Func{
				Args:   "",
				Result: module.KindInt,
				Impl: func(*module.Context, []module.Value) module.Value {
					return now().Unix()
				},
			})),
		),
		Load: func(*module.Context) (*module.Struct, error) {
			return module.NewStruct(), nil
		},
	}
}
