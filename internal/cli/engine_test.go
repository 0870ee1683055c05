package cli

import (
	"bytes"
	"errors"
	"testing"

	"vigil/yara"
)

// TestScanCompilerDiscards checks that the compiler `vigil scan` uses
// keeps no sources (its rules cannot be saved) and that the one of
// `vigil compile` keeps them.
func TestScanCompilerDiscards(t *testing.T) {
	eng := yaraEngine()
	for _, tc := range []struct {
		name string
		new  func() compiler
		save bool
	}{{"scan", eng.newScanCompiler, false}, {"compile", eng.newCompiler, true}} {
		c := tc.new()
		if err := c.AddSource("r.yar", []byte(`rule r { condition: true }`), ""); err != nil {
			t.Fatal(err)
		}
		rs, err := c.Rules()
		if err != nil {
			t.Fatal(err)
		}
		err = rs.Save(&bytes.Buffer{})
		if tc.save && err != nil {
			t.Errorf("%s: Save: %v", tc.name, err)
		}
		if !tc.save && !errors.Is(err, yara.ErrNoSources) {
			t.Errorf("%s: Save: %v, want ErrNoSources", tc.name, err)
		}
	}
}
