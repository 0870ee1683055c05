package policy

import (
	"errors"
	"fmt"
	"path"
	"runtime"
	"strings"
	"sync"
)

// pathStyle says how paths of one operating system are read.
type pathStyle struct {
	windows bool // drive letters, "\" separators, trailing dots and spaces ignored
	fold    bool // names compare case-insensitively
	darwin  bool // /System/Volumes/Data and /private aliases
}

func styleFor(goos string) pathStyle {
	switch goos {
	case "windows":
		return pathStyle{windows: true, fold: true}
	case "darwin", "ios":
		return pathStyle{fold: true, darwin: true}
	}
	return pathStyle{}
}

func (p *Policy) style() pathStyle {
	if p.goos == "" {
		return styleFor(runtime.GOOS)
	}
	return styleFor(p.goos)
}

var errNotAbsolute = errors.New("not an absolute path")

// split turns an absolute path into its elements after the root, cleaned
// (so "..", "." and repeated or trailing separators cannot change what it
// names) and case-folded where the file system ignores case. On Windows the
// first element is the drive ("c:"); only drive-letter paths are accepted
// (UNC and device paths such as \\localhost\C$ or \\?\Volume{...} can name
// the same files by another name, so they are refused). pattern says the
// input is a forbid-path pattern: its elements may hold glob characters and
// no Windows stream names.
func (s pathStyle) split(p string, pattern bool) ([]string, error) {
	if p == "" {
		return nil, errNotAbsolute
	}
	if strings.IndexByte(p, 0) >= 0 {
		return nil, errors.New("NUL byte in path")
	}
	var vol string
	if s.windows {
		p = strings.ReplaceAll(p, `\`, "/")
		if strings.HasPrefix(p, "//?/") || strings.HasPrefix(p, "//./") {
			p = p[4:]
		}
		if len(p) < 3 || p[1] != ':' || p[2] != '/' || !(isLetter(p[0]) || pattern && (p[0] == '?' || p[0] == '*')) {
			return nil, fmt.Errorf("%w (want a drive letter path such as C:\\dir)", errNotAbsolute)
		}
		vol, p = p[:2], p[2:]
	} else if !strings.HasPrefix(p, "/") {
		return nil, errNotAbsolute
	}
	p = path.Clean(p)
	var elems []string
	if vol != "" {
		elems = append(elems, vol)
	}
	if p != "/" {
		for _, e := range strings.Split(p[1:], "/") {
			if s.windows {
				if pattern {
					if strings.IndexByte(e, ':') >= 0 {
						return nil, fmt.Errorf("%q: ':' is not allowed in a path element", e)
					}
				} else if i := strings.IndexByte(e, ':'); i >= 0 {
					e = e[:i] // "name:stream" is a stream of name
				}
				if strings.Trim(e, ". ") == "" {
					return nil, fmt.Errorf("%q: a path element of only dots and spaces", e)
				}
				e = strings.TrimRight(e, ". ") // Windows ignores them
			}
			elems = append(elems, e)
		}
	}
	if s.fold {
		for i, e := range elems {
			elems[i] = strings.ToLower(e)
		}
	}
	return elems, nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// aliases returns the element lists under which a path may also be known:
// on macOS /System/Volumes/Data/X is firmlinked to /X and /private/{var,etc,
// tmp} is where /var, /etc and /tmp point, so a path under either name is
// judged under both.
func (s pathStyle) aliases(elems []string) [][]string {
	out := [][]string{elems}
	if !s.darwin {
		return out
	}
	if len(elems) >= 3 && elems[0] == "system" && elems[1] == "volumes" && elems[2] == "data" {
		elems = elems[3:]
		out = append(out, elems)
	}
	if len(elems) >= 2 && elems[0] == "private" && (elems[1] == "var" || elems[1] == "etc" || elems[1] == "tmp") {
		out = append(out, elems[1:])
	}
	return out
}

// compiled is one forbid-path pattern, split into elements, without its
// optional trailing "**".
type compiled struct {
	text  string
	elems []string
}

// compile splits a pattern. The pattern must be absolute; "**" may only be
// the last element; every element must be a valid path.Match pattern.
func (s pathStyle) compile(pat string) (compiled, error) {
	elems, err := s.split(pat, true)
	if err != nil {
		return compiled{}, err
	}
	if n := len(elems); n > 0 && elems[n-1] == "**" {
		elems = elems[:n-1]
	}
	for _, e := range elems {
		if strings.Contains(e, "**") {
			return compiled{}, errors.New(`"**" is allowed only as the last element ("/**")`)
		}
		if _, err := path.Match(e, ""); err != nil {
			return compiled{}, fmt.Errorf("element %q: %w", e, err)
		}
	}
	return compiled{text: pat, elems: elems}, nil
}

// canonicalPattern returns the cleaned text of a pattern, as String writes
// it: forward slashes, no "." or "..", no repeated or trailing slash, and
// "/**" kept if it was there.
func (s pathStyle) canonicalPattern(pat string) (string, error) {
	if _, err := s.compile(pat); err != nil {
		return "", err
	}
	p := pat
	vol := ""
	if s.windows {
		p = strings.ReplaceAll(p, `\`, "/")
		if strings.HasPrefix(p, "//?/") || strings.HasPrefix(p, "//./") {
			p = p[4:]
		}
		vol, p = p[:2], p[2:]
	}
	p = path.Clean(p)
	if s.windows {
		// Windows ignores trailing dots and spaces; so does the canonical form.
		parts := strings.Split(p, "/")
		for i, e := range parts {
			if i > 0 {
				parts[i] = strings.TrimRight(e, ". ")
			}
		}
		p = strings.Join(parts, "/")
	}
	if strings.TrimSpace(p) != p {
		// A policy line's value is trimmed, so String could not keep it.
		return "", errors.New("the cleaned pattern ends with white space")
	}
	return vol + p, nil
}

// covers reports whether pattern elements q cover path elements r: r is
// the matched path or beneath it.
func covers(q, r []string) bool {
	if len(r) < len(q) {
		return false
	}
	for i, e := range q {
		if ok, _ := path.Match(e, r[i]); !ok {
			return false
		}
	}
	return true
}

// mayMatchInside reports whether something beneath root r could be covered
// by pattern elements q (q is longer than r and r matches q's prefix).
func mayMatchInside(q, r []string) bool {
	if len(q) <= len(r) {
		return false
	}
	for i, e := range r {
		if ok, _ := path.Match(q[i], e); !ok {
			return false
		}
	}
	return true
}

// patterns returns the effective compiled forbid-path patterns: the
// built-in ones unless NoDefaultForbids, then the policy's own. Patterns
// that do not compile (only possible in a Policy built by hand) are
// returned in bad.
func (p *Policy) patterns() (out []compiled, bad []string) {
	// Compiling costs far more than matching, and Forbidden runs for every
	// walked file, so compiled sets are cached by what they depend on.
	var k strings.Builder
	k.WriteString(p.goosOrRuntime())
	if p.NoDefaultForbids {
		k.WriteString("\x00no")
	}
	for _, f := range p.ForbidPaths {
		k.WriteString("\x00")
		k.WriteString(f)
	}
	key := k.String()
	cache.Lock()
	c, ok := cache.m[key]
	cache.Unlock()
	if ok {
		return c.pats, c.bad
	}
	out, bad = p.compilePatterns()
	cache.Lock()
	if cache.m == nil || len(cache.m) >= 64 {
		cache.m = map[string]compiledSet{}
	}
	cache.m[key] = compiledSet{out, bad}
	cache.Unlock()
	return out, bad
}

// compiledSet is a cached result of compilePatterns. Its slices are never
// modified.
type compiledSet struct {
	pats []compiled
	bad  []string
}

var cache struct {
	sync.Mutex
	m map[string]compiledSet
}

func (p *Policy) compilePatterns() (out []compiled, bad []string) {
	s := p.style()
	var all []string
	if !p.NoDefaultForbids {
		all = defaultForbids(p.goosOrRuntime())
	}
	all = append(all, p.ForbidPaths...)
	for _, pat := range all {
		c, err := s.compile(pat)
		if err != nil {
			bad = append(bad, pat)
			continue
		}
		out = append(out, c)
	}
	return out, bad
}

func (p *Policy) goosOrRuntime() string {
	if p.goos == "" {
		return runtime.GOOS
	}
	return p.goos
}

// Forbidden reports whether the file or directory at path may not be
// searched: it is matched by a forbid-path pattern or lies beneath one.
// The scanner calls it for every path it walks and skips forbidden ones
// (a forbidden directory is not entered).
//
// Forbidden judges the path as written, after cleaning it: "..", ".",
// repeated and trailing separators cannot bypass it, and on Windows and
// macOS the comparison ignores case (on Windows also trailing dots and
// spaces and ":stream" suffixes, and only drive-letter paths are accepted;
// on macOS /System/Volumes/Data/... and /private/{var,etc,tmp}/... are also
// judged as /... and /{var,etc,tmp}/...). It does not touch the file
// system, so it cannot see through symbolic links, junctions, hard links,
// bind mounts, subst drives or 8.3 short names: the agent must pass paths
// resolved with filepath.EvalSymlinks (which also expands short names on
// Windows), for every hunt root and for every walked path when it follows
// symbolic links. A path that is not absolute, or that cannot be judged,
// is forbidden.
func (p *Policy) Forbidden(path string) bool {
	_, forbidden := p.forbiddenBy(path)
	return forbidden
}

// forbiddenBy returns the pattern that forbids path ("" when the path
// cannot be judged at all).
func (p *Policy) forbiddenBy(path string) (string, bool) {
	s := p.style()
	elems, err := s.split(path, false)
	if err != nil {
		return "", true
	}
	pats, bad := p.patterns()
	if len(bad) > 0 {
		return "", true // a hand-built policy with a broken pattern: fail closed
	}
	for _, r := range s.aliases(elems) {
		for _, c := range pats {
			if covers(c.elems, r) {
				return c.text, true
			}
		}
	}
	return "", false
}

// ForbidPatterns returns the forbid-path patterns in force: the built-in
// ones for this operating system (unless the policy says
// default-forbid-paths no) followed by the policy's own.
func (p *Policy) ForbidPatterns() []string {
	var all []string
	if !p.NoDefaultForbids {
		all = defaultForbids(p.goosOrRuntime())
	}
	return append(all, p.ForbidPaths...)
}

// defaultForbids is the built-in list of private places for goos.
func defaultForbids(goos string) []string {
	var homes, out []string
	var private []string
	switch goos {
	case "windows":
		homes = []string{"?:/Users/*"}
		private = []string{
			"Documents", "Desktop", "Downloads", "Pictures", "Videos", "Music", "OneDrive", "OneDrive - *",
			".ssh", ".gnupg",
			"AppData/Roaming/gnupg",
			"AppData/Local/Microsoft/Outlook", "AppData/Roaming/Microsoft/Outlook",
			"AppData/Local/Packages/microsoft.windowscommunicationsapps_*",
			"AppData/Roaming/Thunderbird",
			"AppData/Local/Google/Chrome/User Data", "AppData/Local/Microsoft/Edge/User Data",
			"AppData/Local/BraveSoftware", "AppData/Roaming/Mozilla", "AppData/Roaming/Opera Software",
			"AppData/Roaming/Microsoft/Protect", "AppData/Roaming/Microsoft/Credentials",
			"AppData/Local/Microsoft/Credentials", "AppData/Roaming/Microsoft/Vault",
			"AppData/Local/Microsoft/Vault",
			"AppData/Roaming/KeePass", "AppData/Local/1Password", "AppData/Roaming/Bitwarden",
		}
	case "darwin", "ios":
		homes = []string{"/Users/*", "/var/root"}
		private = []string{
			"Documents", "Desktop", "Downloads", "Pictures", "Movies", "Music",
			"Library/Mobile Documents", "Library/CloudStorage",
			"Library/Mail", "Library/Messages", "Library/Containers/com.apple.mail",
			"Library/Safari", "Library/Cookies",
			"Library/Application Support/Google/Chrome", "Library/Application Support/Firefox",
			"Library/Application Support/Microsoft Edge", "Library/Application Support/BraveSoftware",
			"Library/Application Support/Thunderbird", "Library/Thunderbird",
			"Library/Keychains", "Library/Group Containers/*.com.1password",
			"Library/Application Support/1Password",
			".ssh", ".gnupg", ".password-store",
		}
		out = append(out, "/Library/Keychains/**", "/var/mail/**")
	default: // Linux and the other Unix systems
		homes = []string{"/home/*", "/var/home/*", "/usr/home/*", "/root"}
		private = []string{
			"Documents", "Desktop", "Downloads", "Pictures", "Videos", "Music",
			"Mail", "Maildir", ".mail", ".thunderbird", ".local/share/evolution", ".var/app/*/.thunderbird",
			".mozilla", ".config/google-chrome", ".config/chromium", ".config/BraveSoftware",
			".config/microsoft-edge", ".config/vivaldi", ".config/opera", ".var/app/*/.mozilla",
			".ssh", ".gnupg", ".password-store", ".local/share/keyrings",
			".config/keepassxc", ".config/1Password", ".config/Bitwarden",
		}
		out = append(out, "/var/mail/**", "/var/spool/mail/**", "/etc/ssh/ssh_host_*_key")
	}
	for _, h := range homes {
		for _, d := range private {
			out = append(out, h+"/"+d+"/**")
		}
	}
	return out
}
