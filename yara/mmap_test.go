package yara

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestScanFileKinds scans files that cannot be mapped (empty, /proc) and
// one that is, and checks that the results keep no reference to the
// mapping once ScanFile returned (reading Match.Data of an unmapped page
// would crash the test).
func TestScanFileKinds(t *testing.T) {
	r, err := Compile(`
rule empty { condition: filesize == 0 }
rule proc { strings: $a = "Name:" condition: $a and filesize > 0 }
rule big { strings: $a = "needle" condition: #a == 2 and filesize == 200000 }
`)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	emptyPath := filepath.Join(dir, "empty")
	must(t, os.WriteFile(emptyPath, nil, 0o644))
	big := bytes.Repeat([]byte{'.'}, 200000)
	copy(big[10:], "needle")
	copy(big[199990:], "needle")
	bigPath := filepath.Join(dir, "big")
	must(t, os.WriteFile(bigPath, big, 0o644))
	cases := []struct {
		path string
		want string
	}{
		{emptyPath, "empty"},
		{bigPath, "big"},
		{"/proc/self/status", "proc"},
	}
	s := r.NewScanner()
	for _, c := range cases {
		if _, err := os.Stat(c.path); err != nil {
			t.Logf("skipping %s: %v", c.path, err)
			continue
		}
		res, err := s.ScanFile(context.Background(), c.path)
		if err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		var names []string
		for _, m := range res.Matching {
			names = append(names, m.Name)
		}
		if len(names) != 1 || names[0] != c.want {
			t.Errorf("%s: matched %v, want %s", c.path, names, c.want)
		}
		runtime.GC()
		for _, m := range res.Matching {
			for _, ms := range m.Strings {
				for _, x := range ms.Matches {
					if m.Name == "big" && string(x.Data) != "needle" {
						t.Errorf("%s: match data %q", c.path, x.Data)
					}
				}
			}
		}
	}
	if _, err := s.ScanFile(context.Background(), dir); err == nil {
		t.Error("scanning a directory succeeded")
	}
	if _, err := s.ScanFile(context.Background(), filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestMappedFileTruncated truncates a file after mapping it: reading the
// mapping then faults (SIGBUS), which must become ErrMappedFault.
func TestMappedFileTruncated(t *testing.T) {
	r, err := Compile(`rule r { strings: $a = "needle" condition: $a }`)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "f")
	must(t, os.WriteFile(p, bytes.Repeat([]byte("needle.."), 1<<16), 0o644))
	f, err := os.Open(p)
	must(t, err)
	defer f.Close()
	data, unmap, err := mapFile(f)
	must(t, err)
	if data == nil {
		t.Skip("files are not mapped on " + runtime.GOOS)
	}
	defer unmap()
	must(t, os.Truncate(p, 0))
	s := r.NewScanner()
	if _, err := s.scanMapped(context.Background(), data); !errors.Is(err, ErrMappedFault) {
		t.Fatalf("scan of a truncated mapping: %v, want ErrMappedFault", err)
	}
	// The scanner is still usable.
	res, err := s.ScanBytes(context.Background(), []byte("a needle"))
	if err != nil || len(res.Matching) != 1 || res.Matching[0].Strings[0].Matches[0].Offset != 2 {
		t.Errorf("after a fault: %+v %v", res, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
