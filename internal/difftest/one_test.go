package difftest

import (
	"flag"
	"os"
	"testing"
)

var (
	flagRules = flag.String("difftest.rules", "", "TestOne: rule file to compare on -difftest.input")
	flagInput = flag.String("difftest.input", "", "TestOne: input file (default: empty input)")
)

// TestOne compares the engines on one rule file and one input, for
// replaying a kept or reported case:
//
//	go test ./internal/difftest/ -run TestOne -v \
//	    -difftest.rules=/tmp/fails/x/rules.yar -difftest.input=/tmp/fails/x/input.bin
func TestOne(t *testing.T) {
	if *flagRules == "" {
		t.Skip("no -difftest.rules")
	}
	y := needYara(t)
	src, err := os.ReadFile(*flagRules)
	if err != nil {
		t.Fatal(err)
	}
	var in []byte
	if *flagInput != "" {
		if in, err = os.ReadFile(*flagInput); err != nil {
			t.Fatal(err)
		}
	}
	differ, ys, vs := reproduces(y, VigilEngine{}, "scan", Source{"default", string(src)}, in, nil)
	if !differ {
		differ, ys, vs = reproduces(y, VigilEngine{}, "compile", Source{"default", string(src)}, in, nil)
	}
	if !differ {
		_, ys, vs = reproduces(y, VigilEngine{}, "scan", Source{"default", string(src)}, in, nil)
		t.Logf("same result:\n%s", ys)
		return
	}
	t.Errorf("yara:\n%s\nvigil:\n%s", ys, vs)
}
