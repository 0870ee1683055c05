package modules

import (
	"sort"
	"strings"
	"testing"

	"vigil/yara/modules/internal/modtest"
)

func TestBuiltin(t *testing.T) {
	mods := Builtin()
	var names []string
	for name, mod := range mods {
		if mod.Name != name {
			t.Errorf("module %q registered as %q", mod.Name, name)
		}
		names = append(names, name)
		// Types are well formed and agree with the loaded data, on empty
		// and non-empty input.
		modtest.Load(t, mod, nil)
		modtest.Load(t, mod, []byte("some data"))
	}
	sort.Strings(names)
	if got, want := strings.Join(names, " "), "console dotnet elf hash magic math pe time"; got != want {
		t.Errorf("Builtin() = %s, want %s", got, want)
	}
}

// TestImportable checks with the reference yara that each built-in module
// is one yara 4.2.3 knows.
func TestImportable(t *testing.T) {
	modtest.Yara(t)
	var rules strings.Builder
	for name := range Builtin() {
		rules.WriteString("import \"" + name + "\"\n")
	}
	rules.WriteString("rule t { condition: true }\n")
	if matched, _ := modtest.RunYara(t, rules.String(), nil); !matched["t"] {
		t.Errorf("yara did not accept the imports:\n%s", rules.String())
	}
}
