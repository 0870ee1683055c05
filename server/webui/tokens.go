package webui

import (
	"net/http"
	"strconv"
	"strings"

	"vigil/server/api"
	"vigil/wire"
)

// agentsPage lists the enrolled agents.
func (u *ui) agentsPage(w http.ResponseWriter, r *http.Request, q *request) {
	agents, err := u.b.Agents(q.ctx, q.op)
	if err != nil {
		u.fail(w, r, q, err)
		return
	}
	u.render(w, r, q, http.StatusOK, "agents.html", "Agents", "agents", agents)
}

// tokenForm is the create-token form as entered.
type tokenForm struct {
	Labels      string
	MaxUses     string
	ExpiresIn   string
	Description string
}

// request turns the form into an API request.
func (f tokenForm) request() (api.TokenRequest, error) {
	req := api.TokenRequest{ExpiresIn: strings.TrimSpace(f.ExpiresIn), Description: strings.TrimSpace(f.Description)}
	if s := strings.TrimSpace(f.Labels); s != "" {
		sel, err := wire.ParseSelector(s)
		if err != nil {
			return req, api.Errorf(http.StatusBadRequest, "labels: %v", err)
		}
		req.Labels = sel
	}
	if s := strings.TrimSpace(f.MaxUses); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return req, api.Errorf(http.StatusBadRequest, "max uses: want a whole number ≥ 0 (0 = unlimited), not %q", s)
		}
		req.MaxUses = n
	}
	return req, nil
}

// tokensData is the tokens page's data.
type tokensData struct {
	Tokens  []api.Token
	Form    tokenForm
	Error   string
	Created *api.TokenCreated // set right after creation: the secret is shown once
	Command string            // the agent command line with the secret
}

// tokensPage lists enrollment tokens with the create form.
func (u *ui) tokensPage(w http.ResponseWriter, r *http.Request, q *request) {
	u.showTokens(w, r, q, http.StatusOK, tokensData{Form: tokenForm{ExpiresIn: "168h"}})
}

func (u *ui) showTokens(w http.ResponseWriter, r *http.Request, q *request, status int, d tokensData) {
	tokens, err := u.b.Tokens(q.ctx, q.op)
	if err != nil {
		u.fail(w, r, q, err)
		return
	}
	d.Tokens = tokens
	u.render(w, r, q, status, "tokens.html", "Enrollment tokens", "tokens", d)
}

// createToken creates a token and shows its secret once.
func (u *ui) createToken(w http.ResponseWriter, r *http.Request, q *request) {
	f := tokenForm{
		Labels:      r.PostForm.Get("labels"),
		MaxUses:     r.PostForm.Get("max_uses"),
		ExpiresIn:   r.PostForm.Get("expires_in"),
		Description: r.PostForm.Get("description"),
	}
	req, err := f.request()
	var created api.TokenCreated
	if err == nil {
		created, err = u.b.CreateToken(q.ctx, q.op, req)
	}
	if err != nil {
		if c := api.Code(err); c == http.StatusBadRequest || c == http.StatusConflict {
			u.showTokens(w, r, q, c, tokensData{Form: f, Error: err.Error()})
			return
		}
		u.fail(w, r, q, err)
		return
	}
	cmd := "vigil agent --server " + shellQuote(serverURL(r, u.o.Secure)) +
		" --token " + shellQuote(created.Secret) + " --state " + AgentStateDir
	u.showTokens(w, r, q, http.StatusOK, tokensData{Form: tokenForm{ExpiresIn: "168h"}, Created: &created, Command: cmd})
}

// revokeToken revokes a token and goes back to the list.
func (u *ui) revokeToken(w http.ResponseWriter, r *http.Request, q *request) {
	id := r.PathValue("id")
	if wire.ValidID(id) != nil {
		u.errorPage(w, r, q, http.StatusNotFound, "No such token.")
		return
	}
	if err := u.b.RevokeToken(q.ctx, q.op, id); err != nil {
		u.fail(w, r, q, err)
		return
	}
	http.Redirect(w, r, "/tokens", http.StatusSeeOther)
}

// serverURL is the URL the browser used to reach this server.
func serverURL(r *http.Request, secure bool) string {
	scheme := "http"
	if r.TLS != nil || secure {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// shellQuote quotes s for a POSIX shell when it holds anything but
// characters that are safe unquoted.
func shellQuote(s string) string {
	safe := s != ""
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./:=@+,%", c)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
