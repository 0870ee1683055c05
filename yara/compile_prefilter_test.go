package yara

import (
	"context"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"
)

// randomHexBody returns a hex string body over a few byte values (so that
// atoms fit at several places) and bytes that match it.
func randomHexBody(rng *rand.Rand) (string, []byte) {
	vals := []byte{0x85, 0xC0, 0x0F, 0x84, 0x8B, 0x45}
	var b strings.Builder
	var plant []byte
	n := 3 + rng.Intn(14)
	for i := 0; i < n; i++ {
		v := vals[rng.Intn(len(vals))]
		switch k := rng.Intn(12); {
		case k < 6 || i == 0 || i == n-1:
			fmt.Fprintf(&b, "%02X ", v)
			plant = append(plant, v)
		case k == 6:
			b.WriteString("?? ")
			plant = append(plant, vals[rng.Intn(len(vals))])
		case k == 7:
			fmt.Fprintf(&b, "%X? ", v>>4)
			plant = append(plant, v&0xF0|byte(rng.Intn(16)))
		case k == 8:
			fmt.Fprintf(&b, "~%02X ", v)
			plant = append(plant, v^1)
		case k == 9:
			j := rng.Intn(4)
			fmt.Fprintf(&b, "[%d] ", j)
			for range j {
				plant = append(plant, vals[rng.Intn(len(vals))])
			}
		case k == 10:
			lo := rng.Intn(3)
			hi := lo + rng.Intn(4)
			fmt.Fprintf(&b, "[%d-%d] ", lo, hi)
			for range lo + rng.Intn(hi-lo+1) {
				plant = append(plant, vals[rng.Intn(len(vals))])
			}
		default:
			w := vals[rng.Intn(len(vals))]
			fmt.Fprintf(&b, "( %02X | %02X %02X ) ", v, w, v)
			plant = append(plant, v)
		}
	}
	return b.String(), plant
}

// TestHexPrefilterKeepsMatches compares scans with and without the hex
// prefilters on random hex strings and data full of near misses.
func TestHexPrefilterKeepsMatches(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	defer func() { usePrefilters = true }()
	wrapped := 0
	for i := 0; i < 1000; i++ {
		var defs []string
		var plants [][]byte
		for j := 0; j < 1+rng.Intn(4); j++ {
			body, plant := randomHexBody(rng)
			defs = append(defs, fmt.Sprintf("$h%d = { %s}", j, body))
			plants = append(plants, plant)
		}
		src := "rule r { strings: " + strings.Join(defs, " ") + " condition: any of them }"
		data := plantedData(rng, 4000, 8, plants, []byte{0x85, 0xC0, 0x0F, 0x84, 0x8B, 0x45, 0x00})
		var got [2][]MatchRule
		for k, on := range []bool{false, true} {
			usePrefilters = on
			r, err := Compile(src)
			if err != nil {
				t.Fatalf("%s: %v", src, err)
			}
			if on {
				for _, v := range r.variants {
					if _, ok := v.prog.(*prefilterProg); ok {
						wrapped++
					}
				}
			}
			res, err := r.NewScanner().ScanBytes(context.Background(), data)
			if err != nil {
				t.Fatalf("%s: %v", src, err)
			}
			got[k] = res.Matching
		}
		if !reflect.DeepEqual(got[0], got[1]) {
			t.Fatalf("%s\nwithout prefilters: %s\nwith:               %s", src, summary(got[0]), summary(got[1]))
		}
	}
	if wrapped == 0 {
		t.Fatal("no hex string got a prefilter")
	}
	t.Logf("%d hex strings with prefilters", wrapped)
}

// summary lists each string's match offsets.
func summary(rs []MatchRule) string {
	var b strings.Builder
	for _, r := range rs {
		for _, s := range r.Strings {
			fmt.Fprintf(&b, "%s:", s.ID)
			for _, m := range s.Matches {
				fmt.Fprintf(&b, " %d+%d", m.Offset, m.Length)
			}
			b.WriteString("; ")
		}
	}
	return b.String()
}

// plantedData returns at least n bytes of random filler bytes with, one
// time in every, one of the plants, half of them with one byte changed (a
// near miss).
func plantedData(rng *rand.Rand, n, every int, plants [][]byte, filler []byte) []byte {
	data := make([]byte, 0, n+64)
	for len(data) < n {
		if rng.Intn(every) == 0 {
			p := append([]byte(nil), plants[rng.Intn(len(plants))]...)
			if len(p) > 0 && rng.Intn(2) == 0 {
				p[rng.Intn(len(p))] ^= byte(1 + rng.Intn(255))
			}
			data = append(data, p...)
			continue
		}
		data = append(data, filler[rng.Intn(len(filler))])
	}
	return data
}
