package yara

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRuleSemanticsAgainstYara covers global and private rules, rule
// references, rule sets and self references.
func TestRuleSemanticsAgainstYara(t *testing.T) {
	src := `
rule before { condition: true }
global rule g { condition: filesize > 1000 }
rule after { condition: true }
rule refs_g { condition: g }
rule refs_before { condition: before }
private rule p { condition: true }
rule refs_p { condition: p }
rule anyrules { condition: any of (before, after) }
rule allrules { condition: all of (b*, a*) }
rule self { condition: not self }
rule selfset { condition: any of (self*) }
`
	checkAgainstYara(t, src, []byte("small"), ScanOptions{})
	checkAgainstYara(t, src, bytes.Repeat([]byte{0}, 2000), ScanOptions{})
	checkAgainstYara(t, `
global rule g1 { strings: $a = "abc" condition: $a }
rule r { strings: $b = "b" condition: $b }
private rule q { strings: $c = "c" condition: $c }
rule s { condition: q and r }`, []byte("xxabcxx"), ScanOptions{})
}

func TestWildcardThenRule(t *testing.T) {
	_, err := Compile("rule a1 { condition: true }\nrule b { condition: any of (a*) }\nrule a2 { condition: true }")
	var ce *CompileError
	if !errors.As(err, &ce) || ce.Diagnostics[0].Code != CodeRuleSet || ce.Diagnostics[0].Line != 3 {
		t.Fatalf("got %v", err)
	}
}

func compileScan(t *testing.T, c *Compiler, data string) []string {
	t.Helper()
	r, err := c.Rules()
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.NewScanner().ScanBytes(context.Background(), []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range res.Matching {
		names = append(names, m.Namespace+":"+m.Name)
	}
	return names
}

// TestNamespaces: a failing global rule only affects its namespace, and
// the same rule name may be used in two namespaces (checked with
// `yara ns1:g.yar ns2:g2.yar`).
func TestNamespaces(t *testing.T) {
	c := NewCompiler()
	if err := c.AddSource("g.yar", []byte("global rule g { condition: filesize > 1000 }\nrule a { condition: true }"), "ns1"); err != nil {
		t.Fatal(err)
	}
	if err := c.AddSource("g2.yar", []byte("global rule g { condition: true }\nrule a { condition: true }"), "ns2"); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(compileScan(t, c, "hello"), " ")
	if got != "ns2:g ns2:a" {
		t.Errorf("got %q", got)
	}
	// Same name twice in one namespace is an error.
	if err := c.AddSource("g3.yar", []byte("rule a { condition: true }"), "ns2"); err == nil {
		t.Error("duplicate rule accepted")
	}
}

func TestIncludes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("sub/inc.yar", `include "../inc2.yar" rule inc { condition: inc2 }`)
	write("inc2.yar", `rule inc2 { condition: true }`)
	main := write("main.yar", `include "sub/inc.yar" rule top { condition: inc }`)
	c := NewCompiler()
	if err := c.AddFile(main, ""); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(compileScan(t, c, "x"), " "); got != "default:inc2 default:inc default:top" {
		t.Errorf("got %q", got)
	}
	// Save and Load do not touch the file system again.
	r, _ := c.Rules()
	var buf bytes.Buffer
	if err := r.Save(&buf); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(dir)
	r2, err := Load(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(r2.Info()) != 3 {
		t.Errorf("loaded %d rules", len(r2.Info()))
	}

	dir = t.TempDir()
	cyc := filepath.Join(dir, "a.yar")
	os.WriteFile(cyc, []byte(`include "b.yar"`), 0o644)
	os.WriteFile(filepath.Join(dir, "b.yar"), []byte(`include "a.yar"`), 0o644)
	c = NewCompiler()
	err = c.AddFile(cyc, "")
	var ce *CompileError
	if !errors.As(err, &ce) || ce.Diagnostics[0].Code != CodeIncludeCycle {
		t.Errorf("cycle: got %v", err)
	}
	c = NewCompiler()
	err = c.AddSource("x.yar", []byte(`include "/nonexistent/zz.yar"`), "")
	if !errors.As(err, &ce) || ce.Diagnostics[0].Code != CodeInclude {
		t.Errorf("missing include: got %v", err)
	}
}

func TestExternals(t *testing.T) {
	c := NewCompiler()
	for k, v := range map[string]any{"i": 5, "f": 1.5, "b": true, "s": "hello"} {
		if err := c.DefineVariable(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.DefineVariable("bad", []int{1}); err == nil {
		t.Error("slice accepted")
	}
	src := `rule r { condition: i == 5 and f > 1.0 and b and s contains "ell" }
rule r2 { condition: i == 6 }`
	if err := c.AddSource("e.yar", []byte(src), ""); err != nil {
		t.Fatal(err)
	}
	r, err := c.Rules()
	if err != nil {
		t.Fatal(err)
	}
	s := r.NewScanner()
	res, _ := s.ScanBytes(context.Background(), nil)
	if len(res.Matching) != 1 || res.Matching[0].Name != "r" {
		t.Errorf("defaults: %v", res.Matching)
	}
	if err := s.SetVariable("i", 6); err != nil {
		t.Fatal(err)
	}
	if err := s.SetVariable("i", "x"); err == nil {
		t.Error("type change accepted")
	}
	if err := s.SetVariable("nope", 1); err == nil {
		t.Error("unknown variable accepted")
	}
	res, _ = s.ScanBytes(context.Background(), nil)
	if len(res.Matching) != 1 || res.Matching[0].Name != "r2" {
		t.Errorf("after SetVariable: %v", res.Matching)
	}
	// Save/Load keeps the externals.
	var buf bytes.Buffer
	r.Save(&buf)
	r2, err := Load(&buf)
	if err != nil {
		t.Fatal(err)
	}
	res, _ = r2.NewScanner().ScanBytes(context.Background(), nil)
	if len(res.Matching) != 1 || res.Matching[0].Name != "r" {
		t.Errorf("loaded: %v", res.Matching)
	}
	if _, err := Load(strings.NewReader("garbage")); !errors.Is(err, ErrFormat) {
		t.Errorf("garbage: %v", err)
	}
}

func TestInfoAndImports(t *testing.T) {
	r, err := Compile(`import "hash"
private rule p : t1 { meta: a = "x" b = 3 c = true condition: true }
global rule g { condition: true }`)
	if err != nil {
		t.Fatal(err)
	}
	info := r.Info()
	if len(info) != 2 || !info[0].Private || !info[1].Global || info[0].Tags[0] != "t1" ||
		info[0].Meta[0].Value != "x" || info[0].Meta[1].Value != int64(3) || info[0].Meta[2].Value != true {
		t.Errorf("info %+v", info)
	}
	if im := r.Imports(); len(im) != 1 || im[0] != "hash" {
		t.Errorf("imports %v", im)
	}
}

func TestWarnings(t *testing.T) {
	c := NewCompiler()
	c.AddSource("w.yar", []byte(`rule r { strings: $a = "x" $b = /a.*b/ $c = "abcd" condition: any of them and "s" }`), "")
	codes := map[string]bool{}
	for _, d := range c.Diagnostics() {
		if d.Severity == SeverityWarning {
			codes[d.Code] = true
		}
	}
	for _, want := range []string{CodeSlowString, CodeRegexDotStar, CodeStringAsBool} {
		if !codes[want] {
			t.Errorf("missing warning %s in %v", want, c.Diagnostics())
		}
	}
}

func TestCancellation(t *testing.T) {
	r, err := Compile(`rule r { condition: for all i in (0..100000000000) : (i >= 0) }`)
	if err != nil {
		t.Fatal(err)
	}
	s := r.NewScanner()
	s.SetOptions(ScanOptions{Timeout: 50 * time.Millisecond})
	if _, err := s.ScanBytes(context.Background(), []byte("x")); !errors.Is(err, ErrTimeout) {
		t.Errorf("timeout: got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.SetOptions(ScanOptions{})
	if _, err := s.ScanBytes(ctx, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancel: got %v", err)
	}
	// The scanner is reusable after an aborted scan.
	r2, _ := Compile(`rule r { strings: $a = "x" condition: $a }`)
	s2 := r2.NewScanner()
	if _, err := s2.ScanBytes(ctx, []byte("x")); err == nil {
		t.Error("cancelled context accepted")
	}
	res, err := s2.ScanBytes(context.Background(), []byte("x"))
	if err != nil || len(res.Matching) != 1 {
		t.Errorf("reuse: %v %v", res, err)
	}
}

func TestScanReaderAndFile(t *testing.T) {
	r, _ := Compile(`rule r { strings: $a = "needle" condition: $a }`)
	s := r.NewScanner()
	res, err := s.ScanReader(context.Background(), strings.NewReader("hay needle hay"))
	if err != nil || len(res.Matching) != 1 || res.Matching[0].Strings[0].Matches[0].Offset != 4 {
		t.Errorf("reader: %+v %v", res, err)
	}
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("needle"), 0o644)
	res, err = s.ScanFile(context.Background(), p)
	if err != nil || len(res.Matching) != 1 {
		t.Errorf("file: %+v %v", res, err)
	}
	if _, err := s.ScanFile(context.Background(), p+".missing"); err == nil {
		t.Error("missing file scanned")
	}
}

func TestExternalsAgainstYara(t *testing.T) {
	if !haveYara() {
		t.Skip("yara not installed")
	}
	cases := []struct {
		cond string
		vars map[string]any
		args []string
	}{
		{`i == 5 and f > 1.0 and b and s contains "ell"`, map[string]any{"i": 5, "f": 1.5, "b": true, "s": "hello"}, []string{"-d", "i=5", "-d", "f=1.5", "-d", "b=true", "-d", "s=hello"}},
		{`s`, map[string]any{"s": ""}, []string{"-d", "s="}},
		{`s`, map[string]any{"s": "x"}, []string{"-d", "s=x"}},
		{`f`, map[string]any{"f": 0.0}, []string{"-d", "f=0.0"}},
		{`f`, map[string]any{"f": 0.5}, []string{"-d", "f=0.5"}},
		{`i`, map[string]any{"i": 0}, []string{"-d", "i=0"}},
		{`not b`, map[string]any{"b": false}, []string{"-d", "b=false"}},
		{`s matches /^h.l+o$/`, map[string]any{"s": "hello"}, []string{"-d", "s=hello"}},
	}
	for _, tc := range cases {
		src := "rule r { condition: " + tc.cond + " }"
		want, _, err := yaraScan(t, src, []byte("data"), tc.args...)
		if err != nil {
			t.Fatal(err)
		}
		got, err := vigilScan(t, src, []byte("data"), ScanOptions{}, tc.vars)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s %v: vigil %v yara %v", tc.cond, tc.vars, got, want)
		}
	}
}

// TestConcurrentScanners shares one Rules between goroutines (run with
// -race).
func TestConcurrentScanners(t *testing.T) {
	r, err := Compile(`import "hash"
rule a { strings: $a = "hello" nocase $b = { 68 ?? 6C } $c = /w.rld/ condition: any of them and hash.md5(0, 5) != "" }
rule b { condition: for any i in (0..filesize-1) : (uint8(i) == 0x6f) }`)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 4)
	for g := 0; g < 4; g++ {
		go func() {
			s := r.NewScanner()
			out := ""
			for i := 0; i < 50; i++ {
				res, err := s.ScanBytes(context.Background(), []byte("say hello world"))
				if err != nil || len(res.Matching) != 2 {
					out = "bad"
				}
			}
			done <- out
		}()
	}
	for g := 0; g < 4; g++ {
		if x := <-done; x != "" {
			t.Error(x)
		}
	}
}
