package webui

import (
	"context"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"vigil/server/api"
	"vigil/server/store"
)

// tmplEscape is what html/template makes of a note key in text ("+" is escaped).
func tmplEscape(s string) string {
	return strings.ReplaceAll(template.HTMLEscapeString(s), "+", "&#43;")
}

// logRowRE matches one log table row's opening tag.
var logRowRE = regexp.MustCompile(`<tr class="log-row" id="entry-(\d+)" data-index="(\d+)" data-kind="([a-z]+)">`)

// logRows returns the (index, kind) of every row of a log page, in page order.
func logRows(t *testing.T, body string) (idx []int64, kinds []string) {
	t.Helper()
	for _, m := range logRowRE.FindAllStringSubmatch(body, -1) {
		if m[1] != m[2] {
			t.Errorf("row id entry-%s has data-index %s", m[1], m[2])
		}
		n, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		idx = append(idx, n)
		kinds = append(kinds, m[3])
	}
	return idx, kinds
}

func TestLogPublic(t *testing.T) {
	e := newEnv(t, Options{})
	anon := e.client()
	r := anon.get("/log")
	if r.code != http.StatusOK {
		t.Fatalf("GET /log without login: %d\n%s", r.code, r.body)
	}
	tree, err := e.fb.log.Tree(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantContains(t, "/log", r.body,
		`<dd id="log-key" class="mono small">`+tmplEscape(e.fb.logKey)+`</dd>`,
		`<dd id="log-origin" class="mono">vigil-log</dd>`,
		`<div class="log-witness">`+tmplEscape(e.fb.witnessKey)+`</div>`,
		`<dd id="checkpoint-size">2</dd>`,
		`<dd id="checkpoint-root" class="mono small">`+tmplEscape(base64.StdEncoding.EncodeToString(tree.Hash[:]))+`</dd>`,
		`<li class="signer" data-name="vigil-log" data-role="log" data-verified="true">`,
		`<li class="signer" data-name="witness-1" data-role="witness" data-verified="true">`,
		// The hunt entry.
		`<a href="/hunts/h-webshells" class="entry-hunt-id">h-webshells</a>`,
		`<dd class="entry-requester">alice</dd>`,
		`<dd class="entry-why">INC-2211: PHP webshell dropped on a Berlin web server</dd>`,
		`<dd class="mono entry-target">os=linux</dd>`,
		`<div class="entry-path">/var/www</div><div class="entry-path">/tmp</div>`,
		`<dd class="entry-lint-class" data-class="code">`,
		`<dd class="entry-approvals-required">1</dd>`,
		`<dd class="entry-created">2026-11-25 18:00:00Z</dd>`,
		`<dd class="entry-expires">2026-11-26 18:00:00Z</dd>`,
		// The approval entry.
		`<dd class="entry-approver">bob</dd>`,
		`<a href="/log?before=1#entry-0" class="entry-hunt-index" data-index="0">#0</a>`,
		// Raw canonical text.
		`<pre class="raw-entry entry-raw">vigil-log-entry v1`+"\nkind hunt\nhunt-id h-webshells\n",
		// Anonymous navigation.
		`id="nav-log" class="active"`, `id="nav-login"`)
	if strings.Contains(r.body, `id="checkpoint-error"`) {
		t.Errorf("a valid checkpoint reported a problem:\n%s", r.body)
	}
	for _, s := range []string{`id="nav-hunts"`, `id="logout"`, `name="csrf"`} {
		if strings.Contains(r.body, s) {
			t.Errorf("anonymous /log shows %s", s)
		}
	}
	idx, kinds := logRows(t, r.body)
	if fmt.Sprint(idx, kinds) != "[1 0] [approval hunt]" {
		t.Errorf("rows %v %v, want newest first: 1 approval, 0 hunt", idx, kinds)
	}
	if strings.Contains(r.body, `id="log-older"`) || strings.Contains(r.body, `id="log-newer"`) {
		t.Error("a single page has paging links")
	}

	// Logged in, the page has the usual navigation.
	c := e.login(viewerToken)
	r = c.get("/log")
	wantContains(t, "/log logged in", r.body, `id="nav-hunts"`, `id="operator-name"`, `id="nav-log" class="active"`, `id="logout"`)
	// A dead session is dropped, and the page still shows.
	e.fb.mu.Lock()
	op := e.fb.operators[viewerToken]
	op.Disabled = true
	e.fb.operators[viewerToken] = op
	e.fb.mu.Unlock()
	r = c.get("/log")
	if r.code != http.StatusOK || strings.Contains(r.body, `id="nav-hunts"`) || !strings.Contains(r.body, `id="checkpoint-size"`) {
		t.Errorf("/log with a disabled operator's session: %d\n%s", r.code, r.body)
	}
	wantRedirect(t, "/hunts after the session was dropped", c.get("/hunts"), "/login")

	// Every page links to the log.
	wantContains(t, "login page", anon.get("/login").body, `href="/log" id="nav-log"`)
}

func TestLogEmpty(t *testing.T) {
	e := newEnv(t, Options{})
	e.fb.mu.Lock()
	e.fb.initLog() // a fresh, empty log
	e.fb.mu.Unlock()
	r := e.client().get("/log")
	if r.code != http.StatusOK {
		t.Fatalf("empty log: %d", r.code)
	}
	wantContains(t, "empty log", r.body, `id="log-empty"`, "The log is empty.", "The log has no checkpoint yet.")
	e.fb.mu.Lock()
	calls := e.fb.logEntriesCalls
	e.fb.mu.Unlock()
	if calls != 0 {
		t.Errorf("LogEntries called %d times for an empty log", calls)
	}
}

func TestLogPaging(t *testing.T) {
	e := newEnv(t, Options{})
	e.fb.addRuleSets(120) // indexes 2..121
	c := e.client()
	check := func(q string, first, last int64, newer, older string) {
		t.Helper()
		r := c.get("/log" + q)
		if r.code != http.StatusOK {
			t.Fatalf("/log%s: %d\n%s", q, r.code, r.body)
		}
		idx, _ := logRows(t, r.body)
		if len(idx) == 0 || idx[0] != first || idx[len(idx)-1] != last || int64(len(idx)) != first-last+1 {
			t.Errorf("/log%s: rows %v, want %d down to %d", q, idx, first, last)
		}
		for i := 1; i < len(idx); i++ {
			if idx[i] != idx[i-1]-1 {
				t.Errorf("/log%s: rows not newest first: %v", q, idx)
				break
			}
		}
		for id, want := range map[string]string{"log-newer": newer, "log-older": older} {
			m := regexp.MustCompile(`href="([^"]*)" id="` + id + `"`).FindStringSubmatch(r.body)
			switch {
			case want == "" && m != nil:
				t.Errorf("/log%s: unexpected %s link %s", q, id, m[1])
			case want != "" && (m == nil || m[1] != want):
				t.Errorf("/log%s: %s link %v, want %s", q, id, m, want)
			}
		}
		wantContains(t, "/log"+q, r.body, `<dd id="checkpoint-size">122</dd>`,
			fmt.Sprintf(`#%d to #%d of 122, newest first`, first, last))
	}
	check("", 121, 72, "", "/log?before=72")
	check("?before=72", 71, 22, "/log?before=122", "/log?before=22")
	check("?before=22", 21, 0, "/log?before=72", "")
	check("?before=5&limit=3", 4, 2, "/log?before=8&amp;limit=3", "/log?before=2&amp;limit=3")
	check("?before=100000", 121, 72, "", "/log?before=72") // past the end: the newest
	// Rule set entries are decoded.
	wantContains(t, "rule sets", c.get("/log?before=3&limit=1").body, `data-kind="ruleset"`,
		`<dd class="entry-ruleset-name">set-0</dd>`, `<dd class="entry-publisher">alice</dd>`)
	// Bad cursors are the caller's error.
	for _, q := range []string{"?before=-1", "?before=x", "?limit=0", "?limit=1001", "?limit=ten"} {
		if r := c.get("/log" + q); r.code != http.StatusBadRequest || !strings.Contains(r.body, `id="error-message"`) {
			t.Errorf("/log%s: %d, want 400", q, r.code)
		}
	}
}

func TestLogXSS(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.login(adminToken)
	r := c.post("/hunts/new", url.Values{"csrf": {c.csrf}, "rules": {"rule a { condition: true }"},
		"name":  {`<b>n</b>`},
		"paths": {"/tmp/<img src=x onerror=alert(8)>\n/srv/\"><script>alert(9)</script>"},
		"why":   {`<script>alert(7)</script>`}, "target": {"site=berlin"}})
	loc := r.hdr.Get("Location")
	if r.code != http.StatusSeeOther || loc == "" {
		t.Fatalf("create: %d\n%s", r.code, r.body)
	}
	for _, p := range []string{"/log", loc, loc + "/live", "/hunts"} {
		body := c.get(p).body
		for _, bad := range []string{"<script>alert", "<img src=x", "<b>n</b>", `"><script`} {
			if strings.Contains(body, bad) {
				t.Errorf("%s: unescaped %q", p, bad)
			}
		}
	}
	body := e.client().get("/log").body
	wantContains(t, "log entry", body,
		`<dd class="entry-why">&lt;script&gt;alert(7)&lt;/script&gt;</dd>`,
		`<div class="entry-path">/tmp/&lt;img src=x onerror=alert(8)&gt;</div>`,
		`<div class="entry-path">/srv/&#34;&gt;&lt;script&gt;alert(9)&lt;/script&gt;</div>`,
		`<span class="entry-hunt-name">&lt;b&gt;n&lt;/b&gt;</span>`,
		"why &lt;script&gt;alert(7)&lt;/script&gt;\n") // the raw canonical text
	wantContains(t, "hunt page", c.get(loc).body, "hunt-id h-1\n", `id="hunt-entry"`)
}

func TestLogErrors(t *testing.T) {
	e := newEnv(t, Options{})
	e.fb.mu.Lock()
	e.fb.failLog = errInternal
	e.fb.mu.Unlock()
	r := e.client().get("/log")
	if r.code != http.StatusInternalServerError || strings.Contains(r.body, "database is locked") {
		t.Errorf("backend failure: %d\n%s", r.code, r.body)
	}
	if !strings.Contains(e.logs.String(), "database is locked") {
		t.Error("the backend failure was not logged")
	}
	e.fb.mu.Lock()
	e.fb.failLog = api.Errorf(http.StatusServiceUnavailable, "log unavailable")
	e.fb.mu.Unlock()
	if r := e.client().get("/log"); r.code != http.StatusInternalServerError {
		t.Errorf("5xx from the backend: %d", r.code)
	}
}

func TestReadCheckpoint(t *testing.T) {
	fb := newFakeBackend()
	defer fb.close()
	ctx := context.Background()
	key, err := fb.LogKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := fb.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v := readCheckpoint(cp, key)
	if v.Error != "" || v.Size != 2 || v.Origin != "vigil-log" || len(v.Signers) != 2 {
		t.Fatalf("valid checkpoint: %+v", v)
	}
	for _, s := range v.Signers {
		if !s.Verified || len(s.Hash) != 8 {
			t.Errorf("signer %+v", s)
		}
	}

	// The size changed after signing: no signature verifies.
	forged := strings.Replace(string(cp), "\n2\n", "\n3\n", 1)
	v = readCheckpoint([]byte(forged), key)
	if v.Size != 3 || !strings.Contains(v.Error, `the log signature by "vigil-log" does not verify`) ||
		!strings.Contains(v.Error, "no valid signature by the log key") {
		t.Errorf("forged size: %+v", v)
	}
	for _, s := range v.Signers {
		if s.Verified {
			t.Errorf("forged checkpoint: %s verified", s.Name)
		}
	}

	// Signed by a key the server did not name.
	_, other, err := note.GenerateKey(nil, "mallory")
	if err != nil {
		t.Fatal(err)
	}
	v = readCheckpoint(cp, api.LogKey{Key: other, Origin: "vigil-log"})
	if !strings.Contains(v.Error, "no valid signature by the log key") {
		t.Errorf("unknown keys: %+v", v)
	}
	for _, s := range v.Signers {
		if s.Role != signerUnknown || s.Verified {
			t.Errorf("unknown keys: signer %+v", s)
		}
	}
	// Another origin.
	if v := readCheckpoint(cp, api.LogKey{Key: key.Key, Origin: "other-log"}); !strings.Contains(v.Error, `origin "vigil-log" is not the log's "other-log"`) {
		t.Errorf("origin mismatch: %+v", v)
	}
	// Garbage never panics and always says why.
	for _, bad := range []string{"", "\n", "no blank line", "a\n\n— x\n", "vigil-log\n2\nAAAA\n\n— vigil-log !!!\n", "\n\n\n\n"} {
		if v := readCheckpoint([]byte(bad), key); v.Error == "" {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestDecodeEntry(t *testing.T) {
	for _, e := range []api.LogEntry{
		{Index: 0, Kind: "hunt", Entry: "vigil-log-entry v1\nkind hunt\n"},
		{Index: 1, Kind: "approval", Entry: "garbage"},
		{Index: 2, Kind: "future-kind", Entry: "vigil-log-entry v1\nkind future-kind\n"},
	} {
		v := decodeEntry(e)
		if v.Error == "" || v.Hunt != nil || v.Approval != nil || v.RuleSet != nil || v.Raw != e.Entry {
			t.Errorf("%+v decoded as %+v", e, v)
		}
	}
}

func TestPendingHunt(t *testing.T) {
	e := newEnv(t, Options{})
	e.fb.approvals = 1
	c := e.login(adminToken)
	create := func(rules string) string {
		t.Helper()
		r := c.post("/hunts/new", url.Values{"csrf": {c.csrf}, "rules": {rules}, "paths": {"/srv"}, "why": {"test"}, "target": {"site=berlin"}})
		if r.code != http.StatusSeeOther {
			t.Fatalf("create: %d\n%s", r.code, r.body)
		}
		return r.hdr.Get("Location")
	}
	loc := create("rule a { strings: $a = { 4D 5A 90 00 } condition: $a }")
	id := strings.TrimPrefix(loc, "/hunts/")
	r := c.get(loc)
	wantContains(t, "pending hunt", r.body,
		`<section class="card pending" id="hunt-pending" data-missing="1">`,
		"Waiting for 1 more approval (0 of 1)",
		`<pre id="approve-command">vigil hunt approve `+id+` --key ~/.config/vigil/approver.key</pre>`,
		`<span id="hunt-state" class="badge state-pending">pending</span>`,
		`data-refresh="true"`, `data-state="pending"`,
		`<dd id="hunt-log-index" data-index="2"><a href="/log?before=3#entry-2" id="hunt-log-link">#2</a>`,
		`<dd id="hunt-lint-class" data-class="code"><span class="badge lint-other">code search</span>`,
		`<dd id="hunt-approvals-required">1</dd>`,
		`id="approvals-empty" class="empty">No approvals yet.`,
		`id="cancel-hunt"`, // a pending hunt can be canceled
		"kind hunt\nhunt-id "+id+"\n")
	if strings.Contains(r.body, "lint-document") {
		t.Error("a code search has the document warning")
	}
	// The hunts list.
	wantContains(t, "hunts list", c.get("/hunts").body,
		`<td class="hunt-approvals" data-approvals="0" data-required="1">0/1 <span class="small">waiting</span></td>`,
		`<td class="hunt-lint-class" data-class="code">`)
	// The log lists it, anonymously.
	idx, kinds := logRows(t, e.client().get("/log").body)
	if len(idx) == 0 || idx[0] != 2 || kinds[0] != "hunt" {
		t.Errorf("log rows %v %v: want the new hunt first", idx, kinds)
	}

	// Approved: it runs, the approval is listed, the command is gone.
	if err := e.fb.approve(id, "bob"); err != nil {
		t.Fatal(err)
	}
	r = c.get(loc + "/live")
	if strings.Contains(r.body, `id="hunt-pending"`) || strings.Contains(r.body, `id="approve-command"`) {
		t.Error("an approved hunt still shows the approval request")
	}
	wantContains(t, "approved hunt", r.body, `data-state="running"`,
		`<tr class="approval-row" data-approver="bob" data-index="3">`,
		`<td class="approval-approver">bob</td>`,
		`<td class="approval-index"><a href="/log?before=4#entry-3">#3</a></td>`,
		`<td class="mono small approval-key">bob&#43;`, `1 of 1 required`)
	wantContains(t, "hunts list after approval", c.get("/hunts").body,
		`<td class="hunt-approvals" data-approvals="1" data-required="1">1/1</td>`)
	body := e.client().get("/log").body
	wantContains(t, "log after approval", body, `<tr class="log-row" id="entry-3" data-index="3" data-kind="approval">`,
		`<a href="/log?before=3#entry-2" class="entry-hunt-index" data-index="2">#2</a> <span class="mono entry-hunt-id">`+id+`</span>`)

	// A document search: the warning badge, and two approvals needed.
	loc = create(`rule salary { strings: $a = "quarterly salary review" condition: $a }`)
	r = c.get(loc)
	wantContains(t, "document hunt", r.body,
		`<dd id="hunt-lint-class" data-class="document"><span class="badge lint-document">keyword/document search</span>`,
		"Waiting for 2 more approvals (0 of 2)", `<dd id="hunt-approvals-required">2</dd>`)
	wantContains(t, "hunts list", c.get("/hunts").body,
		`<td class="hunt-lint-class" data-class="document"><span class="badge lint-document">keyword/document search</span></td>`)
	wantContains(t, "log", e.client().get("/log").body,
		`<dd class="entry-lint-class" data-class="document"><span class="badge lint-document">keyword/document search</span></dd>`)
	if err := e.fb.approve(strings.TrimPrefix(loc, "/hunts/"), "bob"); err != nil {
		t.Fatal(err)
	}
	wantContains(t, "document hunt, one approval", c.get(loc+"/live").body, "Waiting for 1 more approval (1 of 2)", `data-state="pending"`)

	// Canceling a pending hunt works like a running one.
	wantRedirect(t, "cancel pending", c.post(loc+"/cancel", url.Values{"csrf": {c.csrf}}), loc)
	e.fb.mu.Lock()
	state := e.fb.hunts[0].hunt.State
	e.fb.mu.Unlock()
	if state != store.HuntCanceled {
		t.Errorf("after cancel: %s", state)
	}
}

func TestLogURL(t *testing.T) {
	for idx, want := range map[int64]string{0: "/log?before=1#entry-0", 41: "/log?before=42#entry-41"} {
		if got := logEntryURL(idx); got != want {
			t.Errorf("logEntryURL(%d) = %q, want %q", idx, got, want)
		}
	}
	if got := approveCommand("h-7"); got != "vigil hunt approve h-7 --key ~/.config/vigil/approver.key" {
		t.Errorf("approveCommand: %q", got)
	}
	if lintLabel("document") != "keyword/document search" || lintClass("document") != "lint-document" || lintClass("code") != "lint-other" {
		t.Error("lint labels")
	}
}
