package webui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"

	"vigil/server/api"
)

// Cookie names.
const (
	sessionCookie = "vigil_session" // the session ID
	loginCookie   = "vigil_login"   // the login form's CSRF token (double submit)
)

// session is one logged-in browser. The API token stays on the server.
type session struct {
	id      string
	token   string // the operator's API token: never logged, never rendered
	csrf    string
	expires time.Time
}

// checkCSRF reports whether got is the session's CSRF token.
func (s *session) checkCSRF(got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) == 1
}

// sessions is the in-memory session table.
type sessions struct {
	mu  sync.Mutex
	m   map[string]*session
	max int // most sessions kept; maxSessions but in tests
}

func newSessions() *sessions { return &sessions{m: map[string]*session{}, max: maxSessions} }

// randomString returns 32 random bytes, base64url-encoded.
func randomString() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics on failure instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session for token.
func (ss *sessions) create(token string, now time.Time) *session {
	s := &session{id: randomString(), token: token, csrf: randomString(), expires: now.Add(sessionTTL)}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	// Expired sessions are dropped when they are next used, or here when
	// the table is full; then the oldest go.
	if len(ss.m) >= ss.max {
		for id, old := range ss.m {
			if !now.Before(old.expires) {
				delete(ss.m, id)
			}
		}
	}
	for len(ss.m) >= ss.max {
		var oldest *session
		for _, old := range ss.m {
			if oldest == nil || old.expires.Before(oldest.expires) {
				oldest = old
			}
		}
		delete(ss.m, oldest.id)
	}
	ss.m[s.id] = s
	return s
}

// fromRequest returns the live session named by r's cookie, or nil.
func (ss *sessions) fromRequest(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[c.Value]
	if s == nil {
		return nil
	}
	if !time.Now().Before(s.expires) {
		delete(ss.m, s.id)
		return nil
	}
	return s
}

func (ss *sessions) delete(id string) {
	ss.mu.Lock()
	delete(ss.m, id)
	ss.mu.Unlock()
}

func setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration, secure bool) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   int(maxAge / time.Second),
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteStrictMode,
	})
}

func clearCookie(w http.ResponseWriter, name string, secure bool) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteStrictMode,
	})
}

// loginData is the login page's data.
type loginData struct {
	LoginCSRF string
	Error     string
}

// loginPage shows the token form. Its CSRF token is a random value both in
// a cookie and in the form (there is no session yet).
func (u *ui) loginPage(w http.ResponseWriter, r *http.Request) {
	u.showLogin(w, r, http.StatusOK, "")
}

func (u *ui) showLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	tok := randomString()
	setCookie(w, loginCookie, tok, time.Hour, u.o.Secure)
	w.Header().Set("Cache-Control", "no-store")
	u.render(w, r, nil, status, "login.html", "Log in", "", loginData{LoginCSRF: tok, Error: msg})
}

// login checks the pasted token and starts a session.
func (u *ui) login(w http.ResponseWriter, r *http.Request) {
	if err := u.cop.Check(r); err != nil {
		u.errorPage(w, r, nil, http.StatusForbidden, "Cross-origin request refused.")
		return
	}
	if !u.parseForm(w, r, nil) {
		return
	}
	c, err := r.Cookie(loginCookie)
	got := r.PostForm.Get("csrf")
	if err != nil || c.Value == "" || got == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(got)) != 1 {
		u.showLogin(w, r, http.StatusForbidden, "The login form expired: please try again.")
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if token == "" {
		u.showLogin(w, r, http.StatusBadRequest, "Paste your API token.")
		return
	}
	if _, err := u.b.Authenticate(r.Context(), token); err != nil {
		if api.Code(err) == http.StatusUnauthorized {
			u.showLogin(w, r, http.StatusUnauthorized, "Unknown or disabled token.")
			return
		}
		u.fail(w, r, nil, err)
		return
	}
	if old := u.sessions.fromRequest(r); old != nil {
		u.sessions.delete(old.id)
	}
	s := u.sessions.create(token, time.Now())
	clearCookie(w, loginCookie, u.o.Secure)
	setCookie(w, sessionCookie, s.id, sessionTTL, u.o.Secure)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout ends the session. It is a POST with the session's CSRF token.
func (u *ui) logout(w http.ResponseWriter, r *http.Request) {
	if err := u.cop.Check(r); err != nil {
		u.errorPage(w, r, nil, http.StatusForbidden, "Cross-origin request refused.")
		return
	}
	s := u.sessions.fromRequest(r)
	if s == nil {
		clearCookie(w, sessionCookie, u.o.Secure)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	if !u.parseForm(w, r, nil) {
		return
	}
	if !s.checkCSRF(r.PostForm.Get("csrf")) {
		u.errorPage(w, r, nil, http.StatusForbidden, "Invalid or missing CSRF token: reload the page and try again.")
		return
	}
	u.sessions.delete(s.id)
	clearCookie(w, sessionCookie, u.o.Secure)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
