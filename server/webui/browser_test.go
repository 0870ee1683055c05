package webui

import (
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"vigil/server/webui/browsertest"
)

// TestBrowser drives the UI in headless Chromium: log in, create a hunt
// (first with rules that do not compile), watch its results arrive through
// the page's own auto-refresh, download an export, log out.
func TestBrowser(t *testing.T) {
	fb := newFakeBackend()
	fb.step = 250 * time.Millisecond
	fb.gate = make(chan struct{})
	logs := &logBuf{}
	srv := httptest.NewServer(New(fb, Options{Logf: logs.logf}))
	t.Cleanup(func() {
		srv.Close()
		fb.close()
	})

	ctx := browsertest.New(t)
	console := browsertest.Console(ctx)
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	wait := func(what, expr string) {
		t.Helper()
		if err := browsertest.WaitFor(ctx, expr, 30*time.Second); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(css string) string {
		t.Helper()
		s, err := browsertest.Text(ctx, css)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(s)
	}

	// A wrong token is refused with the page's message.
	if err := browsertest.Login(ctx, srv.URL, "vgo_not_a_token"); err == nil || !strings.Contains(err.Error(), "Unknown or disabled token") {
		t.Fatalf("login with a wrong token: %v", err)
	}
	if err := browsertest.Login(ctx, srv.URL, adminToken); err != nil {
		t.Fatal(err)
	}
	if got := text("#operator-name"); got != "alice" {
		t.Errorf("operator name %q", got)
	}

	// The new-hunt form, first with rules that do not compile.
	do("open the form",
		chromedp.Navigate(srv.URL+"/hunts"),
		chromedp.Click(chromedp.ID("new-hunt")),
		chromedp.WaitVisible(chromedp.ID("hunt-form")),
		chromedp.SendKeys(chromedp.ID("hunt-name"), "browser hunt"),
		chromedp.SendKeys(chromedp.ID("hunt-rules"), "rule sim_rule {\n  condition:\n    BROKEN\n}"),
		chromedp.SendKeys(chromedp.ID("hunt-target"), "site=berlin"),
		chromedp.SendKeys(chromedp.ID("hunt-paths"), "/srv/www\n/home"),
		chromedp.Clear(chromedp.ID("hunt-expires")),
		chromedp.SendKeys(chromedp.ID("hunt-expires"), "2h"),
		chromedp.SendKeys(chromedp.ID("hunt-max-file-size"), "32M"),
		chromedp.Click(chromedp.ID("hunt-archives")),
		chromedp.SendKeys(chromedp.ID("hunt-why"), "INC-4242: browser test"),
		chromedp.Click(chromedp.ID("hunt-submit")),
	)
	wait("the form error", `document.getElementById("form-error")`)
	if got := text("#form-error"); got != "rules:3:5: syntax error, unexpected identifier BROKEN" {
		t.Errorf("form error %q", got)
	}
	for sel, want := range map[string]string{
		"#hunt-name": "browser hunt", "#hunt-target": "site=berlin", "#hunt-paths": "/srv/www\n/home",
		"#hunt-expires": "2h", "#hunt-max-file-size": "32M", "#hunt-why": "INC-4242: browser test",
	} {
		got, err := browsertest.Eval[string](ctx, `document.querySelector("`+sel+`").value`)
		if err != nil || got != want {
			t.Errorf("%s kept %q (%v), want %q", sel, got, err, want)
		}
	}
	if on, err := browsertest.Eval[bool](ctx, `document.getElementById("hunt-archives").checked`); err != nil || !on {
		t.Errorf("archives checkbox not kept (%v)", err)
	}

	// Fix the rules and submit: the hunt page.
	do("resubmit",
		chromedp.Clear(chromedp.ID("hunt-rules")),
		chromedp.SendKeys(chromedp.ID("hunt-rules"), "rule sim_rule {\n  condition:\n    true\n}"),
		chromedp.Click(chromedp.ID("hunt-submit")),
	)
	wait("the hunt page", `document.body.dataset.page === "hunt"`)
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`/hunts/h-[0-9]+$`).MatchString(loc) {
		t.Fatalf("after creating: %s", loc)
	}
	huntID := loc[strings.LastIndex(loc, "/")+1:]
	if got := text("#progress-summary"); got != "0/2 agents done" {
		t.Errorf("initial progress %q", got)
	}
	if got := text("#hunt-rules"); got != "rule sim_rule {\n  condition:\n    true\n}" {
		t.Errorf("rules shown as %q", got)
	}
	if refresh, _ := browsertest.Eval[string](ctx, `document.getElementById("live").dataset.refresh`); refresh != "true" {
		t.Fatalf("a running hunt with no agent done: data-refresh=%q", refresh)
	}
	// Mark this page: if the marker survives, the updates came by script,
	// not by reloading.
	if _, err := browsertest.Eval[int](ctx, `window.vigilTestMarker = 7`); err != nil {
		t.Fatal(err)
	}

	// Now the agents run; the page must show their results by itself.
	close(fb.gate)
	wait("all results and agents done",
		`document.querySelectorAll("#results-table tr.result-row").length === 4 && `+
			`document.getElementById("progress-summary").textContent === "2/2 agents done"`)
	if got := text("#progress-results"); got != "4" {
		t.Errorf("progress matches %q", got)
	}
	if n, _ := browsertest.Count(ctx, "#assignments-table tr.assignment-row[data-state=done]"); n != 2 {
		t.Errorf("%d assignments done, want 2", n)
	}
	if m, _ := browsertest.Eval[int](ctx, `window.vigilTestMarker || 0`); m != 7 {
		t.Error("the page was reloaded instead of refreshed by script")
	}
	// Once every agent is done, the refreshing stops.
	wait("refresh stopped", `document.getElementById("live").dataset.refresh === "false"`)
	// A hostile file name is text, not markup.
	paths, err := browsertest.Eval[[]string](ctx, `Array.from(document.querySelectorAll("#results-table .result-path")).map(e => e.textContent)`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(paths, "|"), "/srv/www/<img src=x onerror=alert(2)>") {
		t.Errorf("result paths %q", paths)
	}
	if n, _ := browsertest.Count(ctx, "#live img"); n != 0 {
		t.Errorf("%d <img> elements injected by a file name", n)
	}

	// The export links download what the backend writes, with the session.
	href, err := browsertest.Eval[string](ctx, `document.getElementById("export-csv").href`)
	if err != nil || !strings.HasSuffix(href, "/hunts/"+huntID+"/export?format=csv") {
		t.Fatalf("export link %q (%v)", href, err)
	}
	type download struct {
		Status      int    `json:"status"`
		Disposition string `json:"disposition"`
		Body        string `json:"body"`
	}
	dl, err := chromedp.Run(ctx, chromedp.Evaluate[download](
		`fetch(document.getElementById("export-csv").href).then(r => r.text().then(b => ({status: r.status, disposition: r.headers.get("Content-Disposition"), body: b})))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if dl.Status != 200 || dl.Disposition != `attachment; filename="hunt-`+huntID+`.csv"` {
		t.Errorf("export: status %d, Content-Disposition %q", dl.Status, dl.Disposition)
	}
	if lines := strings.Split(strings.TrimSpace(dl.Body), "\n"); len(lines) != 5 || !strings.HasPrefix(lines[0], "hunt_id,agent_id") {
		t.Errorf("export body:\n%s", dl.Body)
	}

	// The hunts list shows it first, finished.
	do("hunts list", chromedp.Navigate(srv.URL+"/hunts"), chromedp.WaitVisible(chromedp.ID("hunts-table")))
	if got := text("#hunts-table tr.hunt-row .hunt-progress"); got != "2/2" {
		t.Errorf("hunts list progress %q", got)
	}

	// Log out: back to the login page, and pages need a login again.
	do("log out", chromedp.Click(chromedp.ID("logout")))
	wait("login page", `document.body.dataset.page === "login"`)
	do("agents after logout", chromedp.Navigate(srv.URL+"/agents"))
	wait("redirected to login", `document.body.dataset.page === "login"`)

	for _, m := range console() {
		t.Logf("console: %s", m)
		if strings.Contains(strings.ToLower(m), "content security policy") || strings.HasPrefix(m, "exception") {
			t.Errorf("browser console: %s", m)
		}
	}
	if strings.Contains(logs.String(), adminToken) {
		t.Error("the token was logged")
	}
}

// TestBrowserApproval drives a hunt that needs an approval: the page shows
// the command an approver runs; once the (fake) server logs an approval
// the same page turns running by itself and shows the results. The public
// log lists the hunt, also after logging out.
func TestBrowserApproval(t *testing.T) {
	fb := newFakeBackend()
	fb.step = 250 * time.Millisecond
	fb.approvals = 1
	logs := &logBuf{}
	srv := httptest.NewServer(New(fb, Options{Logf: logs.logf}))
	t.Cleanup(func() {
		srv.Close()
		fb.close()
	})

	ctx := browsertest.New(t)
	console := browsertest.Console(ctx)
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	wait := func(what, expr string) {
		t.Helper()
		if err := browsertest.WaitFor(ctx, expr, 30*time.Second); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(css string) string {
		t.Helper()
		s, err := browsertest.Text(ctx, css)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(s)
	}

	if err := browsertest.Login(ctx, srv.URL, adminToken); err != nil {
		t.Fatal(err)
	}
	do("create a hunt",
		chromedp.Navigate(srv.URL+"/hunts/new"),
		chromedp.WaitVisible(chromedp.ID("hunt-form")),
		chromedp.SendKeys(chromedp.ID("hunt-rules"), "rule sim_rule {\n  strings:\n    $mz = { 4D 5A }\n  condition:\n    $mz\n}"),
		chromedp.SendKeys(chromedp.ID("hunt-target"), "site=berlin"),
		chromedp.SendKeys(chromedp.ID("hunt-paths"), "/srv/www"),
		chromedp.SendKeys(chromedp.ID("hunt-why"), "INC-4343: needs approval"),
		chromedp.Click(chromedp.ID("hunt-submit")),
	)
	wait("the hunt page", `document.body.dataset.page === "hunt"`)
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	huntID := loc[strings.LastIndex(loc, "/")+1:]

	// Pending: the approval command, no agent running.
	wait("the pending block", `document.getElementById("hunt-pending") !== null`)
	if got, want := text("#approve-command"), "vigil hunt approve "+huntID+" --key ~/.config/vigil/approver.key"; got != want {
		t.Errorf("approve command %q, want %q", got, want)
	}
	if got := text("#hunt-pending-summary"); !strings.HasPrefix(got, "Waiting for 1 more approval") {
		t.Errorf("pending summary %q", got)
	}
	if got := text("#hunt-state"); got != "pending" {
		t.Errorf("state %q", got)
	}
	if got := text("#hunt-lint-class"); got != "code search" {
		t.Errorf("lint class %q", got)
	}
	if n, _ := browsertest.Count(ctx, "#approvals-table tr.approval-row"); n != 0 {
		t.Errorf("%d approvals before any", n)
	}
	logIndex, err := browsertest.Eval[string](ctx, `document.getElementById("hunt-log-index").dataset.index`)
	if err != nil || logIndex != "2" {
		t.Fatalf("log index %q (%v)", logIndex, err)
	}
	if _, err := browsertest.Eval[int](ctx, `window.vigilTestMarker = 9`); err != nil {
		t.Fatal(err)
	}

	// The approver approves (on their machine; here the fake server logs
	// it): the page turns running and shows the results by itself.
	if err := fb.approve(huntID, "bob"); err != nil {
		t.Fatal(err)
	}
	wait("running", `document.getElementById("hunt-state").textContent === "running" && !document.getElementById("hunt-pending")`)
	wait("results", `document.querySelectorAll("#results-table tr.result-row").length === 4 && `+
		`document.getElementById("progress-summary").textContent === "2/2 agents done"`)
	if n, _ := browsertest.Count(ctx, `#approvals-table tr.approval-row[data-approver="bob"][data-index="3"]`); n != 1 {
		t.Errorf("%d approval rows by bob at index 3, want 1", n)
	}
	if n, _ := browsertest.Count(ctx, "#approve-command"); n != 0 {
		t.Error("the approve command is still shown")
	}
	if m, _ := browsertest.Eval[int](ctx, `window.vigilTestMarker || 0`); m != 9 {
		t.Error("the page was reloaded instead of refreshed by script")
	}

	// From the hunt page to its log entry.
	do("open the log entry", chromedp.Click(chromedp.ID("hunt-log-link")))
	wait("the log page", `document.body.dataset.page === "log" && document.getElementById("entry-2") !== null`)
	if n, _ := browsertest.Count(ctx, `#log-table tr.log-row[data-index="2"][data-kind="hunt"]`); n != 1 {
		t.Errorf("%d hunt rows at index 2", n)
	}
	if got := text(`#entry-2 .entry-hunt-id`); got != huntID {
		t.Errorf("log entry 2 names hunt %q, want %s", got, huntID)
	}
	if got := text(`#entry-2 .entry-why`); got != "INC-4343: needs approval" {
		t.Errorf("log entry 2 why %q", got)
	}

	// The log is public: after logging out it still shows, newest first.
	do("log out", chromedp.Navigate(srv.URL+"/hunts"), chromedp.WaitVisible(chromedp.ID("logout")), chromedp.Click(chromedp.ID("logout")))
	wait("login page", `document.body.dataset.page === "login"`)
	do("the log, logged out", chromedp.Click(chromedp.ID("nav-log")))
	wait("the log page", `document.body.dataset.page === "log" && document.getElementById("log-table") !== null`)
	if n, _ := browsertest.Count(ctx, "#nav-hunts"); n != 0 {
		t.Error("logged out, the log page shows the operator navigation")
	}
	kinds, err := browsertest.Eval[[]string](ctx, `Array.from(document.querySelectorAll("#log-table tr.log-row")).map(e => e.dataset.index + ":" + e.dataset.kind)`)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(kinds, " ") != "3:approval 2:hunt 1:approval 0:hunt" {
		t.Errorf("log rows %v", kinds)
	}
	if got := text("#checkpoint-size"); got != "4" {
		t.Errorf("checkpoint size %q", got)
	}
	if got := text("#log-key"); !strings.HasPrefix(got, "vigil-log+") {
		t.Errorf("log key %q", got)
	}
	if got := text("#checkpoint-root"); len(got) != 44 {
		t.Errorf("root hash %q", got)
	}
	signers, err := browsertest.Eval[[]string](ctx, `Array.from(document.querySelectorAll("#checkpoint-signers li.signer")).map(e => e.dataset.name + ":" + e.dataset.role + ":" + e.dataset.verified)`)
	if err != nil || strings.Join(signers, " ") != "vigil-log:log:true witness-1:witness:true" {
		t.Errorf("signers %v (%v)", signers, err)
	}

	for _, m := range console() {
		t.Logf("console: %s", m)
		if strings.Contains(strings.ToLower(m), "content security policy") || strings.HasPrefix(m, "exception") {
			t.Errorf("browser console: %s", m)
		}
	}
	if strings.Contains(logs.String(), adminToken) {
		t.Error("the token was logged")
	}
}
