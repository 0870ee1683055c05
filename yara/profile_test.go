package yara

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
)

const profileRules = `
rule slow { strings: $a = /[a-f0-9]{32}/ condition: $a }
rule cheap { strings: $b = "zzzq" condition: $b }
rule absent { strings: $c = "qqqqxxxx" condition: $c }
rule cond_only { condition: filesize > 0 }
private rule priv { strings: $d = { 7A 7A 7A 71 } condition: #d > 1 }
rule noatom { strings: $e = /(a|b)?c/ condition: $e }
`

// profileInput is hex text (a start of $a at almost every offset) with
// n copies of "zzzq".
func profileInput(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < 200000; i++ {
		b.WriteString("0123456789abcdef0123456789abcdef012345 ")
		if i%1000 == 0 && n > 0 {
			b.WriteString("zzzq ")
			n--
		}
	}
	return b.Bytes()
}

func TestProfile(t *testing.T) {
	rs, err := Compile(profileRules)
	if err != nil {
		t.Fatal(err)
	}
	data := profileInput(5)
	if got := bytes.Count(data, []byte("zzzq")); got != 5 {
		t.Fatalf("input has %d copies of zzzq", got)
	}
	plain := rs.NewScanner()
	want, err := plain.ScanBytes(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Profile() != nil {
		t.Fatal("a scanner that never profiled returned a profile")
	}

	s := rs.NewScanner()
	s.SetOptions(ScanOptions{Profile: true})
	var got *Result
	for range 2 {
		if got, err = s.ScanBytes(context.Background(), data); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("profiling changed the result:\n%+v\n%+v", got, want)
	}
	p := s.Profile()
	if len(p) != 6 {
		t.Fatalf("profile has %d rules, want 6", len(p))
	}
	byName := map[string]RuleProfile{}
	for _, x := range p {
		byName[x.Rule] = x
	}
	// Two scans: the literal's atom hits 5 times in each.
	if c := byName["cheap"].Checks; c != 10 {
		t.Errorf("cheap: %d checks, want 10", c)
	}
	if c := byName["priv"].Checks; c != 10 {
		t.Errorf("priv: %d checks, want 10", c)
	}
	if byName["absent"].Checks != 0 || byName["absent"].Evaluations != 0 {
		t.Errorf("absent: %+v, want no checks and no evaluation", byName["absent"])
	}
	for _, name := range []string{"cheap", "cond_only", "slow", "priv"} {
		if e := byName[name].Evaluations; e != 2 {
			t.Errorf("%s: %d evaluations, want 2", name, e)
		}
	}
	if c := byName["cond_only"].Checks; c != 0 {
		t.Errorf("cond_only: %d checks, want 0", c)
	}
	// $a has no atom: it is checked at every offset that may start a match.
	if c := byName["slow"].Checks; c == 0 || c > 2*int64(len(data)) {
		t.Errorf("slow: %d checks over 2 scans of %d bytes", c, len(data))
	}
	if c := byName["noatom"].Checks; c == 0 {
		t.Errorf("noatom: no checks")
	}
	top := SlowestRules(p, 2)
	if len(top) != 2 {
		t.Fatalf("SlowestRules: %d rules", len(top))
	}
	if top[0].Rule != "slow" && top[0].Rule != "noatom" {
		t.Errorf("costliest rule is %q: %+v", top[0].Rule, top)
	}
	if top[0].Total() < top[1].Total() {
		t.Errorf("SlowestRules not sorted: %+v", top)
	}
	for _, x := range SlowestRules(p, -1) {
		if x.Rule == "absent" {
			t.Errorf("SlowestRules lists a rule that cost nothing: %+v", x)
		}
	}

	// A second scanner's profile adds up.
	s2 := rs.NewScanner()
	s2.SetOptions(ScanOptions{Profile: true})
	if _, err := s2.ScanBytes(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	m := MergeProfiles(p, nil, s2.Profile())
	if m[1].Rule != "cheap" || m[1].Checks != 15 || m[1].Evaluations != 3 {
		t.Errorf("merged cheap: %+v, want 15 checks and 3 evaluations", m[1])
	}
	if p[1].Checks != 10 {
		t.Errorf("MergeProfiles changed its input: %+v", p[1])
	}

	// A scan without the option does not count; ResetProfile forgets.
	s.SetOptions(ScanOptions{})
	if _, err := s.ScanBytes(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	if c := s.Profile()[1].Checks; c != 10 {
		t.Errorf("unprofiled scan counted: cheap has %d checks", c)
	}
	s.ResetProfile()
	if s.Profile() != nil {
		t.Error("ResetProfile kept the profile")
	}
	if !strings.Contains(top[0].Namespace, "default") {
		t.Errorf("namespace %q", top[0].Namespace)
	}
}
