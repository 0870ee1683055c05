package difftest

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	flagN     = flag.Int("difftest.n", 2000, "number of generated cases for TestDifferential")
	flagSeed  = flag.Uint64("difftest.seed", 1, "seed of the generated cases")
	flagKeep  = flag.String("difftest.keep", "", "directory to keep failing cases in")
	flagCase  = flag.Int("difftest.case", -1, "TestGenerate: print the generated case with this id")
	flagMaxLg = flag.Int("difftest.maxlog", 20, "how many mismatches TestDifferential prints in full")
)

func needYara(t *testing.T) *YaraEngine {
	t.Helper()
	if _, err := os.Stat(YaraPath); err != nil {
		t.Skipf("the reference %s is not installed (apt-get install yara): %v", YaraPath, err)
	}
	return NewYaraEngine(YaraPath)
}

// engineFeatures are the generator features used against Vigil. Every
// feature turned off here is a gap of the engine; see the report.
func engineFeatures() Features {
	f := AllFeatures()
	if h := os.Getenv("DIFFTEST_HUNT"); h != "" {
		// Known mismatch classes switched off, to find new ones; the
		// comma-separated names in DIFFTEST_HUNT stay on.
		on := func(name string) bool { return strings.Contains(","+h+",", ","+name+",") }
		f.ReversedRanges = on("ReversedRanges")
		f.ZeroOf = on("ZeroOf")
		f.DuplicateSetItems = on("DuplicateSetItems")
		f.ForNone = on("ForNone")
	}
	return f
}

// TestDifferential compares Vigil with yara on -difftest.n generated
// cases and fails on any difference.
func TestDifferential(t *testing.T) {
	y := needYara(t)
	opt := Options{Seed: *flagSeed, N: *flagN, Features: engineFeatures(), MaxShrink: *flagMaxLg,
		KeepDir: *flagKeep, Logf: t.Logf}
	rep, err := Run(y, VigilEngine{}, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep)
	for _, s := range rep.Surprises {
		t.Log("generator:", s)
	}
	for i, m := range rep.Mismatches {
		if i < *flagMaxLg {
			t.Errorf("%s", m)
		}
	}
	if len(rep.Mismatches) > 0 {
		t.Errorf("%d mismatches with seed %d (rerun: go test ./internal/difftest/ -run TestDifferential -difftest.seed=%d -difftest.n=%d)",
			len(rep.Mismatches), *flagSeed, *flagSeed, *flagN)
	}
}

// TestYaraSelf compares yara with itself: the harness must report no
// difference, and the generator must produce what it meant (valid rule
// sets that compile, invalid ones that do not).
func TestYaraSelf(t *testing.T) {
	y := needYara(t)
	rep, err := Run(y, y, Options{Seed: *flagSeed, N: 100, Features: AllFeatures()})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep)
	for _, s := range rep.Surprises {
		t.Error("generator:", s)
	}
	for _, m := range rep.Mismatches {
		t.Errorf("%s", m)
	}
	if rep.MatchedRules == 0 || rep.YaraAccepted < 80 || rep.BothRejected == 0 {
		t.Errorf("generator coverage too low: %s", rep)
	}
}

// TestGenerate prints one case (-difftest.case) and checks determinism.
func TestGenerate(t *testing.T) {
	id := max(*flagCase, 0)
	a := GenerateCase(*flagSeed, id, AllFeatures())
	b := GenerateCase(*flagSeed, id, AllFeatures())
	if a.Source != b.Source || len(a.Inputs) != len(b.Inputs) {
		t.Fatal("GenerateCase is not deterministic")
	}
	if *flagCase >= 0 {
		t.Logf("invalid=%q\n%s", a.Invalid, a.Source)
		for _, in := range a.Inputs {
			t.Logf("input %x", in)
		}
	}
}

var flagCorpus = flag.String("difftest.corpus", "/work/shared/corpus/yara-rules", "rules directory for TestCorpus")

// corpusFiles are real files scanned by TestCorpus, when present.
var corpusFiles = []string{"/usr/bin/yara", "/usr/bin/yarac", "/usr/bin/ls", "/usr/bin/cat", "/usr/bin/env", "/bin/sh"}

// TestCorpus compares the engines on the rule corpus (rules importing
// modules Vigil lacks are skipped) against real and generated inputs.
func TestCorpus(t *testing.T) {
	y := needYara(t)
	if _, err := os.Stat(*flagCorpus); err != nil {
		t.Skipf("no rule corpus at %s: %v", *flagCorpus, err)
	}
	files := append(append([]string(nil), corpusFiles...), windowsSamples(t)...)
	rep, err := RunCorpus(y, VigilEngine{}, CorpusOptions{RulesDir: *flagCorpus, Files: files,
		Generated: 200, Seed: *flagSeed, SkipImports: []string{"magic", "cuckoo"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep)
	for i, m := range rep.Mismatches {
		if i < *flagMaxLg {
			t.Errorf("%s", m)
		}
	}
}

// windowsSamples builds a small Go program as Windows PE files (amd64 and
// 386) so the corpus's pe rules have real PE input. It returns no files
// when the go command is unavailable.
func windowsSamples(t *testing.T) []string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Logf("no go command, no PE samples: %v", err)
		return nil
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	prog := "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"vigil sample\") }\n"
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, arch := range []string{"amd64", "386"} {
		exe := filepath.Join(dir, "sample-"+arch+".exe")
		cmd := exec.Command(gobin, "build", "-o", exe, src)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH="+arch, "CGO_ENABLED=0", "GO111MODULE=off")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Logf("building a %s PE sample: %v\n%s", arch, err, b)
			continue
		}
		out = append(out, exe)
	}
	return out
}

func TestUnquoteYara(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{`abc`, "abc", true},
		{`a\x41\n\t\\\"`, "aA\n\t\\\"", true},
		{`\x4`, "", false},
		{`\q`, "", false},
		{`\`, "", false},
	} {
		got, ok := unquoteYara(tc.in)
		if ok != tc.ok || ok && string(got) != tc.want {
			t.Errorf("unquoteYara(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSampleHexText(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		in   string
		want string // hex of the expected bytes; "" for a failure
	}{
		{"41 42", "4142"},
		{"41 ( 42 | 43 44 ) 45", "414245"},
		{"41 ( 42 | ( 43 | 44 ) ) 45", "414245"},
		{"41 [2] 42", "41....42"},
		{"41 [1-3] 42", "41..42"},
		{"41 ?? 4?", "41..4."},
		{"41 ~42", ""},
	} {
		got, ok := sampleHexText(r, tc.in)
		if !ok {
			if tc.want != "" {
				t.Errorf("sampleHexText(%q) failed", tc.in)
			}
			continue
		}
		if !regexp.MustCompile("^" + tc.want + "$").MatchString(fmt.Sprintf("%x", got)) {
			t.Errorf("sampleHexText(%q) = %x, want %s", tc.in, got, tc.want)
		}
	}
}
