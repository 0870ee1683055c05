package lint

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vigil/yara/syntax"
)

func classifyFile(t *testing.T, name string) Report {
	t.Helper()
	p := filepath.Join("testdata", name)
	src, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ClassifySource(p, src)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	if len(rep.Rules) == 0 {
		t.Fatalf("%s: no rules classified", p)
	}
	return rep
}

// checkAll asserts that every public rule of the file has class want, and
// that every verdict explains itself.
func checkAll(t *testing.T, name string, want Class) Report {
	t.Helper()
	rep := classifyFile(t, name)
	for _, v := range rep.Rules {
		if len(v.Reasons) == 0 {
			t.Errorf("%s: rule %s: no reasons", name, v.Rule)
		}
		if v.Line <= 0 || v.Namespace != DefaultNamespace || v.File == "" {
			t.Errorf("%s: rule %s: bad position/namespace: %+v", name, v.Rule, v)
		}
		if v.Private {
			continue
		}
		if v.Class != want {
			t.Errorf("%s:%d: rule %s: class %s, want %s\n  %s", name, v.Line, v.Rule, v.Class, want, strings.Join(v.Reasons, "\n  "))
		}
	}
	if rep.Class != want {
		t.Errorf("%s: rule set class %s, want %s (%v)", name, rep.Class, want, rep.Reasons)
	}
	return rep
}

func TestDocumentRules(t *testing.T) {
	rep := checkAll(t, "document_rules.yar", Document)
	if n := len(rep.Documents()); n < 10 {
		t.Errorf("only %d document rules, want at least 10", n)
	}
}

func TestDisguisedKeywordSearches(t *testing.T) {
	rep := checkAll(t, "disguised_rules.yar", Document)
	if n := len(rep.Documents()); n < 17 {
		t.Errorf("only %d document rules, want at least 15", n)
	}
}

func TestCodeRules(t *testing.T) {
	checkAll(t, "code_rules.yar", Code)
}

// TestKnownMisses pins the disguises the linter does not catch (see the
// package documentation), so that the documentation stays true.
func TestKnownMisses(t *testing.T) {
	checkAll(t, "known_misses.yar", Code)
}

func reasonsOf(t *testing.T, rep Report, rule string) string {
	t.Helper()
	for _, v := range rep.Rules {
		if v.Rule == rule {
			return strings.Join(v.Reasons, "\n")
		}
	}
	t.Fatalf("rule %s not in report", rule)
	return ""
}

func TestReasonsExplain(t *testing.T) {
	doc := classifyFile(t, "disguised_rules.yar")
	code := classifyFile(t, "code_rules.yar")
	global := checkAll(t, "global_rule.yar", Document)
	cases := []struct {
		rep  Report
		rule string
		want []string
	}{
		{doc, "filesize_bound", []string{"plain words alone", `"Operation Nightfall"`, "filesize limit"}},
		{doc, "optional_hex", []string{"optional", "$a"}},
		{doc, "words_in_hex", []string{"hex string spelling", `"Nightfall"`}},
		{doc, "words_in_utf16_hex", []string{"UTF-16"}},
		{doc, "required_junk_hex", []string{"$a"}},
		{doc, "zip_magic_in_hex", []string{"zip header", "plain words alone"}},
		{global, "global_keyword_filter_target", []string{"global rule global_keyword_filter"}},
		{code, "ransomware_note_in_pe", []string{"only count together", "MZ"}},
		{code, "pe_imports_injection", []string{"pe module"}},
		{code, "shellcode_at_entrypoint", []string{"entrypoint"}},
		{code, "mutex_and_c2", []string{"code-like text"}},
	}
	for _, c := range cases {
		got := reasonsOf(t, c.rep, c.rule)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("rule %s: reasons lack %q:\n%s", c.rule, w, got)
			}
		}
	}
}

func TestRuleSetLevel(t *testing.T) {
	parse := func(name, src string) *syntax.File {
		f, err := syntax.Parse(name, []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	codeSrc, err := os.ReadFile(filepath.Join("testdata", "code_rules.yar"))
	if err != nil {
		t.Fatal(err)
	}
	code := parse("code.yar", string(codeSrc))
	// One keyword rule hidden in a malware rule set makes it a document search.
	hidden := parse("hidden.yar", `rule looks_harmless { strings: $a = "Operation Nightfall" nocase condition: $a }`)
	rep := Classify(code, hidden)
	if rep.Class != Document || len(rep.Documents()) != 1 || rep.Documents()[0].Rule != "looks_harmless" {
		t.Errorf("hidden keyword rule: got %s %+v", rep.Class, rep.Documents())
	}
	if rep.Documents()[0].File != "hidden.yar" {
		t.Errorf("file of hidden rule: %q", rep.Documents()[0].File)
	}
	// A private keyword rule that no public rule uses cannot report anything.
	unused := parse("unused.yar", `private rule unused_words { strings: $a = "Nightfall" condition: $a }`)
	if rep := Classify(code, unused); rep.Class != Code {
		t.Errorf("unused private keyword rule: got %s %v", rep.Class, rep.Reasons)
	}
	// ...but a public rule using it across files is a document search.
	user := parse("user.yar", `rule user { condition: unused_words and filesize < 1MB }`)
	if rep := Classify(code, unused, user); rep.Class != Document {
		t.Errorf("rule using a private keyword rule: got %s", rep.Class)
	}
	// A rule referencing a code rule stays code.
	ref := parse("ref.yar", `rule ref { condition: api_names or pe_imports_injection }`)
	if rep := Classify(code, ref); rep.Class != Code {
		t.Errorf("reference to code rules: got %s %v", rep.Class, rep.Documents())
	}
	// `any of (rules)` over a keyword rule.
	anyOf := parse("anyof.yar", `private rule kw { strings: $a = "Nightfall" condition: $a }
rule any_rule { condition: any of (kw, api_names) }`)
	if rep := Classify(code, anyOf); rep.Class != Document {
		t.Errorf("any of (rules) with a keyword rule: got %s", rep.Class)
	}
	if rep := Classify(); rep.Class != Code || len(rep.Rules) != 0 || len(rep.Reasons) == 0 {
		t.Errorf("empty rule set: %+v", rep)
	}
}

func TestParseError(t *testing.T) {
	if _, err := ClassifySource("bad.yar", []byte(`rule x { strings: $a = "x condition: $a }`)); err == nil {
		t.Error("no error for a broken rule")
	}
}

func TestConditionCases(t *testing.T) {
	cases := []struct {
		cond string
		want Class
	}{
		{`$w`, Document},
		{`$h`, Code},
		{`$w and $h`, Code},
		{`$w or $h`, Document},
		{`not $h and $w`, Document},
		{`not ($h or not $w)`, Document}, // = not $h and $w
		{`not (not $h or not $w)`, Code}, // = $h and $w
		{`#w == 0 and $h`, Code},
		{`#w >= 2`, Document},
		{`#w < 1 and $h`, Code},
		{`not (#w < 1)`, Document},
		{`all of them`, Code},
		{`2 of ($w, $w2, $h)`, Document},
		{`3 of ($w, $w2, $h)`, Code},
		{`50% of them`, Document},
		{`none of them`, Code},
		{`not (none of ($w))`, Document},
		{`false and $w`, Code},
		{`true`, Code},
		{`filesize < 1MB`, Code},
		{`$w at 0`, Document},
		{`$w at entrypoint`, Code},
		{`$w in (0..100) and uint16(0) == 0x5A4D`, Code},
		{`$w and uint32(0) == 0x464C457F`, Code},
		{`$w and uint16(0) != 0x5A4D`, Document},
		{`$w and uint8(0) == 0x4D`, Document},
		{`$w and uint32(0) == 0x46445025`, Document},
		{`@w[1] < 100`, Document},
		{`!w > 3 and $h`, Code},
		{`for any i in (1..#w) : ( @w[i] > 10 )`, Document},
		{`for all of ($w, $w2) : ( $ )`, Document},
		{`for any of ($h, $w) : ( $ at 0 )`, Document},
		{`for all of ($h, $w) : ( $ )`, Code},
		{`for any i in (0..pe.number_of_sections) : ( $w )`, Code},
		{`pe.is_pe and $w`, Code},
		{`magic.mime_type() == "application/pdf"`, Document},
		{`magic.type() contains "PE32 executable" and $w`, Code},
	}
	for _, c := range cases {
		src := fmt.Sprintf(`import "pe"
import "magic"
rule r { strings: $w = "Nightfall" nocase $w2 = "Sunrise" $h = { 8B 45 08 89 04 24 E8 } condition: %s }`, c.cond)
		rep, err := ClassifySource("c.yar", []byte(src))
		if err != nil {
			t.Errorf("%s: %v", c.cond, err)
			continue
		}
		if rep.Class != c.want {
			t.Errorf("%s: got %s, want %s: %v", c.cond, rep.Class, c.want, rep.Rules[0].Reasons)
		}
	}
}

func TestClassifyText(t *testing.T) {
	cases := []struct {
		text   string
		nocase bool
		want   uint8
	}{
		{"Operation Nightfall", false, needWord},
		{"classified", true, needWord},
		{"it's the 2nd draft, isn't it?", false, needWord},
		{"Zürich Übereinkunft", false, needWord},
		{"jane.doe@example.org", false, needWord},
		{"%PDF-1.7", false, needDoc},
		{"Subject: Nightfall", false, needDoc | needWord},
		{"VirtualAllocEx", false, needCode},
		{"virtualallocex", true, 0 | needWord}, // case given up: reads as a word
		{"kernel32", false, needCode},
		{"cmd.exe /c del", false, needCode},
		{"C:\\Windows\\Temp", false, needCode},
		{"http://x.example/a", false, needCode},
		{"%s\\%d.tmp", false, needCode},
		{"vssadmin delete shadows", false, needCode},
		{"powershell -nop", false, needCode},
		{"GetProcAddress", true, needCode},
		{"\x00\x01\x02MZ", false, needCode},
		{"This program cannot be run in DOS mode", false, needCode},
		{"ab", false, 0},
		{"1234-5678", false, 0},
		{"N\x00i\x00g\x00h\x00t\x00", false, needWord},
		{".exe", false, needCode},
		{"Invoke-Mimikatz", true, needCode},
		{"lsadump::dcsync", true, needCode},
		{",pty,stderr,setsid", true, needCode},
		{"connect to 10.0.0.1 now", false, needCode},
		{"echo set the flag", false, needCode},
		{"class Payload:", false, needCode},
		{`;$x="jane@example.org"`, false, needCode},
		{`"dependencies":`, false, needCode},
		{"Enable Editing", false, needWord},
		{"All your files have been encrypted", true, needWord},
	}
	for _, c := range cases {
		got, why := classifyText([]byte(c.text), c.nocase)
		if got != c.want {
			t.Errorf("%q (nocase %v): got %d (%s), want %d", c.text, c.nocase, got, why, c.want)
		}
	}
}

func TestHexCase(t *testing.T) {
	parse := func(src string) uint8 {
		f, err := syntax.Parse("h.yar", []byte(`rule r { strings: $h = `+src+` condition: $h }`))
		if err != nil {
			t.Fatal(err)
		}
		return classifyString(f.Decls[0].(*syntax.Rule).Strings[0]).mask
	}
	// Hex bytes match exactly: "NightFall" in hex is an identifier...
	if m := parse(`{ 4E 69 67 68 74 46 61 6C 6C }`); m != needCode {
		t.Errorf("exact-case camel hex: mask %d", m)
	}
	// ...unless alternations give case up.
	if m := parse(`{ (4E|6E) 69 67 68 74 (46|66) 61 6C 6C }`); m != needWord {
		t.Errorf("case-alternated hex: mask %d", m)
	}
	if m := parse(`{ 0D 0A 0D 0A 2D 2D 20 }`); m != 0 {
		t.Errorf("whitespace and dashes in hex: mask %d", m)
	}
	if m := parse(`{ 50 4B 03 04 }`); m != 0 {
		t.Errorf("zip header hex: mask %d", m)
	}
	if m := parse(`{ 25 50 44 46 2D }`); m != needDoc {
		t.Errorf("%%PDF hex: mask %d", m)
	}
}

// TestAtLeast compares the `n of` computation with trying every subset.
func TestAtLeast(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for iter := 0; iter < 300; iter++ {
		k := 1 + rng.Intn(6)
		items := make([]paths, k)
		for i := range items {
			for m := 0; m < numMasks; m++ {
				if rng.Intn(4) == 0 {
					items[i].has[m] = true
				}
			}
		}
		n := rng.Intn(k + 2)
		var want [numMasks]bool
		// Every subset of exactly n items, each contributing one of its
		// masks (larger subsets only add evidence, so they are left out of
		// the set, as in atLeast).
		for sub := 0; sub < 1<<k; sub++ {
			var chosen []paths
			for i := 0; i < k; i++ {
				if sub&(1<<i) != 0 {
					chosen = append(chosen, items[i])
				}
			}
			if len(chosen) != n {
				continue
			}
			acc := always()
			for _, c := range chosen {
				acc = and(acc, c)
			}
			for m := range acc.has {
				want[m] = want[m] || acc.has[m]
			}
		}
		got := atLeast(n, items)
		if got.has != want {
			t.Fatalf("iter %d: atLeast(%d) = %v, want %v", iter, n, got.has, want)
		}
	}
}

// TestHugeConditionIsBounded checks that nested loops over many strings
// stop at the work budget and come out as a (cautious) document verdict.
func TestHugeConditionIsBounded(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("rule big { strings:\n")
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&sb, "$h%d = { 8B 45 %02X 89 04 24 E8 }\n", i, i%256)
	}
	sb.WriteString("condition: ")
	depth := 60
	for i := 0; i < depth; i++ {
		fmt.Fprintf(&sb, "for any i%d in (0..#h%d) : ( ", i, i)
	}
	sb.WriteString("$h1 or $h2")
	sb.WriteString(strings.Repeat(" )", depth))
	sb.WriteString(" and all of them }\n")
	rep, err := ClassifySource("big.yar", []byte(sb.String()))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Class != Code {
		t.Errorf("big binary rule: got %s %v", rep.Class, rep.Rules[0].Reasons)
	}
}
