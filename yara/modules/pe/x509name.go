package pe

import (
	"fmt"
	"sort"
	"strings"
)

// nameValue is an X.509 Name as OpenSSL holds it: its attributes in order,
// each with the index of the RDN it belongs to.
type nameValue []nameEntry

type nameEntry struct {
	oid   string
	tag   uint32 // universal tag of the value
	value []byte // string contents (the whole encoding for other types)
	set   int
}

// nameBufferSize is the size of the buffer yara passes to
// X509_NAME_oneline: longer names are cut before the first attribute that
// does not fit.
const nameBufferSize = 256

// printableTags are the universal tags OpenSSL accepts for the value of a
// name attribute (B_ASN1_PRINTABLE, through its tag2bit table); any other
// makes the whole certificate, and so the signature, fail to decode.
var printableTags = map[uint32]bool{
	3: true, 7: true, 8: true, 9: true, 11: true, 12: true, 13: true, 14: true, 15: true,
	16: true, 18: true, 19: true, 20: true, 22: true, 28: true, 29: true, 30: true,
}

// parseName decodes Name ::= SEQUENCE OF SET OF SEQUENCE { OID, value }
// as OpenSSL does, value types and canonical form included.
func parseName(t tlv) (nameValue, bool) {
	rdns, ok := openList(t, tagSequence)
	if !ok {
		return nil, false
	}
	var out nameValue
	for i, rdn := range rdns.ch {
		atvs, ok := openList(rdn, tagSet)
		if !ok {
			return nil, false
		}
		for _, atv := range atvs.ch {
			c, ok := open(atv, tagSequence)
			if !ok || len(c.ch) != 2 || !isOID(c.ch[0]) {
				return nil, false
			}
			oid, ok := oidString(c.ch[0].content)
			if !ok {
				return nil, false
			}
			v := c.ch[1]
			if v.class != 0 || v.tag > 30 || !printableTags[v.tag] || !validPrimitive(v) {
				return nil, false
			}
			if v.tag != tagSequence && v.constructed || !canonicalOK(v.tag, v.content) {
				return nil, false
			}
			e := nameEntry{oid: oid, tag: v.tag, value: v.content, set: i}
			if v.tag == tagSequence {
				e.value = v.full
			}
			out = append(out, e)
		}
	}
	return out, true
}

// oneline formats the name as OpenSSL 3's X509_NAME_oneline into a buffer
// of nameBufferSize bytes: "/SN=value" per attribute ("+" between
// attributes of one RDN), '/' and '+' escaped with a backslash, bytes
// outside printable ASCII as \xHH.
func (n nameValue) oneline() string {
	var b strings.Builder
	prevSet := -1
	for _, e := range n {
		sn := attributeName(e.oid)
		q := e.value
		keep := [4]bool{true, true, true, true}
		if e.tag == tagGeneralString && len(q)%4 == 0 {
			var nz [4]bool
			for j, c := range q {
				if c != 0 {
					nz[j&3] = true
				}
			}
			if !(nz[0] || nz[1] || nz[2]) {
				keep = [4]bool{false, false, false, true}
			}
		}
		var v strings.Builder
		for j, c := range q {
			if !keep[j&3] {
				continue
			}
			switch {
			case c < ' ' || c > '~':
				fmt.Fprintf(&v, "\\x%02X", c)
			case c == '/' || c == '+':
				v.WriteByte('\\')
				v.WriteByte(c)
			default:
				v.WriteByte(c)
			}
		}
		if b.Len()+1+len(sn)+1+v.Len() > nameBufferSize-1 {
			break
		}
		if prevSet == e.set {
			b.WriteByte('+')
		} else {
			b.WriteByte('/')
		}
		b.WriteString(sn)
		b.WriteByte('=')
		b.WriteString(v.String())
		prevSet = e.set
	}
	return b.String()
}

// canonical is the name as OpenSSL's X509_NAME_cmp compares it: string
// attributes converted to UTF-8, trimmed, with runs of white space made one
// space and ASCII letters lowercased; other attributes as they are. The
// attributes of one RDN are sorted, as their DER SET encoding is.
func (n nameValue) canonical() string {
	var rdns []string
	var cur []string
	set := -1
	flush := func() {
		if cur != nil {
			sort.Strings(cur)
			rdns = append(rdns, strings.Join(cur, "\x00\x01"))
		}
		cur = nil
	}
	for _, e := range n {
		if e.set != set {
			flush()
			set = e.set
		}
		var v string
		switch e.tag {
		case 12, 19, 20, 22, 28, 30: // string types OpenSSL canonicalizes
			v = "u:" + canonicalString(e.tag, e.value)
		default:
			v = fmt.Sprintf("%d:%s", e.tag, e.value)
		}
		cur = append(cur, e.oid+"="+v)
	}
	flush()
	return strings.Join(rdns, "\x00\x02")
}

// canonicalString converts an attribute value to UTF-8 and folds it as
// OpenSSL's asn1_string_canon does.
func canonicalString(tag uint32, b []byte) string {
	var runes []rune
	switch tag {
	case 12:
		runes = []rune(string(b))
	case 30:
		for i := 0; i+1 < len(b); i += 2 {
			runes = append(runes, rune(b[i])<<8|rune(b[i+1]))
		}
	case 28:
		for i := 0; i+3 < len(b); i += 4 {
			runes = append(runes, rune(b[i])<<24|rune(b[i+1])<<16|rune(b[i+2])<<8|rune(b[i+3]))
		}
	default: // one byte per character
		for _, c := range b {
			runes = append(runes, rune(c))
		}
	}
	u := []byte(string(runes))
	isSpace := func(c byte) bool { return c == ' ' || c >= '\t' && c <= '\r' }
	for len(u) > 0 && isSpace(u[0]) {
		u = u[1:]
	}
	for len(u) > 0 && isSpace(u[len(u)-1]) {
		u = u[:len(u)-1]
	}
	var out []byte
	for i := 0; i < len(u); {
		c := u[i]
		switch {
		case c >= 0x80:
			out = append(out, c)
			i++
		case isSpace(c):
			out = append(out, ' ')
			for i < len(u) && isSpace(u[i]) {
				i++
			}
		default:
			out = append(out, asciiLower(c))
			i++
		}
	}
	return string(out)
}
