package pe

import (
	"math/big"
	"strings"
)

// A small BER reader for the PKCS#7 signatures of Authenticode. It accepts
// definite and indefinite lengths, as OpenSSL does, and never reads past
// its input.

// maxBERDepth bounds the nesting of indefinite-length values.
const maxBERDepth = 32

// ASN.1 universal tags used here.
const (
	tagInteger         = 2
	tagOctetString     = 4
	tagOID             = 6
	tagSequence        = 16
	tagSet             = 17
	tagUTCTime         = 23
	tagGeneralizedTime = 24
	tagGeneralString   = 27
)

// tlv is one BER value.
type tlv struct {
	class       byte // 0 universal, 1 application, 2 context, 3 private
	constructed bool
	tag         uint32
	content     []byte // the contents, without an end-of-contents marker
	full        []byte // the whole encoding
}

// parseTLV reads one value from b and returns it and the rest of b.
func parseTLV(b []byte, depth int) (t tlv, rest []byte, ok bool) {
	if len(b) < 2 || depth > maxBERDepth {
		return t, nil, false
	}
	t.class = b[0] >> 6
	t.constructed = b[0]&0x20 != 0
	t.tag = uint32(b[0] & 0x1f)
	i := 1
	if t.tag == 0x1f {
		t.tag = 0
		for {
			if i >= len(b) || i > 5 {
				return t, nil, false
			}
			c := b[i]
			i++
			t.tag = t.tag<<7 | uint32(c&0x7f)
			if c&0x80 == 0 {
				break
			}
		}
	}
	if i >= len(b) {
		return t, nil, false
	}
	l := b[i]
	i++
	switch {
	case l < 0x80:
		n := int(l)
		if n > len(b)-i {
			return t, nil, false
		}
		t.content = b[i : i+n]
		t.full = b[:i+n]
		return t, b[i+n:], true
	case l == 0x80:
		if !t.constructed {
			return t, nil, false
		}
		p := b[i:]
		for {
			if len(p) >= 2 && p[0] == 0 && p[1] == 0 {
				end := len(b) - len(p)
				t.content = b[i:end]
				t.full = b[:end+2]
				return t, p[2:], true
			}
			var ok bool
			_, p, ok = parseTLV(p, depth+1)
			if !ok {
				return t, nil, false
			}
		}
	default:
		nb := int(l & 0x7f)
		if nb > 4 || nb > len(b)-i {
			return t, nil, false
		}
		n := 0
		for _, c := range b[i : i+nb] {
			n = n<<8 | int(c)
		}
		i += nb
		if n < 0 || n > len(b)-i {
			return t, nil, false
		}
		t.content = b[i : i+n]
		t.full = b[:i+n]
		return t, b[i+n:], true
	}
}

// children parses the contents of a constructed value.
func (t tlv) children() ([]tlv, bool) {
	if !t.constructed {
		return nil, false
	}
	return t.elements()
}

// elements parses the contents of a value as a series of values, whether
// or not the value is marked constructed: OpenSSL reads a SET OF or
// SEQUENCE OF so.
func (t tlv) elements() ([]tlv, bool) {
	var out []tlv
	p := t.content
	for len(p) > 0 {
		c, rest, ok := parseTLV(p, 0)
		if !ok {
			return nil, false
		}
		out = append(out, c)
		p = rest
	}
	return out, true
}

func (t tlv) is(class byte, tag uint32) bool { return t.class == class && t.tag == tag }

func (t tlv) isUniversal(tag uint32) bool { return t.is(0, tag) }

// oidString returns the dotted form of an OBJECT IDENTIFIER's contents,
// with arcs of any size as OpenSSL prints them.
func oidString(b []byte) (string, bool) {
	if len(b) == 0 || b[len(b)-1]&0x80 != 0 {
		return "", false
	}
	var parts []string
	v := new(big.Int)
	first := true
	for _, c := range b {
		v.Lsh(v, 7)
		v.Or(v, big.NewInt(int64(c&0x7f)))
		if c&0x80 != 0 {
			continue
		}
		if first {
			switch {
			case v.Cmp(big.NewInt(40)) < 0:
				parts = append(parts, "0", v.String())
			case v.Cmp(big.NewInt(80)) < 0:
				parts = append(parts, "1", new(big.Int).Sub(v, big.NewInt(40)).String())
			default:
				parts = append(parts, "2", new(big.Int).Sub(v, big.NewInt(80)).String())
			}
			first = false
		} else {
			parts = append(parts, v.String())
		}
		v.SetInt64(0)
	}
	return strings.Join(parts, "."), true
}
