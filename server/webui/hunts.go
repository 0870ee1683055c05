package webui

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"vigil/server/api"
	"vigil/server/store"
	"vigil/wire"
)

// huntsPage lists hunts, newest first.
func (u *ui) huntsPage(w http.ResponseWriter, r *http.Request, q *request) {
	hunts, err := u.b.Hunts(q.ctx, q.op)
	if err != nil {
		u.fail(w, r, q, err)
		return
	}
	u.render(w, r, q, http.StatusOK, "hunts.html", "Hunts", "hunts", hunts)
}

// huntForm is the new-hunt form as entered, kept to re-render it.
type huntForm struct {
	Name           string
	Rules          string
	Target         string
	Paths          string // one per line
	Exclude        string // one per line
	ExpiresIn      string
	MaxFileSize    string // bytes, or with a K/M/G suffix (1024-based)
	PerFileTimeout string // Go duration
	Archives       bool
	Why            string
}

// newHuntData is the new-hunt page's data.
type newHuntData struct {
	Form  huntForm
	Error string
}

func huntFormFrom(r *http.Request) huntForm {
	f := r.PostForm
	return huntForm{
		Name:           f.Get("name"),
		Rules:          strings.ReplaceAll(f.Get("rules"), "\r\n", "\n"), // browsers send CRLF
		Target:         f.Get("target"),
		Paths:          f.Get("paths"),
		Exclude:        f.Get("exclude"),
		ExpiresIn:      f.Get("expires_in"),
		MaxFileSize:    f.Get("max_file_size"),
		PerFileTimeout: f.Get("per_file_timeout"),
		Archives:       f.Get("archives") != "",
		Why:            f.Get("why"),
	}
}

// request turns the form into an API request; the backend checks the rest
// (rules compile, paths absolute, why present).
func (f huntForm) request() (api.HuntRequest, error) {
	req := api.HuntRequest{
		Name:      strings.TrimSpace(f.Name),
		Rules:     f.Rules,
		Target:    strings.TrimSpace(f.Target),
		Paths:     lines(f.Paths),
		Exclude:   lines(f.Exclude),
		ExpiresIn: strings.TrimSpace(f.ExpiresIn),
		Why:       strings.TrimSpace(f.Why),
	}
	req.Limits.Archives = f.Archives
	size, err := parseSize(f.MaxFileSize)
	if err != nil {
		return req, api.Errorf(http.StatusBadRequest, "max file size: %v", err)
	}
	req.Limits.MaxFileSize = size
	if s := strings.TrimSpace(f.PerFileTimeout); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return req, api.Errorf(http.StatusBadRequest, "per-file timeout: want a duration such as 30s, not %q", s)
		}
		req.Limits.PerFileTimeout = d
	}
	return req, nil
}

// lines splits s into its non-empty trimmed lines.
func lines(s string) []string {
	var out []string
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// parseSize parses "", "1048576", "512K", "10MB", "1GiB" (K, M, G are 1024-based).
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	num := strings.TrimRightFunc(s, func(c rune) bool { return c < '0' || c > '9' })
	unit := strings.ToUpper(strings.TrimSpace(s[len(num):]))
	mult := map[string]int64{"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "KIB": 1 << 10,
		"M": 1 << 20, "MB": 1 << 20, "MIB": 1 << 20, "G": 1 << 30, "GB": 1 << 30, "GIB": 1 << 30}[unit]
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || mult == 0 || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("want bytes, optionally with K, M or G, not %q", s)
	}
	return n * mult, nil
}

// newHuntPage shows the empty form.
func (u *ui) newHuntPage(w http.ResponseWriter, r *http.Request, q *request) {
	u.render(w, r, q, http.StatusOK, "hunt_new.html", "New hunt", "hunts",
		newHuntData{Form: huntForm{ExpiresIn: "24h"}})
}

// createHunt creates the hunt, or shows the form again with the error.
func (u *ui) createHunt(w http.ResponseWriter, r *http.Request, q *request) {
	f := huntFormFrom(r)
	req, err := f.request()
	var h api.Hunt
	if err == nil {
		h, err = u.b.CreateHunt(q.ctx, q.op, req)
	}
	if err != nil {
		if c := api.Code(err); c == http.StatusBadRequest || c == http.StatusConflict {
			u.render(w, r, q, c, "hunt_new.html", "New hunt", "hunts", newHuntData{Form: f, Error: err.Error()})
			return
		}
		u.fail(w, r, q, err)
		return
	}
	http.Redirect(w, r, "/hunts/"+url.PathEscape(h.ID), http.StatusSeeOther)
}

// huntID returns the {id} path value, or answers 404 and returns "".
func (u *ui) huntID(w http.ResponseWriter, r *http.Request, q *request) string {
	id := r.PathValue("id")
	if wire.ValidID(id) != nil {
		u.errorPage(w, r, q, http.StatusNotFound, "No such hunt.")
		return ""
	}
	return id
}

// resultQuery is the results table's filter and cursor, from the query string.
type resultQuery struct {
	Agent, Rule, Path string
	After             int64
	Limit             int // 0 = resultsPerPage
}

func parseResultQuery(v url.Values) (resultQuery, error) {
	rq := resultQuery{
		Agent: strings.TrimSpace(v.Get("agent")),
		Rule:  strings.TrimSpace(v.Get("rule")),
		Path:  v.Get("path"),
	}
	if s := v.Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return rq, api.Errorf(http.StatusBadRequest, "after: want a cursor from a \"next\" link, not %q", s)
		}
		rq.After = n
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxResultsPage {
			return rq, api.Errorf(http.StatusBadRequest, "limit: want 1 to %d, not %q", maxResultsPage, s)
		}
		rq.Limit = n
	}
	return rq, nil
}

// filter is the store filter for the backend.
func (rq resultQuery) filter() store.ResultFilter {
	limit := rq.Limit
	if limit == 0 {
		limit = resultsPerPage
	}
	return store.ResultFilter{AgentID: rq.Agent, Rule: rq.Rule, Path: rq.Path, After: rq.After, Limit: limit}
}

// query encodes rq with the cursor after.
func (rq resultQuery) query(after int64) string {
	v := url.Values{}
	if rq.Agent != "" {
		v.Set("agent", rq.Agent)
	}
	if rq.Rule != "" {
		v.Set("rule", rq.Rule)
	}
	if rq.Path != "" {
		v.Set("path", rq.Path)
	}
	if after != 0 {
		v.Set("after", strconv.FormatInt(after, 10))
	}
	if rq.Limit != 0 {
		v.Set("limit", strconv.Itoa(rq.Limit))
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// liveData is the part of the hunt page that refreshes itself.
type liveData struct {
	Hunt        api.Hunt
	Progress    api.Progress
	Assignments []api.Assignment
	Results     api.ResultPage
	Query       resultQuery
	URL         string // of this fragment, with the same query
	NextURL     string // "" on the last page
	FirstURL    string // "" on the first page
	Refresh     bool   // the hunt waits for approval, or runs and not every agent is done
	AllDone     bool   // every assigned agent is in a terminal state
	Pending     bool   // the hunt waits for approvals
	Missing     int    // approvals still needed
	Approve     string // the command an approver runs on their own machine
}

// ApproverKeyPath is the approval key's path shown in the approve command.
const ApproverKeyPath = "~/.config/vigil/approver.key"

// approveCommand is what an approver runs to approve hunt id: the UI cannot
// sign, since approval keys never reach the server.
func approveCommand(id string) string {
	return "vigil hunt approve " + shellQuote(id) + " --key " + ApproverKeyPath
}

// huntData is the hunt page's data.
type huntData struct {
	Hunt api.Hunt
	Live liveData
}

// live loads the hunt and everything the live fragment shows.
func (u *ui) live(q *request, id string, rq resultQuery) (liveData, error) {
	h, err := u.b.Hunt(q.ctx, q.op, id)
	if err != nil {
		return liveData{}, err
	}
	as, err := u.b.Assignments(q.ctx, q.op, id)
	if err != nil {
		return liveData{}, err
	}
	page, err := u.b.Results(q.ctx, q.op, id, rq.filter())
	if err != nil {
		return liveData{}, err
	}
	d := liveData{Hunt: h, Assignments: as, Results: page, Query: rq}
	if h.Progress != nil {
		d.Progress = *h.Progress
	}
	base := "/hunts/" + url.PathEscape(id)
	d.URL = base + "/live" + rq.query(rq.After)
	if page.More {
		d.NextURL = base + rq.query(page.Next)
	}
	if rq.After != 0 {
		d.FirstURL = base + rq.query(0)
	}
	d.AllDone = d.Progress.Agents > 0 && d.Progress.Done >= d.Progress.Agents
	d.Pending = h.State == store.HuntPending
	d.Missing = max(h.ApprovalsRequired-len(h.Approvals), 0)
	d.Approve = approveCommand(h.ID)
	// A pending hunt refreshes too: it starts once approved.
	d.Refresh = d.Pending || h.State == store.HuntRunning && d.Progress.Done < d.Progress.Agents
	return d, nil
}

// huntPage shows one hunt with its progress, agents and results.
func (u *ui) huntPage(w http.ResponseWriter, r *http.Request, q *request) {
	id := u.huntID(w, r, q)
	if id == "" {
		return
	}
	rq, err := parseResultQuery(r.URL.Query())
	if err != nil {
		u.fail(w, r, q, err)
		return
	}
	d, err := u.live(q, id, rq)
	if err != nil {
		u.fail(w, r, q, err)
		return
	}
	title := "Hunt " + d.Hunt.ID
	if d.Hunt.Name != "" {
		title = "Hunt " + d.Hunt.Name
	}
	u.render(w, r, q, http.StatusOK, "hunt.html", title, "hunts", huntData{Hunt: d.Hunt, Live: d})
}

// huntLive is the fragment the hunt page's script fetches every 2 s.
func (u *ui) huntLive(w http.ResponseWriter, r *http.Request, q *request) {
	id := u.huntID(w, r, q)
	if id == "" {
		return
	}
	rq, err := parseResultQuery(r.URL.Query())
	if err != nil {
		u.fail(w, r, q, err)
		return
	}
	d, err := u.live(q, id, rq)
	if err != nil {
		u.fail(w, r, q, err)
		return
	}
	u.execute(w, r, http.StatusOK, "hunt.html", "live", d)
}

// cancelHunt cancels the hunt and shows it again.
func (u *ui) cancelHunt(w http.ResponseWriter, r *http.Request, q *request) {
	id := u.huntID(w, r, q)
	if id == "" {
		return
	}
	if _, err := u.b.CancelHunt(q.ctx, q.op, id); err != nil {
		u.fail(w, r, q, err)
		return
	}
	http.Redirect(w, r, "/hunts/"+url.PathEscape(id), http.StatusSeeOther)
}

// exportWriter sets the download headers on the first write, so that an
// export failing before any output can still get an error page.
type exportWriter struct {
	w       http.ResponseWriter
	header  func()
	started bool
}

func (e *exportWriter) Write(p []byte) (int, error) {
	if !e.started {
		e.started = true
		e.header()
		e.w.WriteHeader(http.StatusOK)
	}
	return e.w.Write(p)
}

// export streams every result of the hunt as a download.
func (u *ui) export(w http.ResponseWriter, r *http.Request, q *request) {
	id := u.huntID(w, r, q)
	if id == "" {
		return
	}
	format := r.URL.Query().Get("format")
	var ctype string
	switch format {
	case "jsonl":
		ctype = "application/x-ndjson; charset=utf-8"
	case "csv":
		ctype = "text/csv; charset=utf-8"
	default:
		u.errorPage(w, r, q, http.StatusBadRequest, "Export format: want jsonl or csv.")
		return
	}
	ew := &exportWriter{w: w, header: func() {
		h := w.Header()
		h.Set("Content-Type", ctype)
		// id is a wire.ValidID: [a-z0-9_-] only, safe in a quoted filename.
		h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="hunt-%s.%s"`, id, format))
	}}
	// Exports may be long: no backendTimeout here, only the request's context.
	err := u.b.Export(q.ctx, q.op, id, format, ew)
	if err != nil {
		if !ew.started {
			u.fail(w, r, q, err)
			return
		}
		// Part of the export is sent: abort the response so the client
		// sees a truncated transfer rather than a short but valid file.
		u.o.Logf("webui: %s %s: export failed midway: %v", r.Method, r.URL.Path, err)
		panic(http.ErrAbortHandler)
	}
	if !ew.started {
		ew.Write(nil)
	}
}
