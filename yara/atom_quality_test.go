package yara

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"vigil/yara/internal/re"
)

// slowCases lists strings and whether yara 4.2.3 warns that they "may slow
// down scanning". TestSlowWarning checks the table against yara when it is
// installed.
var slowCases = []struct {
	str   string
	warns bool
}{
	{`{ 77 6F 72 6C }`, false},
	{`{ 4D 5A }`, false},
	{`{ 4D }`, true},
	{`{ 00 00 00 00 }`, true},
	{`{ 90 90 90 90 }`, false},
	{`{ 4D ?? 5A }`, true},
	{`{ 4D 5A ?? ?? 50 45 }`, false},
	{`{ 4? 5A }`, true},
	{`{ 4D 5A 4? }`, false},
	{`{ ?1 ?2 ?3 ?4 }`, true},
	{`{ 4D [2] 5A }`, true},
	{`{ 4D 5A [0-4] 50 45 }`, false},
	{`{ 4D 5A [300] 50 }`, true},
	{`{ 4D 5A [300] 50 45 }`, false},
	{`{ (4D | 5A) }`, true},
	{`{ (4D 5A | 50 45) }`, false},
	{`{ 4D (5A | 50) }`, true},
	{`{ ( 01 | 02 ) ( 03 | 04 ) }`, true},
	{`{ E8 ?? ?? ?? ?? 83 C4 }`, false},
	{`{ E8 ?? ?? ?? ?? }`, true},
	{`{ 6A 40 68 00 30 00 00 }`, false},
	{`{ 20 20 20 20 }`, true},
	{`{ 00 61 }`, true},
	{`"a"`, true},
	{`"ab"`, false},
	{`"abcd"`, false},
	{`"aaaa"`, false},
	{`"\x00\x00"`, true},
	{`"\x00\x01"`, true},
	{`"\x00\x01\x02"`, false},
	{`"  "`, true},
	{`"\x90\x90\x90\x90"`, false},
	{`"\x00\x00\x00\x00\x00\x00\x00\x01"`, false},
	{`"ab" wide`, false},
	{`"a" wide`, true},
	{`"  " wide`, true},
	{`"\x00\x00a" wide`, true},
	{`"\x00\x00a" ascii wide`, true},
	{`"ab" nocase`, false},
	{`"aA" nocase`, false},
	{`"\x00a" nocase`, true},
	{`"ab" xor`, true},
	{`"abc" xor`, false},
	{`"  " xor(1-2)`, true},
	{`"1a" xor`, true},
	{`"ab" base64`, false},
	{`"abc" base64`, false},
	{`"abcd" base64wide`, false},
	{`/a/`, true},
	{`/ab/`, false},
	{`/abc/ wide`, false},
	{`/a.c/`, true},
	{`/a.c/ wide`, true},
	{`/ab?c/`, true},
	{`/x(a|b)y/`, true},
	{`/(abc|de)fg/`, false},
	{`/[ab][cd][ef]/`, true},
	{`/hello\s+world/`, false},
	{`/MZ.{1,4}PE/`, false},
	{`/a{4}/`, false},
	{`/\x4d\x5a/`, false},
	{`/\w\w\w\w/`, true},
	{`/foo(bar)?/`, false},
	{`/.+abc/`, false},
	{`/(ab)+/`, false},
	{`"Z" base64`, true},
}

func TestSlowWarning(t *testing.T) {
	var lines []string
	for i, c := range slowCases {
		src := fmt.Sprintf("rule r%d { strings: $a = %s condition: $a }", i, c.str)
		lines = append(lines, src)
		comp := NewCompiler()
		if err := comp.AddSource("r.yar", []byte(src), ""); err != nil {
			t.Fatalf("%s: %v", c.str, err)
		}
		warned := false
		for _, d := range comp.Diagnostics() {
			if d.Code == CodeSlowString {
				warned = true
			}
		}
		if warned != c.warns {
			t.Errorf("%s: vigil warns %v, yara %v", c.str, warned, c.warns)
		}
	}
	if !haveYara() {
		t.Skip("yara not installed: table not rechecked")
	}
	p := filepath.Join(t.TempDir(), "r.yar")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(yaraPath, p, p).CombinedOutput()
	yaraWarns := map[int]bool{}
	for _, m := range regexp.MustCompile(`\((\d+)\): string "\$a" may slow down scanning`).FindAllStringSubmatch(string(out), -1) {
		var n int
		fmt.Sscan(m[1], &n)
		yaraWarns[n-1] = true
	}
	if strings.Contains(string(out), "error") {
		t.Fatalf("yara: %s", out)
	}
	for i, c := range slowCases {
		if yaraWarns[i] != c.warns {
			t.Errorf("%s: table says %v, yara warns %v", c.str, c.warns, yaraWarns[i])
		}
	}
}

// TestSlowWarningBounded checks that modelling yara's atom choice stays
// bounded on nested counted repeats, which multiply the work (4^16 steps
// without the bound: the test would not end).
func TestSlowWarningBounded(t *testing.T) {
	n, err := re.Parse(strings.Repeat("(", 16)+"ab"+strings.Repeat("){4}", 16), re.Flags{})
	if err != nil {
		t.Fatal(err)
	}
	if q := patternQuality(n, false); q < atomQualityWarning {
		t.Errorf("quality %d: the atom \"abab\" is good", q)
	}
}
