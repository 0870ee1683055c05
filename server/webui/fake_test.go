package webui

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
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

	"golang.org/x/mod/sumdb/note"

	"vigil/server/api"
	"vigil/server/store"
	"vigil/translog"
	"vigil/wire"
	"vigil/yara/lint"
)

// Operator tokens of the fake backend.
const (
	adminToken    = "vgo_admin_4c1f0e9b7d2a6385"
	viewerToken   = "vgo_viewer_93a7d1e0c5b24f68"
	approverToken = "vgo_approver_5b0d2e7c9a3f1846"
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

	// The transparency log: real entries and checkpoints (translog), in memory.
	log        *translog.Log
	logKey     string                 // the log's note verifier key
	witness    note.Signer            // cosigns every checkpoint
	witnessKey string                 // its verifier key
	approvers  map[string]note.Signer // approval keys by operator name
	approverVK map[string]string
	// approvals is how many approvals new hunts need (one more for
	// document searches); 0: they run at once.
	approvals int
	// failLog, when set, is returned by the log methods.
	failLog error
	// logEntriesCalls counts LogEntries calls.
	logEntriesCalls int
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
		nextID:     1,
		stop:       make(chan struct{}),
		approvers:  map[string]note.Signer{},
		approverVK: map[string]string{},
	}
	f.operators[approverToken] = api.Operator{ID: "op-bob", Name: "bob", Role: store.RoleApprover, Created: now.Add(-70 * time.Hour)}
	f.initLog()
	// One finished hunt with results, one of them with a hostile path.
	h := &fakeHunt{
		hunt: api.Hunt{ID: "h-webshells", Name: "webshells", State: store.HuntRunning, Target: "os=linux",
			Paths: []string{"/var/www", "/tmp"}, Exclude: []string{"*.log"},
			Limits: wire.Limits{MaxFileSize: 64 << 20, PerFileTimeout: 30 * time.Second, Archives: true},
			Why:    "INC-2211: PHP webshell dropped on a Berlin web server", CreatedBy: "alice",
			Created: now.Add(-2 * time.Hour), Expires: now.Add(22 * time.Hour), RulesSHA256: strings.Repeat("ab", 32),
			Rules:     "rule php_webshell : web {\n  strings:\n    $a = \"eval(base64_decode(\"\n  condition:\n    $a\n}\n",
			LintClass: translog.LintCode, ApprovalsRequired: 1},
		assignments: []api.Assignment{
			{AgentID: "a-db01", Hostname: "db-01.berlin.example", State: wire.StateDone, FilesScanned: 1200, FilesMatched: 0, Bytes: 5 << 20},
			{AgentID: "a-web01", Hostname: "web-01.berlin.example", State: wire.StateDone, FilesScanned: 3400, FilesMatched: 2, Bytes: 80 << 20},
		},
	}
	h.results = []api.Result{
		fakeResult(h.hunt.ID, "a-web01", "web-01.berlin.example", "/var/www/html/uploads/shell.php", "php_webshell", now),
		fakeResult(h.hunt.ID, "a-web01", "web-01.berlin.example", "/tmp/<script>alert(1)</script>.php", "php_webshell", now),
	}
	h.hunt.RulesSHA256 = sha256Hex(h.hunt.Rules)
	f.hunts = []*fakeHunt{h}
	if err := f.logHunt(&h.hunt); err != nil {
		panic(err)
	}
	if err := f.approveLocked(h, "bob", now.Add(-110*time.Minute)); err != nil {
		panic(err)
	}
	return f
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// initLog makes the log, witness and approver keys and an empty log.
func (f *fakeBackend) initLog() {
	skey, vkey, err := note.GenerateKey(rand.Reader, "vigil-log")
	if err != nil {
		panic(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		panic(err)
	}
	f.logKey = vkey
	if f.log, err = translog.New(translog.NewMemoryStorage(), signer); err != nil {
		panic(err)
	}
	wskey, wvkey, err := note.GenerateKey(rand.Reader, "witness-1")
	if err != nil {
		panic(err)
	}
	if f.witness, err = note.NewSigner(wskey); err != nil {
		panic(err)
	}
	f.witnessKey = wvkey
}

// approverSigner returns (making it on first use) name's approval key.
func (f *fakeBackend) approverSigner(name string) (note.Signer, string, error) {
	if s, ok := f.approvers[name]; ok {
		return s, f.approverVK[name], nil
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return nil, "", err
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, "", err
	}
	f.approvers[name], f.approverVK[name] = s, vkey
	return s, vkey, nil
}

// logHunt appends h's entry to the log and sets its LogIndex and Entry;
// the caller holds f.mu (or is the constructor).
func (f *fakeBackend) logHunt(h *api.Hunt) error {
	w := &wire.Hunt{ID: h.ID, Name: h.Name, Rules: h.Rules, RulesSHA256: h.RulesSHA256, Paths: h.Paths,
		Exclude: h.Exclude, Limits: h.Limits, Target: h.Target, Why: h.Why, CreatedBy: h.CreatedBy,
		Created: h.Created, Expires: h.Expires}
	e := translog.HuntEntryFromWire(w)
	e.LintClass = h.LintClass
	e.ApprovalsRequired = h.ApprovalsRequired
	b, err := e.Encode()
	if err != nil {
		return err
	}
	idx, err := f.log.Append(context.Background(), translog.KindHunt, b)
	if err != nil {
		return err
	}
	h.LogIndex, h.Entry = idx, string(b)
	return nil
}

// approve has approver sign and log an approval of hunt id, as `vigil hunt
// approve` and the server would; the hunt runs once it has enough.
func (f *fakeBackend) approve(id, approver string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, err := f.find(id)
	if err != nil {
		return err
	}
	return f.approveLocked(h, approver, time.Now())
}

func (f *fakeBackend) approveLocked(h *fakeHunt, approver string, now time.Time) error {
	if approver == h.hunt.CreatedBy {
		return api.Errorf(http.StatusForbidden, "the author may not approve")
	}
	signer, vkey, err := f.approverSigner(approver)
	if err != nil {
		return err
	}
	a, err := translog.NewApproval(signer, vkey, []byte(h.hunt.Entry), h.hunt.LogIndex, now)
	if err != nil {
		return err
	}
	b, err := a.Encode()
	if err != nil {
		return err
	}
	idx, err := f.log.Append(context.Background(), translog.KindApproval, b)
	if err != nil {
		return err
	}
	h.hunt.Approvals = append(h.hunt.Approvals, api.Approval{Approver: approver, Key: vkey, LogIndex: idx, Time: a.Time})
	if h.hunt.State == store.HuntPending && len(h.hunt.Approvals) >= h.hunt.ApprovalsRequired {
		h.hunt.State = store.HuntRunning
	}
	return nil
}

// addRuleSets logs n rule set entries (to fill pages of the log).
func (f *fakeBackend) addRuleSets(n int) {
	for i := range n {
		rules := fmt.Sprintf("rule r%d { condition: true }", i)
		e := &translog.RuleSetEntry{Name: fmt.Sprintf("set-%d", i), RulesSHA256: sha256Hex(rules), Rules: rules,
			Publisher: "alice", Created: time.Date(2026, 11, 1, 0, 0, i, 0, time.UTC), LintClass: translog.LintCode}
		b, err := e.Encode()
		if err != nil {
			panic(err)
		}
		if _, err := f.log.Append(context.Background(), translog.KindRuleSet, b); err != nil {
			panic(err)
		}
	}
}

func (f *fakeBackend) LogKey(ctx context.Context) (api.LogKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failLog != nil {
		return api.LogKey{}, f.failLog
	}
	return api.LogKey{Key: f.logKey, Origin: f.log.Origin(), Witnesses: []string{f.witnessKey}}, nil
}

// Checkpoint signs the current tree, cosigned by the witness.
func (f *fakeBackend) Checkpoint(ctx context.Context) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failLog != nil {
		return nil, f.failLog
	}
	if n, err := f.log.Size(ctx); err != nil || n == 0 {
		return nil, err
	}
	cp, err := f.log.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(f.logKey)
	if err != nil {
		return nil, err
	}
	n, err := note.Open(cp, note.VerifierList(v))
	if err != nil {
		return nil, err
	}
	return note.Sign(n, f.witness)
}

func (f *fakeBackend) LogEntries(ctx context.Context, start, count int64) ([]api.LogEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logEntriesCalls++
	if f.failLog != nil {
		return nil, f.failLog
	}
	if start < 0 || count < 0 || count > 1000 {
		return nil, api.Errorf(http.StatusBadRequest, "start %d count %d", start, count)
	}
	size, err := f.log.Size(ctx)
	if err != nil {
		return nil, err
	}
	out := []api.LogEntry{}
	for i := start; i < start+count && i < size; i++ {
		b, err := f.log.Entry(ctx, i)
		if err != nil {
			return nil, err
		}
		kind, err := translog.Kind(b)
		if err != nil {
			return nil, err
		}
		out = append(out, api.LogEntry{Index: i, Kind: kind, Entry: string(b)})
	}
	return out, nil
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
		c.Entry = ""
		c.Approvals = slices.Clone(c.Approvals)
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
	c.Approvals = slices.Clone(c.Approvals)
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
	class := ""
	if rep, err := lint.ClassifySource("rules", []byte(r.Rules)); err == nil {
		class = string(rep.Class)
	}
	required := f.approvals
	if required > 0 && class == translog.LintDocument {
		required++
	}
	state := store.HuntRunning
	if required > 0 {
		state = store.HuntPending
	}
	id := fmt.Sprintf("h-%d", f.nextID)
	f.nextID++
	now := time.Now().UTC()
	h := &fakeHunt{hunt: api.Hunt{ID: id, Name: r.Name, State: state, Target: sel.String(),
		Paths: r.Paths, Exclude: r.Exclude, Limits: r.Limits, Why: r.Why, CreatedBy: by.Name,
		Created: now, Expires: now.Add(exp), RulesSHA256: sha256Hex(r.Rules), Rules: r.Rules,
		LintClass: class, ApprovalsRequired: required}}
	// As the server: logged first, then stored.
	if err := f.logHunt(&h.hunt); err != nil {
		return api.Hunt{}, api.Errorf(http.StatusBadRequest, "log entry: %v", err)
	}
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
		if h.hunt.State == store.HuntPending {
			f.mu.Unlock()
			i--
			continue
		}
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
	if h.hunt.State != store.HuntRunning && h.hunt.State != store.HuntPending {
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
