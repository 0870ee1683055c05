package lint

import (
	"os"
	"path/filepath"
	"testing"

	"vigil/yara/syntax"
)

// FuzzClassify checks that any rule file the parser accepts is classified
// without panicking, with a class and reasons for every rule.
func FuzzClassify(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.yar"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`rule r { strings: $a = "x" condition: for any i in (1..#a) : ( for all of them : ( $ at @a[i] ) ) }`))
	f.Add([]byte(`global rule g { condition: uint32be(uint16(0)) & 0xFF == 0x7F } rule r { condition: g and any of (g, r*) }`))
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := syntax.Parse("fuzz.yar", src)
		if err != nil {
			return
		}
		rep := Classify(file)
		if rep.Class != Code && rep.Class != Document {
			t.Fatalf("class %q", rep.Class)
		}
		if len(rep.Reasons) == 0 {
			t.Fatal("no reasons for the rule set")
		}
		for _, v := range rep.Rules {
			if (v.Class != Code && v.Class != Document) || len(v.Reasons) == 0 {
				t.Fatalf("rule %s: %+v", v.Rule, v)
			}
		}
	})
}
