// Package lint classifies YARA rule sets as code search or document search,
// for the transparency log: a hunt whose rules look for words in people's
// documents needs more approvals than one looking for malware, and agents
// may refuse it. `vigil check --lint` prints its verdicts.
//
// # Classes
//
// Code is code or binary search: hex patterns, byte-level regular
// expressions, code-like text (API names, paths, URLs, command lines,
// mutexes), executable structure (MZ/ELF/Mach-O headers, the pe, elf,
// macho, dotnet modules, entrypoint).
//
// Document is keyword or document search: the rule can match on plain
// words or phrases with no binary pattern and no executable structure, or
// it targets document files (PDF, Office, RTF, mail) without needing code
// evidence.
//
// A rule set is Document when any of its public (non-private) rules is:
// a single keyword rule cannot hide in a large malware rule set. Private
// rules are not counted on their own, since they cannot report a match, but
// a public rule that uses one (by name or `any of (rules)`) inherits what
// it searches for. Global rules are folded into every rule of the set,
// since they constrain all of them: a keyword global rule turns
// `condition: true` into a keyword search. All files given to Classify
// are one namespace.
//
// # How a rule is judged
//
// Each string is classified on its own:
//
//   - Text strings: bytes outside printable text, code markers (the DOS
//     stub message), characters typical of code, paths and URLs
//     (\ / _ { } [ ] < > = | $ ^ ~ * # & ; ` @), printf formats, call
//     syntax, dotted names (cmd.exe, evil.com), tokens mixing letters and
//     digits (kernel32), camelCase (unless nocase, which gives up case),
//     command-line options, program names (vssadmin, powershell) make a
//     string code. Letters and spaces with prose punctuation, in any
//     script, make it plain words; an e-mail address counts as words (it
//     names a person). Document markers (%PDF, PDF object structure, the
//     OLE header, word/document.xml, [Content_Types].xml, mail headers...)
//     make it a document marker. Other code signs: file extensions
//     (".exe"), PowerShell command names (Invoke-X), IP addresses, words
//     joined by punctuation without spaces ("a,b" "x::y" "\"k\":"),
//     strings opening like a command or source line ("echo ...",
//     "class X:"). Strings with fewer than three letters, or
//     mostly digits and symbols, are too weak to count either way.
//     base64 modifiers keep words words (mail attachments are base64); xor
//     ranges that exclude key 0 never match plain text and do not count.
//   - Hex strings are decoded: when every fixed byte is text (ASCII or
//     UTF-16LE, alternations read through their first branch, jumps and
//     wildcards as breaks), they are judged as that text, so spelling a
//     word in hex does not hide it. Other hex strings are binary patterns
//     when they have at least four fixed bytes of more than one value;
//     shorter or one-value patterns ({ 00 00 00 00 }) are too weak to
//     count. Hex holding a document header (OLE, %PDF) targets
//     documents; the zip header counts neither way (zip files are Office
//     documents, but also JAR, APK...).
//   - Regular expressions with byte escapes outside text are binary;
//     otherwise their literal text (classes and quantifiers as breaks,
//     \s as a space) is judged like a text string.
//
// The condition is then reduced to the set of ways it can be true, each
// noting whether it needs code evidence, words, or a document type (see
// paths.go). `and` combines, `or` and `n of` offer alternatives (so an
// optional hex string or an `or`-ed header check does not count), `not`
// is pushed inward (absence of a string is not evidence; `not not $a` is
// $a), `#a == 0` needs nothing, `for` loops and rule references are
// followed. Header checks `uintN(off) == K` are compared with known magic
// numbers: executable headers (MZ, PE, ELF, Mach-O, DEX, wasm, #!) and
// reads at offsets read from the file are code; document headers (%PDF,
// OLE, RTF, PST, mail) target documents; other non-text multi-byte values
// are code; the zip header, one-byte and text-valued checks do not count. `!=`
// checks and filesize limits restrict nothing about the file type and do
// not count. The magic module and file-name variables (filename, ...)
// compared with document types (application/pdf, \.docx$) target
// documents; with executable types they are code.
//
// The rule is Document when some way to match needs words or a document
// type and no code evidence; the reasons name the strings and checks of
// that way, and say when binary evidence was only optional or when a
// filesize limit was not counted. Otherwise it is Code, and the reasons
// show what code evidence every way needs.
//
// # Disguises caught
//
// Tested in lint_test.go (testdata/disguised_rules.yar): a filesize bound;
// a strong hex string that is only one alternative of `any of them` or of
// `n of them`; a header check or entrypoint check that is `or`-ed or
// negated; `pe.is_pe or true`; words spelled in hex, with case
// alternations, jumps or in UTF-16; a required hex string of one repeated
// byte; double negation; `#a > 0`; `for any of`; camelCase under nocase;
// a zip header written in hex; required PDF structure strings
// (/Type /Catalog, endobj); a keyword global rule over `condition: true`;
// a private keyword rule used by a public one.
//
// # Disguises and searches not caught (honest list)
//
// Pinned in testdata/known_misses.yar, classified Code:
//
//   - A keyword combined (with `and`) with a binary pattern that the
//     target documents happen to contain: any arbitrary required binary
//     pattern of 4+ bytes counts as code evidence. Such a rule only
//     matches files holding that pattern, but a clever author can pick a
//     pattern common to a document template.
//   - Code names that look like identifiers: "NF2024" (letters and
//     digits), "NightFall" without nocase (camelCase), names with
//     underscores or dots.
//   - Searches for a path or file name ("C:\Users\bob\Documents\...").
//   - Looking for one exact file by hash (hash.md5(0, filesize) == ...):
//     no words and no type, so Code.
//   - Personal-data patterns without words (card or ID numbers as
//     regular expressions).
//
// Also: document headers not in the tables (ODF, EPUB, images of scanned
// documents...) are not recognised; a keyword search inside executables
// (`uint16(0) == 0x5A4D and "Operation Nightfall"`) is Code by design;
// ransom-note rules made only of plain phrases, with no executable check,
// are Document by design (they are word searches); so are rules for
// credentials in text such as "BEGIN PRIVATE KEY", and tool or webshell
// rules that match only on the tool's plain-English messages ("Unable to
// connect to"), since a document quoting them matches too. A condition too large to analyse within a fixed work budget is
// classified Document, to be safe, and says so.
package lint
