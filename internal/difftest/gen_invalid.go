package difftest

import (
	"strings"
)

// badStrings are string definitions yara 4.2.3 rejects.
var badStrings = []string{
	`"abc" xor nocase`, `"abc" base64 xor`, `"abc" base64 fullword`, `"abc" base64 nocase`,
	`"abc" xor(300)`, `"abc" xor(5-2)`, `"abc" base64("abc")`, `""`, `{ 61 [2] }`,
	`{ [1] 61 }`, `{ 6 }`, `{ }`, `{ 61 ( 62 [1-] 63 | 64 ) }`, `/(ab/`, `/ab+?c*/`,
	`/[a/`, `/ab/ xor`, `{ 61 62 } nocase`, `/ab/ base64`, `{ 6G }`, `"abc" xor(-1)`,
	`{ 61 [3-1] 62 }`, `"abc" base64wide("0123")`, `{ 61 ( 62 | ) }`, `/a{3,1}/`, `/+a/`,
	`"\xZZ"`, `"abc`, `/ab/ fullword xor(2)`,
}

// badConds are condition fragments yara 4.2.3 rejects.
var badConds = []string{
	`$nope`, `nope_x`, `"abc" + 1 == 1`, `$`, `1 \ 0 == 1`, `0x7FFFFFFFFFFFFFFF + 1 > 0`,
	`1 << -1 == 0`, `for any i in (1..3) : (j == 1)`, `int8("a") == 1`, `"a" contains 1`,
	`1 of ($nope*)`, `filesize matches /a/`, `#nope > 0`, `@nope[1] == 0`, `and true`,
	`true and`, `(true`, `filesize ==`, `r99`, `1 % 0 == 0`, `for any i in (1..3) : (for any i in (1..2) : (true))`,
	`"a" == 1`, `not`, `5 of (r99)`, `1.5 % 2.0 == 0`, `1.5 & 1 == 1`, `-9223372036854775808 < 0`,
	`$a* > 0`, `filesize at 0`, `them`, `any of ()`,
}

// invalidate applies one defect to a valid rule set and names it.
func (g *ruleGen) invalidate(src string) (string, string) {
	conds := strings.Count(src, "  condition:\n    ")
	at := g.r.IntN(conds)
	insertCond := func(frag string) string {
		idx := nthIndex(src, "  condition:\n    ", at) + len("  condition:\n    ")
		return src[:idx] + frag + " or " + src[idx:]
	}
	switch g.r.IntN(6) {
	case 0, 1:
		bad := badStrings[g.r.IntN(len(badStrings))]
		def := "    $zz = " + bad + "\n"
		idx := nthIndex(src, "  condition:\n    ", at)
		prefix := src[:idx]
		if strings.LastIndex(prefix, "strings:") < strings.LastIndex(prefix, "rule ") {
			def = "  strings:\n" + def
		}
		src = src[:idx] + def + src[idx:]
		idx = nthIndex(src, "  condition:\n    ", at) + len("  condition:\n    ")
		return src[:idx] + "$zz or " + src[idx:], "bad string " + bad
	case 2, 3:
		bad := badConds[g.r.IntN(len(badConds))]
		return insertCond(bad), "bad condition " + bad
	case 4:
		if g.chance(2) {
			idx := nthIndex(src, "  condition:\n    ", at)
			def := "    $zz = \"unreferenced\"\n"
			prefix := src[:idx]
			if strings.LastIndex(prefix, "strings:") < strings.LastIndex(prefix, "rule ") {
				def = "  strings:\n" + def
			}
			return src[:idx] + def + src[idx:], "unreferenced string"
		}
		if len(g.rules) > 1 {
			return strings.Replace(src, "rule "+g.rules[1]+"\n", "rule "+g.rules[0]+"\n", 1), "duplicate rule name"
		}
		return insertCond("r7"), "forward rule reference"
	default:
		switch g.r.IntN(4) {
		case 0:
			return strings.TrimRight(src, "}\n") + "\n", "missing brace"
		case 1:
			return strings.Replace(src, "rule "+g.rules[0], "rule 0"+g.rules[0], 1), "bad rule name"
		case 2:
			return strings.Replace(src, "condition:", "condition", 1), "missing colon"
		default:
			return src + "rule x { strings: $a = \"a\" $a = \"b\" condition: $a }\n", "duplicate string id"
		}
	}
}

func nthIndex(s, sub string, n int) int {
	off := 0
	for ; n > 0; n-- {
		i := strings.Index(s[off:], sub)
		off += i + len(sub)
	}
	return off + strings.Index(s[off:], sub)
}
