// Package api is the server's HTTP JSON API: the request and response
// types, the routes, and a Go client used by the `vigil` commands. The
// server implements the routes; the web UI calls the same service methods.
//
// Every route but GET /healthz and POST /api/v1/enroll needs an operator
// token: "Authorization: Bearer TOKEN". Errors are JSON Error bodies with a
// 4xx/5xx status.
//
//	GET    /healthz                         "ok" (no authentication)
//	GET    /metrics                         Prometheus text format
//	POST   /api/v1/enroll                   wire.EnrollRequest → wire.EnrollReply (the enrollment token authenticates)
//	GET    /api/v1/whoami                   Operator
//	GET    /api/v1/operators                []Operator                  (admin)
//	POST   /api/v1/operators                OperatorRequest → OperatorCreated (admin)
//	GET    /api/v1/agents                   []Agent
//	GET    /api/v1/agents/{id}              Agent
//	GET    /api/v1/tokens                   []Token                     (admin)
//	POST   /api/v1/tokens                   TokenRequest → TokenCreated (admin)
//	DELETE /api/v1/tokens/{id}              revokes                     (admin)
//	GET    /api/v1/hunts                    []Hunt (without rules text)
//	POST   /api/v1/hunts                    HuntRequest → Hunt          (hunter)
//	GET    /api/v1/hunts/{id}               Hunt with Rules and Progress
//	POST   /api/v1/hunts/{id}/cancel        Hunt                        (hunter)
//	GET    /api/v1/hunts/{id}/agents        []Assignment
//	GET    /api/v1/hunts/{id}/results       ResultPage; query: agent, rule, path, after, limit
//	GET    /api/v1/hunts/{id}/export        ?format=jsonl|csv: every result, streamed
//	POST   /api/v1/hunts/{id}/approve       ApprovalRequest → Hunt      (approver; not the hunt's author)
//	PUT    /api/v1/whoami/key               KeyRequest → Operator       (registers the caller's approval key)
//
// The transparency log is public: anyone can audit what was ever searched,
// so these routes need no token.
//
//	GET    /api/v1/log/key                  LogKey
//	GET    /api/v1/log/checkpoint           the latest signed checkpoint (text/plain note, with witness cosignatures)
//	GET    /api/v1/log/entries              ?start=N&count=M (M <= 1000) → []LogEntry
//	GET    /api/v1/log/proof/record         ?index=N&size=M → Proof (inclusion of entry N in tree M)
//	GET    /api/v1/log/proof/tree           ?old=N&new=M → Proof (tree M extends tree N)
//	POST   /api/v1/log/cosign               body: the checkpoint note with a witness's cosignature added (text/plain);
//	                                        accepted when the witness key is one the server was configured with
package api

import (
	"time"

	"vigil/wire"
)

// Error is the body of every failed request.
type Error struct {
	Error string `json:"error"`
}

// Operator is a user of the API.
type Operator struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Role     string    `json:"role"`
	Created  time.Time `json:"created"`
	Disabled bool      `json:"disabled,omitempty"`
	Key      string    `json:"key,omitempty"` // approval key (note verifier key), if registered
}

// OperatorRequest creates an operator.
type OperatorRequest struct {
	Name string `json:"name"`
	Role string `json:"role"` // viewer, hunter, approver, admin
}

// OperatorCreated holds the new operator's API token, shown only once.
type OperatorCreated struct {
	Operator Operator `json:"operator"`
	Token    string   `json:"token"`
}

// Agent is an enrolled endpoint as the API shows it.
type Agent struct {
	ID       string            `json:"id"`
	Hostname string            `json:"hostname"`
	OS       string            `json:"os"`
	Arch     string            `json:"arch"`
	Version  string            `json:"version"`
	Labels   map[string]string `json:"labels"`
	Enrolled time.Time         `json:"enrolled"`
	LastSeen time.Time         `json:"last_seen,omitzero"`
	Online   bool              `json:"online"` // heard from within wire.OfflineAfter
}

// TokenRequest creates an enrollment token.
type TokenRequest struct {
	Labels      map[string]string `json:"labels,omitempty"`
	MaxUses     int               `json:"max_uses,omitempty"`   // 0 = unlimited
	ExpiresIn   string            `json:"expires_in,omitempty"` // Go duration, default "168h"
	Description string            `json:"description,omitempty"`
}

// Token is an enrollment token without its secret.
type Token struct {
	ID          string            `json:"id"`
	Labels      map[string]string `json:"labels"`
	MaxUses     int               `json:"max_uses"`
	Uses        int               `json:"uses"`
	Expires     time.Time         `json:"expires"`
	Created     time.Time         `json:"created"`
	CreatedBy   string            `json:"created_by"`
	Revoked     bool              `json:"revoked"`
	Description string            `json:"description,omitempty"`
}

// TokenCreated holds the secret, shown only once: what `vigil agent --token` takes.
type TokenCreated struct {
	Token  Token  `json:"token"`
	Secret string `json:"secret"`
}

// HuntRequest creates a hunt.
type HuntRequest struct {
	Name      string      `json:"name,omitempty"`
	Rules     string      `json:"rules"`             // YARA source; must compile on the server
	Target    string      `json:"target,omitempty"`  // label selector, "" = all agents
	Paths     []string    `json:"paths"`             // absolute
	Exclude   []string    `json:"exclude,omitempty"` // globs as `vigil scan --exclude`
	Limits    wire.Limits `json:"limits"`
	ExpiresIn string      `json:"expires_in,omitempty"` // Go duration, default "24h"
	Why       string      `json:"why"`                  // required
}

// Progress sums a hunt's agents.
type Progress struct {
	Agents       int            `json:"agents"`
	Acknowledged int            `json:"acknowledged"` // agents that reported any state
	Done         int            `json:"done"`         // in a terminal state
	States       map[string]int `json:"states"`
	Results      int64          `json:"results"`
	FilesScanned int64          `json:"files_scanned"`
	FileErrors   int64          `json:"file_errors"`
}

// Hunt is a hunt as the API shows it.
type Hunt struct {
	ID          string      `json:"id"`
	Name        string      `json:"name,omitempty"`
	State       string      `json:"state"` // running, canceled, expired, pending
	Target      string      `json:"target"`
	Paths       []string    `json:"paths"`
	Exclude     []string    `json:"exclude,omitempty"`
	Limits      wire.Limits `json:"limits"`
	Why         string      `json:"why"`
	CreatedBy   string      `json:"created_by"`
	Created     time.Time   `json:"created"`
	Expires     time.Time   `json:"expires"`
	RulesSHA256 string      `json:"rules_sha256"`
	Rules       string      `json:"rules,omitempty"` // in GET /hunts/{id} and POST /hunts only
	Progress    *Progress   `json:"progress,omitempty"`
	// Accountability: the hunt's transparency-log entry and approvals.
	LogIndex          int64      `json:"log_index"`            // -1 before it is logged
	LintClass         string     `json:"lint_class,omitempty"` // "code" or "document" (vigil check --lint)
	ApprovalsRequired int        `json:"approvals_required"`   // the server's count for this hunt
	Approvals         []Approval `json:"approvals,omitempty"`  // logged approvals
	Entry             string     `json:"entry,omitempty"`      // canonical log entry text (GET /hunts/{id}); what approvers sign
}

// Approval is one logged approval of a hunt.
type Approval struct {
	Approver string    `json:"approver"`
	Key      string    `json:"key"` // note verifier key
	LogIndex int64     `json:"log_index"`
	Time     time.Time `json:"time"`
}

// ApprovalRequest approves a hunt: Entry is translog.ApprovalEntry's
// canonical encoding, made and signed on the approver's machine (`vigil
// hunt approve`); the private key never reaches the server.
type ApprovalRequest struct {
	Entry string `json:"entry"`
}

// KeyRequest registers the caller's approval key: a note verifier key
// whose name is the operator's name.
type KeyRequest struct {
	Key string `json:"key"`
}

// LogKey is the log's public key and origin.
type LogKey struct {
	Key       string   `json:"key"`       // note verifier key of the log
	Origin    string   `json:"origin"`    // first line of every checkpoint
	Witnesses []string `json:"witnesses"` // verifier keys of the witnesses whose cosignatures the server accepts
}

// LogEntry is one entry of the log.
type LogEntry struct {
	Index int64  `json:"index"`
	Kind  string `json:"kind"`  // translog kind: ruleset, hunt, approval
	Entry string `json:"entry"` // canonical text
}

// Proof is a Merkle proof: base64 hashes (tlog.RecordProof or tlog.TreeProof).
type Proof struct {
	Proof [][]byte `json:"proof"`
}

// Assignment is one agent's part of a hunt.
type Assignment struct {
	AgentID      string    `json:"agent_id"`
	Hostname     string    `json:"hostname"`
	State        string    `json:"state"` // "" until acknowledged
	Error        string    `json:"error,omitempty"`
	FilesScanned int64     `json:"files_scanned"`
	FilesMatched int64     `json:"files_matched"`
	FilesSkipped int64     `json:"files_skipped"`
	FileErrors   int64     `json:"file_errors"`
	Bytes        int64     `json:"bytes"`
	Started      time.Time `json:"started,omitzero"`
	Updated      time.Time `json:"updated,omitzero"`
}

// Result is one (file, rule) match: also one line of the JSON-lines export.
type Result struct {
	HuntID    string           `json:"hunt_id"`
	AgentID   string           `json:"agent_id"`
	Hostname  string           `json:"hostname,omitempty"`
	Path      string           `json:"path"`
	Size      int64            `json:"size"`
	SHA256    string           `json:"sha256"`
	MD5       string           `json:"md5"`
	Rule      string           `json:"rule"`
	Namespace string           `json:"namespace"`
	Tags      []string         `json:"tags,omitempty"`
	Strings   []wire.StringHit `json:"strings,omitempty"`
	Received  time.Time        `json:"received"`
}

// ResultPage is one page of results; pass Next as "after" for the next.
type ResultPage struct {
	Results []Result `json:"results"`
	Next    int64    `json:"next"`
	More    bool     `json:"more"`
}

// CSVHeader is the first row of the CSV export; strings are
// "$id@off1;off2 (count)" joined by spaces, tags by spaces.
var CSVHeader = []string{"hunt_id", "agent_id", "hostname", "path", "size", "sha256", "md5", "rule", "namespace", "tags", "strings", "received"}
