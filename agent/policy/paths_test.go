package policy

import "testing"

func TestForbidden(t *testing.T) {
	for _, c := range []struct {
		goos, extra string
		path        string
		want        bool
	}{
		{"linux", "", "/home/bob/Documents", true},
		{"linux", "", "/home/bob/Documents/report.docx", true},
		{"linux", "", "/home/bob/Documents/", true},
		{"linux", "", "//home//bob//Documents//a", true},
		{"linux", "", "/home/bob/./Documents/a", true},
		{"linux", "", "/home/bob/src/../Documents/a", true},
		{"linux", "", "/tmp/../../home/bob/Documents", true},
		{"linux", "", "/home/bob/Documents/../src/main.c", false},
		{"linux", "", "/home/bob/src/main.c", false},
		{"linux", "", "/home/bob/documents", false}, // case matters on Linux
		{"linux", "", "/home/bob", false},
		{"linux", "", "/home", false},
		{"linux", "", "/", false},
		{"linux", "", "/root/.ssh/id_ed25519", true},
		{"linux", "", "/home/bob/.ssh", true},
		{"linux", "", "/var/home/bob/Desktop/x", true},
		{"linux", "", "/home/bob/.mozilla/firefox/p/places.sqlite", true},
		{"linux", "", "/home/bob/.config/google-chrome/Default/Cookies", true},
		{"linux", "", "/home/bob/.password-store/x.gpg", true},
		{"linux", "", "/var/mail/bob", true},
		{"linux", "", "/var/mailx", false},
		{"linux", "", "/var/spool/mail/bob", true},
		{"linux", "", "/etc/ssh/ssh_host_ed25519_key", true},
		{"linux", "", "/etc/ssh/ssh_host_ed25519_key.pub", false},
		{"linux", "", "/usr/bin/ls", false},
		{"linux", "", "relative/path", true}, // cannot be judged: forbidden
		{"linux", "", "", true},
		{"linux", "", "/a\x00b", true},
		{"linux", "forbid-path /srv/data\n", "/srv/data/x/y", true}, // a pattern covers its subtree
		{"linux", "forbid-path /srv/data\n", "/srv/database", false},
		{"linux", "forbid-path /srv/*.d/**\n", "/srv/conf.d/a", true},
		{"linux", "forbid-path /srv/*.d/**\n", "/srv/conf/a", false},
		{"linux", "forbid-path /**\n", "/usr/bin/ls", true},
		{"linux", "default-forbid-paths no\n", "/home/bob/Documents", false},
		{"linux", "default-forbid-paths no\nforbid-path /home/*/Documents/**\n", "/home/bob/Documents/a", true},

		{"darwin", "", "/Users/bob/Documents/a.pages", true},
		{"darwin", "", "/users/BOB/documents/a.pages", true}, // case-insensitive
		{"darwin", "", "/Users/bob/Library/Mail/V10/x.emlx", true},
		{"darwin", "", "/Users/bob/Library/Keychains/login.keychain-db", true},
		{"darwin", "", "/System/Volumes/Data/Users/bob/Documents/a", true}, // firmlink
		{"darwin", "", "/system/volumes/data/users/bob/desktop", true},
		{"darwin", "", "/private/var/mail/bob", true}, // /var -> /private/var
		{"darwin", "", "/private/var/root/.ssh/id_rsa", true},
		{"darwin", "", "/Users/bob/Projects/a.c", false},
		{"darwin", "", "/Applications/X.app", false},

		{"windows", "", `C:\Users\bob\Documents\a.docx`, true},
		{"windows", "", `c:/users/BOB/DOCUMENTS`, true},
		{"windows", "", `D:\Users\bob\Desktop\x`, true},
		{"windows", "", `C:\Users\bob\Documents.\a`, true},  // trailing dot
		{"windows", "", `C:\Users\bob\Documents .\a`, true}, // trailing space and dot
		{"windows", "", `C:\Users\bob\Documents::$INDEX_ALLOCATION\a`, true},
		{"windows", "", `\\?\C:\Users\bob\Documents\a`, true},
		{"windows", "", `\\localhost\C$\Users\bob\Documents`, true}, // UNC: not judged, forbidden
		{"windows", "", `C:Users\bob`, true},                        // drive-relative
		{"windows", "", `\Users\bob\Documents`, true},               // current-drive relative
		{"windows", "", `C:\Users\bob\...\x`, true},
		{"windows", "", `C:\Users\bob\AppData\Local\Google\Chrome\User Data\Default\Login Data`, true},
		{"windows", "", `C:\Users\bob\AppData\Roaming\Microsoft\Protect\S-1-5\k`, true},
		{"windows", "", `C:\Users\bob\src\main.c`, false},
		{"windows", "", `C:\Users\bob\Documents\..\src`, false},
		{"windows", "", `C:\Windows\System32\cmd.exe`, false},
		{"windows", "", `C:\`, false},
	} {
		p := mustParse(t, c.goos, "log-key "+testLogKey(t)+"\nmin-approvals 0\n"+c.extra)
		if got := p.Forbidden(c.path); got != c.want {
			t.Errorf("%s, policy extra %q: Forbidden(%q) = %v, want %v", c.goos, c.extra, c.path, got, c.want)
		}
	}
}

var logKeyCache string

func testLogKey(t testing.TB) string {
	if logKeyCache == "" {
		logKeyCache = newKey(t, "log.example").vkey
	}
	return logKeyCache
}

// A hand-built policy with a broken pattern fails closed.
func TestForbiddenBrokenPattern(t *testing.T) {
	p := &Policy{ForbidPaths: []string{"/a/[b"}, NoDefaultForbids: true, goos: "linux"}
	if !p.Forbidden("/usr/bin") {
		t.Error("broken pattern: path allowed")
	}
	p.ForbidPaths = []string{"/a/b"}
	if p.Forbidden("/usr/bin") || !p.Forbidden("/a/b/c") {
		t.Error("fixed pattern misjudged")
	}
}
