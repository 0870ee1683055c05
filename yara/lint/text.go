package lint

// This file classifies one string definition of a rule: text, hex or
// regular expression.

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"vigil/yara/syntax"
)

// docMarkers are byte sequences that only occur in document, mail or
// office files. A string containing one targets documents.
var docMarkers = []struct{ marker, what string }{
	{"%PDF", "the PDF header"},
	{"/Type /Page", "PDF page structure"},
	{"/Type/Page", "PDF page structure"},
	{"{\\rtf", "the RTF header"},
	{"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", "the OLE header of old Office files"},
	{"word/document.xml", "the body of a Word document"},
	{"word/media/", "a part of a Word document"},
	{"word/styles.xml", "a part of a Word document"},
	{"<w:body", "the body of a Word XML document"},
	{"<w:t>", "text of a Word XML document"},
	{"xmlns:w=", "a Word XML document"},
	{"/Type /Catalog", "PDF document structure"},
	{"/Type/Catalog", "PDF document structure"},
	{"/MediaBox", "PDF page structure"},
	{"/Producer", "PDF document properties"},
	{"/Author", "PDF document properties"},
	{"/Creator", "PDF document properties"},
	{"/Title", "PDF document properties"},
	{"endobj", "PDF object structure"},
	{"endstream", "PDF object structure"},
	{"startxref", "PDF file structure"},
	{"xl/workbook.xml", "the body of an Excel workbook"},
	{"xl/sharedStrings.xml", "the text of an Excel workbook"},
	{"ppt/presentation.xml", "the body of a PowerPoint file"},
	{"ppt/slides/", "PowerPoint slides"},
	{"[Content_Types].xml", "the manifest of an Office file"},
	{"docProps/core.xml", "Office document properties"},
	{"docProps/app.xml", "Office document properties"},
	{"WordDocument", "the Word stream of an old Office file"},
	{"W\x00o\x00r\x00d\x00D\x00o\x00c\x00u\x00m\x00e\x00n\x00t\x00", "the Word stream of an old Office file"},
	{"application/vnd.openxmlformats", "an Office MIME type"},
	{"application/vnd.oasis.opendocument", "an OpenDocument MIME type"},
	{"application/msword", "the Word MIME type"},
	{"application/pdf", "the PDF MIME type"},
	{"mimetypeapplication/vnd.oasis", "an OpenDocument file"},
	{"MIME-Version:", "a mail header"},
	{"Message-ID:", "a mail header"},
	{"Return-Path:", "a mail header"},
	{"Received: from", "a mail header"},
	{"Subject:", "a mail header"},
	{"From:", "a mail header"},
	{"To:", "a mail header"},
	{"Cc:", "a mail header"},
	{"X-Mailer:", "a mail header"},
	{"!BDN", "the Outlook PST header"},
	{"BEGIN:VCARD", "a contact card"},
	{"BEGIN:VCALENDAR", "a calendar file"},
}

// codeMarkers are texts that only occur in executables even though they
// read as plain words (the DOS stub message of every PE file, section
// names...).
var codeMarkers = []string{
	"this program cannot be run in dos mode",
	"this program must be run under win32",
	"!this program",
	"rich signature",
}

// programWords name programs and shells: a string holding one of them as
// a word ("vssadmin delete shadows") is a command line, not prose.
var programWords = map[string]bool{
	"cmd": true, "powershell": true, "vssadmin": true, "bcdedit": true, "wmic": true,
	"rundll": true, "regsvr": true, "schtasks": true, "netsh": true, "mshta": true,
	"certutil": true, "bitsadmin": true, "taskkill": true, "cscript": true, "wscript": true,
	"chmod": true, "sudo": true, "crontab": true, "bash": true, "iptables": true,
	"busybox": true, "wget": true, "curl": true, "nohup": true, "regedit": true,
	"svchost": true, "lsass": true, "winlogon": true, "wevtutil": true, "icacls": true,
	"attrib": true, "msiexec": true, "reg": true,
}

// codeWords are single words that name APIs or techniques rather than
// things people write about. A string that is exactly one of them
// (case-insensitive) is code-like; inside a sentence they stay words
// (ransom notes say "decrypt").
var codeWords = map[string]bool{
	"eval": true, "exec": true, "function": true, "return": true, "var": true,
	"void": true, "static": true, "import": true, "include": true, "http": true,
	"https": true, "ftp": true, "socket": true, "malloc": true, "mutex": true,
	"shellcode": true, "payload": true, "inject": true, "hook": true, "keylog": true,
	"keylogger": true, "getprocaddress": true, "loadlibrary": true, "virtualalloc": true,
	"sh": true, "explorer": true, "base64": true, "xor": true, "rc4": true, "aes": true,
	"rsa": true, "sha256": true, "encrypt": true, "decrypt": true, "autoopen": true,
	"autoexec": true, "autoclose": true, "createobject": true, "vbaproject": true,
	"shell": true, "kernel": true, "ntdll": true, "advapi": true,
}

// strInfo is the verdict on one string definition.
type strInfo struct {
	mask uint8  // needCode / needWord / needDoc, or 0 when too weak to count
	desc string // short description for reasons, e.g. `"Nightfall" is plain words`
}

// classifyString classifies one string definition of a rule.
func classifyString(s *syntax.StringDef) strInfo {
	switch s.Kind {
	case syntax.HexPattern:
		return classifyHex(s.Hex)
	case syntax.RegexString:
		if s.Regex == nil {
			return strInfo{0, "an empty regular expression"}
		}
		return classifyRegex(s.Regex.Source, s.Regex.Nocase || s.Modifiers.Nocase)
	}
	m, why := classifyText(s.Text, s.Modifiers.Nocase)
	mods := s.Modifiers
	if mods.Xor && mods.XorMin > 0 && m&needWord != 0 {
		// Only xor-encoded forms match, never the plain text.
		return strInfo{0, fmt.Sprintf("%s, xor-encoded only (never matches the plain text)", quoteShort(s.Text))}
	}
	desc := fmt.Sprintf("%s is %s", quoteShort(s.Text), why)
	if (mods.Base64 || mods.Base64Wide) && m&needWord != 0 {
		desc += ", base64-encoded as in mail attachments"
	}
	return strInfo{m, desc}
}

// quoteShort quotes b for a reason, cut to a readable length.
func quoteShort(b []byte) string {
	const max = 48
	s := string(b)
	if len(s) > max {
		s = s[:max] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// findDocMarker returns what a document marker found in b is, or "".
func findDocMarker(b []byte) string {
	for _, d := range docMarkers {
		if bytes.Contains(b, []byte(d.marker)) {
			return d.what
		}
	}
	return ""
}

// stripDocMarkers removes every document marker from b.
func stripDocMarkers(b []byte) []byte {
	for _, d := range docMarkers {
		b = bytes.ReplaceAll(b, []byte(d.marker), []byte(" "))
	}
	return b
}

// classifyText classifies the bytes of a text string (or of text found in a
// hex string or a regular expression). nocase tells whether letter case was
// given up, which makes case-based clues (camelCase) meaningless.
func classifyText(b []byte, nocase bool) (uint8, string) {
	if what := findDocMarker(b); what != "" {
		m := needDoc
		if wm, _ := classifyText(stripDocMarkers(b), nocase); wm == needWord {
			m |= needWord
		}
		return m, "a document marker (" + what + ")"
	}
	if u, ok := utf16Text(b); ok {
		m, why := classifyText(u, nocase)
		return m, why + " (UTF-16)"
	}
	low := strings.ToLower(string(b))
	for _, cm := range codeMarkers {
		if strings.Contains(low, cm) {
			return needCode, "text found in executables (" + cm + ")"
		}
	}
	if !utf8.Valid(b) {
		return needCode, "binary data (not valid text)"
	}
	for _, c := range b {
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f {
			return needCode, "binary data (control bytes)"
		}
	}
	s := string(b)
	if why := codeLike(s, nocase); why != "" {
		return needCode, "code-like text (" + why + ")"
	}
	if isEmail(strings.TrimSpace(s)) {
		return needWord, "an e-mail address (names a person or mailbox)"
	}
	letters, spaces, digits, other := 0, 0, 0, 0
	for _, r := range s {
		switch {
		case unicode.IsLetter(r):
			letters++
		case unicode.IsSpace(r):
			spaces++
		case unicode.IsDigit(r):
			digits++
		default:
			other++
		}
	}
	total := letters + spaces + digits + other
	if letters < 3 {
		return 0, "too short or has too few letters to tell"
	}
	if float64(letters+spaces) < 0.6*float64(total) {
		return 0, "mixed text, neither plain words nor code"
	}
	if spaces > 0 {
		return needWord, "a phrase of plain words"
	}
	return needWord, "a plain word"
}

// utf16Text returns b decoded from UTF-16LE when b is ASCII text in that
// encoding (every second byte zero).
func utf16Text(b []byte) ([]byte, bool) {
	if len(b) < 4 {
		return nil, false
	}
	start := 0
	if b[0] == 0 { // the pattern may start on the high byte
		start = 1
	}
	var out []byte
	for i := start; i < len(b); i += 2 {
		if b[i] == 0 || b[i] >= 0x80 {
			return nil, false
		}
		if i+1 < len(b) && b[i+1] != 0 {
			return nil, false
		}
		out = append(out, b[i])
	}
	return out, len(out) >= 2
}

// isEmail reports whether s is one e-mail address.
func isEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 || strings.Count(s, "@") != 1 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	for _, c := range []byte(local) {
		if !isAlnum(c) && !strings.ContainsRune("._%+-", rune(c)) {
			return false
		}
	}
	for _, c := range []byte(domain) {
		if !isAlnum(c) && c != '.' && c != '-' {
			return false
		}
	}
	dot := strings.LastIndexByte(domain, '.')
	return dot > 0 && dot < len(domain)-2
}

// leadWords start command lines or source code when they open a string
// of several words ("echo ...", "class Payload:").
var leadWords = map[string]bool{
	"echo": true, "scp": true, "ssh": true, "nc": true, "python": true, "perl": true,
	"php": true, "class": true, "def": true, "raise": true, "const": true, "public": true,
	"private": true, "static": true, "import": true, "package": true, "sudo": true,
	"socat": true, "net": true, "sc": true,
}

// psVerbs are PowerShell verbs: "Invoke-Mimikatz" is a cmdlet name.
var psVerbs = map[string]bool{
	"invoke": true, "get": true, "set": true, "new": true, "add": true, "remove": true,
	"start": true, "stop": true, "out": true, "write": true, "import": true, "export": true,
	"convertto": true, "convertfrom": true, "enable": true, "disable": true, "test": true,
}

// codeLike returns why s looks like code, a path, a URL, an identifier or
// a command line rather than prose, or "" if it does not.
func codeLike(s string, nocase bool) string {
	if isEmail(strings.TrimSpace(s)) {
		return ""
	}
	if i := strings.IndexAny(s, "\\/_{}[]<>=|$^~*#&;`@"); i >= 0 {
		return fmt.Sprintf("contains %q, typical of code, paths or URLs", s[i])
	}
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '%' && isAlnum(s[i+1]) {
			return "a printf-style format"
		}
		if s[i] == '(' && (s[i+1] == ')' || (i > 0 && isAlnum(s[i-1]))) {
			return "a function call"
		}
	}
	if strings.Contains(s, "\":") || strings.Contains(s, "::") {
		return "JSON or source code syntax"
	}
	fields := strings.Fields(s)
	if len(fields) > 1 && leadWords[strings.ToLower(fields[0])] {
		return fmt.Sprintf("starts like a command line or source code (%q)", fields[0])
	}
	if len(fields) == 1 && codeWords[strings.ToLower(strings.Trim(fields[0], ".,:;!?'\"()"))] {
		return "the name of an API or technique"
	}
	for _, f := range fields {
		if len(f) >= 2 && f[0] == '-' && isAlnum(f[1]) {
			return fmt.Sprintf("%q is a command-line option", f)
		}
		if len(f) >= 2 && len(f) <= 6 && f[0] == '.' && allAlnum(f[1:]) {
			return fmt.Sprintf("%q is a file extension", f)
		}
		if i := strings.IndexByte(f, '-'); i > 0 && psVerbs[strings.ToLower(f[:i])] && i+1 < len(f) && isAlnum(f[i+1]) {
			return fmt.Sprintf("%q is a PowerShell command name", f)
		}
		t := strings.Trim(f, ".,:;!?'\"()-")
		if t == "" {
			continue
		}
		if inner := strings.IndexAny(t, ",;:!?"); inner > 0 && inner < len(t)-1 && isAlnum(t[inner-1]) && isAlnum(t[inner+1]) {
			return fmt.Sprintf("%q joins words with punctuation and no space, like code or data", t)
		}
		if ipLike(t) {
			return fmt.Sprintf("%q is an IP address or version number", t)
		}
		if programWords[strings.ToLower(t)] {
			return fmt.Sprintf("%q names a program or shell (a command line)", t)
		}
		if dotted(t) {
			return fmt.Sprintf("%q looks like a file, domain or namespace name", t)
		}
		if mixedAlnum(t) {
			return fmt.Sprintf("%q mixes letters and digits like an identifier", t)
		}
		if !nocase && camel(t) {
			return fmt.Sprintf("%q is written like a code identifier (camelCase)", t)
		}
		if utf8.RuneCountInString(t) >= 30 {
			return "a long run of characters without spaces (encoded data?)"
		}
		if strings.HasPrefix(strings.ToLower(t), "0x") && len(t) > 2 {
			return "a hexadecimal number"
		}
	}
	return ""
}

func allAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) {
			return false
		}
	}
	return s != ""
}

// ipLike reports whether t is digits separated by two or more dots
// ("10.0.0.1", "1.2.3").
func ipLike(t string) bool {
	parts := strings.Split(t, ".")
	if len(parts) < 3 {
		return false
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// dotted reports whether t has a dot between two parts of 2+ characters,
// as in "cmd.exe", "evil.com" or "System.IO" (but not "e.g." or "U.S.").
func dotted(t string) bool {
	parts := strings.Split(t, ".")
	if len(parts) < 2 {
		return false
	}
	long := 0
	for _, p := range parts {
		if len(p) >= 2 {
			long++
		}
	}
	return long >= 2
}

// mixedAlnum reports whether t mixes letters and digits ("kernel32",
// "x64"), except ordinals and decades ("2nd", "1990s").
func mixedAlnum(t string) bool {
	letters, digits := 0, 0
	for _, r := range t {
		switch {
		case unicode.IsLetter(r):
			letters++
		case unicode.IsDigit(r):
			digits++
		}
	}
	if letters == 0 || digits == 0 {
		return false
	}
	low := strings.ToLower(t)
	for _, suf := range []string{"st", "nd", "rd", "th", "s"} {
		num := strings.TrimSuffix(low, suf)
		if num != low && num != "" && strings.Trim(num, "0123456789") == "" {
			return false
		}
	}
	return true
}

// camel reports whether t has a lower-case letter followed by an
// upper-case one ("VirtualAlloc", "getUser").
func camel(t string) bool {
	prevLower := false
	for _, r := range t {
		if prevLower && unicode.IsUpper(r) {
			return true
		}
		prevLower = unicode.IsLower(r)
	}
	return false
}

// classifyHex classifies a hex string. Hex strings whose fixed bytes are
// all text (ASCII or UTF-16) are judged as that text: writing a word in hex
// does not make it binary.
func classifyHex(h *syntax.HexString) strInfo {
	if h == nil {
		return strInfo{0, "an empty hex string"}
	}
	var runs [][]byte
	var cur []byte
	hasAlt := false
	flush := func() {
		if len(cur) > 0 {
			runs = append(runs, cur)
			cur = nil
		}
	}
	var walk func(toks []syntax.HexToken)
	walk = func(toks []syntax.HexToken) {
		for _, t := range toks {
			switch t := t.(type) {
			case *syntax.HexByte:
				if t.Mask == 0xFF && !t.Not {
					cur = append(cur, t.Value)
				} else {
					flush()
				}
			case *syntax.HexJump:
				flush()
			case *syntax.HexAlt:
				// The first alternative stands for all: case
				// alternations like (4E|6E) keep the word whole.
				hasAlt = true
				if len(t.Alts) > 0 {
					walk(t.Alts[0])
				}
			}
		}
	}
	walk(h.Tokens)
	flush()
	fixed := 0
	for _, r := range runs {
		fixed += len(r)
	}
	joined := bytes.Join(runs, []byte(" "))
	if what := findDocMarker(joined); what != "" {
		return strInfo{needDoc, "hex string holding " + what}
	}
	if bytes.Contains(joined, []byte("PK\x03\x04")) || bytes.Equal(joined, []byte("PK")) {
		return strInfo{0, "hex string holding the zip header (not counted either way: zip files are not only Office documents)"}
	}
	if textRuns(runs) {
		m, why := classifyText(joined, hasAlt)
		// Text with no letters ("\r\n\r\n--") is in documents as much
		// as anywhere: it counts neither way.
		return strInfo{m, fmt.Sprintf("hex string spelling %s, which is %s", quoteShort(joined), why)}
	}
	if fixed < 4 {
		return strInfo{0, fmt.Sprintf("hex string with only %d fixed bytes (too weak to count as a binary pattern)", fixed)}
	}
	if distinctBytes(runs) < 2 {
		return strInfo{0, "hex string repeating one byte value (too generic to count as a binary pattern)"}
	}
	return strInfo{needCode, fmt.Sprintf("hex string with %d fixed bytes of binary data", fixed)}
}

// textRuns reports whether every fixed byte of the runs is printable text
// (ASCII, or ASCII in UTF-16LE).
func textRuns(runs [][]byte) bool {
	if len(runs) == 0 {
		return false
	}
	for _, r := range runs {
		if u, ok := utf16Text(r); ok {
			r = u
		}
		for _, c := range r {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c >= 0x7f {
				return false
			}
		}
	}
	return true
}

func distinctBytes(runs [][]byte) int {
	var seen [256]bool
	n := 0
	for _, r := range runs {
		for _, c := range r {
			if !seen[c] {
				seen[c] = true
				n++
			}
		}
	}
	return n
}

// classifyRegex classifies a regular expression from its source: byte
// escapes outside printable text make it binary; otherwise its literal
// text is judged like a text string.
func classifyRegex(src string, nocase bool) strInfo {
	var lit []byte
	sep := func() {
		if len(lit) > 0 && lit[len(lit)-1] != ' ' {
			lit = append(lit, ' ')
		}
	}
	binary := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch c {
		case '\\':
			if i+1 >= len(src) {
				continue
			}
			i++
			e := src[i]
			switch e {
			case 'x':
				if i+2 < len(src) {
					v, ok := hexVal(src[i+1], src[i+2])
					if ok {
						i += 2
						if v < 0x20 && v != '\t' && v != '\n' && v != '\r' || v >= 0x7f {
							binary = true
						}
						lit = append(lit, v)
						continue
					}
				}
				sep()
			case 's':
				sep()
				// skip a quantifier after \s: `\s+` is a space in a phrase
				if i+1 < len(src) && strings.IndexByte("+*?", src[i+1]) >= 0 {
					i++
				}
			case 'w', 'W', 'd', 'D', 'S', 'b', 'B':
				sep()
			case 'n', 't', 'r':
				sep()
			default:
				lit = append(lit, e)
			}
		case '[':
			// skip a character class
			j := i + 1
			if j < len(src) && src[j] == '^' {
				j++
			}
			if j < len(src) && src[j] == ']' {
				j++
			}
			for j < len(src) && src[j] != ']' {
				if src[j] == '\\' {
					if j+3 < len(src) && src[j+1] == 'x' {
						if v, ok := hexVal(src[j+2], src[j+3]); ok && (v < 0x20 || v >= 0x7f) {
							binary = true
						}
					}
					j++
				}
				j++
			}
			i = j
			sep()
		case '{':
			j := strings.IndexByte(src[i:], '}')
			if j < 0 {
				lit = append(lit, c)
				continue
			}
			i += j
			sep()
		case '(', ')', '|', '.', '*', '+', '?', '^', '$':
			sep()
		case ' ':
			sep()
		default:
			lit = append(lit, c)
		}
	}
	if binary {
		return strInfo{needCode, "regular expression over raw bytes"}
	}
	text := bytes.TrimSpace(lit)
	if len(text) == 0 {
		return strInfo{0, "regular expression without literal text (e.g. a number or data pattern)"}
	}
	m, why := classifyText(text, nocase)
	return strInfo{m, fmt.Sprintf("regular expression whose literal text %s is %s", quoteShort(text), why)}
}

func hexVal(a, b byte) (byte, bool) {
	h := func(c byte) (byte, bool) {
		switch {
		case c >= '0' && c <= '9':
			return c - '0', true
		case c >= 'a' && c <= 'f':
			return c - 'a' + 10, true
		case c >= 'A' && c <= 'F':
			return c - 'A' + 10, true
		}
		return 0, false
	}
	x, ok1 := h(a)
	y, ok2 := h(b)
	return x<<4 | y, ok1 && ok2
}
