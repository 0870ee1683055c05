package dotnet

import (
	"fmt"
	"testing"

	"vigil/yara/module"
	"vigil/yara/modules/internal/modtest"
)

// FuzzDotnet checks that Load never panics, that its data agrees with the
// declared type, and that every count agrees with its array and limit.
func FuzzDotnet(f *testing.F) {
	for _, s := range mcsSamples(f, "res.exe", "res-x64.dll", "tiny.exe") {
		f.Add(s.data)
	}
	f.Add([]byte("MZ"))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, _ := modtest.Load(t, Module(), data)
		checkCounts(t, st)
	})
}

// countLimits are the arrays with a count field and the most items yara
// can report.
var countLimits = []struct {
	array, count string
	limit        int
}{
	{"streams", "number_of_streams", 255},
	{"guids", "number_of_guids", maxGUIDBytes / guidSize},
	{"resources", "number_of_resources", maxTableRows},
	{"assembly_refs", "number_of_assembly_refs", maxTableRows},
	{"modulerefs", "number_of_modulerefs", maxTableRows},
	{"constants", "number_of_constants", maxTableRows},
	{"field_offsets", "number_of_field_offsets", maxTableRows},
}

// checkCounts reports counts that differ from their array's length or
// exceed yara's limits, and arrays with undefined items.
func checkCounts(t *testing.T, st *module.Struct) {
	t.Helper()
	for _, c := range countLimits {
		a, _ := st.Fields[c.array].(*module.Array)
		n, ok := st.Fields[c.count].(int64)
		if a == nil {
			if ok {
				t.Errorf("%s = %d without %s", c.count, n, c.array)
			}
			continue
		}
		if ok && n != int64(len(a.Items)) {
			t.Errorf("%s = %d, %s has %d items", c.count, n, c.array, len(a.Items))
		}
		if len(a.Items) > c.limit {
			t.Errorf("%s has %d items, more than %d", c.array, len(a.Items), c.limit)
		}
		for i, it := range a.Items {
			if it == nil {
				t.Errorf("%s", fmt.Sprintf("%s[%d] undefined", c.array, i))
			}
		}
	}
}
