package scan

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"vigil/yara"
)

// nopScanner matches nothing; the fuzz target exercises unpacking only.
type nopScanner struct{}

func (nopScanner) ScanBytes(context.Context, []byte) (*yara.Result, error) {
	return &yara.Result{}, nil
}

// FuzzUnpack runs the archive recursion on arbitrary data with small
// limits: no panic, and never more unpacked than the limits allow.
func FuzzUnpack(f *testing.F) {
	files, _ := filepath.Glob("archive/testdata/*")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	o := &Options{
		Limits: Limits{MaxFileSize: 1 << 20, MaxDepth: 4, MaxUnpacked: 4 << 20,
			MaxRatio: 100, MaxMembers: 50},
		Archives: true,
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		events := 0
		fs := &fileScan{o: o, ctx: context.Background(), s: nopScanner{}, top: int64(len(data)),
			emit: func(e Event) {
				events++
				if e.Kind == Scanned && e.Depth > 0 && e.Size > o.MaxFileSize {
					t.Fatalf("%s: %d bytes past MaxFileSize", e.Path, e.Size)
				}
				if e.Depth > o.MaxDepth+1 {
					t.Fatalf("%s: depth %d", e.Path, e.Depth)
				}
			}}
		fs.data("fuzz", data, 0)
		if fs.used > o.MaxUnpacked {
			t.Fatalf("unpacked %d bytes, limit %d", fs.used, o.MaxUnpacked)
		}
	})
}
