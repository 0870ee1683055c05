package webui

import (
	"fmt"
	"html/template"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"vigil/server/store"
	"vigil/translog"
	"vigil/wire"
)

// pageFiles are the page templates; each is parsed together with layout.html.
var pageFiles = []string{
	"login.html", "error.html", "agents.html", "tokens.html",
	"hunts.html", "hunt_new.html", "hunt.html", "logout.html", "log.html",
}

// parsePages parses every page with the layout. The templates are embedded,
// so a parse error is a build mistake: it panics (and every test catches it).
func parsePages() map[string]*template.Template {
	pages := map[string]*template.Template{}
	for _, name := range pageFiles {
		t := template.New(name).Funcs(templateFuncs)
		pages[name] = template.Must(t.ParseFS(templateFS, "templates/layout.html", "templates/"+name))
	}
	return pages
}

var templateFuncs = template.FuncMap{
	"when":       formatTime,
	"labels":     formatLabels,
	"join":       strings.Join,
	"bytes":      formatBytes,
	"duration":   formatDuration,
	"hits":       formatHits,
	"short":      shortHash,
	"states":     sortedStates,
	"stateClass": stateClass,
	"past":       func(t time.Time) bool { return !t.IsZero() && t.Before(time.Now()) },
	"logURL":     logEntryURL,
	"lintLabel":  lintLabel,
	"lintClass":  lintClass,
	"plural":     plural,
}

// formatTime shows t in UTC, or "never" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// formatLabels shows labels as "k=v, k2=v2", sorted by key.
func formatLabels(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ", ")
}

// formatBytes shows a size with a binary unit.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// formatDuration shows d, or "default" for zero.
func formatDuration(d time.Duration) string {
	if d == 0 {
		return "default"
	}
	return d.String()
}

// formatHits shows string hits as "$a@16,32 (3)", space-separated.
func formatHits(hits []wire.StringHit) string {
	parts := make([]string, 0, len(hits))
	for _, h := range hits {
		offs := make([]string, len(h.Offsets))
		for i, o := range h.Offsets {
			offs[i] = strconv.FormatInt(o, 10)
		}
		parts = append(parts, fmt.Sprintf("%s@%s (%d)", h.ID, strings.Join(offs, ","), h.Count))
	}
	return strings.Join(parts, " ")
}

// shortHash returns the first 12 characters of a hex hash.
func shortHash(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// stateCount is one entry of a progress's per-state counts.
type stateCount struct {
	State string
	Count int
}

// sortedStates lists per-state counts by state name; "" is shown as
// "unacknowledged".
func sortedStates(m map[string]int) []stateCount {
	out := make([]stateCount, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		name := k
		if name == "" {
			name = "unacknowledged"
		}
		out = append(out, stateCount{name, m[k]})
	}
	return out
}

// stateClass is a CSS class for a hunt or assignment state.
func stateClass(s string) string {
	switch s {
	case wire.StateDone:
		return "state-done"
	case wire.StateRunning, wire.StateReceived:
		return "state-running"
	case wire.StateFailed, wire.StateRefused:
		return "state-bad"
	case store.HuntPending:
		return "state-pending"
	case wire.StateCanceled, "expired":
		return "state-over"
	case "":
		return "state-none"
	}
	return "state-other"
}

// lintLabel names a lint class for people.
func lintLabel(class string) string {
	switch class {
	case translog.LintDocument:
		return "keyword/document search"
	case translog.LintCode:
		return "code search"
	case "":
		return "not classified"
	}
	return class
}

// lintClass is a CSS class for a lint class: document searches get a
// warning badge.
func lintClass(class string) string {
	if class == translog.LintDocument {
		return "lint-document"
	}
	return "lint-other"
}

// plural returns word, with an "s" unless n is 1.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
