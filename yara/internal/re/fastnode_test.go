package re

import (
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"vigil/yara/syntax"
)

// TestFastNode checks that the Pike VM of a hex string built from its
// fast code (Compile drops the node) is the one built from the node.
func TestFastNode(t *testing.T) {
	srcs := []string{
		"{ 61 }", "{ ~61 }", "{ ?? }", "{ 4? }", "{ ?1 }", "{ ~4? }", "{ ~?1 }",
		"{ 61 62 63 }", "{ 61 ?? 6? ?2 ~63 64 }", "{ 61 [1] 62 }", "{ 61 [1-1] 62 }",
		"{ 61 [0-0] 62 }", "{ 61 [2-4] 62 [3] 63 }", "{ 61 [-] 62 }", "{ 61 [5-] 62 }",
		"{ 61 [100-5000] 62 }", "{ 61 [5000] 62 }", "{ 61 [0-40000] 62 }",
	}
	var hexes [][]syntax.HexToken
	for _, s := range srcs {
		f, err := syntax.Parse("t", []byte("rule r { strings: $a = "+s+" condition: $a }"))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		hexes = append(hexes, f.Decls[0].(*syntax.Rule).Strings[0].Hex.Tokens)
	}
	r := rand.New(rand.NewSource(7))
	for range 500 {
		toks, _ := genHex(r, 0)
		hexes = append(hexes, toks)
	}
	inputs := genInputs(r, 30, "abc`\x00")
	fast := 0
	for _, toks := range hexes {
		n, err := FromHex(&syntax.HexString{Tokens: toks})
		if err != nil {
			continue
		}
		p, err := Compile(n, CompileOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.src != nil {
			if p.y.fast {
				t.Errorf("%v: fast program kept its node", toks)
			}
			continue
		}
		fast++
		ref, _ := Compile(n, CompileOptions{})
		ref.src = n
		if got, want := p.String(), ref.String(); got != want {
			t.Errorf("%v: program\n%s\nwant\n%s", toks, got, want)
			continue
		}
		if p.MinLen() != ref.MinLen() || p.MaxLen() != ref.MaxLen() {
			t.Errorf("%v: lengths %d %d, want %d %d", toks, p.MinLen(), p.MaxLen(), ref.MinLen(), ref.MaxLen())
		}
		for _, in := range inputs {
			for i := range in {
				if a, b := p.MatchAt(in, i), ref.MatchAt(in, i); a != b {
					t.Errorf("%v: MatchAt(%q, %d) = %d, want %d", toks, in, i, a, b)
				}
			}
		}
	}
	if fast < 100 {
		t.Errorf("only %d fast programs", fast)
	}
}

// flatHexCases returns hex strings without alternatives: a few forms,
// random ones, and those of the shared corpus when it is present.
func flatHexCases(t *testing.T) [][]syntax.HexToken {
	srcs := []string{
		"{ 61 }", "{ ~61 }", "{ ?? }", "{ 4? }", "{ ?1 }", "{ ~4? }", "{ ~?1 }",
		"{ 61 62 63 }", "{ 61 ?? 6? ?2 ~63 64 }", "{ 61 [1] 62 }", "{ 61 [1-1] 62 }",
		"{ 61 [0-0] 62 }", "{ 61 [2-4] 62 [3] 63 }", "{ 61 [-] 62 }", "{ 61 [5-] 62 }",
		"{ 61 [100-5000] 62 }", "{ 61 [5000] 62 }", "{ 61 [0-40000] 62 }",
		"{ 00 00 00 00 00 61 62 63 64 65 }", "{ FF FF FF FF [2] CC CC CC CC 90 }",
		"{ 4D 5A ~00 ?? ?? 00 00 [4-8] 50 45 00 00 }",
	}
	var out [][]syntax.HexToken
	for _, s := range srcs {
		f, err := syntax.Parse("t", []byte("rule r { strings: $a = "+s+" condition: $a }"))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		out = append(out, f.Decls[0].(*syntax.Rule).Strings[0].Hex.Tokens)
	}
	r := rand.New(rand.NewSource(7))
	for range 500 {
		toks, _ := genHex(r, 0)
		out = append(out, toks)
	}
	root := filepath.Join("..", "..", "..", "..", "shared", "corpus")
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".yar") || strings.HasSuffix(path, ".yara")) {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		f, _ := syntax.Parse(path, src)
		if f == nil {
			return nil
		}
		for _, d := range f.Decls {
			if ru, ok := d.(*syntax.Rule); ok {
				for _, s := range ru.Strings {
					if s.Hex != nil {
						out = append(out, s.Hex.Tokens)
					}
				}
			}
		}
		return nil
	})
	return out
}

// TestFlatHex checks that compileFlatHex gives what the general path
// (yara's tree, its code layout and atom walk) gives.
func TestFlatHex(t *testing.T) {
	flat := 0
	for _, toks := range flatHexCases(t) {
		n, err := FromHex(&syntax.HexString{Tokens: toks})
		if err != nil {
			continue
		}
		nodes := []*Node{n}
		for _, pc := range Chain(n) {
			nodes = append(nodes, pc.Node)
		}
		for _, n := range nodes {
			if !flatHex(n) {
				continue
			}
			flat++
			for _, rev := range []bool{true, false} {
				reverseFast = rev
				flatHexPath = false
				want, errW := compileYara(n, CompileOptions{}, false)
				flatHexPath = true
				got, errG := compileYara(n, CompileOptions{}, false)
				reverseFast = true
				if (errW == nil) != (errG == nil) {
					t.Fatalf("%v: error %v, want %v", toks, errG, errW)
				}
				if errW != nil {
					continue
				}
				want.atomList()
				got.atomList()
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%v (reverseFast %v): got\n%+v\nwant\n%+v", toks, rev, got, want)
				}
			}
		}
	}
	if flat < 500 {
		t.Errorf("only %d flat hex strings", flat)
	}
}

// TestProduct compares product with building the strings one set at a
// time.
func TestProduct(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for range 2000 {
		k := 1 + r.Intn(yMaxAtom)
		sets := make([]ByteSet, k)
		n := 1
		for j := range sets {
			for range 1 + r.Intn(3) {
				sets[j].Add(byte(r.Intn(256)))
			}
			n *= sets[j].Len()
		}
		want := [][]byte{nil}
		for _, s := range sets {
			var next [][]byte
			for _, a := range want {
				for _, v := range s.Bytes() {
					next = append(next, append(append([]byte(nil), a...), v))
				}
			}
			want = next
		}
		if got := product(sets, n); !reflect.DeepEqual(got, want) {
			t.Fatalf("product(%v) = %v, want %v", sets, got, want)
		}
	}
}
