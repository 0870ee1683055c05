package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"
	"time"

	"vigil/server/api"
	"vigil/server/store"
	"vigil/translog"
	"vigil/wire"
	"vigil/yara"
	"vigil/yara/lint"
	"vigil/yara/syntax"
)

// Hunts lists the hunts, newest first, with their progress and without
// their rules.
func (v *Service) Hunts(ctx context.Context, by api.Operator) ([]api.Hunt, error) {
	if err := require(by, store.RoleViewer); err != nil {
		return nil, err
	}
	list, err := v.s.store.ListHunts(ctx)
	if err != nil {
		return nil, err
	}
	now := v.now()
	out := make([]api.Hunt, 0, len(list))
	for _, h := range list {
		p, err := v.s.store.Progress(ctx, h.ID)
		if err != nil {
			return nil, fmt.Errorf("hunt %s: %w", h.ID, err)
		}
		ah := apiHunt(h, now)
		ah.Progress = apiProgress(p)
		if ah.Approvals, err = v.apiApprovals(ctx, h.ID); err != nil {
			return nil, err
		}
		out = append(out, ah)
	}
	return out, nil
}

// Hunt returns one hunt with its rules and progress.
func (v *Service) Hunt(ctx context.Context, by api.Operator, id string) (api.Hunt, error) {
	if err := require(by, store.RoleViewer); err != nil {
		return api.Hunt{}, err
	}
	h, err := v.getHunt(ctx, id)
	if err != nil {
		return api.Hunt{}, err
	}
	p, err := v.s.store.Progress(ctx, id)
	if err != nil {
		return api.Hunt{}, err
	}
	ah := apiHunt(h, v.now())
	ah.Rules = h.Rules
	ah.Progress = apiProgress(p)
	if ah.Approvals, err = v.apiApprovals(ctx, id); err != nil {
		return api.Hunt{}, err
	}
	if h.LogIndex >= 0 {
		e, err := v.s.loggedHunt(ctx, h)
		if err != nil {
			// Shown without an entry: approvers cannot sign it, agents
			// never get it.
			v.s.logf("hunt %s: %v", id, err)
		}
		ah.Entry = string(e)
	}
	return ah, nil
}

// apiApprovals lists a hunt's logged approvals.
func (v *Service) apiApprovals(ctx context.Context, id string) ([]api.Approval, error) {
	list, err := v.s.store.Approvals(ctx, id)
	if err != nil {
		return nil, err
	}
	var out []api.Approval
	for _, a := range list {
		out = append(out, api.Approval{Approver: a.Approver, Key: a.Key, LogIndex: a.LogIndex, Time: a.Time})
	}
	return out, nil
}

func (v *Service) getHunt(ctx context.Context, id string) (store.Hunt, error) {
	if wire.ValidID(id) != nil {
		return store.Hunt{}, api.Errorf(http.StatusNotFound, "no hunt %q", id)
	}
	h, err := v.s.store.GetHunt(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Hunt{}, api.Errorf(http.StatusNotFound, "no hunt %q", id)
	}
	return h, err
}

// huntState is the state the API shows: a running or pending hunt past
// its expiry is "expired".
func huntState(h store.Hunt, now time.Time) string {
	if (h.State == store.HuntRunning || h.State == store.HuntPending) && now.After(h.Expires) {
		return "expired"
	}
	return h.State
}

func apiHunt(h store.Hunt, now time.Time) api.Hunt {
	return api.Hunt{
		ID:          h.ID,
		Name:        h.Name,
		State:       huntState(h, now),
		Target:      h.Target,
		Paths:       h.Paths,
		Exclude:     h.Exclude,
		Limits:      h.Limits,
		Why:         h.Why,
		CreatedBy:   h.CreatedBy,
		Created:     h.Created,
		Expires:     h.Expires,
		RulesSHA256: h.RulesSHA256,

		LogIndex:          h.LogIndex,
		LintClass:         h.LintClass,
		ApprovalsRequired: h.ApprovalsRequired,
	}
}

func apiProgress(p store.Progress) *api.Progress {
	states := map[string]int{}
	ack := 0
	for s, n := range p.States {
		if s != "" {
			ack += n
		}
		states[s] = n
	}
	return &api.Progress{
		Agents:       p.Agents,
		Acknowledged: ack,
		Done:         p.Done,
		States:       states,
		Results:      p.Results,
		FilesScanned: p.FilesScanned,
		FileErrors:   p.FileErrors,
	}
}

// CreateHunt validates a hunt, classifies its rules (yara/lint), appends
// its entry to the transparency log and then stores it, assigned to every
// agent whose labels match its target now (agents enrolled later are not
// added). A hunt that needs approvals waits in state "pending" until
// approvers other than its author approve it (ApproveHunt); one that needs
// none (Options.NoApprovals) is pushed to its agents at once. Agents that
// are offline get it when they next sync. A hunt that matches no agent is
// still created, with nothing to do.
func (v *Service) CreateHunt(ctx context.Context, by api.Operator, r api.HuntRequest) (api.Hunt, error) {
	if err := require(by, store.RoleHunter); err != nil {
		return api.Hunt{}, err
	}
	sel, life, err := validateHunt(&r)
	if err != nil {
		return api.Hunt{}, err
	}
	agents, err := v.s.store.ListAgents(ctx)
	if err != nil {
		return api.Hunt{}, err
	}
	var ids []string
	for _, a := range agents {
		if sel.Matches(a.Labels) {
			ids = append(ids, a.ID)
		}
	}
	now := v.now()
	h := store.Hunt{
		Hunt: wire.Hunt{
			ID:          newID(huntIDPrefix),
			Name:        r.Name,
			Rules:       r.Rules,
			RulesSHA256: rulesHash(r.Rules),
			Paths:       r.Paths,
			Exclude:     r.Exclude,
			Limits:      r.Limits,
			Target:      sel.String(),
			Why:         r.Why,
			CreatedBy:   by.Name,
			Created:     now,
			Expires:     now.Add(life),
		},
		State: store.HuntPending,
	}
	if err := h.Validate(); err != nil {
		return api.Hunt{}, api.Errorf(http.StatusBadRequest, "%v", err)
	}
	rep, err := lint.ClassifySource(rulesName, []byte(r.Rules))
	if err != nil {
		return api.Hunt{}, api.Errorf(http.StatusBadRequest, "rules: %v", err)
	}
	h.LintClass = string(rep.Class)
	h.ApprovalsRequired = v.s.o.MinApprovals
	if rep.Class == lint.Document {
		h.ApprovalsRequired = v.s.o.MinDocumentApprovals
	}
	if h.ApprovalsRequired == 0 {
		h.State = store.HuntRunning
	}
	e := translog.HuntEntryFromWire(&h.Hunt)
	e.Requester = by.Name
	e.LintClass = h.LintClass
	e.ApprovalsRequired = h.ApprovalsRequired
	entry, err := e.Encode()
	if err != nil {
		return api.Hunt{}, api.Errorf(http.StatusBadRequest, "hunt cannot be logged: %v", err)
	}
	// It must fit in one message to the agents, pushed or in a sync reply
	// with its log entry, its approvals and their proofs.
	if err := fitsSyncReply(h.Hunt, entry, h.ApprovalsRequired); err != nil {
		return api.Hunt{}, err
	}
	// The log first: a hunt in the store is always in the log.
	if h.LogIndex, err = v.s.tlog.appendEntry(ctx, translog.KindHunt, entry); err != nil {
		return api.Hunt{}, err
	}
	if err := v.s.store.CreateHunt(ctx, h, ids); err != nil {
		return api.Hunt{}, err
	}
	v.s.logf("hunt %s created by %s: %d agents, target %q, rules sha256 %s, lint class %s, log entry %d, %d approvals required",
		h.ID, by.Name, len(ids), h.Target, h.RulesSHA256, h.LintClass, h.LogIndex, h.ApprovalsRequired)
	if h.State == store.HuntRunning {
		v.s.pushHunt(h.Hunt, ids)
	}
	ah := apiHunt(h, now)
	ah.Rules = h.Rules
	ah.Entry = string(entry)
	states := map[string]int{}
	if len(ids) > 0 {
		states[""] = len(ids)
	}
	ah.Progress = &api.Progress{Agents: len(ids), States: states}
	return ah, nil
}

// Sizes for fitsSyncReply: a generous inclusion proof (a log of 2^63
// entries has proofs of 63 hashes) and approval entry.
const (
	maxProofHashes    = 64
	approvalEntrySize = 2 << 10
)

// fitsSyncReply checks that a hunt, with its log entry, its approvals and
// their proofs, fits in one sync reply.
func fitsSyncReply(h wire.Hunt, entry []byte, approvals int) error {
	proof := make([][]byte, maxProofHashes)
	for i := range proof {
		proof[i] = make([]byte, 32)
	}
	h.Log = &wire.HuntLog{Hunt: wire.LoggedEntry{Entry: entry, Inclusion: proof}}
	for range approvals {
		h.Log.Approvals = append(h.Log.Approvals, wire.LoggedEntry{Entry: make([]byte, approvalEntrySize), Inclusion: proof})
	}
	cp := make([]byte, 4<<10) // a checkpoint with a few cosignatures
	if _, err := wire.Encode(wire.SyncReply{Hunts: []wire.Hunt{h}, Checkpoint: cp, Consistency: proof}); err != nil {
		return api.Errorf(http.StatusBadRequest, "hunt too large to send to agents with its log proofs (over %d bytes): shorten the rules, paths or excludes", wire.MaxMessage)
	}
	return nil
}

// validateHunt checks a hunt request, normalizing r in place, and returns
// its target and lifetime.
func validateHunt(r *api.HuntRequest) (wire.Selector, time.Duration, error) {
	bad := func(format string, args ...any) (wire.Selector, time.Duration, error) {
		return nil, 0, api.Errorf(http.StatusBadRequest, format, args...)
	}
	r.Why = strings.TrimSpace(r.Why)
	if r.Why == "" {
		return bad("why is required: say why this hunt is needed")
	}
	if len(r.Why) > maxWhyLen {
		return bad("why is over %d bytes", maxWhyLen)
	}
	if len(r.Name) > maxNameLen {
		return bad("name is over %d bytes", maxNameLen)
	}
	if len(r.Paths) == 0 || len(r.Paths) > wire.MaxPaths {
		return bad("want 1-%d paths, got %d", wire.MaxPaths, len(r.Paths))
	}
	for _, p := range r.Paths {
		if err := checkHuntPath(p); err != nil {
			return bad("%v", err)
		}
	}
	if len(r.Exclude) > wire.MaxPaths {
		return bad("want at most %d exclude patterns", wire.MaxPaths)
	}
	for _, e := range r.Exclude {
		if e == "" || len(e) > maxPathLen || strings.ContainsRune(e, 0) {
			return bad("exclude pattern %q: must be 1-%d bytes without NUL", e, maxPathLen)
		}
		if _, err := path.Match(e, ""); err != nil {
			return bad("exclude pattern %q: %v", e, err)
		}
	}
	l := r.Limits
	if l.MaxFileSize < 0 || l.MaxFiles < 0 || l.PerFileTimeout < 0 || l.Timeout < 0 || l.MaxArchiveDepth < 0 {
		return bad("limits must not be negative")
	}
	sel, err := wire.ParseSelector(r.Target)
	if err != nil {
		return bad("target: %v", err)
	}
	life, err := parseExpiry("expires_in", r.ExpiresIn, defaultHuntExpiry, maxHuntExpiry)
	if err != nil {
		return nil, 0, err
	}
	if err := checkRules(r.Rules); err != nil {
		return nil, 0, err
	}
	return sel, life, nil
}

// rulesName is the file name compile errors of hunt rules carry.
const rulesName = "rules"

// checkRules compiles a hunt's rules. Includes are refused: they would read
// files on the server (and on every agent).
func checkRules(rules string) error {
	if rules == "" || len(rules) > wire.MaxRulesSize {
		return api.Errorf(http.StatusBadRequest, "rules must be 1-%d bytes, got %d", wire.MaxRulesSize, len(rules))
	}
	f, err := syntax.Parse(rulesName, []byte(rules))
	if err == nil {
		for _, d := range f.Decls {
			if inc, ok := d.(*syntax.Include); ok {
				p := inc.Position()
				return api.Errorf(http.StatusBadRequest, "%s:%d:%d: error: include is not allowed in hunt rules: put the rules in one source", rulesName, p.Line, p.Col)
			}
		}
	}
	c := yara.NewCompiler()
	if err := c.AddSource(rulesName, []byte(rules), ""); err != nil {
		return api.Errorf(http.StatusBadRequest, "rules do not compile:\n%v", err)
	}
	if _, err := c.Rules(); err != nil {
		return api.Errorf(http.StatusBadRequest, "rules do not compile:\n%v", err)
	}
	return nil
}

// checkHuntPath accepts absolute, clean paths: "/x/y" for Unix agents,
// `C:\x\y` or `\\host\share\x` for Windows agents.
func checkHuntPath(p string) error {
	if p == "" || len(p) > maxPathLen || strings.ContainsRune(p, 0) {
		return fmt.Errorf("path %q: must be 1-%d bytes without NUL", p, maxPathLen)
	}
	if strings.HasPrefix(p, "/") {
		if path.Clean(p) != p {
			return fmt.Errorf("path %q is not clean (want %q)", p, path.Clean(p))
		}
		return nil
	}
	var rest string
	switch {
	case len(p) >= 3 && isLetter(p[0]) && p[1] == ':' && (p[2] == '\\' || p[2] == '/'):
		rest = p[3:]
	case strings.HasPrefix(p, `\\`):
		rest = p[2:]
		if rest == "" {
			return fmt.Errorf("path %q: no host", p)
		}
	default:
		return fmt.Errorf("path %q is not absolute", p)
	}
	if rest == "" {
		return nil
	}
	for _, el := range strings.FieldsFunc(rest, func(c rune) bool { return c == '\\' || c == '/' }) {
		if el == "." || el == ".." {
			return fmt.Errorf("path %q is not clean (has %q)", p, el)
		}
	}
	if strings.Contains(rest, `\\`) || strings.Contains(rest, "//") || strings.HasSuffix(rest, `\`) || strings.HasSuffix(rest, "/") {
		return fmt.Errorf("path %q is not clean", p)
	}
	return nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// CancelHunt cancels a running hunt and tells its agents to stop.
func (v *Service) CancelHunt(ctx context.Context, by api.Operator, id string) (api.Hunt, error) {
	if err := require(by, store.RoleHunter); err != nil {
		return api.Hunt{}, err
	}
	h, err := v.getHunt(ctx, id)
	if err != nil {
		return api.Hunt{}, err
	}
	if h.State == store.HuntCanceled {
		return api.Hunt{}, api.Errorf(http.StatusConflict, "hunt %s is already canceled", id)
	}
	if err := v.s.store.SetHuntState(ctx, id, store.HuntCanceled); err != nil {
		return api.Hunt{}, err
	}
	h.State = store.HuntCanceled
	as, err := v.s.store.Assignments(ctx, id)
	if err != nil {
		return api.Hunt{}, err
	}
	var ids []string
	for _, a := range as {
		if !wire.Terminal(a.State) {
			ids = append(ids, a.AgentID)
		}
	}
	v.s.logf("hunt %s canceled by %s: telling %d agents", id, by.Name, len(ids))
	v.s.pushCancel(id, ids)
	return v.Hunt(ctx, by, id)
}

// Assignments lists each agent's part of a hunt, ordered by agent ID.
func (v *Service) Assignments(ctx context.Context, by api.Operator, id string) ([]api.Assignment, error) {
	if err := require(by, store.RoleViewer); err != nil {
		return nil, err
	}
	if _, err := v.getHunt(ctx, id); err != nil {
		return nil, err
	}
	as, err := v.s.store.Assignments(ctx, id)
	if err != nil {
		return nil, err
	}
	hosts, err := v.hostnames(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.Assignment, 0, len(as))
	for _, a := range as {
		out = append(out, api.Assignment{
			AgentID:      a.AgentID,
			Hostname:     hosts[a.AgentID],
			State:        a.State,
			Error:        a.Error,
			FilesScanned: a.FilesScanned,
			FilesMatched: a.FilesMatched,
			FilesSkipped: a.FilesSkipped,
			FileErrors:   a.FileErrors,
			Bytes:        a.Bytes,
			Started:      a.Started,
			Updated:      a.Updated,
		})
	}
	return out, nil
}

// hostnames maps agent IDs to host names.
func (v *Service) hostnames(ctx context.Context) (map[string]string, error) {
	list, err := v.s.store.ListAgents(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(list))
	for _, a := range list {
		m[a.ID] = a.Hostname
	}
	return m, nil
}

// Results returns one page of a hunt's results. f.Limit 0 means 100; at
// most 1000. More is true when at least one row follows the page.
func (v *Service) Results(ctx context.Context, by api.Operator, id string, f store.ResultFilter) (api.ResultPage, error) {
	if err := require(by, store.RoleViewer); err != nil {
		return api.ResultPage{}, err
	}
	if _, err := v.getHunt(ctx, id); err != nil {
		return api.ResultPage{}, err
	}
	if f.Limit < 0 || f.Limit > maxResultPage {
		return api.ResultPage{}, api.Errorf(http.StatusBadRequest, "limit must be 0-%d", maxResultPage)
	}
	if f.After < 0 {
		return api.ResultPage{}, api.Errorf(http.StatusBadRequest, "after must not be negative")
	}
	if f.Limit == 0 {
		f.Limit = defaultResultPage
	}
	rows, next, err := v.s.store.Results(ctx, id, f)
	if err != nil {
		return api.ResultPage{}, err
	}
	// Host names of the page's agents only: a page is small, a fleet not.
	hosts := map[string]string{}
	for _, r := range rows {
		if _, ok := hosts[r.AgentID]; ok {
			continue
		}
		a, err := v.s.store.GetAgent(ctx, r.AgentID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return api.ResultPage{}, err
		}
		hosts[r.AgentID] = a.Hostname
	}
	page := api.ResultPage{Results: make([]api.Result, 0, len(rows)), Next: f.After}
	for _, r := range rows {
		page.Results = append(page.Results, apiResult(r, hosts))
	}
	if len(rows) > 0 {
		page.Next = next
	}
	if len(rows) == f.Limit {
		probe := f
		probe.After, probe.Limit = page.Next, 1
		more, _, err := v.s.store.Results(ctx, id, probe)
		if err != nil {
			return api.ResultPage{}, err
		}
		page.More = len(more) > 0
	}
	return page, nil
}

func apiResult(r store.Result, hosts map[string]string) api.Result {
	return api.Result{
		HuntID:    r.HuntID,
		AgentID:   r.AgentID,
		Hostname:  hosts[r.AgentID],
		Path:      r.Path,
		Size:      r.Size,
		SHA256:    r.SHA256,
		MD5:       r.MD5,
		Rule:      r.Rule,
		Namespace: r.Namespace,
		Tags:      r.Tags,
		Strings:   r.Strings,
		Received:  r.Received,
	}
}
