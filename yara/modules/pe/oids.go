package pe

// objectNames are OpenSSL's names for an object (see objects.go).
type objectNames struct{ sn, ln string }

// signatureAlgorithm returns what yara reports for a certificate's
// signature algorithm OID: OpenSSL's long name and the OID. For an OID
// OpenSSL does not know, yara gets NID_undef: "undefined" and an empty OID.
func signatureAlgorithm(oid string) (name, oidText string) {
	if o, ok := objects[oid]; ok {
		return o.ln, oid
	}
	return "undefined", ""
}

// attributeName is the name X509_NAME_oneline prints for a name attribute:
// OpenSSL's short name, or the OID in dotted form (cut to 79 bytes, the
// size of OpenSSL's buffer) if OpenSSL does not know it.
func attributeName(oid string) string {
	if o, ok := objects[oid]; ok {
		return o.sn
	}
	if len(oid) > 79 {
		return oid[:79]
	}
	return oid
}
