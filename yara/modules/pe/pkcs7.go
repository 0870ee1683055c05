package pe

import (
	"unicode/utf8"
)

// Decoding of PKCS#7 SignedData and X.509 certificates as strictly as
// OpenSSL 3's d2i_PKCS7 does where it shows: a signature OpenSSL cannot
// decode gives yara no certificate at all, so every structure is checked
// against its ASN.1 template (fields in order, none missing, none extra)
// and every primitive value as OpenSSL's decoder checks it.

const (
	oidData       = "1.2.840.113549.1.7.1"
	maxPKCS7Depth = 8 // nested ContentInfo inside SignedData
)

// cursor walks the fields of a constructed value in template order.
type cursor struct {
	ch []tlv
	i  int
}

// open returns a cursor over a SEQUENCE (tag 16) or SET (tag 17).
func open(t tlv, tag uint32) (*cursor, bool) {
	if !t.isUniversal(tag) || !t.constructed {
		return nil, false
	}
	ch, ok := t.children()
	if !ok {
		return nil, false
	}
	return &cursor{ch: ch}, true
}

// next returns the next field if it has the given class and tag.
func (c *cursor) next(class byte, tag uint32) (tlv, bool) {
	if c.i >= len(c.ch) || !c.ch[c.i].is(class, tag) {
		return tlv{}, false
	}
	c.i++
	return c.ch[c.i-1], true
}

// openList returns a cursor over the elements of a SEQUENCE OF (tag 16)
// or SET OF (tag 17). Unlike a SEQUENCE, OpenSSL does not require the
// constructed bit here.
func openList(t tlv, tag uint32) (*cursor, bool) {
	if !t.isUniversal(tag) {
		return nil, false
	}
	ch, ok := t.elements()
	if !ok {
		return nil, false
	}
	return &cursor{ch: ch}, true
}

// more reports whether fields remain.
func (c *cursor) more() bool { return c.i < len(c.ch) }

// each reports whether every remaining field satisfies ok, consuming them.
func (c *cursor) each(ok func(tlv) bool) bool {
	for ; c.i < len(c.ch); c.i++ {
		if !ok(c.ch[c.i]) {
			return false
		}
	}
	return true
}

// validInteger reports whether OpenSSL decodes INTEGER contents b: not
// empty, and without a redundant leading 0x00 or 0xff.
func validInteger(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	if len(b) == 1 {
		return true
	}
	pad := false
	switch b[0] {
	case 0:
		pad = true
	case 0xff:
		for _, c := range b[1:] {
			if c != 0 {
				pad = true
			}
		}
	}
	return !(pad && b[0]&0x80 == b[1]&0x80)
}

// validOID is OpenSSL's check of OBJECT IDENTIFIER contents: not empty,
// complete, and no sub-identifier starting with a 0x80 byte.
func validOID(b []byte) bool {
	if len(b) == 0 || b[len(b)-1]&0x80 != 0 {
		return false
	}
	for i, c := range b {
		if c == 0x80 && (i == 0 || b[i-1]&0x80 == 0) {
			return false
		}
	}
	return true
}

// validPrimitive checks the contents of a universal value of type tag as
// OpenSSL's decoder does. Types that must be primitive are rejected when
// constructed.
func validPrimitive(t tlv) bool {
	if t.class != 0 {
		return true
	}
	b := t.content
	if t.constructed {
		switch t.tag {
		case 1, 2, 5, 6, 10:
			return false // must be primitive
		case tagSequence, tagSet:
			return true
		}
		// A constructed string: OpenSSL joins its pieces and checks
		// the result.
		var ok bool
		if b, ok = collect(b, 0); !ok {
			return false
		}
	}
	switch t.tag {
	case 1: // BOOLEAN
		return len(b) == 1
	case 2, 10: // INTEGER, ENUMERATED
		return validInteger(b)
	case 3: // BIT STRING
		return len(b) >= 1 && b[0] <= 7
	case 5: // NULL
		return len(b) == 0
	case 6:
		return validOID(b)
	case 28: // UniversalString
		return len(b)%4 == 0
	case 30: // BMPString
		return len(b)%2 == 0
	}
	return true
}

// maxStringNest is OpenSSL's ASN1_MAX_STRING_NEST: how deep the pieces of
// a constructed string may nest.
const maxStringNest = 5

// collect joins the pieces of a constructed string's contents as OpenSSL's
// asn1_collect does: any tag, no end-of-contents marker outside an
// indefinite length, nested constructed pieces up to maxStringNest.
func collect(content []byte, depth int) ([]byte, bool) {
	var out []byte
	for len(content) > 0 {
		t, rest, ok := parseTLV(content, 0)
		if !ok || t.class == 0 && t.tag == 0 && !t.constructed && len(t.content) == 0 {
			return nil, false
		}
		if t.constructed {
			if depth >= maxStringNest {
				return nil, false
			}
			sub, ok := collect(t.content, depth+1)
			if !ok {
				return nil, false
			}
			out = append(out, sub...)
		} else {
			out = append(out, t.content...)
		}
		content = rest
	}
	return out, true
}

func isInteger(t tlv) bool { return t.isUniversal(tagInteger) && validPrimitive(t) }

func isOID(t tlv) bool { return t.isUniversal(tagOID) && validPrimitive(t) }

func isOctetString(t tlv) bool { return t.isUniversal(tagOctetString) && validPrimitive(t) }

func isBitString(t tlv) bool { return t.isUniversal(3) && validPrimitive(t) }

// validAlgorithm checks an AlgorithmIdentifier: SEQUENCE { OID, ANY OPTIONAL }.
func validAlgorithm(t tlv) bool {
	c, ok := open(t, tagSequence)
	if !ok {
		return false
	}
	if oid, ok := c.next(0, tagOID); !ok || !validPrimitive(oid) {
		return false
	}
	if c.more() {
		if !validPrimitive(c.ch[c.i]) {
			return false
		}
		c.i++
	}
	return !c.more()
}

// validAttribute checks an Attribute: SEQUENCE { OID, SET OF ANY }.
func validAttribute(t tlv) bool {
	c, ok := open(t, tagSequence)
	if !ok {
		return false
	}
	if oid, ok := c.next(0, tagOID); !ok || !validPrimitive(oid) {
		return false
	}
	set, ok := c.next(0, tagSet)
	if !ok || c.more() {
		return false
	}
	values, ok := openList(set, tagSet)
	return ok && values.each(validPrimitive)
}

// setOf checks that t is an implicitly tagged [n] SET OF whose every
// element satisfies ok.
func setOf(t tlv, ok func(tlv) bool) bool {
	ch, good := t.elements()
	if !good {
		return false
	}
	for _, e := range ch {
		if !ok(e) {
			return false
		}
	}
	return true
}

// parsePKCS7 decodes one PKCS#7 ContentInfo at the start of b, returning
// the rest of b. A valid ContentInfo that is not SignedData gives nil data.
func parsePKCS7(b []byte) (*signedData, []byte, bool) {
	t, rest, ok := parseTLV(b, 0)
	if !ok {
		return nil, nil, false
	}
	sd, ok := decodeContentInfo(t, 0)
	if !ok {
		return nil, nil, false
	}
	return sd, rest, true
}

// decodeContentInfo decodes ContentInfo ::= SEQUENCE { contentType OID,
// content [0] EXPLICIT ANY OPTIONAL }.
func decodeContentInfo(t tlv, depth int) (*signedData, bool) {
	if depth > maxPKCS7Depth {
		return nil, false
	}
	c, ok := open(t, tagSequence)
	if !ok {
		return nil, false
	}
	oidTLV, ok := c.next(0, tagOID)
	if !ok || !validPrimitive(oidTLV) {
		return nil, false
	}
	oid, ok := oidString(oidTLV.content)
	if !ok {
		return nil, false
	}
	content, hasContent := c.next(2, 0)
	if c.more() {
		return nil, false
	}
	if !hasContent {
		return nil, true
	}
	inner, ok := content.children()
	if !content.constructed || !ok || len(inner) != 1 {
		return nil, false
	}
	switch oid {
	case oidSignedData:
		return decodeSignedData(inner[0], depth)
	case oidData:
		return nil, isOctetString(inner[0])
	}
	return nil, validPrimitive(inner[0])
}

// decodeSignedData decodes SignedData ::= SEQUENCE { version INTEGER,
// digestAlgorithms SET OF AlgorithmIdentifier, contentInfo ContentInfo,
// certificates [0] IMPLICIT SET OF Certificate OPTIONAL, crls [1]
// IMPLICIT SET OF CRL OPTIONAL, signerInfos SET OF SignerInfo }.
func decodeSignedData(t tlv, depth int) (*signedData, bool) {
	c, ok := open(t, tagSequence)
	if !ok {
		return nil, false
	}
	if v, ok := c.next(0, tagInteger); !ok || !isInteger(v) {
		return nil, false
	}
	algs, ok := c.next(0, tagSet)
	if !ok {
		return nil, false
	}
	if a, ok := openList(algs, tagSet); !ok || !a.each(validAlgorithm) {
		return nil, false
	}
	ci, ok := c.next(0, tagSequence)
	if !ok {
		return nil, false
	}
	if _, ok := decodeContentInfo(ci, depth+1); !ok {
		return nil, false
	}
	sd := &signedData{}
	if certs, ok := c.next(2, 0); ok {
		good := setOf(certs, func(e tlv) bool {
			cert, ok := decodeCertificate(e)
			if ok {
				sd.certs = append(sd.certs, cert)
			}
			return ok
		})
		if !good {
			return nil, false
		}
	}
	if crls, ok := c.next(2, 1); ok {
		if !setOf(crls, func(e tlv) bool { return e.isUniversal(tagSequence) && e.constructed }) {
			return nil, false
		}
	}
	infos, ok := c.next(0, tagSet)
	if !ok || c.more() {
		return nil, false
	}
	si, ok := openList(infos, tagSet)
	if !ok {
		return nil, false
	}
	good := si.each(func(e tlv) bool {
		s, ok := decodeSignerInfo(e)
		if ok {
			sd.signers = append(sd.signers, s)
		}
		return ok
	})
	if !good {
		return nil, false
	}
	return sd, true
}

// decodeSignerInfo decodes SignerInfo ::= SEQUENCE { version INTEGER,
// issuerAndSerialNumber SEQUENCE { Name, INTEGER }, digestAlgorithm,
// authenticatedAttributes [0] IMPLICIT SET OF Attribute OPTIONAL,
// digestEncryptionAlgorithm, encryptedDigest OCTET STRING,
// unauthenticatedAttributes [1] IMPLICIT SET OF Attribute OPTIONAL }.
func decodeSignerInfo(t tlv) (signerInfo, bool) {
	var si signerInfo
	c, ok := open(t, tagSequence)
	if !ok {
		return si, false
	}
	if v, ok := c.next(0, tagInteger); !ok || !isInteger(v) {
		return si, false
	}
	iasTLV, ok := c.next(0, tagSequence)
	if !ok {
		return si, false
	}
	ias, ok := open(iasTLV, tagSequence)
	if !ok {
		return si, false
	}
	issuer, ok := ias.next(0, tagSequence)
	if !ok {
		return si, false
	}
	name, ok := parseName(issuer)
	if !ok {
		return si, false
	}
	serial, ok := ias.next(0, tagInteger)
	if !ok || !isInteger(serial) || ias.more() {
		return si, false
	}
	si.issuer, si.serial = name.canonical(), serial.content
	if a, ok := c.next(0, tagSequence); !ok || !validAlgorithm(a) {
		return si, false
	}
	if auth, ok := c.next(2, 0); ok && !setOf(auth, validAttribute) {
		return si, false
	}
	if a, ok := c.next(0, tagSequence); !ok || !validAlgorithm(a) {
		return si, false
	}
	if d, ok := c.next(0, tagOctetString); !ok || !isOctetString(d) {
		return si, false
	}
	if unauth, ok := c.next(2, 1); ok {
		if !setOf(unauth, validAttribute) {
			return si, false
		}
		si.unauth, _ = unauth.elements()
	}
	return si, !c.more()
}

// decodeCertificate decodes Certificate ::= SEQUENCE { tbsCertificate,
// signatureAlgorithm, signature BIT STRING }.
func decodeCertificate(t tlv) (*certificate, bool) {
	c, ok := open(t, tagSequence)
	if !ok {
		return nil, false
	}
	tbs, ok := c.next(0, tagSequence)
	if !ok {
		return nil, false
	}
	alg, ok := c.next(0, tagSequence)
	if !ok || !validAlgorithm(alg) {
		return nil, false
	}
	if sig, ok := c.next(0, 3); !ok || !isBitString(sig) || c.more() {
		return nil, false
	}
	sigTLV := c.ch[2]
	cert := &certificate{der: reencodeCertificate(tbs, alg, sigTLV)}
	algOID, _ := alg.children()
	cert.sigOID, _ = oidString(algOID[0].content)
	if !decodeTBS(tbs, cert) {
		return nil, false
	}
	return cert, true
}

// decodeTBS decodes TBSCertificate ::= SEQUENCE { version [0] EXPLICIT
// INTEGER OPTIONAL, serialNumber INTEGER, signature AlgorithmIdentifier,
// issuer Name, validity SEQUENCE { Time, Time }, subject Name,
// subjectPublicKeyInfo SEQUENCE { AlgorithmIdentifier, BIT STRING },
// issuerUniqueID [1] IMPLICIT BIT STRING OPTIONAL, subjectUniqueID [2]
// IMPLICIT BIT STRING OPTIONAL, extensions [3] EXPLICIT Extensions
// OPTIONAL }.
func decodeTBS(t tlv, cert *certificate) bool {
	c, ok := open(t, tagSequence)
	if !ok {
		return false
	}
	if v, ok := c.next(2, 0); ok {
		ch, good := v.children()
		if !v.constructed || !good || len(ch) != 1 || !isInteger(ch[0]) {
			return false
		}
		cert.version = integerValue(ch[0].content)
	}
	serial, ok := c.next(0, tagInteger)
	if !ok || !isInteger(serial) {
		return false
	}
	cert.serial = serial.content
	if a, ok := c.next(0, tagSequence); !ok || !validAlgorithm(a) {
		return false
	}
	issuer, ok := c.next(0, tagSequence)
	if !ok {
		return false
	}
	if cert.issuer, ok = parseName(issuer); !ok {
		return false
	}
	cert.issuerKey = cert.issuer.canonical()
	validity, ok := c.next(0, tagSequence)
	if !ok {
		return false
	}
	vc, ok := open(validity, tagSequence)
	if !ok || len(vc.ch) != 2 {
		return false
	}
	for _, tm := range vc.ch {
		if tm.constructed || !(tm.isUniversal(tagUTCTime) || tm.isUniversal(tagGeneralizedTime)) || !validPrimitive(tm) {
			return false
		}
	}
	cert.notBefore, cert.notAfter = vc.ch[0], vc.ch[1]
	subject, ok := c.next(0, tagSequence)
	if !ok {
		return false
	}
	if cert.subject, ok = parseName(subject); !ok {
		return false
	}
	spkiTLV, ok := c.next(0, tagSequence)
	if !ok {
		return false
	}
	spki, ok := open(spkiTLV, tagSequence)
	if !ok || len(spki.ch) != 2 || !validAlgorithm(spki.ch[0]) || !isBitString(spki.ch[1]) {
		return false
	}
	for _, n := range []uint32{1, 2} {
		if u, ok := c.next(2, n); ok && (u.constructed || len(u.content) < 1 || u.content[0] > 7) {
			return false
		}
	}
	if ext, ok := c.next(2, 3); ok {
		ch, good := ext.children()
		if !ext.constructed || !good || len(ch) != 1 {
			return false
		}
		exts, ok := openList(ch[0], tagSequence)
		if !ok || !exts.each(validExtension) {
			return false
		}
	}
	return !c.more()
}

// validExtension checks Extension ::= SEQUENCE { OID, critical BOOLEAN
// DEFAULT FALSE, extnValue OCTET STRING }.
func validExtension(t tlv) bool {
	c, ok := open(t, tagSequence)
	if !ok {
		return false
	}
	if oid, ok := c.next(0, tagOID); !ok || !isOID(oid) {
		return false
	}
	if b, ok := c.next(0, 1); ok && !validPrimitive(b) {
		return false
	}
	v, ok := c.next(0, tagOctetString)
	return ok && isOctetString(v) && !c.more()
}

// canonicalOK is the check OpenSSL's name canonicalization makes when it
// converts a string attribute to UTF-8: valid UTF-8, or UTF-16/UTF-32
// code points that are neither surrogates nor beyond U+10FFFF.
func canonicalOK(tag uint32, b []byte) bool {
	switch tag {
	case 12: // UTF8String
		return utf8.Valid(b)
	case 30: // BMPString
		for i := 0; i+1 < len(b); i += 2 {
			v := rune(b[i])<<8 | rune(b[i+1])
			if v >= 0xd800 && v <= 0xdfff {
				return false
			}
		}
	case 28: // UniversalString
		for i := 0; i+3 < len(b); i += 4 {
			v := uint32(b[i])<<24 | uint32(b[i+1])<<16 | uint32(b[i+2])<<8 | uint32(b[i+3])
			if v >= 0x110000 || v >= 0xd800 && v <= 0xdfff {
				return false
			}
		}
	}
	return true
}

// reencodeCertificate returns the certificate as OpenSSL's i2d_X509
// writes it back, which is what its thumbprint hashes: the TBSCertificate
// exactly as read, the signature algorithm and the signature re-encoded in
// DER (constructed strings joined, the unused bits of a BIT STRING
// cleared), and a DER header around them.
func reencodeCertificate(tbs, alg, sig tlv) []byte {
	body := append([]byte(nil), tbs.full...)
	body = append(body, reencodeAlgorithm(alg)...)
	body = append(body, reencodePrimitive(sig)...)
	return derTLV(0x30, body)
}

func reencodeAlgorithm(t tlv) []byte {
	ch, _ := t.children()
	var body []byte
	for _, c := range ch {
		body = append(body, reencodePrimitive(c)...)
	}
	return derTLV(0x30, body)
}

// reencodePrimitive is the DER OpenSSL writes for a value it decoded as an
// ANY or a primitive type: SEQUENCE, SET and non-universal values as they
// were read, universal values with their contents (joined if constructed)
// under a minimal header.
func reencodePrimitive(t tlv) []byte {
	if t.class != 0 || t.tag == tagSequence || t.tag == tagSet || t.tag > 30 {
		return t.full
	}
	b := t.content
	if t.constructed {
		b, _ = collect(b, 0)
	}
	if t.tag == 3 && len(b) > 0 {
		unused := b[0] & 7
		b = append([]byte(nil), b...)
		if len(b) > 1 {
			b[len(b)-1] &= 0xff << unused
		} else {
			b[0] = 0
		}
	}
	return derTLV(byte(t.tag), b)
}

// derTLV encodes a value with a one-byte tag and a minimal length.
func derTLV(tag byte, content []byte) []byte {
	n := len(content)
	out := []byte{tag}
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	default:
		var l []byte
		for m := n; m > 0; m >>= 8 {
			l = append([]byte{byte(m)}, l...)
		}
		out = append(out, 0x80|byte(len(l)))
		out = append(out, l...)
	}
	return append(out, content...)
}
