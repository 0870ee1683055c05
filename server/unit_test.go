package server

import (
	"strings"
	"testing"
	"time"

	"vigil/wire"
)

func TestCheckHuntPath(t *testing.T) {
	tests := []struct {
		path string
		ok   bool
	}{
		{"/", true},
		{"/home/user", true},
		{"/home/user/", false},
		{"/home/../etc", false},
		{"/home//user", false},
		{"home", false},
		{"", false},
		{"/a\x00b", false},
		{`C:\`, true},
		{`C:\Users\x`, true},
		{`c:/Users`, true},
		{`C:\Users\..\x`, false},
		{`C:\Users\\x`, false},
		{`C:\Users\`, false},
		{`C:Users`, false},
		{`\\server\share\dir`, true},
		{`\\`, false},
		{"/" + strings.Repeat("a", maxPathLen), false},
	}
	for _, tc := range tests {
		if err := checkHuntPath(tc.path); (err == nil) != tc.ok {
			t.Errorf("checkHuntPath(%q) = %v, want ok=%v", tc.path, err, tc.ok)
		}
	}
}

func TestCSVStrings(t *testing.T) {
	got := csvStrings([]wire.StringHit{{ID: "$a", Offsets: []int64{0, 16}, Count: 2}, {ID: "b", Offsets: []int64{4}, Count: 40}})
	if want := "$a@0;16 (2) $b@4 (40)"; got != want {
		t.Errorf("csvStrings = %q, want %q", got, want)
	}
	if got := csvStrings(nil); got != "" {
		t.Errorf("csvStrings(nil) = %q", got)
	}
}

func TestIDsAndSecrets(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range []string{huntIDPrefix, agentIDPrefix, tokenIDPrefix, operatorIDPrefix} {
		for range 100 {
			id := newID(p)
			if err := wire.ValidID(id); err != nil || len(id) != len(p)+idChars || seen[id] {
				t.Fatalf("newID(%q) = %q: %v (or a repeat)", p, id, err)
			}
			seen[id] = true
		}
	}
	s := newSecret(enrollSecretPrefix)
	if len(s) != 4+52 || strings.ToLower(s) != s || strings.Contains(s, "=") {
		t.Errorf("secret %q: want vet_ and 52 lowercase base32 characters", s)
	}
	if h := hashSecret("abc"); h != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("hashSecret(abc) = %s", h)
	}
	for _, tc := range []struct {
		header, tok string
		ok          bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer  abc ", "abc", true},
		{"Basic abc", "", false},
		{"Bearer", "", false},
		{"Bearer ", "", false},
	} {
		tok, ok := bearerToken(tc.header)
		if tok != tc.tok || ok != tc.ok {
			t.Errorf("bearerToken(%q) = %q, %v", tc.header, tok, ok)
		}
	}
}

func TestFailLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newFailLimiter(func() time.Time { return now })
	for i := range enrollBurst {
		if !l.allow("1.2.3.4") {
			t.Fatalf("refused after %d failures", i)
		}
		l.fail("1.2.3.4")
	}
	if l.allow("1.2.3.4") {
		t.Fatalf("allowed after %d failures", enrollBurst)
	}
	if !l.allow("5.6.7.8") {
		t.Fatalf("another address was refused")
	}
	now = now.Add(enrollRefill)
	if !l.allow("1.2.3.4") {
		t.Fatalf("refused after a refill interval")
	}
	l.fail("1.2.3.4")
	if l.allow("1.2.3.4") {
		t.Fatalf("allowed again at once")
	}
	now = now.Add(enrollBurst * enrollRefill)
	if !l.allow("1.2.3.4") || len(l.buckets) != 0 {
		t.Fatalf("a full bucket is still tracked: %d", len(l.buckets))
	}
}
