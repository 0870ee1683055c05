// Package syntax parses YARA rule source (the yara 4.2.3 language, plus
// yara 4.3's negated hex bytes `~XX`) into an abstract syntax tree.
//
// Parse turns one file into a *File: imports, includes and rules in source
// order. It does not read included files and gives no meaning to names:
// both are the compiler's job. Errors come back as an ErrorList, each with
// a position, a stable code (see errors.go) and a message; the parser
// reports every broken rule of a file in one pass by resuming at the next
// `rule` keyword after an error.
//
// File.Dump and DumpExpr print a compact, deterministic form of the tree
// used by golden tests.
//
// # Security
//
// Rule files may come from untrusted sources. Parse never panics on any
// input, and its resource use is bounded: expression and hex alternation
// nesting is limited to maxDepth levels (deeper input is an error, not a
// stack overflow), at most maxErrors errors are collected, identifiers are
// limited to MaxIdentifierLength bytes, integer literals that overflow
// int64 are errors, and memory use is linear in the size of the input.
// The parser does no I/O.
package syntax
