package quarantine

import (
	"bufio"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// ChunkSize is the plaintext size of one sealed chunk.
const ChunkSize = 64 << 10

// magic starts every data file; the version is in its last byte.
const magic = "VIGILQ\x00\x01"

const prefixSize = 8 // random nonce prefix per item; 4 bytes of counter follow

// seal encrypts r into w for item id, chunk by chunk. It returns the
// number of plaintext bytes.
func seal(aead cipher.AEAD, id string, w io.Writer, r io.Reader) (int64, error) {
	var prefix [prefixSize]byte
	if _, err := rand.Read(prefix[:]); err != nil {
		return 0, err
	}
	if _, err := io.WriteString(w, magic); err != nil {
		return 0, err
	}
	if _, err := w.Write(prefix[:]); err != nil {
		return 0, err
	}
	br := bufio.NewReaderSize(r, ChunkSize)
	buf := make([]byte, ChunkSize)
	out := make([]byte, 0, ChunkSize+aead.Overhead())
	var total int64
	for i := uint32(0); ; i++ {
		n, err := io.ReadFull(br, buf)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return total, err
		}
		final := n < ChunkSize
		if !final {
			if _, perr := br.Peek(1); perr == io.EOF {
				final = true
			} else if perr != nil {
				return total, perr
			}
		}
		if i == math.MaxUint32 && !final {
			return total, errors.New("file too large to quarantine")
		}
		out = aead.Seal(out[:0], nonce(prefix, i), buf[:n], chunkAD(id, i, final))
		if _, err := w.Write(out); err != nil {
			return total, err
		}
		total += int64(n)
		if final {
			return total, nil
		}
	}
}

// open decrypts a data file of item id from r into w. It fails with
// ErrCorrupt if any chunk was altered, reordered, or cut off.
func open(aead cipher.AEAD, id string, w io.Writer, r io.Reader) (int64, error) {
	head := make([]byte, len(magic)+prefixSize)
	if _, err := io.ReadFull(r, head); err != nil {
		return 0, fmt.Errorf("header: %v: %w", err, ErrCorrupt)
	}
	if string(head[:len(magic)]) != magic {
		return 0, fmt.Errorf("bad header: %w", ErrCorrupt)
	}
	var prefix [prefixSize]byte
	copy(prefix[:], head[len(magic):])
	sealedSize := ChunkSize + aead.Overhead()
	br := bufio.NewReaderSize(r, sealedSize)
	buf := make([]byte, sealedSize)
	var total int64
	for i := uint32(0); ; i++ {
		n, err := io.ReadFull(br, buf)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return total, err
		}
		final := n < sealedSize
		if !final {
			if _, perr := br.Peek(1); perr == io.EOF {
				final = true
			} else if perr != nil {
				return total, perr
			}
		}
		plain, err := aead.Open(buf[:0], nonce(prefix, i), buf[:n], chunkAD(id, i, final))
		if err != nil {
			return total, fmt.Errorf("chunk %d: %w", i, ErrCorrupt)
		}
		if _, err := w.Write(plain); err != nil {
			return total, err
		}
		total += int64(len(plain))
		if final {
			return total, nil
		}
		if i == math.MaxUint32 {
			return total, fmt.Errorf("too many chunks: %w", ErrCorrupt)
		}
	}
}

func nonce(prefix [prefixSize]byte, i uint32) []byte {
	n := make([]byte, 12)
	copy(n, prefix[:])
	binary.BigEndian.PutUint32(n[prefixSize:], i)
	return n
}

// chunkAD binds a chunk to its item, its position and whether it is the
// last one.
func chunkAD(id string, i uint32, final bool) []byte {
	ad := make([]byte, 0, len(id)+5)
	ad = append(ad, id...)
	ad = binary.BigEndian.AppendUint32(ad, i)
	if final {
		return append(ad, 1)
	}
	return append(ad, 0)
}
