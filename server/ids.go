package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"
)

// Prefixes of the secrets the server hands out. A secret is its prefix and
// secretBytes random bytes in lowercase base32 without padding.
const (
	operatorTokenPrefix = "vop_" // operator API tokens
	enrollSecretPrefix  = "vet_" // enrollment token secrets
	secretBytes         = 32
	// maxSecretLen bounds a presented token before it is hashed.
	maxSecretLen = 256
)

// ID prefixes; every ID is the prefix and idChars base32 characters, so
// that it satisfies wire.ValidID.
const (
	huntIDPrefix     = "h-"
	agentIDPrefix    = "a-"
	tokenIDPrefix    = "t-"
	operatorIDPrefix = "o-"
	idChars          = 12
)

var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// randomString returns n random bytes in lowercase base32.
func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand.Read never fails on supported platforms (Go 1.24+).
		panic("crypto/rand: " + err.Error())
	}
	return lowerBase32.EncodeToString(b)
}

// newSecret returns a fresh secret with the given prefix.
func newSecret(prefix string) string {
	return prefix + randomString(secretBytes)
}

// newID returns a fresh random ID with the given prefix.
func newID(prefix string) string {
	// 8 bytes give 13 base32 characters; keep idChars of them (60 bits).
	return prefix + randomString(8)[:idChars]
}

// hashSecret is how tokens and secrets are stored: hex sha256.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// rulesHash is the hex sha256 of a hunt's rules.
func rulesHash(rules string) string {
	return hashSecret(rules)
}

// bearerToken extracts the token of an "Authorization: Bearer TOKEN" header.
func bearerToken(header string) (string, bool) {
	scheme, tok, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
