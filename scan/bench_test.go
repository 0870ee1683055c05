package scan_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"vigil/scan"
)

// BenchmarkRunSmallFiles measures walking and scanning many small files
// (the per-file overhead of the layer).
func BenchmarkRunSmallFiles(b *testing.B) {
	dir := b.TempDir()
	const files = 2000
	for i := range files {
		write(b, filepath.Join(dir, fmt.Sprintf("d%02d/f%04d", i%20, i)), []byte("small file content, nothing to see here\n"))
	}
	o := archiveOptions()
	newS := newScanner(b)
	b.ResetTimer()
	for b.Loop() {
		sum, err := scan.Run(context.Background(), o, []string{dir}, newS, func(scan.Event) {})
		if err != nil || sum.Files != files {
			b.Fatalf("%d files, %v", sum.Files, err)
		}
	}
	b.ReportMetric(float64(files*b.N)/b.Elapsed().Seconds(), "files/s")
}
