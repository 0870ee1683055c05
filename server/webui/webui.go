// Package webui is the server's web UI: server-rendered html/template pages
// plus one small plain-JavaScript file, everything embedded in the binary
// (no npm build, no CDN: it works offline).
//
// The transparency log page (/log) is public, like the log itself: anyone
// may see what was ever searched, by whom and why. Every other page needs a
// login. Operators log in by pasting their API token; the UI keeps it in an
// in-memory session and sets only a random session ID as an HttpOnly,
// SameSite=Strict cookie. Every page re-authenticates the token through
// Backend.Authenticate, so a disabled operator is logged out at once.
//
// # Security
//
// Rule text, file paths, host names and labels come from operators and
// agents and are treated as hostile: everything goes through html/template
// escaping. Every state-changing request is a POST checked twice against
// cross-site request forgery: the per-session token in a hidden form field,
// and net/http's CrossOriginProtection (Sec-Fetch-Site / Origin). Every
// response carries a strict Content-Security-Policy (no inline script),
// X-Content-Type-Options nosniff, X-Frame-Options DENY and Referrer-Policy
// no-referrer. Tokens and secrets are never logged.
package webui

import (
	"bytes"
	"context"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"time"

	"vigil/server/api"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configures the UI.
type Options struct {
	Secure bool                             // cookies get the Secure flag (server runs TLS)
	Logf   func(format string, args ...any) // where server-side errors are logged; nil = discard
}

// Limits of the UI.
const (
	maxFormBytes   = 1 << 20          // request body of any form (rules are at most wire.MaxRulesSize)
	sessionTTL     = 12 * time.Hour   // a session ends this long after login
	maxSessions    = 10000            // the oldest sessions are dropped beyond this
	resultsPerPage = 100              // default rows of the results table
	maxResultsPage = 1000             // most rows a "limit" query may ask for
	backendTimeout = 30 * time.Second // of one page's backend calls (not exports)
)

// AgentStateDir is the state directory shown in the agent command line
// printed with a new enrollment token.
const AgentStateDir = "/var/lib/vigil-agent"

// contentSecurityPolicy allows only this origin's own scripts and styles.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// ui is the handler New returns.
type ui struct {
	b        Backend
	o        Options
	mux      *http.ServeMux
	pages    map[string]*template.Template
	sessions *sessions
	cop      *http.CrossOriginProtection
}

// New returns the UI's handler, to be mounted at "/".
func New(b Backend, o Options) http.Handler {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	u := &ui{
		b:        b,
		o:        o,
		mux:      http.NewServeMux(),
		pages:    parsePages(),
		sessions: newSessions(),
		cop:      http.NewCrossOriginProtection(),
	}
	u.routes()
	return u
}

// ServeHTTP sets the security headers and dispatches.
func (u *ui) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	u.mux.ServeHTTP(w, r)
}

func (u *ui) routes() {
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embedded directory exists at build time
	}
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	u.mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}))

	u.mux.HandleFunc("GET /login", u.loginPage)
	u.mux.HandleFunc("POST /login", u.login)
	u.mux.HandleFunc("POST /logout", u.logout)
	// GET /logout only asks: logging out changes state, so it is a POST.
	u.mux.Handle("GET /logout", u.page(func(w http.ResponseWriter, r *http.Request, q *request) {
		u.render(w, r, q, http.StatusOK, "logout.html", "Log out", "", nil)
	}))

	u.mux.Handle("GET /{$}", u.page(func(w http.ResponseWriter, r *http.Request, _ *request) {
		http.Redirect(w, r, "/hunts", http.StatusSeeOther)
	}))
	u.mux.Handle("GET /agents", u.page(u.agentsPage))
	u.mux.Handle("GET /tokens", u.page(u.tokensPage))
	u.mux.Handle("POST /tokens", u.form(u.createToken))
	u.mux.Handle("POST /tokens/{id}/revoke", u.form(u.revokeToken))
	u.mux.Handle("GET /hunts", u.page(u.huntsPage))
	u.mux.Handle("GET /hunts/new", u.page(u.newHuntPage))
	u.mux.Handle("POST /hunts/new", u.form(u.createHunt))
	u.mux.Handle("GET /hunts/{id}", u.page(u.huntPage))
	u.mux.Handle("GET /hunts/{id}/live", u.fragment(u.huntLive))
	u.mux.Handle("GET /hunts/{id}/export", u.download(u.export))
	u.mux.Handle("POST /hunts/{id}/cancel", u.form(u.cancelHunt))
	// The transparency log is public: anyone may audit what was searched.
	u.mux.Handle("GET /log", u.public(u.logPage))

	u.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		u.errorPage(w, r, nil, http.StatusNotFound, "No such page.")
	})
}

// request is what a handler gets. On a public page sess is nil (and op
// empty) unless the visitor is logged in.
type request struct {
	op   api.Operator
	sess *session
	ctx  context.Context
}

// handler is an authenticated page or form handler.
type handler func(w http.ResponseWriter, r *http.Request, q *request)

// authenticate returns the request's session and operator, or ok false
// after answering (redirect to /login, or 401 for fragments).
func (u *ui) authenticate(w http.ResponseWriter, r *http.Request, fragment bool) (*request, bool) {
	deny := func() {
		if fragment {
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "not logged in", http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	}
	sess := u.sessions.fromRequest(r)
	if sess == nil {
		deny()
		return nil, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), backendTimeout)
	op, err := u.b.Authenticate(ctx, sess.token)
	cancel()
	if err != nil {
		if api.Code(err) == http.StatusUnauthorized {
			u.sessions.delete(sess.id)
			clearCookie(w, sessionCookie, u.o.Secure)
			deny()
			return nil, false
		}
		u.fail(w, r, nil, err)
		return nil, false
	}
	return &request{op: op, sess: sess, ctx: r.Context()}, true
}

// wrap is the common part of the handler wrappers: authentication, a
// timeout on backend calls unless stream, no caching.
func (u *ui) wrap(h handler, fragment, stream bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, ok := u.authenticate(w, r, fragment)
		if !ok {
			return
		}
		if !stream {
			var cancel context.CancelFunc
			q.ctx, cancel = context.WithTimeout(q.ctx, backendTimeout)
			defer cancel()
		}
		w.Header().Set("Cache-Control", "no-store")
		h(w, r, q)
	})
}

// public wraps a GET handler of a page anyone may see. A logged-in visitor
// gets the usual navigation; a stale session is dropped, never an error.
func (u *ui) public(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := &request{ctx: r.Context()}
		if sess := u.sessions.fromRequest(r); sess != nil {
			ctx, cancel := context.WithTimeout(r.Context(), backendTimeout)
			op, err := u.b.Authenticate(ctx, sess.token)
			cancel()
			switch {
			case err == nil:
				q.op, q.sess = op, sess
			case api.Code(err) == http.StatusUnauthorized:
				u.sessions.delete(sess.id)
				clearCookie(w, sessionCookie, u.o.Secure)
			default:
				u.o.Logf("webui: %s %s: authenticating a session on a public page: %v", r.Method, r.URL.Path, err)
			}
		}
		var cancel context.CancelFunc
		q.ctx, cancel = context.WithTimeout(q.ctx, backendTimeout)
		defer cancel()
		w.Header().Set("Cache-Control", "no-store")
		h(w, r, q)
	})
}

// page wraps a GET handler that needs a logged-in operator.
func (u *ui) page(h handler) http.Handler { return u.wrap(h, false, false) }

// fragment wraps a GET handler of an HTML fragment fetched by script: it
// answers 401 instead of redirecting when not logged in.
func (u *ui) fragment(h handler) http.Handler { return u.wrap(h, true, false) }

// download wraps a GET handler that streams a download: its backend calls
// have no timeout but the request's.
func (u *ui) download(h handler) http.Handler { return u.wrap(h, false, true) }

// form wraps a state-changing POST handler: it checks the origin and the
// session's CSRF token before anything else, and parses the form.
func (u *ui) form(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := u.cop.Check(r); err != nil {
			u.errorPage(w, r, nil, http.StatusForbidden, "Cross-origin request refused.")
			return
		}
		u.wrap(func(w http.ResponseWriter, r *http.Request, q *request) {
			if !u.parseForm(w, r, q) {
				return
			}
			if !q.sess.checkCSRF(r.PostForm.Get("csrf")) {
				u.errorPage(w, r, q, http.StatusForbidden, "Invalid or missing CSRF token: reload the page and try again.")
				return
			}
			h(w, r, q)
		}, false, false).ServeHTTP(w, r)
	})
}

// parseForm reads a bounded form body; it answers and returns false on error.
func (u *ui) parseForm(w http.ResponseWriter, r *http.Request, q *request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		u.errorPage(w, r, q, http.StatusBadRequest, "Bad form: "+err.Error())
		return false
	}
	return true
}

// pageData is what every template gets.
type pageData struct {
	Title string
	Nav   string // "hunts", "agents", "tokens", "log" or ""
	Op    api.Operator
	CSRF  string
	Data  any
}

// render executes a page template into a buffer, then writes it.
func (u *ui) render(w http.ResponseWriter, r *http.Request, q *request, status int, page, title, nav string, data any) {
	pd := pageData{Title: title, Nav: nav, Data: data}
	if q != nil && q.sess != nil {
		pd.Op = q.op
		pd.CSRF = q.sess.csrf
	}
	u.execute(w, r, status, page, "layout", pd)
}

// execute runs one named template of a page set and writes the result.
func (u *ui) execute(w http.ResponseWriter, r *http.Request, status int, page, name string, data any) {
	t := u.pages[page]
	var buf bytes.Buffer
	if t == nil {
		u.o.Logf("webui: %s %s: no template %q", r.Method, r.URL.Path, page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		u.o.Logf("webui: %s %s: template %s: %v", r.Method, r.URL.Path, page, err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorData is the error page's data.
type errorData struct {
	Code    int
	Status  string
	Message string
}

// errorPage renders a plain page with a status code and message.
func (u *ui) errorPage(w http.ResponseWriter, r *http.Request, q *request, code int, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	u.render(w, r, q, code, "error.html", http.StatusText(code), "",
		errorData{Code: code, Status: http.StatusText(code), Message: msg})
}

// fail answers a backend error: 401 goes to the login page, the caller's
// errors (4xx) show their message, anything else is logged and shown as a
// generic 500.
func (u *ui) fail(w http.ResponseWriter, r *http.Request, q *request, err error) {
	code := api.Code(err)
	switch {
	case code == http.StatusUnauthorized:
		if q != nil && q.sess != nil {
			u.sessions.delete(q.sess.id)
		}
		clearCookie(w, sessionCookie, u.o.Secure)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	case code >= 400 && code < 500:
		u.errorPage(w, r, q, code, err.Error())
	default:
		u.o.Logf("webui: %s %s: %v", r.Method, r.URL.Path, err)
		u.errorPage(w, r, q, http.StatusInternalServerError, "Internal error; the server log has the details.")
	}
}
