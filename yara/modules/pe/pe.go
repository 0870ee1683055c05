package pe

import (
	"vigil/yara/module"
)

// Module returns the pe module.
func Module() *module.Module {
	return &module.Module{
		Name: "pe",
		Type: rootType(),
		Load: load,
	}
}

// fn declares one overload of a module function.
func fn(args string, result module.Kind, impl func(*module.Context, []module.Value) module.Value) *module.Func {
	return &module.Func{Args: args, Result: result, Impl: impl}
}

// rootType declares the module's data in the order of yara 4.2.3's
// begin_declarations block.
func rootType() *module.Type {
	var (
		i = module.Int
		s = module.String
		F = module.F
	)
	const ki, ks = module.KindInt, module.KindString
	fields := make([]*module.Field, 0, len(constants)+100)
	for _, c := range constants {
		fields = append(fields, F(c.name, i))
	}
	majorMinor := func() *module.Type { return module.StructOf(F("major", i), F("minor", i)) }
	importDetails := func(count string) *module.Type {
		return module.ArrayOf(module.StructOf(
			F("library_name", s),
			F(count, i),
			F("functions", module.ArrayOf(module.StructOf(F("name", s), F("ordinal", i)))),
		))
	}
	fields = append(fields,
		F("is_pe", i),
		F("machine", i),
		F("number_of_sections", i),
		F("timestamp", i),
		F("pointer_to_symbol_table", i),
		F("number_of_symbols", i),
		F("size_of_optional_header", i),
		F("characteristics", i),
		F("entry_point", i),
		F("entry_point_raw", i),
		F("image_base", i),
		F("number_of_rva_and_sizes", i),
		F("number_of_version_infos", i),
		F("version_info", module.DictOf(s)),
		F("version_info_list", module.ArrayOf(module.StructOf(F("key", s), F("value", s)))),
		F("opthdr_magic", i),
		F("size_of_code", i),
		F("size_of_initialized_data", i),
		F("size_of_uninitialized_data", i),
		F("base_of_code", i),
		F("base_of_data", i),
		F("section_alignment", i),
		F("file_alignment", i),
		F("linker_version", majorMinor()),
		F("os_version", majorMinor()),
		F("image_version", majorMinor()),
		F("subsystem_version", majorMinor()),
		F("win32_version_value", i),
		F("size_of_image", i),
		F("size_of_headers", i),
		F("checksum", i),
		F("calculate_checksum", module.FuncOf(fn("", ki, calculateChecksum))),
		F("subsystem", i),
		F("dll_characteristics", i),
		F("size_of_stack_reserve", i),
		F("size_of_stack_commit", i),
		F("size_of_heap_reserve", i),
		F("size_of_heap_commit", i),
		F("loader_flags", i),
		F("data_directories", module.ArrayOf(module.StructOf(F("virtual_address", i), F("size", i)))),
		F("sections", module.ArrayOf(module.StructOf(
			F("name", s),
			F("full_name", s),
			F("characteristics", i),
			F("virtual_address", i),
			F("virtual_size", i),
			F("raw_data_offset", i),
			F("raw_data_size", i),
			F("pointer_to_relocations", i),
			F("pointer_to_line_numbers", i),
			F("number_of_relocations", i),
			F("number_of_line_numbers", i),
		))),
		F("overlay", module.StructOf(F("offset", i), F("size", i))),
		F("rich_signature", module.StructOf(
			F("offset", i),
			F("length", i),
			F("key", i),
			F("raw_data", s),
			F("clear_data", s),
			F("version", module.FuncOf(fn("i", ki, richVersion), fn("ii", ki, richVersionToolid))),
			F("toolid", module.FuncOf(fn("i", ki, richToolid), fn("ii", ki, richToolidVersion))),
		)),
		F("imphash", module.FuncOf(fn("", ks, imphash))),
		F("IMPORT_DELAYED", i),
		F("IMPORT_STANDARD", i),
		F("IMPORT_ANY", i),
		F("section_index", module.FuncOf(fn("s", ki, sectionIndexName), fn("i", ki, sectionIndexAddr))),
		F("exports", module.FuncOf(fn("s", ki, exportsName), fn("r", ki, exportsRegexp), fn("i", ki, exportsOrdinal))),
		F("exports_index", module.FuncOf(fn("s", ki, exportsIndexName), fn("i", ki, exportsIndexOrdinal), fn("r", ki, exportsIndexRegexp))),
		F("imports", module.FuncOf(
			fn("ss", ki, importsStandard),
			fn("si", ki, importsStandardOrdinal),
			fn("s", ki, importsStandardDLL),
			fn("rr", ki, importsStandardRegexp),
			fn("iss", ki, importsFlags),
			fn("isi", ki, importsFlagsOrdinal),
			fn("is", ki, importsFlagsDLL),
			fn("irr", ki, importsFlagsRegexp),
		)),
		F("locale", module.FuncOf(fn("i", ki, locale))),
		F("language", module.FuncOf(fn("i", ki, language))),
		F("is_dll", module.FuncOf(fn("", ki, isDLL))),
		F("is_32bit", module.FuncOf(fn("", ki, is32bit))),
		F("is_64bit", module.FuncOf(fn("", ki, is64bit))),
		F("number_of_imports", i),
		F("number_of_imported_functions", i),
		F("number_of_delayed_imports", i),
		F("number_of_delayed_imported_functions", i),
		F("number_of_exports", i),
		F("dll_name", s),
		F("export_timestamp", i),
		F("export_details", module.ArrayOf(module.StructOf(
			F("offset", i),
			F("name", s),
			F("forward_name", s),
			F("ordinal", i),
		))),
		F("import_details", importDetails("number_of_functions")),
		// yara 4.2.3 declares this field with "number_of_function" but
		// never fills it (it writes to a misspelled path), so it is always
		// empty.
		F("delay_import_details", importDetails("number_of_function")),
		F("resource_timestamp", i),
		F("resource_version", majorMinor()),
		F("resources", module.ArrayOf(module.StructOf(
			F("rva", i),
			F("offset", i),
			F("length", i),
			F("type", i),
			F("id", i),
			F("language", i),
			F("type_string", s),
			F("name_string", s),
			F("language_string", s),
		))),
		F("number_of_resources", i),
		F("pdb_path", s),
		F("signatures", module.ArrayOf(module.StructOf(
			F("thumbprint", s),
			F("issuer", s),
			F("subject", s),
			F("version", i),
			F("algorithm", s),
			F("algorithm_oid", s),
			F("serial", s),
			F("not_before", i),
			F("not_after", i),
			F("valid_on", module.FuncOf(fn("i", ki, validOn))),
		))),
		F("number_of_signatures", i),
		F("rva_to_offset", module.FuncOf(fn("i", ki, rvaToOffset))),
	)
	return module.StructOf(fields...)
}

// cacheKey is the key under which Load leaves the parsed file in
// module.Context.Cache for the module's functions.
type cacheKey struct{}

// load is the module's Load function.
func load(c *module.Context) (*module.Struct, error) {
	f := parse(c.Data)
	if c.Cache != nil {
		c.Cache[cacheKey{}] = f
	}
	return f.root, nil
}

// fileOf returns the parsed file of a scan, parsing it if Load has not
// left it in the cache.
func fileOf(c *module.Context) *file {
	if c.Cache != nil {
		if f, ok := c.Cache[cacheKey{}].(*file); ok {
			return f
		}
	}
	f := parse(c.Data)
	if c.Cache != nil {
		c.Cache[cacheKey{}] = f
	}
	return f
}
