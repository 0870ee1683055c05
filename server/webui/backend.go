package webui

import (
	"context"
	"io"

	"vigil/server/api"
	"vigil/server/store"
)

// Backend is what the UI needs from the server: the same service methods
// the HTTP API calls. Methods that act for an operator check its role and
// return an *api.StatusError for anything the operator did wrong (400, 403,
// 404, 409); other errors are the server's (500).
type Backend interface {
	// Authenticate returns the operator holding this API token, or an
	// *api.StatusError with code 401.
	Authenticate(ctx context.Context, token string) (api.Operator, error)

	Agents(ctx context.Context, by api.Operator) ([]api.Agent, error)
	Tokens(ctx context.Context, by api.Operator) ([]api.Token, error)
	CreateToken(ctx context.Context, by api.Operator, r api.TokenRequest) (api.TokenCreated, error)
	RevokeToken(ctx context.Context, by api.Operator, id string) error

	Hunts(ctx context.Context, by api.Operator) ([]api.Hunt, error) // newest first, with Progress
	Hunt(ctx context.Context, by api.Operator, id string) (api.Hunt, error)
	CreateHunt(ctx context.Context, by api.Operator, r api.HuntRequest) (api.Hunt, error)
	CancelHunt(ctx context.Context, by api.Operator, id string) (api.Hunt, error)
	Assignments(ctx context.Context, by api.Operator, id string) ([]api.Assignment, error)
	Results(ctx context.Context, by api.Operator, id string, f store.ResultFilter) (api.ResultPage, error)
	// Export writes every result of the hunt as "jsonl" or "csv".
	Export(ctx context.Context, by api.Operator, id, format string, w io.Writer) error

	// The transparency log (public: no operator needed).
	LogKey(ctx context.Context) (api.LogKey, error)
	Checkpoint(ctx context.Context) ([]byte, error)
	LogEntries(ctx context.Context, start, count int64) ([]api.LogEntry, error)
}
