// Package pe implements yara's "pe" module as yara 4.2.3 has it: the
// headers, sections, data directories, overlay, Rich header, resources and
// version information, imports (standard and delayed), exports, debug
// (PDB path) and Authenticode signatures of a Portable Executable, and the
// module's functions (imports, exports, section_index, imphash,
// rva_to_offset, calculate_checksum, locale, language, rich_signature
// version/toolid, is_dll, is_32bit, is_64bit).
//
// The data follows yara field for field, including the places where yara
// 4.2.3 is surprising: import_details[k].functions continues the numbering
// of the DLLs before it (and number_of_functions counts them too),
// delay_import_details is never filled, is_dll() returns 0x2000 rather
// than 1, exports(ordinal) ignores ordinals above the number of exports,
// and certificate names are formatted as OpenSSL's X509_NAME_oneline does.
// Signatures are decoded as strictly as OpenSSL 3 decodes them (yara 4.2.3
// hands them to d2i_PKCS7), since a signature OpenSSL rejects gives no
// certificate at all.
//
// Known differences from yara 4.2.3:
//   - imports(/dll/, /function/) counts a name whose only regexp matches
//     end at offset 0 (as /^/ does); yara does not, and module.Regexp
//     cannot tell such matches apart;
//   - on hostile files, the bounds described under Security.
//
// # Security
//
// The scanned data is hostile. The package reads it through bounds-checked
// accessors and never slices it without a check; counts read from the file
// are bounded by yara's limits (96 sections, 16384 imports, 8192 exports,
// 65536 resources, 16 signatures) before anything is allocated from them,
// and two bounds of our own stop walks on which yara would spend unbounded
// time (resource directory entries visited, delay-imported functions).
// Searches for the end of a DLL name or a UTF-16 string, which yara
// repeats from every descriptor or version string, use a block index
// (scan.go) so that they take linear time overall. A malformed file yields
// partial data as in yara, never a panic or error.
package pe
