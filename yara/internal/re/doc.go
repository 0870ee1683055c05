// Package re is Vigil's byte-oriented regular expression engine for YARA
// regexes and hex strings.
//
// Go's regexp works on UTF-8 runes; YARA patterns match arbitrary bytes, so
// this package has its own pipeline, one file per stage:
//
//	parse.go    YARA regex syntax → Node (Parse, Literal)
//	hex.go      hex string AST (vigil/yara/syntax) → Node (FromHex)
//	compile.go  Node + CompileOptions (nocase, wide) → Prog (Compile)
//	vm.go       Pike VM: Prog.MatchAt (anchored, for scanning) and Prog.Find
//	            (unanchored, for the `matches` operator)
//	atoms.go    literal atoms for the multi-pattern prefilter (Prog.Atoms)
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
//     large"); a quantifier with nothing to repeat or after another
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
// yara reports a match at every offset where the pattern matches starting
// there; the caller runs MatchAt at each candidate offset. The length
// MatchAt reports is the leftmost-first (Perl-like) one: alternatives in
// order, greedy quantifiers as long as possible, lazy ones as short as
// possible. Three rules adjust it to yara:
//
//   - An empty match is no match: /b?/ on "bab" matches at 0 and 2 only,
//     /a*?/ never matches.
//   - A hex string reports the first match in input order (the shortest):
//     { 61 ( 62 63 | 62 ) } on "abc" is 61 62, as yara reports it. This
//     is closer to yara than leftmost-first (on 3000 random hex string
//     and input pairs: 5 differences instead of 26) but not exact: { 62 63 63 ( 63 6? | 63 ) } on
//     "bcccacca" is 5 bytes in yara, 4 here.
//   - A match never extends more than ScanLimit (4096) bytes from its
//     start; $ still means the end of the whole data, so /ba+$/ cannot
//     match when the run of a's is 4096 bytes or longer.
//
// Find follows yara's `matches`: only the first ScanLimit bytes of the
// subject are searched, empty matches count ("xy" matches /a*/), and an
// empty subject never matches.
//
// Known differences from yara, all from yara checking a match from its
// atom (forward, then backward) rather than from the start, so that the
// result depends on which atom yara picked:
//
//   - A pattern that starts with an optional item (X?, X??, X{0,n}) and
//     whose required part yields no good atom: yara takes its atom from
//     the optional item and so treats the item as required. /a?c{0,2}/ on
//     "c", /a?b?/ on "b" and /b?./ on "x" match nothing in yara (we report
//     "c", "b" and "x"); /a??/ on "a" and /c??.+?/ on "cc" are "a" and
//     "cc" in yara, here no match and "c". /a?c/ on "c" agrees.
//   - Patterns with alternatives: yara verifies each alternative's atom
//     separately; for a greedy regex it keeps the longest length found at
//     an offset, for a hex string the first. Example: /\b(\w(b|a$c)|b|
//     a{0,2}(.?|bc).+a)./ on "cb a c" is 5 bytes at 0 in yara, 3 (the
//     leftmost-first match "cb ") here; { 63 [0-2] ( 63 ?? 62 | ?? ) 62 }
//     on "cbcbbbab" is 6 bytes at 0 in yara, 4 here.
//   - /(a{1000}){1000}/: yara uses counter instructions for big repeats;
//     we unroll and reject programs over maxInsts (1<<17) instructions
//     ("regular expression too large").
//   - yara fails a scan with error 46 (too many regex fibers) on some
//     complex patterns; we always answer (see # Security for the cost).
//
// TestDiffRegex, TestDiffRegexModifiers and TestDiffHex measure the rate
// of such differences on random patterns over a small alphabet (about
// 0.5% of (pattern, input) pairs; the tests fail above 2%; run with -re.v
// to see them, -re.n to run more). TestDiffFind (the `matches`
// operator) and TestDiffSyntax (which patterns are accepted) show no
// difference.
//
// Chained patterns: yara splits a hex string at top-level jumps over
// ChainThreshold (200) bytes, and a regex at top-level lazy `.{n,}?` /
// `.{n,m}?` with a bound over 200, into pieces matched separately; the
// gap is then any bytes (even \n without /s: /a.{1,}?b/ matches "a\nb"
// in yara) and may exceed ScanLimit. A single Prog cannot express that:
// Chain (and HexChain) split a Node the same way, and the rule compiler
// matches the pieces and checks the gaps.
//
// # Security
//
// Patterns and data are hostile. Matching is a Pike VM: every step visits
// each instruction at most once, so MatchAt costs O(len(prog) × ScanLimit)
// and Find O(len(prog) × min(len(data), ScanLimit)) whatever the input
// (TestLinear checks step counts on (a*)*b and friends). Prog.Size lets
// the rule compiler warn about or refuse patterns whose Size makes that
// bound large. The parser
// bounds group nesting (maxNesting) and repeat counts (MaxRepeat); the
// compiler bounds program size (maxInsts) before allocating it; atom
// selection bounds atom length and alternatives. Errors carry the offset
// in the pattern; nothing panics on bad input (FuzzParse, FuzzMatch).
// A Prog is immutable and safe for concurrent use; per-match scratch
// space comes from a sync.Pool.
package re
