// Package modules is the explicit registry of the YARA modules built into
// Vigil. A module is listed here, not registered by an init function.
package modules

import (
	"vigil/yara/module"
	"vigil/yara/modules/console"
	"vigil/yara/modules/dotnet"
	"vigil/yara/modules/elf"
	"vigil/yara/modules/hash"
	"vigil/yara/modules/magic"
	"vigil/yara/modules/math"
	"vigil/yara/modules/pe"
	"vigil/yara/modules/time"
)

// Builtin returns the modules compiled into Vigil, by name.
func Builtin() map[string]*module.Module {
	m := map[string]*module.Module{}
	for _, mod := range []*module.Module{
		console.Module(),
		dotnet.Module(),
		elf.Module(),
		hash.Module(),
		magic.Module(),
		math.Module(),
		pe.Module(),
		time.Module(),
	} {
		m[mod.Name] = mod
	}
	return m
}
