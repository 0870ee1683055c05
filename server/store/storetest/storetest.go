// Package storetest is the conformance suite every store.Store backend
// runs: a backend's test calls Run with a function that opens a fresh,
// empty store.
//
// The suite treats nil and empty maps and slices as equal, and compares
// times in UTC truncated to the millisecond.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/server/store"
	"vigil/wire"
)

// Run runs the conformance suite against the stores open returns. open is
// called once per subtest and must return a new empty store; Run closes
// it at the end of the subtest.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Operators", testOperators},
		{"EnrollTokens", testEnrollTokens},
		{"Enroll", testEnroll},
		{"EnrollFailures", testEnrollFailures},
		{"EnrollConcurrent", testEnrollConcurrent},
		{"Agents", testAgents},
		{"Hunts", testHunts},
		{"OperatorKey", testOperatorKey},
		{"Approvals", testApprovals},
		{"ListHunts", testListHunts},
		{"PendingHunts", testPendingHunts},
		{"ApplyStatuses", testApplyStatuses},
		{"Progress", testProgress},
		{"AddBatches", testAddBatches},
		{"ResultFields", testResultFields},
		{"ResultFilters", testResultFilters},
		{"ResultPaging", testResultPaging},
		{"ResultDefaultLimit", testResultDefaultLimit},
		{"Times", testTimes},
		{"OddStrings", testOddStrings},
		{"ConcurrentWrites", testConcurrentWrites},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// base is the suite's reference time: not UTC, with nanoseconds, so that
// both the conversion to UTC and the precision are exercised.
var base = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("X", 5*3600+1800))

func ctx(t *testing.T) context.Context { return t.Context() }

// ms normalizes a time as the suite compares them.
func ms(tm time.Time) time.Time {
	if tm.IsZero() {
		return time.Time{}
	}
	return tm.UTC().Truncate(time.Millisecond)
}

// checkTime fails unless got is want (to the millisecond) and in UTC.
func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !ms(got).Equal(ms(want)) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
	if !got.IsZero() && got.Location() != time.UTC {
		t.Errorf("%s = %v: not in UTC", what, got)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want one wrapping %v", what, err, target)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func labelsEqual(a, b map[string]string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

func stringsEqual(a, b []string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

// --- operators and tokens ---

func operator(id, name, role string) store.Operator {
	return store.Operator{ID: id, Name: name, Role: role, TokenHash: "hash-" + id, Created: base}
}

func checkOperator(t *testing.T, got, want store.Operator) {
	t.Helper()
	checkTime(t, "operator "+want.ID+" Created", got.Created, want.Created)
	got.Created, want.Created = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("operator = %+v, want %+v", got, want)
	}
}

func testOperators(t *testing.T, s store.Store) {
	alice := operator("op-1", "alice", store.RoleAdmin)
	bob := operator("op-2", "bob", store.RoleViewer)
	bob.Created = base.Add(time.Hour)
	must(t, "CreateOperator alice", s.CreateOperator(ctx(t), alice))
	must(t, "CreateOperator bob", s.CreateOperator(ctx(t), bob))

	sameID := operator("op-1", "carol", store.RoleViewer)
	wantErr(t, "CreateOperator same ID", s.CreateOperator(ctx(t), sameID), store.ErrConflict)
	sameName := operator("op-3", "alice", store.RoleViewer)
	wantErr(t, "CreateOperator same name", s.CreateOperator(ctx(t), sameName), store.ErrConflict)

	got, err := s.OperatorByTokenHash(ctx(t), bob.TokenHash)
	must(t, "OperatorByTokenHash", err)
	checkOperator(t, got, bob)
	_, err = s.OperatorByTokenHash(ctx(t), "no-such-hash")
	wantErr(t, "OperatorByTokenHash unknown", err, store.ErrNotFound)
	_, err = s.OperatorByTokenHash(ctx(t), "")
	wantErr(t, "OperatorByTokenHash empty", err, store.ErrNotFound)

	list, err := s.ListOperators(ctx(t))
	must(t, "ListOperators", err)
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	if len(list) != 2 {
		t.Fatalf("ListOperators: %d operators, want 2: %+v", len(list), list)
	}
	checkOperator(t, list[0], alice)
	checkOperator(t, list[1], bob)

	must(t, "SetOperatorDisabled", s.SetOperatorDisabled(ctx(t), alice.ID, true))
	got, err = s.OperatorByTokenHash(ctx(t), alice.TokenHash)
	must(t, "OperatorByTokenHash", err)
	if !got.Disabled {
		t.Errorf("operator not disabled after SetOperatorDisabled(true)")
	}
	got, err = s.OperatorByTokenHash(ctx(t), bob.TokenHash)
	must(t, "OperatorByTokenHash", err)
	if got.Disabled {
		t.Errorf("SetOperatorDisabled disabled another operator")
	}
	must(t, "SetOperatorDisabled", s.SetOperatorDisabled(ctx(t), alice.ID, false))
	got, err = s.OperatorByTokenHash(ctx(t), alice.TokenHash)
	must(t, "OperatorByTokenHash", err)
	if got.Disabled {
		t.Errorf("operator still disabled after SetOperatorDisabled(false)")
	}
	wantErr(t, "SetOperatorDisabled unknown", s.SetOperatorDisabled(ctx(t), "op-9", true), store.ErrNotFound)
}

func token(id string, maxUses int, labels map[string]string) store.EnrollToken {
	return store.EnrollToken{
		ID: id, SecretHash: "secret-" + id, Labels: labels, MaxUses: maxUses,
		Expires: base.Add(24 * time.Hour), Created: base, CreatedBy: "alice", Description: "token " + id,
	}
}

func checkToken(t *testing.T, got, want store.EnrollToken) {
	t.Helper()
	checkTime(t, "token Expires", got.Expires, want.Expires)
	checkTime(t, "token Created", got.Created, want.Created)
	if !labelsEqual(got.Labels, want.Labels) {
		t.Errorf("token %s labels = %v, want %v", want.ID, got.Labels, want.Labels)
	}
	got.Expires, got.Created, got.Labels = time.Time{}, time.Time{}, nil
	want.Expires, want.Created, want.Labels = time.Time{}, time.Time{}, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("token = %+v, want %+v", got, want)
	}
}

func listTokens(t *testing.T, s store.Store) map[string]store.EnrollToken {
	t.Helper()
	list, err := s.ListEnrollTokens(ctx(t))
	must(t, "ListEnrollTokens", err)
	m := map[string]store.EnrollToken{}
	for _, tk := range list {
		if _, dup := m[tk.ID]; dup {
			t.Errorf("ListEnrollTokens: %s twice", tk.ID)
		}
		m[tk.ID] = tk
	}
	return m
}

func testEnrollTokens(t *testing.T, s store.Store) {
	t1 := token("tok-1", 5, map[string]string{"site": "berlin"})
	t2 := token("tok-2", 0, nil)
	t2.Expires = base.Add(48 * time.Hour)
	must(t, "CreateEnrollToken", s.CreateEnrollToken(ctx(t), t1))
	must(t, "CreateEnrollToken", s.CreateEnrollToken(ctx(t), t2))
	dup := token("tok-1", 1, nil)
	dup.SecretHash = "other"
	wantErr(t, "CreateEnrollToken same ID", s.CreateEnrollToken(ctx(t), dup), store.ErrConflict)

	m := listTokens(t, s)
	if len(m) != 2 {
		t.Fatalf("ListEnrollTokens: %d tokens, want 2", len(m))
	}
	checkToken(t, m["tok-1"], t1)
	checkToken(t, m["tok-2"], t2)

	must(t, "RevokeEnrollToken", s.RevokeEnrollToken(ctx(t), "tok-1"))
	m = listTokens(t, s)
	if !m["tok-1"].Revoked {
		t.Errorf("tok-1 not revoked after RevokeEnrollToken")
	}
	if m["tok-2"].Revoked {
		t.Errorf("RevokeEnrollToken revoked another token")
	}
	wantErr(t, "RevokeEnrollToken unknown", s.RevokeEnrollToken(ctx(t), "tok-9"), store.ErrNotFound)
}

// --- enrollment and agents ---

func agent(id string, labels map[string]string) store.Agent {
	return store.Agent{
		ID: id, PublicKey: "U" + strings.ToUpper(id), Hostname: "host-" + id, OS: "linux", Arch: "amd64",
		Version: "1.0.0", Labels: labels, Enrolled: base,
	}
}

func checkAgent(t *testing.T, got, want store.Agent) {
	t.Helper()
	checkTime(t, "agent "+want.ID+" Enrolled", got.Enrolled, want.Enrolled)
	checkTime(t, "agent "+want.ID+" LastSeen", got.LastSeen, want.LastSeen)
	if !labelsEqual(got.Labels, want.Labels) {
		t.Errorf("agent %s labels = %v, want %v", want.ID, got.Labels, want.Labels)
	}
	got.Enrolled, got.LastSeen, got.Labels = time.Time{}, time.Time{}, nil
	want.Enrolled, want.LastSeen, want.Labels = time.Time{}, time.Time{}, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("agent = %+v, want %+v", got, want)
	}
}

// addAgents enrolls agents with the given IDs through an unlimited token.
func addAgents(t *testing.T, s store.Store, ids ...string) {
	t.Helper()
	tk := token("tok-fixture", 0, nil)
	if err := s.CreateEnrollToken(ctx(t), tk); err != nil && !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateEnrollToken: %v", err)
	}
	for _, id := range ids {
		_, err := s.Enroll(ctx(t), tk.SecretHash, agent(id, nil), base)
		must(t, "Enroll "+id, err)
	}
}

func testEnroll(t *testing.T, s store.Store) {
	tk := token("tok-1", 2, map[string]string{"site": "berlin", "role": "web"})
	must(t, "CreateEnrollToken", s.CreateEnrollToken(ctx(t), tk))
	a := agent("agent-1", map[string]string{"site": "paris", "os": "linux"})
	now := base.Add(time.Minute)
	got, err := s.Enroll(ctx(t), tk.SecretHash, a, now)
	must(t, "Enroll", err)
	want := a
	want.Labels = map[string]string{"site": "berlin", "role": "web", "os": "linux"}
	want.TokenID = tk.ID
	checkAgent(t, got, want)
	stored, err := s.GetAgent(ctx(t), a.ID)
	must(t, "GetAgent", err)
	checkAgent(t, stored, want)
	if n := listTokens(t, s)[tk.ID].Uses; n != 1 {
		t.Errorf("token Uses after one enrollment = %d, want 1", n)
	}

	b := agent("agent-2", nil)
	b.Enrolled = time.Time{} // the store stamps now
	got, err = s.Enroll(ctx(t), tk.SecretHash, b, now)
	must(t, "Enroll second", err)
	checkTime(t, "Enrolled of an agent without one", got.Enrolled, now)
	if n := listTokens(t, s)[tk.ID].Uses; n != 2 {
		t.Errorf("token Uses after two enrollments = %d, want 2", n)
	}

	_, err = s.Enroll(ctx(t), tk.SecretHash, agent("agent-3", nil), now)
	wantErr(t, "Enroll past MaxUses", err, store.ErrNotFound)
	_, err = s.GetAgent(ctx(t), "agent-3")
	wantErr(t, "GetAgent of a refused enrollment", err, store.ErrNotFound)
	if n := listTokens(t, s)[tk.ID].Uses; n != 2 {
		t.Errorf("token Uses after a refused enrollment = %d, want 2", n)
	}
}

func testEnrollFailures(t *testing.T, s store.Store) {
	now := base.Add(time.Hour)
	expired := token("tok-exp", 0, nil)
	expired.Expires = now.Add(-time.Second)
	revoked := token("tok-rev", 0, nil)
	good := token("tok-good", 0, map[string]string{"k": "v"})
	for _, tk := range []store.EnrollToken{expired, revoked, good} {
		must(t, "CreateEnrollToken "+tk.ID, s.CreateEnrollToken(ctx(t), tk))
	}
	must(t, "RevokeEnrollToken", s.RevokeEnrollToken(ctx(t), revoked.ID))

	_, err := s.Enroll(ctx(t), expired.SecretHash, agent("agent-1", nil), now)
	wantErr(t, "Enroll with an expired token", err, store.ErrNotFound)
	_, err = s.Enroll(ctx(t), revoked.SecretHash, agent("agent-1", nil), now)
	wantErr(t, "Enroll with a revoked token", err, store.ErrNotFound)
	_, err = s.Enroll(ctx(t), "no-such-secret", agent("agent-1", nil), now)
	wantErr(t, "Enroll with an unknown token", err, store.ErrNotFound)
	// The expired token works before its expiry: the failure above was the time.
	_, err = s.Enroll(ctx(t), expired.SecretHash, agent("agent-0", nil), now.Add(-time.Minute))
	must(t, "Enroll before expiry", err)

	_, err = s.Enroll(ctx(t), good.SecretHash, agent("agent-1", nil), now)
	must(t, "Enroll", err)
	dupKey := agent("agent-2", nil)
	dupKey.PublicKey = agent("agent-1", nil).PublicKey
	_, err = s.Enroll(ctx(t), good.SecretHash, dupKey, now)
	wantErr(t, "Enroll with a known public key", err, store.ErrConflict)
	_, err = s.Enroll(ctx(t), good.SecretHash, agent("agent-1", nil), now)
	wantErr(t, "Enroll with a known agent ID", err, store.ErrConflict)
	if n := listTokens(t, s)[good.ID].Uses; n != 1 {
		t.Errorf("token Uses after 1 enrollment and 2 conflicts = %d, want 1", n)
	}
	agents, err := s.ListAgents(ctx(t))
	must(t, "ListAgents", err)
	if len(agents) != 2 {
		t.Errorf("ListAgents: %d agents, want 2 (agent-0, agent-1)", len(agents))
	}
}

func testEnrollConcurrent(t *testing.T, s store.Store) {
	tk := token("tok-once", 1, nil)
	must(t, "CreateEnrollToken", s.CreateEnrollToken(ctx(t), tk))
	const n = 10
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.Enroll(ctx(t), tk.SecretHash, agent(fmt.Sprintf("agent-%d", i), nil), base)
		})
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("Enroll %d: %v, want success or ErrNotFound", i, err)
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent enrollments on a one-use token succeeded, want 1", ok)
	}
	agents, err := s.ListAgents(ctx(t))
	must(t, "ListAgents", err)
	if len(agents) != 1 {
		t.Errorf("ListAgents: %d agents, want 1", len(agents))
	}
	if u := listTokens(t, s)[tk.ID].Uses; u != 1 {
		t.Errorf("token Uses = %d, want 1", u)
	}
}

func testAgents(t *testing.T, s store.Store) {
	addAgents(t, s, "c-agent", "a-agent", "b-agent")
	list, err := s.ListAgents(ctx(t))
	must(t, "ListAgents", err)
	var ids []string
	for _, a := range list {
		ids = append(ids, a.ID)
	}
	if want := []string{"a-agent", "b-agent", "c-agent"}; !slices.Equal(ids, want) {
		t.Errorf("ListAgents IDs = %v, want %v", ids, want)
	}
	for _, a := range list {
		want := agent(a.ID, nil)
		want.TokenID = "tok-fixture"
		checkAgent(t, a, want)
	}

	seen := base.Add(3 * time.Hour)
	must(t, "TouchAgent", s.TouchAgent(ctx(t), "b-agent", seen, "new-host", "2.0.0"))
	got, err := s.GetAgent(ctx(t), "b-agent")
	must(t, "GetAgent", err)
	want := agent("b-agent", nil)
	want.TokenID, want.Hostname, want.Version, want.LastSeen = "tok-fixture", "new-host", "2.0.0", seen
	checkAgent(t, got, want)
	other, err := s.GetAgent(ctx(t), "a-agent")
	must(t, "GetAgent", err)
	if !other.LastSeen.IsZero() || other.Hostname != "host-a-agent" {
		t.Errorf("TouchAgent changed another agent: %+v", other)
	}
	wantErr(t, "TouchAgent unknown", s.TouchAgent(ctx(t), "z-agent", seen, "h", "v"), store.ErrNotFound)
	_, err = s.GetAgent(ctx(t), "z-agent")
	wantErr(t, "GetAgent unknown", err, store.ErrNotFound)
}

// --- hunts ---

func testOperatorKey(t *testing.T, s store.Store) {
	alice := operator("op-1", "alice", store.RoleApprover)
	alice.ApprovalKey = "alice+01234567+AQID"
	bob := operator("op-2", "bob", store.RoleApprover)
	must(t, "CreateOperator alice", s.CreateOperator(ctx(t), alice))
	must(t, "CreateOperator bob", s.CreateOperator(ctx(t), bob))
	got, err := s.OperatorByTokenHash(ctx(t), alice.TokenHash)
	must(t, "OperatorByTokenHash", err)
	checkOperator(t, got, alice) // a key given at creation round-trips

	const key = "bob+89abcdef+BAUG"
	must(t, "SetOperatorKey", s.SetOperatorKey(ctx(t), bob.ID, key))
	got, err = s.OperatorByTokenHash(ctx(t), bob.TokenHash)
	must(t, "OperatorByTokenHash", err)
	if got.ApprovalKey != key {
		t.Errorf("ApprovalKey after SetOperatorKey = %q, want %q", got.ApprovalKey, key)
	}
	list, err := s.ListOperators(ctx(t))
	must(t, "ListOperators", err)
	keys := map[string]string{}
	for _, o := range list {
		keys[o.Name] = o.ApprovalKey
	}
	if keys["alice"] != alice.ApprovalKey || keys["bob"] != key {
		t.Errorf("ListOperators keys = %v, want alice %q and bob %q", keys, alice.ApprovalKey, key)
	}
	must(t, "SetOperatorKey clear", s.SetOperatorKey(ctx(t), bob.ID, ""))
	got, err = s.OperatorByTokenHash(ctx(t), bob.TokenHash)
	must(t, "OperatorByTokenHash", err)
	if got.ApprovalKey != "" {
		t.Errorf("ApprovalKey after clearing = %q", got.ApprovalKey)
	}
	got, err = s.OperatorByTokenHash(ctx(t), alice.TokenHash)
	must(t, "OperatorByTokenHash", err)
	if got.ApprovalKey != alice.ApprovalKey {
		t.Errorf("SetOperatorKey of bob changed alice's key to %q", got.ApprovalKey)
	}
	wantErr(t, "SetOperatorKey unknown", s.SetOperatorKey(ctx(t), "op-9", key), store.ErrNotFound)
}

func testApprovals(t *testing.T, s store.Store) {
	addAgents(t, s, "agent-1")
	h := hunt("hunt-1", base)
	h.State = store.HuntPending
	must(t, "CreateHunt", s.CreateHunt(ctx(t), h, []string{"agent-1"}))
	must(t, "CreateHunt", s.CreateHunt(ctx(t), hunt("hunt-2", base), nil))

	list, err := s.Approvals(ctx(t), "hunt-1")
	must(t, "Approvals none", err)
	if len(list) != 0 {
		t.Errorf("Approvals of an unapproved hunt = %+v", list)
	}
	pending, err := s.PendingHunts(ctx(t), "agent-1", base.Add(time.Minute))
	must(t, "PendingHunts", err)
	if len(pending) != 0 {
		t.Errorf("PendingHunts returned a hunt waiting for approval: %v", huntIDs(pending))
	}

	// Added out of log order: listed in log order.
	carol := store.Approval{HuntID: "hunt-1", Approver: "carol", Key: "carol+00000001+AQ==", LogIndex: 12,
		Entry: []byte("entry of carol\n\x00\xff"), Time: base.Add(2 * time.Minute)}
	bob := store.Approval{HuntID: "hunt-1", Approver: "bob", Key: "bob+00000002+Ag==", LogIndex: 9,
		Entry: []byte("entry of bob\n"), Time: base.Add(time.Minute)}
	must(t, "AddApproval carol", s.AddApproval(ctx(t), carol))
	must(t, "AddApproval bob", s.AddApproval(ctx(t), bob))
	other := bob
	other.HuntID, other.LogIndex = "hunt-2", 10
	must(t, "AddApproval of another hunt", s.AddApproval(ctx(t), other))

	again := carol
	again.LogIndex = 13
	wantErr(t, "AddApproval by the same approver", s.AddApproval(ctx(t), again), store.ErrConflict)
	unknown := carol
	unknown.HuntID = "hunt-9"
	err = s.AddApproval(ctx(t), unknown)
	if err == nil || errors.Is(err, store.ErrConflict) {
		t.Errorf("AddApproval of an unknown hunt: error %v, want one that is not nil or a conflict", err)
	}

	list, err = s.Approvals(ctx(t), "hunt-1")
	must(t, "Approvals", err)
	if len(list) != 2 {
		t.Fatalf("Approvals = %+v, want bob's and carol's", list)
	}
	for i, want := range []store.Approval{bob, carol} {
		got := list[i]
		checkTime(t, "approval Time", got.Time, want.Time)
		got.Time, want.Time = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Approvals[%d] = %+v, want %+v", i, got, want)
		}
	}
	list, err = s.Approvals(ctx(t), "hunt-2")
	must(t, "Approvals of hunt-2", err)
	if len(list) != 1 || list[0].LogIndex != 10 {
		t.Errorf("Approvals of hunt-2 = %+v, want the one at index 10", list)
	}
}

func hunt(id string, created time.Time) store.Hunt {
	return store.Hunt{
		Hunt: wire.Hunt{
			ID:          id,
			Name:        "hunt " + id,
			Rules:       "rule r_" + strings.ReplaceAll(id, "-", "_") + " { condition: true }",
			RulesSHA256: strings.Repeat("ab", 32),
			Paths:       []string{"/srv", "/home/x y"},
			Exclude:     []string{"/srv/cache"},
			Limits: wire.Limits{
				MaxFileSize: 1 << 20, MaxFiles: 1000, PerFileTimeout: 3 * time.Second,
				Timeout: time.Hour, Archives: true, MaxArchiveDepth: 2, FollowSymlinks: true,
			},
			Target:    "os=linux",
			Why:       "incident 42",
			CreatedBy: "alice",
			Created:   created,
			Expires:   created.Add(24 * time.Hour),
		},
		State:             store.HuntRunning,
		LogIndex:          7,
		LintClass:         "document",
		ApprovalsRequired: 2,
	}
}

func checkHunt(t *testing.T, got, want store.Hunt) {
	t.Helper()
	checkTime(t, "hunt "+want.ID+" Created", got.Created, want.Created)
	checkTime(t, "hunt "+want.ID+" Expires", got.Expires, want.Expires)
	if !stringsEqual(got.Paths, want.Paths) || !stringsEqual(got.Exclude, want.Exclude) {
		t.Errorf("hunt %s paths %q exclude %q, want %q, %q", want.ID, got.Paths, got.Exclude, want.Paths, want.Exclude)
	}
	for _, h := range []*store.Hunt{&got, &want} {
		h.Created, h.Expires, h.Paths, h.Exclude = time.Time{}, time.Time{}, nil, nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("hunt = %+v\nwant %+v", got, want)
	}
}

func huntIDs(hs []store.Hunt) []string {
	var ids []string
	for _, h := range hs {
		ids = append(ids, h.ID)
	}
	return ids
}

func testHunts(t *testing.T, s store.Store) {
	addAgents(t, s, "agent-1", "agent-2")
	h := hunt("hunt-1", base)
	must(t, "CreateHunt", s.CreateHunt(ctx(t), h, []string{"agent-2", "agent-1"}))
	dup := hunt("hunt-1", base.Add(time.Hour))
	wantErr(t, "CreateHunt same ID", s.CreateHunt(ctx(t), dup, []string{"agent-1"}), store.ErrConflict)

	got, err := s.GetHunt(ctx(t), "hunt-1")
	must(t, "GetHunt", err)
	checkHunt(t, got, h)
	_, err = s.GetHunt(ctx(t), "hunt-9")
	wantErr(t, "GetHunt unknown", err, store.ErrNotFound)

	// A minimal hunt round-trips too (empty optional fields, zero limits).
	small := store.Hunt{Hunt: wire.Hunt{ID: "hunt-2", Rules: "rule a { condition: true }",
		Paths: []string{"/"}, Created: base, Expires: base.Add(time.Hour)}, State: store.HuntPending}
	must(t, "CreateHunt minimal", s.CreateHunt(ctx(t), small, nil))
	got, err = s.GetHunt(ctx(t), "hunt-2")
	must(t, "GetHunt minimal", err)
	checkHunt(t, got, small)

	as, err := s.Assignments(ctx(t), "hunt-1")
	must(t, "Assignments", err)
	if len(as) != 2 || as[0].AgentID != "agent-1" || as[1].AgentID != "agent-2" {
		t.Fatalf("Assignments = %+v, want agent-1 and agent-2 in order", as)
	}
	for _, a := range as {
		if a.HuntID != "hunt-1" || a.State != "" || a.StatusSeq != 0 || a.FilesScanned != 0 || a.Batches != 0 {
			t.Errorf("new assignment = %+v, want hunt-1, unacknowledged, zero counters", a)
		}
	}
	as, err = s.Assignments(ctx(t), "hunt-2")
	must(t, "Assignments of a hunt without agents", err)
	if len(as) != 0 {
		t.Errorf("Assignments of a hunt without agents = %+v", as)
	}
	_, err = s.Assignments(ctx(t), "hunt-9")
	wantErr(t, "Assignments of an unknown hunt", err, store.ErrNotFound)

	must(t, "SetHuntState", s.SetHuntState(ctx(t), "hunt-1", store.HuntCanceled))
	got, err = s.GetHunt(ctx(t), "hunt-1")
	must(t, "GetHunt", err)
	if got.State != store.HuntCanceled {
		t.Errorf("state after SetHuntState = %q, want %q", got.State, store.HuntCanceled)
	}
	got, err = s.GetHunt(ctx(t), "hunt-2")
	must(t, "GetHunt", err)
	if got.State != store.HuntPending {
		t.Errorf("SetHuntState changed another hunt: %q", got.State)
	}
	wantErr(t, "SetHuntState unknown", s.SetHuntState(ctx(t), "hunt-9", store.HuntCanceled), store.ErrNotFound)
}

func testListHunts(t *testing.T, s store.Store) {
	list, err := s.ListHunts(ctx(t))
	must(t, "ListHunts empty", err)
	if len(list) != 0 {
		t.Errorf("ListHunts of an empty store = %v", huntIDs(list))
	}
	// Created out of insertion order.
	for i, off := range []int{2, 0, 3, 1} {
		h := hunt(fmt.Sprintf("hunt-%d", i), base.Add(time.Duration(off)*time.Hour))
		must(t, "CreateHunt", s.CreateHunt(ctx(t), h, nil))
	}
	list, err = s.ListHunts(ctx(t))
	must(t, "ListHunts", err)
	if got, want := huntIDs(list), []string{"hunt-2", "hunt-0", "hunt-3", "hunt-1"}; !slices.Equal(got, want) {
		t.Errorf("ListHunts = %v, want newest first %v", got, want)
	}
	if len(list) > 0 {
		checkHunt(t, list[0], hunt("hunt-2", base.Add(3*time.Hour)))
	}
}

func status(hunt string, seq uint64, state string) wire.Status {
	return wire.Status{HuntID: hunt, Seq: seq, State: state, Time: base.Add(time.Duration(seq) * time.Minute)}
}

func applyOne(t *testing.T, s store.Store, agentID string, st wire.Status) bool {
	t.Helper()
	applied, err := s.ApplyStatuses(ctx(t), []store.AgentStatus{{AgentID: agentID, Status: st}})
	must(t, "ApplyStatuses", err)
	if len(applied) != 1 {
		t.Fatalf("ApplyStatuses of 1 status returned %d results", len(applied))
	}
	return applied[0]
}

func testPendingHunts(t *testing.T, s store.Store) {
	addAgents(t, s, "agent-1", "agent-2")
	now := base.Add(time.Hour)
	mk := func(id string, expires time.Time, state string, agents ...string) {
		h := hunt(id, base)
		h.Expires, h.State = expires, state
		must(t, "CreateHunt "+id, s.CreateHunt(ctx(t), h, agents))
	}
	future := now.Add(time.Hour)
	mk("h-run", future, store.HuntRunning, "agent-1", "agent-2")
	mk("h-recv", future, store.HuntRunning, "agent-1")
	mk("h-exp", now.Add(-time.Second), store.HuntRunning, "agent-1")
	mk("h-cancel", future, store.HuntCanceled, "agent-1")
	mk("h-pend", future, store.HuntPending, "agent-1")
	mk("h-other", future, store.HuntRunning, "agent-2")
	for _, st := range []string{wire.StateDone, wire.StateFailed, wire.StateRefused, wire.StateCanceled} {
		id := "h-" + st
		mk(id, future, store.HuntRunning, "agent-1")
		if !applyOne(t, s, "agent-1", status(id, 1, st)) {
			t.Fatalf("status %s not applied", st)
		}
	}
	for i, st := range []string{wire.StateReceived, wire.StateRunning} {
		if !applyOne(t, s, "agent-1", status("h-recv", uint64(i+1), st)) {
			t.Fatalf("status %s not applied", st)
		}
	}

	got, err := s.PendingHunts(ctx(t), "agent-1", now)
	must(t, "PendingHunts", err)
	ids := huntIDs(got)
	sort.Strings(ids)
	if want := []string{"h-recv", "h-run"}; !slices.Equal(ids, want) {
		t.Errorf("PendingHunts(agent-1) = %v, want %v", ids, want)
	}
	for _, h := range got {
		if h.ID == "h-run" {
			checkHunt(t, h, func() store.Hunt { h := hunt("h-run", base); h.Expires = future; return h }())
		}
	}
	got, err = s.PendingHunts(ctx(t), "agent-2", now)
	must(t, "PendingHunts", err)
	ids = huntIDs(got)
	sort.Strings(ids)
	if want := []string{"h-other", "h-run"}; !slices.Equal(ids, want) {
		t.Errorf("PendingHunts(agent-2) = %v, want %v", ids, want)
	}
	// Later, h-run and h-recv have expired too.
	got, err = s.PendingHunts(ctx(t), "agent-1", future.Add(time.Second))
	must(t, "PendingHunts", err)
	if len(got) != 0 {
		t.Errorf("PendingHunts after expiry = %v, want none", huntIDs(got))
	}
	got, err = s.PendingHunts(ctx(t), "agent-9", now)
	must(t, "PendingHunts of an unknown agent", err)
	if len(got) != 0 {
		t.Errorf("PendingHunts of an unknown agent = %v", huntIDs(got))
	}
}

func testApplyStatuses(t *testing.T, s store.Store) {
	addAgents(t, s, "agent-1", "agent-2", "agent-3")
	must(t, "CreateHunt", s.CreateHunt(ctx(t), hunt("hunt-1", base), []string{"agent-1", "agent-2"}))
	must(t, "CreateHunt", s.CreateHunt(ctx(t), hunt("hunt-2", base), []string{"agent-2"}))

	started := base.Add(30 * time.Second)
	s1 := status("hunt-1", 1, wire.StateReceived)
	s3 := status("hunt-1", 3, wire.StateRunning)
	s3.Started, s3.FilesScanned = started, 10
	s2 := status("hunt-1", 2, wire.StateRunning) // stale by then
	done := wire.Status{HuntID: "hunt-1", Seq: 7, State: wire.StateDone, Error: "some files unreadable",
		FilesScanned: 1000, FilesMatched: 12, FilesSkipped: 5, FileErrors: 3, Bytes: 1 << 30, Batches: 4,
		Time: base.Add(time.Hour)}
	in := []store.AgentStatus{
		{AgentID: "agent-1", Status: s1},
		{AgentID: "agent-1", Status: s3},
		{AgentID: "agent-1", Status: s2},                             // stale
		{AgentID: "agent-1", Status: status("hunt-2", 1, "running")}, // not assigned
		{AgentID: "agent-3", Status: status("hunt-1", 1, "running")}, // not assigned
		{AgentID: "agent-1", Status: status("hunt-9", 1, "running")}, // no such hunt
		{AgentID: "agent-2", Status: status("hunt-1", 0, "running")}, // Seq 0 is never above
		{AgentID: "agent-2", Status: status("hunt-2", 5, "running")},
		{AgentID: "agent-1", Status: done},
		{AgentID: "agent-1", Status: status("hunt-1", 7, wire.StateFailed)}, // same Seq again
	}
	applied, err := s.ApplyStatuses(ctx(t), in)
	must(t, "ApplyStatuses", err)
	want := []bool{true, true, false, false, false, false, false, true, true, false}
	if !slices.Equal(applied, want) {
		t.Errorf("ApplyStatuses applied = %v, want %v", applied, want)
	}

	as, err := s.Assignments(ctx(t), "hunt-1")
	must(t, "Assignments", err)
	if len(as) != 2 {
		t.Fatalf("Assignments = %+v, want 2", as)
	}
	a := as[0]
	checkTime(t, "Started (kept from an earlier status)", a.Started, started)
	checkTime(t, "Updated", a.Updated, done.Time)
	a.Started, a.Updated = time.Time{}, time.Time{}
	wantA := store.Assignment{HuntID: "hunt-1", AgentID: "agent-1", State: wire.StateDone,
		Error: done.Error, FilesScanned: 1000, FilesMatched: 12, FilesSkipped: 5, FileErrors: 3,
		Bytes: 1 << 30, Batches: 4, StatusSeq: 7}
	if a != wantA {
		t.Errorf("assignment = %+v\nwant %+v", a, wantA)
	}
	if as[1].State != "" || as[1].StatusSeq != 0 {
		t.Errorf("untouched assignment = %+v", as[1])
	}
	as, err = s.Assignments(ctx(t), "hunt-2")
	must(t, "Assignments", err)
	if len(as) != 1 || as[0].State != wire.StateRunning || as[0].StatusSeq != 5 {
		t.Errorf("hunt-2 assignments = %+v, want agent-2 running at Seq 5", as)
	}

	// Later calls see earlier ones: Seq 6 is below 7.
	if applyOne(t, s, "agent-1", status("hunt-1", 6, wire.StateRunning)) {
		t.Errorf("a status below the stored Seq was applied")
	}
	if !applyOne(t, s, "agent-1", status("hunt-1", 8, wire.StateCanceled)) {
		t.Errorf("a status above the stored Seq was not applied")
	}
	as, err = s.Assignments(ctx(t), "hunt-1")
	must(t, "Assignments", err)
	if as[0].State != wire.StateCanceled || as[0].StatusSeq != 8 {
		t.Errorf("assignment after Seq 8 = %+v", as[0])
	}
	applied, err = s.ApplyStatuses(ctx(t), nil)
	must(t, "ApplyStatuses of none", err)
	if len(applied) != 0 {
		t.Errorf("ApplyStatuses(nil) = %v", applied)
	}

	// Many statuses of several assignments, interleaved, in one call: each
	// assignment's apply in the order given, so all of them apply.
	must(t, "CreateHunt", s.CreateHunt(ctx(t), hunt("hunt-3", base), []string{"agent-1", "agent-2", "agent-3"}))
	in = nil
	for seq := uint64(1); seq <= 20; seq++ {
		for _, ag := range []string{"agent-3", "agent-1", "agent-2"} {
			st := status("hunt-3", seq, wire.StateRunning)
			st.FilesScanned = int64(seq)
			in = append(in, store.AgentStatus{AgentID: ag, Status: st})
		}
	}
	applied, err = s.ApplyStatuses(ctx(t), in)
	must(t, "ApplyStatuses", err)
	for i, ok := range applied {
		if !ok {
			t.Errorf("status %d (%s Seq %d) of an increasing sequence not applied", i, in[i].AgentID, in[i].Status.Seq)
		}
	}
	as, err = s.Assignments(ctx(t), "hunt-3")
	must(t, "Assignments", err)
	for _, a := range as {
		if a.StatusSeq != 20 || a.FilesScanned != 20 {
			t.Errorf("assignment of %s at Seq %d with %d files, want 20 and 20", a.AgentID, a.StatusSeq, a.FilesScanned)
		}
	}
}

// --- batches and results ---

func match(path string, rules ...string) wire.FileMatch {
	m := wire.FileMatch{Path: path, Size: int64(len(path)) * 100, SHA256: strings.Repeat("1f", 32),
		MD5: strings.Repeat("2e", 16)}
	for i, r := range rules {
		m.Rules = append(m.Rules, wire.RuleHit{Rule: r, Namespace: "ns",
			Tags:    []string{"tag" + r},
			Strings: []wire.StringHit{{ID: "$s" + r, Offsets: []int64{int64(i), 1 << 40}, Count: 2 + i}}})
	}
	return m
}

func batch(agentID, huntID string, seq uint64, matches ...wire.FileMatch) store.Batch {
	return store.Batch{AgentID: agentID, Received: base.Add(time.Duration(seq) * time.Second),
		Batch: wire.ResultBatch{HuntID: huntID, Seq: seq, Matches: matches}}
}

func addBatches(t *testing.T, s store.Store, b ...store.Batch) []bool {
	t.Helper()
	stored, err := s.AddBatches(ctx(t), b)
	must(t, "AddBatches", err)
	if len(stored) != len(b) {
		t.Fatalf("AddBatches of %d batches returned %d results", len(b), len(stored))
	}
	return stored
}

// allResults pages through every result of a hunt matching f.
func allResults(t *testing.T, s store.Store, huntID string, f store.ResultFilter) []store.Result {
	t.Helper()
	var out []store.Result
	for range 100000 {
		page, next, err := s.Results(ctx(t), huntID, f)
		must(t, "Results", err)
		if len(page) == 0 {
			if next != f.After {
				t.Errorf("Results: empty page moved the cursor from %d to %d", f.After, next)
			}
			return out
		}
		if next <= f.After {
			t.Fatalf("Results: cursor went from %d to %d", f.After, next)
		}
		out = append(out, page...)
		f.After = next
	}
	t.Fatalf("Results: paging does not end")
	return nil
}

func resultKeys(rs []store.Result) []string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%s/%d/%d", r.AgentID, r.Seq, r.Index))
	}
	return out
}

func testAddBatches(t *testing.T, s store.Store) {
	addAgents(t, s, "agent-1", "agent-2")
	must(t, "CreateHunt", s.CreateHunt(ctx(t), hunt("hunt-1", base), []string{"agent-1", "agent-2"}))
	must(t, "CreateHunt", s.CreateHunt(ctx(t), hunt("hunt-2", base), []string{"agent-2"}))

	b1 := batch("agent-1", "hunt-1", 1, match("/a", "r1"), match("/b", "r1", "r2", "r3"))
	if got := addBatches(t, s, b1); !slices.Equal(got, []bool{true}) {
		t.Errorf("AddBatches of a new batch = %v", got)
	}
	if got := addBatches(t, s, b1); !slices.Equal(got, []bool{false}) {
		t.Errorf("AddBatches of the same batch again = %v, want [false]", got)
	}
	b2 := batch("agent-1", "hunt-1", 2, match("/c", "r1"))
	other := batch("agent-2", "hunt-1", 1, match("/d", "r9")) // same Seq, other agent: a new batch
	unassigned := batch("agent-1", "hunt-2", 1, match("/e", "r1"))
	unknown := batch("agent-1", "hunt-9", 1, match("/f", "r1"))
	empty := batch("agent-2", "hunt-1", 2) // no matches: stored, no rows
	got := addBatches(t, s, b2, b1, other, unassigned, b2, unknown, empty)
	if want := []bool{true, false, true, false, false, false, true}; !slices.Equal(got, want) {
		t.Errorf("AddBatches = %v, want %v", got, want)
	}
	if got := addBatches(t, s); len(got) != 0 {
		t.Errorf("AddBatches of none = %v", got)
	}

	rs := allResults(t, s, "hunt-1", store.ResultFilter{})
	want := []string{"agent-1/1/0", "agent-1/1/1000", "agent-1/1/1001", "agent-1/1/1002", "agent-1/2/0", "agent-2/1/0"}
	if got := resultKeys(rs); !slices.Equal(got, want) {
		t.Errorf("results = %v, want %v", got, want)
	}
	if len(rs) == len(want) {
		for i, rule := range []string{"r1", "r1", "r2", "r3", "r1", "r9"} {
			if rs[i].Rule != rule {
				t.Errorf("result %d rule = %q, want %q", i, rs[i].Rule, rule)
			}
		}
	}
	rs = allResults(t, s, "hunt-2", store.ResultFilter{})
	if len(rs) != 0 {
		t.Errorf("results of a batch for an unassigned hunt were stored: %v", resultKeys(rs))
	}
	_, _, err := s.Results(ctx(t), "hunt-9", store.ResultFilter{})
	wantErr(t, "Results of an unknown hunt", err, store.ErrNotFound)
}

func testResultFields(t *testing.T, s store.Store) {
	addAgents(t, s, "agent-1")
	must(t, "CreateHunt", s.CreateHunt(ctx(t), hunt("hunt-1", base), []string{"agent-1"}))
	m := wire.FileMatch{Path: "/x/archive.zip!inner/evil.exe", Size: 123456789, SHA256: strings.Repeat("ab", 32),
		MD5: strings.Repeat("cd", 16), Rules: []wire.RuleHit{
			{Rule: "plain", Namespace: "default"},
			{Rule: "rich", Namespace: "apt", Tags: []string{"t1", "t2"}, Strings: []wire.StringHit{
				{ID: "$a", Offsets: []int64{0, 17, 1 << 33}, Count: 40},
				{ID: "$b", Offsets: []int64{5}, Count: 1},
			}},
		}}
	b := batch("agent-1", "hunt-1", 3, match("/first", "r0"), m)
	b.Batch.Errors = []wire.FileError{{Path: "/locked", Error: "permission denied"}}
	addBatches(t, s, b)
	rs := allResults(t, s, "hunt-1", store.ResultFilter{})
	if len(rs) != 3 {
		t.Fatalf("%d results, want 3", len(rs))
	}
	for i, r := range rs[1:] {
		hit := m.Rules[i]
		want := store.Result{HuntID: "hunt-1", AgentID: "agent-1", Seq: 3, Index: 1000 + i, Path: m.Path,
			Size: m.Size, SHA256: m.SHA256, MD5: m.MD5, Rule: hit.Rule, Namespace: hit.Namespace,
			Tags: hit.Tags, Strings: hit.Strings, Received: b.Received}
		checkTime(t, "result Received", r.Received, want.Received)
		if !stringsEqual(r.Tags, want.Tags) {
			t.Errorf("result %d tags = %q, want %q", i, r.Tags, want.Tags)
		}
		if len(r.Strings) != 0 || len(want.Strings) != 0 {
			if !reflect.DeepEqual(r.Strings, want.Strings) {
				t.Errorf("result %d strings = %+v, want %+v", i, r.Strings, want.Strings)
			}
		}
		r.Received, r.Tags, r.Strings = time.Time{}, nil, nil
		want.Received, want.Tags, want.Strings = time.Time{}, nil, nil
		if !reflect.DeepEqual(r, want) {
			t.Errorf("result %d = %+v\nwant %+v", i, r, want)
		}
	}
}

func testResultFilters(t *testing.T, s store.Store) {
	addAgents(t, s, "a1", "a10", "a2")
	must(t, "CreateHunt", s.CreateHunt(ctx(t), hunt("hunt-1", base), []string{"a1", "a10", "a2"}))
	must(t, "CreateHunt", s.CreateHunt(ctx(t), hunt("hunt-2", base), []string{"a1"}))
	addBatches(t, s,
		batch("a1", "hunt-1", 1, match("/etc/passwd", "Evil_One"), match("/home/u/evil.bin", "evil_two", "Good")),
		batch("a10", "hunt-1", 1, match("/etc/shadow", "Evil_One")),
		batch("a2", "hunt-1", 1, match("/tmp/EVIL", "other")),
		batch("a1", "hunt-2", 1, match("/etc/passwd", "Evil_One")),
	)
	cases := []struct {
		f    store.ResultFilter
		want []string // path|rule
	}{
		{store.ResultFilter{}, []string{"/etc/passwd|Evil_One", "/home/u/evil.bin|evil_two", "/home/u/evil.bin|Good",
			"/etc/shadow|Evil_One", "/tmp/EVIL|other"}},
		{store.ResultFilter{AgentID: "a1"}, []string{"/etc/passwd|Evil_One", "/home/u/evil.bin|evil_two", "/home/u/evil.bin|Good"}},
		{store.ResultFilter{AgentID: "a10"}, []string{"/etc/shadow|Evil_One"}},
		{store.ResultFilter{AgentID: "a"}, nil},
		{store.ResultFilter{Rule: "Evil"}, []string{"/etc/passwd|Evil_One", "/etc/shadow|Evil_One"}},
		{store.ResultFilter{Rule: "l_t"}, []string{"/home/u/evil.bin|evil_two"}},
		{store.ResultFilter{Path: "/etc/"}, []string{"/etc/passwd|Evil_One", "/etc/shadow|Evil_One"}},
		{store.ResultFilter{Path: "evil"}, []string{"/home/u/evil.bin|evil_two", "/home/u/evil.bin|Good"}},
		{store.ResultFilter{Path: "%"}, nil},
		{store.ResultFilter{Rule: "_"}, []string{"/etc/passwd|Evil_One", "/home/u/evil.bin|evil_two", "/etc/shadow|Evil_One"}},
		{store.ResultFilter{AgentID: "a1", Path: "etc", Rule: "One"}, []string{"/etc/passwd|Evil_One"}},
		{store.ResultFilter{AgentID: "a2", Rule: "Evil"}, nil},
	}
	for _, c := range cases {
		var got []string
		for _, r := range allResults(t, s, "hunt-1", c.f) {
			if r.HuntID != "hunt-1" {
				t.Errorf("Results(hunt-1) returned a row of %q", r.HuntID)
			}
			got = append(got, r.Path+"|"+r.Rule)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("Results(%+v) = %q, want %q", c.f, got, c.want)
		}
	}
}

func testResultPaging(t *testing.T, s store.Store) {
	addAgents(t, s, "agent-1", "agent-2")
	must(t, "CreateHunt", s.CreateHunt(ctx(t), hunt("hunt-1", base), []string{"agent-1", "agent-2"}))
	must(t, "CreateHunt", s.CreateHunt(ctx(t), hunt("hunt-2", base), []string{"agent-1"}))
	var want []string
	for seq := uint64(1); seq <= 5; seq++ {
		for _, ag := range []string{"agent-2", "agent-1"} {
			var ms []wire.FileMatch
			for f := range 3 {
				ms = append(ms, match(fmt.Sprintf("/%s/%d/%d", ag, seq, f), "r1", "r2"))
				want = append(want, fmt.Sprintf("%s/%d/%d", ag, seq, f*1000), fmt.Sprintf("%s/%d/%d", ag, seq, f*1000+1))
			}
			addBatches(t, s, batch(ag, "hunt-1", seq, ms...), batch("agent-1", "hunt-2", seq*10+uint64(len(ag)), ms...))
		}
	}
	for _, limit := range []int{1, 7, 30, 60, 1000} {
		got := allResults(t, s, "hunt-1", store.ResultFilter{Limit: limit})
		if !slices.Equal(resultKeys(got), want) {
			t.Errorf("paging by %d: %d rows %v\nwant %d rows %v", limit, len(got), resultKeys(got), len(want), want)
		}
		page, next, err := s.Results(ctx(t), "hunt-1", store.ResultFilter{Limit: limit})
		must(t, "Results", err)
		if len(page) != min(limit, len(want)) {
			t.Errorf("first page with Limit %d has %d rows", limit, len(page))
		}
		if limit < len(want) {
			rest, _, err := s.Results(ctx(t), "hunt-1", store.ResultFilter{After: next, Limit: 1})
			must(t, "Results", err)
			if len(rest) != 1 || resultKeys(rest)[0] != want[limit] {
				t.Errorf("row after the first page of %d = %v, want %s", limit, resultKeys(rest), want[limit])
			}
		}
	}
	// Paging with a filter visits only matching rows, each once.
	got := allResults(t, s, "hunt-1", store.ResultFilter{AgentID: "agent-1", Rule: "r2", Limit: 4})
	var wantF []string
	for _, k := range want {
		if strings.HasPrefix(k, "agent-1/") && strings.HasSuffix(k, "1") {
			wantF = append(wantF, k)
		}
	}
	if !slices.Equal(resultKeys(got), wantF) {
		t.Errorf("filtered paging = %v, want %v", resultKeys(got), wantF)
	}
	// A cursor past the end returns nothing and keeps the cursor.
	page, next, err := s.Results(ctx(t), "hunt-1", store.ResultFilter{After: 1 << 50})
	must(t, "Results", err)
	if len(page) != 0 || next != 1<<50 {
		t.Errorf("Results past the end = %d rows, cursor %d", len(page), next)
	}
	p, err := s.Progress(ctx(t), "hunt-1")
	must(t, "Progress", err)
	if p.Results != int64(len(want)) {
		t.Errorf("Progress.Results = %d, want %d", p.Results, len(want))
	}
}

func testResultDefaultLimit(t *testing.T, s store.Store) {
	addAgents(t, s, "agent-1")
	must(t, "CreateHunt", s.CreateHunt(ctx(t), hunt("hunt-1", base), []string{"agent-1"}))
	var bs []store.Batch
	for seq := uint64(1); seq <= 7; seq++ {
		var ms []wire.FileMatch
		for f := range 150 {
			ms = append(ms, match(fmt.Sprintf("/f%d", f), "r"))
		}
		bs = append(bs, batch("agent-1", "hunt-1", seq, ms...))
	}
	addBatches(t, s, bs...)
	page, next, err := s.Results(ctx(t), "hunt-1", store.ResultFilter{})
	must(t, "Results", err)
	if len(page) != 1000 {
		t.Fatalf("Results without Limit: %d rows, want 1000", len(page))
	}
	page, _, err = s.Results(ctx(t), "hunt-1", store.ResultFilter{After: next})
	must(t, "Results", err)
	if len(page) != 50 {
		t.Errorf("second page: %d rows, want 50", len(page))
	}
	if p, err := s.Progress(ctx(t), "hunt-1"); err != nil || p.Results != 1050 {
		t.Errorf("Progress = %+v, %v; want 1050 results", p, err)
	}
}

func testProgress(t *testing.T, s store.Store) {
	addAgents(t, s, "agent-1", "agent-2", "agent-3", "agent-4")
	must(t, "CreateHunt", s.CreateHunt(ctx(t), hunt("hunt-1", base), []string{"agent-1", "agent-2", "agent-3", "agent-4"}))
	must(t, "CreateHunt", s.CreateHunt(ctx(t), hunt("hunt-2", base), []string{"agent-1"}))
	p, err := s.Progress(ctx(t), "hunt-1")
	must(t, "Progress", err)
	if p.Agents != 4 || p.Done != 0 || p.Results != 0 || p.States[""] != 4 {
		t.Errorf("Progress of a new hunt = %+v", p)
	}
	d := status("hunt-1", 2, wire.StateDone)
	d.FilesScanned, d.FileErrors = 100, 2
	f := status("hunt-1", 1, wire.StateFailed)
	f.FilesScanned, f.FileErrors = 7, 1
	r := status("hunt-1", 1, wire.StateRunning)
	r.FilesScanned = 50
	other := status("hunt-2", 1, wire.StateRunning)
	other.FilesScanned, other.FileErrors = 1000, 1000
	_, err = s.ApplyStatuses(ctx(t), []store.AgentStatus{
		{AgentID: "agent-1", Status: d}, {AgentID: "agent-2", Status: f}, {AgentID: "agent-3", Status: r},
		{AgentID: "agent-1", Status: other},
	})
	must(t, "ApplyStatuses", err)
	addBatches(t, s,
		batch("agent-1", "hunt-1", 1, match("/a", "r1", "r2"), match("/b", "r1")),
		batch("agent-3", "hunt-1", 1, match("/c", "r1")),
		batch("agent-3", "hunt-1", 1, match("/c", "r1")), // duplicate: not counted
		batch("agent-1", "hunt-2", 1, match("/z", "r1", "r2", "r3")),
	)
	p, err = s.Progress(ctx(t), "hunt-1")
	must(t, "Progress", err)
	want := store.Progress{Agents: 4, States: map[string]int{"": 1, wire.StateDone: 1, wire.StateFailed: 1,
		wire.StateRunning: 1}, Done: 2, Results: 4, FilesScanned: 157, FileErrors: 3}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("Progress = %+v\nwant %+v", p, want)
	}
	p, err = s.Progress(ctx(t), "hunt-2")
	must(t, "Progress", err)
	if p.Agents != 1 || p.Results != 3 || p.Done != 0 || p.FilesScanned != 1000 {
		t.Errorf("Progress of hunt-2 = %+v", p)
	}
	_, err = s.Progress(ctx(t), "hunt-9")
	wantErr(t, "Progress of an unknown hunt", err, store.ErrNotFound)
}

func testTimes(t *testing.T, s store.Store) {
	// A time in another zone with sub-millisecond digits, and one before 1970.
	for i, tm := range []time.Time{base, time.Date(1969, 7, 20, 20, 17, 40, 999999999, time.UTC),
		time.Date(2262, 1, 1, 0, 0, 0, 1e6, time.FixedZone("Y", -8*3600))} {
		o := operator(fmt.Sprintf("op-%d", i), fmt.Sprintf("name-%d", i), store.RoleViewer)
		o.Created = tm
		must(t, "CreateOperator", s.CreateOperator(ctx(t), o))
		got, err := s.OperatorByTokenHash(ctx(t), o.TokenHash)
		must(t, "OperatorByTokenHash", err)
		checkTime(t, "Created", got.Created, tm)
	}
	// A zero time stays zero.
	o := operator("op-zero", "zero", store.RoleViewer)
	o.Created = time.Time{}
	must(t, "CreateOperator", s.CreateOperator(ctx(t), o))
	got, err := s.OperatorByTokenHash(ctx(t), o.TokenHash)
	must(t, "OperatorByTokenHash", err)
	if !got.Created.IsZero() {
		t.Errorf("zero Created came back as %v", got.Created)
	}
}

func testConcurrentWrites(t *testing.T, s store.Store) {
	const workers, calls = 6, 15
	var ids []string
	for w := range workers {
		ids = append(ids, fmt.Sprintf("agent-%d", w))
	}
	addAgents(t, s, ids...)
	must(t, "CreateHunt", s.CreateHunt(ctx(t), hunt("hunt-1", base), ids))
	var wg sync.WaitGroup
	errs := make(chan error, workers*calls*3)
	for w := range workers {
		wg.Go(func() {
			ag := ids[w]
			for c := range calls {
				seq := uint64(c + 1)
				b := batch(ag, "hunt-1", seq, match(fmt.Sprintf("/%d", c), "r1", "r2"))
				if _, err := s.AddBatches(ctx(t), []store.Batch{b, b}); err != nil {
					errs <- fmt.Errorf("AddBatches: %w", err)
				}
				if _, err := s.ApplyStatuses(ctx(t), []store.AgentStatus{{AgentID: ag, Status: status("hunt-1", seq, wire.StateRunning)}}); err != nil {
					errs <- fmt.Errorf("ApplyStatuses: %w", err)
				}
				if err := s.TouchAgent(ctx(t), ag, base.Add(time.Duration(c)*time.Second), "h", "v"); err != nil {
					errs <- fmt.Errorf("TouchAgent: %w", err)
				}
				if _, _, err := s.Results(ctx(t), "hunt-1", store.ResultFilter{AgentID: ag}); err != nil {
					errs <- fmt.Errorf("Results: %w", err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	rs := allResults(t, s, "hunt-1", store.ResultFilter{Limit: 37})
	if len(rs) != workers*calls*2 {
		t.Errorf("%d results after concurrent writes, want %d", len(rs), workers*calls*2)
	}
	seen := map[string]bool{}
	for _, k := range resultKeys(rs) {
		if seen[k] {
			t.Errorf("result %s twice", k)
		}
		seen[k] = true
	}
	as, err := s.Assignments(ctx(t), "hunt-1")
	must(t, "Assignments", err)
	for _, a := range as {
		if a.StatusSeq != calls {
			t.Errorf("assignment of %s at Seq %d, want %d", a.AgentID, a.StatusSeq, calls)
		}
	}
}

// sameOrClean reports whether a stored string came back as given or as
// store.CleanText made it.
func sameOrClean(got, want string) bool {
	return got == want || got == store.CleanText(want)
}

// testOddStrings stores NUL bytes and invalid UTF-8 from agents: writes
// must not fail (one bad path must not block a whole batch), and the
// strings come back as given or with those bytes replaced by U+FFFD.
func testOddStrings(t *testing.T, s store.Store) {
	const odd = "/tmp/a\x00b/\xff\xfe.bin"
	tk := token("tok-1", 0, map[string]string{"k\x00": "v\xff"})
	must(t, "CreateEnrollToken", s.CreateEnrollToken(ctx(t), tk))
	a := agent("agent-1", map[string]string{"site": "x\x00y"})
	a.Hostname = "host\x00name"
	_, err := s.Enroll(ctx(t), tk.SecretHash, a, base)
	must(t, "Enroll with odd strings", err)
	must(t, "TouchAgent with odd strings", s.TouchAgent(ctx(t), "agent-1", base, "h\x00\xc3", "v\x00"))
	got, err := s.GetAgent(ctx(t), "agent-1")
	must(t, "GetAgent", err)
	if !sameOrClean(got.Hostname, "h\x00\xc3") || !sameOrClean(got.Version, "v\x00") || len(got.Labels) != 2 {
		t.Errorf("agent with odd strings = %+v", got)
	}

	must(t, "CreateHunt", s.CreateHunt(ctx(t), hunt("hunt-1", base), []string{"agent-1"}))
	st := status("hunt-1", 1, wire.StateFailed)
	st.Error = "rule \x00 bad \xff"
	applied, err := s.ApplyStatuses(ctx(t), []store.AgentStatus{{AgentID: "agent-1", Status: st}})
	must(t, "ApplyStatuses with odd strings", err)
	if !slices.Equal(applied, []bool{true}) {
		t.Errorf("ApplyStatuses = %v", applied)
	}
	as, err := s.Assignments(ctx(t), "hunt-1")
	must(t, "Assignments", err)
	if len(as) != 1 || !sameOrClean(as[0].Error, st.Error) {
		t.Errorf("assignment with an odd error = %+v", as)
	}

	m := match(odd, "r\x00x")
	m.SHA256, m.MD5 = "\x00", "\xff"
	m.Rules[0].Namespace = "n\x00"
	m.Rules[0].Tags = []string{"t\x00", "\xff"}
	m.Rules[0].Strings[0].ID = "$\x00"
	stored := addBatches(t, s, batch("agent-1", "hunt-1", 1, m), batch("agent-1", "hunt-1", 2, match("/fine", "r")))
	if !slices.Equal(stored, []bool{true, true}) {
		t.Errorf("AddBatches with odd strings = %v, want both stored", stored)
	}
	rs := allResults(t, s, "hunt-1", store.ResultFilter{})
	if len(rs) != 2 {
		t.Fatalf("%d results, want 2", len(rs))
	}
	r := rs[0]
	if !sameOrClean(r.Path, odd) || !sameOrClean(r.Rule, "r\x00x") || !sameOrClean(r.SHA256, "\x00") ||
		!sameOrClean(r.MD5, "\xff") || !sameOrClean(r.Namespace, "n\x00") || len(r.Tags) != 2 || len(r.Strings) != 1 {
		t.Errorf("result with odd strings = %+v", r)
	}
	// Filters with such bytes are no error either.
	for _, f := range []store.ResultFilter{{Path: "\x00"}, {Rule: "\xff"}, {AgentID: "a\x00"}} {
		if _, _, err := s.Results(ctx(t), "hunt-1", f); err != nil {
			t.Errorf("Results(%+v): %v", f, err)
		}
	}
	if _, err := s.PendingHunts(ctx(t), "agent\x00", base); err != nil {
		t.Errorf("PendingHunts of an odd agent ID: %v", err)
	}
}
