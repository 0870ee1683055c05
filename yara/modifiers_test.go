package yara

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// modData exercises every modifier: plain, wide, case variants, word
// boundaries with letters, digits, underscores and zero bytes, xor'ed and
// base64 forms.
var modData = func() []byte {
	var b bytes.Buffer
	b.WriteString("hello Hello HELLO xhello hello_ 1hello hello1 -hello- ")
	b.WriteString("h\x00e\x00l\x00l\x00o\x00 ")
	b.WriteString("x\x00h\x00e\x00l\x00l\x00o\x00 ")
	b.WriteString("H\x00E\x00L\x00L\x00O\x00y\x00 ")
	for _, k := range []byte{1, 0x20, 0x7f, 0xff} {
		for _, c := range []byte("hello") {
			b.WriteByte(c ^ k)
		}
		b.WriteByte(' ')
		for _, c := range []byte("hello") {
			b.WriteByte(c ^ k)
			b.WriteByte(k)
		}
		b.WriteByte(' ')
	}
	b.WriteString("aGVsbG8gd29ybGQ= ")  // "hello world"
	b.WriteString("xaGVsbG8gd29ybGQ= ") // shifted
	b.WriteString("SGVsbG8gd29ybGQh ")  // "Hello world!"
	b.WriteString("c2F5IGhlbGxvIHdvcmxkIQ== ")
	b.WriteString("eWVzIGhlbGxvIHdvcmxk ")
	b.WriteString("a\x00G\x00V\x00s\x00b\x00G\x008\x00g\x00d\x002\x009\x00y\x00b\x00G\x00Q\x00=\x00 ")
	b.WriteString("aaaaaa abab abababab ")
	b.WriteString("YQBiAGMAZAA= YWJjZA== Y\x00Q\x00B\x00i\x00A\x00G\x00M\x00A\x00Z\x00A\x00A\x00=\x00 ")
	b.WriteString("O&JgP&wURqxmP&E= ") // "hello world", custom alphabet
	b.WriteString("GET /index.html HTTP/1.1\r\nHost: example.com\r\n")
	return b.Bytes()
}()

var modRules = []string{
	`$a = "hello"`,
	`$a = "hello" nocase`,
	`$a = "hello" wide`,
	`$a = "hello" wide ascii`,
	`$a = "hello" nocase wide`,
	`$a = "hello" nocase wide ascii`,
	`$a = "hello" fullword`,
	`$a = "hello" fullword nocase`,
	`$a = "hello" fullword wide`,
	`$a = "hello" fullword wide ascii nocase`,
	`$a = "hello" xor`,
	`$a = "hello" xor(1)`,
	`$a = "hello" xor(0x20-0x7f)`,
	`$a = "hello" xor wide`,
	`$a = "hello" xor wide ascii`,
	`$a = "hello" xor fullword`,
	`$a = "hello world" base64`,
	`$a = "hello world" base64wide`,
	`$a = "hello world" base64 base64wide`,
	`$a = "hello world" base64("!@#$%^&*(){}ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")`,
	`$a = "ello world" base64`,
	`$a = "abcd" base64 wide`,
	`$a = "abcd" base64 wide ascii`,
	`$a = "abcd" base64wide wide`,
	`$a = "abcd" base64 base64wide wide ascii`,
	`$a = "llo world" base64`,
	`$a = "Hello world!" base64`,
	`$a = "aa"`,
	`$a = "abab"`,
	`$a = "a"`,
	`$a = "hello" private`,
	`$a = "o\x00"`,
	`$a = { 68 65 6C 6C 6F }`,
	`$a = { 68 ?? 6C [1-2] 6F }`,
	`$a = { 68 ( 65 | 45 ) 6C }`,
	`$a = /hel+o/`,
	`$a = /hello/i`,
	`$a = /hel+o/ wide`,
	`$a = /hel+o/ nocase fullword`,
	`$a = /ab+/`,
	`$a = /HTTP\/1\.[01]\r\n/`,
	`$a = /Host: [a-z.]+/`,
}

func TestModifiersAgainstYara(t *testing.T) {
	for _, s := range modRules {
		src := "rule r { strings: " + s + " condition: any of them }"
		t.Run(s, func(t *testing.T) {
			checkAgainstYara(t, src, modData, ScanOptions{})
		})
	}
}

func TestFastModeAgainstYara(t *testing.T) {
	for _, cond := range []string{"$a", "#a > 1", "$a at 6", "any of them", "for any i in (1..#a) : (@a[i] > 0)",
		"@a[2] > 0 or $b", "for any of them : (# > 1)", "all of them", "$a in (10..100) and $b", "!a[1] == 5 and $b",
		"for all of ($a, $b) : ($ in (0..1000))", "2 of them in (0..1000)"} {
		src := `rule r { strings: $a = "hello" nocase $b = { 68 ?? 6C } condition: ` + cond + ` and ($b or true) }`
		checkAgainstYara(t, src, modData, ScanOptions{FastMode: true}, "-f")
	}
}

func TestMatchDataCap(t *testing.T) {
	long := strings.Repeat("abcdefghij", 70)
	data := []byte("xx" + long + "yy")
	r, err := Compile(`rule r { strings: $a = "` + long + `" condition: $a }`)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.NewScanner().ScanBytes(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Matching[0].Strings[0].Matches[0]
	if m.Length != 700 || len(m.Data) != MaxMatchData || m.Offset != 2 {
		t.Errorf("got offset %d length %d data %d", m.Offset, m.Length, len(m.Data))
	}
	checkAgainstYara(t, `rule r { strings: $a = "`+long+`" condition: $a }`, data, ScanOptions{})
}

func TestXorKey(t *testing.T) {
	r, err := Compile(`rule r { strings: $a = "hello" xor(0x20-0x7f) condition: $a }`)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.NewScanner().ScanBytes(context.Background(), modData)
	if err != nil {
		t.Fatal(err)
	}
	var keys []int
	for _, m := range res.Matching[0].Strings[0].Matches {
		keys = append(keys, m.XorKey)
	}
	if len(keys) != 3 || keys[0] != 0x20 || keys[1] != 0x20 || keys[2] != 0x7f {
		t.Errorf("xor keys %v, want [32 32 127]", keys)
	}
}

func TestMatchLimit(t *testing.T) {
	data := bytes.Repeat([]byte("a"), 100)
	r, err := Compile(`rule r { strings: $a = "a" condition: #a == 10 }`)
	if err != nil {
		t.Fatal(err)
	}
	s := r.NewScanner()
	s.SetOptions(ScanOptions{MaxMatchesPerString: 10})
	res, err := s.ScanBytes(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Matching) != 1 || len(res.Warnings) != 1 {
		t.Errorf("matching %d warnings %v", len(res.Matching), res.Warnings)
	}
}

// TestChainedHexAgainstYara: hex strings with jumps over 200 bytes are
// split and chained as in yara, so matches may span more than the regex
// scan limit.
func TestChainedHexAgainstYara(t *testing.T) {
	var d []byte
	d = append(d, "xxAB"...)
	d = append(d, bytes.Repeat([]byte("z"), 300)...)
	d = append(d, "CDyyAB"...)
	d = append(d, bytes.Repeat([]byte("q"), 5000)...)
	d = append(d, "CDAB"...)
	d = append(d, bytes.Repeat([]byte("q"), 6000)...)
	d = append(d, "CD EF"...)
	for _, s := range []string{
		`$a = { 41 42 [250-5500] 43 44 }`,
		`$a = { 41 42 [-] 43 44 }`,
		`$a = { 41 42 [0-300] 43 44 }`,
		`$a = { 41 42 [201-] 43 44 [0-300] 45 46 }`,
		`$a = { 41 42 [10-20] 43 44 }`,
		`$a = { 79 79 41 42 [-] 43 44 20 45 }`,
	} {
		checkAgainstYara(t, "rule r { strings: "+s+" condition: $a and for all i in (1..#a) : (!a[i] > 0) }", d, ScanOptions{})
		checkAgainstYara(t, "rule r { strings: "+s+" condition: !a[1] > 4096 }", d, ScanOptions{})
	}
}

// TestDefaultMatchLimit: yara stops recording a string at 1,000,000
// matches and warns (yara: #a == 1000000 holds on this input).
func TestDefaultMatchLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("1.2 MB scan")
	}
	data := bytes.Repeat([]byte("a"), 1200000)
	r, err := Compile(`rule r { strings: $a = "aa" condition: #a == 1000000 }`)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.NewScanner().ScanBytes(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Matching) != 1 || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "too many matches for $a") {
		t.Errorf("matching %d warnings %q", len(res.Matching), res.Warnings)
	}
}

// TestFixedOffsetAgainstYara: when every use of a string is `at` one
// constant, yara looks for literal strings only there (and reports only
// that match); non-literal hex strings and regexes are searched everywhere.
func TestFixedOffsetAgainstYara(t *testing.T) {
	data := []byte("\x62\x0a\x31\xa2 \x0a\x31\xa2 ab abx")
	for _, s := range []string{`{ 0A 31 ?2 }`, `{ 0A 31 A2 }`, `/\x0a1\xa2/`, `/\x0a1./`, `{ 0A 31 [0-1] A2 }`,
		`"ab" nocase`, `"ab" wide ascii`, `"ab" xor(0-1)`, `"ab" fullword`, `/ab/`, `/ab/ nocase`, `/ab/ wide`,
		`{ 61 62 }`, `{ 61 ( 62 | 63 ) }`, `/a[b]/`, `/a/`, `/(ab)/`} {
		for _, cond := range []string{"$a at 100 or true", "$a at 9 and $a at 9", "$a at 9 or $a at 12"} {
			checkAgainstYara(t, "rule r { strings: $a = "+s+" condition: "+cond+" }", data, ScanOptions{})
		}
	}
}

// TestChainedHexHostile: chains over data full of piece matches stay
// linear-ish (each piece match is extended once).
func TestChainedHexHostile(t *testing.T) {
	data := bytes.Repeat([]byte("A"), 200000)
	r, err := Compile(`rule r { strings: $a = { 41 [-] 41 [300-] 41 [-] 41 } condition: #a > 0 }`)
	if err != nil {
		t.Fatal(err)
	}
	s := r.NewScanner()
	s.SetOptions(ScanOptions{Timeout: 20 * time.Second})
	res, err := s.ScanBytes(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Matching) != 1 {
		t.Fatal("no match")
	}
	m := res.Matching[0].Strings[0].Matches
	// yara 4.2.3 agrees on 20,000 bytes (19,697 matches of 304 bytes), in
	// 16 s; compare on a smaller input.
	if len(m) != 200000-303 || m[0].Length != 304 {
		t.Errorf("%d matches, first length %d", len(m), m[0].Length)
	}
	checkAgainstYara(t, `rule r { strings: $a = { 41 [-] 41 [300-] 41 [-] 41 } condition: #a > 0 }`, data[:1000], ScanOptions{})
}
