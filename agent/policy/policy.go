// Package policy is the endpoint owner's local policy: rules the Vigil
// agent enforces on every hunt whatever the server says. The policy file
// belongs to the machine's administrator (for example /etc/vigil/policy);
// the agent reads it when it starts and again on SIGHUP, and the server can
// neither read nor change it.
//
// # File format
//
// Plain UTF-8 text, one directive per line: a keyword, white space, a
// value. Blank lines are ignored; "#" starts a comment when it begins a line
// or follows white space (to match a literal " #" in a path, write "[#]").
// Keywords are lowercase. Parsing is strict: an unknown directive, a bad
// value, or a second occurrence of a single-valued directive (or the same
// value twice for a list directive) is an error naming file:line.
//
//	forbid-path PATTERN          (list) a path no hunt may search, with
//	                             everything beneath it. PATTERN is absolute;
//	                             each element is a path.Match glob ("*",
//	                             "?", "[a-z]"); a trailing "/**" may be
//	                             written to say "the whole subtree", which
//	                             is what every pattern means anyway. On
//	                             Windows: "C:\Users\*\Documents\**" or with
//	                             "/"; "?:" matches any drive.
//	default-forbid-paths yes|no  whether the built-in private places of this
//	                             operating system (see below) are forbidden
//	                             too. Default yes.
//	allow-content yes|no         whether a hunt may collect file content or
//	                             samples. Default no.
//	min-approvals N              approvals (by operators other than the
//	                             hunt's requester, signed by an approver key
//	                             below) every hunt needs, at least; the
//	                             server's own requirement applies if
//	                             higher. 0-100, default 1.
//	approver KEY                 (list) a trusted approver's note verifier
//	                             key ("name+hash+keydata"); names distinct.
//	document-hunts refuse|allow  keyword or document searches (lint class
//	                             "document", or any class but "code").
//	                             Default refuse.
//	min-document-approvals N     approvals a document hunt needs when
//	                             allowed. 0-100, default 2.
//	log-key KEY                  the note verifier key of the server's
//	                             transparency log, pinned. Required.
//	witness KEY                  (list) a witness's note verifier key.
//	min-witnesses N              cosignatures by distinct listed witnesses
//	                             every checkpoint needs. Default 0.
//	max-hunts-per-day N|unlimited  hunts accepted per day; 0 refuses all.
//	                             Default 20.
//	cpu-share N%                 share of one CPU core the agent's scanning
//	                             may use, 1-100 ("%" optional). Default 25%.
//
// The policy must be satisfiable: min-approvals (and min-document-approvals
// when document hunts are allowed) may not exceed the number of approver
// keys, nor min-witnesses the number of witness keys; every key (log,
// approver, witness) must have its own name, so no approver or witness key
// can be the log key. To stop all hunts, say max-hunts-per-day 0.
//
// # Paths
//
// Paths and patterns are compared element by element after cleaning, so
// "..", ".", "//" and trailing separators change nothing; on Windows and
// macOS without regard to case. On Windows only drive-letter paths are
// judged (UNC and device paths are forbidden, since they can name local
// files by another name), trailing dots and spaces and ":stream" suffixes
// are ignored as Windows ignores them. On macOS /System/Volumes/Data/X is
// also judged as /X, and /private/{var,etc,tmp}/X as /{var,etc,tmp}/X. The
// policy never touches the file system: the agent must resolve symbolic
// links (filepath.EvalSymlinks) of every hunt root and of every walked path
// before asking Forbidden. Hard links, bind mounts and subst drives can
// still give a forbidden file another path; an owner who needs more than a
// path rule should also deny the agent's account access to those places.
//
// # Built-in forbidden places
//
// Unless default-forbid-paths is no, these subtrees are forbidden, for
// every user's home directory (Linux and other Unix: /home/*, /var/home/*,
// /usr/home/*, /root; macOS: /Users/*, /var/root; Windows: ?:\Users\*):
// Documents, Desktop, Downloads, Pictures, videos and music, cloud drives,
// mail stores, browser profiles, ~/.ssh, ~/.gnupg, password managers and
// key rings; and /var/mail, /var/spool/mail, SSH host private keys (Unix),
// /Library/Keychains (macOS), the DPAPI and credential stores (Windows).
// (*Policy).ForbidPatterns lists them; String writes them as comments.
//
// # Enforcement
//
// Check decides one hunt before it runs; Forbidden is the per-path test the
// scanner applies while walking. Verifier builds the transparency-log
// verifier with the pinned log key and required witnesses; ApproverKeys is
// what translog.CheckApprovals trusts.
package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"

	"vigil/translog"
)

// Unlimited is the value of Policy.MaxHuntsPerDay that sets no limit.
const Unlimited = -1

// Size limits of a policy file.
const (
	MaxFileSize = 1 << 20 // bytes
	MaxList     = 1000    // forbid-path, approver or witness lines, each
	MaxCount    = 100     // largest min-approvals, min-document-approvals, min-witnesses
)

// Policy is a parsed local policy. Build it with Default or Parse (or
// Load); the zero value forbids only the built-in places, needs no local
// approvals and allows no hunt at all (MaxHuntsPerDay 0). Its methods do
// not modify it, so one Policy may be used by many goroutines; to reload
// on SIGHUP, Load a new one and swap a pointer (sync/atomic.Pointer), and
// keep the old one if the new file does not parse.
type Policy struct {
	// ForbidPaths are the file's forbid-path patterns, cleaned, in file
	// order (the built-in ones are not listed here: see ForbidPatterns).
	ForbidPaths []string
	// NoDefaultForbids is "default-forbid-paths no".
	NoDefaultForbids bool
	// AllowContent is "allow-content yes".
	AllowContent bool
	// MinApprovals is min-approvals.
	MinApprovals int
	// Approvers are the approver keys, in file order.
	Approvers []string
	// AllowDocumentHunts is "document-hunts allow".
	AllowDocumentHunts bool
	// MinDocumentApprovals is min-document-approvals.
	MinDocumentApprovals int
	// LogKey is the pinned log-key ("" in Default: none pinned).
	LogKey string
	// Witnesses are the witness keys, in file order.
	Witnesses []string
	// MinWitnesses is min-witnesses.
	MinWitnesses int
	// MaxHuntsPerDay is max-hunts-per-day, or Unlimited.
	MaxHuntsPerDay int
	// CPUShare is cpu-share in percent of one core, 1-100.
	CPUShare int

	goos string // whose path rules apply; "" = runtime.GOOS
}

// Default is the policy of an agent without a policy file: the built-in
// forbidden places, no content collection, at least 1 approval (by a key
// the policy lists, and it lists none, so every hunt is refused until a
// policy file names approvers), document hunts refused (2 approvals if
// allowed), no witnesses, 20 hunts a day, 25% of one core, and no pinned
// log key (LogKey "", so Verifier fails: the agent must pin the key it got
// another way, and say so). A policy file that exists but does not parse
// must not fall back to Default: the agent should stop.
func Default() *Policy { return defaultFor(runtime.GOOS) }

func defaultFor(goos string) *Policy {
	return &Policy{
		MinApprovals:         1,
		MinDocumentApprovals: 2,
		MaxHuntsPerDay:       20,
		CPUShare:             25,
		goos:                 goos,
	}
}

// Load reads and parses the policy file at path. A missing file is an
// error that wraps fs.ErrNotExist (the agent may then use Default and say
// so). On Unix a file that users other than its owner may write is
// refused, since anyone who can write it can loosen it.
func Load(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("policy: %s is not a regular file", path)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("policy: %s is writable by group or others (mode %v); make it writable by its owner only", path, st.Mode().Perm())
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return Parse(path, data)
}

// Parse parses policy text; name is used in error messages ("name:line").
func Parse(name string, data []byte) (*Policy, error) {
	return parseFor(runtime.GOOS, name, data)
}

func parseFor(goos, name string, data []byte) (*Policy, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: over %d bytes", name, MaxFileSize)
	}
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%s: not valid UTF-8", name)
	}
	p := defaultFor(goos)
	s := p.style()
	seen := map[string]int{}      // single-valued directive -> line
	listSeen := map[string]bool{} // "kind\x00value" of list entries
	keyNames := map[string]string{}
	for n, line := range strings.Split(string(data), "\n") {
		n++
		fail := func(format string, a ...any) error {
			return fmt.Errorf("%s:%d: %s", name, n, fmt.Sprintf(format, a...))
		}
		line = strings.TrimSuffix(line, "\r")
		line = stripComment(line)
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		for _, c := range line {
			if c < 0x20 && c != '\t' || c == 0x7f {
				return nil, fail("control character %U", c)
			}
		}
		kw, val := line, ""
		if i := strings.IndexAny(line, " \t"); i >= 0 {
			kw, val = line[:i], strings.TrimSpace(line[i+1:])
		}
		if val == "" {
			return nil, fail("%s: missing value", kw)
		}
		switch kw {
		case "forbid-path", "approver", "witness":
			if listSeen[kw+"\x00"+val] {
				return nil, fail("%s %s: listed twice", kw, val)
			}
			listSeen[kw+"\x00"+val] = true
		case "default-forbid-paths", "allow-content", "min-approvals", "document-hunts",
			"min-document-approvals", "log-key", "min-witnesses", "max-hunts-per-day", "cpu-share":
			if prev, dup := seen[kw]; dup {
				return nil, fail("%s given twice (first on line %d)", kw, prev)
			}
			seen[kw] = n
		default:
			return nil, fail("unknown directive %q", kw)
		}
		var err error
		switch kw {
		case "forbid-path":
			if len(p.ForbidPaths) >= MaxList {
				return nil, fail("more than %d forbid-path lines", MaxList)
			}
			c, cerr := s.canonicalPattern(val)
			if cerr != nil {
				return nil, fail("forbid-path %q: %v", val, cerr)
			}
			if listSeen["canon\x00"+c] {
				return nil, fail("forbid-path %q: the same as an earlier one", val)
			}
			listSeen["canon\x00"+c] = true
			p.ForbidPaths = append(p.ForbidPaths, c)
		case "default-forbid-paths":
			var b bool
			b, err = yesNo(val)
			p.NoDefaultForbids = !b
		case "allow-content":
			p.AllowContent, err = yesNo(val)
		case "min-approvals":
			p.MinApprovals, err = count(val)
		case "min-document-approvals":
			p.MinDocumentApprovals, err = count(val)
		case "min-witnesses":
			p.MinWitnesses, err = count(val)
		case "document-hunts":
			switch val {
			case "allow":
				p.AllowDocumentHunts = true
			case "refuse":
				p.AllowDocumentHunts = false
			default:
				err = errors.New("want refuse or allow")
			}
		case "max-hunts-per-day":
			if val == "unlimited" {
				p.MaxHuntsPerDay = Unlimited
			} else {
				p.MaxHuntsPerDay, err = number(val, 0, 1_000_000)
			}
		case "cpu-share":
			p.CPUShare, err = number(strings.TrimSuffix(val, "%"), 1, 100)
		case "log-key", "approver", "witness":
			var v note.Verifier
			v, err = note.NewVerifier(val)
			if err != nil {
				break
			}
			if prev, dup := keyNames[v.Name()]; dup {
				return nil, fail("%s key named %q: that name is already used by a %s key", kw, v.Name(), prev)
			}
			keyNames[v.Name()] = kw
			switch kw {
			case "log-key":
				p.LogKey = val
			case "approver":
				if len(p.Approvers) >= MaxList {
					return nil, fail("more than %d approver lines", MaxList)
				}
				p.Approvers = append(p.Approvers, val)
			case "witness":
				if len(p.Witnesses) >= MaxList {
					return nil, fail("more than %d witness lines", MaxList)
				}
				p.Witnesses = append(p.Witnesses, val)
			}
		}
		if err != nil {
			return nil, fail("%s %q: %v", kw, val, err)
		}
	}
	where := func(kw string) string {
		if n, ok := seen[kw]; ok {
			return fmt.Sprintf("%s:%d", name, n)
		}
		return name
	}
	if p.LogKey == "" {
		return nil, fmt.Errorf("%s: no log-key: the policy must pin the server's transparency-log key", name)
	}
	if p.MinApprovals > len(p.Approvers) {
		return nil, fmt.Errorf("%s: min-approvals is %d but %d approver keys are listed: no hunt could be approved", where("min-approvals"), p.MinApprovals, len(p.Approvers))
	}
	if p.AllowDocumentHunts && p.MinDocumentApprovals > len(p.Approvers) {
		return nil, fmt.Errorf("%s: min-document-approvals is %d but %d approver keys are listed: no document hunt could be approved", where("min-document-approvals"), p.MinDocumentApprovals, len(p.Approvers))
	}
	if p.MinWitnesses > len(p.Witnesses) {
		return nil, fmt.Errorf("%s: min-witnesses is %d but %d witness keys are listed", where("min-witnesses"), p.MinWitnesses, len(p.Witnesses))
	}
	return p, nil
}

// stripComment removes a comment: "#" at the start of the line or after
// white space.
func stripComment(line string) string {
	for i := 0; i < len(line); i++ {
		if line[i] == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			return line[:i]
		}
	}
	return line
}

func yesNo(v string) (bool, error) {
	switch v {
	case "yes":
		return true, nil
	case "no":
		return false, nil
	}
	return false, errors.New("want yes or no")
}

func count(v string) (int, error) { return number(v, 0, MaxCount) }

func number(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi || strconv.Itoa(n) != v {
		return 0, fmt.Errorf("want a whole number from %d to %d", lo, hi)
	}
	return n, nil
}

// String returns the policy as canonical policy text: every directive with
// its value, in a fixed order, and the built-in forbidden places as
// comments. The text of a policy that Parse accepted parses back to the
// same policy.
func (p *Policy) String() string {
	var b bytes.Buffer
	yn := func(v bool) string {
		if v {
			return "yes"
		}
		return "no"
	}
	b.WriteString("# Vigil local policy (canonical form)\n")
	if p.LogKey != "" {
		fmt.Fprintf(&b, "log-key %s\n", p.LogKey)
	} else {
		b.WriteString("# no log-key pinned\n")
	}
	for _, w := range p.Witnesses {
		fmt.Fprintf(&b, "witness %s\n", w)
	}
	fmt.Fprintf(&b, "min-witnesses %d\n", p.MinWitnesses)
	for _, a := range p.Approvers {
		fmt.Fprintf(&b, "approver %s\n", a)
	}
	fmt.Fprintf(&b, "min-approvals %d\n", p.MinApprovals)
	if p.AllowDocumentHunts {
		b.WriteString("document-hunts allow\n")
	} else {
		b.WriteString("document-hunts refuse\n")
	}
	fmt.Fprintf(&b, "min-document-approvals %d\n", p.MinDocumentApprovals)
	fmt.Fprintf(&b, "allow-content %s\n", yn(p.AllowContent))
	if p.MaxHuntsPerDay == Unlimited {
		b.WriteString("max-hunts-per-day unlimited\n")
	} else {
		fmt.Fprintf(&b, "max-hunts-per-day %d\n", p.MaxHuntsPerDay)
	}
	fmt.Fprintf(&b, "cpu-share %d%%\n", p.CPUShare)
	fmt.Fprintf(&b, "default-forbid-paths %s\n", yn(!p.NoDefaultForbids))
	if !p.NoDefaultForbids {
		for _, f := range defaultForbids(p.goosOrRuntime()) {
			fmt.Fprintf(&b, "#   built in: forbid-path %s\n", f)
		}
	}
	for _, f := range p.ForbidPaths {
		fmt.Fprintf(&b, "forbid-path %s\n", f)
	}
	return b.String()
}

// ErrNoLogKey is returned by Verifier when the policy pins no log key
// (Default does not).
var ErrNoLogKey = errors.New("policy: no log-key pinned")

// Verifier returns a transparency-log verifier for the pinned log key that
// demands MinWitnesses cosignatures by the policy's witnesses. The caller
// restores its trusted checkpoint with UnmarshalState.
func (p *Policy) Verifier() (*translog.Verifier, error) {
	if p.LogKey == "" {
		return nil, ErrNoLogKey
	}
	lv, err := note.NewVerifier(p.LogKey)
	if err != nil {
		return nil, fmt.Errorf("policy: log-key: %w", err)
	}
	v := translog.NewVerifier(lv)
	var ws []note.Verifier
	for _, k := range p.Witnesses {
		w, err := note.NewVerifier(k)
		if err != nil {
			return nil, fmt.Errorf("policy: witness %q: %w", k, err)
		}
		if w.Name() == lv.Name() {
			return nil, fmt.Errorf("policy: witness key %q has the log key's name", w.Name())
		}
		ws = append(ws, w)
	}
	if p.MinWitnesses > 0 || len(ws) > 0 {
		if err := v.RequireWitnesses(p.MinWitnesses, ws...); err != nil {
			return nil, fmt.Errorf("policy: %w", err)
		}
	}
	return v, nil
}

// ApproverKeys returns the trusted approvers as translog.CheckApprovals
// takes them: approver name -> note verifier key. Keys that do not parse
// (only possible in a Policy built by hand) are left out, as is any key
// named like the log key.
func (p *Policy) ApproverKeys() map[string]string {
	logName := ""
	if lv, err := note.NewVerifier(p.LogKey); err == nil {
		logName = lv.Name()
	}
	m := map[string]string{}
	for _, k := range p.Approvers {
		v, err := note.NewVerifier(k)
		if err != nil || v.Name() == logName {
			continue
		}
		if _, dup := m[v.Name()]; dup {
			continue
		}
		m[v.Name()] = k
	}
	return m
}
