// Package elf implements yara's "elf" module: the header, section and
// program header tables, dynamic entries and symbol tables of an ELF file
// (32 or 64 bits, either byte order), with the ELF_* style constants yara
// exports (ET_*, EM_*, SHT_*, SHF_*, PT_*, DT_*, STT_*, STB_*, PF_*).
//
// Values follow yara 4.2.3 field for field, including its quirks (see
// parse.go): entry_point is a file offset, computed from the program headers
// for ET_EXEC files and from the section headers otherwise; section names
// are read up to the end of the file; the dynamic array comes from every
// PT_DYNAMIC segment, the later ones overwriting the earlier ones.
//
// yara 4.2.3 has no elf functions (telfhash and import_md5 came later) and
// no "other" field in symbols; neither has this module. Only files are
// handled: yara's process memory mode (base address + entry) does not apply.
//
// # Security
//
// The input is hostile. Every read is bounds-checked, every count is capped
// by what fits in the data before anything is allocated, and work is linear
// in the data size even for crafted tables (string lookups and the dynamic
// entries are indexed, see strtab.go and dynamic.go). A malformed file
// yields a partial structure, never an error or a panic.
package elf

import (
	"vigil/yara/module"
)

// Module returns the elf module.
func Module() *module.Module {
	return &module.Module{
		Name: "elf",
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

// constant is one integer constant the module exports.
type constant struct {
	name  string
	value int64
}

// The constant groups, in yara's declaration order.
var (
	etConstants = []constant{
		{"ET_NONE", 0}, {"ET_REL", 1}, {"ET_EXEC", 2}, {"ET_DYN", 3}, {"ET_CORE", 4},
	}
	emConstants = []constant{
		{"EM_NONE", 0}, {"EM_M32", 1}, {"EM_SPARC", 2}, {"EM_386", 3},
		{"EM_68K", 4}, {"EM_88K", 5}, {"EM_860", 7}, {"EM_MIPS", 8},
		{"EM_MIPS_RS3_LE", 10}, {"EM_PPC", 20}, {"EM_PPC64", 21},
		{"EM_ARM", 40}, {"EM_X86_64", 62}, {"EM_AARCH64", 183},
	}
	shtConstants = []constant{
		{"SHT_NULL", shtNull}, {"SHT_PROGBITS", 1}, {"SHT_SYMTAB", shtSymtab},
		{"SHT_STRTAB", shtStrtab}, {"SHT_RELA", 4}, {"SHT_HASH", 5},
		{"SHT_DYNAMIC", 6}, {"SHT_NOTE", 7}, {"SHT_NOBITS", shtNobits},
		{"SHT_REL", 9}, {"SHT_SHLIB", 10}, {"SHT_DYNSYM", shtDynsym},
	}
	shfConstants = []constant{
		{"SHF_WRITE", 1}, {"SHF_ALLOC", 2}, {"SHF_EXECINSTR", 4},
	}
	ptConstants = []constant{
		{"PT_NULL", 0}, {"PT_LOAD", 1}, {"PT_DYNAMIC", ptDynamic},
		{"PT_INTERP", 3}, {"PT_NOTE", 4}, {"PT_SHLIB", 5}, {"PT_PHDR", 6},
		{"PT_TLS", 7}, {"PT_GNU_EH_FRAME", 0x6474e550}, {"PT_GNU_STACK", 0x6474e551},
	}
	dtConstants = []constant{
		{"DT_NULL", 0}, {"DT_NEEDED", 1}, {"DT_PLTRELSZ", 2}, {"DT_PLTGOT", 3},
		{"DT_HASH", 4}, {"DT_STRTAB", 5}, {"DT_SYMTAB", 6}, {"DT_RELA", 7},
		{"DT_RELASZ", 8}, {"DT_RELAENT", 9}, {"DT_STRSZ", 10}, {"DT_SYMENT", 11},
		{"DT_INIT", 12}, {"DT_FINI", 13}, {"DT_SONAME", 14}, {"DT_RPATH", 15},
		{"DT_SYMBOLIC", 16}, {"DT_REL", 17}, {"DT_RELSZ", 18}, {"DT_RELENT", 19},
		{"DT_PLTREL", 20}, {"DT_DEBUG", 21}, {"DT_TEXTREL", 22}, {"DT_JMPREL", 23},
		{"DT_BIND_NOW", 24}, {"DT_INIT_ARRAY", 25}, {"DT_FINI_ARRAY", 26},
		{"DT_INIT_ARRAYSZ", 27}, {"DT_FINI_ARRAYSZ", 28}, {"DT_RUNPATH", 29},
		{"DT_FLAGS", 30}, {"DT_ENCODING", 32},
	}
	sttConstants = []constant{
		{"STT_NOTYPE", 0}, {"STT_OBJECT", 1}, {"STT_FUNC", 2}, {"STT_SECTION", 3},
		{"STT_FILE", 4}, {"STT_COMMON", 5}, {"STT_TLS", 6},
	}
	stbConstants = []constant{
		{"STB_LOCAL", 0}, {"STB_GLOBAL", 1}, {"STB_WEAK", 2},
	}
	pfConstants = []constant{
		{"PF_X", 1}, {"PF_W", 2}, {"PF_R", 4},
	}
)

// allConstants lists every constant group.
var allConstants = [][]constant{
	etConstants, emConstants, shtConstants, shfConstants, ptConstants,
	dtConstants, sttConstants, stbConstants, pfConstants,
}

func intFields(cs []constant) []*module.Field {
	fs := make([]*module.Field, len(cs))
	for i, c := range cs {
		fs[i] = module.F(c.name, module.Int)
	}
	return fs
}

func ints(names ...string) []*module.Field {
	fs := make([]*module.Field, len(names))
	for i, n := range names {
		fs[i] = module.F(n, module.Int)
	}
	return fs
}

// symbolType is the type of a symtab or dynsym entry.
func symbolType() *module.Type {
	return module.StructOf(append([]*module.Field{module.F("name", module.String)},
		ints("value", "size", "type", "bind", "shndx")...)...)
}

// rootType is the module's type, fields in yara's declaration order (which
// decides the order of `yara -D`, see module.Dump).
func rootType() *module.Type {
	var fs []*module.Field
	add := func(f ...*module.Field) { fs = append(fs, f...) }
	add(intFields(etConstants)...)
	add(intFields(emConstants)...)
	add(intFields(shtConstants)...)
	add(intFields(shfConstants)...)
	add(ints("type", "machine", "entry_point",
		"number_of_sections", "sh_offset", "sh_entry_size",
		"number_of_segments", "ph_offset", "ph_entry_size")...)
	add(module.F("sections", module.ArrayOf(module.StructOf(
		module.F("type", module.Int),
		module.F("flags", module.Int),
		module.F("address", module.Int),
		module.F("name", module.String),
		module.F("size", module.Int),
		module.F("offset", module.Int),
	))))
	add(intFields(ptConstants)...)
	add(intFields(dtConstants)...)
	add(intFields(sttConstants)...)
	add(intFields(stbConstants)...)
	add(intFields(pfConstants)...)
	add(module.F("segments", module.ArrayOf(module.StructOf(ints(
		"type", "flags", "offset", "virtual_address", "physical_address",
		"file_size", "memory_size", "alignment")...))))
	add(module.F("dynamic_section_entries", module.Int))
	add(module.F("dynamic", module.ArrayOf(module.StructOf(ints("type", "val")...))))
	add(module.F("symtab_entries", module.Int))
	add(module.F("symtab", module.ArrayOf(symbolType())))
	add(module.F("dynsym_entries", module.Int))
	add(module.F("dynsym", module.ArrayOf(symbolType())))
	return module.StructOf(fs...)
}
