// Package browsertest drives a real headless Chromium for tests of the web
// UI, with github.com/chromedp/chromedp. It is imported only by tests (the
// webui package's own and the server's end-to-end test).
//
// New starts a browser (or skips the test when Debian's chromium is not
// installed, unless VIGIL_REQUIRE_SERVICES=1), Login logs in through the
// login form, and WaitFor polls a JavaScript condition from Go: the UI's
// Content-Security-Policy forbids eval in the page, which chromedp's own
// Poll needs.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package installs the browser.
const ChromiumPath = "/usr/bin/chromium"

// Timeouts. They only keep a broken test from hanging; no test depends on
// anything being fast.
const (
	SessionTimeout = 3 * time.Minute  // the whole browser session of one test
	StepTimeout    = 30 * time.Second // one Login, or the default of WaitFor
	pollInterval   = 100 * time.Millisecond
)

// New starts a headless Chromium with a fresh profile and returns its
// context: pass it to chromedp.Do / chromedp.Run and to the helpers here.
// The browser is closed when the test ends. Without /usr/bin/chromium the
// test is skipped, or fails if VIGIL_REQUIRE_SERVICES=1.
func New(t testing.TB) context.Context {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		if os.Getenv("VIGIL_REQUIRE_SERVICES") == "1" {
			t.Fatalf("browsertest: %s: %v (install it: apt-get install -y chromium)", ChromiumPath, err)
		}
		t.Skipf("browsertest: %s not installed (apt-get install -y chromium)", ChromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.WindowSize(1280, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), SessionTimeout)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	// Registered after t.TempDir, so it runs first: the browser is gone
	// before its profile directory is removed.
	t.Cleanup(func() {
		chromedp.Cancel(bctx)
		bcancel()
		acancel()
		cancel()
	})
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		t.Fatalf("browsertest: starting %s: %v", ChromiumPath, err)
	}
	return bctx
}

// Login opens baseURL/login, types token into the form and submits it. It
// returns an error if the UI shows the login page again (with its message)
// or nothing happens within StepTimeout.
func Login(ctx context.Context, baseURL, token string) error {
	baseURL = strings.TrimRight(baseURL, "/")
	if err := chromedp.Do(ctx,
		chromedp.Navigate(baseURL+"/login"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.ID("login-submit")),
	); err != nil {
		return fmt.Errorf("login form: %w", err)
	}
	if err := WaitFor(ctx, `document.getElementById("nav-hunts") || document.getElementById("login-error")`, StepTimeout); err != nil {
		return fmt.Errorf("after login: %w", err)
	}
	msg, err := Eval[string](ctx, `(document.getElementById("login-error") || {}).textContent || ""`)
	if err != nil {
		return err
	}
	if msg != "" {
		return fmt.Errorf("login refused: %s", strings.TrimSpace(msg))
	}
	return nil
}

// Eval evaluates a JavaScript expression in the current page and decodes
// its value into T.
func Eval[T any](ctx context.Context, expr string) (T, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr))
}

// WaitFor evaluates the JavaScript expression expr every 100 ms until it is
// truthy, or fails after timeout (0 means StepTimeout) with the last
// evaluation error. Errors while a page loads are retried.
func WaitFor(ctx context.Context, expr string, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = StepTimeout
	}
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := chromedp.Run(ectx, chromedp.Evaluate[bool]("Boolean("+expr+")"))
		cancel()
		if err == nil && ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("waiting for %s: %w", expr, ctx.Err())
		}
		if time.Now().After(deadline) {
			if last != nil {
				return fmt.Errorf("waiting for %s: not true after %v (last error: %v)", expr, timeout, last)
			}
			return fmt.Errorf("waiting for %s: not true after %v", expr, timeout)
		}
		select {
		case <-ctx.Done():
		case <-time.After(pollInterval):
		}
	}
}

// Text returns the text content of the first element matching the CSS
// selector css, or an error if there is none.
func Text(ctx context.Context, css string) (string, error) {
	s, err := Eval[*string](ctx, fmt.Sprintf(`(function(e){return e ? e.textContent : null})(document.querySelector(%q))`, css))
	if err != nil {
		return "", err
	}
	if s == nil {
		return "", fmt.Errorf("no element matches %s", css)
	}
	return *s, nil
}

// Count returns how many elements match the CSS selector css.
func Count(ctx context.Context, css string) (int, error) {
	return Eval[int](ctx, fmt.Sprintf(`document.querySelectorAll(%q).length`, css))
}

// Console records the page's console messages, uncaught exceptions and
// browser log entries (such as Content-Security-Policy violations) from
// the moment it is called until ctx ends. The returned func gives the
// messages so far, one line each.
func Console(ctx context.Context) func() []string {
	var (
		mu   sync.Mutex
		msgs []string
	)
	seq := chromedp.Console(ctx)
	go func() {
		for m, err := range seq {
			if err != nil {
				if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
					mu.Lock()
					msgs = append(msgs, "console iterator: "+err.Error())
					mu.Unlock()
				}
				return
			}
			mu.Lock()
			msgs = append(msgs, fmt.Sprintf("%s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line+1))
			mu.Unlock()
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), msgs...)
	}
}
