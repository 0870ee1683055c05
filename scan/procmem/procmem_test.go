package procmem

import (
	"bytes"
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"vigil/yara"
)

func TestParseMaps(t *testing.T) {
	tests := []struct {
		line string
		want Region
		err  bool
	}{
		{"5577a8652000-5577a8656000 r--p 00000000 fe:00 247072                     /usr/bin/dash",
			Region{0x5577a8652000, 0x5577a8656000, "r--p", 0, "/usr/bin/dash"}, false},
		{"7f6abc9b5000-7f6abc9b8000 rw-p 00000000 00:00 0 ", Region{0x7f6abc9b5000, 0x7f6abc9b8000, "rw-p", 0, ""}, false},
		{"7ffe-7fff rw-p 0001e000 00:00 0   [stack]", Region{0x7ffe, 0x7fff, "rw-p", 0x1e000, "[stack]"}, false},
		{"10-20 r--p 0 fe:00 12   /tmp/a file (deleted)", Region{0x10, 0x20, "r--p", 0, "/tmp/a file (deleted)"}, false},
		{"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]",
			Region{0xffffffffff600000, 0xffffffffff601000, "--xp", 0, "[vsyscall]"}, false},
		{"20-10 r--p 0 0 0", Region{}, true},
		{"zz-10 r--p 0 0 0", Region{}, true},
		{"10-20 r--p", Region{}, true},
		{"1020 r--p 0 0 0", Region{}, true},
		{"10-20 r--p x 0 0", Region{}, true},
	}
	for _, tc := range tests {
		got, err := ParseMaps(strings.NewReader(tc.line + "\n"))
		if (err != nil) != tc.err {
			t.Errorf("%q: error %v", tc.line, err)
			continue
		}
		if !tc.err && (len(got) != 1 || got[0] != tc.want) {
			t.Errorf("%q: %+v, want %+v", tc.line, got, tc.want)
		}
	}
	if _, err := ParseMaps(strings.NewReader(strings.Repeat("x", maxMapsLine+1))); err == nil {
		t.Error("overlong line accepted")
	}
}

func TestReadable(t *testing.T) {
	for _, tc := range []struct {
		r    Region
		want bool
	}{
		{Region{Perms: "r--p"}, true}, {Region{Perms: "rw-p", Path: "[heap]"}, true},
		{Region{Perms: "---p"}, false}, {Region{Perms: "--xp", Path: "[vsyscall]"}, false},
		{Region{Perms: "r--p", Path: "[vvar]"}, false}, {Region{}, false},
	} {
		if got := tc.r.Readable(); got != tc.want {
			t.Errorf("%+v: %v", tc.r, got)
		}
	}
}

// findScanner reports every occurrence of needle as a match of rule
// "Found", string $a.
type findScanner struct{ needle []byte }

func (f findScanner) ScanBytes(_ context.Context, data []byte) (*yara.Result, error) {
	res := &yara.Result{}
	var ms []yara.Match
	for off := 0; ; {
		i := bytes.Index(data[off:], f.needle)
		if i < 0 {
			break
		}
		ms = append(ms, yara.Match{Offset: int64(off + i), Length: len(f.needle), Data: bytes.Clone(f.needle)})
		off += i + 1
	}
	if len(ms) > 0 {
		res.Matching = []yara.MatchRule{{RuleInfo: yara.RuleInfo{Name: "Found"},
			Strings: []yara.MatchString{{ID: "$a", Matches: ms}}}}
	} else {
		res.NotMatching = []yara.MatchRule{{RuleInfo: yara.RuleInfo{Name: "Found"}}}
	}
	return res, nil
}

// TestScanSelf scans this test process for a marker built at run time and
// checks that its address is among the matches.
func TestScanSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		_, _, err := Scan(context.Background(), os.Getpid(), findScanner{[]byte("x")}, Options{})
		if !errors.Is(err, ErrUnsupported) {
			t.Fatalf("Scan: %v, want ErrUnsupported", err)
		}
		return
	}
	// The needle and the marker are built at run time, so the only copies
	// of the marker are on the heap.
	needle := []byte(strings.Repeat("Q", 3) + "vigil-procmem-marker-" + strings.ToUpper("zq"))
	marker := make([]byte, 4096)
	copy(marker[100:], needle)
	want := uint64(uintptr(unsafe.Pointer(&marker[100])))
	for _, chunk := range []int64{0, 4096, 1000} {
		res, st, err := Scan(context.Background(), os.Getpid(), findScanner{needle}, Options{MaxChunk: chunk})
		if err != nil {
			t.Fatal(err)
		}
		if st.Regions == 0 || st.Bytes == 0 {
			t.Errorf("stats %+v", st)
		}
		if len(res.Matching) != 1 || len(res.NotMatching) != 0 {
			t.Fatalf("chunk %d: result %+v", chunk, res)
		}
		found := false
		for _, m := range res.Matching[0].Strings[0].Matches {
			found = found || uint64(m.Offset) == want
		}
		if !found {
			t.Errorf("chunk %d: marker at %#x not among %+v", chunk, want, res.Matching[0].Strings[0].Matches)
		}
	}
	runtime.KeepAlive(marker)
	runtime.KeepAlive(needle)
}

func TestScanNoProcess(t *testing.T) {
	_, _, err := Scan(context.Background(), 1<<30, findScanner{[]byte("x")}, Options{})
	want := ErrAttach
	if runtime.GOOS != "linux" {
		want = ErrUnsupported
	}
	if !errors.Is(err, want) {
		t.Errorf("Scan of a missing process: %v", err)
	}
}

func TestMergeNotMatching(t *testing.T) {
	m := newMerger()
	m.add(&yara.Result{NotMatching: []yara.MatchRule{{RuleInfo: yara.RuleInfo{Name: "A"}}, {RuleInfo: yara.RuleInfo{Name: "B"}}}}, 0)
	m.add(&yara.Result{Matching: []yara.MatchRule{{RuleInfo: yara.RuleInfo{Name: "A"},
		Strings: []yara.MatchString{{ID: "$a", Matches: []yara.Match{{Offset: 5}}}}}},
		NotMatching: []yara.MatchRule{{RuleInfo: yara.RuleInfo{Name: "B"}}}}, 0x1000)
	res := m.result()
	if len(res.Matching) != 1 || res.Matching[0].Name != "A" || res.Matching[0].Strings[0].Matches[0].Offset != 0x1005 {
		t.Errorf("matching %+v", res.Matching)
	}
	if len(res.NotMatching) != 1 || res.NotMatching[0].Name != "B" {
		t.Errorf("not matching %+v", res.NotMatching)
	}
}
