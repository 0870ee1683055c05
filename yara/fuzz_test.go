package yara

import (
	"context"
	"testing"
	"time"
)

// FuzzCompileScan compiles arbitrary sources and scans arbitrary data with
// what compiles: neither may panic or hang.
func FuzzCompileScan(f *testing.F) {
	for _, s := range []string{
		`rule r { strings: $a = "abc" nocase wide $b = { 41 ?? [1-3] 42 } $c = /a.c/ condition: any of them }`,
		`rule r { condition: for all i in (0..filesize) : (uint8(i) != 0) }`,
		`rule r { strings: $a = "x" xor(1-3) condition: #a > 1 and @a[1] < 10 and !a[1] == 1 }`,
		`rule r { strings: $a = "hello" base64 base64wide condition: $a }`,
		`import "math" rule r { condition: math.entropy(0, filesize) > 1 }`,
		`global rule g { condition: true } private rule p { condition: g } rule r { condition: any of (p, g) }`,
		`rule r { strings: $a = { 41 [300-400] 42 } condition: $a in (0..100) }`,
	} {
		f.Add(s, []byte("abc hello aGVsbG8= AxxB \x00\x01"))
	}
	f.Fuzz(func(t *testing.T, src string, data []byte) {
		r, err := Compile(src)
		if err != nil {
			return
		}
		s := r.NewScanner()
		s.SetOptions(ScanOptions{Timeout: time.Second})
		s.ScanBytes(context.Background(), data)
	})
}
