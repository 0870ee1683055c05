package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"vigil/server/api"
	"vigil/server/store"
)

// Service is the server's business logic: every HTTP API handler and the
// web UI call its methods. Methods that act for an operator check the
// operator's role and return an *api.StatusError for anything the caller
// did wrong (400, 401, 403, 404, 409, 429); other errors are the server's.
// It implements webui.Backend.
type Service struct {
	s *Server
}

// Limits on what operators may ask for.
const (
	maxNameLen        = 200  // hunt names and token descriptions
	maxWhyLen         = 4096 // a hunt's written reason
	maxOperatorName   = 64   // operator names
	maxPathLen        = 4096 // one hunt path or exclude pattern
	defaultHuntExpiry = 24 * time.Hour
	maxHuntExpiry     = 30 * 24 * time.Hour
	defaultTokenLife  = 7 * 24 * time.Hour
	maxTokenLife      = 365 * 24 * time.Hour
	maxResultPage     = 1000 // rows in one page of results
	defaultResultPage = 100
)

// roleRank orders the roles, weakest first.
var roleRank = map[string]int{
	store.RoleViewer:   0,
	store.RoleHunter:   1,
	store.RoleApprover: 2,
	store.RoleAdmin:    3,
}

// require returns a 403 error unless by holds at least role.
func require(by api.Operator, role string) error {
	have, ok := roleRank[by.Role]
	if !ok || have < roleRank[role] {
		return api.Errorf(http.StatusForbidden, "operator %s (role %s) may not do this: needs role %s", by.Name, by.Role, role)
	}
	return nil
}

func (v *Service) now() time.Time { return v.s.clock() }

// Authenticate returns the enabled operator holding this API token, or an
// *api.StatusError with code 401.
func (v *Service) Authenticate(ctx context.Context, token string) (api.Operator, error) {
	if token == "" || len(token) > maxSecretLen {
		return api.Operator{}, api.Errorf(http.StatusUnauthorized, "missing or invalid API token")
	}
	o, err := v.s.store.OperatorByTokenHash(ctx, hashSecret(token))
	if errors.Is(err, store.ErrNotFound) {
		return api.Operator{}, api.Errorf(http.StatusUnauthorized, "missing or invalid API token")
	}
	if err != nil {
		return api.Operator{}, fmt.Errorf("authenticate: %w", err)
	}
	if o.Disabled {
		return api.Operator{}, api.Errorf(http.StatusUnauthorized, "operator %s is disabled", o.Name)
	}
	return apiOperator(o), nil
}

func apiOperator(o store.Operator) api.Operator {
	return api.Operator{ID: o.ID, Name: o.Name, Role: o.Role, Created: o.Created, Disabled: o.Disabled, Key: o.ApprovalKey}
}

// Operators lists every operator (admin only).
func (v *Service) Operators(ctx context.Context, by api.Operator) ([]api.Operator, error) {
	if err := require(by, store.RoleAdmin); err != nil {
		return nil, err
	}
	list, err := v.s.store.ListOperators(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.Operator, 0, len(list))
	for _, o := range list {
		out = append(out, apiOperator(o))
	}
	return out, nil
}

// CreateOperator creates an operator with a fresh API token, returned once
// (admin only).
func (v *Service) CreateOperator(ctx context.Context, by api.Operator, r api.OperatorRequest) (api.OperatorCreated, error) {
	if err := require(by, store.RoleAdmin); err != nil {
		return api.OperatorCreated{}, err
	}
	if err := validOperatorName(r.Name); err != nil {
		return api.OperatorCreated{}, api.Errorf(http.StatusBadRequest, "%v", err)
	}
	if _, ok := roleRank[r.Role]; !ok {
		return api.OperatorCreated{}, api.Errorf(http.StatusBadRequest, "role %q: want viewer, hunter, approver or admin", r.Role)
	}
	token := newSecret(operatorTokenPrefix)
	o := store.Operator{
		ID:        newID(operatorIDPrefix),
		Name:      r.Name,
		Role:      r.Role,
		TokenHash: hashSecret(token),
		Created:   v.now(),
	}
	if err := v.s.store.CreateOperator(ctx, o); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return api.OperatorCreated{}, api.Errorf(http.StatusConflict, "operator %q already exists", r.Name)
		}
		return api.OperatorCreated{}, err
	}
	v.s.logf("operator %s (%s, role %s) created by %s", o.Name, o.ID, o.Role, by.Name)
	return api.OperatorCreated{Operator: apiOperator(o), Token: token}, nil
}

// validOperatorName accepts 1-64 characters of letters, digits and ._@-.
func validOperatorName(name string) error {
	if name == "" || len(name) > maxOperatorName {
		return fmt.Errorf("operator name must be 1-%d characters", maxOperatorName)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._@-", c)) {
			return fmt.Errorf("operator name %q: character %q not allowed (letters, digits and ._@- only)", name, c)
		}
	}
	return nil
}

// Agents lists every enrolled agent, ordered by ID.
func (v *Service) Agents(ctx context.Context, by api.Operator) ([]api.Agent, error) {
	if err := require(by, store.RoleViewer); err != nil {
		return nil, err
	}
	list, err := v.s.store.ListAgents(ctx)
	if err != nil {
		return nil, err
	}
	now := v.now()
	out := make([]api.Agent, 0, len(list))
	for _, a := range list {
		out = append(out, v.apiAgent(a, now))
	}
	return out, nil
}

// Agent returns one agent.
func (v *Service) Agent(ctx context.Context, by api.Operator, id string) (api.Agent, error) {
	if err := require(by, store.RoleViewer); err != nil {
		return api.Agent{}, err
	}
	a, err := v.s.store.GetAgent(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return api.Agent{}, api.Errorf(http.StatusNotFound, "no agent %q", id)
	}
	if err != nil {
		return api.Agent{}, err
	}
	return v.apiAgent(a, v.now()), nil
}

// apiAgent converts an agent, taking its last Hello from the in-memory
// cache when that is newer than the store's (Hellos are written in bulk).
func (v *Service) apiAgent(a store.Agent, now time.Time) api.Agent {
	seen := a.LastSeen
	hostname, version := a.Hostname, a.Version
	if h, ok := v.s.hellos.get(a.ID); ok && h.seen.After(seen) {
		seen = h.seen
		if h.hostname != "" {
			hostname = h.hostname
		}
		if h.version != "" {
			version = h.version
		}
	}
	labels := a.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return api.Agent{
		ID:       a.ID,
		Hostname: hostname,
		OS:       a.OS,
		Arch:     a.Arch,
		Version:  version,
		Labels:   labels,
		Enrolled: a.Enrolled,
		LastSeen: seen,
		Online:   online(seen, now),
	}
}

// Tokens lists the enrollment tokens, without secrets (admin only).
func (v *Service) Tokens(ctx context.Context, by api.Operator) ([]api.Token, error) {
	if err := require(by, store.RoleAdmin); err != nil {
		return nil, err
	}
	list, err := v.s.store.ListEnrollTokens(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.Token, 0, len(list))
	for _, t := range list {
		out = append(out, apiToken(t))
	}
	return out, nil
}

func apiToken(t store.EnrollToken) api.Token {
	labels := t.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return api.Token{
		ID:          t.ID,
		Labels:      labels,
		MaxUses:     t.MaxUses,
		Uses:        t.Uses,
		Expires:     t.Expires,
		Created:     t.Created,
		CreatedBy:   t.CreatedBy,
		Revoked:     t.Revoked,
		Description: t.Description,
	}
}

// CreateToken creates an enrollment token; its secret is returned once
// (admin only).
func (v *Service) CreateToken(ctx context.Context, by api.Operator, r api.TokenRequest) (api.TokenCreated, error) {
	if err := require(by, store.RoleAdmin); err != nil {
		return api.TokenCreated{}, err
	}
	if err := validLabels(r.Labels); err != nil {
		return api.TokenCreated{}, api.Errorf(http.StatusBadRequest, "%v", err)
	}
	if r.MaxUses < 0 {
		return api.TokenCreated{}, api.Errorf(http.StatusBadRequest, "max_uses must not be negative")
	}
	if len(r.Description) > maxNameLen {
		return api.TokenCreated{}, api.Errorf(http.StatusBadRequest, "description is over %d bytes", maxNameLen)
	}
	life, err := parseExpiry("expires_in", r.ExpiresIn, defaultTokenLife, maxTokenLife)
	if err != nil {
		return api.TokenCreated{}, err
	}
	now := v.now()
	secret := newSecret(enrollSecretPrefix)
	t := store.EnrollToken{
		ID:          newID(tokenIDPrefix),
		SecretHash:  hashSecret(secret),
		Labels:      r.Labels,
		MaxUses:     r.MaxUses,
		Expires:     now.Add(life),
		Created:     now,
		CreatedBy:   by.Name,
		Description: r.Description,
	}
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	if err := v.s.store.CreateEnrollToken(ctx, t); err != nil {
		return api.TokenCreated{}, err
	}
	v.s.logf("enrollment token %s created by %s (max uses %d, expires %s)", t.ID, by.Name, t.MaxUses, t.Expires.Format(time.RFC3339))
	return api.TokenCreated{Token: apiToken(t), Secret: secret}, nil
}

// RevokeToken revokes an enrollment token (admin only). Agents enrolled
// with it stay enrolled.
func (v *Service) RevokeToken(ctx context.Context, by api.Operator, id string) error {
	if err := require(by, store.RoleAdmin); err != nil {
		return err
	}
	err := v.s.store.RevokeEnrollToken(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return api.Errorf(http.StatusNotFound, "no enrollment token %q", id)
	}
	if err != nil {
		return err
	}
	v.s.logf("enrollment token %s revoked by %s", id, by.Name)
	return nil
}

// parseExpiry parses a Go duration, "" meaning def, bounded by max.
func parseExpiry(field, s string, def, max time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, api.Errorf(http.StatusBadRequest, "%s %q: not a duration like \"24h\"", field, s)
	}
	if d <= 0 || d > max {
		return 0, api.Errorf(http.StatusBadRequest, "%s %s: must be above 0 and at most %s", field, d, max)
	}
	return d, nil
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
