package re

import "testing"

// TestChainGaps checks where a regex is split for chaining: at a lazy
// .{n,m}? longer than the threshold, not at .*? or at a repeated group
// such as (.){2,}? (found by TestDifferential: yara does not split
// /\xf8*?(.){2,}?$/ and matches "\x04c" with it).
func TestChainGaps(t *testing.T) {
	for _, c := range []struct {
		src    string
		pieces int
	}{
		{`a.{2,}?b`, 2},
		{`a.{1,300}?b.{0,}?c`, 3},
		{`a.{1,200}?b`, 1},
		{`a.*?b`, 1},
		{`a.{2,}b`, 1},
		{`\xf8*?(.){2,}?$`, 1},
		{`a(.){300}?b`, 1},
		{`(a.{2,}?b)`, 1},
	} {
		n, err := Parse(c.src, Flags{})
		if err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		if got := len(Chain(n)); got != c.pieces {
			t.Errorf("/%s/: %d pieces, want %d", c.src, got, c.pieces)
		}
	}
}
