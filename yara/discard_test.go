package yara

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestDiscardSources checks that a compiler told to discard its sources
// keeps none, gives rules that scan as the others do, and that Save
// refuses them.
func TestDiscardSources(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "inc.yar")
	if err := os.WriteFile(inc, []byte(`rule inc { strings: $a = { 4D 5A ?? 00 } condition: $a }`), 0o644); err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "main.yar")
	src := fmt.Sprintf("include %q\nrule lit { strings: $a = \"kernel32\" nocase condition: $a and inc }\n", inc)
	if err := os.WriteFile(main, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	compile := func(discard bool) *Rules {
		c := NewCompiler()
		if discard {
			c.DiscardSources()
		}
		if err := c.AddFile(main, "ns"); err != nil {
			t.Fatal(err)
		}
		if err := c.AddSource("other", []byte(`rule other { condition: true }`), ""); err != nil {
			t.Fatal(err)
		}
		if discard && (len(c.sources) != 0 || len(c.included) != 0) {
			t.Fatalf("%d sources and %d included files kept", len(c.sources), len(c.included))
		}
		r, err := c.Rules()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	kept, dropped := compile(false), compile(true)
	data := []byte("..MZ\x90\x00..KERNEL32.dll")
	for _, r := range []*Rules{kept, dropped} {
		res, err := r.NewScanner().ScanBytes(context.Background(), data)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, m := range res.Matching {
			names = append(names, m.Name)
		}
		if fmt.Sprint(names) != "[inc lit other]" {
			t.Errorf("matched %v", names)
		}
	}
	if err := dropped.Save(&bytes.Buffer{}); !errors.Is(err, ErrNoSources) {
		t.Errorf("Save of rules without sources: %v", err)
	}
	var buf bytes.Buffer
	if err := kept.Save(&buf); err != nil {
		t.Fatal(err)
	}
	saved := buf.Bytes()
	for _, load := range []func(io.Reader) (*Rules, error){Load, LoadDiscard} {
		r, err := load(bytes.NewReader(saved))
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.NewScanner().ScanBytes(context.Background(), data)
		if err != nil || len(res.Matching) != 3 {
			t.Fatalf("loaded rules: %v %v", res, err)
		}
		err = r.Save(&bytes.Buffer{})
		if discard := len(r.sources) == 0; discard != errors.Is(err, ErrNoSources) || discard != (len(r.included) == 0) {
			t.Errorf("loaded rules with %d sources, %d included files: Save %v", len(r.sources), len(r.included), err)
		}
	}
}
