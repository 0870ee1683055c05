package difftest

import (
	"reflect"
	"strings"
	"testing"
)

// TestParseYaraOutput parses output recorded from yara 4.2.3:
//
//	yara -s -L -e -w -p 1 --scan-list ns1:p.yar plist
//
// with p.yar holding
//
//	rule one : t { strings: $a = "a: b" $ = { 00 78 } condition: any of them }
//	rule two { condition: filesize == 2 }
//
// and the files p1 = "a: b\x00x\n" and p2 = "zz".
func TestParseYaraOutput(t *testing.T) {
	const out = "ns1:one /tmp/dt/p1\n" +
		"0x0:4:$a: a: b\n" +
		"0x4:2:$: 00 78\n" +
		"ns1:two /tmp/dt/p2\n"
	got, err := ParseYaraOutput([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := []FileHits{
		{Path: "/tmp/dt/p1", Rules: []RuleHit{{Namespace: "ns1", Rule: "one", Strings: []StringHit{
			{ID: "$a", Offset: 0, Length: 4, Text: "a: b"},
			{ID: "$", Offset: 4, Length: 2, Text: "00 78"},
		}}}},
		{Path: "/tmp/dt/p2", Rules: []RuleHit{{Namespace: "ns1", Rule: "two"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}

	for _, bad := range []string{
		"0x0:4:$a: a\n",           // match before a rule
		"ns:r\n",                  // no file name
		"ns:r f\n0x0:$a: a\n",     // no length (yara without -L)
		"ns:r f\n0xZZ:1:$a: a\n",  // bad offset
		"ns:r f\n0x0:1:a: a\n",    // id without $
		"ns:r f\n0x0:one:$a: a\n", // bad length
	} {
		if _, err := ParseYaraOutput([]byte(bad)); err == nil {
			t.Errorf("ParseYaraOutput(%q) succeeded", bad)
		}
	}
}

// TestRender checks the data renderings against what yara 4.2.3 printed
// in manual runs: `\x0A\x0D\x09\"` for the text match "\n\r\t\\\"",
// "0A 0D 09 5C" for a hex match of "\n\r\t\\", and for hex matches longer
// than 64 bytes the first 64 bytes then " ...".
func TestRender(t *testing.T) {
	for _, tc := range []struct {
		data     []byte
		esc, hex string
	}{
		{[]byte("\n\r\t\\\""), `\x0A\x0D\x09\"`, "0A 0D 09 5C 22"},
		{[]byte("a: b\x00\xff~"), `a: b\x00\xFF~`, "61 3A 20 62 00 FF 7E"},
		{[]byte{}, "", ""},
	} {
		if got := escapeData(tc.data); got != tc.esc {
			t.Errorf("escapeData(%q) = %q, want %q", tc.data, got, tc.esc)
		}
		if got := hexData(tc.data); got != tc.hex {
			t.Errorf("hexData(%q) = %q, want %q", tc.data, got, tc.hex)
		}
	}
	long := make([]byte, 65)
	for i := range long {
		long[i] = 'a'
	}
	h := hexData(long)
	if len(h) != 64*3-1+4 || h[len(h)-4:] != " ..." {
		t.Errorf("hexData(65 bytes) = %q", h)
	}
	if hexData(long[:64])[len(hexData(long[:64]))-2:] != "61" {
		t.Errorf("hexData(64 bytes) is truncated")
	}
}

// TestRenderHits checks that an engine's data is rendered the way yara
// rendered the same string (hex or escaped), even at another offset.
func TestRenderHits(t *testing.T) {
	yh := []RuleHit{{Namespace: "n", Rule: "r", Strings: []StringHit{
		{ID: "$h", Offset: 0, Length: 2, Text: "61 62"},
		{ID: "$t", Offset: 0, Length: 2, Text: "ab"},
	}}}
	oh := []RuleHit{{Namespace: "n", Rule: "r", Strings: []StringHit{
		{ID: "$h", Offset: 0, Length: 2, Data: []byte("ab")},
		{ID: "$h", Offset: 5, Length: 1, Data: []byte("a")},
		{ID: "$t", Offset: 0, Length: 2, Data: []byte("ab")},
	}}}
	got := renderHits(oh, yaraTexts(yh))
	want := "n:r [] []\n  0x0:2:$h: 61 62\n  0x5:1:$h: 61\n  0x0:2:$t: ab\n"
	if got != want {
		t.Errorf("renderHits = %q, want %q", got, want)
	}
	// Two anonymous strings, one hex and one text, at the same place.
	anon := []RuleHit{{Namespace: "n", Rule: "r", Strings: []StringHit{
		{ID: "$", Offset: 0, Length: 1, Text: "2E"}, {ID: "$", Offset: 0, Length: 1, Text: "."}}}}
	oanon := []RuleHit{{Namespace: "n", Rule: "r", Strings: []StringHit{
		{ID: "$", Offset: 0, Length: 1, Data: []byte(".")}, {ID: "$", Offset: 0, Length: 1, Data: []byte(".")}}}}
	if a, b := renderHits(anon, nil), renderHits(oanon, yaraTexts(anon)); a != b || a != "n:r [] []\n  0x0:1:$: 2E\n  0x0:1:$: .\n" {
		t.Errorf("anonymous strings: yara %q, other %q", a, b)
	}
	if y := renderHits(yh, nil); y != "n:r [] []\n  0x0:2:$h: 61 62\n  0x0:2:$t: ab\n" {
		t.Errorf("renderHits(yara) = %q", y)
	}
}

// TestTagsAndMeta parses and renders tags and meta as yara 4.2.3 -g -m
// printed them for
//
//	rule a : t1 t2 { meta: x = 1 s = "a b\"c\\d\n,]" b = true f = false n = -5 e = "" condition: true }
//	rule b { condition: true }
//	rule a { meta: s = "\t\x01\xff'q\r" z = "ab\x00cd" h = 0x10 condition: true }
//	rule a { meta: s = "\x07\x08\x0b\x0c\x1b\x7f\x80 ~" condition: true }
func TestTagsAndMeta(t *testing.T) {
	for _, tc := range []struct {
		line   string
		tags   []string
		keys   []string
		values []any
	}{
		{`default:a [t1,t2] [x =1,s="a b\"c\\d\n,]",b=true,f=false,n =-5,e=""] in1`,
			[]string{"t1", "t2"}, []string{"x", "s", "b", "f", "n", "e"},
			[]any{int64(1), "a b\"c\\d\n,]", true, false, int64(-5), ""}},
		{`default:b [] [] in1`, nil, nil, nil},
		{`default:a [] [s="\t\001\377\'q\r",z="ab",h =16] in1`, nil,
			[]string{"s", "z", "h"}, []any{"\t\x01\xff'q\r", "ab\x00cd", int64(16)}},
		{`default:a [] [s="\a\b\v\f\033\177\200 ~"] in1`, nil,
			[]string{"s"}, []any{"\x07\x08\x0b\x0c\x1b\x7f\x80 ~"}},
	} {
		h, path, err := parseRuleLine(tc.line)
		if err != nil || path != "in1" {
			t.Errorf("parseRuleLine(%q) = %v, %q", tc.line, err, path)
			continue
		}
		if got := strings.Join(tc.tags, ","); h.Tags != got {
			t.Errorf("tags of %q = %q, want %q", tc.line, h.Tags, got)
		}
		if got := metaText(tc.keys, tc.values); h.Meta != got {
			t.Errorf("meta of %q: yara %q, rendered %q", tc.line, h.Meta, got)
		}
	}
	for _, bad := range []string{"ns:r [t1 f", "ns:r [] x f", "ns:r [] [x f"} {
		if _, _, err := parseRuleLine(bad); err == nil {
			t.Errorf("parseRuleLine(%q) succeeded", bad)
		}
	}
}
