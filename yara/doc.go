// Package yara compiles YARA rules and scans data with them, matching the
// behaviour of yara 4.2.3 (same rules match, same string offsets).
//
// The API is shaped like package regexp:
//
//	rules, err := yara.Compile(`rule r { strings: $a = "evil" condition: $a }`)
//	s := rules.NewScanner()
//	res, err := s.ScanBytes(ctx, data)
//	for _, m := range res.Matching { ... }
//
// A Compiler adds several sources (AddSource, AddFile) into namespaces, with
// external variables (DefineVariable); Diagnostics lists every error and
// warning with a stable code (E1xx from the parser, E2xx and W2xx from the
// compiler; see diag.go). Rules is immutable and safe for concurrent use; a
// Scanner belongs to one goroutine and keeps its buffers between scans.
// Rules.Save and Load store a rule set in a versioned format (magic line,
// version, then the canonical sources, included files and externals, which
// Load compiles again without touching the file system). A program that
// only scans can drop the sources (Compiler.DiscardSources, LoadDiscard):
// Save then returns ErrNoSources. ScanOptions.Profile measures what each
// rule costs (Scanner.Profile, MergeProfiles, SlowestRules).
//
// # Pipeline
//
// Sources are parsed by package syntax. The compiler (compile_*.go) checks
// every rule, expands each string into concrete variants (ASCII and wide
// forms, one literal per xor key, the three base64 alignments, one compiled
// program per regex or hex form; hex strings with jumps over 200 bytes are
// split into chained pieces as yara does), and compiles each condition to
// typed Go closures with yara's undefined-value semantics. Short atoms of
// every variant (at most 4 bytes for literals, chosen with yara's atom
// quality heuristic; from re.Prog.Atoms for regexes) go into one
// Aho-Corasick automaton. A scan makes one pass over the data with it,
// verifies each candidate (literal compare or an anchored regex run at each
// possible start), and then evaluates the conditions in declaration order.
// A rule whose condition cannot hold without one of its strings matching is
// not evaluated when none matched. Modules are loaded lazily, at most once
// per scan, when a condition first touches them; with
// ScanOptions.CollectModuleData every imported module is loaded, in import
// order, before any condition runs (as yara always does), and
// Result.Modules holds their data for module.Dump (yara -D).
//
// # Security
//
// Rule sources and scanned data are both treated as hostile. Parsing and
// compiling are bounded (expression depth, loop nesting, include depth and
// cycles, include file size, patterns per string). Matching is linear in
// the data for each verification (the regex engine has no backtracking and
// stops at re.ScanLimit bytes per match), the number of matches recorded per
// string is capped (ScanOptions.MaxMatchesPerString, yara's 1,000,000),
// match data kept per match is capped at MaxMatchData bytes, and every scan
// honours its context and ScanOptions.Timeout: matching checks for
// cancellation every MiB of input, condition loops every few thousand
// iterations. Reads past the end of the data (uint32(x) and friends) are
// undefined, never a panic. ScanReader reads at most 4 GiB. Load never
// reads files: includes are restored from the saved rule set.
//
// ScanFile maps regular files into memory read-only (Linux, macOS, BSDs)
// and unmaps them before it returns; nothing in a Result refers to the
// mapping (match data, console messages and module data are copies). If
// the file shrinks while it is scanned (another process truncates it),
// reading the vanished pages raises SIGBUS, which crashes yara; Vigil turns
// the fault into ErrMappedFault for that file (runtime/debug.SetPanicOnFault
// on the scanning goroutine), but a file that changes during the scan may
// give results matching neither its old nor its new content. Scan copies
// (or use ScanBytes) when files may be rewritten under the scanner.
//
// # yara 4.2.3 semantics that may surprise
//
// Vigil reproduces these on purpose (each is checked against yara in the
// tests):
//
//   - `and`/`or` treat undefined as false and are always defined; `not` of
//     undefined is undefined; comparisons and arithmetic with an undefined
//     operand are undefined, except float `<`, which is a defined false.
//   - Loops (`for ... in`, `for ... of`) count true bodies and compare the
//     count with the quantity: `for none ...` and `for 0 ...` are true as
//     soon as there is one iteration; a loop over nothing (empty array,
//     lo > hi, undefined bound) is false whatever the quantifier. For plain
//     `of`, `none` and `0 of` mean that no item is true.
//   - Sets count duplicates: `2 of ($a, $a)` holds when $a matched.
//   - Shifts by 64 or more give 0; by a negative count, undefined. Integer
//     arithmetic wraps; on constants, overflow and division by zero are
//     compile errors (also for `x % (y >> 64)`, which yara takes as 0).
//   - A literal string (text, or a hex string or regex with no wildcard,
//     class, group or quantifier) used only as `$a at N` with one constant
//     N is searched only at N, so other matches are not reported.
//   - Strings match at most 1,000,000 times (then a warning); match data is
//     capped at 512 bytes.
//
// # Differences from yara 4.2.3
//
// Known differences, each deliberate or a limitation:
//
//   - Modules: hash, math, time, console, elf, dotnet, pe and magic exist;
//     importing cuckoo is a compile error naming the module. magic is a
//     pure-Go detector, not libmagic: its answers agree with yara's on
//     about 99% of the files on a Debian system (the package documentation
//     of yara/modules/magic lists how they differ).
//     `entrypoint` is always undefined (with yara's deprecation warning).
//     No module takes extra data (yara's -x MODULE=FILE).
//   - INT64_MIN \ -1 crashes yara with SIGFPE; Vigil wraps (the result is
//     INT64_MIN) and INT64_MIN % -1 is 0. The constant form is reported as
//     an integer overflow at compile time.
//   - Match.Length is the real length of a match; yara's -L prints the
//     length of the kept data, which is capped at 512 bytes (MaxMatchData).
//     Conditions (!a[i]) see the real length in both.
//   - The "may slow down scanning" warning comes from the same atom choice
//     and scoring the matcher uses, which are yara's (it agrees with yara
//     on thousands of random hex and regex strings), except for base64
//     strings, which are scored on their encoded forms.
//   - Chained strings (hex jumps over 200 bytes, lazy regex gaps over
//     200): the reported chain is the one whose last piece is found first,
//     as yara does.
//   - Regex and hex strings are verified as yara 4.2.3 does: the same
//     atoms, a forward run from each atom and an exhaustive backward run,
//     the same merge of matches (see yara/internal/re). Known differences:
//     a pattern whose atoms expand to more than 262,144 is rejected as too
//     complex (yara accepts it), and yara hangs on some empty loops that
//     Vigil answers.
//   - Error and warning texts are Vigil's own (with yara's wording where it
//     helps); codes are stable, yara has none.
//   - Rules.Save does not write yara's compiled format: yarac files cannot
//     be loaded, and Vigil's files are not readable by yara.
//   - `for N% i in ...` (percent quantifiers over integer loops) is
//     rejected by yara 4.2.3 with a bogus "undefined identifier" error; it
//     is accepted or rejected by Vigil's parser, and when accepted means
//     what the YARA documentation says.
package yara
