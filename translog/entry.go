package translog

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"vigil/wire"
)

// Entry kinds. Every log entry starts with the header line and a kind line;
// Append refuses kinds it does not know, so that a new kind is added here,
// with its own encoder and decoder, before any log can hold it.
const (
	KindRuleSet  = "ruleset"
	KindHunt     = "hunt"
	KindApproval = "approval"
)

// Lint classes of a rule set or hunt, as `vigil check --lint` reports them.
// Other lowercase classes may be added; the encoding accepts any token of
// [a-z0-9-].
const (
	LintCode     = "code"     // code or binary patterns
	LintDocument = "document" // keyword or document search
)

// EntryHeader is the first line of every canonical entry.
const EntryHeader = "vigil-log-entry v1"

// Size limits of canonical entries and their fields.
const (
	MaxEntrySize   = 4 << 20 // bytes of one canonical entry
	MaxListItems   = 256     // items in a list field (paths, exclude)
	MaxFieldLength = 8 << 10 // bytes of any string field except rule text and reasons
	MaxReasonSize  = 64 << 10
)

// approvalDomain is prepended to a hunt entry's canonical bytes to form the
// message an approver signs, so that an approval signature can never be
// mistaken for a signature on anything else.
const approvalDomain = "vigil-approval v1\n"

// HuntEntry is the logged form of a hunt: everything an agent needs to know
// about what will be searched, by whom, why and under which limits.
type HuntEntry struct {
	HuntID            string
	Name              string
	RulesSHA256       string // lowercase hex of SHA-256 of the exact rule text
	RulesRef          string // where the exact rule text can be fetched (e.g. "log:17"), may be empty
	Target            string // label selector, "" = every agent
	Paths             []string
	Exclude           []string
	Limits            Limits
	ContentCollection bool // whether file content may leave the machine
	Requester         string
	Why               string
	Created           time.Time
	Expires           time.Time
	LintClass         string
	ApprovalsRequired int
}

// Limits mirrors wire.Limits field by field, so that a change to the wire
// type cannot silently change what is logged.
type Limits struct {
	MaxFileSize     int64
	MaxFiles        int64
	PerFileTimeout  time.Duration
	Timeout         time.Duration
	Archives        bool
	MaxArchiveDepth int64
	FollowSymlinks  bool
}

// RuleSetEntry is the logged publication of a rule set. Rules holds the
// exact text when it is published in the log (it may be empty when only the
// hash is published; then RulesRef should say where the text is).
type RuleSetEntry struct {
	Name        string
	RulesSHA256 string
	RulesRef    string
	Rules       string
	Publisher   string
	Created     time.Time
	LintClass   string
}

// ApprovalEntry is the logged approval of a hunt by one operator. The
// signature is by the approver's own key (a note verifier key,
// "name+hash+keydata") over ApprovalMessage of the hunt entry's canonical
// bytes.
type ApprovalEntry struct {
	HuntID      string
	HuntIndex   int64 // the log index of the hunt entry
	Approver    string
	ApproverKey string // note verifier key; its name must equal Approver
	Signature   []byte // ed25519 signature, 64 bytes
	Time        time.Time
}

// ---- encoding ----

// The canonical encoding is a sequence of lines, each ending in "\n":
//
//	vigil-log-entry v1
//	kind <kind>
//	<field> <value>
//	...
//
// Fields appear in a fixed order, each exactly once; list fields are a count
// line followed by that many item lines. Values are encoded so that one
// value has exactly one encoding: strings write every byte outside
// 0x20-0x7E, and '%', as %XX with uppercase hex and every other byte as
// itself (so values never contain a newline, and no two strings share an
// encoding); integers
// are base-10 without leading zeros or "+"; booleans are "true" or "false";
// times are UTC RFC 3339 with nanoseconds and trailing zeros removed;
// durations are integer nanoseconds; byte strings are standard base64 with
// padding.

type encoder struct{ b bytes.Buffer }

func newEncoder(kind string) *encoder {
	e := &encoder{}
	e.b.WriteString(EntryHeader + "\n")
	e.b.WriteString("kind " + kind + "\n")
	return e
}

func (e *encoder) str(name, v string) {
	e.b.WriteString(name)
	e.b.WriteByte(' ')
	e.b.WriteString(escape(v))
	e.b.WriteByte('\n')
}

func (e *encoder) int(name string, v int64) { e.raw(name, strconv.FormatInt(v, 10)) }
func (e *encoder) bool(name string, v bool) { e.raw(name, strconv.FormatBool(v)) }
func (e *encoder) raw(name, v string) {
	e.b.WriteString(name + " " + v + "\n")
}

func (e *encoder) list(name, item string, vs []string) {
	e.int(name, int64(len(vs)))
	for _, v := range vs {
		e.str(item, v)
	}
}

const hexUpper = "0123456789ABCDEF"

func mustEscape(c byte) bool { return c < 0x20 || c > 0x7E || c == '%' }

func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if mustEscape(c) {
			b.WriteByte('%')
			b.WriteByte(hexUpper[c>>4])
			b.WriteByte(hexUpper[c&15])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func unescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) {
				return "", errors.New("truncated %-escape")
			}
			hi, lo := unhex(s[i+1]), unhex(s[i+2])
			if hi < 0 || lo < 0 {
				return "", fmt.Errorf("bad %%-escape %q", s[i:i+3])
			}
			v := byte(hi<<4 | lo)
			if !mustEscape(v) {
				return "", fmt.Errorf("byte %q must not be escaped", v)
			}
			b.WriteByte(v)
			i += 2
		case mustEscape(c):
			return "", fmt.Errorf("byte 0x%02x must be escaped", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1 // lowercase hex is not canonical
}

func formatTime(t time.Time) (string, error) {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return "", fmt.Errorf("time %v: year outside 0-9999", t)
	}
	return t.Format(time.RFC3339Nano), nil
}

type decoder struct {
	lines []string
	pos   int
	err   error
}

func newDecoder(b []byte, kind string) (*decoder, error) {
	if len(b) > MaxEntrySize {
		return nil, fmt.Errorf("entry of %d bytes is over the %d-byte limit", len(b), MaxEntrySize)
	}
	if len(b) == 0 || b[len(b)-1] != '\n' {
		return nil, errors.New("entry does not end in a newline")
	}
	d := &decoder{lines: strings.Split(string(b[:len(b)-1]), "\n")}
	if d.lines[0] != EntryHeader {
		return nil, fmt.Errorf("entry does not start with %q", EntryHeader)
	}
	d.pos = 1
	if k := d.raw("kind"); d.err == nil && k != kind {
		return nil, fmt.Errorf("entry is of kind %q, want %q", k, kind)
	}
	return d, d.err
}

func (d *decoder) raw(name string) string {
	if d.err != nil {
		return ""
	}
	if d.pos >= len(d.lines) {
		d.err = fmt.Errorf("line %d: missing field %q", d.pos+1, name)
		return ""
	}
	line := d.lines[d.pos]
	v, ok := strings.CutPrefix(line, name+" ")
	if !ok {
		d.err = fmt.Errorf("line %d: want field %q", d.pos+1, name)
		return ""
	}
	d.pos++
	return v
}

func (d *decoder) fail(name string, err error) {
	if d.err == nil {
		d.err = fmt.Errorf("line %d: field %q: %w", d.pos, name, err)
	}
}

func (d *decoder) str(name string, max int) string {
	v := d.raw(name)
	if d.err != nil {
		return ""
	}
	s, err := unescape(v)
	if err != nil {
		d.fail(name, err)
		return ""
	}
	if len(s) > max {
		d.fail(name, fmt.Errorf("longer than %d bytes", max))
	}
	return s
}

func (d *decoder) int(name string) int64 {
	v := d.raw(name)
	if d.err != nil {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != v {
		d.fail(name, fmt.Errorf("%q is not a canonical integer", v))
	}
	return n
}

func (d *decoder) bool(name string) bool {
	switch v := d.raw(name); v {
	case "true":
		return true
	case "false":
		return false
	default:
		d.fail(name, fmt.Errorf("%q is not true or false", v))
		return false
	}
}

func (d *decoder) time(name string) time.Time {
	v := d.raw(name)
	if d.err != nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		d.fail(name, err)
		return time.Time{}
	}
	t = t.UTC()
	if f, err := formatTime(t); err != nil || f != v {
		d.fail(name, fmt.Errorf("%q is not a canonical UTC time", v))
	}
	return t
}

func (d *decoder) list(name, item string) []string {
	n := d.int(name)
	if d.err != nil {
		return nil
	}
	if n < 0 || n > MaxListItems {
		d.fail(name, fmt.Errorf("count %d outside 0-%d", n, MaxListItems))
		return nil
	}
	var out []string
	for i := int64(0); i < n && d.err == nil; i++ {
		out = append(out, d.str(item, MaxFieldLength))
	}
	return out
}

func (d *decoder) end() error {
	if d.err != nil {
		return d.err
	}
	if d.pos != len(d.lines) {
		return fmt.Errorf("line %d: unexpected trailing data", d.pos+1)
	}
	return nil
}

// ---- validation shared by Encode and Decode ----

func checkSHA256(s string) error {
	if len(s) != 64 {
		return fmt.Errorf("rules SHA-256 %q: want 64 lowercase hex digits", s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("rules SHA-256 %q: want 64 lowercase hex digits", s)
		}
	}
	return nil
}

func checkToken(what, s string) error {
	if s == "" || len(s) > 64 {
		return fmt.Errorf("%s %q: want 1-64 characters of [a-z0-9-]", what, s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("%s %q: want 1-64 characters of [a-z0-9-]", what, s)
		}
	}
	return nil
}

func checkLen(what, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%s: longer than %d bytes", what, max)
	}
	return nil
}

func checkList(what string, vs []string) error {
	if len(vs) > MaxListItems {
		return fmt.Errorf("%s: more than %d items", what, MaxListItems)
	}
	for _, v := range vs {
		if err := checkLen(what, v, MaxFieldLength); err != nil {
			return err
		}
	}
	return nil
}

func checkTimes(ts ...time.Time) error {
	for _, t := range ts {
		if _, err := formatTime(t); err != nil {
			return err
		}
	}
	return nil
}

func (h *HuntEntry) validate() error {
	if err := wire.ValidID(h.HuntID); err != nil {
		return fmt.Errorf("hunt entry: %w", err)
	}
	if err := checkSHA256(h.RulesSHA256); err != nil {
		return fmt.Errorf("hunt entry %s: %w", h.HuntID, err)
	}
	for _, c := range []struct {
		what string
		v    string
	}{{"name", h.Name}, {"rules ref", h.RulesRef}, {"target", h.Target}, {"requester", h.Requester}} {
		if err := checkLen(c.what, c.v, MaxFieldLength); err != nil {
			return fmt.Errorf("hunt entry %s: %w", h.HuntID, err)
		}
	}
	if err := checkLen("why", h.Why, MaxReasonSize); err != nil {
		return fmt.Errorf("hunt entry %s: %w", h.HuntID, err)
	}
	if err := checkList("paths", h.Paths); err != nil {
		return fmt.Errorf("hunt entry %s: %w", h.HuntID, err)
	}
	if err := checkList("exclude", h.Exclude); err != nil {
		return fmt.Errorf("hunt entry %s: %w", h.HuntID, err)
	}
	if err := checkToken("lint class", h.LintClass); err != nil {
		return fmt.Errorf("hunt entry %s: %w", h.HuntID, err)
	}
	if h.ApprovalsRequired < 0 {
		return fmt.Errorf("hunt entry %s: negative approvals required", h.HuntID)
	}
	if err := checkTimes(h.Created, h.Expires); err != nil {
		return fmt.Errorf("hunt entry %s: %w", h.HuntID, err)
	}
	return nil
}

// Encode returns the canonical bytes of the hunt entry.
func (h *HuntEntry) Encode() ([]byte, error) {
	if err := h.validate(); err != nil {
		return nil, err
	}
	e := newEncoder(KindHunt)
	e.str("hunt-id", h.HuntID)
	e.str("name", h.Name)
	e.raw("rules-sha256", h.RulesSHA256)
	e.str("rules-ref", h.RulesRef)
	e.str("target", h.Target)
	e.list("paths", "path", h.Paths)
	e.list("excludes", "exclude", h.Exclude)
	e.int("max-file-size", h.Limits.MaxFileSize)
	e.int("max-files", h.Limits.MaxFiles)
	e.int("per-file-timeout-ns", int64(h.Limits.PerFileTimeout))
	e.int("timeout-ns", int64(h.Limits.Timeout))
	e.bool("archives", h.Limits.Archives)
	e.int("max-archive-depth", h.Limits.MaxArchiveDepth)
	e.bool("follow-symlinks", h.Limits.FollowSymlinks)
	e.bool("content-collection", h.ContentCollection)
	e.str("requester", h.Requester)
	e.str("why", h.Why)
	c, _ := formatTime(h.Created)
	x, _ := formatTime(h.Expires)
	e.raw("created", c)
	e.raw("expires", x)
	e.raw("lint-class", h.LintClass)
	e.int("approvals-required", int64(h.ApprovalsRequired))
	if e.b.Len() > MaxEntrySize {
		return nil, fmt.Errorf("hunt entry %s: over %d bytes", h.HuntID, MaxEntrySize)
	}
	return e.b.Bytes(), nil
}

// DecodeHunt parses canonical hunt entry bytes, refusing anything that is not
// exactly what Encode would produce.
func DecodeHunt(b []byte) (*HuntEntry, error) {
	d, err := newDecoder(b, KindHunt)
	if err != nil {
		return nil, fmt.Errorf("hunt entry: %w", err)
	}
	h := &HuntEntry{}
	h.HuntID = d.str("hunt-id", 64)
	h.Name = d.str("name", MaxFieldLength)
	h.RulesSHA256 = d.raw("rules-sha256")
	h.RulesRef = d.str("rules-ref", MaxFieldLength)
	h.Target = d.str("target", MaxFieldLength)
	h.Paths = d.list("paths", "path")
	h.Exclude = d.list("excludes", "exclude")
	h.Limits.MaxFileSize = d.int("max-file-size")
	h.Limits.MaxFiles = d.int("max-files")
	h.Limits.PerFileTimeout = time.Duration(d.int("per-file-timeout-ns"))
	h.Limits.Timeout = time.Duration(d.int("timeout-ns"))
	h.Limits.Archives = d.bool("archives")
	h.Limits.MaxArchiveDepth = d.int("max-archive-depth")
	h.Limits.FollowSymlinks = d.bool("follow-symlinks")
	h.ContentCollection = d.bool("content-collection")
	h.Requester = d.str("requester", MaxFieldLength)
	h.Why = d.str("why", MaxReasonSize)
	h.Created = d.time("created")
	h.Expires = d.time("expires")
	h.LintClass = d.raw("lint-class")
	n := d.int("approvals-required")
	if err := d.end(); err != nil {
		return nil, fmt.Errorf("hunt entry: %w", err)
	}
	if n < 0 || n > 1<<20 {
		return nil, fmt.Errorf("hunt entry: approvals required %d out of range", n)
	}
	h.ApprovalsRequired = int(n)
	if err := h.validate(); err != nil {
		return nil, err
	}
	return h, nil
}

func (r *RuleSetEntry) validate() error {
	if err := checkSHA256(r.RulesSHA256); err != nil {
		return fmt.Errorf("rule set entry: %w", err)
	}
	if r.Rules != "" {
		if len(r.Rules) > wire.MaxRulesSize {
			return fmt.Errorf("rule set entry: rules longer than %d bytes", wire.MaxRulesSize)
		}
		if sum := sha256.Sum256([]byte(r.Rules)); hex.EncodeToString(sum[:]) != r.RulesSHA256 {
			return errors.New("rule set entry: rules text does not match its SHA-256")
		}
	}
	for _, c := range []struct {
		what string
		v    string
	}{{"name", r.Name}, {"rules ref", r.RulesRef}, {"publisher", r.Publisher}} {
		if err := checkLen(c.what, c.v, MaxFieldLength); err != nil {
			return fmt.Errorf("rule set entry: %w", err)
		}
	}
	if err := checkToken("lint class", r.LintClass); err != nil {
		return fmt.Errorf("rule set entry: %w", err)
	}
	if err := checkTimes(r.Created); err != nil {
		return fmt.Errorf("rule set entry: %w", err)
	}
	return nil
}

// Encode returns the canonical bytes of the rule set entry.
func (r *RuleSetEntry) Encode() ([]byte, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	e := newEncoder(KindRuleSet)
	e.str("name", r.Name)
	e.raw("rules-sha256", r.RulesSHA256)
	e.str("rules-ref", r.RulesRef)
	e.str("publisher", r.Publisher)
	c, _ := formatTime(r.Created)
	e.raw("created", c)
	e.raw("lint-class", r.LintClass)
	e.str("rules", r.Rules) // last: the longest field
	if e.b.Len() > MaxEntrySize {
		return nil, fmt.Errorf("rule set entry: over %d bytes", MaxEntrySize)
	}
	return e.b.Bytes(), nil
}

// DecodeRuleSet parses canonical rule set entry bytes.
func DecodeRuleSet(b []byte) (*RuleSetEntry, error) {
	d, err := newDecoder(b, KindRuleSet)
	if err != nil {
		return nil, fmt.Errorf("rule set entry: %w", err)
	}
	r := &RuleSetEntry{}
	r.Name = d.str("name", MaxFieldLength)
	r.RulesSHA256 = d.raw("rules-sha256")
	r.RulesRef = d.str("rules-ref", MaxFieldLength)
	r.Publisher = d.str("publisher", MaxFieldLength)
	r.Created = d.time("created")
	r.LintClass = d.raw("lint-class")
	r.Rules = d.str("rules", wire.MaxRulesSize)
	if err := d.end(); err != nil {
		return nil, fmt.Errorf("rule set entry: %w", err)
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	return r, nil
}

func (a *ApprovalEntry) validate() error {
	if err := wire.ValidID(a.HuntID); err != nil {
		return fmt.Errorf("approval entry: %w", err)
	}
	if a.HuntIndex < 0 {
		return fmt.Errorf("approval entry for %s: negative hunt index", a.HuntID)
	}
	if err := checkLen("approver", a.Approver, MaxFieldLength); err != nil {
		return fmt.Errorf("approval entry for %s: %w", a.HuntID, err)
	}
	v, err := note.NewVerifier(a.ApproverKey)
	if err != nil {
		return fmt.Errorf("approval entry for %s: approver key: %w", a.HuntID, err)
	}
	if v.Name() != a.Approver {
		return fmt.Errorf("approval entry for %s: approver %q but key is named %q", a.HuntID, a.Approver, v.Name())
	}
	if len(a.Signature) != 64 {
		return fmt.Errorf("approval entry for %s: signature of %d bytes, want 64", a.HuntID, len(a.Signature))
	}
	if err := checkTimes(a.Time); err != nil {
		return fmt.Errorf("approval entry for %s: %w", a.HuntID, err)
	}
	return nil
}

// Encode returns the canonical bytes of the approval entry.
func (a *ApprovalEntry) Encode() ([]byte, error) {
	if err := a.validate(); err != nil {
		return nil, err
	}
	e := newEncoder(KindApproval)
	e.str("hunt-id", a.HuntID)
	e.int("hunt-index", a.HuntIndex)
	e.str("approver", a.Approver)
	e.str("approver-key", a.ApproverKey)
	e.raw("signature", base64.StdEncoding.EncodeToString(a.Signature))
	t, _ := formatTime(a.Time)
	e.raw("time", t)
	return e.b.Bytes(), nil
}

// DecodeApproval parses canonical approval entry bytes. It checks the form
// of the key and signature, not the signature itself: see Verify.
func DecodeApproval(b []byte) (*ApprovalEntry, error) {
	d, err := newDecoder(b, KindApproval)
	if err != nil {
		return nil, fmt.Errorf("approval entry: %w", err)
	}
	a := &ApprovalEntry{}
	a.HuntID = d.str("hunt-id", 64)
	a.HuntIndex = d.int("hunt-index")
	a.Approver = d.str("approver", MaxFieldLength)
	a.ApproverKey = d.str("approver-key", MaxFieldLength)
	sig := d.raw("signature")
	a.Time = d.time("time")
	if err := d.end(); err != nil {
		return nil, fmt.Errorf("approval entry: %w", err)
	}
	a.Signature, err = base64.StdEncoding.Strict().DecodeString(sig)
	if err != nil || base64.StdEncoding.EncodeToString(a.Signature) != sig {
		return nil, errors.New("approval entry: signature is not canonical base64")
	}
	if err := a.validate(); err != nil {
		return nil, err
	}
	return a, nil
}

// Kind returns the kind of a canonical entry from its first two lines,
// without decoding the rest.
func Kind(b []byte) (string, error) {
	rest, ok := bytes.CutPrefix(b, []byte(EntryHeader+"\nkind "))
	if !ok {
		return "", fmt.Errorf("entry does not start with %q and a kind line", EntryHeader)
	}
	k, _, ok := bytes.Cut(rest, []byte("\n"))
	if !ok {
		return "", errors.New("entry has no complete kind line")
	}
	return string(k), nil
}

// CheckEntry reports whether b is the canonical encoding of an entry of the
// given kind.
func CheckEntry(kind string, b []byte) error {
	var err error
	switch kind {
	case KindHunt:
		_, err = DecodeHunt(b)
	case KindRuleSet:
		_, err = DecodeRuleSet(b)
	case KindApproval:
		_, err = DecodeApproval(b)
	default:
		return fmt.Errorf("unknown entry kind %q", kind)
	}
	return err
}

// ---- approvals ----

// ApprovalMessage is what an approver signs: a fixed domain line followed by
// the hunt entry's canonical bytes.
func ApprovalMessage(huntCanonical []byte) []byte {
	return append([]byte(approvalDomain), huntCanonical...)
}

// NewApproval signs the hunt entry huntCanonical (logged at huntIndex) with
// the approver's signer. verifierKey is the approver's note verifier key,
// which must belong to signer (the signature is checked against it).
func NewApproval(signer note.Signer, verifierKey string, huntCanonical []byte, huntIndex int64, now time.Time) (*ApprovalEntry, error) {
	h, err := DecodeHunt(huntCanonical)
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(verifierKey)
	if err != nil {
		return nil, fmt.Errorf("approver key: %w", err)
	}
	if v.Name() != signer.Name() || v.KeyHash() != signer.KeyHash() {
		return nil, errors.New("approver key does not belong to the signer")
	}
	sig, err := signer.Sign(ApprovalMessage(huntCanonical))
	if err != nil {
		return nil, err
	}
	a := &ApprovalEntry{
		HuntID: h.HuntID, HuntIndex: huntIndex, Approver: signer.Name(),
		ApproverKey: verifierKey, Signature: sig, Time: now.UTC(),
	}
	if err := a.Verify(huntCanonical); err != nil {
		return nil, fmt.Errorf("approver key does not belong to the signer: %w", err)
	}
	return a, nil
}

// Verify checks that the approval is a valid signature by ApproverKey over
// the hunt entry huntCanonical and names that hunt. It does not decide
// whether the approver is trusted or distinct from the requester: that is
// the caller's policy.
func (a *ApprovalEntry) Verify(huntCanonical []byte) error {
	if err := a.validate(); err != nil {
		return err
	}
	h, err := DecodeHunt(huntCanonical)
	if err != nil {
		return err
	}
	if h.HuntID != a.HuntID {
		return fmt.Errorf("approval is for hunt %s, not %s", a.HuntID, h.HuntID)
	}
	v, _ := note.NewVerifier(a.ApproverKey) // checked by validate
	if !v.Verify(ApprovalMessage(huntCanonical), a.Signature) {
		return fmt.Errorf("approval of hunt %s by %s: bad signature", a.HuntID, a.Approver)
	}
	return nil
}

// ---- wire hunts ----

// HuntEntryFromWire fills a hunt entry from the wire form of a hunt. The
// fields the wire hunt does not carry (ContentCollection, LintClass,
// ApprovalsRequired, RulesRef) are left for the caller to set.
func HuntEntryFromWire(h *wire.Hunt) *HuntEntry {
	return &HuntEntry{
		HuntID:      h.ID,
		Name:        h.Name,
		RulesSHA256: h.RulesSHA256,
		Target:      h.Target,
		Paths:       append([]string(nil), h.Paths...),
		Exclude:     append([]string(nil), h.Exclude...),
		Limits: Limits{
			MaxFileSize: h.Limits.MaxFileSize, MaxFiles: h.Limits.MaxFiles,
			PerFileTimeout: h.Limits.PerFileTimeout, Timeout: h.Limits.Timeout,
			Archives: h.Limits.Archives, MaxArchiveDepth: int64(h.Limits.MaxArchiveDepth),
			FollowSymlinks: h.Limits.FollowSymlinks,
		},
		Requester: h.CreatedBy,
		Why:       h.Why,
		Created:   h.Created.UTC(),
		Expires:   h.Expires.UTC(),
	}
}

// CheckHunt reports whether the wire hunt an agent received is exactly the
// logged hunt: same ID, rules (by SHA-256 of the text actually received),
// paths, exclusions, limits, target, requester, reason and times. An agent
// must run only what the log says.
func (h *HuntEntry) CheckHunt(w *wire.Hunt) error {
	sum := sha256.Sum256([]byte(w.Rules))
	if got := hex.EncodeToString(sum[:]); got != h.RulesSHA256 {
		return fmt.Errorf("hunt %s: rules text has SHA-256 %s, the log says %s", w.ID, got, h.RulesSHA256)
	}
	if w.RulesSHA256 != h.RulesSHA256 {
		return fmt.Errorf("hunt %s: declared rules SHA-256 differs from the log", w.ID)
	}
	got := HuntEntryFromWire(w)
	got.RulesRef, got.ContentCollection, got.LintClass, got.ApprovalsRequired = h.RulesRef, h.ContentCollection, h.LintClass, h.ApprovalsRequired
	norm := func(e *HuntEntry) HuntEntry {
		c := *e
		if len(c.Paths) == 0 {
			c.Paths = nil
		}
		if len(c.Exclude) == 0 {
			c.Exclude = nil
		}
		c.Created, c.Expires = c.Created.UTC(), c.Expires.UTC()
		return c
	}
	a, b := norm(got), norm(h)
	if !a.Created.Equal(b.Created) || !a.Expires.Equal(b.Expires) {
		return fmt.Errorf("hunt %s: times differ from the log", w.ID)
	}
	a.Created, a.Expires = b.Created, b.Expires
	if !reflect.DeepEqual(a, b) {
		return fmt.Errorf("hunt %s: differs from its log entry", w.ID)
	}
	return nil
}
