package syntax

import (
	"os"
	"testing"
)

// FuzzParse checks that Parse and Dump never panic, that errors carry a
// code and a position, and that a file without errors dumps the same way
// twice.
func FuzzParse(f *testing.F) {
	for _, tt := range condTests {
		f.Add([]byte(condSource(tt.cond)))
	}
	for _, tt := range fileTests {
		f.Add([]byte(tt.src))
	}
	for _, tt := range errorTests {
		if len(tt.src) < 1000 {
			f.Add([]byte(tt.src))
		}
	}
	for _, name := range corpusFiles(f) {
		if src, err := os.ReadFile(name); err == nil {
			f.Add(src)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse("fuzz.yar", src)
		if file == nil {
			t.Fatal("nil File")
		}
		d := file.Dump()
		if err != nil {
			el, ok := err.(ErrorList)
			if !ok || len(el) == 0 {
				t.Fatalf("error of type %T: %v", err, err)
			}
			for _, e := range el {
				if e.Code == "" || e.Pos.Line < 1 || e.Pos.Col < 1 {
					t.Fatalf("bad error %+v", e)
				}
			}
			return
		}
		if d2 := file.Dump(); d2 != d {
			t.Fatal("Dump not deterministic")
		}
	})
}
