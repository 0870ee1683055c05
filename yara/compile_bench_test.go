package yara

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// corpusSources reads every rule file of the shared corpus (../shared/corpus
// seen from the repository root), sorted by path. It returns nil when the
// corpus is absent.
func corpusSources(tb testing.TB) (names []string, srcs [][]byte) {
	root := filepath.Join("..", "..", "shared", "corpus")
	if _, err := os.Stat(root); err != nil {
		return nil, nil
	}
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".yar") || strings.HasSuffix(path, ".yara")) {
			return nil
		}
		names = append(names, path)
		return nil
	})
	sort.Strings(names)
	for _, p := range names {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		srcs = append(srcs, b)
	}
	return names, srcs
}

// compileCorpus compiles every corpus file into one rule set, a namespace
// per file, as `vigil scan n0:f0 n1:f1 ...` does.
func compileCorpus(tb testing.TB, names []string, srcs [][]byte) *Rules {
	c := NewCompiler()
	for i, src := range srcs {
		if err := c.AddSource(names[i], src, fmt.Sprintf("n%d", i)); err != nil {
			tb.Fatal(err)
		}
	}
	r, err := c.Rules()
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// BenchmarkCompileCorpus compiles the whole shared corpus into one rule
// set. It reports the live heap held once the rules are built (after a
// garbage collection) as live-MB.
func BenchmarkCompileCorpus(b *testing.B) {
	names, srcs := corpusSources(b)
	if names == nil {
		b.Skip("../shared/corpus not present")
	}
	b.ReportAllocs()
	var keep *Rules
	var live uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		keep = nil
		keep = compileCorpus(b, names, srcs)
	}
	b.StopTimer()
	var base, ms runtime.MemStats
	keep = nil
	runtime.GC()
	runtime.ReadMemStats(&base)
	keep = compileCorpus(b, names, srcs)
	runtime.GC()
	runtime.ReadMemStats(&ms)
	live = ms.HeapAlloc - min(base.HeapAlloc, ms.HeapAlloc)
	runtime.KeepAlive(keep)
	b.ReportMetric(float64(live)/(1<<20), "live-MB")
}
