package server

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"vigil/server/webui/browsertest"
)

// TestBrowserEndToEnd drives the web UI in a real Chromium against a real
// server and a real agent: an operator creates a hunt in the form, it waits
// for approval, another operator approves it with their own key, the agent
// verifies it against the log and scans, and the results appear on the
// hunt page without a reload; the public log lists the hunt and the
// approval.
func TestBrowserEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium, a server and an agent")
	}
	ctx := browsertest.New(t)
	s, _ := startServer(t, Options{DataDir: t.TempDir()})
	admin := s.AdminToken()
	bob := newApprover(t, s, admin, "bob", "approver")
	a, _ := runAgent(t, t.TempDir(), s.URL(), newToken(t, s, admin, map[string]string{"site": "e2e"}), nil)
	id := agentID(t, a)
	dir, want := huntFiles(t, 3)

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	wait := func(what, expr string) {
		t.Helper()
		if err := browsertest.WaitFor(ctx, expr, 90*time.Second); err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}
	if err := browsertest.Login(ctx, s.URL(), admin); err != nil {
		t.Fatal(err)
	}
	do("create a hunt in the form",
		chromedp.Navigate(s.URL()+"/hunts/new"),
		chromedp.WaitVisible(chromedp.ID("hunt-form")),
		chromedp.SendKeys(chromedp.ID("hunt-name"), "e2e"),
		chromedp.SendKeys(chromedp.ID("hunt-rules"), rulesOK),
		chromedp.SendKeys(chromedp.ID("hunt-target"), "site=e2e"),
		chromedp.SendKeys(chromedp.ID("hunt-paths"), dir),
		chromedp.SendKeys(chromedp.ID("hunt-why"), "end-to-end browser test"),
		chromedp.Click(chromedp.ID("hunt-submit")),
	)
	wait("the hunt page, pending", `document.body.dataset.page === "hunt" && !!document.getElementById("hunt-pending")`)
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	huntID := loc[strings.LastIndex(loc, "/")+1:]
	cmd, _ := browsertest.Text(ctx, "#approve-command")
	if !strings.Contains(cmd, "vigil hunt approve "+huntID) {
		t.Errorf("approve command %q", cmd)
	}
	if _, err := browsertest.Eval[int](ctx, `window.vigilTestMarker = 7`); err != nil {
		t.Fatal(err)
	}

	// Bob approves with his key (what `vigil hunt approve` does).
	bob.approve(t, s, huntID)
	wait("results on the page", fmt.Sprintf(
		`document.querySelectorAll("#results-table tr.result-row").length === %d && `+
			`document.getElementById("progress-summary").textContent === "1/1 agents done"`, len(want)))
	if m, _ := browsertest.Eval[int](ctx, `window.vigilTestMarker || 0`); m != 7 {
		t.Error("the page was reloaded instead of refreshed by script")
	}
	for p := range want {
		n, err := browsertest.Count(ctx, fmt.Sprintf(`#results-table tr.result-row[data-agent-id=%q]`, id))
		if err != nil || n != len(want) {
			t.Errorf("rows of agent %s: %d (%v)", id, n, err)
		}
		if got, _ := browsertest.Eval[bool](ctx, fmt.Sprintf(`[...document.querySelectorAll("#results-table .result-path")].some(e => e.textContent === %q)`, p)); !got {
			t.Errorf("no row for %s", filepath.Base(p))
		}
	}
	if n, _ := browsertest.Count(ctx, "#approvals-table tr.approval-row[data-approver=bob]"); n != 1 {
		t.Errorf("approval rows by bob: %d", n)
	}

	// The public log, logged out: the hunt and its approval.
	do("log out and open the log",
		chromedp.Navigate(s.URL()+"/logout"),
		chromedp.Navigate(s.URL()+"/log"),
	)
	wait("the log page", `document.body.dataset.page === "log"`)
	kinds, err := browsertest.Eval[string](ctx, `[...document.querySelectorAll("#log-table tr.log-row")].map(r => r.dataset.kind).join(",")`)
	if err != nil || kinds != "approval,hunt" {
		t.Errorf("log kinds %q (%v), want approval,hunt", kinds, err)
	}
	if got, _ := browsertest.Text(ctx, "#log-table .entry-hunt-id"); got != huntID {
		t.Errorf("logged hunt %q, want %s", got, huntID)
	}
}
