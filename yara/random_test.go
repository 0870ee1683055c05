package yara

import (
	"encoding/base64"
	"flag"
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

var randomCases = flag.Int("randomcases", 60, "number of random differential cases against yara")

// TestRandomStringsAgainstYara generates random rules (text strings with
// random modifiers, hex strings with wildcards, jumps and alternatives,
// simple regexes) and data with planted instances, and compares Vigil with
// yara on each.
func TestRandomStringsAgainstYara(t *testing.T) {
	if !haveYara() {
		t.Skip("yara not installed")
	}
	rng := rand.New(rand.NewSource(7))
	for i := 0; i < *randomCases; i++ {
		var defs []string
		var plants [][]byte
		n := 1 + rng.Intn(4)
		for j := 0; j < n; j++ {
			def, plant := randomString(rng)
			defs = append(defs, fmt.Sprintf("$s%d = %s", j, def))
			plants = append(plants, plant)
		}
		src := "rule r { strings: " + strings.Join(defs, " ") + " condition: any of them }"
		data := randomData(rng, plants)
		checkAgainstYara(t, src, data, ScanOptions{})
		if t.Failed() {
			return
		}
	}
}

const alpha = "abcAB01 _\x00\xff"

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = alpha[rng.Intn(len(alpha))]
	}
	return b
}

// randomString returns a string definition and bytes that (often) match it.
func randomString(rng *rand.Rand) (string, []byte) {
	switch rng.Intn(5) {
	case 3:
		lit := randomBytes(rng, 3+rng.Intn(6))
		mods := []string{"base64", "base64wide", "base64 base64wide"}[rng.Intn(3)]
		enc := base64Std(lit, rng.Intn(3))
		if strings.Contains(mods, "wide") && !strings.Contains(mods, " ") {
			enc = widen(enc)
		}
		return fmt.Sprintf("\"%s\" %s", escapeText(lit), mods), enc
	case 4:
		lit := randomBytes(rng, 2+rng.Intn(5))
		lo := rng.Intn(256)
		hi := lo + rng.Intn(256-lo)
		k := byte(lo + rng.Intn(hi-lo+1))
		p := make([]byte, len(lit))
		for i := range lit {
			p[i] = lit[i] ^ k
		}
		extra := []string{"", " wide ascii", " fullword", " private"}[rng.Intn(4)]
		return fmt.Sprintf("\"%s\" xor(%d-%d)%s", escapeText(lit), lo, hi, extra), p
	}
	switch rng.Intn(3) {
	case 0:
		lit := randomBytes(rng, 1+rng.Intn(6))
		var mods []string
		plant := lit
		for _, m := range []string{"nocase", "wide", "ascii", "fullword", "xor", "private"} {
			if rng.Intn(4) == 0 {
				if m == "xor" && containsStr(mods, "nocase") {
					continue
				}
				if m == "nocase" && containsStr(mods, "xor") {
					continue
				}
				mods = append(mods, m)
			}
		}
		if containsStr(mods, "wide") && !containsStr(mods, "ascii") {
			plant = widen(lit)
		}
		if containsStr(mods, "xor") {
			k := byte(rng.Intn(256))
			p := make([]byte, len(plant))
			for i := range plant {
				p[i] = plant[i] ^ k
			}
			plant = p
		}
		return fmt.Sprintf("\"%s\" %s", escapeText(lit), strings.Join(mods, " ")), plant
	case 1:
		var toks []string
		var plant []byte
		n := 2 + rng.Intn(5)
		for i := 0; i < n; i++ {
			b := alpha[rng.Intn(len(alpha))]
			switch r := rng.Intn(10); {
			case r == 0 && i > 0 && i < n-1:
				lo := rng.Intn(3)
				hi := lo + rng.Intn(4)
				toks = append(toks, fmt.Sprintf("[%d-%d]", lo, hi))
				plant = append(plant, randomBytes(rng, lo+rng.Intn(hi-lo+1))...)
				continue
			case r == 1:
				toks = append(toks, "??")
			case r == 2:
				toks = append(toks, fmt.Sprintf("%X?", b>>4))
			case r == 3:
				c := alpha[rng.Intn(len(alpha))]
				toks = append(toks, fmt.Sprintf("( %02X | %02X %02X )", b, c, b))
				if rng.Intn(2) == 0 {
					plant = append(plant, c)
				}
			default:
				toks = append(toks, fmt.Sprintf("%02X", b))
			}
			plant = append(plant, b)
		}
		// A hex string must not start or end with a jump; the generator
		// never puts one there.
		return "{ " + strings.Join(toks, " ") + " }", plant
	}
	lit := randomBytes(rng, 2+rng.Intn(4))
	var re strings.Builder
	for i, c := range lit {
		switch r := rng.Intn(12); {
		case r == 0 && i > 0:
			re.WriteString(".")
		case r == 1:
			fmt.Fprintf(&re, "[%c-%c]", 'a', 'c')
		case r == 2 && i > 0:
			re.WriteString("(a|B|_)")
		case r == 3:
			re.WriteString("\\w")
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			re.WriteByte(c)
		default:
			fmt.Fprintf(&re, "\\x%02x", c)
		}
		// A regex whose every piece is optional has no atom in yara, which
		// then misses matches (a yara quirk left to yara/internal/re).
		switch rng.Intn(6) {
		case 0:
			re.WriteString("+")
		case 1:
			if i > 0 {
				re.WriteString("?")
			}
		case 2:
			re.WriteString("{1,3}")
		}
	}
	mods := ""
	if rng.Intn(3) == 0 {
		mods += " nocase"
	}
	if rng.Intn(4) == 0 {
		mods += " fullword"
	}
	return "/" + re.String() + "/" + mods, lit
}

func containsStr(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func escapeText(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			s.WriteByte(c)
		} else {
			fmt.Fprintf(&s, "\\x%02x", c)
		}
	}
	return s.String()
}

// randomData mixes random bytes with the planted instances, some with
// changed case.
func randomData(rng *rand.Rand, plants [][]byte) []byte {
	var d []byte
	for i := 0; i < 8; i++ {
		d = append(d, randomBytes(rng, rng.Intn(12))...)
		p := append([]byte(nil), plants[rng.Intn(len(plants))]...)
		if rng.Intn(3) == 0 {
			for j := range p {
				if rng.Intn(2) == 0 {
					p[j] = upper(p[j])
				}
			}
		}
		d = append(d, p...)
	}
	return d
}

// base64Std encodes b after pad filler bytes, with the standard alphabet,
// and drops the characters that depend on the filler.
func base64Std(b []byte, pad int) []byte {
	buf := append(make([]byte, pad), b...)
	enc := []byte(base64.StdEncoding.EncodeToString(buf))
	return enc[[3]int{0, 2, 3}[pad]:]
}
