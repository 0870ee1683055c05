// Package re is Vigil's byte-oriented regular expression engine for YARA
// regexes and hex strings.
//
// Go's regexp works on UTF-8 runes; YARA patterns match arbitrary bytes, so
// this package has its own pipeline, one file per stage:
//
//	parse.go    YARA regex syntax → Node (Parse, Literal)
//	hex.go      hex string AST (vigil/yara/syntax) → Node (FromHex)
//	compile.go  Node + CompileOptions (nocase, wide) → Prog (Compile)
//	vm.go       Pike VM: Prog.MatchAt (anchored, leftmost-first) and Prog.Find
//	            (unanchored, for the `matches` operator)
//	atoms.go    literal atoms with offset windows (Prog.Atoms)
//	ynode.go    the pattern as yara's syntax tree
//	yatoms.go   yara's atom choice (Prog.YaraAtoms)
//	yemit.go    yara's forward and backward code layout
//	yvm.go      yara's matcher (fibers), yfast.go its fast hex matcher
//	yfcode.go   the fast matcher's packed code (a uint16 per plain byte)
//	yscan.go    Prog.YaraVerify (one atom hit) and Prog.YaraScan
//	yreject.go  starts of patterns without atoms skipped when they cannot match
//
// # Semantics
//
// The reference is yara 4.2.3; every rule below was observed with
// `yara -s -L`, and the tests compare against /usr/bin/yara when present.
//
//   - Syntax: literals; escapes \n \t \r \f \a \xHH; any other escaped byte
//     is itself (\q is q, \/ is /), except \0-\9 ("backreferences are not
//     allowed") and a malformed \x ("illegal escape sequence"); \w \W \s \S
//     \d \D (\s includes \v); \b \B; classes with ranges, negation, `]`
//     first, `-` first or last; inside a class \b is 'b', and a class
//     escape at a range end stands for its letter ([\d-f] is d-f, [a-\d] is
//     a-d); `.` is any byte but \n unless /s; ^ and $ match only at the
//     start and the end of the data (not at line breaks); quantifiers * + ?
//     {n} {n,} {,m} {n,m} {,} and their lazy forms. A `{` that does not
//     start a well-formed repeat (no spaces allowed) is a literal.
//   - Rejected like yara: {n,m} with n > m and {0} / {0,0} ("bad repeat
//     interval"); counts above MaxRepeat = 32767 ("repeat interval too
//     large"); code with more than 128 splits, counting every copy yara
//     emits of a repeated item ("regular expression is too complex"); a quantifier with nothing to repeat or after another
//     quantifier; `()`; an empty first alternative (`|a`, `(|a)`; `a|` is
//     accepted); a pattern mixing greedy and lazy quantifiers ("greedy and
//     ungreedy quantifiers can't be mixed in a regular expression").
//   - Nocase is ASCII case folding, applied before negation: /[^a]/ nocase
//     matches neither a nor A.
//   - Wide: every byte a class or `.` matches is followed by 0x00. \b and
//     \B look at characters: the previous one is two bytes back, and a word
//     character is a word byte followed by 0x00.
//   - \b is true where less than one character (1 byte, 2 when wide) is
//     left before the position in the data or after it in the scanned
//     window; \B is false there.
//   - Hex strings: ?? and nibble masks are classes; a jump [n-m] is a lazy
//     repeat of any byte. Inside an alternation, unbounded jumps and jumps
//     over MaxAltJump (200) are rejected, as in yara.
//
// # Which match
//
// yara 4.2.3 does not try a pattern at every offset. It picks atoms (up
// to 4 bytes) from the pattern's syntax tree: runs of literal, masked
// and "any" nodes scored by a quality heuristic, an AND of the best atoms
// of both sides of every alternation, the best of the candidates
// otherwise, masked bytes expanded, then wide and case variants. Where an
// atom occurs at p, yara runs the pattern's code from the atom's node to
// the end (forwards, from p, at most ScanLimit bytes) and, unless the
// atom starts the pattern, the code before the node reversed (backwards
// from p, at most ScanLimit bytes, exhaustively): every backward match of
// b bytes gives a match at p-b of b plus the forward length. Without any
// atom the code runs from every offset, and an empty match is dropped.
// A later match at an offset already matched replaces the earlier one
// for a regex with greedy quantifiers; otherwise the first stays.
// `ascii wide` runs the ascii form first and the wide one only when the
// ascii one finds nothing.
//
// Prog.YaraVerify and Prog.YaraScan reproduce this: the same tree shape
// (binary alternations, the quantifier forms), the same atoms in the
// same order, the same code layout (counted loops, the entry points yara
// records) and the same matchers: yara's fiber machine (priority-ordered
// threads, a split taken once per advance, identical threads merged,
// counted loops with counters) and, for hex strings without
// alternatives, its fast matcher (the shortest forward match). Effects
// that follow, all checked with yara:
//
//   - An optional item at the start of a pattern without atoms is
//     required: yara enters X? at X, past the split. /a?c{0,2}/ on "c",
//     /a?b?/ on "b" and /b?./ on "x" match nothing; /a??/ on "a" is "a".
//   - The forward part is leftmost-first from the atom, so the length
//     depends on the atom: /c??.+?/ on "cc" is "cc" (atom c), and
//     { 62 63 63 ( 63 6? | 63 ) } on "bcccacca" is 5 bytes (hex strings
//     with alternatives are leftmost-first; without, shortest).
//   - Alternatives are verified per atom, a greedy regex keeping the last
//     length found at an offset: /\b(\w(b|a$c)|b|a{0,2}(.?|bc).+a)./ on
//     "cb a c" is 5 bytes at 0.
//   - A match extends at most ScanLimit bytes on each side of its atom;
//     $ means the end of the data.
//
// MatchAt (the leftmost-first match at one offset) is kept for tools and
// tests; the rule engine uses YaraVerify.
//
// Find follows yara's `matches`: only the first ScanLimit bytes of the
// subject are searched, empty matches count ("xy" matches /a*/), and an
// empty subject never matches.
//
// Known differences from yara:
//
//   - /(a{1000}){1000}/: yara uses counter instructions for big repeats;
//     Prog's Pike program unrolls them and is refused over maxInsts
//     (1<<17) instructions ("regular expression too large").
//   - A pattern whose atoms expand to more than 262144 (masked bytes,
//     case and wide variants, over all alternatives) is rejected ("too
//     complex"); yara accepts it and searches them all.
//
// TestDiffRegex, TestDiffRegexModifiers and TestDiffHex compare YaraScan
// with yara on random patterns over a small alphabet: no difference is
// allowed (run with -re.v to see them, -re.n to run more, -re.seed for
// other cases). TestDiffFind (the `matches` operator) and TestDiffSyntax
// (which patterns are accepted) show no difference either.
//
// Chained patterns: yara splits a hex string at top-level jumps over
// ChainThreshold (200) bytes, and a regex at top-level lazy `.{n,}?` /
// `.{n,m}?` with a bound over 200 (not at .*? or .+?), into pieces
// matched separately; the gap is then any bytes (even \n without /s:
// /a.{1,}?b/ matches "a\nb" in yara), in bytes even for wide strings,
// may exceed ScanLimit, and is at most 32767 for a regex's .{n,}?. A single Prog cannot express that:
// Chain (and HexChain) split a Node the same way, and the rule compiler
// matches the pieces and checks the gaps.
//
// # Security
//
// Patterns and data are hostile. MatchAt and Find run a Pike VM: every
// step visits each instruction at most once, so MatchAt costs
// O(len(prog) × ScanLimit) and Find O(len(prog) × min(len(data),
// ScanLimit)) whatever the input (TestLinear checks step counts on (a*)*b
// and friends). YaraVerify runs yara's machines over at most ScanLimit
// bytes each way; the fiber machine keeps at most MaxFibers (1024) live
// threads, as yara does, and fails with ErrTooManyFibers (yara's error
// 46, which fails yara's scan) beyond; merging identical threads costs
// up to MaxFibers² per byte. A verification is thus bounded by
// O(ScanLimit × MaxFibers × (MaxFibers + len(code))), linear in the data
// per atom hit. The fast hex matcher keeps at most one position per
// offset in its window. Prog.Size lets the rule compiler warn about or
// refuse patterns whose Size makes these bounds large. The parser
// bounds group nesting (maxNesting) and repeat counts (MaxRepeat); the
// compiler bounds program size (maxInsts) before allocating it; atom
// selection bounds atom length (4 bytes, so at most 65536 expansions of
// one atom). Errors carry the offset in the pattern; nothing panics on
// bad input (FuzzParse, FuzzMatch). A Prog is immutable and safe for
// concurrent use; per-match scratch space comes from sync.Pools.
package re
