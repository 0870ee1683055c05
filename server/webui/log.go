package webui

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"vigil/server/api"
	"vigil/translog"
)

// Paging of the log page.
const (
	logPerPage    = 50   // default entries of one log page
	maxLogPerPage = 1000 // most a "limit" query may ask for (the API's own maximum)
)

// Roles of a checkpoint signature.
const (
	signerLog     = "log"     // the log's own key
	signerWitness = "witness" // a witness the server accepts
	signerUnknown = "unknown" // a key the server did not name
)

// signerView is one signature line of a checkpoint.
type signerView struct {
	Name     string
	Hash     string // key hash, 8 hex digits
	Role     string // signerLog, signerWitness or signerUnknown
	Verified bool   // the signature verifies with the key of that name and hash
}

// checkpointView is the latest checkpoint as the log page shows it.
type checkpointView struct {
	Raw     string
	Origin  string
	Size    int64
	Root    string // base64, as in the note
	Signers []signerView
	Error   string // why the checkpoint could not be read or verified, "" if it is fine
}

// entryView is one log entry, decoded when its kind is known.
type entryView struct {
	Index    int64
	Kind     string
	Raw      string
	Hunt     *translog.HuntEntry
	Approval *translog.ApprovalEntry
	RuleSet  *translog.RuleSetEntry
	Error    string // why the entry could not be decoded
}

// logData is the log page's data.
type logData struct {
	Key        api.LogKey
	Checkpoint checkpointView
	Entries    []entryView // newest first
	Size       int64       // entries in the checkpoint's tree
	Newest     int64       // index of the first entry shown
	Oldest     int64       // index of the last entry shown
	NewerURL   string      // "" on the newest page
	NewestURL  string      // "" on the newest page
	OlderURL   string      // "" on the oldest page
}

// logQuery is the log page's cursor: entries with index < Before, newest
// first, Limit of them.
type logQuery struct {
	Before int64 // -1 = the newest entries
	Limit  int
}

func parseLogQuery(v url.Values) (logQuery, error) {
	lq := logQuery{Before: -1, Limit: logPerPage}
	if s := v.Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return lq, api.Errorf(http.StatusBadRequest, "before: want an entry index, not %q", s)
		}
		lq.Before = n
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLogPerPage {
			return lq, api.Errorf(http.StatusBadRequest, "limit: want 1 to %d, not %q", maxLogPerPage, s)
		}
		lq.Limit = n
	}
	return lq, nil
}

// url is the log page with the cursor before (and lq's limit if not the default).
func (lq logQuery) url(before int64) string {
	v := url.Values{}
	v.Set("before", strconv.FormatInt(before, 10))
	if lq.Limit != logPerPage {
		v.Set("limit", strconv.Itoa(lq.Limit))
	}
	return "/log?" + v.Encode()
}

// logEntryURL is where an entry is shown: the log page that starts with it.
func logEntryURL(index int64) string {
	return "/log?before=" + strconv.FormatInt(index+1, 10) + "#entry-" + strconv.FormatInt(index, 10)
}

// logPage shows the public transparency log: the log key, the latest
// checkpoint and one page of entries. No login is needed: anyone may audit
// what was searched.
func (u *ui) logPage(w http.ResponseWriter, r *http.Request, q *request) {
	lq, err := parseLogQuery(r.URL.Query())
	if err != nil {
		u.fail(w, r, q, err)
		return
	}
	key, err := u.b.LogKey(q.ctx)
	if err != nil {
		u.fail(w, r, q, err)
		return
	}
	cp, err := u.b.Checkpoint(q.ctx)
	if err != nil {
		u.fail(w, r, q, err)
		return
	}
	d := logData{Key: key, Checkpoint: readCheckpoint(cp, key)}
	// The page shows exactly the tree of the checkpoint it shows.
	d.Size = d.Checkpoint.Size
	before := lq.Before
	if before < 0 || before > d.Size {
		before = d.Size
	}
	start := max(before-int64(lq.Limit), 0)
	if before > start {
		entries, err := u.b.LogEntries(q.ctx, start, before-start)
		if err != nil {
			u.fail(w, r, q, err)
			return
		}
		for _, e := range entries {
			if e.Index < start || e.Index >= before {
				u.o.Logf("webui: %s %s: log entries [%d, %d) included index %d", r.Method, r.URL.Path, start, before, e.Index)
				continue
			}
			d.Entries = append(d.Entries, decodeEntry(e))
		}
		slices.SortFunc(d.Entries, func(a, b entryView) int { return -cmpInt64(a.Index, b.Index) })
	}
	if len(d.Entries) > 0 {
		d.Newest, d.Oldest = d.Entries[0].Index, d.Entries[len(d.Entries)-1].Index
	}
	if before < d.Size {
		d.NewerURL = lq.url(min(before+int64(lq.Limit), d.Size))
		d.NewestURL = "/log"
		if lq.Limit != logPerPage {
			d.NewestURL += "?limit=" + strconv.Itoa(lq.Limit)
		}
	}
	if start > 0 {
		d.OlderURL = lq.url(start)
	}
	u.render(w, r, q, http.StatusOK, "log.html", "Transparency log", "log", d)
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// decodeEntry decodes a log entry by its kind.
func decodeEntry(e api.LogEntry) entryView {
	v := entryView{Index: e.Index, Kind: e.Kind, Raw: e.Entry}
	b := []byte(e.Entry)
	var err error
	switch e.Kind {
	case translog.KindHunt:
		v.Hunt, err = translog.DecodeHunt(b)
	case translog.KindApproval:
		v.Approval, err = translog.DecodeApproval(b)
	case translog.KindRuleSet:
		v.RuleSet, err = translog.DecodeRuleSet(b)
	default:
		err = errors.New("unknown kind")
	}
	if err != nil {
		v.Error = err.Error()
	}
	return v
}

// knownKey is a verifier key the server named, with its role.
type knownKey struct {
	v    note.Verifier
	role string
}

// readCheckpoint parses a signed checkpoint: its tree, and every signature
// line with its signer's name and role, verified against the log key and
// the witness keys from key. Problems are reported in Error, never fatal:
// the page shows what it can.
func readCheckpoint(cp []byte, key api.LogKey) checkpointView {
	v := checkpointView{Raw: string(cp)}
	if len(bytes.TrimSpace(cp)) == 0 {
		v.Error = "The log has no checkpoint yet."
		return v
	}
	var problems []string
	var known []knownKey
	add := func(k, role string) {
		nv, err := note.NewVerifier(k)
		if err != nil {
			problems = append(problems, "the server's "+role+" key does not parse: "+err.Error())
			return
		}
		known = append(known, knownKey{nv, role})
	}
	if key.Key != "" {
		add(key.Key, signerLog)
	}
	for _, w := range key.Witnesses {
		add(w, signerWitness)
	}

	// A note is its text, a blank line, then one "— name base64" line per
	// signature (golang.org/x/mod/sumdb/note).
	i := bytes.LastIndex(cp, []byte("\n\n"))
	if i < 0 {
		v.Error = "The checkpoint is not a signed note."
		return v
	}
	text, sigs := slices.Clone(cp[:i+1]), cp[i+2:]
	origin, tree, err := translog.ParseCheckpoint(text)
	if err != nil {
		problems = append(problems, "checkpoint text: "+err.Error())
	} else {
		v.Origin, v.Size = origin, tree.N
		v.Root = base64.StdEncoding.EncodeToString(tree.Hash[:])
		if key.Origin != "" && origin != key.Origin {
			problems = append(problems, "the checkpoint's origin "+strconv.Quote(origin)+" is not the log's "+strconv.Quote(key.Origin))
		}
	}
	for line := range strings.Lines(string(sigs)) {
		line = strings.TrimSuffix(line, "\n")
		rest, ok := strings.CutPrefix(line, "— ")
		name, b64, ok2 := strings.Cut(rest, " ")
		sig, err := base64.StdEncoding.DecodeString(b64)
		if !ok || !ok2 || err != nil || len(sig) < 5 {
			problems = append(problems, "malformed signature line "+strconv.Quote(line))
			continue
		}
		hash := binary.BigEndian.Uint32(sig)
		s := signerView{Name: name, Hash: fmt.Sprintf("%08x", hash), Role: signerUnknown}
		for _, k := range known {
			if k.v.Name() == name && k.v.KeyHash() == hash {
				s.Role = k.role
				s.Verified = k.v.Verify(text, sig[4:])
				if !s.Verified {
					problems = append(problems, "the "+k.role+" signature by "+strconv.Quote(name)+" does not verify")
				}
				break
			}
		}
		v.Signers = append(v.Signers, s)
	}
	if !slices.ContainsFunc(v.Signers, func(s signerView) bool { return s.Role == signerLog && s.Verified }) {
		problems = append(problems, "no valid signature by the log key")
	}
	v.Error = strings.Join(problems, "; ")
	return v
}
