package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"vigil/server/api"
	"vigil/server/store"
	"vigil/translog"
)

// Approvals: approvers register a note key (PUT /whoami/key), then sign
// hunt entries on their own machines and send the signed approval entries
// (POST /hunts/{id}/approve). The server checks and logs them; agents check
// them again against their own policy.

// maxApprovalEntry bounds an approval request's entry.
const maxApprovalEntry = 16 << 10

// SetKey registers the caller's approval key: a note verifier key whose
// name is the caller's operator name. Any enabled operator may register
// one; only approvers' keys count (EnrollReply.Approvers, ApproveHunt).
func (v *Service) SetKey(ctx context.Context, by api.Operator, r api.KeyRequest) (api.Operator, error) {
	if err := require(by, store.RoleViewer); err != nil {
		return api.Operator{}, err
	}
	key := strings.TrimSpace(r.Key)
	if key == "" || len(key) > maxKeyLen {
		return api.Operator{}, api.Errorf(http.StatusBadRequest, "key must be a note verifier key of 1-%d bytes (the .pub file of `vigil key create`)", maxKeyLen)
	}
	if strings.HasPrefix(key, "PRIVATE+KEY+") {
		// Say nothing of the key itself: it is a secret the caller leaked to us.
		return api.Operator{}, api.Errorf(http.StatusBadRequest, "that is a PRIVATE key: send the public key (the .pub file), and make a new key pair, since this one has left its machine")
	}
	ver, err := note.NewVerifier(key)
	if err != nil {
		return api.Operator{}, api.Errorf(http.StatusBadRequest, "key is not a note verifier key (name+hash+keydata): %v", err)
	}
	if ver.Name() != by.Name {
		return api.Operator{}, api.Errorf(http.StatusBadRequest, "key is named %q but you are operator %q: make the key with --name %s", ver.Name(), by.Name, by.Name)
	}
	err = v.s.store.SetOperatorKey(ctx, by.ID, key)
	if errors.Is(err, store.ErrNotFound) {
		return api.Operator{}, api.Errorf(http.StatusNotFound, "no operator %q", by.ID)
	}
	if err != nil {
		return api.Operator{}, err
	}
	v.s.logf("operator %s registered approval key %s", by.Name, key)
	o, err := v.operator(ctx, by.ID)
	if err != nil {
		return api.Operator{}, err
	}
	return apiOperator(o), nil
}

// operator looks an operator up by ID.
func (v *Service) operator(ctx context.Context, id string) (store.Operator, error) {
	list, err := v.s.store.ListOperators(ctx)
	if err != nil {
		return store.Operator{}, err
	}
	for _, o := range list {
		if o.ID == id {
			return o, nil
		}
	}
	return store.Operator{}, api.Errorf(http.StatusNotFound, "no operator %q", id)
}

// approverKeys returns the approval keys of the enabled operators whose
// role may approve, sorted.
func (v *Service) approverKeys(ctx context.Context) ([]string, error) {
	list, err := v.s.store.ListOperators(ctx)
	if err != nil {
		return nil, err
	}
	keys := []string{}
	for _, o := range list {
		if !o.Disabled && o.ApprovalKey != "" && roleRank[o.Role] >= roleRank[store.RoleApprover] {
			keys = append(keys, o.ApprovalKey)
		}
	}
	sort.Strings(keys)
	return keys, nil
}

// ApproveHunt checks an approval made on the approver's machine
// (translog.NewApproval over the hunt's log entry), appends it to the log,
// stores it, and once the hunt has the approvals it needs, starts it: its
// agents get it pushed and at their next sync. The caller must be an
// approver other than the hunt's author, with a registered key equal to
// the one that signed, and may approve a hunt once.
func (v *Service) ApproveHunt(ctx context.Context, by api.Operator, id string, r api.ApprovalRequest) (api.Hunt, error) {
	if err := require(by, store.RoleApprover); err != nil {
		return api.Hunt{}, err
	}
	if r.Entry == "" || len(r.Entry) > maxApprovalEntry {
		return api.Hunt{}, api.Errorf(http.StatusBadRequest, "entry must be a canonical approval entry of 1-%d bytes (made by `vigil hunt approve`)", maxApprovalEntry)
	}
	a, err := translog.DecodeApproval([]byte(r.Entry))
	if err != nil {
		return api.Hunt{}, api.Errorf(http.StatusBadRequest, "entry: %v", err)
	}
	v.s.approveMu.Lock()
	defer v.s.approveMu.Unlock()
	h, err := v.getHunt(ctx, id)
	if err != nil {
		return api.Hunt{}, err
	}
	switch {
	case h.State != store.HuntPending && h.State != store.HuntRunning:
		return api.Hunt{}, api.Errorf(http.StatusConflict, "hunt %s is %s: it can no longer be approved", id, h.State)
	case !v.now().Before(h.Expires):
		return api.Hunt{}, api.Errorf(http.StatusConflict, "hunt %s has expired", id)
	case h.LogIndex < 0:
		return api.Hunt{}, api.Errorf(http.StatusConflict, "hunt %s is not in the transparency log (made before it existed): create it again", id)
	}
	if h.CreatedBy == by.Name {
		return api.Hunt{}, api.Errorf(http.StatusForbidden, "you created hunt %s: another approver must approve it", id)
	}
	o, err := v.operator(ctx, by.ID)
	if err != nil {
		return api.Hunt{}, err
	}
	if o.ApprovalKey == "" {
		return api.Hunt{}, api.Errorf(http.StatusForbidden, "operator %s has no approval key: register one first (vigil key register)", by.Name)
	}
	switch {
	case a.HuntID != id:
		return api.Hunt{}, api.Errorf(http.StatusBadRequest, "the approval is of hunt %s, not %s", a.HuntID, id)
	case a.HuntIndex != h.LogIndex:
		return api.Hunt{}, api.Errorf(http.StatusBadRequest, "the approval names log entry %d, but hunt %s is entry %d", a.HuntIndex, id, h.LogIndex)
	case a.Approver != by.Name:
		return api.Hunt{}, api.Errorf(http.StatusForbidden, "the approval is by %q, but you are %q", a.Approver, by.Name)
	case a.ApproverKey != o.ApprovalKey:
		return api.Hunt{}, api.Errorf(http.StatusForbidden, "the approval is signed with a key that is not your registered approval key")
	}
	huntEntry, err := v.s.loggedHunt(ctx, h)
	if err != nil {
		return api.Hunt{}, fmt.Errorf("hunt %s: %w", id, err)
	}
	if err := a.Verify(huntEntry); err != nil {
		return api.Hunt{}, api.Errorf(http.StatusForbidden, "the approval's signature does not verify over hunt %s's log entry: %v", id, err)
	}
	prior, err := v.s.store.Approvals(ctx, id)
	if err != nil {
		return api.Hunt{}, err
	}
	for _, p := range prior {
		if p.Approver == by.Name {
			return api.Hunt{}, api.Errorf(http.StatusConflict, "you already approved hunt %s", id)
		}
	}
	canonical, err := a.Encode()
	if err != nil {
		return api.Hunt{}, api.Errorf(http.StatusBadRequest, "entry: %v", err)
	}
	// The log first: an approval that counts is always in the log.
	idx, err := v.s.tlog.appendEntry(ctx, translog.KindApproval, canonical)
	if err != nil {
		return api.Hunt{}, err
	}
	err = v.s.store.AddApproval(ctx, store.Approval{
		HuntID: id, Approver: by.Name, Key: a.ApproverKey, LogIndex: idx, Entry: canonical, Time: a.Time.UTC(),
	})
	if errors.Is(err, store.ErrConflict) {
		return api.Hunt{}, api.Errorf(http.StatusConflict, "you already approved hunt %s", id)
	}
	if err != nil {
		return api.Hunt{}, err
	}
	v.s.logf("hunt %s approved by %s (log entry %d; %d of %d approvals)", id, by.Name, idx, len(prior)+1, h.ApprovalsRequired)
	if h.State == store.HuntPending && len(prior)+1 >= h.ApprovalsRequired {
		if err := v.start(ctx, h); err != nil {
			return api.Hunt{}, err
		}
	}
	return v.Hunt(ctx, by, id)
}

// start makes a pending hunt running and pushes it to its agents that
// have not finished it.
func (v *Service) start(ctx context.Context, h store.Hunt) error {
	if err := v.s.store.SetHuntState(ctx, h.ID, store.HuntRunning); err != nil {
		return err
	}
	as, err := v.s.store.Assignments(ctx, h.ID)
	if err != nil {
		return err
	}
	var ids []string
	for _, a := range as {
		if a.State == "" {
			ids = append(ids, a.AgentID)
		}
	}
	v.s.logf("hunt %s has its approvals: sending it to %d agents", h.ID, len(ids))
	v.s.pushHunt(h.Hunt, ids)
	return nil
}
