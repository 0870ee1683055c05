package hash

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"vigil/yara/module"
	"vigil/yara/modules/internal/modtest"
)

const fox = "The quick brown fox jumps over the lazy dog"

// Published test vectors (RFC 1321, FIPS 180, the CRC-32 check value).
var stringVectors = []struct {
	fn   string
	in   string
	want module.Value
}{
	{"md5", "", "d41d8cd98f00b204e9800998ecf8427e"},
	{"md5", "abc", "900150983cd24fb0d6963f7d28e17f72"},
	{"md5", fox, "9e107d9d372bb6826bd81d3542a419d6"},
	{"sha1", "", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
	{"sha1", "abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
	{"sha1", fox, "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"},
	{"sha256", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	{"sha256", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	{"sha256", fox, "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"},
	{"crc32", "", int64(0)},
	{"crc32", "123456789", int64(0xcbf43926)},
	{"crc32", fox, int64(0x414fa339)},
	{"checksum32", "", int64(0)},
	{"checksum32", "abc", int64(97 + 98 + 99)},
	{"checksum32", "\xff\xff", int64(510)},
}

func TestStringForms(t *testing.T) {
	mod := Module()
	_, c := modtest.Load(t, mod, nil)
	for _, tt := range stringVectors {
		if got := modtest.Call(t, mod, c, tt.fn, tt.in); got != tt.want {
			t.Errorf("%s(%q) = %v, want %v", tt.fn, tt.in, got, tt.want)
		}
	}
}

func TestRangeForms(t *testing.T) {
	data := []byte("abc" + fox)
	tests := []struct {
		fn        string
		off, size int64
		want      module.Value
	}{
		{"md5", 0, 3, "900150983cd24fb0d6963f7d28e17f72"},
		{"md5", 3, int64(len(fox)), "9e107d9d372bb6826bd81d3542a419d6"},
		{"md5", 3, 1 << 40, "9e107d9d372bb6826bd81d3542a419d6"},              // clamped at the end
		{"md5", 3, 1<<63 - 1, "9e107d9d372bb6826bd81d3542a419d6"},            // no overflow
		{"md5", 0, 0, "d41d8cd98f00b204e9800998ecf8427e"},                    // empty range
		{"md5", int64(len(data)) - 1, 0, "d41d8cd98f00b204e9800998ecf8427e"}, // last offset
		{"md5", int64(len(data)), 0, nil},                                    // offset at the end
		{"md5", int64(len(data)) + 5, 1, nil},
		{"md5", -1, 3, nil},
		{"md5", 0, -1, nil},
		{"sha1", 0, 3, "a9993e364706816aba3e25717850c26c9cd0d89d"},
		{"sha1", 3, 100, "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"},
		{"sha1", -5, 3, nil},
		{"sha256", 0, 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"sha256", 3, 1000, "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"},
		{"sha256", 0, -3, nil},
		{"crc32", 3, 1000, int64(0x414fa339)},
		{"crc32", 1000, 1, nil},
		{"checksum32", 0, 3, int64(294)},
		{"checksum32", 1, 2, int64(98 + 99)},
		{"checksum32", 0, 0, int64(0)},
		{"checksum32", -1, 0, nil},
	}
	mod := Module()
	_, c := modtest.Load(t, mod, data)
	for _, tt := range tests {
		if got := modtest.Call(t, mod, c, tt.fn, tt.off, tt.size); got != tt.want {
			t.Errorf("%s(%d, %d) = %v, want %v", tt.fn, tt.off, tt.size, got, tt.want)
		}
	}
	// Every range function is undefined on empty data.
	_, empty := modtest.Load(t, mod, nil)
	for _, fn := range []string{"md5", "sha1", "sha256", "crc32", "checksum32"} {
		if got := modtest.Call(t, mod, empty, fn, int64(0), int64(0)); got != nil {
			t.Errorf("%s(0, 0) on empty data = %v, want undefined", fn, got)
		}
	}
}

func TestCache(t *testing.T) {
	data := []byte(fox)
	mod := Module()
	_, c := modtest.Load(t, mod, data)
	first := modtest.Call(t, mod, c, "sha256", int64(0), int64(len(data)))
	if digests(c) != 1 {
		t.Fatalf("cache has %d entries after one call, want 1", digests(c))
	}
	// The same clamped range hits the same entry.
	if got := modtest.Call(t, mod, c, "sha256", int64(0), int64(1<<40)); got != first || digests(c) != 1 {
		t.Errorf("clamped call = %v with %d cache entries, want %v with 1", got, digests(c), first)
	}
	// Another function over the same range has its own entry.
	if got := modtest.Call(t, mod, c, "md5", int64(0), int64(len(data))); got != "9e107d9d372bb6826bd81d3542a419d6" || digests(c) != 2 {
		t.Errorf("md5 = %v with %d cache entries", got, digests(c))
	}
	// A nil cache works, uncached.
	nc := &module.Context{Data: data}
	if got := modtest.Call(t, mod, nc, "sha256", int64(0), int64(len(data))); got != first {
		t.Errorf("uncached = %v, want %v", got, first)
	}
}

// digests counts the digests memoized in c.
func digests(c *module.Context) int {
	n := 0
	for k := range c.Cache {
		if _, ok := k.(cacheKey); ok {
			n++
		}
	}
	return n
}

func TestCacheBound(t *testing.T) {
	data := make([]byte, maxCacheEntries+100)
	mod := Module()
	_, c := modtest.Load(t, mod, data)
	for off := range int64(len(data)) {
		if got := modtest.Call(t, mod, c, "crc32", off, int64(1)); got != int64(0xd202ef8d) { // crc32 of one zero byte
			t.Fatalf("crc32(%d, 1) = %v", off, got)
		}
	}
	if n := digests(c); n != maxCacheEntries {
		t.Errorf("%d digests memoized, want the bound %d", n, maxCacheEntries)
	}
}

// TestBadArgs checks that arguments of the wrong type, which the compiler
// never produces, give undefined instead of a panic.
func TestBadArgs(t *testing.T) {
	mod := Module()
	c := &module.Context{Data: []byte("x")}
	for _, f := range mod.Type.Fields {
		for _, o := range f.Type.Overloads {
			for _, args := range [][]module.Value{nil, {1.5, "x"}} {
				if got := o.Impl(c, args); got != nil {
					t.Errorf("%s(%s) with %v = %v, want undefined", f.Name, o.Args, args, got)
				}
			}
		}
	}
}

// TestDifferential checks the module against the reference yara on a few
// files, for ranges inside, across and outside each file and for strings.
func TestDifferential(t *testing.T) {
	modtest.Yara(t)
	r := rand.New(rand.NewSource(7))
	random := make([]byte, 3000)
	r.Read(random)
	files := [][]byte{nil, []byte("a"), []byte(fox), random}
	strs := []string{"", "a", fox, "\x00\x01\x80\xff", strings.Repeat("\xfe", 40)}
	mod := Module()
	for _, data := range files {
		_, c := modtest.Load(t, mod, data)
		n := int64(len(data))
		ranges := [][2]int64{{0, n}, {0, 0}, {0, 1}, {1, n}, {n / 2, n}, {n - 1, 1}, {n - 1, 5}, {n, 0}, {n, 1}, {-1, 1}, {0, -1}, {0, 1 << 62}}
		var cases []modtest.Case
		for _, fn := range []string{"md5", "sha1", "sha256", "crc32", "checksum32"} {
			for _, rg := range ranges {
				cases = append(cases, modtest.Case{
					Expr: fmt.Sprintf("hash.%s(%s, %s)", fn, modtest.Literal(rg[0]), modtest.Literal(rg[1])),
					Want: modtest.Call(t, mod, c, fn, rg[0], rg[1]),
				})
			}
			cases = append(cases, modtest.Case{
				Expr: fmt.Sprintf("hash.%s(0, filesize)", fn),
				Want: modtest.Call(t, mod, c, fn, int64(0), n),
			})
			for _, s := range strs {
				cases = append(cases, modtest.Case{
					Expr: fmt.Sprintf("hash.%s(%s)", fn, modtest.Literal(s)),
					Want: modtest.Call(t, mod, c, fn, s),
				})
			}
		}
		modtest.Differential(t, []string{"hash"}, data, cases)
	}
}

func BenchmarkSHA256(b *testing.B) {
	data := make([]byte, 1<<20)
	mod := Module()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		c := &module.Context{Data: data, Cache: map[any]any{}}
		modtest.Call(b, mod, c, "sha256", int64(0), int64(len(data)))
	}
}
