package difftest

import (
	"regexp"
	"testing"
)

// TestFeatureSwitches checks that a switched-off feature never appears in
// generated rules (and that it does appear when on).
func TestFeatureSwitches(t *testing.T) {
	for _, tc := range []struct {
		name string
		off  func(*Features)
		re   string
		cond bool // look in conditions only, outside string and regex literals
	}{
		{"Xor", func(f *Features) { f.Xor = false }, ` xor`, false},
		{"Base64", func(f *Features) { f.Base64 = false }, `base64`, false},
		{"Hex", func(f *Features) { f.Hex = false }, `\$\w* = \{`, false},
		{"HexJumps", func(f *Features) { f.HexJumps = false }, `\$\w* = \{[^}\n]*\[`, false},
		{"HexAlternatives", func(f *Features) { f.HexAlternatives = false }, `\$\w* = \{[^}\n]*\|`, false},
		{"Regex", func(f *Features) { f.Regex = false }, `\$\w* = /`, false},
		{"ForLoops", func(f *Features) { f.ForLoops = false }, `\bfor `, false},
		{"Externals", func(f *Features) { f.Externals = false }, `\b(ei|es|eb)\b`, true},
		{"GlobalPrivate", func(f *Features) { f.GlobalPrivate = false }, `(global|private) rule`, false},
		{"Meta", func(f *Features) { f.Meta = false }, `meta:|rule \w+ :`, false},
		{"AnonymousStrings", func(f *Features) { f.AnonymousStrings = false }, `\$ = `, false},
		{"RuleSets", func(f *Features) { f.RuleSets = false }, `of \([a-z]c\d`, false},
		{"ZeroOf", func(f *Features) { f.ZeroOf = false }, `\b0 of|for 0 `, false},
		{"ForNone", func(f *Features) { f.ForNone = false }, `for none`, false},
		{"Floats", func(f *Features) { f.Floats = false }, `\d\.\d`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			re := regexp.MustCompile(tc.re)
			if tc.cond {
				re = regexp.MustCompile(`condition:\n[^\n"/]*` + tc.re)
			}
			f := AllFeatures()
			f.Invalid = false
			seen := false
			for id := 0; id < 300 && !seen; id++ {
				seen = re.MatchString(GenerateCase(1, id, f).Source)
			}
			if !seen {
				t.Errorf("%s on: %s never generated", tc.name, tc.re)
			}
			tc.off(&f)
			for id := 0; id < 300; id++ {
				if src := GenerateCase(1, id, f).Source; re.MatchString(src) {
					t.Fatalf("%s off: case %d has %s:\n%s", tc.name, id, re.FindString(src), src)
				}
			}
		})
	}
}
