package re

import (
	"math/rand"
	"strings"
	"testing"
)

// TestDiffSyntax compares which random strings of regex metacharacters
// yara accepts as a regex with what Parse accepts.
func TestDiffSyntax(t *testing.T) {
	if !haveYara() {
		t.Skip("yara not installed")
	}
	const alphabet = `ab()|*+?{}0123,[]^$.-\wdxW`
	r := rand.New(rand.NewSource(6))
	seen := map[string]bool{}
	accepted, rejected := 0, 0
	for i := 0; i < *diffN*2; i++ {
		var b strings.Builder
		for n := 1 + r.Intn(7); n > 0; n-- {
			b.WriteByte(alphabet[r.Intn(len(alphabet))])
		}
		src := b.String()
		// The rule lexer, not the regex parser, handles these.
		if seen[src] || strings.HasSuffix(src, `\`) || strings.HasPrefix(src, "*") || strings.Contains(src, "\\\\") {
			continue
		}
		seen[src] = true
		_, ourErr := Parse(src, Flags{})
		_, yaraErr := yaraCompileOne(t, "/"+src+"/")
		if yaraErr == nil {
			accepted++
		} else {
			rejected++
		}
		if (ourErr == nil) != (yaraErr == nil) {
			t.Errorf("/%s/: yara %v, we %v", src, yaraErr, ourErr)
		}
	}
	t.Logf("yara accepted %d, rejected %d", accepted, rejected)
}
