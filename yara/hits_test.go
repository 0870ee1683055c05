package yara

import (
	"context"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"
)

// TestHitChecksKeepMatches compares scans with and without the quick
// checks of atom hits (hits.go) on random text and hex strings, data full
// of near misses, and small match limits.
func TestHitChecksKeepMatches(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	defer func() { useHitChecks = true }()
	letters := []byte("aAbB0_\x00\x85\xC0")
	mods := []string{"", "nocase", "wide", "ascii wide", "fullword", "nocase wide", "xor(1-2)", "nocase fullword"}
	checked, sieves := 0, 0
	for i := 0; i < 600; i++ {
		var defs []string
		var plants [][]byte
		nstr := 1 + rng.Intn(5)
		shared := i%3 == 0 // many strings with one atom: sieves
		if shared {
			nstr = minSieveRefs + rng.Intn(12)
		}
		for j := 0; j < nstr; j++ {
			if shared {
				body, plant := randomHexBody(rng)
				defs = append(defs, fmt.Sprintf("$s%d = { 85 C0 0F 84 %s}", j, body))
				plants = append(plants, append([]byte{0x85, 0xC0, 0x0F, 0x84}, plant...))
				continue
			}
			if rng.Intn(3) == 0 {
				body, plant := randomHexBody(rng)
				defs = append(defs, fmt.Sprintf("$h%d = { %s}", j, body))
				plants = append(plants, plant)
				continue
			}
			lit := make([]byte, 1+rng.Intn(14))
			for k := range lit {
				lit[k] = letters[rng.Intn(len(letters))]
			}
			var q strings.Builder
			for _, b := range lit {
				fmt.Fprintf(&q, "\\x%02x", b)
			}
			defs = append(defs, fmt.Sprintf("$t%d = \"%s\" %s", j, q.String(), mods[rng.Intn(len(mods))]))
			plant := append([]byte(nil), lit...)
			if rng.Intn(2) == 0 {
				for k := range plant {
					if rng.Intn(2) == 0 {
						plant[k] = upper(plant[k])
					}
				}
			}
			if rng.Intn(3) == 0 {
				var w []byte
				for _, b := range plant {
					w = append(w, b, 0)
				}
				plant = w
			}
			plants = append(plants, plant)
		}
		src := "rule r { strings: " + strings.Join(defs, " ") + " condition: any of them }"
		data := plantedData(rng, 2000, 6, plants, letters)
		if rng.Intn(2) == 0 {
			data = data[:len(data)-rng.Intn(16)] // plants cut at the end
		}
		opts := ScanOptions{MaxMatchesPerString: []int{0, 1, 3}[rng.Intn(3)]}
		var got [2]*Result
		for k, on := range []bool{false, true} {
			useHitChecks = on
			r, err := Compile(src)
			if err != nil {
				t.Fatalf("%s: %v", src, err)
			}
			if on {
				for _, sv := range r.hitSieves {
					if sv != nil {
						sieves++
					}
				}
				for _, cs := range r.hitChecks {
					for _, c := range cs {
						if c.lo < c.hi {
							checked++
						}
					}
				}
			}
			s := r.NewScanner()
			s.SetOptions(opts)
			res, err := s.ScanBytes(context.Background(), data)
			if err != nil {
				t.Fatalf("%s: %v", src, err)
			}
			got[k] = res
		}
		if !reflect.DeepEqual(got[0].Matching, got[1].Matching) || !reflect.DeepEqual(got[0].Warnings, got[1].Warnings) {
			t.Fatalf("%s (%+v)\nwithout checks: %s %q\nwith:           %s %q", src, opts,
				summary(got[0].Matching), got[0].Warnings, summary(got[1].Matching), got[1].Warnings)
		}
	}
	if checked == 0 || sieves == 0 {
		t.Fatalf("%d atom refs got a check, %d atoms a sieve", checked, sieves)
	}
}

// TestHitWordRejects checks the words against the full tests they stand
// for: a literal's word fails only where the literal is not, and a hex
// string's only where its prefilter does not pass.
func TestHitWordRejects(t *testing.T) {
	lit := []byte("aB_c0dEfGh1")
	for minOff := 0; minOff+maxAtomLen <= len(lit); minOff++ {
		for _, nocase := range []bool{false, true} {
			w := litWord(lit, nocase, minOff)
			data := []byte("xxAb_C0DeFgH1xx")
			pos := 2 + minOff
			want := !nocase // the case differs
			if got := w.fails(data, pos); got != want {
				t.Errorf("minOff %d nocase %v: fails = %v, want %v", minOff, nocase, got, want)
			}
			if !w.fails([]byte("xxaB_c0dEfGh2xx"), pos) {
				t.Errorf("minOff %d nocase %v: a wrong last byte passes", minOff, nocase)
			}
			if w.fails([]byte("xxaB_c0dEfGh1xx"), pos) {
				t.Errorf("minOff %d nocase %v: the literal itself fails", minOff, nocase)
			}
		}
	}
	// A nocase letter's word lets only its two cases through.
	w := litWord([]byte("a"), true, 0)
	for b := 0; b < 256; b++ {
		data := []byte{byte(b), 0, 0, 0, 0, 0, 0, 0}
		if w.fails(data, 0) != (b != 'a' && b != 'A') {
			t.Errorf("nocase 'a' against %#x: fails = %v", b, w.fails(data, 0))
		}
	}
}
