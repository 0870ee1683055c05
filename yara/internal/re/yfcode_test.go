package re

import (
	"fmt"
	"math/rand"
	"testing"

	"vigil/yara/syntax"
)

// TestPackFast checks that packed fast code gives back instructions that
// do what the originals do: the same byte tests, the same jumps.
func TestPackFast(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	sets := []ByteSet{{1, 2, 3, 4}, {0, 0, 0, 1 << 63}}
	masks := []byte{0xFF, 0xF0, 0x0F, 0x00, 0x81}
	gen := func(distinct int) finst {
		switch r.Intn(6) {
		case 0:
			return finst{op: yiRepAny, a: int32(r.Intn(distinct)), b: int32(r.Intn(distinct) + distinct)}
		case 1:
			return finst{op: yiByte, a: int32(1 + r.Intn(len(sets)))}
		case 2:
			return finst{op: yiMatch}
		}
		return finst{op: yiByte, val: byte(r.Intn(256)), mask: masks[r.Intn(len(masks))], neg: r.Intn(3) == 0}
	}
	same := func(got, want finst) bool {
		if got.op != want.op {
			return false
		}
		if want.op != yiByte {
			return got == want
		}
		for c := 0; c < 256; c++ {
			if got.has(sets, byte(c)) != want.has(sets, byte(c)) {
				return false
			}
		}
		return true
	}
	for _, tc := range []struct{ n, distinct, reps int }{{1, 4, 5}, {20, 4, 5}, {500, 30, 5}, {12 * maxFastExt, maxFastExt, 1}} {
		for range tc.reps {
			code := make([]finst, tc.n)
			for i := range code {
				code[i] = gen(tc.distinct)
			}
			c := packFast(code)
			if c.len() != len(code) {
				t.Fatalf("n=%d: len %d", tc.n, c.len())
			}
			// Random jumps up to maxFastExt differ more often than words
			// can name them; the smaller codes have fewer.
			if c.wide() != (tc.distinct == maxFastExt) {
				t.Fatalf("n=%d: wide %v", tc.n, c.wide())
			}
			for i := range code {
				if got := c.inst(i); !same(got, code[i]) {
					t.Fatalf("n=%d: instruction %d is %+v, want %+v", tc.n, i, got, code[i])
				}
			}
			if !c.wide() && len(c) != len(code)+1+6*int(c[len(c)-1]) {
				t.Fatalf("n=%d: %d words", tc.n, len(c))
			}
		}
	}
	// Every byte, no byte, a negated byte: only the first is plain.
	for _, tc := range []struct {
		in    finst
		plain bool
	}{
		{finst{op: yiByte, val: 1, mask: 0, neg: true}, true},
		{finst{op: yiByte, val: 0, mask: 0, neg: true}, false},
		{finst{op: yiByte, val: 1, mask: 0}, false},
		{finst{op: yiByte, val: 0x41, mask: 0xFF, neg: true}, false},
		{finst{op: yiByte, val: 0x41, mask: 0xFF}, true},
		{finst{op: yiByte, val: 0x0A, mask: 0x0F}, true},
	} {
		if _, ok := plainWord(&tc.in); ok != tc.plain {
			t.Errorf("%+v: plain %v, want %v", tc.in, ok, tc.plain)
		}
	}
}

// TestPackFastSize checks that a hex string's code is packed to two
// bytes an instruction.
func TestPackFastSize(t *testing.T) {
	// 4D 5A ?? ?? 50 45 [2-4] 0? ~00 E8 ?? ?? ?? ?? 8B
	toks := hx(0x4D, 0x5A, -1, -1, 0x50, 0x45, jump(2, 4), &syntax.HexByte{Value: 0, Mask: 0xF0},
		&syntax.HexByte{Value: 0, Mask: 0xFF, Not: true}, 0xE8, -1, -1, -1, -1, 0x8B)
	n, err := FromHex(&syntax.HexString{Tokens: toks})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(n, CompileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !p.y.fast {
		t.Fatal("not fast code")
	}
	c := p.y.ffwd
	if c.wide() || c.len() != 16 {
		t.Fatalf("wide %v, %d instructions", c.wide(), c.len())
	}
	// The jump and the negated byte.
	if n := c[len(c)-1]; n != 2 || len(c) != 16+1+6*2 {
		t.Errorf("%d ext instructions, %d words", n, len(c))
	}
}

// TestWideFastCode checks that fast code stored whole as ext instructions
// (what packFast falls back to) finds what the packed code finds.
func TestWideFastCode(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	inputs := genInputs(r, 20, "abc")
	checked := 0
	for range 500 {
		toks, src := genHex(r, 0)
		n, err := FromHex(&syntax.HexString{Tokens: toks})
		if err != nil {
			continue
		}
		p, err := Compile(n, CompileOptions{})
		if err != nil || !p.y.fast {
			continue
		}
		widen := func(c fcode) fcode {
			if c == nil {
				return nil
			}
			code := make([]finst, c.len())
			for i := range code {
				code[i] = c.inst(i)
			}
			return packWide(code)
		}
		q, err := Compile(n, CompileOptions{})
		if err != nil {
			t.Fatal(err)
		}
		q.y.ffwd, q.y.fbwd = widen(p.y.ffwd), widen(p.y.fbwd)
		if !q.y.ffwd.wide() {
			t.Fatal("not wide")
		}
		checked++
		for _, in := range inputs {
			a, errA := p.YaraScan(in)
			b, errB := q.YaraScan(in)
			if fmt.Sprint(a, errA) != fmt.Sprint(b, errB) {
				t.Fatalf("{ %s } on %q: packed %v %v, wide %v %v", src, in, a, errA, b, errB)
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d fast programs", checked)
	}
}
