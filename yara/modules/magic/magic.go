// Package magic implements yara's "magic" module: magic.type() and
// magic.mime_type() describe the scanned data the way libmagic (the engine
// of file(1)) does, without libmagic: the detector here is written in Go and
// knows only the formats most common on disks and in malware triage.
//
// yara 4.2.3 calls libmagic's magic_buffer on its first memory block (the
// whole file), with flags 0 for type() and MAGIC_MIME_TYPE for
// mime_type(), caches each result until the module is unloaded at the end
// of the scan, and returns undefined when there is no data: both functions
// are undefined for an empty file here too. The detection is computed once
// per scan, on first use, and kept in module.Context.Cache. (yara also
// returns undefined when scanning a process's memory; module.Context has
// no such notion, so this package cannot.)
//
// # Bounds
//
// Only the first maxRead bytes (7 MiB, libmagic's default "bytes" parameter)
// are ever looked at, and text classification looks at the first
// maxEncoding bytes (64 KiB, libmagic's "encoding" parameter) after trailing
// NUL bytes are dropped, as libmagic does. Work is linear in that prefix.
//
// # Differences from libmagic
//
// libmagic interprets a database of several thousand magic entries ordered
// by a computed strength; this package hard-codes a few dozen of them in an
// order read off that database, so results can differ:
//
//   - Unknown formats. Binary formats not listed below come out as "data"
//     (application/octet-stream) where libmagic may know them (audio,
//     video, icons, OpenPGP keys, DER certificates, databases, disk
//     images...). Text kinds not listed come out as the plain encoding
//     ("ASCII text", text/plain) where libmagic may say "Lisp/Scheme
//     program", "Java source", "M4 macro processor script", "X pixmap
//     image" and so on.
//   - Executables. ELF: class, byte order, type, the machine for about
//     twenty-five architectures (others print as "*unknown arch 0x..*"),
//     ARM EABI, MIPS ISA level, PowerPC64 ABI, RISC-V RVC and float ABI,
//     version and OS/ABI. Like yara's libmagic call (a buffer, no file
//     descriptor) there are no interpreter, BuildID or stripped details, and
//     PIE executables are "shared object". PE32/PE32+: DLL, subsystem,
//     machine, Mono/.Net, "for MS Windows", section count; no
//     self-extractor or packer detection (UPX, NSIS...). MS-DOS
//     executables without a PE header get a generic wording that was not
//     checked against every DOS variant. Mach-O: thin files with CPU, file
//     type and flags; universal binaries only give the architecture count,
//     not libmagic's per-architecture list.
//   - Archives and images: gzip (name, date, compression level, OS), bzip2,
//     xz, zstd (no dictionary ID), zip (version and method; jar only when
//     the first entry is META-INF/ with the 0xcafe marker; OOXML and most
//     ODF documents come out as zip), 7-zip, RAR, tar (checksum verified,
//     GNU/POSIX/old), ar, Debian packages (format only), PDF (version and
//     the first /Count found), PNG, GIF, JPEG (JFIF header and first frame;
//     no Exif details), TrueType (tables and first tag, not the names
//     summary), SQLite 3 (header fields; application IDs are not named),
//     OLE2 (generic wording, libmagic parses the property sets).
//   - Others: compiled Python 3.7+ (.pyc), GNU gettext catalogs, compiled
//     terminfo, timezone data, Java class files.
//   - Text. The encoding (ASCII, UTF-8 with or without BOM, ISO-8859,
//     Non-ISO extended-ASCII, UTF-16 with BOM) and the line-terminator,
//     long-line, escape and overstriking suffixes follow libmagic's rules;
//     EBCDIC and UTF-16/32 without BOM are not recognized. Text kinds:
//     shebang scripts (about forty interpreter paths, the Perl regex, and
//     libmagic's "a <interpreter> script" fallback), JSON objects and arrays
//     (NDJSON and CSV are not recognized), XML, SVG, HTML, PEM armour,
//     PostScript documents, unified diffs, DOS batch files, troff, mail,
//     libtool, LaTeX, and C, C++, Python, Perl, JavaScript, Ruby, PHP,
//     assembler and makefile sources by a subset of libmagic's own
//     patterns. When several of libmagic's text patterns match, its
//     strength order decides; ours is an approximation, so mixed files
//     (a Python file with JavaScript in a string, an awk script with HTML)
//     may be named differently.
package magic

import (
	"vigil/yara/module"
)

// cacheKey is the key under which Load stores results in Context.Cache.
type cacheKey struct{}

// result is one detection.
type result struct {
	typ, mime string
}

// Module returns the magic module.
func Module() *module.Module {
	return &module.Module{
		Name: "magic",
		Type: module.StructOf(
			module.F("mime_type", module.FuncOf(&module.Func{Result: module.KindString, Impl: mimeType})),
			module.F("type", module.FuncOf(&module.Func{Result: module.KindString, Impl: typeFunc})),
		),
		Load: func(*module.Context) (*module.Struct, error) {
			return module.NewStruct(), nil
		},
	}
}

// detectCached returns the detection for the scan's data, computing it once
// per scan.
func detectCached(c *module.Context) (result, bool) {
	if len(c.Data) == 0 {
		return result{}, false
	}
	if c.Cache != nil {
		if r, ok := c.Cache[cacheKey{}].(result); ok {
			return r, true
		}
	}
	r := detect(c.Data)
	if c.Cache != nil {
		c.Cache[cacheKey{}] = r
	}
	return r, true
}

func typeFunc(c *module.Context, _ []module.Value) module.Value {
	r, ok := detectCached(c)
	if !ok {
		return nil
	}
	return r.typ
}

func mimeType(c *module.Context, _ []module.Value) module.Value {
	r, ok := detectCached(c)
	if !ok {
		return nil
	}
	return r.mime
}
