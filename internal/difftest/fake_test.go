package difftest

import (
	"strings"
	"testing"
)

// fakeEngine is yara with a planted defect, to check that the harness
// sees differences and shrinks them.
type fakeEngine struct {
	*YaraEngine
	defect string
}

func (f fakeEngine) Accepts(src Source) (bool, string, error) {
	ok, msg, err := f.YaraEngine.Accepts(src)
	if f.defect == "reject-xor" && ok && strings.Contains(src.Text, " xor") {
		return false, "fake: xor unsupported", err
	}
	return ok, msg, err
}

func (f fakeEngine) Scan(srcs []Source, inputs [][]byte) ([][]RuleHit, error) {
	if f.defect == "reject-xor" {
		for _, s := range srcs {
			if strings.Contains(s.Text, " xor") {
				return nil, &CompileFailure{Msg: "fake: xor unsupported"}
			}
		}
	}
	hits, err := f.YaraEngine.Scan(srcs, inputs)
	if err != nil {
		return nil, err
	}
	for _, hs := range hits {
		for i := range hs {
			switch f.defect {
			case "offset":
				// Report the last match of every rule one byte late.
				if n := len(hs[i].Strings); n > 0 {
					hs[i].Strings[n-1].Offset++
				}
			case "data":
				for j := range hs[i].Strings {
					hs[i].Strings[j].Text = ""
					hs[i].Strings[j].Data = []byte("x")
				}
			}
		}
		for i := range hs {
			if f.defect == "rename-rule" && strings.HasSuffix(hs[i].Rule, "_1") {
				hs[i].Rule += "_renamed"
			}
		}
	}
	return hits, nil
}

// TestFakeEngine runs the comparison against engines with known defects:
// each must be reported, and shrunk reproducers must be smaller.
func TestFakeEngine(t *testing.T) {
	y := needYara(t)
	for _, defect := range []string{"reject-xor", "offset", "data", "rename-rule"} {
		t.Run(defect, func(t *testing.T) {
			rep, err := Run(y, fakeEngine{y, defect}, Options{Seed: 7, N: 20, Features: AllFeatures(), MaxShrink: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Mismatches) == 0 {
				t.Fatalf("defect %q not detected: %s", defect, rep)
			}
			m := rep.Mismatches[0]
			want := "scan"
			if defect == "reject-xor" {
				want = "compile"
			}
			if m.Kind != want {
				t.Errorf("first mismatch is %q, want %q", m.Kind, want)
			}
			c := GenerateCase(m.Seed, m.CaseID, AllFeatures())
			if !m.Shrunk || len(m.Source) > len(c.Source) {
				t.Errorf("reproducer not shrunk (%d bytes, case %d bytes):\n%s", len(m.Source), len(c.Source), m)
			}
			t.Logf("%s\n%s", rep, m)
		})
	}
}

// crashingYara is yara that "crashes" scanning with any rule set using
// xor, to check that the run leaves such rule sets out and goes on.
type crashingYara struct{ *YaraEngine }

func (c crashingYara) Scan(srcs []Source, inputs [][]byte) ([][]RuleHit, error) {
	for _, s := range srcs {
		if len(inputs) > 0 && strings.Contains(s.Text, " xor") {
			return nil, &YaraCrash{State: "signal: segmentation fault"}
		}
	}
	return c.YaraEngine.Scan(srcs, inputs)
}

func TestYaraCrashLeftOut(t *testing.T) {
	y := needYara(t)
	rep, err := Run(crashingYara{y}, y, Options{Seed: 7, N: 30, Features: AllFeatures()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.YaraFailedSets == 0 || len(rep.Mismatches) != 0 || rep.Scans == 0 {
		t.Errorf("crashing rule sets not left out cleanly: %s", rep)
	}
	t.Log(rep)
}
