// Package wire is the protocol between a Vigil agent and a Vigil server:
// the NATS subjects each side may use, and the JSON messages on them. It is
// the only package both the agent and the server import (see DESIGN.md), so
// it imports nothing of ours but the scanner's limit types.
//
// # Subjects and least privilege
//
// Every subject starts with a prefix (Prefix by default; tests and shared
// NATS clusters use another, so that several servers never see each
// other's traffic). With A an agent's ID:
//
//	P.to.A.hunt       server → agent   a Hunt to run (core NATS, best effort)
//	P.to.A.cancel     server → agent   a Cancel
//	P.from.A.sync     agent → server   request: SyncRequest, reply: SyncReply
//	P.from.A.hello    agent → server   Hello (heartbeat, core NATS)
//	P.from.A.status   agent → server   Status (JetStream: durable, acknowledged)
//	P.from.A.results  agent → server   ResultBatch (JetStream: durable, acknowledged)
//	_I.A.>            replies to agent A's requests (its inbox prefix)
//
// An agent may publish only on P.from.A.> and subscribe only to P.to.A.>
// and its inbox: AgentPermissions says so, and the embedded NATS server
// enforces it. The server takes an agent's identity from the subject a
// message arrived on, never from the message body, so no agent can speak
// for another.
//
// Hunts reach agents twice over: pushed on P.to.A.hunt when created, and
// pulled with P.from.A.sync when the agent connects and every SyncInterval.
// An offline agent therefore gets a hunt when it comes back, until the hunt
// expires. Results and statuses go to a JetStream stream (StreamName) so
// that nothing is lost while the server restarts; every message carries a
// per-agent, per-hunt sequence number, and the server stores each (hunt,
// agent, seq) once. Agents send no Nats-Msg-Id: JetStream's duplicate
// detection spans the whole stream, so an ID another agent can predict
// would let it get a genuine message dropped as a duplicate.
package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Version is the protocol version; Hello and SyncRequest carry it.
const Version = 1

// Prefix is the default subject prefix.
const Prefix = "vigil"

// Limits on what either side accepts from the other. Messages over
// MaxMessage bytes are refused unread.
const (
	MaxMessage        = 1 << 20 // bytes of one NATS message
	MaxRulesSize      = 512 << 10
	MaxMatchesPerMsg  = 200 // FileMatch entries in one ResultBatch
	MaxOffsetsPerHit  = 16  // offsets kept per string; Count has the total
	MaxErrorsPerMsg   = 100
	MaxPaths          = 64
	MaxLabels         = 32
	SyncInterval      = 60 * time.Second
	HelloInterval     = 30 * time.Second
	OfflineAfter      = 3 * HelloInterval // an agent not heard from for this long is offline
	DuplicateWindow   = 2 * time.Minute   // JetStream's duplicate window (unused: agents send no message IDs)
	InboxPrefixFormat = "_I.%s"           // nats.CustomInboxPrefix(fmt.Sprintf(InboxPrefixFormat, id))
)

// StreamName is the JetStream stream that captures P.from.*.status and
// P.from.*.results for prefix p: "VIGIL_FROM" for the default prefix.
func StreamName(p string) string {
	return strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(p)) + "_FROM"
}

// Subjects for agent id under prefix p.
func HuntSubject(p, id string) string    { return p + ".to." + id + ".hunt" }
func CancelSubject(p, id string) string  { return p + ".to." + id + ".cancel" }
func SyncSubject(p, id string) string    { return p + ".from." + id + ".sync" }
func HelloSubject(p, id string) string   { return p + ".from." + id + ".hello" }
func StatusSubject(p, id string) string  { return p + ".from." + id + ".status" }
func ResultsSubject(p, id string) string { return p + ".from." + id + ".results" }
func InboxPrefix(id string) string       { return fmt.Sprintf(InboxPrefixFormat, id) }

// Wildcards the server subscribes to.
func AllSync(p string) string    { return p + ".from.*.sync" }
func AllHello(p string) string   { return p + ".from.*.hello" }
func AllStatus(p string) string  { return p + ".from.*.status" }
func AllResults(p string) string { return p + ".from.*.results" }

// AgentFromSubject returns the agent ID of a P.from.A.x subject.
func AgentFromSubject(p, subject string) (string, error) {
	rest, ok := strings.CutPrefix(subject, p+".from.")
	if !ok {
		return "", fmt.Errorf("subject %q is not under %s.from", subject, p)
	}
	id, _, ok := strings.Cut(rest, ".")
	if !ok || ValidID(id) != nil {
		return "", fmt.Errorf("subject %q has no valid agent ID", subject)
	}
	return id, nil
}

// Permissions is what a NATS user may publish and subscribe to.
type Permissions struct {
	Publish   []string
	Subscribe []string
}

// AgentPermissions is everything agent id may do under prefix p.
func AgentPermissions(p, id string) Permissions {
	return Permissions{
		Publish:   []string{p + ".from." + id + ".>"},
		Subscribe: []string{p + ".to." + id + ".>", InboxPrefix(id) + ".>"},
	}
}

// ValidID checks an agent, hunt or token ID: 1-64 characters of [a-z0-9_-],
// so that it is always a single NATS subject token.
func ValidID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("ID %q: want 1-64 characters", id)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("ID %q: character %q not allowed", id, c)
		}
	}
	return nil
}

// Limits are a hunt's per-agent scan limits. Zero means the agent's default.
type Limits struct {
	MaxFileSize     int64         `json:"max_file_size,omitempty"`    // bytes
	MaxFiles        int64         `json:"max_files,omitempty"`        // files scanned, then stop
	PerFileTimeout  time.Duration `json:"per_file_timeout,omitempty"` // nanoseconds in JSON
	Timeout         time.Duration `json:"timeout,omitempty"`          // whole hunt on one agent
	Archives        bool          `json:"archives,omitempty"`         // unpack archives
	MaxArchiveDepth int           `json:"max_archive_depth,omitempty"`
	FollowSymlinks  bool          `json:"follow_symlinks,omitempty"`
}

// Hunt is what an agent runs: YARA rules over paths, with limits.
type Hunt struct {
	ID          string    `json:"id"`
	Name        string    `json:"name,omitempty"`
	Rules       string    `json:"rules"`        // YARA source text
	RulesSHA256 string    `json:"rules_sha256"` // hex of sha256(Rules)
	Paths       []string  `json:"paths"`        // roots to search (absolute)
	Exclude     []string  `json:"exclude,omitempty"`
	Limits      Limits    `json:"limits"`
	Target      string    `json:"target,omitempty"` // label selector, "" = all agents
	Why         string    `json:"why"`              // the requester's written reason
	CreatedBy   string    `json:"created_by"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires"`
	// Log carries the hunt's log entry, approvals and proofs (in sync
	// replies). A hunt pushed on P.to.A.hunt carries none: an agent that
	// verifies the log answers a push by syncing.
	Log *HuntLog `json:"log,omitempty"`
}

// Validate checks a hunt as an agent receives it (not the rules' syntax:
// the engine does that).
func (h *Hunt) Validate() error {
	if err := ValidID(h.ID); err != nil {
		return fmt.Errorf("hunt: %w", err)
	}
	if h.Rules == "" || len(h.Rules) > MaxRulesSize {
		return fmt.Errorf("hunt %s: rules must be 1-%d bytes", h.ID, MaxRulesSize)
	}
	if len(h.Paths) == 0 || len(h.Paths) > MaxPaths {
		return fmt.Errorf("hunt %s: want 1-%d paths", h.ID, MaxPaths)
	}
	for _, p := range h.Paths {
		if p == "" {
			return fmt.Errorf("hunt %s: empty path", h.ID)
		}
	}
	if h.Expires.IsZero() {
		return fmt.Errorf("hunt %s: no expiry", h.ID)
	}
	return nil
}

// Cancel stops a hunt on an agent.
type Cancel struct {
	HuntID string `json:"hunt_id"`
}

// Hello is an agent's heartbeat, sent on connect and every HelloInterval.
type Hello struct {
	Version  int       `json:"version"`
	Agent    string    `json:"agent_version"` // the vigil build's version
	Hostname string    `json:"hostname"`
	OS       string    `json:"os"`
	Arch     string    `json:"arch"`
	Running  []string  `json:"running,omitempty"` // hunt IDs running now
	Time     time.Time `json:"time"`
}

// SyncRequest asks the server for the hunts this agent should run.
type SyncRequest struct {
	Version int `json:"version"`
	// LogSize is the size of the last transparency-log checkpoint the agent
	// verified and stored (0: none yet); the reply's Consistency proof
	// starts there.
	LogSize int64 `json:"log_size,omitempty"`
	// Known lists hunt IDs the agent has already finished (or refused), so
	// the server need not send them again.
	Known []string `json:"known,omitempty"`
}

// SyncReply lists the unexpired hunts assigned to the agent that it has not
// reported done.
type SyncReply struct {
	Hunts []Hunt `json:"hunts"`
	Error string `json:"error,omitempty"`
	// Checkpoint is the server's latest signed log checkpoint (a
	// golang.org/x/mod/sumdb/note: the log key's signature plus any witness
	// cosignatures). Every Hunt.Log proof is relative to it.
	Checkpoint []byte `json:"checkpoint,omitempty"`
	// Consistency proves Checkpoint's tree extends the agent's tree of
	// SyncRequest.LogSize (tlog.TreeProof; empty when LogSize is 0 or
	// equal to the checkpoint's size).
	Consistency [][]byte `json:"consistency,omitempty"`
}

// LoggedEntry is one transparency-log entry with its inclusion proof in
// the tree of SyncReply.Checkpoint.
type LoggedEntry struct {
	Index     int64    `json:"index"`
	Entry     []byte   `json:"entry"`     // canonical bytes (package translog)
	Inclusion [][]byte `json:"inclusion"` // tlog.RecordProof
}

// HuntLog is what lets an agent check a hunt before it runs it: the hunt's
// log entry and the logged approvals of it, each with an inclusion proof.
type HuntLog struct {
	Hunt      LoggedEntry   `json:"hunt"`
	Approvals []LoggedEntry `json:"approvals,omitempty"`
}

// Hunt states an agent reports.
const (
	StateReceived = "received" // the agent has the hunt (its acknowledgement)
	StateRunning  = "running"
	StateDone     = "done"
	StateFailed   = "failed"   // Error says why (e.g. rules did not compile)
	StateRefused  = "refused"  // the agent would not run it (Error says why)
	StateCanceled = "canceled" // canceled by the server or expired while running
)

// Terminal reports whether state s ends a hunt on an agent.
func Terminal(s string) bool {
	return s == StateDone || s == StateFailed || s == StateRefused || s == StateCanceled
}

// Status reports a hunt's progress on an agent. Statuses of one hunt carry
// increasing Seq (from 1); a terminal status says in Batches how many
// ResultBatch messages the agent sent for the hunt, so the server knows when
// it has them all.
type Status struct {
	HuntID       string    `json:"hunt_id"`
	Seq          uint64    `json:"seq"`
	State        string    `json:"state"`
	Error        string    `json:"error,omitempty"`
	FilesScanned int64     `json:"files_scanned"`
	FilesMatched int64     `json:"files_matched"`
	FilesSkipped int64     `json:"files_skipped"`
	FileErrors   int64     `json:"file_errors"`
	Bytes        int64     `json:"bytes"`
	Batches      uint64    `json:"batches"`
	Started      time.Time `json:"started,omitzero"`
	Time         time.Time `json:"time"`
}

// StringHit is one string of a matching rule: where it matched, never what.
type StringHit struct {
	ID      string  `json:"id"`
	Offsets []int64 `json:"offsets"` // the first MaxOffsetsPerHit
	Count   int     `json:"count"`   // all matches
}

// RuleHit is one rule that matched a file.
type RuleHit struct {
	Rule      string      `json:"rule"`
	Namespace string      `json:"namespace"`
	Tags      []string    `json:"tags,omitempty"`
	Strings   []StringHit `json:"strings,omitempty"`
}

// FileMatch is one file that matched at least one rule. It holds no file
// content: only its path, size, hashes and where the rules' strings matched.
type FileMatch struct {
	Path   string    `json:"path"` // "!"-joined for archive members
	Size   int64     `json:"size"`
	SHA256 string    `json:"sha256"`
	MD5    string    `json:"md5"`
	Rules  []RuleHit `json:"rules"`
}

// FileError is a file the agent could not scan.
type FileError struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

// ResultBatch carries matches of one hunt from one agent. Seq counts from 1
// per (agent, hunt).
type ResultBatch struct {
	HuntID  string      `json:"hunt_id"`
	Seq     uint64      `json:"seq"`
	Matches []FileMatch `json:"matches"`
	Errors  []FileError `json:"errors,omitempty"`
}

// Enrollment over HTTPS: the agent POSTs an EnrollRequest to
// /api/v1/enroll and gets an EnrollReply.
type EnrollRequest struct {
	Token     string            `json:"token"`
	PublicKey string            `json:"public_key"` // the agent's NATS nkey user public key ("U...")
	Hostname  string            `json:"hostname"`
	OS        string            `json:"os"`
	Arch      string            `json:"arch"`
	Version   string            `json:"version"`
	Labels    map[string]string `json:"labels,omitempty"` // the agent's own; the token's win
}

// EnrollReply tells the agent who it is and where to connect.
type EnrollReply struct {
	AgentID string            `json:"agent_id"`
	NATS    []string          `json:"nats"`   // URLs
	Prefix  string            `json:"prefix"` // subject prefix
	Labels  map[string]string `json:"labels"` // as recorded by the server
	// NATSAuth says how the agent authenticates to NATS: NATSAuthNKey (the
	// server's embedded NATS: sign the connection nonce with the key sent
	// at enrollment) or NATSAuthExternal (an external cluster: its own
	// credentials, which the machine's admin gives the agent).
	NATSAuth string `json:"nats_auth,omitempty"`
	// Accountability: the log's note verifier key, the approval keys of
	// the server's approvers and the witnesses' keys at enrollment time.
	// An agent without a local policy file writes these into a new one
	// (trust on first use); from then on only the machine's admin changes
	// them, never the server.
	LogKey       string   `json:"log_key,omitempty"`
	Approvers    []string `json:"approvers,omitempty"`
	Witnesses    []string `json:"witnesses,omitempty"`
	MinApprovals int      `json:"min_approvals,omitempty"`
}

// NATS authentication modes of an EnrollReply; "" means NATSAuthNKey.
const (
	NATSAuthNKey     = "nkey"
	NATSAuthExternal = "external"
)

// Decode unmarshals a message of at most MaxMessage bytes, refusing
// unknown fields so that garbage on the wire is an error, not a zero value.
func Decode(data []byte, v any) error {
	if len(data) > MaxMessage {
		return fmt.Errorf("message of %d bytes is over the %d-byte limit", len(data), MaxMessage)
	}
	if len(data) == 0 {
		return errors.New("empty message")
	}
	d := json.NewDecoder(strings.NewReader(string(data)))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("malformed %T: %w", v, err)
	}
	if d.More() {
		return fmt.Errorf("malformed %T: trailing data", v)
	}
	return nil
}

// Encode marshals a message.
func Encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxMessage {
		return nil, fmt.Errorf("%T of %d bytes is over the %d-byte limit", v, len(b), MaxMessage)
	}
	return b, nil
}

// Selector picks agents by labels: "os=linux,site=berlin" matches agents
// whose labels have every pair. The empty selector matches every agent.
type Selector map[string]string

// ParseSelector parses "k=v,k2=v2". Keys and values are non-empty and
// contain none of ",=" or spaces.
func ParseSelector(s string) (Selector, error) {
	sel := Selector{}
	s = strings.TrimSpace(s)
	if s == "" {
		return sel, nil
	}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || !validLabel(k) || !validLabel(v) {
			return nil, fmt.Errorf("label selector %q: %q is not key=value", s, part)
		}
		if _, dup := sel[k]; dup {
			return nil, fmt.Errorf("label selector %q: key %q twice", s, k)
		}
		sel[k] = v
	}
	if len(sel) > MaxLabels {
		return nil, fmt.Errorf("label selector %q: more than %d labels", s, MaxLabels)
	}
	return sel, nil
}

func validLabel(s string) bool {
	return s != "" && len(s) <= 128 && !strings.ContainsAny(s, ",= \t\r\n")
}

// Matches reports whether labels satisfy the selector.
func (sel Selector) Matches(labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// String is the canonical form: keys sorted.
func (sel Selector) String() string {
	keys := make([]string, 0, len(sel))
	for k := range sel {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + sel[k])
	}
	return b.String()
}
