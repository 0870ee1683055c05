package re

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"vigil/yara/syntax"
)

// matchTests: every expected value was observed with yara 4.2.3
// (`yara -s -L`); TestMatchTableAgainstYara re-checks them when yara is
// installed. want lists offset:length for every offset yara reports.
var matchTests = []struct {
	def   string // yara string definition
	src   string // regex source (empty for hex)
	flags Flags
	opt   CompileOptions
	hex   []syntax.HexToken
	data  string
	want  string
}{
	{def: `/a.{1,3}b/`, src: `a.{1,3}b`, data: "a_b_b", want: "0:5"},
	{def: `/a.{1,3}?b/`, src: `a.{1,3}?b`, data: "a_b_b", want: "0:3"},
	{def: `/a+/`, src: `a+`, data: "aaaa", want: "0:4 1:3 2:2 3:1"},
	{def: `/a+?/`, src: `a+?`, data: "aaaa", want: "0:1 1:1 2:1 3:1"},
	{def: `/(a|ab)(c|bcd)/`, src: `(a|ab)(c|bcd)`, data: "abcd", want: "0:4"},
	{def: `/a*?bcd/`, src: `a*?bcd`, data: "aaabcdefg", want: "0:6 1:5 2:4 3:3"},
	{def: `/abcd(e|ef)??/`, src: `abcd(e|ef)??`, data: "aaabcdefg", want: "2:4"},
	{def: `/a.*bcd/`, src: `a.*bcd`, data: "a_bcd_bcd_x_x", want: "0:9"},
	{def: `/a.*?bcd/`, src: `a.*?bcd`, data: "a_bcd_bcd_x_x", want: "0:5"},
	{def: `/a??b/`, src: `a??b`, data: "aab", want: "1:2 2:1"},
	{def: `/b?/`, src: `b?`, data: "bab", want: "0:1 2:1"},
	{def: `/a{0,}?/`, src: `a{0,}?`, data: "aa", want: ""},
	{def: `/a{,2}/`, src: `a{,2}`, data: "aaa", want: "0:2 1:2 2:1"},
	{def: `/a{/`, src: `a{`, data: "a{b", want: "0:2"},
	{def: `/a{ 2}/`, src: `a{ 2}`, data: "a{ 2}", want: "0:5"},
	{def: `/\q/`, src: `\q`, data: "q", want: "0:1"},
	{def: `/[]a]/`, src: `[]a]`, data: "a]b", want: "0:1 1:1"},
	{def: `/[^]a]/`, src: `[^]a]`, data: "a]b", want: "2:1"},
	{def: `/[[:alpha:]]/`, src: `[[:alpha:]]`, data: "a:]", want: "1:2"},
	{def: `/[\b]/`, src: `[\b]`, data: "b\b", want: "0:1"},
	{def: `/[a-\d]/`, src: `[a-\d]`, data: "a-5zbd\\", want: "0:1 4:1 5:1"},
	{def: `/[\d-z]/`, src: `[\d-z]`, data: "a-5zbd\\", want: "3:1 5:1"},
	{def: `/[\w-]/`, src: `[\w-]`, data: "a-5 %", want: "0:1 1:1 2:1"},
	{def: `/[a\-c]/`, src: `[a\-c]`, data: "ab-c", want: "0:1 2:1 3:1"},
	{def: `/[\b-d]/`, src: `[\b-d]`, data: "abcde", want: "1:1 2:1 3:1"},
	{def: `/[a-b-c]/`, src: `[a-b-c]`, data: "abcd-", want: "0:1 1:1 2:1 4:1"},
	{def: `/a.b/`, src: `a.b`, data: "a\nb", want: ""},
	{def: `/a.b/s`, src: `a.b`, flags: Flags{Dotall: true}, data: "a\nb", want: "0:3"},
	{def: `/\s/`, src: `\s`, data: "a \t\n\v\f\r", want: "1:1 2:1 3:1 4:1 5:1 6:1"},
	{def: `/[^a]/i`, src: `[^a]`, flags: Flags{Nocase: true}, data: "Ab", want: "1:1"},
	{def: `/a$/`, src: `a$`, data: "a\na", want: "2:1"},
	{def: `/^a/`, src: `^a`, data: "a\na", want: "0:1"},
	{def: `/\ba/`, src: `\ba`, data: "a a", want: "0:1 2:1"},
	{def: `/a\Bb/`, src: `a\Bb`, data: "ab", want: "0:2"},
	{def: `/\ba/ wide`, src: `\ba`, opt: CompileOptions{Wide: true}, data: "x\x00a\x00", want: ""},
	{def: `/\ba/ wide`, src: `\ba`, opt: CompileOptions{Wide: true}, data: " \x00a\x00", want: "2:2"},
	{def: `/a\b/ wide`, src: `a\b`, opt: CompileOptions{Wide: true}, data: "a\x00x\x00", want: ""},
	{def: `/a.b/ wide`, src: `a.b`, opt: CompileOptions{Wide: true}, data: "a\x00x\x01b\x00", want: ""},
	{def: `/a\Wb/ wide`, src: `a\Wb`, opt: CompileOptions{Wide: true}, data: "a\x00\x00\x00b\x00", want: "0:6"},
	{def: `/a*/ wide`, src: `a*`, opt: CompileOptions{Wide: true}, data: "a\x00a\x00a", want: "0:4 2:2"},
	{def: `/ab/ wide nocase`, src: `ab`, opt: CompileOptions{Wide: true, Nocase: true}, data: "A\x00b\x00", want: "0:4"},
	{def: `{ 61 [1-3] 62 }`, hex: hx(0x61, jump(1, 3), 0x62), data: "a_b_b", want: "0:3"},
	{def: `{ 61 [1-] 62 }`, hex: hx(0x61, jump(1, -1), 0x62), data: "a_b_b", want: "0:3"},
	{def: `{ 61 [0-0] 62 }`, hex: hx(0x61, jump(0, 0), 0x62), data: "ab", want: "0:2"},
	{def: `{ 61 ( 62 | 62 63 ) }`, hex: hx(0x61, alt(hx(0x62), hx(0x62, 0x63))), data: "abc", want: "0:2"},
	{def: `{ 61 ( 62 63 | 62 ) }`, hex: hx(0x61, alt(hx(0x62, 0x63), hx(0x62))), data: "abc", want: "0:2"},
	{def: `{ 61 ( 62 | ?? ) }`, hex: hx(0x61, alt(hx(0x62), hx(-1))), data: "ax", want: "0:2"},
	// Consequences of yara verifying from its atoms (doc.go, # Which
	// match): an optional item yara takes as the start of the code is
	// required, alternatives are verified per atom, hex strings with
	// alternatives are leftmost-first.
	{def: `/a?c{0,2}/`, src: `a?c{0,2}`, data: "c", want: ""},
	{def: `/a?b?/`, src: `a?b?`, data: "b", want: ""},
	{def: `/b?./`, src: `b?.`, data: "x", want: ""},
	{def: `/a??/`, src: `a??`, data: "a", want: "0:1"},
	{def: `/c??.+?/`, src: `c??.+?`, data: "cc", want: "0:2"},
	{def: `/\b(\w(b|a$c)|b|a{0,2}(.?|bc).+a)./`, src: `\b(\w(b|a$c)|b|a{0,2}(.?|bc).+a).`, data: "cb a c", want: "0:5 2:3"},
	{def: `{ 63 [0-2] ( 63 ?? 62 | ?? ) 62 }`, hex: hx(0x63, jump(0, 2), alt(hx(0x63, -1, 0x62), hx(-1)), 0x62), data: "cbcbbbab", want: "0:6 2:3"},
	{def: `{ 62 63 63 ( 63 6? | 63 ) }`, hex: hx(0x62, 0x63, 0x63, alt(hx(0x63, &syntax.HexByte{Value: 0x60, Mask: 0xF0}), hx(0x63))), data: "bcccacca", want: "0:5"},
	{def: `/a(bc)+/`, src: `a(bc)+`, data: "abcbcabc", want: "0:5 5:3"},
	{def: `/a(\b){1}/`, src: `a(\b){1}`, data: "a ab", want: "0:1"},
}

// hx builds hex tokens: a byte value, -1 for ??, or a ready token.
func hx(items ...any) []syntax.HexToken {
	var out []syntax.HexToken
	for _, it := range items {
		switch v := it.(type) {
		case int:
			if v < 0 {
				out = append(out, &syntax.HexByte{})
			} else {
				out = append(out, &syntax.HexByte{Value: byte(v), Mask: 0xFF})
			}
		case syntax.HexToken:
			out = append(out, v)
		}
	}
	return out
}

func jump(lo, hi int) *syntax.HexJump { return &syntax.HexJump{Min: lo, Max: hi} }

func alt(alts ...[]syntax.HexToken) *syntax.HexAlt { return &syntax.HexAlt{Alts: alts} }

func compileCase(t *testing.T, src string, flags Flags, opt CompileOptions, hex []syntax.HexToken) *Prog {
	t.Helper()
	var n *Node
	var err error
	if hex != nil {
		n, err = FromHex(&syntax.HexString{Tokens: hex})
	} else {
		n, err = Parse(src, flags)
	}
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	p, err := Compile(n, opt)
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	return p
}

func TestMatchTable(t *testing.T) {
	for _, tc := range matchTests {
		p := compileCase(t, tc.src, tc.flags, tc.opt, tc.hex)
		if got := resultString(ourMatches(p, []byte(tc.data))); got != tc.want {
			t.Errorf("%s on %q: got %q, want %q\n%s", tc.def, tc.data, got, tc.want, p)
		}
	}
}

func TestMatchTableAgainstYara(t *testing.T) {
	if !haveYara() {
		t.Skip("yara not installed")
	}
	for _, tc := range matchTests {
		res, errs := runYara(t, []string{tc.def}, [][]byte{[]byte(tc.data)})
		if res[0] == nil {
			t.Errorf("%s: yara: %s", tc.def, errs[0])
			continue
		}
		if got := resultString(res[0][0]); got != tc.want {
			t.Errorf("%s on %q: yara says %q, table says %q", tc.def, tc.data, got, tc.want)
		}
	}
}

// parseErrors: yara rejects each of these (message as yara prints it).
var parseErrors = []struct {
	src, msg string
}{
	{``, msgEmpty},
	{`a{3,2}`, msgBadRepeat},
	{`a{0}`, msgBadRepeat},
	{`a{0,0}b`, msgBadRepeat},
	{`a{32768}`, msgRepeatTooBig},
	{`a{0,32768}`, msgRepeatTooBig},
	{`[]`, msgMissingRBrack},
	{`[abc`, msgMissingRBrack},
	{`a)`, msgSyntax},
	{`(a`, msgSyntax},
	{`*a`, msgSyntax},
	{`a**`, msgSyntax},
	{`a+*`, msgSyntax},
	{`()`, msgSyntax},
	{`(|a)`, msgSyntax},
	{`|a`, msgSyntax},
	{`^*`, msgSyntax},
	{`[b-a]`, msgBadRange},
	{`[a-\\d]`, msgBadRange},
	{`\x4`, msgIllegalEscape},
	{`\x4g`, msgIllegalEscape},
	{`\x`, msgIllegalEscape},
	{`\1`, msgBackref},
	{`\0`, msgBackref},
	{`a.*?cdef.*g`, msgMixedGreedy},
	{`a?b*?`, msgMixedGreedy},
}

func TestParseErrors(t *testing.T) {
	for _, tc := range parseErrors {
		_, err := Parse(tc.src, Flags{})
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Parse(%q) = %v, want *Error %q", tc.src, err, tc.msg)
			continue
		}
		if e.Msg != tc.msg || e.Offset < 0 || e.Offset > len(tc.src) {
			t.Errorf("Parse(%q): %v, want %q", tc.src, e, tc.msg)
		}
	}
}

func TestParseErrorsAgainstYara(t *testing.T) {
	if !haveYara() {
		t.Skip("yara not installed")
	}
	for _, tc := range parseErrors {
		if tc.src == "" {
			continue // an empty regex is a yara lexer error
		}
		_, err := yaraCompileOne(t, "/"+tc.src+"/")
		if err == nil {
			t.Errorf("yara accepts /%s/", tc.src)
		} else if tc.msg != msgSyntax && !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("/%s/: yara says %v, we say %q", tc.src, err, tc.msg)
		}
	}
}

func TestHexErrors(t *testing.T) {
	bad := [][]syntax.HexToken{
		hx(0x61, jump(3, 1), 0x62),
		hx(0x61, alt(hx(0x62), hx(0x62, jump(1, -1), 0x63))),
		hx(0x61, alt(hx(0x62), hx(0x62, jump(1, 201), 0x63))),
		nil,
	}
	for _, toks := range bad {
		if _, err := FromHex(&syntax.HexString{Tokens: toks}); err == nil {
			t.Errorf("FromHex(%v) accepted", toks)
		}
	}
	if _, err := FromHex(&syntax.HexString{Tokens: hx(0x61, alt(hx(0x62), hx(0x62, jump(1, 200), 0x63)))}); err != nil {
		t.Errorf("jump of 200 in alternation: %v", err)
	}
}

// TestFind checks the `matches` semantics observed with yara: only the
// first ScanLimit bytes are searched, empty matches count, "" never
// matches.
func TestFind(t *testing.T) {
	long := func(n int, tail string) []byte { return append(bytes.Repeat([]byte("a"), n), tail...) }
	tests := []struct {
		src  string
		data []byte
		want bool
	}{
		{`b`, long(4095, "b"), true},
		{`b`, long(4096, "b"), false},
		{`ab$`, long(4095, "b"), true},
		{`ab$`, long(4096, "b"), false},
		{`^a*$`, long(5000, "b"), false},
		{`a*`, []byte(""), false},
		{`a*`, []byte("xy"), true},
		{`y$`, []byte("xy"), true},
		{`^y`, []byte("xy"), false},
		{`b?`, []byte("a"), true},
	}
	for _, tc := range tests {
		p := compileCase(t, tc.src, Flags{}, CompileOptions{}, nil)
		if got := p.Find(tc.data); got != tc.want {
			t.Errorf("Find(%q, %d bytes) = %v, want %v", tc.src, len(tc.data), got, tc.want)
		}
	}
}

// TestScanLimit: $ is the end of the data, and a match is at most
// ScanLimit bytes (checked with yara on /ba+$/).
func TestScanLimit(t *testing.T) {
	p := compileCase(t, `ba+$`, Flags{}, CompileOptions{}, nil)
	for _, tc := range []struct{ n, want int }{{4094, 4095}, {4095, 4096}, {4096, -1}} {
		data := append([]byte("b"), bytes.Repeat([]byte("a"), tc.n)...)
		if got := p.MatchAt(data, 0); got != tc.want {
			t.Errorf("n=%d: got %d, want %d", tc.n, got, tc.want)
		}
	}
	p = compileCase(t, `ba+`, Flags{}, CompileOptions{}, nil)
	data := append([]byte("b"), bytes.Repeat([]byte("a"), 5000)...)
	if got := p.MatchAt(data, 0); got != ScanLimit {
		t.Errorf("ba+ on long data: got %d, want %d", got, ScanLimit)
	}
}

// TestLinear runs pathological patterns over 100 KB and checks that the
// number of VM steps grows linearly with the input.
func TestLinear(t *testing.T) {
	for _, src := range []string{`(a*)*b`, `(a|a)*b`, `(a|aa)*c`, `(a*)+$`, `(a?){100}a{100}`, `(.*)*x`} {
		p := compileCase(t, src, Flags{}, CompileOptions{}, nil)
		data := bytes.Repeat([]byte("a"), 100<<10)
		m := p.get()
		for i := 0; i < len(data); i += 997 {
			p.matchAt(m, data, i)
		}
		p.find(m, data)
		// Each position visits each instruction at most a few times.
		bound := 4 * len(p.insts) * (ScanLimit + 1) * (len(data)/997 + 2)
		if m.steps > bound {
			t.Errorf("%s: %d steps, bound %d", src, m.steps, bound)
		}
	}
}

func TestCompileTooLarge(t *testing.T) {
	n, err := Parse(`(a{1000}){1000}`, Flags{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(n, CompileOptions{}); err == nil {
		t.Error("huge program accepted")
	}
}

func TestLiteralAndLens(t *testing.T) {
	p, err := Compile(Literal([]byte("abc")), CompileOptions{Wide: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.MatchAt([]byte("xa\x00b\x00c\x00"), 1); got != 6 {
		t.Errorf("wide literal: %d", got)
	}
	if p.MinLen() != 6 || p.MaxLen() != 6 {
		t.Errorf("lens %d %d", p.MinLen(), p.MaxLen())
	}
	n, _ := Parse(`ab{2,5}c*`, Flags{})
	if n.MinLen() != 3 || n.MaxLen() != -1 || !n.HasGreedy() {
		t.Errorf("lens %d %d", n.MinLen(), n.MaxLen())
	}
	if b, ok := Literal([]byte("xyz")).IsLiteral(); !ok || string(b) != "xyz" {
		t.Errorf("IsLiteral")
	}
}

func TestHexChain(t *testing.T) {
	toks := hx(0x61, jump(1, 200), 0x62, jump(10, 300), 0x63, jump(201, 201), 0x64, jump(0, -1), 0x65)
	pieces, err := HexChain(&syntax.HexString{Tokens: toks})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pieces {
		got = append(got, fmt.Sprintf("%d-%d", p.GapMin, p.GapMax))
	}
	if s := strings.Join(got, " "); len(pieces) != 4 || s != "10-300 201-201 0--1 0-0" {
		t.Errorf("pieces %d, gaps %s", len(pieces), s)
	}
	p, _ := Compile(pieces[0].Node, CompileOptions{})
	if n := p.MatchAt([]byte("a_b"), 0); n != 3 {
		t.Errorf("first piece: %d", n)
	}
}

// TestChain: where yara splits regexes (checked with yara: /a.{1,}?b/ and
// /a.{0,300}?b/ match "a\nb", /a.{0,200}?b/, /(a.{1,}?b)/, /a.{1,}?b|x/,
// /.{1,}?b/ and /a.{1,}?/ do not).
func TestChain(t *testing.T) {
	tests := []struct {
		src  string
		want string // gaps of the pieces
	}{
		{`a.{1,}?b`, "1-32767 0-0"}, // yara: a gap of 32768 bytes does not match
		{`a.{0,300}?b`, "0-300 0-0"},
		{`a.{201,300}?b`, "201-300 0-0"},
		{`a.{1,}?b.{1,}?c`, "1-32767 1-32767 0-0"},
		{`a.{0,200}?b`, "0-0"},
		{`a.{0,300}b`, "0-0"},
		{`a[^x]{0,300}?b`, "0-0"},
		{`(a.{1,}?b)`, "0-0"},
		{`a.{1,}?b|x`, "0-0"},
		{`.{1,}?b`, "0-0"},
		{`a.{1,}?`, "0-0"},
	}
	for _, tc := range tests {
		n, err := Parse(tc.src, Flags{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range Chain(n) {
			got = append(got, fmt.Sprintf("%d-%d", p.GapMin, p.GapMax))
			if _, err := Compile(p.Node, CompileOptions{}); err != nil {
				t.Errorf("%s: piece: %v", tc.src, err)
			}
		}
		if s := strings.Join(got, " "); s != tc.want {
			t.Errorf("Chain(%s) gaps %s, want %s", tc.src, s, tc.want)
		}
	}
}

// TestTooComplex: yara allows 128 splits in a pattern's code (/x(a|...)/
// with 129 alternatives) and rejects 129; checked with yara when present.
func TestTooComplex(t *testing.T) {
	for _, tc := range []struct {
		alts int
		ok   bool
	}{{129, true}, {130, false}} {
		src := "x(" + strings.Repeat("a|", tc.alts-1) + "a)"
		n, err := Parse(src, Flags{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = Compile(n, CompileOptions{})
		if (err == nil) != tc.ok {
			t.Errorf("%d alternatives: %v", tc.alts, err)
		}
		if haveYara() {
			if _, yerr := yaraCompileOne(t, "/"+src+"/"); (yerr == nil) != tc.ok {
				t.Errorf("%d alternatives: yara says %v", tc.alts, yerr)
			}
		}
	}
}
