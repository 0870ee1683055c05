package quarantine

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"io"
	"testing"
)

// FuzzOpen: a hostile data file never makes open panic, and it fails
// unless the data is an authentic item.
func FuzzOpen(f *testing.F) {
	block, _ := aes.NewCipher(make([]byte, keySize))
	aead, _ := cipher.NewGCM(block)
	const id = "0123456789abcdef"
	for _, n := range []int{0, 10, ChunkSize, ChunkSize + 1} {
		var b bytes.Buffer
		seal(aead, id, &b, bytes.NewReader(make([]byte, n)))
		f.Add(b.Bytes())
	}
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := open(aead, id, io.Discard, bytes.NewReader(data))
		if err == nil && n < 0 {
			t.Fatalf("n = %d", n)
		}
	})
}
