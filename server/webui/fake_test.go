package webui

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"vigil/server/api"
	"vigil/server/store"
	"vigil/wire"
)

// Operator tokens of the fake backend.
const (
	adminToken  = "vgo_admin_4c1f0e9b7d2a6385"
	viewerToken = "vgo_viewer_93a7d1e0c5b24f68"
)

// fakeBackend is an in-memory Backend with realistic data. Its hunts can
// make results appear over time, as agents would.
type fakeBackend struct {
	mu          sync.Mutex
	operators   map[string]api.Operator // by token
	agents      []api.Agent
	tokens      []api.Token
	hunts       []*fakeHunt // newest first
	nextID      int
	lastFilter  store.ResultFilter
	filterCalls int
	lastHuntReq *api.HuntRequest
	revoked     []string
	canceled    []string
	// failWith, when set, is returned by every call but Authenticate.
	failWith error
	// exportErrAfter, when set, makes Export fail after writing its
	// first line (or before writing, if exportErrBefore).
	exportErr       error
	exportErrBefore bool
	// step, when positive, makes CreateHunt simulate its agents: every
	// step one more agent acknowledges, runs and reports its matches.
	step time.Duration
	// gate, when not nil, holds the simulated agents back until closed.
	gate chan struct{}
	stop chan struct{}
	wg   sync.WaitGroup
}

type fakeHunt struct {
	hunt        api.Hunt
	assignments []api.Assignment
	results     []api.Result
}

func newFakeBackend() *fakeBackend {
	now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	f := &fakeBackend{
		operators: map[string]api.Operator{
			adminToken:  {ID: "op-alice", Name: "alice", Role: store.RoleAdmin, Created: now.Add(-72 * time.Hour)},
			viewerToken: {ID: "op-victor", Name: "victor", Role: store.RoleViewer, Created: now.Add(-24 * time.Hour)},
		},
		agents: []api.Agent{
			{ID: "a-web01", Hostname: "web-01.berlin.example", OS: "linux", Arch: "amd64", Version: "0.4.0",
				Labels: map[string]string{"os": "linux", "site": "berlin", "role": "web"}, Enrolled: now.Add(-48 * time.Hour),
				LastSeen: now.Add(-20 * time.Second), Online: true},
			{ID: "a-db01", Hostname: "db-01.berlin.example", OS: "linux", Arch: "arm64", Version: "0.4.0",
				Labels: map[string]string{"os": "linux", "site": "berlin", "role": "db"}, Enrolled: now.Add(-47 * time.Hour),
				LastSeen: now.Add(-35 * time.Second), Online: true},
			{ID: "a-win07", Hostname: "WIN-07", OS: "windows", Arch: "amd64", Version: "0.3.9",
				Labels: map[string]string{"os": "windows", "site": "paris"}, Enrolled: now.Add(-30 * time.Hour),
				LastSeen: now.Add(-6 * time.Hour), Online: false},
		},
		tokens: []api.Token{
			{ID: "t-berlin", Labels: map[string]string{"site": "berlin"}, MaxUses: 10, Uses: 2,
				Expires: now.Add(100 * time.Hour), Created: now.Add(-68 * time.Hour), CreatedBy: "alice", Description: "Berlin servers"},
			{ID: "t-old", Labels: map[string]string{}, Uses: 1, Expires: now.Add(-time.Hour),
				Created: now.Add(-200 * time.Hour), CreatedBy: "alice", Revoked: true, Description: "lab"},
		},
		nextID: 1,
		stop:   make(chan struct{}),
	}
	// One finished hunt with results, one of them with a hostile path.
	h := &fakeHunt{
		hunt: api.Hunt{ID: "h-webshells", Name: "webshells", State: store.HuntRunning, Target: "os=linux",
			Paths: []string{"/var/www", "/tmp"}, Exclude: []string{"*.log"},
			Limits: wire.Limits{MaxFileSize: 64 << 20, PerFileTimeout: 30 * time.Second, Archives: true},
			Why:    "INC-2211: PHP webshell dropped on a Berlin web server", CreatedBy: "alice",
			Created: now.Add(-2 * time.Hour), Expires: now.Add(22 * time.Hour), RulesSHA256: strings.Repeat("ab", 32),
			Rules: "rule php_webshell : web {\n  strings:\n    $a = \"eval(base64_decode(\"\n  condition:\n    $a\n}\n"},
		assignments: []api.Assignment{
			{AgentID: "a-db01", Hostname: "db-01.berlin.example", State: wire.StateDone, FilesScanned: 1200, FilesMatched: 0, Bytes: 5 << 20},
			{AgentID: "a-web01", Hostname: "web-01.berlin.example", State: wire.StateDone, FilesScanned: 3400, FilesMatched: 2, Bytes: 80 << 20},
		},
	}
	h.results = []api.Result{
		fakeResult(h.hunt.ID, "a-web01", "web-01.berlin.example", "/var/www/html/uploads/shell.php", "php_webshell", now),
		fakeResult(h.hunt.ID, "a-web01", "web-01.berlin.example", "/tmp/<script>alert(1)</script>.php", "php_webshell", now),
	}
	f.hunts = []*fakeHunt{h}
	return f
}

func fakeResult(hunt, agent, host, p, rule string, t time.Time) api.Result {
	return api.Result{HuntID: hunt, AgentID: agent, Hostname: host, Path: p, Size: 4096,
		SHA256: strings.Repeat("3f", 32), MD5: strings.Repeat("9c", 16), Rule: rule, Namespace: "default",
		Tags: []string{"web"}, Strings: []wire.StringHit{{ID: "$a", Offsets: []int64{17, 230}, Count: 2}}, Received: t}
}

// close stops the simulated agents.
func (f *fakeBackend) close() {
	close(f.stop)
	f.wg.Wait()
}

func (f *fakeBackend) Authenticate(ctx context.Context, token string) (api.Operator, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	op, ok := f.operators[token]
	if !ok || op.Disabled {
		return api.Operator{}, api.Errorf(http.StatusUnauthorized, "unknown or disabled token")
	}
	return op, nil
}

func (f *fakeBackend) Agents(ctx context.Context, by api.Operator) ([]api.Agent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return nil, f.failWith
	}
	return slices.Clone(f.agents), nil
}

func (f *fakeBackend) Tokens(ctx context.Context, by api.Operator) ([]api.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return nil, f.failWith
	}
	if by.Role != store.RoleAdmin {
		return nil, api.Errorf(http.StatusForbidden, "operator %s (%s) may not manage enrollment tokens", by.Name, by.Role)
	}
	return slices.Clone(f.tokens), nil
}

func (f *fakeBackend) CreateToken(ctx context.Context, by api.Operator, r api.TokenRequest) (api.TokenCreated, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if by.Role != store.RoleAdmin {
		return api.TokenCreated{}, api.Errorf(http.StatusForbidden, "admins only")
	}
	exp := 168 * time.Hour
	if r.ExpiresIn != "" {
		d, err := time.ParseDuration(r.ExpiresIn)
		if err != nil || d <= 0 {
			return api.TokenCreated{}, api.Errorf(http.StatusBadRequest, "expires_in: bad duration %q", r.ExpiresIn)
		}
		exp = d
	}
	id := fmt.Sprintf("t-new%d", f.nextID)
	f.nextID++
	t := api.Token{ID: id, Labels: r.Labels, MaxUses: r.MaxUses, Expires: time.Now().Add(exp),
		Created: time.Now(), CreatedBy: by.Name, Description: r.Description}
	f.tokens = append(f.tokens, t)
	return api.TokenCreated{Token: t, Secret: "vge_" + id + "_s3cr3t0123456789"}, nil
}

func (f *fakeBackend) RevokeToken(ctx context.Context, by api.Operator, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.tokens {
		if f.tokens[i].ID == id {
			f.tokens[i].Revoked = true
			f.revoked = append(f.revoked, id)
			return nil
		}
	}
	return api.Errorf(http.StatusNotFound, "token %s not found", id)
}

// progress sums h; the caller holds f.mu.
func (h *fakeHunt) progress() *api.Progress {
	p := &api.Progress{Agents: len(h.assignments), States: map[string]int{}, Results: int64(len(h.results))}
	for _, a := range h.assignments {
		p.States[a.State]++
		if a.State != "" {
			p.Acknowledged++
		}
		if wire.Terminal(a.State) {
			p.Done++
		}
		p.FilesScanned += a.FilesScanned
		p.FileErrors += a.FileErrors
	}
	return p
}

func (f *fakeBackend) find(id string) (*fakeHunt, error) {
	for _, h := range f.hunts {
		if h.hunt.ID == id {
			return h, nil
		}
	}
	return nil, api.Errorf(http.StatusNotFound, "hunt %s not found", id)
}

func (f *fakeBackend) Hunts(ctx context.Context, by api.Operator) ([]api.Hunt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return nil, f.failWith
	}
	var out []api.Hunt
	for _, h := range f.hunts {
		c := h.hunt
		c.Rules = ""
		c.Progress = h.progress()
		out = append(out, c)
	}
	return out, nil
}

func (f *fakeBackend) Hunt(ctx context.Context, by api.Operator, id string) (api.Hunt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return api.Hunt{}, f.failWith
	}
	h, err := f.find(id)
	if err != nil {
		return api.Hunt{}, err
	}
	c := h.hunt
	c.Progress = h.progress()
	return c, nil
}

func (f *fakeBackend) CreateHunt(ctx context.Context, by api.Operator, r api.HuntRequest) (api.Hunt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastHuntReq = &r
	if by.Role == store.RoleViewer {
		return api.Hunt{}, api.Errorf(http.StatusForbidden, "operator %s (viewer) may not create hunts", by.Name)
	}
	if i := strings.Index(r.Rules, "BROKEN"); i >= 0 {
		line := strings.Count(r.Rules[:i], "\n") + 1
		return api.Hunt{}, api.Errorf(http.StatusBadRequest, "rules:%d:5: syntax error, unexpected identifier BROKEN", line)
	}
	if strings.TrimSpace(r.Why) == "" {
		return api.Hunt{}, api.Errorf(http.StatusBadRequest, "why is required")
	}
	if len(r.Paths) == 0 {
		return api.Hunt{}, api.Errorf(http.StatusBadRequest, "at least one path is required")
	}
	for _, p := range r.Paths {
		if !path.IsAbs(p) {
			return api.Hunt{}, api.Errorf(http.StatusBadRequest, "path %q is not absolute", p)
		}
	}
	sel, err := wire.ParseSelector(r.Target)
	if err != nil {
		return api.Hunt{}, api.Errorf(http.StatusBadRequest, "target: %v", err)
	}
	exp := 24 * time.Hour
	if r.ExpiresIn != "" {
		if exp, err = time.ParseDuration(r.ExpiresIn); err != nil {
			return api.Hunt{}, api.Errorf(http.StatusBadRequest, "expires_in: %v", err)
		}
	}
	id := fmt.Sprintf("h-%d", f.nextID)
	f.nextID++
	h := &fakeHunt{hunt: api.Hunt{ID: id, Name: r.Name, State: store.HuntRunning, Target: sel.String(),
		Paths: r.Paths, Exclude: r.Exclude, Limits: r.Limits, Why: r.Why, CreatedBy: by.Name,
		Created: time.Now().UTC(), Expires: time.Now().UTC().Add(exp), RulesSHA256: strings.Repeat("cd", 32), Rules: r.Rules}}
	for _, a := range f.agents {
		if sel.Matches(a.Labels) {
			h.assignments = append(h.assignments, api.Assignment{AgentID: a.ID, Hostname: a.Hostname})
		}
	}
	f.hunts = append([]*fakeHunt{h}, f.hunts...)
	if f.step > 0 {
		f.wg.Add(1)
		go f.simulate(h)
	}
	c := h.hunt
	c.Progress = h.progress()
	return c, nil
}

// simulate plays h's agents: each in turn acknowledges, then finishes
// with two matches (one with a hostile file name).
func (f *fakeBackend) simulate(h *fakeHunt) {
	defer f.wg.Done()
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-f.stop:
			return
		}
	}
	tick := time.NewTicker(f.step)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-f.stop:
			return
		case <-tick.C:
		}
		f.mu.Lock()
		n := len(h.assignments)
		if i/2 >= n || h.hunt.State != store.HuntRunning {
			f.mu.Unlock()
			return
		}
		a := &h.assignments[i/2]
		if i%2 == 0 {
			a.State = wire.StateRunning
			a.Started = time.Now()
		} else {
			a.State = wire.StateDone
			a.FilesScanned = 100 + int64(i)
			a.FilesMatched = 2
			for _, p := range []string{h.hunt.Paths[0] + "/evil.bin", h.hunt.Paths[0] + "/<img src=x onerror=alert(2)>"} {
				h.results = append(h.results, fakeResult(h.hunt.ID, a.AgentID, a.Hostname, p, "sim_rule", time.Now()))
			}
		}
		a.Updated = time.Now()
		f.mu.Unlock()
	}
}

func (f *fakeBackend) CancelHunt(ctx context.Context, by api.Operator, id string) (api.Hunt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, err := f.find(id)
	if err != nil {
		return api.Hunt{}, err
	}
	if h.hunt.State != store.HuntRunning {
		return api.Hunt{}, api.Errorf(http.StatusConflict, "hunt %s is %s", id, h.hunt.State)
	}
	h.hunt.State = store.HuntCanceled
	f.canceled = append(f.canceled, id)
	return h.hunt, nil
}

func (f *fakeBackend) Assignments(ctx context.Context, by api.Operator, id string) ([]api.Assignment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, err := f.find(id)
	if err != nil {
		return nil, err
	}
	return slices.Clone(h.assignments), nil
}

// Results filters like the store: AgentID exact, Rule and Path substrings,
// cursor = index + 1.
func (f *fakeBackend) Results(ctx context.Context, by api.Operator, id string, rf store.ResultFilter) (api.ResultPage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastFilter = rf
	f.filterCalls++
	h, err := f.find(id)
	if err != nil {
		return api.ResultPage{}, err
	}
	limit := rf.Limit
	if limit == 0 {
		limit = 1000
	}
	page := api.ResultPage{Results: []api.Result{}, Next: rf.After}
	for i := int(rf.After); i < len(h.results); i++ {
		r := h.results[i]
		if rf.AgentID != "" && r.AgentID != rf.AgentID || !strings.Contains(r.Rule, rf.Rule) || !strings.Contains(r.Path, rf.Path) {
			continue
		}
		if len(page.Results) == limit {
			page.More = true
			break
		}
		page.Results = append(page.Results, r)
		page.Next = int64(i + 1)
	}
	return page, nil
}

func (f *fakeBackend) Export(ctx context.Context, by api.Operator, id, format string, w io.Writer) error {
	f.mu.Lock()
	h, err := f.find(id)
	var results []api.Result
	if err == nil {
		results = slices.Clone(h.results)
	}
	exportErr, before := f.exportErr, f.exportErrBefore
	f.mu.Unlock()
	if err != nil {
		return err
	}
	if exportErr != nil && before {
		return exportErr
	}
	switch format {
	case "jsonl":
		enc := json.NewEncoder(w)
		for _, r := range results {
			if err := enc.Encode(r); err != nil {
				return err
			}
			if exportErr != nil {
				return exportErr
			}
		}
	case "csv":
		cw := csv.NewWriter(w)
		cw.Write(api.CSVHeader)
		for _, r := range results {
			cw.Write([]string{r.HuntID, r.AgentID, r.Hostname, r.Path, strconv.FormatInt(r.Size, 10), r.SHA256, r.MD5,
				r.Rule, r.Namespace, strings.Join(r.Tags, " "), "", r.Received.Format(time.RFC3339Nano)})
		}
		cw.Flush()
		return cw.Error()
	default:
		return api.Errorf(http.StatusBadRequest, "format %q", format)
	}
	return nil
}

var _ Backend = (*fakeBackend)(nil)

// errInternal is a server-side failure whose detail must not reach the page.
var errInternal = errors.New("database is locked: SELECT * FROM hunts")
