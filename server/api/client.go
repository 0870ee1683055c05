package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"vigil/wire"
)

// Client calls the API of one server as one operator.
type Client struct {
	BaseURL string       // e.g. "http://127.0.0.1:7480"
	Token   string       // operator API token
	HTTP    *http.Client // nil = http.DefaultClient
}

// NewClient returns a client for the server at baseURL.
func NewClient(baseURL, token string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Token: token}
}

// maxResponse bounds a JSON response body the client reads.
const maxResponse = 64 << 20

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// do sends a request and returns the response when its status is 2xx, or
// the server's error message as a *StatusError.
func (c *Client) do(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e Error
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return nil, &StatusError{Code: resp.StatusCode, Msg: e.Error}
	}
	return nil, &StatusError{Code: resp.StatusCode, Msg: fmt.Sprintf("%s %s: %s", method, path, resp.Status)}
}

// call sends in (if not nil) and decodes the response into out (if not nil).
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.do(ctx, method, path, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
		return err
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(out); err != nil {
		return fmt.Errorf("%s %s: malformed response: %w", method, path, err)
	}
	return nil
}

func esc(id string) string { return url.PathEscape(id) }

// Health checks GET /healthz.
func (c *Client) Health(ctx context.Context) error { return c.call(ctx, "GET", "/healthz", nil, nil) }

// Whoami returns the operator the token belongs to.
func (c *Client) Whoami(ctx context.Context) (o Operator, err error) {
	return o, c.call(ctx, "GET", "/api/v1/whoami", nil, &o)
}

// Operators lists operators (admin).
func (c *Client) Operators(ctx context.Context) (o []Operator, err error) {
	return o, c.call(ctx, "GET", "/api/v1/operators", nil, &o)
}

// CreateOperator creates an operator (admin); the reply holds its token.
func (c *Client) CreateOperator(ctx context.Context, r OperatorRequest) (o OperatorCreated, err error) {
	return o, c.call(ctx, "POST", "/api/v1/operators", r, &o)
}

// Agents lists enrolled agents.
func (c *Client) Agents(ctx context.Context) (a []Agent, err error) {
	return a, c.call(ctx, "GET", "/api/v1/agents", nil, &a)
}

// Agent returns one agent.
func (c *Client) Agent(ctx context.Context, id string) (a Agent, err error) {
	return a, c.call(ctx, "GET", "/api/v1/agents/"+esc(id), nil, &a)
}

// Tokens lists enrollment tokens (admin).
func (c *Client) Tokens(ctx context.Context) (t []Token, err error) {
	return t, c.call(ctx, "GET", "/api/v1/tokens", nil, &t)
}

// CreateToken creates an enrollment token (admin); the reply holds its secret.
func (c *Client) CreateToken(ctx context.Context, r TokenRequest) (t TokenCreated, err error) {
	return t, c.call(ctx, "POST", "/api/v1/tokens", r, &t)
}

// RevokeToken revokes an enrollment token (admin).
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	return c.call(ctx, "DELETE", "/api/v1/tokens/"+esc(id), nil, nil)
}

// Hunts lists hunts, newest first.
func (c *Client) Hunts(ctx context.Context) (h []Hunt, err error) {
	return h, c.call(ctx, "GET", "/api/v1/hunts", nil, &h)
}

// CreateHunt creates a hunt.
func (c *Client) CreateHunt(ctx context.Context, r HuntRequest) (h Hunt, err error) {
	return h, c.call(ctx, "POST", "/api/v1/hunts", r, &h)
}

// Hunt returns one hunt with its rules and progress.
func (c *Client) Hunt(ctx context.Context, id string) (h Hunt, err error) {
	return h, c.call(ctx, "GET", "/api/v1/hunts/"+esc(id), nil, &h)
}

// CancelHunt cancels a hunt.
func (c *Client) CancelHunt(ctx context.Context, id string) (h Hunt, err error) {
	return h, c.call(ctx, "POST", "/api/v1/hunts/"+esc(id)+"/cancel", nil, &h)
}

// Assignments returns every agent's part of a hunt.
func (c *Client) Assignments(ctx context.Context, id string) (a []Assignment, err error) {
	return a, c.call(ctx, "GET", "/api/v1/hunts/"+esc(id)+"/agents", nil, &a)
}

// ResultQuery filters and pages results.
type ResultQuery struct {
	Agent, Rule, Path string
	After             int64
	Limit             int
}

// Results returns one page of a hunt's results.
func (c *Client) Results(ctx context.Context, id string, q ResultQuery) (p ResultPage, err error) {
	v := url.Values{}
	for k, s := range map[string]string{"agent": q.Agent, "rule": q.Rule, "path": q.Path} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.After != 0 {
		v.Set("after", strconv.FormatInt(q.After, 10))
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	path := "/api/v1/hunts/" + esc(id) + "/results"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	return p, c.call(ctx, "GET", path, nil, &p)
}

// Export copies every result of a hunt to w as "jsonl" or "csv".
func (c *Client) Export(ctx context.Context, id, format string, w io.Writer) error {
	resp, err := c.do(ctx, "GET", "/api/v1/hunts/"+esc(id)+"/export?format="+url.QueryEscape(format), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	return err
}

// Enroll enrolls an agent (the token in r authenticates; c.Token is not needed).
func (c *Client) Enroll(ctx context.Context, r wire.EnrollRequest) (e wire.EnrollReply, err error) {
	return e, c.call(ctx, "POST", "/api/v1/enroll", r, &e)
}

// ApproveHunt sends an approval made with translog.NewApproval.
func (c *Client) ApproveHunt(ctx context.Context, id string, r ApprovalRequest) (h Hunt, err error) {
	return h, c.call(ctx, "POST", "/api/v1/hunts/"+esc(id)+"/approve", r, &h)
}

// SetKey registers the caller's approval key.
func (c *Client) SetKey(ctx context.Context, r KeyRequest) (o Operator, err error) {
	return o, c.call(ctx, "PUT", "/api/v1/whoami/key", r, &o)
}

// LogKey returns the log's key, origin and witnesses.
func (c *Client) LogKey(ctx context.Context) (k LogKey, err error) {
	return k, c.call(ctx, "GET", "/api/v1/log/key", nil, &k)
}

// Checkpoint returns the latest signed checkpoint.
func (c *Client) Checkpoint(ctx context.Context) ([]byte, error) {
	resp, err := c.do(ctx, "GET", "/api/v1/log/checkpoint", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

// LogEntries returns up to count entries from start.
func (c *Client) LogEntries(ctx context.Context, start, count int64) (e []LogEntry, err error) {
	return e, c.call(ctx, "GET", fmt.Sprintf("/api/v1/log/entries?start=%d&count=%d", start, count), nil, &e)
}

// RecordProof proves entry index is in the tree of size.
func (c *Client) RecordProof(ctx context.Context, index, size int64) (p Proof, err error) {
	return p, c.call(ctx, "GET", fmt.Sprintf("/api/v1/log/proof/record?index=%d&size=%d", index, size), nil, &p)
}

// TreeProof proves the tree of size newSize extends the tree of size oldSize.
func (c *Client) TreeProof(ctx context.Context, oldSize, newSize int64) (p Proof, err error) {
	return p, c.call(ctx, "GET", fmt.Sprintf("/api/v1/log/proof/tree?old=%d&new=%d", oldSize, newSize), nil, &p)
}

// Cosign sends a checkpoint with a witness's cosignature added.
func (c *Client) Cosign(ctx context.Context, note []byte) error {
	req, err := http.NewRequestWithContext(ctx, "POST", c.BaseURL+"/api/v1/log/cosign", bytes.NewReader(note))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e Error
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return &StatusError{Code: resp.StatusCode, Msg: e.Error}
	}
	return &StatusError{Code: resp.StatusCode, Msg: "cosign: " + resp.Status}
}
