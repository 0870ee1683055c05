package store

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"vigil/wire"
)

// Helpers shared by the SQL backends (store/sqlite and store/postgres):
// how a batch becomes Result rows and how labels, tags and strings are
// encoded as JSON text.

// BatchResults flattens a batch into its Result rows, in order: file i's
// rule j gets Index i*1000+j. Received is b.Received in UTC.
func BatchResults(b Batch) []Result {
	var n int
	for _, m := range b.Batch.Matches {
		n += len(m.Rules)
	}
	out := make([]Result, 0, n)
	for i, m := range b.Batch.Matches {
		for j, r := range m.Rules {
			out = append(out, Result{
				HuntID:    b.Batch.HuntID,
				AgentID:   b.AgentID,
				Seq:       b.Batch.Seq,
				Index:     i*1000 + j,
				Path:      m.Path,
				Size:      m.Size,
				SHA256:    m.SHA256,
				MD5:       m.MD5,
				Rule:      r.Rule,
				Namespace: r.Namespace,
				Tags:      r.Tags,
				Strings:   r.Strings,
				Received:  b.Received.UTC(),
			})
		}
	}
	return out
}

// SeqInt64 converts a protocol sequence number for an SQL BIGINT column.
// ok is false when s does not fit (no honest agent sends such a number).
func SeqInt64(s uint64) (v int64, ok bool) {
	if s > math.MaxInt64 {
		return 0, false
	}
	return int64(s), true
}

// ClampInt64 converts a counter for an SQL BIGINT column, saturating at
// math.MaxInt64.
func ClampInt64(s uint64) int64 {
	if s > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(s)
}

// CleanText returns s with NUL bytes and invalid UTF-8 replaced by U+FFFD:
// PostgreSQL refuses both in text, and such bytes in a path or rule name
// from an agent must not make a whole batch unstorable.
func CleanText(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// EncodeLabels encodes labels as a JSON object ("{}" for none), keys and
// values cleaned by CleanText.
func EncodeLabels(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[CleanText(k)] = CleanText(v)
	}
	b, err := json.Marshal(c)
	if err != nil { // cannot happen for map[string]string
		return "{}"
	}
	return string(b)
}

// DecodeLabels decodes EncodeLabels' output; an empty object gives nil.
func DecodeLabels(s string) (map[string]string, error) {
	if s == "" || s == "{}" || s == "null" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("stored labels: %w", err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// EncodeJSON encodes a slice or struct as JSON text; nil slices become "[]".
func EncodeJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	if string(b) == "null" {
		return "[]", nil
	}
	return string(b), nil
}

// DecodeJSON decodes EncodeJSON's output into v. Empty text leaves v alone.
func DecodeJSON(s string, v any) error {
	if s == "" || s == "null" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("stored %T: %w", v, err)
	}
	return nil
}

// MergeLabels returns agent labels with the token's over them.
func MergeLabels(agent, token map[string]string) map[string]string {
	if len(agent) == 0 && len(token) == 0 {
		return nil
	}
	m := make(map[string]string, len(agent)+len(token))
	for k, v := range agent {
		m[k] = v
	}
	for k, v := range token {
		m[k] = v
	}
	return m
}

// TerminalStates lists the wire states that end a hunt on an agent (those
// for which wire.Terminal is true).
var TerminalStates = []string{wire.StateDone, wire.StateFailed, wire.StateRefused, wire.StateCanceled}

// UTCOrNow returns t in UTC, or now (in UTC) when t is zero.
func UTCOrNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now().UTC()
	}
	return t.UTC()
}

// HuntJSON is a hunt's list and limit fields as the backends store them.
type HuntJSON struct{ Paths, Exclude, Limits string }

// EncodeHuntJSON encodes h's paths, exclusions and limits.
func EncodeHuntJSON(h *Hunt) (HuntJSON, error) {
	var j HuntJSON
	var err error
	if j.Paths, err = EncodeJSON(h.Paths); err != nil {
		return j, err
	}
	if j.Exclude, err = EncodeJSON(h.Exclude); err != nil {
		return j, err
	}
	j.Limits, err = EncodeJSON(h.Limits)
	return j, err
}

// EnrolledAgent is a as Enroll stores it: the token's labels over the
// agent's own, the token's ID, the enrollment time (now when zero) and
// times truncated to the microsecond in UTC.
func EnrolledAgent(a Agent, tokenID string, tokenLabels map[string]string, now time.Time) Agent {
	a.Labels = MergeLabels(a.Labels, tokenLabels)
	a.TokenID = tokenID
	if a.Enrolled.IsZero() {
		a.Enrolled = now
	}
	a.Enrolled = a.Enrolled.UTC().Truncate(time.Microsecond)
	if !a.LastSeen.IsZero() {
		a.LastSeen = a.LastSeen.UTC().Truncate(time.Microsecond)
	}
	return a
}
