package pe

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"time"

	"vigil/yara/module"
)

const (
	oidSignedData      = "1.2.840.113549.1.7.2"
	oidNestedSignature = "1.3.6.1.4.1.311.2.4.1" // SPC_NESTED_SIGNATURE_OBJID
	winCertHeaderSize  = 8                       // WIN_CERTIFICATE without the certificate
	winCertRevision1   = 0x0100
	winCertRevision2   = 0x0200
	winCertTypePKCS    = 0x0002
)

// certificate is what yara reports of one X.509 certificate.
type certificate struct {
	der       []byte // the encoding OpenSSL hashes for the thumbprint
	issuerKey string // canonical issuer, to find a signer's certificate
	serial    []byte // INTEGER contents
	version   int64  // X509_get_version
	issuer    nameValue
	subject   nameValue
	sigOID    string
	notBefore tlv
	notAfter  tlv
}

// signedData is the part of a PKCS#7 SignedData yara uses.
type signedData struct {
	certs   []*certificate
	signers []signerInfo
}

type signerInfo struct {
	issuer string // canonical issuer name
	serial []byte
	unauth []tlv // unauthenticated attributes
}

// parseCertificates reads the Authenticode signatures of the security
// directory as yara's pe_parse_certificates does.
func (f *file) parseCertificates() {
	d := f.directory(directorySecurity)
	if d < 0 {
		return
	}
	setInt(f.root, "number_of_signatures", 0)
	va, size := f.u32(d), f.u32(d+4)
	if va == 0 || int64(va) > f.size() || int64(size) > f.size() || int64(va+size) > f.size() {
		return
	}
	eod := int64(va) + int64(size)
	counter := 0
	wc := int64(va)
	for f.fits(wc, winCertHeaderSize) {
		length := int64(f.u32(wc))
		if length <= winCertHeaderSize || !f.fits(wc, length) || wc+winCertHeaderSize >= eod || wc+length > eod {
			break
		}
		rev, typ := f.u16(wc+4), f.u16(wc+6)
		if rev != winCertRevision1 && rev != winCertRevision2 {
			break
		}
		end := wc + length
		if rev == winCertRevision2 && typ == winCertTypePKCS {
			p := f.data[wc+winCertHeaderSize : end]
			for len(p) > 0 && counter < maxCerts {
				sd, rest, ok := parsePKCS7(p)
				if !ok {
					break
				}
				f.addSignatures(sd, &counter)
				p = rest
			}
		}
		wc = (end + 7) &^ 7
	}
	setInt(f.root, "number_of_signatures", int64(counter))
}

// addSignatures is yara's _parse_pkcs7: the certificates of the signers,
// then those of nested signatures.
func (f *file) addSignatures(sd *signedData, counter *int) {
	if *counter >= maxCerts || sd == nil {
		return
	}
	signers := sd.signerCertificates()
	if signers == nil {
		return
	}
	for _, c := range signers {
		if *counter >= maxCerts {
			break
		}
		f.setSignature(item(f.root, "signatures", *counter), c)
		*counter++
	}
	if len(sd.signers) == 0 {
		return
	}
	for _, a := range sd.signers[0].unauth {
		ch, ok := a.children()
		if !ok || len(ch) < 2 || !ch[0].isUniversal(tagOID) {
			continue
		}
		if oid, _ := oidString(ch[0].content); oid != oidNestedSignature {
			continue
		}
		values, _ := ch[1].elements()
		for j := 0; j < len(values) && j < maxCerts; j++ {
			v := values[j]
			b := v.content
			if v.isUniversal(tagSequence) {
				b = v.full
			}
			if nested, _, ok := parsePKCS7(b); ok {
				f.addSignatures(nested, counter)
			}
		}
		break // yara looks at the first such attribute only
	}
}

// signerCertificates is OpenSSL's PKCS7_get0_signers: the certificate of
// every signer, or nil if there is no signer or one has no certificate.
func (sd *signedData) signerCertificates() []*certificate {
	if len(sd.signers) == 0 {
		return nil
	}
	var out []*certificate
	for _, si := range sd.signers {
		var found *certificate
		for _, c := range sd.certs {
			if bytes.Equal(c.serial, si.serial) && c.issuerKey == si.issuer {
				found = c
				break
			}
		}
		if found == nil {
			return nil
		}
		out = append(out, found)
	}
	return out
}

// setSignature fills signatures[i] from the certificate c.
func (f *file) setSignature(e *module.Struct, c *certificate) {
	e.Fields["thumbprint"] = thumbprint(c.der)
	e.Fields["issuer"] = c.issuer.oneline()
	e.Fields["subject"] = c.subject.oneline()
	setInt(e, "version", c.version+1)
	name, oid := signatureAlgorithm(c.sigOID)
	e.Fields["algorithm"] = name
	e.Fields["algorithm_oid"] = oid
	if s := serialString(c.serial); s != "" {
		e.Fields["serial"] = s
	}
	setInt(e, "not_before", timeT(c.notBefore))
	setInt(e, "not_after", timeT(c.notAfter))
}

// integerValue is OpenSSL's ASN1_INTEGER_get: the value, or -1 if it does
// not fit in a long.
func integerValue(b []byte) int64 {
	if len(b) > 8 {
		return -1
	}
	var v int64
	if b[0]&0x80 != 0 {
		v = -1
	}
	for _, c := range b {
		v = v<<8 | int64(c)
	}
	return v
}

// timeT is yara's ASN1_get_time_t: the digits read as a UTC date with
// glibc's timegm normalization and no validation (a byte past the end
// reads as NUL, a byte above 0x7f as a negative char).
func timeT(t tlv) int64 {
	s := t.content
	i := 0
	next := func() int {
		c := 0
		if i < len(s) {
			c = int(int8(s[i])) // C's (signed) char
		}
		i++
		return c - '0'
	}
	var year int
	if t.tag == tagUTCTime {
		year = next() * 10
		year += next()
		if year < 70 {
			year += 100
		}
	} else {
		year = next() * 1000
		year += next() * 100
		year += next() * 10
		year += next()
		year -= 1900
	}
	mon := next() * 10
	mon += next() - 1
	day := next() * 10
	day += next()
	hour := next() * 10
	hour += next()
	minute := next() * 10
	minute += next()
	sec := next() * 10
	sec += next()
	return time.Date(1900+year, time.Month(mon+1), day, hour, minute, sec, 0, time.UTC).Unix()
}

// serialString is yara's colon-separated hex serial, or "" where yara
// leaves it undefined (more than 20 bytes).
func serialString(b []byte) string {
	if len(b) < 1 || len(b) > 20 {
		return ""
	}
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = hex.EncodeToString([]byte{c})
	}
	return strings.Join(parts, ":")
}

func thumbprint(der []byte) string {
	h := sha1.Sum(der)
	return hex.EncodeToString(h[:])
}
