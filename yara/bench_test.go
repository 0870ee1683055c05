package yara

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// benchData is pseudo-random text and binary data (deterministic).
func benchData(n int) []byte {
	rng := rand.New(rand.NewSource(1))
	b := make([]byte, n)
	words := []string{"the ", "quick ", "brown ", "fox ", "GET ", "HTTP/1.1 ", "MZ", "\x00\x00", "kernel32.dll ", "http://"}
	for i := 0; i < n; {
		if rng.Intn(4) == 0 {
			w := words[rng.Intn(len(words))]
			i += copy(b[i:], w)
			continue
		}
		b[i] = byte(rng.Intn(256))
		i++
	}
	return b
}

const fewRules = `
rule text { strings: $a = "kernel32.dll" nocase $b = "VirtualAlloc" wide ascii condition: any of them }
rule hexs { strings: $h = { 4D 5A ?? 00 [2-8] 50 45 } condition: $h }
rule regex { strings: $r = /https?:\/\/[a-z0-9.]{4,20}\/[a-z]+/ condition: #r > 2 }
rule xorred { strings: $x = "This program cannot" xor condition: $x }
rule cond { condition: uint16(0) == 0x5A4D and filesize < 100MB }
`

// manyRules generates n rules with random literal, hex and regex strings.
func manyRules(n int) string {
	rng := rand.New(rand.NewSource(2))
	var b strings.Builder
	word := func() string {
		const letters = "abcdefghijklmnopqrstuvwxyz"
		w := make([]byte, 5+rng.Intn(8))
		for i := range w {
			w[i] = letters[rng.Intn(len(letters))]
		}
		return string(w)
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "rule r%d { strings: $a = \"%s\" $b = \"%s\" nocase $c = { %02X %02X ?? %02X %02X } $d = /%s[0-9]+/ condition: 2 of them }\n",
			i, word(), word(), rng.Intn(256), rng.Intn(256), rng.Intn(256), rng.Intn(256), word())
	}
	return b.String()
}

func benchScan(b *testing.B, src string, size int) {
	r, err := Compile(src)
	if err != nil {
		b.Fatal(err)
	}
	data := benchData(size)
	s := r.NewScanner()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.ScanBytes(context.Background(), data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScanFewRules(b *testing.B)  { benchScan(b, fewRules, 4<<20) }
func BenchmarkScanManyRules(b *testing.B) { benchScan(b, manyRules(2000), 4<<20) }

// BenchmarkScanSmallFiles measures per-scan overhead on 4 KiB inputs.
func BenchmarkScanSmallFiles(b *testing.B) { benchScan(b, manyRules(2000), 4<<10) }

func BenchmarkCompileManyRules(b *testing.B) {
	src := manyRules(2000)
	for i := 0; i < b.N; i++ {
		if _, err := Compile(src); err != nil {
			b.Fatal(err)
		}
	}
}

// commonAtomRules are n hex strings that all start with the same very
// common x86 atom (test eax,eax; je rel32), as real rule sets have.
func commonAtomRules(n int) string {
	rng := rand.New(rand.NewSource(3))
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "rule h%d { strings: $h = { 85 C0 0F 84 ?? ?? ?? ?? %02X %02X ?? %02X [2-6] %02X %02X } condition: $h }\n",
			i, rng.Intn(256), rng.Intn(256), rng.Intn(256), rng.Intn(256), rng.Intn(256))
	}
	return b.String()
}

// commonAtomData is benchData with the atom of commonAtomRules planted
// every 64 bytes on average.
func commonAtomData(n int) []byte {
	b := benchData(n)
	rng := rand.New(rand.NewSource(4))
	for i := 0; i+4 < n; i += 1 + rng.Intn(127) {
		copy(b[i:], "\x85\xC0\x0F\x84")
	}
	return b
}

// BenchmarkScanCommonHexAtoms measures verification of hex strings
// sharing a frequent atom (compile_prefilter.go).
func BenchmarkScanCommonHexAtoms(b *testing.B) {
	r, err := Compile(commonAtomRules(100))
	if err != nil {
		b.Fatal(err)
	}
	data := commonAtomData(1 << 20)
	s := r.NewScanner()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.ScanBytes(context.Background(), data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestScanAllocs checks that a scan without matches allocates only its
// Result, whether or not the rules import a module.
func TestScanAllocs(t *testing.T) {
	for _, src := range []string{
		manyRules(200),
		commonAtomRules(50),
		`import "math" rule m { strings: $a = "zzzzqqqq" condition: $a and math.entropy(0, filesize) > 7 }`,
	} {
		r, err := Compile(src)
		if err != nil {
			t.Fatal(err)
		}
		s := r.NewScanner()
		data := benchData(64 << 10)
		ctx := context.Background()
		if _, err := s.ScanBytes(ctx, data); err != nil { // warm up the buffers
			t.Fatal(err)
		}
		n := testing.AllocsPerRun(20, func() {
			if _, err := s.ScanBytes(ctx, data); err != nil {
				t.Fatal(err)
			}
		})
		if n > 1 {
			t.Errorf("%.40q...: %.1f allocations per scan, want at most 1 (the Result)", src, n)
		}
	}
}
