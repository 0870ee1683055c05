package re

import (
	"fmt"
	"math/rand"
	"testing"

	"vigil/yara/syntax"
)

// TestMaskTest checks that every set of the mask form is recognised and
// that byteTest.has agrees with the set, for those and for random sets.
func TestMaskTest(t *testing.T) {
	check := func(s ByteSet, wantForm bool) {
		t.Helper()
		bt, ok := maskTest(&s)
		if wantForm && !ok {
			t.Fatalf("%s: not recognised as a mask form", setString(s))
		}
		if !ok {
			var a yarena
			bt = a.test(&s)
			if bt.class != 1 || a.sets[0] != s {
				t.Fatalf("%s: class %d, table %v", setString(s), bt.class, a.sets)
			}
			for c := 0; c < 256; c++ {
				if bt.has(a.sets, byte(c)) != s.Has(byte(c)) {
					t.Fatalf("%s: class test wrong for %02x", setString(s), c)
				}
			}
			return
		}
		for c := 0; c < 256; c++ {
			if bt.has(nil, byte(c)) != s.Has(byte(c)) {
				t.Fatalf("%s: test %+v wrong for %02x", setString(s), bt, c)
			}
		}
	}
	for mask := 0; mask < 256; mask++ {
		for _, val := range []int{0, 0x41, 0x5a, 0xa5, 0xff, mask} {
			for _, neg := range []bool{false, true} {
				var s ByteSet
				for c := 0; c < 256; c++ {
					if (c&mask == val&mask) != neg {
						s.Add(byte(c))
					}
				}
				check(s, true)
			}
		}
	}
	check(ByteSet{}, true)
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		var s ByteSet
		for k := rng.Intn(40); k > 0; k-- {
			s.Add(byte(rng.Intn(256)))
		}
		if rng.Intn(2) == 0 {
			s = s.Complement()
		}
		check(s, false)
	}
	check(wordSet, false)
	check(spaceSet, false)
}

// TestReversedFastCode checks that running a hex string's backward code
// from its forward code reversed (reversedOf) finds what the stored
// backward code finds.
func TestReversedFastCode(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	inputs := genInputs(r, 20, "abc")
	reversed := 0
	for i := 0; i < 1000; i++ {
		toks, src := genHex(r, 0)
		n, err := FromHex(&syntax.HexString{Tokens: toks})
		if err != nil {
			continue
		}
		var progs [2]*Prog
		for k, rev := range []bool{true, false} {
			reverseFast = rev
			progs[k], err = Compile(n, CompileOptions{})
			reverseFast = true
			if err != nil {
				break
			}
		}
		if err != nil {
			continue
		}
		if progs[0].y.fast && progs[0].y.fbwd == nil {
			reversed++
		}
		if progs[1].y.fast && progs[1].y.fbwd == nil {
			t.Fatalf("{ %s }: backward code dropped with reverseFast off", src)
		}
		for _, in := range inputs {
			a, errA := progs[0].YaraScan(in)
			b, errB := progs[1].YaraScan(in)
			if fmt.Sprint(a, errA) != fmt.Sprint(b, errB) {
				t.Fatalf("{ %s } on %q: reversed %v %v, stored %v %v", src, in, a, errA, b, errB)
			}
		}
	}
	if reversed == 0 {
		t.Fatal("no program ran its backward code reversed")
	}
	t.Logf("%d programs with reversed backward code", reversed)
}

func TestMaskSet(t *testing.T) {
	for mask := 0; mask < 256; mask++ {
		for _, val := range []int{0, 0x5a, 0xff, ^mask & 0xff} {
			s := maskSet(byte(val), byte(mask))
			for c := 0; c < 256; c++ {
				if s.Has(byte(c)) != (c&mask == val&mask) {
					t.Fatalf("maskSet(%02x, %02x): wrong for %02x", val, mask, c)
				}
			}
		}
	}
}
