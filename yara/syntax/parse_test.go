package syntax

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Conditions are parsed inside this template (so that yara, used as the
// oracle in TestOracle, accepts them); the test compares the dump of C.
const condTemplate = "import \"pe\"\nimport \"math\"\nrule r {\n strings: $a = \"a\" $b = \"b\"\n condition: any of them and (%s)\n}\n"

func condSource(c string) string { return strings.Replace(condTemplate, "%s", c, 1) }

var condTests = []struct {
	cond, dump string
}{
	// Literals and keywords.
	{`true`, `true`},
	{`1`, `1`},
	{`0x1F == 31`, `(== 31 31)`},
	{`0o17 == 15`, `(== 15 15)`},
	{`1KB == 1024`, `(== 1024 1024)`},
	{`2MB == 2097152`, `(== 2097152 2097152)`},
	{`1.5 > 1`, `(> 1.5 1)`},
	{`9223372036854775807 > 0`, `(> 9223372036854775807 0)`},
	{`filesize > 0 and entrypoint >= 0`, `(and (> filesize 0) (>= entrypoint 0))`},
	{`"a\n\t\r\\\"\x41" == "b"`, `(== "a\n\t\r\\\"A" "b")`},
	// Precedence, lowest to highest.
	{`true or false and false`, `(or true (and false false))`},
	{`not true and false`, `(and (not true) false)`},
	{`not not true`, `(not (not true))`},
	{`not defined pe.number_of_sections`, `(not (defined (. pe number_of_sections)))`},
	{`defined 1 or true`, `(or (defined 1) true)`},
	{`not 1 == 2`, `(not (== 1 2))`},
	{`1 + 2 * 3 == 7`, `(== (+ 1 (* 2 3)) 7)`},
	{`7 \ 2 % 2 == 1`, `(== (% (\ 7 2) 2) 1)`},
	{`10 - 3 - 2 == 5`, `(== (- (- 10 3) 2) 5)`},
	{`1 | 2 ^ 3 & 4 << 1 >> 1 == 1`, `(== (| 1 (^ 2 (& 3 (>> (<< 4 1) 1)))) 1)`},
	{`1 << 2 + 1 == 8`, `(== (<< 1 (+ 2 1)) 8)`},
	{`-1 < 0`, `(< (- 1) 0)`},
	{`- -1 == 1`, `(== (- (- 1)) 1)`},
	{`~0 == -1`, `(== (~ 0) (- 1))`},
	{`-2 * 3 == -6`, `(== (* (- 2) 3) (- 6))`},
	{`(1 + 2) * 3 == 9`, `(== (* (paren (+ 1 2)) 3) 9)`},
	{`(1 == 1) and ((true))`, `(and (paren (== 1 1)) (paren (paren true)))`},
	{`1 < 2 and 2 <= 2 and 3 > 2 and 3 >= 3 and 1 != 2`, `(and (and (and (and (< 1 2) (<= 2 2)) (> 3 2)) (>= 3 3)) (!= 1 2))`},
	// String operators.
	{`"abc" contains "b"`, `(contains "abc" "b")`},
	{`"abc" icontains "B" and "abc" startswith "a" and "abc" istartswith "A"`, `(and (and (icontains "abc" "B") (startswith "abc" "a")) (istartswith "abc" "A"))`},
	{`"abc" endswith "c" or "abc" iendswith "C" or "abc" iequals "ABC"`, `(or (or (endswith "abc" "c") (iendswith "abc" "C")) (iequals "abc" "ABC"))`},
	{`"abc" matches /a\/b[c]\d/is`, `(matches "abc" /a/b[c]\\d/is)`},
	{`"abc" matches /b/`, `(matches "abc" /b/)`},
	{`pe.exports(/^Dll/)`, `(call (. pe exports) /^Dll/)`},
	{`"abc" matches /b/s`, `(matches "abc" /b/s)`},
	// String references.
	{`$a`, `$a`},
	{`$a at 10 + 2`, `(at $a (+ 10 2))`},
	{`$a in (0..filesize - 1)`, `(in $a (range 0 (- filesize 1)))`},
	{`#a == 2`, `(== #a 2)`},
	{`#a in (0..100) == 1`, `(== (in #a (range 0 100)) 1)`},
	{`@a == 0 and @a[2] == 1`, `(and (== @a 0) (== (@a 2) 1))`},
	{`!a == 1 and !a[1 + 1] != 1`, `(and (== !a 1) (!= (!a (+ 1 1)) 1))`},
	// Identifiers, members, indexes, calls.
	{`pe.number_of_sections > 1`, `(> (. pe number_of_sections) 1)`},
	{`pe.sections[0].name == ".text"`, `(== (. (index (. pe sections) 0) name) ".text")`},
	{`pe.exports("x")`, `(call (. pe exports) "x")`},
	{`math.entropy(0, filesize) > 7.5`, `(> (call (. math entropy) 0 filesize) 7.5)`},
	{`pe.version_info["CompanyName"] == "x"`, `(== (index (. pe version_info) "CompanyName") "x")`},
	{`uint16(0) == 0x5A4D and int8(1) < 0 and uint32be(filesize - 4) != 0`, `(and (and (== (call uint16 0) 23117) (< (call int8 1) 0)) (!= (call uint32be (- filesize 4)) 0))`},
	{`int16be(0) == 0 or int32(0) == 0 or uint8be(0) == 0 or uint16be(0) == 0 or int8be(0) == 0 or int32be(0) == 0 or uint8(0) == 0 or uint32(0) == 0 or int16(0) == 0`,
		`(or (or (or (or (or (or (or (or (== (call int16be 0) 0) (== (call int32 0) 0)) (== (call uint8be 0) 0)) (== (call uint16be 0) 0)) (== (call int8be 0) 0)) (== (call int32be 0) 0)) (== (call uint8 0) 0)) (== (call uint32 0) 0)) (== (call int16 0) 0))`},
	// Of.
	{`all of them`, `(of all them)`},
	{`none of ($a)`, `(of none ($a))`},
	{`any of ($a, $b*, $*)`, `(of any ($a $b* $*))`},
	{`2 of them`, `(of 2 them)`},
	{`1 + 1 of them`, `(of (+ 1 1) them)`},
	{`50% of them`, `(of (% 50) them)`},
	{`10 % 3 == 1`, `(== (% 10 3) 1)`},
	{`any of them in (0..10)`, `(of any them (range 0 10))`},
	{`1 of ($a) in (0..filesize)`, `(of 1 ($a) (range 0 filesize))`},
	{`not any of them`, `(not (of any them))`},
	// For.
	{`for any of ($a, $b) : ($ at 0)`, `(for any of ($a $b) (at $ 0))`},
	{`for all of them : (# > 0 and @ >= 0 and ! > 0 and @[1] >= 0 and ![1] > 0)`, `(for all of them (and (and (and (and (> # 0) (>= @ 0)) (> ! 0)) (>= (@ 1) 0)) (> (! 1) 0)))`},
	{`for 1 of them : ($)`, `(for 1 of them $)`},
	{`for all i in (1..3) : (i > 0)`, `(for all (vars i) in (range 1 3) (> i 0))`},
	{`for any i in (1, 2, 3) : (i == 2)`, `(for any (vars i) in (enum 1 2 3) (== i 2))`},
	{`for any i in (1) : (i == 1)`, `(for any (vars i) in (enum 1) (== i 1))`},
	{`for 2 i in (1, 2 + 1) : (true)`, `(for 2 (vars i) in (enum 1 (+ 2 1)) true)`},
	{`for none s in pe.sections : (s.name == "x")`, `(for none (vars s) in (. pe sections) (== (. s name) "x"))`},
	{`for any k, v in pe.version_info : (k == "a" and v == "b")`, `(for any (vars k v) in (. pe version_info) (and (== k "a") (== v "b")))`},
	{`for any i in (0..#a) : (@a[i] > 0)`, `(for any (vars i) in (range 0 #a) (> (@a i) 0))`},
}

func TestParseCond(t *testing.T) {
	for _, tt := range condTests {
		if tt.dump == "" {
			continue // oracle-only: checked by TestOracle
		}
		f, err := Parse("t.yar", []byte(condSource(tt.cond)))
		if err != nil {
			t.Errorf("%s: %v", tt.cond, err)
			continue
		}
		r := f.Decls[len(f.Decls)-1].(*Rule)
		got := DumpExpr(r.Condition.(*Binary).Y.(*Paren).X)
		if got != tt.dump {
			t.Errorf("%s:\n got %s\nwant %s", tt.cond, got, tt.dump)
		}
	}
}

var fileTests = []struct {
	src, dump string
	notYara   bool // uses a yara 4.3 feature that the 4.2.3 oracle rejects
}{
	{src: `import "pe" include "x/y.yar"`, dump: "(import \"pe\")\n(include \"x/y.yar\")\n", notYara: true},
	{src: `rule a { condition: true }`, dump: "(rule a (cond true))\n"},
	{src: `rule a{condition:true}rule b{condition:false}`, dump: "(rule a (cond true))\n(rule b (cond false))\n"},
	{src: "private global private rule a : t1 T_2 { condition: true }", dump: "(rule private global a (tags t1 T_2) (cond true))\n"},
	{src: "global rule a { condition: true } private rule b { condition: a }", dump: "(rule global a (cond true))\n(rule private b (cond a))\n"},
	{src: `rule a { meta: s = "x\"\\\n\x41" i = 5 n = -5 h = -0x10 k = 1KB t = true f = false condition: true }`,
		dump: "(rule a (meta (s \"x\\\"\\\\\\nA\") (i 5) (n -5) (h -16) (k 1024) (t true) (f false)) (cond true))\n"},
	{src: `rule a { strings: $a = "x" nocase ascii wide fullword private condition: $a }`,
		dump: "(rule a (strings ($a text \"x\" nocase ascii wide fullword private)) (cond $a))\n"},
	{src: `rule a { strings: $a = "xyz" xor $b = "xyz" xor(3) $c = "xyz" xor(1-255) condition: all of them }`,
		dump: "(rule a (strings ($a text \"xyz\" xor(0-255)) ($b text \"xyz\" xor(3-3)) ($c text \"xyz\" xor(1-255))) (cond (of all them)))\n"},
	{src: `rule a { strings: $a = "xyz" base64 $b = "xyz" base64wide $c = "xyz" base64("!@#$%^&*(){}[].,|ABCDEFGHIJ\x09LMNOPQRSTUVWXYZabcdefghijklmnopqrstu") condition: all of them }`,
		dump: "(rule a (strings ($a text \"xyz\" base64) ($b text \"xyz\" base64wide) ($c text \"xyz\" base64(\"!@#$%^&*(){}[].,|ABCDEFGHIJ\\tLMNOPQRSTUVWXYZabcdefghijklmnopqrstu\"))) (cond (of all them)))\n"},
	{src: `rule a { strings: $a = "xyz" base64wide("!@#$%^&*(){}[].,|ABCDEFGHIJ\x09LMNOPQRSTUVWXYZabcdefghijklmnopqrstu") condition: $a }`,
		dump: "(rule a (strings ($a text \"xyz\" base64wide(\"!@#$%^&*(){}[].,|ABCDEFGHIJ\\tLMNOPQRSTUVWXYZabcdefghijklmnopqrstu\"))) (cond $a))\n"},
	{src: "rule a { strings: $a = { 4D 5a ?? 5? ?A [2] [0-4] [3-] [-] 00 } condition: $a }",
		dump: "(rule a (strings ($a hex {4D 5A ?? 5? ?A [2] [0-4] [3-] [0-] 00})) (cond $a))\n"},
	{src: "rule a { strings: $a = { 4D ( 5A | 00 [1-200] 11 | (22 | 33 ?4) ) 00 } condition: $a }",
		dump: "(rule a (strings ($a hex {4D (5A | 00 [1-200] 11 | (22 | 33 ?4)) 00})) (cond $a))\n"},
	{src: "rule a { strings: $a = {4D// c\n5A/* { } [ */00} private condition: $a }",
		dump: "(rule a (strings ($a hex {4D 5A 00} private)) (cond $a))\n"},
	{src: "rule a { strings: $a = { 4D ~5A ~?1 ~1? } condition: $a }",
		dump: "(rule a (strings ($a hex {4D ~5A ~?1 ~1?})) (cond $a))\n", notYara: true},
	{src: `rule a { strings: $a = /ab\/c/ $b = /x/i nocase wide ascii fullword private $c = /y/is condition: all of them }`,
		dump: "(rule a (strings ($a regex /ab/c/) ($b regex /x/i nocase ascii wide fullword private) ($c regex /y/is)) (cond (of all them)))\n"},
	{src: "rule a { strings: $" + strings.Repeat("b", 300) + " = \"x\" condition: all of them }",
		dump: "(rule a (strings ($" + strings.Repeat("b", 300) + " text \"x\")) (cond (of all them)))\n"},
	{src: `rule a { strings: $a = "x" xor ( 1 - 2 ) $b = { 4D [ 1 - 2 ]5A } condition: all of them }`,
		dump: "(rule a (strings ($a text \"x\" xor(1-2)) ($b hex {4D [1-2] 5A})) (cond (of all them)))\n"},
	{src: `rule a { strings: $ = "x" $ = "y" condition: all of them }`,
		dump: "(rule a (strings ($ text \"x\") ($ text \"y\")) (cond (of all them)))\n"},
	{src: `rule b { condition: true } rule c1 { condition: true } rule a { condition: 1 of (b, c*) and all of (b) }`,
		dump: "(rule b (cond true))\n(rule c1 (cond true))\n(rule a (cond (and (of 1 (rules b c*)) (of all (rules b)))))\n"},
	{src: "// only a comment\n/* and another\n*/", dump: ""},
	{src: "rule a { condition: true } /* unterminated comment at end", dump: "(rule a (cond true))\n"},
	{src: "rule " + strings.Repeat("a", 128) + " { condition: true }", dump: "(rule " + strings.Repeat("a", 128) + " (cond true))\n"},
}

func TestParseFile(t *testing.T) {
	for _, tt := range fileTests {
		f, err := Parse("t.yar", []byte(tt.src))
		if err != nil {
			t.Errorf("%q: %v", tt.src, err)
			continue
		}
		if got := f.Dump(); got != tt.dump {
			t.Errorf("%q:\n got %s\nwant %s", tt.src, got, tt.dump)
		}
	}
}

// errorTests are inputs yara 4.2.3 rejects. pos is "line:col" of the first
// error; yara itself only reports lines.
var errorTests = []struct {
	src, code, pos string
}{
	{"rule a { condition: 1 == }", CodeUnexpected, "1:26"},
	{"rule a { condition: }", CodeUnexpected, "1:21"},
	{"rule a { }", CodeUnexpected, "1:10"},
	{"rule a { condition: true", CodeUnexpected, "1:25"},
	{"rule { condition: true }", CodeUnexpected, "1:6"},
	{"rule a : { condition: true }", CodeUnexpected, "1:10"},
	{"rule rule { condition: true }", CodeUnexpected, "1:6"},
	{"rule uint8 { condition: true }", CodeUnexpected, "1:6"},
	{"rule a { condition: true } x", CodeUnexpected, "1:28"},
	{"import pe", CodeUnexpected, "1:8"},
	{"rule a { condition: 1 == 1 == true }", CodeUnexpected, "1:28"},
	{"rule a { condition: 1 < 2 < 3 }", CodeUnexpected, "1:27"},
	{"rule a { condition: true == true }", CodeUnexpected, "1:26"},
	{"rule a { condition: (1 == 1) + 2 }", CodeUnexpected, "1:30"},
	{"rule a { condition: 1 + (1 == 1) > 0 }", CodeUnexpected, "1:25"},
	{"rule a { condition: 1. > 1 }", CodeUnexpected, "1:22"},
	{"rule a { condition: 1.5KB > 1 }", CodeUnexpected, "1:24"},
	{"rule a { strings: $a = \"x\" condition: $a at 1 == 1 }", CodeUnexpected, "1:47"},
	{"rule a { strings: $a = \"x\" condition: any of them == true }", CodeUnexpected, "1:51"},
	{"rule a { strings: $a = \"x\" condition: #a in (0..1) in (0..2) }", CodeUnexpected, "1:52"},
	{"rule a { strings: $a = \"x\" condition: $a at 0 at 1 }", CodeUnexpected, "1:47"},
	{"rule a { condition: for any i in (1..3) : i > 0 }", CodeUnexpected, "1:43"},
	{"rule a { condition: (\"a\" == \"a\") == true }", CodeUnexpected, "1:34"},
	{"rule a { condition: 0x10KB > 1 }", CodeUnexpected, "1:25"},
	{"rule a { condition: \"a\" matches \"a\" }", CodeUnexpected, "1:33"},
	{"rule a { strings: $a = \"x\" condition: for 50% of them : ($) }", CodeUnexpected, "1:45"},
	{"rule a { strings: $a = \"x\" condition: $a* }", CodeUnexpected, "1:39"},
	{"rule a { strings: $a = \"x\" condition: $a and }", CodeUnexpected, "1:46"},
	{"rule a { strings: $a = \"x\" condition: any of ($a, b) }", CodeUnexpected, "1:51"},
	{"rule a { strings: condition: true }", CodeUnexpected, "1:19"},
	{"rule a { strings: $a = \"x\" $a* = \"y\" condition: true }", CodeUnexpected, "1:28"},
	{"rule a { meta: x = 1.5 condition: true }", CodeUnexpected, "1:20"},
	{"rule a { meta: x = -true condition: true }", CodeUnexpected, "1:21"},
	{"rule a { strings: $a = \"x\" nocase xor(1 condition: $a }", CodeUnexpected, "1:41"},
	{"rule a { strings: $a = { 4D } nocase condition: $a }", CodeBadModifier, "1:31"},
	{"rule a { strings: $a = /ab/ xor condition: $a }", CodeBadModifier, "1:29"},
	{"rule a { strings: $a = /ab/ base64 condition: $a }", CodeBadModifier, "1:29"},
	{"rule a { condition: 99999999999999999999 > 1 }", CodeIntOverflow, "1:21"},
	{"rule a { condition: 9223372036854775808 > 1 }", CodeIntOverflow, "1:21"},
	{"rule a { condition: 0x8000000000000000 > 1 }", CodeIntOverflow, "1:21"},
	{"rule a { condition: 9007199254740992KB > 1 }", CodeIntOverflow, "1:21"},
	{"rule a { strings: $a = \"a\\q\" condition: $a }", CodeBadEscape, "1:26"},
	{"rule a { strings: $a = \"a\\x4\" condition: $a }", CodeBadEscape, "1:26"},
	{"rule a { condition: \"a\\a\" == \"a\" }", CodeBadEscape, "1:23"},
	{"rule a { strings: $a = \"ab\n\" condition: $a }", CodeUnterminatedStr, "1:24"},
	{"rule a { condition: \"ab", CodeUnterminatedStr, "1:21"},
	{"rule a { condition: \"ab\" matches /a\n/ }", CodeUnterminatedRegex, "1:34"},
	{"rule a { strings: $a = /a[/]b/ condition: $a }", CodeUnexpected, "1:28"}, // like yara, the class does not protect '/'
	{"rule a { condition: \"a\" matches /a\\/ }", CodeUnterminatedRegex, "1:33"},
	{"rule " + strings.Repeat("a", 129) + " { condition: true }", CodeIdentTooLong, "1:6"},
	{"rule a { condition: true } \x01", CodeIllegalChar, "1:28"},
	{"rule a { strings: $a = { } condition: $a }", CodeHexSyntax, "1:26"},
	{"rule a { strings: $a = { [2] 5A } condition: $a }", CodeHexSyntax, "1:26"},
	{"rule a { strings: $a = { 5A [2] } condition: $a }", CodeHexSyntax, "1:33"},
	{"rule a { strings: $a = { 5A [0x10] 5A } condition: $a }", CodeHexSyntax, "1:31"},
	{"rule a { strings: $a = { 5A\n condition: $a }", CodeHexOddDigits, "2:2"},
	{"rule a { strings: $a = { 5A\n xondition: $a }", CodeHexSyntax, "2:2"},
	{"rule a { strings: $a = { 5A ( ) } condition: $a }", CodeHexSyntax, "1:31"},
	{"rule a { strings: $a = { 5A ( 4D | ) } condition: $a }", CodeHexSyntax, "1:36"},
	{"rule a { strings: $a = { 4D 5 } condition: $a }", CodeHexOddDigits, "1:29"},
	{"rule a { strings: $a = { 4D 5A", CodeUnterminatedHex, "1:24"},
	{"rule a { strings: $a = { 4D [5-3] 5A } condition: $a }", CodeJumpRange, "1:29"},
	{"rule a { strings: $a = { 4D ( 5A [-] 44 | 33) 11 } condition: $a }", CodeJumpUnbounded, "1:34"},
	{"rule a { strings: $a = { 4D ( 5A [2-] 44 | 33) 11 } condition: $a }", CodeJumpUnbounded, "1:34"},
	{"rule a { strings: $a = { 4D ( 5A [300] 44 | 33) 11 } condition: $a }", CodeJumpTooLong, "1:34"},
	{"rule a { strings: $a = { 4D ( 5A [1-201] 44 | 33) 11 } condition: $a }", CodeJumpTooLong, "1:34"},
	{"rule a { strings: $a = \"a\" xor(256) condition: $a }", CodeXorRange, "1:32"},
	{"rule a { strings: $a = \"a\" xor(1-300) condition: $a }", CodeXorRange, "1:34"},
	{"rule a { strings: $a = \"a\" xor(5-3) condition: $a }", CodeXorOrder, "1:32"},
	{"rule a { strings: $a = \"a\" base64(\"abc\") condition: $a }", CodeBase64Alphabet, "1:35"},
	{"rule a { strings: $a = \"a\" base64wide(\"abc\") condition: $a }", CodeBase64Alphabet, "1:39"},
	{"rule a { strings: $a = \"ab\" nocase nocase condition: $a }", CodeDupModifier, "1:36"},
	{"rule a { strings: $a = \"ab\" xor xor(2) condition: $a }", CodeDupModifier, "1:33"},
	{"rule a : x y x { condition: true }", CodeDupTag, "1:14"},
	{"rule a { strings: $a = \"\" condition: $a }", CodeEmptyString, "1:24"},
	// Deeper than maxDepth: errors for us, yara accepts them (its own
	// parser stack ends at 10000 levels), so the oracle skips them.
	{"rule a { condition: " + strings.Repeat("(", 2000) + "1" + strings.Repeat(")", 2000) + " }", CodeTooDeep, ""},
	{"rule a { condition: " + strings.Repeat("not ", 5000) + "true }", CodeTooDeep, ""},
	{"rule a { condition: " + strings.Repeat("-", 5000) + "1 }", CodeTooDeep, ""},
	{"rule a { strings: $a = { 00 " + strings.Repeat("( 00 | ", 2000) + "00" + strings.Repeat(")", 2000) + " } condition: $a }", CodeTooDeep, ""},
}

func posString(p Pos) string {
	return strings.Join([]string{itoa(p.Line), itoa(p.Col)}, ":")
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	neg := i < 0
	if neg {
		i = -i
	}
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	if neg {
		b = append([]byte{'-'}, b...)
	}
	return string(b)
}

func TestParseErrors(t *testing.T) {
	for _, tt := range errorTests {
		name := tt.src
		if len(name) > 80 {
			name = name[:80] + "..."
		}
		f, err := Parse("t.yar", []byte(tt.src))
		if f == nil {
			t.Errorf("%q: nil File", name)
		}
		el, ok := err.(ErrorList)
		if !ok || len(el) == 0 {
			t.Errorf("%q: got error %v, want %s", name, err, tt.code)
			continue
		}
		e := el[0]
		if e.Code != tt.code || (tt.pos != "" && posString(e.Pos) != tt.pos) {
			t.Errorf("%q: got %s at %s (%s), want %s at %s", name, e.Code, posString(e.Pos), e.Msg, tt.code, tt.pos)
		}
	}
}

// TestRecovery checks that every broken rule of a file is reported and that
// the good rules between them are kept.
func TestRecovery(t *testing.T) {
	src := "rule a { condition: 1 == }\n" +
		"private rule b { strings: $a = \"x\\q\" condition: $a }\n" +
		"rule c { condition: true }\n" +
		"global private rule d { condition: (1 == 1) + 2 }\n" +
		"rule e { strings: $a = { 4D [-] } condition: $a }\n" +
		"import \"pe\"\n" +
		"rule f { condition: 5 ** 2 }\n" +
		"rule g { strings: $a = \"x\" private condition: $a }\n"
	f, err := Parse("m.yar", []byte(src))
	want := "m.yar:1:26: syntax error, unexpected \"}\"\n" +
		"m.yar:2:34: illegal escape sequence\n" +
		"m.yar:4:45: syntax error, unexpected \"+\"\n" +
		"m.yar:5:33: invalid hex string: sequence ends with a jump\n" +
		"m.yar:7:24: syntax error, unexpected \"*\""
	if err == nil || err.Error() != want {
		t.Errorf("errors:\n%v\nwant:\n%s", err, want)
	}
	wantDump := "(rule c (cond true))\n(import \"pe\")\n(rule g (strings ($a text \"x\" private)) (cond $a))\n"
	if got := f.Dump(); got != wantDump {
		t.Errorf("dump:\n%s\nwant:\n%s", got, wantDump)
	}
	// A broken rule preceded by modifiers: recovery must not lose the
	// modifiers of the next rule.
	f, _ = Parse("m.yar", []byte("rule a { condition: ( }\nprivate global rule b { condition: true }"))
	if got := f.Dump(); got != "(rule private global b (cond true))\n" {
		t.Errorf("dump after recovery: %s", got)
	}
}

func TestTooManyErrors(t *testing.T) {
	src := strings.Repeat("rule a { condition: 1 == }\n", maxErrors+50)
	_, err := Parse("t.yar", []byte(src))
	el := err.(ErrorList)
	if len(el) != maxErrors+1 || el[maxErrors].Code != CodeTooManyErrors {
		t.Errorf("got %d errors, last %v", len(el), el[len(el)-1])
	}
}

func TestPositions(t *testing.T) {
	src := "import \"pe\"\n\nrule abc : t {\n  strings:\n    $a = \"x\"\n  condition:\n    $a and\n      pe.x > 1\n}\n"
	f, err := Parse("t.yar", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	r := f.Decls[1].(*Rule)
	and := r.Condition.(*Binary)
	gt := and.Y.(*Binary)
	got := []Pos{f.Decls[0].Position(), r.Pos, r.NamePos, r.Strings[0].Pos, and.X.Position(), and.Pos, gt.X.Position(), gt.Pos, gt.Y.Position()}
	want := []Pos{{1, 1}, {3, 1}, {3, 6}, {5, 5}, {7, 5}, {7, 8}, {8, 7}, {8, 12}, {8, 14}}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("position %d: got %v, want %v", i, got[i], want[i])
		}
	}
}

func corpusFiles(t testing.TB) []string {
	root := "/work/shared/corpus/yara-rules"
	var files []string
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".yar") || strings.HasSuffix(path, ".yara")) {
			files = append(files, path)
		}
		return nil
	})
	return files
}

func TestCorpus(t *testing.T) {
	files := corpusFiles(t)
	if len(files) == 0 {
		t.Skip("no corpus at /work/shared/corpus/yara-rules")
	}
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := Parse(name, src)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		_ = f.Dump()
	}
}

// TestOracle runs /usr/bin/yara on every table input: the good ones must
// compile, the bad ones must fail. It is skipped when yara is not installed.
func TestOracle(t *testing.T) {
	yara, err := exec.LookPath("yara")
	if err != nil {
		t.Skip("yara not installed")
	}
	if testing.Short() {
		t.Skip("short mode")
	}
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("x"), 0o644)
	compiles := func(src string) (bool, string) {
		rules := filepath.Join(dir, "r.yar")
		os.WriteFile(rules, []byte(src), 0o644)
		out, err := exec.Command(yara, "-w", rules, target).CombinedOutput()
		return err == nil, string(out)
	}
	for _, tt := range condTests {
		if ok, out := compiles(condSource(tt.cond)); !ok {
			t.Errorf("yara rejects good condition %q: %s", tt.cond, out)
		}
	}
	for _, tt := range fileTests {
		if ok, out := compiles(tt.src); ok == tt.notYara {
			t.Errorf("yara accepts=%v for %q (notYara=%v): %s", ok, tt.src, tt.notYara, out)
		}
	}
	for _, tt := range errorTests {
		if tt.code == CodeTooDeep {
			continue
		}
		if ok, _ := compiles(tt.src); ok {
			t.Errorf("yara accepts bad input %q", tt.src)
		}
	}
}
