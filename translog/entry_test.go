package translog

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"vigil/wire"
)

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func testHunt(id string) *HuntEntry {
	return &HuntEntry{
		HuntID:      id,
		Name:        "find the dropper",
		RulesSHA256: sha("rule a { condition: true }"),
		RulesRef:    "log:0",
		Target:      "os=linux,site=berlin",
		Paths:       []string{"/usr/bin", "/tmp/ü dir\nnewline%"},
		Exclude:     []string{"/tmp/cache"},
		Limits: Limits{MaxFileSize: 1 << 20, MaxFiles: 1000, PerFileTimeout: 2 * time.Second,
			Timeout: time.Hour, Archives: true, MaxArchiveDepth: 3},
		Requester:         "alice",
		Why:               "incident 42: \"dropper\" seen on two hosts",
		Created:           time.Date(2026, 11, 25, 12, 0, 0, 500, time.UTC),
		Expires:           time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
		LintClass:         LintCode,
		ApprovalsRequired: 2,
	}
}

func testKey(t testing.TB, name string) (note.Signer, note.Verifier, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v, vkey
}

// TestHuntEncoding pins the documented layout of a hunt entry.
func TestHuntEncoding(t *testing.T) {
	b, err := testHunt("h1").Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := "vigil-log-entry v1\n" +
		"kind hunt\n" +
		"hunt-id h1\n" +
		"name find the dropper\n" +
		"rules-sha256 " + sha("rule a { condition: true }") + "\n" +
		"rules-ref log:0\n" +
		"target os=linux,site=berlin\n" +
		"paths 2\n" +
		"path /usr/bin\n" +
		"path /tmp/%C3%BC dir%0Anewline%25\n" +
		"excludes 1\n" +
		"exclude /tmp/cache\n" +
		"max-file-size 1048576\n" +
		"max-files 1000\n" +
		"per-file-timeout-ns 2000000000\n" +
		"timeout-ns 3600000000000\n" +
		"archives true\n" +
		"max-archive-depth 3\n" +
		"follow-symlinks false\n" +
		"content-collection false\n" +
		"requester alice\n" +
		"why incident 42: \"dropper\" seen on two hosts\n" +
		"created 2026-11-25T12:00:00.0000005Z\n" +
		"expires 2026-11-26T12:00:00Z\n" +
		"lint-class code\n" +
		"approvals-required 2\n"
	if string(b) != want {
		t.Fatalf("encoding:\n%s\nwant:\n%s", b, want)
	}
	k, err := Kind(b)
	if err != nil || k != KindHunt {
		t.Fatalf("Kind = %q, %v", k, err)
	}
}

func roundTrip[T any](t *testing.T, x *T, enc func(*T) ([]byte, error), dec func([]byte) (*T, error)) []byte {
	t.Helper()
	b, err := enc(x)
	if err != nil {
		t.Fatal(err)
	}
	y, err := dec(b)
	if err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	if !reflect.DeepEqual(x, y) {
		t.Fatalf("round trip changed the entry:\n%+v\n%+v", x, y)
	}
	b2, err := enc(y)
	if err != nil || !bytes.Equal(b, b2) {
		t.Fatalf("re-encoding differs: %v\n%q\n%q", err, b, b2)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	roundTrip(t, testHunt("h1"), (*HuntEntry).Encode, DecodeHunt)
	h := testHunt("h2")
	h.Paths, h.Exclude, h.Name, h.Why = []string{"/"}, nil, "", ""
	roundTrip(t, h, (*HuntEntry).Encode, DecodeHunt)

	rules := "rule r { strings: $a = \"x\" condition: $a }\n"
	rs := &RuleSetEntry{Name: "base", RulesSHA256: sha(rules), Rules: rules, Publisher: "bob",
		Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), LintClass: LintDocument}
	roundTrip(t, rs, (*RuleSetEntry).Encode, DecodeRuleSet)
	rs.Rules = "other text"
	if _, err := rs.Encode(); err == nil {
		t.Fatal("rule set whose text does not match its hash was encoded")
	}

	signer, _, vkey := testKey(t, "carol")
	hb, _ := testHunt("h1").Encode()
	a, err := NewApproval(signer, vkey, hb, 7, time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, a, (*ApprovalEntry).Encode, DecodeApproval)
}

func TestEncodeRefusesInvalid(t *testing.T) {
	for name, mod := range map[string]func(h *HuntEntry){
		"bad id":         func(h *HuntEntry) { h.HuntID = "Bad ID" },
		"short sha":      func(h *HuntEntry) { h.RulesSHA256 = "abc" },
		"upper sha":      func(h *HuntEntry) { h.RulesSHA256 = strings.ToUpper(h.RulesSHA256) },
		"no lint class":  func(h *HuntEntry) { h.LintClass = "" },
		"negative appr":  func(h *HuntEntry) { h.ApprovalsRequired = -1 },
		"year 10000":     func(h *HuntEntry) { h.Expires = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"too many paths": func(h *HuntEntry) { h.Paths = make([]string, MaxListItems+1) },
	} {
		h := testHunt("h1")
		mod(h)
		if b, err := h.Encode(); err == nil {
			t.Errorf("%s: encoded %q", name, b)
		}
	}
}

func TestDecodeRejectsNonCanonical(t *testing.T) {
	good, err := testHunt("h1").Encode()
	if err != nil {
		t.Fatal(err)
	}
	s := string(good)
	for name, bad := range map[string]string{
		"lowercase escape":   strings.Replace(s, "%C3%BC", "%c3%bc", 1),
		"needless escape":    strings.Replace(s, "path /usr/bin", "path /usr%2Fbin", 1),
		"raw non-ascii":      strings.Replace(s, "%C3%BC", "ü", 1),
		"raw tab":            strings.Replace(s, "name find the", "name find\tthe", 1),
		"plus sign":          strings.Replace(s, "max-files 1000", "max-files +1000", 1),
		"leading zero":       strings.Replace(s, "max-files 1000", "max-files 01000", 1),
		"negative zero":      strings.Replace(s, "max-archive-depth 3", "max-archive-depth -0", 1),
		"bool case":          strings.Replace(s, "archives true", "archives True", 1),
		"time offset":        strings.Replace(s, "expires 2026-11-26T12:00:00Z", "expires 2026-11-26T13:00:00+01:00", 1),
		"time zeros":         strings.Replace(s, "expires 2026-11-26T12:00:00Z", "expires 2026-11-26T12:00:00.000Z", 1),
		"count too high":     strings.Replace(s, "paths 2", "paths 3", 1),
		"count too low":      strings.Replace(s, "paths 2", "paths 1", 1),
		"huge count":         strings.Replace(s, "paths 2", "paths 99999999999", 1),
		"trailing line":      s + "extra 1\n",
		"no final newline":   strings.TrimSuffix(s, "\n"),
		"double newline":     s + "\n",
		"missing field":      strings.Replace(s, "archives true\n", "", 1),
		"swapped fields":     strings.Replace(s, "max-file-size 1048576\nmax-files 1000\n", "max-files 1000\nmax-file-size 1048576\n", 1),
		"wrong kind":         strings.Replace(s, "kind hunt", "kind approval", 1),
		"wrong header":       strings.Replace(s, "v1", "v2", 1),
		"two spaces":         strings.Replace(s, "hunt-id h1", "hunt-id  h1", 1),
		"crlf":               strings.Replace(s, "hunt-id h1\n", "hunt-id h1\r\n", 1),
		"truncated escape":   strings.Replace(s, "newline%25\n", "newline%2\n", 1),
		"upper sha":          strings.Replace(s, sha("rule a { condition: true }"), strings.ToUpper(sha("rule a { condition: true }")), 1),
		"lint class escaped": strings.Replace(s, "lint-class code", "lint-class co%64e", 1),
	} {
		if bad == s {
			t.Fatalf("%s: mutation did not apply", name)
		}
		if h, err := DecodeHunt([]byte(bad)); err == nil {
			t.Errorf("%s: decoded %+v", name, h)
		}
	}
}

func TestApprovalChecks(t *testing.T) {
	signer, _, vkey := testKey(t, "carol")
	_, _, otherKey := testKey(t, "carol")
	hb, _ := testHunt("h1").Encode()
	now := time.Now()
	if _, err := NewApproval(signer, otherKey, hb, 0, now); err == nil {
		t.Fatal("approval with a key not belonging to the signer")
	}
	a, err := NewApproval(signer, vkey, hb, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Verify(hb); err != nil {
		t.Fatal(err)
	}
	other := testHunt("h1")
	other.Paths = append(other.Paths, "/home")
	ob, _ := other.Encode()
	if err := a.Verify(ob); err == nil {
		t.Fatal("approval verified against a different hunt")
	}
	forged := *a
	forged.ApproverKey = otherKey // same name, different key
	if err := forged.Verify(hb); err == nil {
		t.Fatal("approval verified with another key")
	}
	forged = *a
	forged.Approver = "mallory"
	if err := forged.Verify(hb); err == nil {
		t.Fatal("approval verified under a name that is not its key's")
	}
	forged = *a
	forged.Signature = append([]byte(nil), a.Signature...)
	forged.Signature[10] ^= 1
	if err := forged.Verify(hb); err == nil {
		t.Fatal("approval with a damaged signature verified")
	}
	// An approval of hunt h2 does not count for h1.
	h2, _ := testHunt("h2").Encode()
	a2, err := NewApproval(signer, vkey, h2, 1, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := a2.Verify(hb); err == nil {
		t.Fatal("approval of h2 verified for h1")
	}
}

func TestCheckHunt(t *testing.T) {
	rules := "rule a { condition: true }"
	w := &wire.Hunt{ID: "h1", Name: "find the dropper", Rules: rules, RulesSHA256: sha(rules),
		Paths: []string{"/usr/bin"}, Target: "os=linux", Why: "why", CreatedBy: "alice",
		Created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600)),
		Expires: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
		Limits:  wire.Limits{MaxFiles: 10, Archives: true}}
	e := HuntEntryFromWire(w)
	e.LintClass = LintCode
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	logged, err := DecodeHunt(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := logged.CheckHunt(w); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(w *wire.Hunt){
		"rules text":  func(w *wire.Hunt) { w.Rules += " " },
		"declared":    func(w *wire.Hunt) { w.RulesSHA256 = sha("x") },
		"extra path":  func(w *wire.Hunt) { w.Paths = append(w.Paths, "/home") },
		"exclude":     func(w *wire.Hunt) { w.Exclude = []string{"/x"} },
		"target":      func(w *wire.Hunt) { w.Target = "" },
		"limits":      func(w *wire.Hunt) { w.Limits.MaxFiles = 0 },
		"follow":      func(w *wire.Hunt) { w.Limits.FollowSymlinks = true },
		"requester":   func(w *wire.Hunt) { w.CreatedBy = "bob" },
		"expires":     func(w *wire.Hunt) { w.Expires = w.Expires.Add(time.Hour) },
		"reason":      func(w *wire.Hunt) { w.Why = "" },
		"id":          func(w *wire.Hunt) { w.ID = "h2" },
		"name":        func(w *wire.Hunt) { w.Name = "x" },
		"file limit":  func(w *wire.Hunt) { w.Limits.MaxFileSize = 5 },
		"timeouts":    func(w *wire.Hunt) { w.Limits.Timeout = time.Second },
		"depth":       func(w *wire.Hunt) { w.Limits.MaxArchiveDepth = 9 },
		"per file":    func(w *wire.Hunt) { w.Limits.PerFileTimeout = time.Second },
		"no archives": func(w *wire.Hunt) { w.Limits.Archives = false },
	} {
		c := *w
		c.Paths = append([]string(nil), w.Paths...)
		mod(&c)
		if err := logged.CheckHunt(&c); err == nil {
			t.Errorf("%s: a hunt differing from its log entry passed", name)
		}
	}
}

func FuzzDecode(f *testing.F) {
	hb, _ := testHunt("h1").Encode()
	f.Add(hb)
	rules := "rule r { condition: true }"
	rb, _ := (&RuleSetEntry{Name: "n", RulesSHA256: sha(rules), Rules: rules, LintClass: "code"}).Encode()
	f.Add(rb)
	signer, _, vkey := testKey(f, "carol")
	a, err := NewApproval(signer, vkey, hb, 3, time.Unix(0, 0))
	if err != nil {
		f.Fatal(err)
	}
	ab, _ := a.Encode()
	f.Add(ab)
	f.Add([]byte("vigil-log-entry v1\nkind hunt\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if h, err := DecodeHunt(b); err == nil {
			again, err := h.Encode()
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("hunt: Encode(Decode(b)) = %q, %v; want %q", again, err, b)
			}
			h2, err := DecodeHunt(again)
			if err != nil || !reflect.DeepEqual(h, h2) {
				t.Fatalf("hunt: Decode(Encode(x)) != x")
			}
		}
		if r, err := DecodeRuleSet(b); err == nil {
			again, err := r.Encode()
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("ruleset: Encode(Decode(b)) = %q, %v; want %q", again, err, b)
			}
		}
		if a, err := DecodeApproval(b); err == nil {
			again, err := a.Encode()
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("approval: Encode(Decode(b)) = %q, %v; want %q", again, err, b)
			}
		}
		if k, err := Kind(b); err == nil {
			if err := CheckEntry(k, b); err == nil && !bytes.HasPrefix(b, []byte(EntryHeader+"\nkind "+k+"\n")) {
				t.Fatalf("CheckEntry accepted %q", b)
			}
		}
	})
}
