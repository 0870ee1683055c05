package yara

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// condCase is a condition with its expected result on a data buffer. Each
// expected value was confirmed with yara 4.2.3 (and is re-checked against
// it by TestConditions when yara is installed).
type condCase struct {
	strings string // strings section body, may be empty
	cond    string
	want    bool
}

// undef is an expression that is undefined on every test input (a read far
// past the end of the data).
const undef = "uint32(100000)"

var condData = []byte("hello world abc def ghi")

var condCases = []condCase{
	// Undefined values and boolean operators.
	{"", undef + " == 1 or true", true},
	{"", undef + " == 1 and true", false},
	{"", "not (" + undef + " == 1)", false},
	{"", "not " + undef, false},
	{"", undef + " != 1", false},
	{"", "not (" + undef + " == 1 or false)", true},
	{"", "not (" + undef + " == 1 and true)", true},
	{"", "not (" + undef + " == 1 or " + undef + " == 1)", true},
	{"", "defined (" + undef + " == 1 or " + undef + " == 1)", true},
	{"", "defined (" + undef + " == 1 and " + undef + " == 1)", true},
	{"", "defined (not " + undef + ")", false},
	{"", "defined (" + undef + " == " + undef + ")", false},
	{"", "defined (-" + undef + ")", false},
	{"", "defined (~" + undef + ")", false},
	{"", "defined (" + undef + " + 1)", false},
	{"", "not defined " + undef, true},
	{"", "not defined (1 \\ (filesize - filesize))", true},
	{"", "not defined (1 % (filesize - filesize))", true},
	{"", "defined (1.0 \\ (filesize - filesize))", true},
	{"", "1.0 \\ 0 > 0", true},
	// Shifts, overflow, division.
	{"", "(1 << 64) == 0", true},
	{"", "(1 << 63) == (-9223372036854775807 - 1)", true},
	{"", "not defined (1 << (filesize - 24))", true},
	{"", "not defined (8 >> (filesize - 24))", true},
	{"", "(-8 >> 1) == -4", true},
	{"", "(-8 >> 64) == 0", true},
	{"", "9223372036854775807 + (filesize - 22) == (-9223372036854775807 - 1)", true},
	{"", "9223372036854775807 * (filesize - 21) == -2", true},
	{"", "-7 % 3 == -1 and -7 \\ 2 == -3", true},
	{"", "1 == 1.0 and 3 \\ 2 == 1 and 3.0 \\ 2 == 1.5", true},
	{"", "1.5 > 1 and 2 \\ 1.0 == 2", true},
	// yara 4.2.3: float < with an undefined operand is a defined false.
	{"", "defined ((0.5 + " + undef + ") < 2.0) and not ((0.5 + " + undef + ") < 2.0)", true},
	{"", "defined (" + undef + " < 2.0) and defined (2.0 < " + undef + ")", true},
	{"", "defined (" + undef + " < 2)", false},
	{"", "defined ((0.5 + " + undef + ") <= 2.0)", false},
	{"", "defined ((0.5 + " + undef + ") == 2.0)", false},
	{"", "defined (0.5 + " + undef + ")", false},
	{"", "filesize", true},
	{"", "not (filesize - filesize)", true},
	{"", "(1 << 3) + (filesize - filesize) == 8", true},
	{"", "-(filesize - filesize - 9223372036854775807 - 1) < 0", true},
	// Strings in conditions.
	{"", `"abc" contains "b" and "ABC" icontains "b" and "abc" startswith "ab" and "abc" iendswith "BC" and "abc" iequals "ABC"`, true},
	{"", `"abc" matches /B/i`, true},
	{"", `"abc" matches /B/`, false},
	{"", `"a" < "b"`, true},
	{"", `"abc" endswith "abcd"`, false},
	// Loops.
	{"", "for all i in (1..3) : (" + undef + " == 1)", false},
	{"", "for none i in (1..3) : (" + undef + " == 1)", true},
	{"", "not for any i in (1..3) : (" + undef + " == 1)", true},
	{"", "for any i in (3..filesize-22) : (true)", false},
	{"", "not for any i in (3..filesize-22) : (true)", true},
	{"", "for none i in (3..filesize-22) : (true)", false},
	{"", "for any i in (0.." + undef + ") : (true)", false},
	{"", "not for any i in (0.." + undef + ") : (true)", true},
	{"", "for none i in (0.." + undef + ") : (true)", false},
	{"", "defined (for any i in (0.." + undef + ") : (true))", true},
	{"", "for any i in (1, " + undef + ", 3) : (i == 3)", true},
	{"", "for all i in (1, " + undef + ", 3) : (i > 0)", false},
	{"", "for all i in (1, " + undef + ", 3) : (true)", true},
	{"", "for 2 i in (1..5) : (i > 3)", true},
	{"", "for 3 i in (1..5) : (i > 3)", false},
	{"", "for all i in (0..2) : (for any j in (0..2) : (i == j))", true},
	// yara 4.2.3: a loop's `none` (or 0) is "at least 0 true bodies".
	{"", "for none i in (1..3) : (true)", true},
	{"", "for 0 i in (1..3) : (true)", true},
	{"", "for -1 i in (1..3) : (false)", true},
	{"", "for none i in (1, 2) : (true)", true},
	{"", "for 4 i in (1..3) : (true)", false},
	{"", "for none i in (filesize - 1..1) : (filesize < 112)", false},
	{"", "for any i in (0..filesize) : (uint8(i) == 0x77)", true},
	// String references.
	{`$a = "abc" $b = "xxx" $c = "yyy"`, "33% of them", true},
	{`$a = "abc" $b = "xxx" $c = "yyy"`, "34% of them", false},
	{`$a = "abc" $b = "xxx" $c = "yyy"`, "4 of them", false},
	{`$a = "zzz" $b = "xxx" $c = "yyy"`, "0 of them", true},
	{`$a = "abc" $b = "xxx" $c = "yyy"`, "uint8(100) of them", false},
	{`$a = "abc" $b = "xxx" $c = "yyy"`, "not (uint8(100) of them)", true},
	{`$a = "abc" $b = "xxx" $c = "yyy"`, "(filesize+77)% of them", false},
	{`$a = "abc" $b = "def"`, "(filesize+77)% of them", true},
	{`$a = "abc" $b = "xxx"`, "(filesize - 22) % of them", true},
	{`$a = "abc"`, "not ($a at " + undef + ")", true},
	{`$a = "abc"`, "defined ($a at " + undef + ")", true},
	{`$a = "abc"`, "not ($a in (0.." + undef + "))", false},
	{`$a = "abc"`, "defined ($a in (0.." + undef + "))", false},
	{`$a = "abc"`, "defined (#a in (0.." + undef + "))", false},
	{`$a = "abc"`, "#a in (0..20) == 1", true},
	{`$a = "abc"`, "#a in (0..11) == 0", true},
	{`$a = "abc"`, "defined @a[" + undef + "]", false},
	{`$a = "abc"`, "defined @a[2]", false},
	{`$a = "abc"`, "defined @a[0]", false},
	{`$a = "abc"`, "@a[1] == 12 and !a[1] == 3 and #a == 1 and $a at 12 and $a in (10..12)", true},
	{`$a = "abc" $b = "xxx"`, "not none of them", true},
	{`$a = "abc" $b = "xxx"`, "0 of them", false},
	{`$a = "abc" $b = "xxx"`, "0 of ($b) and $a", true},
	{`$a = "abc" $b = "xxx"`, "-1 of ($b) and $a", true},
	{`$a = "abc" $b = "xxx"`, "0 of ($a, $b, $a)", false},
	{`$a = "abc" $b = "xxx"`, "for none of ($a) : ($) and not $b", true},
	{`$a = "abc" $b = "xxx"`, "for none of ($a, $b) : (true)", true},
	{`$a = "abc" $b = "xxx"`, "for 0 of ($b) : ($) and $a", true},
	{`$a = "abc" $b = "xxx"`, "2 of ($a, $a) and $b or true", true},
	{`$a = "abc" $b = "xxx"`, "2 of ($a, $a) and not $b", true},
	{`$a = "abc" $b = "xxx"`, "2 of ($a*, $a*) and not $b", true},
	{`$a = "abc" $b = "xxx"`, "for 2 of ($a, $a, $b) : ($)", true},
	{`$a = "abc" $b = "xxx"`, "for 3 of ($a, $b) : (true)", false},
	{`$a = "abc" $b = "xxx"`, "0 of ($a) in (100..200) and not $b", true},
	{`$a = "abc" $b = "xxx"`, "not ($a in (3..0)) and defined ($a in (3..0)) and not $b", true},
	{`$a = "abc" $b = "def"`, "2 of them in (0..16)", true},
	{`$a = "abc" $b = "def"`, "2 of them in (0..15)", false},
	{`$a = "abc" $b = "def"`, "for all of them : (@ < 17)", true},
	{`$a = "abc" $b = "def"`, "for any of them : (@ > 12 and # == 1 and ! == 3)", true},
	{`$a = "abc"`, "not ($a in (5..filesize-100))", true},
	{`$a = "o"`, "#a == 2 and @a[2] == 7 and for all i in (1..#a) : (@a[i] > 3)", true},
	{`$a = "o" $b = "l"`, "for all of ($a, $b) : (# >= 2)", true},
	{`$a1 = "o" $a2 = "zz" $b = "l"`, "any of ($a*) and not all of ($a*) and $b", true},
	{`$ = "o" $ = "l"`, "all of them", true},
	{"", "uint16(0) == 0x6568 and uint16be(0) == 0x6865 and int8(0) == 0x68 and uint32(0) == 0x6c6c6568", true},
	{"", "not defined uint16(filesize - 1) and defined uint8(filesize - 1)", true},
	{"", "not defined entrypoint", true},
	{"", `true and "s"`, true},
	{"", `not "s"`, false},
	{"", `not ""`, true},
	{"", `true and ""`, false},
	{"", `"" or true`, true},
}

func TestConditions(t *testing.T) {
	for i, tc := range condCases {
		name := fmt.Sprintf("%d", i)
		src := "rule r { "
		if tc.strings != "" {
			src += "strings: " + tc.strings + " "
		}
		src += "condition: " + tc.cond + " }"
		t.Run(name, func(t *testing.T) {
			r, err := Compile(src)
			if err != nil {
				t.Fatalf("%s: %v", src, err)
			}
			res, err := r.NewScanner().ScanBytes(context.Background(), condData)
			if err != nil {
				t.Fatal(err)
			}
			got := len(res.Matching) == 1
			if got != tc.want {
				t.Errorf("%s: vigil %v, want %v", tc.cond, got, tc.want)
			}
			if haveYara() {
				sum, stderr, err := yaraScan(t, src, condData)
				if err != nil {
					t.Fatalf("yara: %v %s", err, stderr)
				}
				if y := len(rulesOnly(sum)) == 1; y != tc.want {
					t.Errorf("%s: yara says %v, table says %v", tc.cond, y, tc.want)
				}
			}
		})
	}
}

// TestCompileErrors checks that invalid rules are rejected with the right
// code and position (yara rejects each of them too).
func TestCompileErrors(t *testing.T) {
	cases := []struct {
		src  string
		code string
		line int
		col  int
	}{
		{"rule a {\n strings: $a = \"x\"\n condition: true }", CodeUnrefString, 2, 11},
		{"rule a { strings: $a = \"x\" $a = \"y\" condition: all of them }", CodeDupString, 1, 28},
		{"rule a {\n condition:\n $b }", CodeUndefString, 3, 2},
		{"rule a { strings: $a = \"x\" xor nocase condition: $a }", CodeModifiers, 1, 0},
		{"rule a { strings: $a = \"x\" base64 nocase condition: $a }", CodeModifiers, 1, 0},
		{"rule a { strings: $a = \"xyz\" base64 xor condition: $a }", CodeModifiers, 1, 0},
		{"rule a { strings: $a = \"xyz\" base64 fullword condition: $a }", CodeModifiers, 1, 0},
		{"rule a { condition: true }\nrule a { condition: true }", CodeDupRule, 2, 6},
		{"rule a { condition: b }\nrule b { condition: true }", CodeUndefIdent, 1, 21},
		{"import \"foo\"\nrule a { condition: true }", CodeUnknownModule, 1, 1},
		{"rule a { condition: 1 \\ 0 }", CodeDivZero, 1, 0},
		{"rule a { condition: 1 % 0 }", CodeDivZero, 1, 0},
		{"rule a { strings: $a = \"\" condition: $a }", "", 1, 0},
		{"rule a { condition: \"a\" + 1 }", CodeType, 1, 0},
		{"rule a { condition: 1 contains \"a\" }", CodeType, 1, 0},
		{"rule a { condition: 9223372036854775807 * 2 }", CodeOverflow, 1, 0},
		{"rule a { condition: 5.5 % 2 == 1.5 }", CodeType, 1, 0},
		{"rule a { condition: 5 & 1.0 }", CodeType, 1, 0},
		{"rule a { strings: $a = \"abc\" $b = \"x\" condition: 0% of them }", CodeType, 1, 0},
		{"rule a { strings: $a = \"abc\" condition: 101% of them }", CodeType, 1, 0},
		{"rule a { strings: $ = \"abc\" condition: true }", CodeUnrefString, 1, 19},
		{"rule a { condition: $ }", CodeAnonString, 1, 21},
		{"rule a { condition: all of them }", CodeNoStrings, 1, 0},
		{"rule a { condition: any of (b*) }", CodeRuleSet, 1, 0},
		{"rule a { condition: x.y }", CodeUndefIdent, 1, 21},
		{"rule a { condition: 1 << -1 }", CodeShift, 1, 0},
		{"rule a { condition: 17 % ((filesize >> 255) % ((110) ^ (1))) }", CodeDivZero, 1, 0},
		{"rule a { condition: 1 \\ (filesize << 64) }", CodeDivZero, 1, 0},
	}
	for _, tc := range cases {
		_, err := Compile(tc.src)
		ce, ok := err.(*CompileError)
		if !ok {
			t.Errorf("%q: got %v, want a CompileError", tc.src, err)
			continue
		}
		found := false
		for _, d := range ce.Diagnostics {
			if d.Severity == SeverityError && (tc.code == "" || d.Code == tc.code) && d.Line == tc.line && (tc.col == 0 || d.Col == tc.col) {
				found = true
			}
		}
		if !found {
			t.Errorf("%q: want %s at %d:%d, got %v", tc.src, tc.code, tc.line, tc.col, ce.Diagnostics)
		}
		if haveYara() {
			if _, stderr, err := yaraScan(t, tc.src, nil); err == nil || !strings.Contains(stderr, "error") {
				t.Errorf("%q: yara accepts it", tc.src)
			}
		}
	}
}
