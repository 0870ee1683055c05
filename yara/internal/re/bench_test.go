package re

import (
	"bytes"
	"math/rand"
	"testing"
)

func benchProg(b *testing.B, src string, opt CompileOptions) *Prog {
	n, err := Parse(src, Flags{})
	if err != nil {
		b.Fatal(err)
	}
	p, err := Compile(n, opt)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func benchData(size int) []byte {
	r := rand.New(rand.NewSource(1))
	data := make([]byte, size)
	for i := range data {
		data[i] = "abcdefgh \n"[r.Intn(10)]
	}
	return data
}

// BenchmarkMatchAt calls MatchAt at every offset of 64 KB (the worst case:
// a pattern without atoms).
func BenchmarkMatchAt(b *testing.B) {
	data := benchData(64 << 10)
	for _, bc := range []struct{ name, src string }{
		{"literal", `abcd`},
		{"class", `[a-c]+d{1,3}e`},
		{"alt", `(ab|cd|ef)+?g.*?h`},
		{"dotstar", `a.*h`},
	} {
		p := benchProg(b, bc.src, CompileOptions{})
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				for i := range data {
					p.MatchAt(data, i)
				}
			}
		})
	}
}

func BenchmarkFind(b *testing.B) {
	data := bytes.Repeat([]byte("abcdefgh "), 455) // ~4 KB, no match
	for _, bc := range []struct{ name, src string }{
		{"literal", `zzz`},
		{"alt", `(ab|cd|ef)+z`},
		{"pathological", `(a*)*z`},
	} {
		p := benchProg(b, bc.src, CompileOptions{})
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				p.Find(data)
			}
		})
	}
}
