// Package dotnet implements yara's "dotnet" module: the CLI metadata of a
// .NET PE file (version, streams, GUIDs, resources, assembly and assembly
// references, module references, user strings, typelib, string constants
// and field RVAs).
//
// Values follow yara 4.2.3 field for field, including its quirks: blob
// lengths read from the #Blob and #US heaps lose one byte (yara strips the
// terminal byte of every blob, not just of user strings), the stream count
// is the low byte of its 16-bit field, stream names match by prefix, a table
// with more than maxTableRows rows stops the table walk, and the typelib and
// constants are located the way yara does it (see tables.go).
//
// Only files are handled: yara's process memory mode does not apply.
//
// # Security
//
// The input is hostile. The package has its own minimal PE reader (pe.go)
// whose every read is bounds-checked; all counts come with yara's limits
// (255 streams, 16 GUIDs, maxTableRows rows per table), and strings are
// slices of at most one copy of the data however often they are repeated
// (see strPool), so memory stays linear in the data size. A malformed file
// yields a partial structure, never an error or a panic.
package dotnet

import (
	"vigil/yara/module"
)

// Module returns the dotnet module.
func Module() *module.Module {
	return &module.Module{
		Name: "dotnet",
		Type: rootType(),
		Load: func(c *module.Context) (*module.Struct, error) {
			if c.Ctx != nil {
				if err := c.Ctx.Err(); err != nil {
					return nil, err
				}
			}
			return load(c.Data), nil
		},
	}
}

func ints(names ...string) []*module.Field {
	fs := make([]*module.Field, len(names))
	for i, n := range names {
		fs[i] = module.F(n, module.Int)
	}
	return fs
}

// versionType is the type of assembly.version and assembly_refs[].version.
func versionType() *module.Type {
	return module.StructOf(ints("major", "minor", "build_number", "revision_number")...)
}

// rootType is the module's type, fields in yara 4.2.3's declaration order
// (which decides the order of `yara -D`, see module.Dump).
func rootType() *module.Type {
	return module.StructOf(
		module.F("is_dotnet", module.Int),
		module.F("version", module.String),
		module.F("module_name", module.String),
		module.F("streams", module.ArrayOf(module.StructOf(
			module.F("name", module.String),
			module.F("offset", module.Int),
			module.F("size", module.Int),
		))),
		module.F("number_of_streams", module.Int),
		module.F("guids", module.ArrayOf(module.String)),
		module.F("number_of_guids", module.Int),
		module.F("resources", module.ArrayOf(module.StructOf(
			module.F("offset", module.Int),
			module.F("length", module.Int),
			module.F("name", module.String),
		))),
		module.F("number_of_resources", module.Int),
		module.F("assembly_refs", module.ArrayOf(module.StructOf(
			module.F("version", versionType()),
			module.F("public_key_or_token", module.String),
			module.F("name", module.String),
		))),
		module.F("number_of_assembly_refs", module.Int),
		module.F("assembly", module.StructOf(
			module.F("version", versionType()),
			module.F("name", module.String),
			module.F("culture", module.String),
		)),
		module.F("modulerefs", module.ArrayOf(module.String)),
		module.F("number_of_modulerefs", module.Int),
		module.F("user_strings", module.ArrayOf(module.String)),
		module.F("number_of_user_strings", module.Int),
		module.F("typelib", module.String),
		module.F("constants", module.ArrayOf(module.String)),
		module.F("number_of_constants", module.Int),
		module.F("field_offsets", module.ArrayOf(module.Int)),
		module.F("number_of_field_offsets", module.Int),
	)
}
