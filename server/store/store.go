// Package store is the server's state: operators, enrollment tokens, agents,
// hunts, their per-agent assignments and results. Store is the interface;
// store/sqlite (the default, pure Go) and store/postgres implement it, and
// both run the conformance suite in store/storetest.
//
// Every method is safe for concurrent use. Times are stored in UTC with at
// least millisecond precision. Lookups of something absent return an error
// that wraps ErrNotFound.
package store

import (
	"context"
	"errors"
	"time"

	"vigil/wire"
)

// ErrNotFound is wrapped by errors of lookups that find nothing.
var ErrNotFound = errors.New("not found")

// ErrConflict is wrapped by errors of creations whose ID or name exists.
var ErrConflict = errors.New("already exists")

// Roles of operators, weakest first.
const (
	RoleViewer   = "viewer"   // reads agents, hunts, results
	RoleHunter   = "hunter"   // also creates hunts
	RoleApprover = "approver" // also approves others' hunts (issue 7)
	RoleAdmin    = "admin"    // also manages operators and enrollment tokens
)

// Operator is a person (or script) using the API or UI.
type Operator struct {
	ID        string // wire.ValidID
	Name      string // unique
	Role      string
	TokenHash string // hex sha256 of the API token; the token itself is never stored
	Created   time.Time
	Disabled  bool
	// ApprovalKey is the operator's note verifier key for approving hunts
	// ("" = none); its name is the operator's Name.
	ApprovalKey string
}

// EnrollToken lets agents enroll. The secret is never stored, only its hash.
type EnrollToken struct {
	ID          string
	SecretHash  string // hex sha256 of the secret
	Labels      map[string]string
	MaxUses     int // 0 = unlimited
	Uses        int
	Expires     time.Time
	Created     time.Time
	CreatedBy   string // operator name
	Revoked     bool
	Description string
}

// Agent is an enrolled endpoint.
type Agent struct {
	ID        string
	PublicKey string // NATS nkey user public key; unique
	Hostname  string
	OS        string
	Arch      string
	Version   string
	Labels    map[string]string
	Enrolled  time.Time
	LastSeen  time.Time // zero until the first Hello
	TokenID   string
}

// Hunt states on the server.
const (
	HuntRunning  = "running"  // agents may run it
	HuntCanceled = "canceled" // stopped by an operator
	// A hunt past its Expires is reported as "expired" by the API; the
	// stored state does not change.
	HuntPending = "pending" // waiting for approval (issue 7)
)

// Hunt is a wire.Hunt plus the server's bookkeeping.
type Hunt struct {
	wire.Hunt
	State             string
	LogIndex          int64  // index of its transparency-log entry
	LintClass         string // "code" or "document"
	ApprovalsRequired int
}

// Approval is a logged approval of a hunt.
type Approval struct {
	HuntID   string
	Approver string // operator name
	Key      string // note verifier key
	LogIndex int64
	Entry    []byte // canonical translog approval entry
	Time     time.Time
}

// Assignment is one agent's part of a hunt.
type Assignment struct {
	HuntID       string
	AgentID      string
	State        string // "" = not yet acknowledged, else a wire.State*
	Error        string
	FilesScanned int64
	FilesMatched int64
	FilesSkipped int64
	FileErrors   int64
	Bytes        int64
	Batches      uint64 // from the terminal status: batches the agent sent
	StatusSeq    uint64 // highest status Seq applied; older ones are ignored
	Started      time.Time
	Updated      time.Time
}

// Result is one (file, rule) match: a FileMatch holding n rules is n Results.
type Result struct {
	HuntID    string
	AgentID   string
	Seq       uint64 // the batch it came in
	Index     int    // position in the batch (file index * 1000 + rule index)
	Path      string
	Size      int64
	SHA256    string
	MD5       string
	Rule      string
	Namespace string
	Tags      []string
	Strings   []wire.StringHit
	Received  time.Time
}

// ResultFilter narrows Results. Empty fields match everything; Path and
// Rule match substrings.
type ResultFilter struct {
	AgentID string
	Rule    string
	Path    string
	After   int64 // return rows after this cursor (Results returns cursors)
	Limit   int   // 0 = 1000
}

// Progress sums a hunt's assignments.
type Progress struct {
	Agents       int            // assigned
	States       map[string]int // wire state ("" = not acknowledged) → agents
	Done         int            // agents in a terminal state
	Results      int64          // stored Result rows
	FilesScanned int64
	FileErrors   int64
}

// Batch is one ResultBatch from one agent, to store at most once.
type Batch struct {
	AgentID  string
	Batch    wire.ResultBatch
	Received time.Time
}

// Store is the server's persistent state.
type Store interface {
	// Close releases the store.
	Close() error

	CreateOperator(ctx context.Context, o Operator) error // ErrConflict on same ID or Name
	OperatorByTokenHash(ctx context.Context, hash string) (Operator, error)
	ListOperators(ctx context.Context) ([]Operator, error)
	SetOperatorDisabled(ctx context.Context, id string, disabled bool) error
	SetOperatorKey(ctx context.Context, id, key string) error

	CreateEnrollToken(ctx context.Context, t EnrollToken) error
	ListEnrollTokens(ctx context.Context) ([]EnrollToken, error)
	RevokeEnrollToken(ctx context.Context, id string) error
	// Enroll checks the token with this secret hash (exists, not revoked,
	// not expired at now, uses left), counts one use and creates the agent,
	// with the token's labels over a.Labels, all in one transaction. It
	// returns the stored agent. An unusable token is an error wrapping
	// ErrNotFound (whatever the reason: the caller must not tell them apart).
	Enroll(ctx context.Context, secretHash string, a Agent, now time.Time) (Agent, error)

	GetAgent(ctx context.Context, id string) (Agent, error)
	ListAgents(ctx context.Context) ([]Agent, error) // ordered by ID
	// TouchAgent records a Hello.
	TouchAgent(ctx context.Context, id string, seen time.Time, hostname, version string) error

	// CreateHunt stores the hunt and one Assignment (State "") per agent.
	CreateHunt(ctx context.Context, h Hunt, agents []string) error
	GetHunt(ctx context.Context, id string) (Hunt, error)
	ListHunts(ctx context.Context) ([]Hunt, error) // newest first
	SetHuntState(ctx context.Context, id, state string) error
	// AddApproval stores an approval (ErrConflict when this approver already
	// approved the hunt); Approvals lists a hunt's in LogIndex order.
	AddApproval(ctx context.Context, a Approval) error
	Approvals(ctx context.Context, huntID string) ([]Approval, error)
	// PendingHunts returns the hunts assigned to agent that are running,
	// not expired at now, and whose assignment is not terminal.
	PendingHunts(ctx context.Context, agentID string, now time.Time) ([]Hunt, error)
	Assignments(ctx context.Context, huntID string) ([]Assignment, error) // ordered by agent ID
	// ApplyStatuses applies statuses in one transaction; a status whose Seq
	// is not above the assignment's StatusSeq, or for a hunt the agent is not
	// assigned, is skipped (reported false in applied, no error).
	ApplyStatuses(ctx context.Context, s []AgentStatus) (applied []bool, err error)
	Progress(ctx context.Context, huntID string) (Progress, error)

	// AddBatches stores batches in one transaction: each (hunt, agent, seq)
	// at most once. stored[i] is false for a batch seen before or for a hunt
	// the agent is not assigned. Its Results are numbered as Result.Index
	// says.
	AddBatches(ctx context.Context, b []Batch) (stored []bool, err error)
	// Results returns matching rows in insertion order after f.After, and
	// the cursor of the last one.
	Results(ctx context.Context, huntID string, f ResultFilter) ([]Result, int64, error)
}

// AgentStatus is a wire.Status from an agent.
type AgentStatus struct {
	AgentID string
	Status  wire.Status
}
