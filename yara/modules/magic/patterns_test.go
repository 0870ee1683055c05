package magic

import (
	"regexp"
	"testing"
)

// TestLazyRegexps checks that every pattern, compiled only when first
// used, is a valid regexp, and that Match is regexp's.
func TestLazyRegexps(t *testing.T) {
	all := []*lazyRegexp{perlShebang, troffRequest}
	for _, p := range linePatterns {
		if p.re != nil {
			all = append(all, p.re)
		}
	}
	for _, l := range all {
		re, err := regexp.Compile(l.src)
		if err != nil {
			t.Fatalf("%s: %v", l.src, err)
		}
		for _, in := range []string{"", "#!/usr/bin/perl -w", ".TH FOO 1", "#include <stdio.h>\nint x;", "import os\nclass A:\n"} {
			if got, want := l.Match([]byte(in)), re.Match([]byte(in)); got != want {
				t.Errorf("%s on %q: %v, want %v", l.src, in, got, want)
			}
		}
	}
	if len(all) < 40 {
		t.Errorf("only %d patterns", len(all))
	}
}
