package webui

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/server/api"
	"vigil/server/store"
)

// env is a UI on a test server with a fake backend.
type env struct {
	t    *testing.T
	fb   *fakeBackend
	srv  *httptest.Server
	logs *logBuf
}

type logBuf struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuf) logf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func newEnv(t *testing.T, o Options) *env {
	t.Helper()
	e := &env{t: t, fb: newFakeBackend(), logs: &logBuf{}}
	o.Logf = e.logs.logf
	e.srv = httptest.NewServer(New(e.fb, o))
	t.Cleanup(func() {
		e.srv.Close()
		e.fb.close()
		for _, tok := range []string{adminToken, viewerToken} {
			if strings.Contains(e.logs.String(), tok) {
				t.Errorf("a log line holds an API token: %s", e.logs.String())
			}
		}
	})
	return e
}

// client is a browser-like client that does not follow redirects.
type client struct {
	e    *env
	c    *http.Client
	csrf string
}

func (e *env) client() *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &client{e: e, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}}
}

type resp struct {
	code int
	hdr  http.Header
	body string
}

func (c *client) do(req *http.Request) resp {
	c.e.t.Helper()
	r, err := c.c.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	return resp{r.StatusCode, r.Header, string(b)}
}

func (c *client) get(p string) resp {
	c.e.t.Helper()
	req, err := http.NewRequest("GET", c.e.srv.URL+p, nil)
	if err != nil {
		c.e.t.Fatal(err)
	}
	return c.do(req)
}

// post sends a form; hdr adds request headers.
func (c *client) post(p string, form url.Values, hdr ...string) resp {
	c.e.t.Helper()
	req, err := http.NewRequest("POST", c.e.srv.URL+p, strings.NewReader(form.Encode()))
	if err != nil {
		c.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return c.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(body string) string {
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// login logs in with token and remembers the session's CSRF token.
func (e *env) login(token string) *client {
	e.t.Helper()
	c := e.client()
	r := c.get("/login")
	if r.code != 200 {
		e.t.Fatalf("GET /login: %d", r.code)
	}
	r = c.post("/login", url.Values{"csrf": {csrfOf(r.body)}, "token": {token}})
	if r.code != http.StatusSeeOther || r.hdr.Get("Location") != "/" {
		e.t.Fatalf("POST /login: %d %q\n%s", r.code, r.hdr.Get("Location"), r.body)
	}
	r = c.get("/hunts")
	if r.code != 200 {
		e.t.Fatalf("GET /hunts after login: %d", r.code)
	}
	c.csrf = csrfOf(r.body)
	if c.csrf == "" {
		e.t.Fatal("no CSRF token on /hunts")
	}
	return c
}

func wantContains(t *testing.T, what, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Errorf("%s: missing %q", what, s)
		}
	}
}

func wantRedirect(t *testing.T, what string, r resp, to string) {
	t.Helper()
	if r.code != http.StatusSeeOther || r.hdr.Get("Location") != to {
		t.Errorf("%s: got %d Location %q, want 303 to %s", what, r.code, r.hdr.Get("Location"), to)
	}
}

func TestLoginLogout(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("secure=%v", secure), func(t *testing.T) {
			e := newEnv(t, Options{Secure: secure})
			c := e.client()
			r := c.get("/login")
			wantContains(t, "login page", r.body, `id="token"`, `id="login-submit"`)
			lcsrf := csrfOf(r.body)

			// A wrong token: 401, the form again, no session.
			r = c.post("/login", url.Values{"csrf": {lcsrf}, "token": {"vgo_wrong"}})
			if r.code != http.StatusUnauthorized || !strings.Contains(r.body, `id="login-error"`) {
				t.Fatalf("wrong token: %d\n%s", r.code, r.body)
			}
			if strings.Contains(r.body, "vgo_wrong") {
				t.Error("the login page echoes the token")
			}
			wantRedirect(t, "/hunts without session", c.get("/hunts"), "/login")

			// A missing login CSRF token is refused.
			r = c.post("/login", url.Values{"token": {adminToken}})
			if r.code != http.StatusForbidden {
				t.Errorf("login without form token: %d, want 403", r.code)
			}

			r = c.get("/login")
			req, _ := http.NewRequest("POST", e.srv.URL+"/login",
				strings.NewReader(url.Values{"csrf": {csrfOf(r.body)}, "token": {" " + adminToken + "\n"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			hr, err := c.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			hr.Body.Close()
			if hr.StatusCode != http.StatusSeeOther || hr.Header.Get("Location") != "/" {
				t.Fatalf("login: %d %q", hr.StatusCode, hr.Header.Get("Location"))
			}
			var sess *http.Cookie
			for _, ck := range hr.Cookies() {
				if ck.Name == sessionCookie {
					sess = ck
				}
			}
			if sess == nil {
				t.Fatal("no session cookie")
			}
			if !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode || sess.Secure != secure || sess.Path != "/" {
				t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Secure=%v, Path=/", sess, secure)
			}
			if strings.Contains(sess.Value, adminToken) {
				t.Error("the cookie holds the API token")
			}
			if secure {
				return // the cookie jar does not send Secure cookies over http
			}

			wantRedirect(t, "GET /", c.get("/"), "/hunts")
			r = c.get("/hunts")
			wantContains(t, "/hunts", r.body, `id="operator-name"`, ">alice<", `id="logout"`)
			c.csrf = csrfOf(r.body)

			// Logout needs the CSRF token.
			if r := c.post("/logout", url.Values{}); r.code != http.StatusForbidden {
				t.Errorf("logout without CSRF token: %d, want 403", r.code)
			}
			// GET /logout only shows a button.
			r = c.get("/logout")
			wantContains(t, "GET /logout", r.body, `id="logout-confirm"`)
			if r := c.get("/hunts"); r.code != 200 {
				t.Fatalf("GET /logout logged out: %d", r.code)
			}
			wantRedirect(t, "logout", c.post("/logout", url.Values{"csrf": {c.csrf}}), "/login")
			wantRedirect(t, "/hunts after logout", c.get("/hunts"), "/login")

			// The old session ID is dead even if a client still sends it.
			old := e.client()
			u, _ := url.Parse(e.srv.URL)
			old.c.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: sess.Value}})
			wantRedirect(t, "/hunts with a logged-out session", old.get("/hunts"), "/login")
		})
	}
}

func TestUnauthenticated(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.client()
	for _, p := range []string{"/", "/agents", "/hunts", "/hunts/new", "/hunts/h-webshells", "/tokens", "/logout",
		"/hunts/h-webshells/export?format=csv"} {
		wantRedirect(t, p, c.get(p), "/login")
	}
	for _, p := range []string{"/hunts/new", "/hunts/h-webshells/cancel", "/tokens", "/tokens/t-berlin/revoke"} {
		wantRedirect(t, "POST "+p, c.post(p, url.Values{"csrf": {"x"}}), "/login")
	}
	if r := c.get("/hunts/h-webshells/live"); r.code != http.StatusUnauthorized {
		t.Errorf("live fragment without session: %d, want 401", r.code)
	}
	// A forged session cookie does not help.
	u, _ := url.Parse(e.srv.URL)
	c.c.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: "forged"}})
	wantRedirect(t, "forged cookie", c.get("/hunts"), "/login")
	// Static files need no login.
	for _, p := range []string{"/static/vigil.css", "/static/vigil.js"} {
		if r := c.get(p); r.code != 200 || len(r.body) < 100 {
			t.Errorf("%s: %d, %d bytes", p, r.code, len(r.body))
		}
	}
	if r := c.get("/static/vigil.js"); !strings.Contains(r.hdr.Get("Content-Type"), "javascript") {
		t.Errorf("vigil.js content type %q", r.hdr.Get("Content-Type"))
	}
	if r := c.get("/nonexistent"); r.code != http.StatusNotFound {
		t.Errorf("/nonexistent: %d", r.code)
	}
	e.fb.mu.Lock()
	if e.fb.filterCalls != 0 || e.fb.lastHuntReq != nil || len(e.fb.canceled)+len(e.fb.revoked) != 0 {
		t.Error("the backend was used without a session")
	}
	e.fb.mu.Unlock()
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.login(adminToken)
	for _, p := range []string{"/login", "/hunts", "/hunts/h-webshells", "/static/vigil.css", "/nonexistent", "/hunts/h-nope"} {
		r := c.get(p)
		csp := r.hdr.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", p, csp)
		}
		for h, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
			if got := r.hdr.Get(h); got != v {
				t.Errorf("%s: %s = %q, want %q", p, h, got, v)
			}
		}
		// No inline script anywhere: every <script> has a src.
		if i := strings.Index(r.body, "<script>"); i >= 0 {
			t.Errorf("%s: inline <script> at %d", p, i)
		}
	}
	if r := c.get("/hunts"); r.hdr.Get("Cache-Control") != "no-store" {
		t.Errorf("/hunts Cache-Control %q", r.hdr.Get("Cache-Control"))
	}
}

func TestPages(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.login(adminToken)
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/agents", []string{`id="agents-table"`, `class="agent-row" data-agent-id="a-web01"`, "web-01.berlin.example",
			"linux/arm64", "0.3.9", "os=linux, role=web, site=berlin", ">online<", ">offline<", "2026-11-25 19:59:40Z"}},
		{"/hunts", []string{`id="hunts-table"`, `data-hunt-id="h-webshells"`, `href="/hunts/h-webshells"`, "webshells",
			`id="new-hunt"`, "INC-2211: PHP webshell dropped on a Berlin web server", ">alice<",
			`<td class="hunt-progress">2/2</td>`, `<td class="hunt-results">2</td>`, "os=linux", "running"}},
		{"/hunts/new", []string{`id="hunt-form"`, `name="rules"`, `name="paths"`, `name="why"`, `name="archives"`,
			`name="max_file_size"`, `name="per_file_timeout"`, `name="expires_in"`, `value="24h"`, `name="exclude"`, `name="target"`}},
		{"/hunts/h-webshells", []string{`id="hunt-rules"`, "rule php_webshell : web {", "eval(base64_decode(",
			`id="hunt-why"`, "INC-2211", `id="hunt-target"`, "os=linux", "/var/www", "*.log", "64.0 MiB", "30s",
			`<span id="progress-done">2</span>/<span id="progress-agents">2</span>`, `id="progress-results">2<`,
			`id="progress-files">4600<`, `id="assignments-table"`, `class="assignment-row" data-agent-id="a-db01" data-state="done"`,
			`id="results-table"`, `class="result-row"`, "/var/www/html/uploads/shell.php", "$a@17,230 (2)",
			`id="export-jsonl"`, `href="/hunts/h-webshells/export?format=csv"`, `id="cancel-hunt"`, `data-refresh="false"`,
			`data-all-done="true"`, `id="results-filter"`}},
		{"/tokens", []string{`id="tokens-table"`, `data-token-id="t-berlin"`, "Berlin servers", "site=berlin", "2/10",
			">revoked<", `id="token-form"`, `action="/tokens/t-berlin/revoke"`}},
	} {
		r := c.get(tc.path)
		if r.code != 200 {
			t.Errorf("%s: %d\n%s", tc.path, r.code, r.body)
			continue
		}
		wantContains(t, tc.path, r.body, tc.want...)
		wantContains(t, tc.path, r.body, `href="/static/vigil.css"`, `id="nav-hunts"`, `id="nav-agents"`, `id="nav-tokens"`)
	}
	// The revoked token has no revoke button.
	if r := c.get("/tokens"); strings.Contains(r.body, "/tokens/t-old/revoke") {
		t.Error("a revoked token has a revoke button")
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.login(adminToken)
	form := func(csrf string) url.Values {
		v := url.Values{"rules": {"rule a { condition: true }"}, "paths": {"/tmp"}, "why": {"test"}}
		if csrf != "" {
			v.Set("csrf", csrf)
		}
		return v
	}
	for _, tc := range []struct {
		name string
		form url.Values
		hdr  []string
	}{
		{"no token", form(""), nil},
		{"wrong token", form("AAAA" + c.csrf[4:]), nil},
		{"cross-origin Origin", form(c.csrf), []string{"Origin", "https://evil.example"}},
		{"cross-site fetch", form(c.csrf), []string{"Sec-Fetch-Site", "cross-site"}},
	} {
		r := c.post("/hunts/new", tc.form, tc.hdr...)
		if r.code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", tc.name, r.code)
		}
	}
	e.fb.mu.Lock()
	if e.fb.lastHuntReq != nil {
		t.Error("a refused request reached CreateHunt")
	}
	e.fb.mu.Unlock()
	// Also for cancel, token creation and revocation.
	for _, p := range []string{"/hunts/h-webshells/cancel", "/tokens", "/tokens/t-berlin/revoke"} {
		if r := c.post(p, url.Values{}); r.code != http.StatusForbidden {
			t.Errorf("POST %s without CSRF token: %d", p, r.code)
		}
		if r := c.post(p, url.Values{"csrf": {c.csrf}}, "Origin", "http://evil.example"); r.code != http.StatusForbidden {
			t.Errorf("POST %s cross-origin: %d", p, r.code)
		}
	}
	e.fb.mu.Lock()
	if len(e.fb.canceled) != 0 || len(e.fb.revoked) != 0 {
		t.Errorf("refused requests acted: canceled %v revoked %v", e.fb.canceled, e.fb.revoked)
	}
	e.fb.mu.Unlock()
	// A cross-origin login is refused too.
	lc := e.client()
	r := lc.get("/login")
	if r := lc.post("/login", url.Values{"csrf": {csrfOf(r.body)}, "token": {adminToken}}, "Origin", "https://evil.example"); r.code != http.StatusForbidden {
		t.Errorf("cross-origin login: %d", r.code)
	}
	// The same request, same-origin and with the token, goes through.
	r = c.post("/hunts/new", form(c.csrf), "Origin", e.srv.URL, "Sec-Fetch-Site", "same-origin")
	if r.code != http.StatusSeeOther || !strings.HasPrefix(r.hdr.Get("Location"), "/hunts/h-") {
		t.Errorf("valid POST: %d %q\n%s", r.code, r.hdr.Get("Location"), r.body)
	}
	// One session's token is no good for another session.
	other := e.login(adminToken)
	if r := other.post("/hunts/new", form(c.csrf)); r.code != http.StatusForbidden {
		t.Errorf("another session's CSRF token: %d", r.code)
	}
}

func TestXSS(t *testing.T) {
	e := newEnv(t, Options{})
	e.fb.mu.Lock()
	e.fb.agents[0].Hostname = `<b>host</b>`
	e.fb.agents[0].Labels["x"] = `"><script>alert(3)</script>`
	h := e.fb.hunts[0]
	h.hunt.Rules = "rule x { strings: $a = \"</pre><script>alert(4)</script>\" condition: $a }"
	h.hunt.Why = `<img src=x onerror=alert(5)>`
	h.assignments[0].Error = `<script>alert(6)</script>`
	e.fb.mu.Unlock()
	c := e.login(adminToken)
	for _, p := range []string{"/hunts/h-webshells", "/hunts/h-webshells/live", "/agents", "/hunts"} {
		r := c.get(p)
		if r.code != 200 {
			t.Fatalf("%s: %d", p, r.code)
		}
		for _, bad := range []string{"<script>alert", "<img src=x", "<b>host</b>", `"><script`} {
			if strings.Contains(r.body, bad) {
				t.Errorf("%s: unescaped %q", p, bad)
			}
		}
	}
	r := c.get("/hunts/h-webshells")
	wantContains(t, "hunt page", r.body, "/tmp/&lt;script&gt;alert(1)&lt;/script&gt;.php",
		"&lt;/pre&gt;&lt;script&gt;alert(4)&lt;/script&gt;", "&lt;img src=x onerror=alert(5)&gt;", "&lt;script&gt;alert(6)&lt;/script&gt;")
	wantContains(t, "agents page", c.get("/agents").body, "&lt;b&gt;host&lt;/b&gt;")
}

func TestCreateHunt(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.login(adminToken)
	form := url.Values{
		"csrf":             {c.csrf},
		"name":             {"ransom notes"},
		"rules":            {"rule note {\r\n  strings: $a = \"YOUR FILES\"\r\n  condition: $a\r\n}\r\n"},
		"target":           {"site=berlin"},
		"paths":            {"/home\r\n\r\n  /srv/share  \r\n"},
		"exclude":          {"*.iso\r\n*.vmdk"},
		"expires_in":       {"6h"},
		"max_file_size":    {"10M"},
		"per_file_timeout": {"45s"},
		"archives":         {"1"},
		"why":              {"INC-2300 ransomware triage"},
	}
	r := c.post("/hunts/new", form)
	if r.code != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", r.code, r.body)
	}
	loc := r.hdr.Get("Location")
	e.fb.mu.Lock()
	got := *e.fb.lastHuntReq
	e.fb.mu.Unlock()
	want := api.HuntRequest{Name: "ransom notes", Rules: "rule note {\n  strings: $a = \"YOUR FILES\"\n  condition: $a\n}\n",
		Target: "site=berlin", Paths: []string{"/home", "/srv/share"}, Exclude: []string{"*.iso", "*.vmdk"}, ExpiresIn: "6h",
		Why: "INC-2300 ransomware triage"}
	want.Limits.MaxFileSize = 10 << 20
	want.Limits.PerFileTimeout = 45 * time.Second
	want.Limits.Archives = true
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Errorf("HuntRequest\n got %s\nwant %s", gj, wj)
	}
	r = c.get(loc)
	wantContains(t, loc, r.body, "ransom notes", "INC-2300 ransomware triage", "/srv/share", "site=berlin",
		`data-refresh="true"`, `<span id="progress-done">0</span>/<span id="progress-agents">2</span>`, `id="results-empty"`)
	// The new hunt is first in the list.
	hr := c.get("/hunts")
	if i, j := strings.Index(hr.body, "ransom notes"), strings.Index(hr.body, "h-webshells"); i < 0 || j < 0 || i > j {
		t.Errorf("new hunt not listed first (%d, %d)", i, j)
	}
}

func TestCreateHuntErrors(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.login(adminToken)
	base := func() url.Values {
		return url.Values{"csrf": {c.csrf}, "name": {"keepme"}, "rules": {"rule a {\n condition:\n BROKEN\n}"},
			"paths": {"/var/www\n/opt/<app>"}, "target": {"os=linux"}, "exclude": {"*.log"}, "expires_in": {"3h"},
			"max_file_size": {"5M"}, "per_file_timeout": {"9s"}, "archives": {"1"}, "why": {"why & <because>"}}
	}
	r := c.post("/hunts/new", base())
	if r.code != http.StatusBadRequest {
		t.Fatalf("broken rules: %d", r.code)
	}
	wantContains(t, "form error", r.body, `id="form-error"`, "rules:3:5: syntax error, unexpected identifier BROKEN",
		`value="keepme"`, "rule a {\n condition:\n BROKEN\n}</textarea>", "/var/www\n/opt/&lt;app&gt;</textarea>",
		`value="os=linux"`, "*.log</textarea>", `value="3h"`, `value="5M"`, `value="9s"`,
		`id="hunt-archives" value="1" checked`, "why &amp; &lt;because&gt;</textarea>", `id="hunt-form"`)

	// The UI's own checks keep the values too.
	f := base()
	f.Set("rules", "rule ok { condition: true }")
	f.Set("max_file_size", "lots")
	r = c.post("/hunts/new", f)
	if r.code != http.StatusBadRequest {
		t.Fatalf("bad size: %d", r.code)
	}
	wantContains(t, "bad size", r.body, "max file size", `value="lots"`, `value="keepme"`)
	f.Set("max_file_size", "")
	f.Set("per_file_timeout", "soon")
	wantContains(t, "bad timeout", c.post("/hunts/new", f).body, "per-file timeout", `value="soon"`)

	// A viewer may not create hunts: a 403 page, not the form.
	v := e.login(viewerToken)
	if r := v.get("/hunts"); strings.Contains(r.body, `id="new-hunt"`) {
		t.Error("a viewer gets the New hunt button")
	}
	f = base()
	f.Set("csrf", v.csrf)
	f.Set("rules", "rule ok { condition: true }")
	r = v.post("/hunts/new", f)
	if r.code != http.StatusForbidden {
		t.Fatalf("viewer: %d", r.code)
	}
	wantContains(t, "viewer", r.body, `id="error-code"`, "403", "victor (viewer) may not create hunts")
}

func TestResultFilter(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.login(adminToken)
	lastFilter := func() store.ResultFilter {
		e.fb.mu.Lock()
		defer e.fb.mu.Unlock()
		return e.fb.lastFilter
	}
	r := c.get("/hunts/h-webshells")
	if got, want := lastFilter(), (store.ResultFilter{Limit: resultsPerPage}); got != want {
		t.Errorf("default filter %+v, want %+v", got, want)
	}
	r = c.get("/hunts/h-webshells?agent=a-web01&rule=php&path=%3Cscript&after=0&limit=1")
	if got, want := lastFilter(), (store.ResultFilter{AgentID: "a-web01", Rule: "php", Path: "<script", Limit: 1}); got != want {
		t.Errorf("filter %+v, want %+v", got, want)
	}
	if n := strings.Count(r.body, `class="result-row"`); n != 1 {
		t.Errorf("%d result rows, want 1", n)
	}
	wantContains(t, "filtered", r.body, `value="a-web01"`, `value="php"`, `value="&lt;script"`, "(filtered)")
	// One row per page: a next link with the cursor.
	r = c.get("/hunts/h-webshells?limit=1")
	next := regexp.MustCompile(`href="([^"]+)" id="results-next"`).FindStringSubmatch(r.body)
	if next == nil {
		t.Fatal("next link has no href")
	}
	r = c.get(html.UnescapeString(next[1]))
	if got, want := lastFilter(), (store.ResultFilter{After: 1, Limit: 1}); got != want {
		t.Errorf("next page filter %+v, want %+v", got, want)
	}
	wantContains(t, "page 2", r.body, "&lt;script&gt;alert(1)", `id="results-first"`)
	if strings.Contains(r.body, "uploads/shell.php") {
		t.Error("page 2 repeats page 1")
	}
	// The live fragment gets the same filter.
	r = c.get("/hunts/h-webshells/live?rule=php&after=1")
	if got, want := lastFilter(), (store.ResultFilter{Rule: "php", After: 1, Limit: resultsPerPage}); got != want {
		t.Errorf("live filter %+v, want %+v", got, want)
	}
	if !strings.HasPrefix(strings.TrimSpace(r.body), `<div id="live"`) || strings.Contains(r.body, "<html") {
		t.Errorf("live is not a fragment:\n%.200s", r.body)
	}
	wantContains(t, "live", r.body, `data-url="/hunts/h-webshells/live?after=1&amp;rule=php"`)
	// Bad cursors and limits are 400s.
	for _, q := range []string{"after=-1", "after=x", "limit=0", "limit=100000"} {
		if r := c.get("/hunts/h-webshells?" + q); r.code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, r.code)
		}
	}
}

func TestLiveRefresh(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.login(adminToken)
	r := c.post("/hunts/new", url.Values{"csrf": {c.csrf}, "rules": {"rule a { condition: true }"},
		"paths": {"/srv"}, "why": {"test"}, "target": {"site=berlin"}})
	loc := r.hdr.Get("Location")
	wantContains(t, "running", c.get(loc+"/live").body, `data-refresh="true"`, `data-all-done="false"`, `id="live-indicator"`)
	// The agents finish: no more refreshing.
	e.fb.mu.Lock()
	h := e.fb.hunts[0]
	for i := range h.assignments {
		h.assignments[i].State = "done"
	}
	e.fb.mu.Unlock()
	wantContains(t, "done", c.get(loc+"/live").body, `data-refresh="false"`, `data-all-done="true"`,
		`<span id="progress-done">2</span>/<span id="progress-agents">2</span>`)
	// Canceled: no refreshing even if agents are not done.
	e.fb.mu.Lock()
	h.assignments[0].State = "running"
	h.hunt.State = store.HuntCanceled
	e.fb.mu.Unlock()
	wantContains(t, "canceled", c.get(loc+"/live").body, `data-refresh="false"`, `data-state="canceled"`)
}

func TestExport(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.login(adminToken)
	r := c.get("/hunts/h-webshells/export?format=jsonl")
	if r.code != 200 {
		t.Fatalf("export: %d", r.code)
	}
	if got := r.hdr.Get("Content-Disposition"); got != `attachment; filename="hunt-h-webshells.jsonl"` {
		t.Errorf("Content-Disposition %q", got)
	}
	if ct := r.hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-ndjson") {
		t.Errorf("Content-Type %q", ct)
	}
	var want strings.Builder
	if err := e.fb.Export(t.Context(), api.Operator{}, "h-webshells", "jsonl", &want); err != nil {
		t.Fatal(err)
	}
	if r.body != want.String() || strings.Count(r.body, "\n") != 2 {
		t.Errorf("jsonl body:\n%s\nwant:\n%s", r.body, want.String())
	}
	r = c.get("/hunts/h-webshells/export?format=csv")
	if got := r.hdr.Get("Content-Disposition"); got != `attachment; filename="hunt-h-webshells.csv"` {
		t.Errorf("csv Content-Disposition %q", got)
	}
	if !strings.HasPrefix(r.body, strings.Join(api.CSVHeader, ",")+"\n") || strings.Count(r.body, "\n") != 3 {
		t.Errorf("csv body:\n%s", r.body)
	}
	for _, f := range []string{"", "xml", "csv%0D%0AX-Evil:%201"} {
		if r := c.get("/hunts/h-webshells/export?format=" + f); r.code != http.StatusBadRequest || r.hdr.Get("Content-Disposition") != "" {
			t.Errorf("format %q: %d", f, r.code)
		}
	}
	if r := c.get("/hunts/h-nope/export?format=csv"); r.code != http.StatusNotFound || r.hdr.Get("Content-Disposition") != "" {
		t.Errorf("unknown hunt: %d", r.code)
	}
	// A failure before any output is a normal error page.
	e.fb.mu.Lock()
	e.fb.exportErr, e.fb.exportErrBefore = errInternal, true
	e.fb.mu.Unlock()
	if r := c.get("/hunts/h-webshells/export?format=jsonl"); r.code != 500 || strings.Contains(r.body, "database is locked") {
		t.Errorf("failing export: %d\n%s", r.code, r.body)
	}
	// A failure midway aborts the transfer: the client sees an error, not a short file.
	e.fb.mu.Lock()
	e.fb.exportErrBefore = false
	e.fb.mu.Unlock()
	req, _ := http.NewRequest("GET", e.srv.URL+"/hunts/h-webshells/export?format=jsonl", nil)
	hr, err := c.c.Do(req)
	if err == nil {
		_, err = io.ReadAll(hr.Body)
		hr.Body.Close()
	}
	if err == nil {
		t.Error("an export failing midway looked complete")
	}
	if !strings.Contains(e.logs.String(), "export failed midway") {
		t.Errorf("midway failure not logged: %s", e.logs.String())
	}
}

func TestErrors(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.login(adminToken)
	r := c.get("/hunts/h-nope")
	if r.code != 404 {
		t.Errorf("unknown hunt: %d", r.code)
	}
	wantContains(t, "404", r.body, `id="error-code"`, "404", "hunt h-nope not found")
	if r := c.get("/hunts/BAD..ID"); r.code != 404 {
		t.Errorf("invalid hunt ID: %d", r.code)
	}
	v := e.login(viewerToken)
	r = v.get("/tokens")
	if r.code != 403 {
		t.Errorf("viewer /tokens: %d", r.code)
	}
	wantContains(t, "403", r.body, "403", "may not manage enrollment tokens")
	// Cancel twice: the 409 message shows.
	if r := c.post("/hunts/h-webshells/cancel", url.Values{"csrf": {c.csrf}}); r.code != http.StatusSeeOther {
		t.Fatalf("cancel: %d", r.code)
	}
	wantContains(t, "canceled hunt", c.get("/hunts/h-webshells").body, "canceled")
	if r := c.post("/hunts/h-webshells/cancel", url.Values{"csrf": {c.csrf}}); r.code != http.StatusConflict {
		t.Errorf("cancel again: %d", r.code)
	}
	// A server error: a generic 500 page; the detail goes to the log only.
	e.fb.mu.Lock()
	e.fb.failWith = fmt.Errorf("listing: %w", errInternal)
	e.fb.mu.Unlock()
	r = c.get("/agents")
	if r.code != 500 || strings.Contains(r.body, "database is locked") || !strings.Contains(r.body, "Internal error") {
		t.Errorf("500 page: %d\n%s", r.code, r.body)
	}
	if !strings.Contains(e.logs.String(), "database is locked") {
		t.Errorf("500 detail not logged: %q", e.logs.String())
	}
	// The backend says 401 (the token was disabled meanwhile): back to login, session gone.
	e.fb.mu.Lock()
	e.fb.failWith = nil
	op := e.fb.operators[adminToken]
	op.Disabled = true
	e.fb.operators[adminToken] = op
	e.fb.mu.Unlock()
	wantRedirect(t, "disabled operator", c.get("/hunts"), "/login")
	e.fb.mu.Lock()
	op.Disabled = false
	e.fb.operators[adminToken] = op
	e.fb.mu.Unlock()
	wantRedirect(t, "re-enabled operator, old session", c.get("/hunts"), "/login")
	// A backend 401 from a data call (not Authenticate) also ends the session.
	c = e.login(adminToken)
	e.fb.mu.Lock()
	e.fb.failWith = api.Errorf(401, "token expired")
	e.fb.mu.Unlock()
	wantRedirect(t, "401 from Agents", c.get("/agents"), "/login")
	e.fb.mu.Lock()
	e.fb.failWith = nil
	e.fb.mu.Unlock()
	wantRedirect(t, "after 401", c.get("/hunts"), "/login")
	// Oversized forms are refused without reading them whole.
	c = e.login(adminToken)
	big := url.Values{"csrf": {c.csrf}, "rules": {strings.Repeat("a", maxFormBytes+1)}}
	if r := c.post("/hunts/new", big); r.code != http.StatusBadRequest && r.code != http.StatusForbidden {
		t.Errorf("oversized form: %d", r.code)
	}
}

func TestTokens(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.login(adminToken)
	r := c.post("/tokens", url.Values{"csrf": {c.csrf}, "labels": {"site=lyon, os=linux"}, "max_uses": {"5"},
		"expires_in": {"48h"}, "description": {"Lyon <DMZ>"}})
	if r.code != 200 {
		t.Fatalf("create token: %d\n%s", r.code, r.body)
	}
	e.fb.mu.Lock()
	tok := e.fb.tokens[len(e.fb.tokens)-1]
	e.fb.mu.Unlock()
	if tok.MaxUses != 5 || tok.Labels["site"] != "lyon" || tok.Labels["os"] != "linux" || tok.Description != "Lyon <DMZ>" {
		t.Errorf("token %+v", tok)
	}
	secret := "vge_" + tok.ID + "_s3cr3t0123456789"
	host := strings.TrimPrefix(e.srv.URL, "http://")
	wantContains(t, "created", r.body, `id="token-secret">`+secret+"<",
		`id="token-command">vigil agent --server http://`+host+" --token "+secret+" --state "+AgentStateDir+"<",
		"Lyon &lt;DMZ&gt;", "os=linux, site=lyon", "0/5")
	// Shown once: the list no longer has it.
	if r := c.get("/tokens"); strings.Contains(r.body, secret) {
		t.Error("the secret is shown again")
	}
	// Bad input re-renders the form with the values.
	r = c.post("/tokens", url.Values{"csrf": {c.csrf}, "labels": {"site"}, "max_uses": {"2"}, "description": {"keep"}})
	if r.code != 400 {
		t.Errorf("bad labels: %d", r.code)
	}
	wantContains(t, "bad labels", r.body, `id="form-error"`, "labels:", `value="site"`, `value="keep"`, `value="2"`)
	r = c.post("/tokens", url.Values{"csrf": {c.csrf}, "max_uses": {"-1"}})
	wantContains(t, "bad max uses", r.body, "max uses")
	r = c.post("/tokens", url.Values{"csrf": {c.csrf}, "expires_in": {"forever"}})
	if r.code != 400 || !strings.Contains(r.body, "bad duration") {
		t.Errorf("backend 400: %d", r.code)
	}
	// Revoke.
	wantRedirect(t, "revoke", c.post("/tokens/t-berlin/revoke", url.Values{"csrf": {c.csrf}}), "/tokens")
	e.fb.mu.Lock()
	if !slices.Equal(e.fb.revoked, []string{"t-berlin"}) {
		t.Errorf("revoked %v", e.fb.revoked)
	}
	e.fb.mu.Unlock()
	if r := c.post("/tokens/t-gone/revoke", url.Values{"csrf": {c.csrf}}); r.code != 404 {
		t.Errorf("revoke unknown: %d", r.code)
	}
	// Over TLS (Options.Secure) the command says https.
	req := httptest.NewRequest("POST", "https://vigil.example:8443/tokens", nil)
	if got := serverURL(req, false); got != "https://vigil.example:8443" {
		t.Errorf("serverURL over TLS: %q", got)
	}
	req = httptest.NewRequest("POST", "http://vigil.example/tokens", nil)
	if got := serverURL(req, true); got != "https://vigil.example" {
		t.Errorf("serverURL Secure: %q", got)
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"", 0, true}, {"0", 0, true}, {"1048576", 1 << 20, true}, {"512K", 512 << 10, true}, {"10MB", 10 << 20, true},
		{"1GiB", 1 << 30, true}, {" 2 m ", 2 << 20, true}, {"1.5M", 0, false}, {"-1", 0, false}, {"M", 0, false},
		{"10TB", 0, false}, {"99999999999999G", 0, false}, {"ten", 0, false},
	} {
		got, err := parseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"vge_abc-123": "vge_abc-123", "http://h:8443": "http://h:8443", "a b": "'a b'", "it's": `'it'\''s'`, "": "''", "$(x)": "'$(x)'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSessionsBounded(t *testing.T) {
	ss := newSessions()
	ss.max = 50
	now := time.Now()
	first := ss.create("t", now)
	for i := 1; i < ss.max+10; i++ {
		ss.create("t", now.Add(time.Duration(i)*time.Millisecond))
	}
	if len(ss.m) != ss.max {
		t.Errorf("%d sessions, want %d", len(ss.m), ss.max)
	}
	if _, ok := ss.m[first.id]; ok {
		t.Error("the oldest session survived")
	}
	// When the table is full, expired sessions are dropped first.
	ss.create("t", now.Add(sessionTTL+time.Hour))
	if len(ss.m) != 1 {
		t.Errorf("%d sessions after expiry, want 1", len(ss.m))
	}
	if newSessions().max != maxSessions {
		t.Error("the default cap is not maxSessions")
	}
}
