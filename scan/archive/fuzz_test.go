package archive

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// fuzzLimits keep each fuzz input cheap.
var fuzzLimits = ReadLimits{MaxSize: 4 << 20, MaxRatio: 200}

// fuzzFormat walks data as format f and reads every member, seeded from
// every file in testdata.
func fuzzFormat(f *testing.F, format Format) {
	files, _ := filepath.Glob("testdata/*")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		Detect(data)
		n := 0
		Walk(format, data, "fuzz", func(m *Member) error {
			n++
			if n > 100 {
				return context.Canceled
			}
			b, err := m.Read(context.Background(), fuzzLimits)
			if int64(len(b)) > fuzzLimits.MaxSize {
				t.Fatalf("read %d bytes past the limit", len(b))
			}
			_ = err
			return nil
		})
	})
}

func FuzzZip(f *testing.F)   { fuzzFormat(f, Zip) }
func FuzzTar(f *testing.F)   { fuzzFormat(f, Tar) }
func FuzzGzip(f *testing.F)  { fuzzFormat(f, Gzip) }
func FuzzBzip2(f *testing.F) { fuzzFormat(f, Bzip2) }
func FuzzXz(f *testing.F)    { fuzzFormat(f, Xz) }
func FuzzZstd(f *testing.F)  { fuzzFormat(f, Zstd) }
