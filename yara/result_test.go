package yara

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"vigil/yara/module"
)

// TestNotMatchingStringsAgainstYara checks that rules that did not match
// carry the strings that did, as yara -n -s prints them.
func TestNotMatchingStringsAgainstYara(t *testing.T) {
	if !haveYara() {
		t.Skip("yara not installed")
	}
	data := []byte("hello world, hello")
	for _, src := range []string{
		`rule a { strings: $a = "hel" $b = "xyz" $h = { 6C 6C } condition: $a and $b and $h }`,
		`rule b { strings: $a = "hel" condition: $a and false }`,
		`rule c { strings: $a = "ell" $p = "wor" private condition: #a == 3 and $p }`,
		`global rule g { strings: $x = "zzz" condition: $x } rule d { strings: $a = "hel" condition: $a }`,
		`rule e { strings: $a = "nope" condition: $a }`,
		`rule f { strings: $a = /l+o/ condition: $a } rule g { strings: $a = "o" condition: #a > 5 }`,
	} {
		want, _, err := yaraScan(t, src, data, "-n")
		if err != nil {
			t.Fatal(err)
		}
		r, err := Compile(src)
		if err != nil {
			t.Fatal(err)
		}
		s := r.NewScanner()
		s.SetOptions(ScanOptions{CollectNotMatching: true})
		res, err := s.ScanBytes(context.Background(), data)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range res.NotMatching {
			got = append(got, m.Name)
			for _, ms := range m.Strings {
				for _, x := range ms.Matches {
					got = append(got, fmt.Sprintf("%s %s %d:%d", m.Name, ms.ID, x.Offset, len(x.Data)))
				}
			}
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s\nvigil:\n  %s\nyara -n:\n  %s", src, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
}

func TestMatchStringHex(t *testing.T) {
	r, err := Compile(`rule r { strings: $t = "ab" $h = { 61 62 } $x = /ab/ $j = { 61 [0-2] 62 } condition: any of them }`)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.NewScanner().ScanBytes(context.Background(), []byte("ab"))
	if err != nil || len(res.Matching) != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	want := map[string]bool{"$t": false, "$h": true, "$x": false, "$j": true}
	for _, s := range res.Matching[0].Strings {
		if s.Hex != want[s.ID] {
			t.Errorf("%s: Hex %v", s.ID, s.Hex)
		}
		delete(want, s.ID)
	}
	if len(want) > 0 {
		t.Errorf("strings not reported: %v", want)
	}
}

// TestModuleDataAgainstYara compares Result.Modules, printed with
// module.Dump, with the output of yara -D (whose rules never match, so
// that the module data is all it prints).
func TestModuleDataAgainstYara(t *testing.T) {
	srcs := [][2]string{
		{"n1", "import \"time\"\nimport \"math\"\nrule a { condition: false }"},
		{"n2", "import \"elf\"\nimport \"math\"\nrule b { condition: false }"},
		{"n3", "import \"hash\"\nimport \"dotnet\"\nimport \"console\"\nrule c { condition: false }"},
	}
	data := []byte("\x7fELF not quite an elf file")
	c := NewCompiler()
	for _, s := range srcs {
		if err := c.AddSource(s[0]+".yar", []byte(s[1]), s[0]); err != nil {
			t.Fatal(err)
		}
	}
	r, err := c.Rules()
	if err != nil {
		t.Fatal(err)
	}
	s := r.NewScanner()
	res, err := s.ScanBytes(context.Background(), data)
	if err != nil || res.Modules != nil {
		t.Fatalf("modules collected without CollectModuleData: %v %v", res.Modules, err)
	}
	s.SetOptions(ScanOptions{CollectModuleData: true})
	res, err = s.ScanBytes(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var got bytes.Buffer
	for _, m := range res.Modules {
		names = append(names, m.Name)
		if err := module.Dump(&got, m.Name, m.Type, m.Value); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Join(names, " "); n != "time math elf hash dotnet console" {
		t.Errorf("modules %q, want import order", n)
	}
	if !haveYara() {
		t.Skip("yara not installed")
	}
	dir := t.TempDir()
	args := []string{"-D"}
	for _, s := range srcs {
		p := filepath.Join(dir, s[0]+".yar")
		if err := os.WriteFile(p, []byte(s[1]), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, s[0]+":"+p)
	}
	df := filepath.Join(dir, "data")
	if err := os.WriteFile(df, data, 0o644); err != nil {
		t.Fatal(err)
	}
	want, err := exec.Command(yaraPath, append(args, df)...).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Errorf("module data:\n%s\nyara -D:\n%s", got.String(), want)
	}
}
