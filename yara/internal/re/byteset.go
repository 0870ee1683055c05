package re

import "math/bits"

// ByteSet is a set of byte values.
type ByteSet [4]uint64

var (
	wordSet  = rangesSet("azAZ09__")
	spaceSet = rangesSet("  \t\r") // ' ', \t \n \v \f \r
)

func rangesSet(r string) ByteSet {
	var s ByteSet
	for i := 0; i+1 < len(r); i += 2 {
		s.AddRange(r[i], r[i+1])
	}
	return s
}

// Add adds b.
func (s *ByteSet) Add(b byte) { s[b>>6] |= 1 << (b & 63) }

// Remove removes b.
func (s *ByteSet) Remove(b byte) { s[b>>6] &^= 1 << (b & 63) }

// AddRange adds lo..hi inclusive.
func (s *ByteSet) AddRange(lo, hi byte) {
	for c := int(lo); c <= int(hi); c++ {
		s.Add(byte(c))
	}
}

// Has reports whether b is in s.
func (s *ByteSet) Has(b byte) bool { return s[b>>6]&(1<<(b&63)) != 0 }

// Len is the number of bytes in s.
func (s ByteSet) Len() int {
	return bits.OnesCount64(s[0]) + bits.OnesCount64(s[1]) + bits.OnesCount64(s[2]) + bits.OnesCount64(s[3])
}

// Min is the smallest byte in s (0 for the empty set).
func (s ByteSet) Min() byte {
	for i, w := range s {
		if w != 0 {
			return byte(i*64 + bits.TrailingZeros64(w))
		}
	}
	return 0
}

// Bytes lists the members in increasing order.
func (s ByteSet) Bytes() []byte {
	n := s.Len()
	if n == 0 {
		return nil
	}
	out := make([]byte, 0, n)
	for i, w := range s {
		for ; w != 0; w &= w - 1 {
			out = append(out, byte(i*64+bits.TrailingZeros64(w)))
		}
	}
	return out
}

// Union returns s ∪ t.
func (s ByteSet) Union(t ByteSet) ByteSet {
	return ByteSet{s[0] | t[0], s[1] | t[1], s[2] | t[2], s[3] | t[3]}
}

// Complement returns the bytes not in s.
func (s ByteSet) Complement() ByteSet { return ByteSet{^s[0], ^s[1], ^s[2], ^s[3]} }

// Fold adds the other ASCII case of every letter in s.
func (s ByteSet) Fold() ByteSet {
	t := s
	for c := byte('a'); c <= 'z'; c++ {
		if s.Has(c) || s.Has(c-32) {
			t.Add(c)
			t.Add(c - 32)
		}
	}
	return t
}

func isWordByte(c byte) bool { return wordSet.Has(c) }

// foldClass case-folds the class of n: a negated class ([^a], '.') is
// folded before the negation, as yara does, so /[^a]/ nocase excludes 'A'.
func foldClass(n *Node) ByteSet {
	if n.Neg {
		return n.Set.Complement().Fold().Complement()
	}
	return n.Set.Fold()
}
