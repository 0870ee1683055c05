package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"
	"unicode"

	"github.com/nats-io/nkeys"

	"vigil/wire"
)

// EnrollPath is the server's enrollment route.
const EnrollPath = "/api/v1/enroll"

const (
	// enrollTimeout bounds one enrollment request when Options.HTTPClient
	// is nil.
	enrollTimeout = 30 * time.Second
	// maxReply bounds the enrollment reply read.
	maxReply = 1 << 20
	// maxServerMsg bounds a server error message quoted in an error.
	maxServerMsg = 512
)

// EnrollError is an enrollment the server refused: the HTTP status and the
// server's message. A 4xx refusal will not succeed by retrying.
type EnrollError struct {
	Status  int
	Message string
}

// Error says what the server said, with its HTTP status.
func (e *EnrollError) Error() string {
	return fmt.Sprintf("enroll: server said %d: %s", e.Status, e.Message)
}

// Permanent reports whether retrying cannot help (a 4xx status).
func (e *EnrollError) Permanent() bool { return e.Status >= 400 && e.Status < 500 }

// Enrolled reports whether the agent has an identity.
func (a *Agent) Enrolled() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.id != nil
}

// ID returns the agent's ID, "" before enrollment.
func (a *Agent) ID() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.id == nil {
		return ""
	}
	return a.id.AgentID
}

// Enroll makes an nkey user key pair, posts a wire.EnrollRequest with
// Options.Token to {Server}/api/v1/enroll and saves the identity the server
// answers with. It fails if the agent is already enrolled. A refusal is an
// *EnrollError carrying the server's message; the token never appears in
// an error.
func (a *Agent) Enroll(ctx context.Context) error {
	a.enrollMu.Lock()
	defer a.enrollMu.Unlock()
	if a.Enrolled() {
		return fmt.Errorf("enroll: already enrolled as %s (remove %s to enroll again)", a.ID(), a.o.StateDir)
	}
	a.mu.Lock()
	token := a.o.Token
	a.mu.Unlock()
	if token == "" {
		return errors.New("enroll: no enrollment token")
	}
	base, err := url.Parse(strings.TrimRight(a.o.Server, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fmt.Errorf("enroll: server URL %q: want http(s)://host[:port]", a.o.Server)
	}
	if base.Scheme == "http" && !isLoopback(base.Hostname()) {
		a.logf("warning: enrolling over plain HTTP with %s: the token is not protected in transit", base.Host)
	}

	kp, err := nkeys.CreateUser()
	if err != nil {
		return fmt.Errorf("enroll: making a key pair: %w", err)
	}
	defer kp.Wipe()
	pub, err := kp.PublicKey()
	if err != nil {
		return fmt.Errorf("enroll: %w", err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return fmt.Errorf("enroll: %w", err)
	}
	hostname, _ := os.Hostname()
	body, err := json.Marshal(wire.EnrollRequest{
		Token:     token,
		PublicKey: pub,
		Hostname:  hostname,
		OS:        runtime.GOOS,
		Arch:      runtime.GOARCH,
		Version:   a.o.Version,
		Labels:    a.o.Labels,
	})
	if err != nil {
		return fmt.Errorf("enroll: %w", err)
	}
	endpoint := base.JoinPath(EnrollPath).String()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("enroll: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	client := a.o.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: enrollTimeout}
	}
	resp, err := client.Do(req)
	if err != nil {
		// url.Error quotes the URL, which holds no secret.
		return fmt.Errorf("enroll: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReply+1))
	if err != nil {
		return fmt.Errorf("enroll: reading the reply: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return &EnrollError{Status: resp.StatusCode, Message: serverMessage(resp.StatusCode, data, token)}
	}
	if len(data) > maxReply {
		return fmt.Errorf("enroll: reply larger than %d bytes", maxReply)
	}
	var reply wire.EnrollReply
	if err := json.Unmarshal(data, &reply); err != nil {
		return fmt.Errorf("enroll: malformed reply from %s: %v", endpoint, err)
	}
	if reply.Prefix == "" {
		reply.Prefix = wire.Prefix
	}
	id := &identity{
		AgentID:  reply.AgentID,
		Seed:     string(seed),
		NATS:     reply.NATS,
		Prefix:   reply.Prefix,
		Server:   base.String(),
		Labels:   reply.Labels,
		NATSAuth: reply.NATSAuth,
	}
	if err := id.check(); err != nil {
		return fmt.Errorf("enroll: unusable reply from %s: %w", endpoint, err)
	}
	if err := saveIdentity(a.o.StateDir, id); err != nil {
		return fmt.Errorf("enroll: %w", err)
	}
	a.mu.Lock()
	a.id = id
	a.o.Token = "" // used once, never kept
	a.mu.Unlock()
	a.logf("enrolled as agent %s (NATS %s, prefix %s)", id.AgentID, redactURLs(id.NATS), id.Prefix)
	a.writeTOFUPolicy(&reply, base.Redacted())
	return nil
}

// serverMessage extracts the message of an error reply: the "error" field
// of a JSON body, else the HTTP status text. It is cut short, stripped of
// control characters and never contains the token.
func serverMessage(code int, body []byte, token string) string {
	var e struct {
		Error string `json:"error"`
	}
	msg := ""
	if json.Unmarshal(body, &e) == nil {
		msg = e.Error
	}
	if msg == "" {
		msg = http.StatusText(code)
	}
	if msg == "" {
		msg = "no message"
	}
	if token != "" {
		msg = strings.ReplaceAll(msg, token, "[token]")
	}
	msg = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, msg)
	return truncate(msg, maxServerMsg)
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// redactURLs joins URLs for a log line, with any password replaced.
func redactURLs(urls []string) string {
	out := make([]string, len(urls))
	for i, u := range urls {
		if p, err := url.Parse(u); err == nil {
			out[i] = p.Redacted()
		} else {
			out[i] = "(unparsable URL)"
		}
	}
	return strings.Join(out, ",")
}
