package policy

import (
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

type key struct {
	name   string
	signer note.Signer
	vkey   string
}

func newKey(t testing.TB, name string) key {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return key{name, s, vkey}
}

func mustParse(t testing.TB, goos, text string) *Policy {
	t.Helper()
	p, err := parseFor(goos, "policy", []byte(text))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, text)
	}
	return p
}

func TestDefault(t *testing.T) {
	p := Default()
	if p.AllowContent || p.AllowDocumentHunts || p.MinApprovals != 1 || p.MinDocumentApprovals != 2 ||
		p.MaxHuntsPerDay != 20 || p.CPUShare != 25 || p.LogKey != "" || p.NoDefaultForbids {
		t.Errorf("Default() = %+v", p)
	}
	if _, err := p.Verifier(); !errors.Is(err, ErrNoLogKey) {
		t.Errorf("Verifier of Default: %v, want ErrNoLogKey", err)
	}
	for _, goos := range []string{"linux", "darwin", "windows", "freebsd"} {
		pats := defaultFor(goos).ForbidPatterns()
		if len(pats) < 20 {
			t.Errorf("%s: only %d built-in patterns", goos, len(pats))
		}
		s := styleFor(goos)
		for _, pat := range pats {
			if _, err := s.compile(pat); err != nil {
				t.Errorf("%s: built-in pattern %q: %v", goos, pat, err)
			}
		}
	}
}

func TestParseExample(t *testing.T) {
	alice, bob, logk, w1 := newKey(t, "alice"), newKey(t, "bob"), newKey(t, "vigil.example/log"), newKey(t, "w1.example")
	text := `# Paths no hunt may search
forbid-path /home/*/Documents/**
forbid-path /var/mail/**   # mail
forbid-path /srv//secret/../private/
allow-content no
min-approvals 1
approver ` + alice.vkey + `   # alice
approver	` + bob.vkey + `
document-hunts allow
min-document-approvals 2
log-key ` + logk.vkey + `
witness ` + w1.vkey + `
min-witnesses 1
max-hunts-per-day 5
cpu-share 40%
default-forbid-paths no
`
	p := mustParse(t, "linux", text)
	want := &Policy{
		ForbidPaths:          []string{"/home/*/Documents/**", "/var/mail/**", "/srv/private"},
		NoDefaultForbids:     true,
		MinApprovals:         1,
		Approvers:            []string{alice.vkey, bob.vkey},
		AllowDocumentHunts:   true,
		MinDocumentApprovals: 2,
		LogKey:               logk.vkey,
		Witnesses:            []string{w1.vkey},
		MinWitnesses:         1,
		MaxHuntsPerDay:       5,
		CPUShare:             40,
		goos:                 "linux",
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("got  %+v\nwant %+v", p, want)
	}
	if got := p.ApproverKeys(); len(got) != 2 || got["alice"] != alice.vkey || got["bob"] != bob.vkey {
		t.Errorf("ApproverKeys = %v", got)
	}
	// Absent directives take Default's values.
	q := mustParse(t, "linux", "log-key "+logk.vkey+"\napprover "+alice.vkey+"\n")
	d := defaultFor("linux")
	d.LogKey, d.Approvers = logk.vkey, []string{alice.vkey}
	if !reflect.DeepEqual(q, d) {
		t.Errorf("minimal policy = %+v, want defaults %+v", q, d)
	}
	r := mustParse(t, "linux", "log-key "+logk.vkey+"\nmin-approvals 0\nmax-hunts-per-day unlimited\ncpu-share 100\n")
	if r.MaxHuntsPerDay != Unlimited || r.CPUShare != 100 || r.MinApprovals != 0 {
		t.Errorf("got %+v", r)
	}
}

func TestParseErrors(t *testing.T) {
	alice, logk, w1 := newKey(t, "alice"), newKey(t, "vigil.example/log"), newKey(t, "w1")
	head := "log-key " + logk.vkey + "\napprover " + alice.vkey + "\n" // lines 1-2
	for _, c := range []struct{ text, want string }{
		{head + "frobnicate yes\n", "policy:3: unknown directive"},
		{head + "Allow-content no\n", "policy:3: unknown directive"},
		{head + "allow-content maybe\n", "policy:3:"},
		{head + "allow-content\n", "policy:3: allow-content: missing value"},
		{head + "allow-content no\n\nallow-content no\n", "policy:5: allow-content given twice (first on line 3)"},
		{head + "min-approvals -1\n", "policy:3:"},
		{head + "min-approvals 01\n", "policy:3:"},
		{head + "min-approvals 1x\n", "policy:3:"},
		{head + "min-approvals 2\n", "policy:3: min-approvals is 2 but 1 approver keys"},
		{head + "document-hunts allow\n", "policy: min-document-approvals is 2 but 1"},
		{head + "document-hunts maybe\n", "policy:3:"},
		{head + "cpu-share 0%\n", "policy:3:"},
		{head + "cpu-share 101\n", "policy:3:"},
		{head + "cpu-share 25%%\n", "policy:3:"},
		{head + "max-hunts-per-day lots\n", "policy:3:"},
		{head + "min-witnesses 1\n", "policy:3: min-witnesses is 1 but 0 witness"},
		{head + "forbid-path relative/dir\n", "policy:3: forbid-path"},
		{head + "forbid-path /a/**/b\n", "policy:3: forbid-path"},
		{head + "forbid-path /a/[b\n", "policy:3: forbid-path"},
		{head + "forbid-path /a/b\nforbid-path /a/b\n", "policy:4: forbid-path /a/b: listed twice"},
		{head + "forbid-path /a/b\nforbid-path /a//b/\n", "policy:4: forbid-path \"/a//b/\": the same as an earlier one"},
		{head + "approver " + alice.vkey + "\n", "policy:3: approver " + alice.vkey + ": listed twice"},
		{head + "approver " + newKey(t, "alice").vkey + "\n", `policy:3: approver key named "alice"`},
		{head + "approver garbage\n", "policy:3: approver"},
		{head + "approver " + logk.vkey + "\n", "policy:3: approver"},
		{head + "witness " + newKey(t, "vigil.example/log").vkey + "\n", "policy:3: witness key named"},
		{head + "log-key " + logk.vkey + "\n", "policy:3: log-key given twice"},
		{head + "witness " + w1.vkey + "\nmin-witnesses 2\n", "policy:4: min-witnesses is 2"},
		{head + "forbid-path /a\x01b\n", "policy:3: control character"},
		{head + "approver \xff\n", "policy: not valid UTF-8"},
		{"approver " + alice.vkey + "\n", "no log-key"},
		{"log-key " + logk.vkey + "\n", "policy: min-approvals is 1 but 0 approver keys"},
		{strings.Repeat("#", MaxFileSize+1), "over"},
	} {
		_, err := parseFor("linux", "policy", []byte(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("text %.200q:\n got error %v\nwant one containing %q", c.text, err, c.want)
		}
	}
}

func TestStringRoundTrip(t *testing.T) {
	alice, bob, logk, w1, w2 := newKey(t, "alice"), newKey(t, "bob"), newKey(t, "log.example"), newKey(t, "w1"), newKey(t, "w2")
	texts := []string{
		"log-key " + logk.vkey + "\nmin-approvals 0\n",
		"log-key " + logk.vkey + "\napprover " + alice.vkey + "\napprover " + bob.vkey +
			"\ndocument-hunts allow\nmin-document-approvals 2\nallow-content yes\nwitness " + w1.vkey +
			"\nwitness " + w2.vkey + "\nmin-witnesses 2\nmax-hunts-per-day unlimited\ncpu-share 7\n" +
			"default-forbid-paths no\n",
	}
	for _, goos := range []string{"linux", "darwin", "windows"} {
		for _, text := range texts {
			if goos == "windows" {
				text += "forbid-path C:\\Users\\*\\Secret. \\**\nforbid-path ?:/Temp/x\nforbid-path \\\\?\\D:\\a#b\n"
			} else {
				text += "forbid-path /a/./b//c/\nforbid-path /x/*/y/**\nforbid-path /a#b\n"
			}
			p := mustParse(t, goos, text)
			s := p.String()
			q := mustParse(t, goos, s)
			if !reflect.DeepEqual(p, q) {
				t.Errorf("%s: round trip changed the policy:\n%+v\n%+v\ntext:\n%s", goos, p, q, s)
			}
			if q.String() != s {
				t.Errorf("%s: String not stable", goos)
			}
		}
	}
	// Default's text names the built-in places, as comments.
	d := defaultFor("linux").String()
	if !strings.Contains(d, "#   built in: forbid-path /home/*/Documents/**\n") || !strings.Contains(d, "# no log-key pinned") {
		t.Errorf("Default().String() =\n%s", d)
	}
}

func FuzzParse(f *testing.F) {
	logk, alice := newKey(f, "log.example"), newKey(f, "alice")
	f.Add("linux", "log-key "+logk.vkey+"\napprover "+alice.vkey+"\nforbid-path /home/*/x/**\ncpu-share 3%\n")
	f.Add("windows", "log-key "+logk.vkey+"\nmin-approvals 0\nforbid-path c:\\a\\..\\b. \\**\n")
	f.Add("darwin", "log-key "+logk.vkey+"\nmin-approvals 0 # c\nmax-hunts-per-day unlimited\ndefault-forbid-paths no\n")
	f.Add("linux", "allow-content yes\n")
	f.Fuzz(func(t *testing.T, goos, text string) {
		p, err := parseFor(goos, "fuzz", []byte(text))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		s := p.String()
		q, err := parseFor(goos, "fuzz", []byte(s))
		if err != nil {
			t.Fatalf("String() does not parse: %v\n%s", err, s)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip changed the policy:\n%+v\n%+v", p, q)
		}
		for _, pat := range p.ForbidPaths {
			if !p.Forbidden(strings.TrimSuffix(pat, "/**")) && !strings.ContainsAny(pat, "*?[\\") {
				t.Fatalf("a literal pattern %q does not forbid itself", pat)
			}
		}
	})
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(filepath.Join(dir, "nope"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	logk := newKey(t, "log.example")
	path := filepath.Join(dir, "policy")
	if err := os.WriteFile(path, []byte("log-key "+logk.vkey+"\nmin-approvals 0\nbogus 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path+":3:") {
		t.Errorf("bad file: %v", err)
	}
	if err := os.WriteFile(path, []byte("log-key "+logk.vkey+"\nmin-approvals 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Load(path)
	if err != nil || p.LogKey != logk.vkey {
		t.Fatalf("Load: %v %+v", err, p)
	}
	if runtime.GOOS != "windows" {
		if err := os.Chmod(path, 0o666); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "writable") {
			t.Errorf("world-writable file: %v", err)
		}
	}
	if _, err := Load(dir); err == nil {
		t.Error("Load of a directory succeeded")
	}
}
