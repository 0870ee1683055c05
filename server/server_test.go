package server

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vigil/server/api"
	"vigil/wire"
)

// rulesOK is a rule set that compiles.
const rulesOK = `rule magic : test {
  strings:
    $m = "VIGIL-MAGIC-7f3a"
  condition:
    $m
}
`

func TestAdminTokenBootstrap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, log := startServer(t, Options{DataDir: dir})
	tok := s.AdminToken()
	if !strings.HasPrefix(tok, operatorTokenPrefix) || len(tok) != len(operatorTokenPrefix)+52 {
		t.Fatalf("admin token %q: want %s and 52 base32 characters", tok, operatorTokenPrefix)
	}
	path := filepath.Join(dir, AdminTokenFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(data)) != tok {
		t.Fatalf("%s holds %q, want the admin token", path, data)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: mode %v (%v), want 0600", path, fi.Mode().Perm(), err)
	}
	var me api.Operator
	mustCall(t, s, http.StatusOK, "GET", "/api/v1/whoami", tok, nil, &me)
	if me.Name != AdminName || me.Role != "admin" {
		t.Fatalf("whoami = %+v, want admin/admin", me)
	}
	stop(t, s)
	log.checkNoSecrets(t, tok)

	// A second start on the same data keeps the operator and makes no
	// new token.
	s2, _ := startServer(t, Options{DataDir: dir})
	if got := s2.AdminToken(); got != "" {
		t.Fatalf("second start made a new admin token")
	}
	mustCall(t, s2, http.StatusOK, "GET", "/api/v1/whoami", tok, nil, &me)
	var ops []api.Operator
	mustCall(t, s2, http.StatusOK, "GET", "/api/v1/operators", tok, nil, &ops)
	if len(ops) != 1 {
		t.Fatalf("%d operators after a restart, want 1: %+v", len(ops), ops)
	}
	data2, _ := os.ReadFile(path)
	if string(data2) != string(data) {
		t.Fatalf("the admin token file changed on the second start")
	}
}

func TestAPIAuth(t *testing.T) {
	t.Parallel()
	s, log := startServer(t, Options{DataDir: t.TempDir()})
	admin := s.AdminToken()

	// No token, a wrong token: 401.
	for _, tok := range []string{"", "vop_wrong", "Bearer"} {
		if code, _ := call(t, s, "GET", "/api/v1/hunts", tok, nil, nil); code != http.StatusUnauthorized {
			t.Errorf("token %q: got %d, want 401", tok, code)
		}
	}
	if code, _ := getRaw(t, s, "/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without a token: %d, want 401", code)
	}
	if code, body := getRaw(t, s, "/healthz", ""); code != http.StatusOK || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	// The web UI answers what the API does not.
	if code, body := getRaw(t, s, "/", ""); code >= 400 || !strings.Contains(strings.ToLower(body), "<html") {
		t.Errorf("web UI at /: %d %.200q", code, body)
	}

	// A viewer reads but does not hunt or manage.
	var vc api.OperatorCreated
	mustCall(t, s, http.StatusCreated, "POST", "/api/v1/operators", admin, api.OperatorRequest{Name: "vera", Role: "viewer"}, &vc)
	viewer := vc.Token
	mustCall(t, s, http.StatusOK, "GET", "/api/v1/hunts", viewer, nil, nil)
	hunt := api.HuntRequest{Rules: rulesOK, Paths: []string{"/tmp"}, Why: "test"}
	if code, msg := call(t, s, "POST", "/api/v1/hunts", viewer, hunt, nil); code != http.StatusForbidden || !strings.Contains(msg, "hunter") {
		t.Errorf("viewer creating a hunt: %d %q, want 403 naming the role needed", code, msg)
	}
	for _, p := range []string{"/api/v1/tokens", "/api/v1/operators"} {
		if code, _ := call(t, s, "GET", p, viewer, nil, nil); code != http.StatusForbidden {
			t.Errorf("viewer GET %s: %d, want 403", p, code)
		}
	}
	if code, _ := call(t, s, "POST", "/api/v1/operators", admin, api.OperatorRequest{Name: "vera", Role: "viewer"}, nil); code != http.StatusConflict {
		t.Errorf("duplicate operator: %d, want 409", code)
	}

	// A hunter hunts; bad requests are 400 with the reason.
	var hc api.OperatorCreated
	mustCall(t, s, http.StatusCreated, "POST", "/api/v1/operators", admin, api.OperatorRequest{Name: "hugo", Role: "hunter"}, &hc)
	hunter := hc.Token
	bad := []struct {
		name string
		req  api.HuntRequest
		want string
	}{
		{"syntax error", api.HuntRequest{Rules: "rule a {\n  condition:\n    true and and\n}\n", Paths: []string{"/tmp"}, Why: "x"}, "rules:3:"},
		{"undefined string", api.HuntRequest{Rules: "rule a {\n condition:\n  $x\n}\n", Paths: []string{"/tmp"}, Why: "x"}, "rules:3:"},
		{"include", api.HuntRequest{Rules: "include \"/etc/passwd\"\nrule a { condition: true }", Paths: []string{"/tmp"}, Why: "x"}, "include is not allowed"},
		{"no why", api.HuntRequest{Rules: rulesOK, Paths: []string{"/tmp"}, Why: "  "}, "why"},
		{"relative path", api.HuntRequest{Rules: rulesOK, Paths: []string{"tmp"}, Why: "x"}, "not absolute"},
		{"unclean path", api.HuntRequest{Rules: rulesOK, Paths: []string{"/tmp/../etc"}, Why: "x"}, "not clean"},
		{"no paths", api.HuntRequest{Rules: rulesOK, Why: "x"}, "paths"},
		{"bad target", api.HuntRequest{Rules: rulesOK, Paths: []string{"/tmp"}, Target: "os", Why: "x"}, "target"},
		{"bad expiry", api.HuntRequest{Rules: rulesOK, Paths: []string{"/tmp"}, ExpiresIn: "10000h", Why: "x"}, "expires_in"},
		{"negative limit", api.HuntRequest{Rules: rulesOK, Paths: []string{"/tmp"}, Why: "x", Limits: wire.Limits{MaxFiles: -1}}, "negative"},
		{"empty rules", api.HuntRequest{Paths: []string{"/tmp"}, Why: "x"}, "rules"},
	}
	for _, tc := range bad {
		code, msg := call(t, s, "POST", "/api/v1/hunts", hunter, tc.req, nil)
		if code != http.StatusBadRequest || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: got %d %q, want 400 containing %q", tc.name, code, msg, tc.want)
		}
	}
	var h api.Hunt
	mustCall(t, s, http.StatusCreated, "POST", "/api/v1/hunts", hunter, api.HuntRequest{Rules: rulesOK, Paths: []string{"/tmp", `C:\Users`}, Why: "x"}, &h)
	if h.State != "pending" || h.ApprovalsRequired != 1 || h.Progress == nil || h.Progress.Agents != 0 || h.CreatedBy != "hugo" {
		t.Errorf("hunt with no agents: %+v", h)
	}
	// The hunter may not make tokens.
	if code, _ := call(t, s, "POST", "/api/v1/tokens", hunter, api.TokenRequest{}, nil); code != http.StatusForbidden {
		t.Errorf("hunter creating a token: %d, want 403", code)
	}
	// Unknown things are 404; malformed bodies 400.
	if code, _ := call(t, s, "GET", "/api/v1/hunts/h-nothere", viewer, nil, nil); code != http.StatusNotFound {
		t.Errorf("unknown hunt: %d, want 404", code)
	}
	if code, _ := call(t, s, "GET", "/api/v1/nothing", viewer, nil, nil); code != http.StatusNotFound {
		t.Errorf("unknown route: %d, want 404", code)
	}
	if code, _ := call(t, s, "POST", "/api/v1/hunts", hunter, map[string]any{"rulez": 1}, nil); code != http.StatusBadRequest {
		t.Errorf("unknown field: %d, want 400", code)
	}
	// Cancel twice: the second is a conflict.
	var c api.Hunt
	mustCall(t, s, http.StatusOK, "POST", "/api/v1/hunts/"+h.ID+"/cancel", hunter, nil, &c)
	if c.State != "canceled" {
		t.Errorf("canceled hunt in state %q", c.State)
	}
	if code, _ := call(t, s, "POST", "/api/v1/hunts/"+h.ID+"/cancel", hunter, nil, nil); code != http.StatusConflict {
		t.Errorf("second cancel: %d, want 409", code)
	}
	log.checkNoSecrets(t, admin, viewer, hunter)
}

func TestEnrollRefusals(t *testing.T) {
	t.Parallel()
	s, log := startServer(t, Options{DataDir: t.TempDir()})
	admin := s.AdminToken()
	secret := newToken(t, s, admin, nil)
	// A bad token gets the one message, whatever the reason.
	f := func(tok string) (int, string) {
		return call(t, s, "POST", "/api/v1/enroll", "", map[string]any{
			"token": tok, "public_key": "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4", "hostname": "h",
		}, nil)
	}
	code, msg := f("vet_unknown")
	if code != http.StatusUnauthorized || msg != errEnrollToken {
		t.Fatalf("unknown token: %d %q", code, msg)
	}
	// Not an nkey: 400.
	if code, _ := call(t, s, "POST", "/api/v1/enroll", "", map[string]any{"token": secret, "public_key": "nope"}, nil); code != http.StatusBadRequest {
		t.Fatalf("bad public key: %d, want 400", code)
	}
	// Repeated failures from one address are refused for a while.
	limited := false
	for range 3 * enrollBurst {
		if code, _ := f("vet_guess"); code == http.StatusTooManyRequests {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatalf("%d failed enrollments from one address were never rate-limited", 3*enrollBurst)
	}
	log.checkNoSecrets(t, admin, secret)
}
