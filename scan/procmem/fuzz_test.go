package procmem

import (
	"bytes"
	"testing"
)

func FuzzParseMaps(f *testing.F) {
	f.Add([]byte("5577a8652000-5577a8656000 r--p 00000000 fe:00 247072   /usr/bin/dash\n7ffe-7fff rw-p 0 00:00 0 [stack]\n"))
	f.Add([]byte("10-20 r--p 0 fe:00 12   /tmp/a file (deleted)\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		regions, _ := ParseMaps(bytes.NewReader(data))
		for _, r := range regions {
			if r.End < r.Start {
				t.Fatalf("region %+v", r)
			}
		}
	})
}
