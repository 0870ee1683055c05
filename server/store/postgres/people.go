package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"vigil/server/store"
)

// Operators, enrollment tokens and agents.

// CreateOperator stores a new operator; the same ID or Name is a conflict.
func (db *DB) CreateOperator(ctx context.Context, o store.Operator) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO operators (id, name, role, token_hash, created, disabled, approval_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, cl(o.ID, o.Name, o.Role, o.TokenHash, ts(o.Created), o.Disabled,
		o.ApprovalKey)...)
	if isConflict(err) {
		return conflict("operator", o.Name, err)
	}
	if err != nil {
		return fmt.Errorf("create operator %q: %w", o.Name, err)
	}
	return nil
}

const operatorCols = `id, name, role, token_hash, created, disabled, approval_key`

func scanOperator(row pgx.Row) (store.Operator, error) {
	var o store.Operator
	var created pgtype.Timestamptz
	if err := row.Scan(&o.ID, &o.Name, &o.Role, &o.TokenHash, &created, &o.Disabled, &o.ApprovalKey); err != nil {
		return o, err
	}
	o.Created = fromTS(created)
	return o, nil
}

// OperatorByTokenHash finds the operator whose API token has this hash.
func (db *DB) OperatorByTokenHash(ctx context.Context, hash string) (store.Operator, error) {
	if hash == "" {
		return store.Operator{}, fmt.Errorf("operator by token: %w", store.ErrNotFound)
	}
	o, err := scanOperator(db.pool.QueryRow(ctx, `SELECT `+operatorCols+` FROM operators WHERE token_hash = $1`,
		cl(hash)...))
	if errors.Is(err, pgx.ErrNoRows) {
		return o, fmt.Errorf("operator by token: %w", store.ErrNotFound)
	}
	if err != nil {
		return o, fmt.Errorf("operator by token: %w", err)
	}
	return o, nil
}

// ListOperators returns every operator, ordered by ID.
func (db *DB) ListOperators(ctx context.Context) ([]store.Operator, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+operatorCols+` FROM operators ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list operators: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Operator, error) { return scanOperator(r) })
	if err != nil {
		return nil, fmt.Errorf("list operators: %w", err)
	}
	return out, nil
}

// SetOperatorKey sets (or with "" clears) an operator's approval key.
func (db *DB) SetOperatorKey(ctx context.Context, id, key string) error {
	tag, err := db.pool.Exec(ctx, `UPDATE operators SET approval_key = $1 WHERE id = $2`, cl(key, id)...)
	if err != nil {
		return fmt.Errorf("set operator %q key: %w", id, err)
	}
	return mustAffect(tag, "operator", id)
}

// SetOperatorDisabled disables or re-enables an operator.
func (db *DB) SetOperatorDisabled(ctx context.Context, id string, disabled bool) error {
	tag, err := db.pool.Exec(ctx, `UPDATE operators SET disabled = $1 WHERE id = $2`, cl(disabled, id)...)
	if err != nil {
		return fmt.Errorf("set operator %q disabled: %w", id, err)
	}
	return mustAffect(tag, "operator", id)
}

// CreateEnrollToken stores a new enrollment token; the same ID or secret
// hash is a conflict.
func (db *DB) CreateEnrollToken(ctx context.Context, t store.EnrollToken) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO enroll_tokens
		(id, secret_hash, labels, max_uses, uses, expires, created, created_by, revoked, description)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		cl(t.ID, t.SecretHash, store.EncodeLabels(t.Labels), t.MaxUses, t.Uses, ts(t.Expires), ts(t.Created),
			t.CreatedBy, t.Revoked, t.Description)...)
	if isConflict(err) {
		return conflict("enrollment token", t.ID, err)
	}
	if err != nil {
		return fmt.Errorf("create enrollment token %q: %w", t.ID, err)
	}
	return nil
}

// ListEnrollTokens returns every enrollment token, ordered by ID.
func (db *DB) ListEnrollTokens(ctx context.Context) ([]store.EnrollToken, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, secret_hash, labels::text, max_uses, uses, expires, created,
		created_by, revoked, description FROM enroll_tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list enrollment tokens: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.EnrollToken, error) {
		var t store.EnrollToken
		var labels string
		var expires, created pgtype.Timestamptz
		if err := r.Scan(&t.ID, &t.SecretHash, &labels, &t.MaxUses, &t.Uses, &expires, &created,
			&t.CreatedBy, &t.Revoked, &t.Description); err != nil {
			return t, err
		}
		var err error
		if t.Labels, err = store.DecodeLabels(labels); err != nil {
			return t, fmt.Errorf("enrollment token %q: %w", t.ID, err)
		}
		t.Expires, t.Created = fromTS(expires), fromTS(created)
		return t, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list enrollment tokens: %w", err)
	}
	return out, nil
}

// RevokeEnrollToken marks a token revoked: it enrolls no more agents.
func (db *DB) RevokeEnrollToken(ctx context.Context, id string) error {
	tag, err := db.pool.Exec(ctx, `UPDATE enroll_tokens SET revoked = true WHERE id = $1`, cl(id)...)
	if err != nil {
		return fmt.Errorf("revoke enrollment token %q: %w", id, err)
	}
	return mustAffect(tag, "enrollment token", id)
}

// Enroll uses one use of the token with this secret hash and creates the
// agent, in one transaction. A token with a zero Expires is expired.
func (db *DB) Enroll(ctx context.Context, secretHash string, a store.Agent, now time.Time) (store.Agent, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return store.Agent{}, fmt.Errorf("enroll: %w", err)
	}
	defer tx.Rollback(ctx)
	var tokenID, labels string
	// The UPDATE locks the token's row: concurrent enrollments wait, then
	// see the new count.
	err = tx.QueryRow(ctx, `UPDATE enroll_tokens SET uses = uses + 1
		WHERE secret_hash = $1 AND NOT revoked AND expires > $2 AND (max_uses <= 0 OR uses < max_uses)
		RETURNING id, labels::text`, cl(secretHash, now)...).Scan(&tokenID, &labels)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Agent{}, fmt.Errorf("enroll: enrollment token: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Agent{}, fmt.Errorf("enroll: %w", err)
	}
	tl, err := store.DecodeLabels(labels)
	if err != nil {
		return store.Agent{}, fmt.Errorf("enroll: token %q: %w", tokenID, err)
	}
	a = store.EnrolledAgent(a, tokenID, tl, now)
	_, err = tx.Exec(ctx, `INSERT INTO agents
		(id, public_key, hostname, os, arch, version, labels, enrolled, last_seen, token_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		cl(a.ID, a.PublicKey, a.Hostname, a.OS, a.Arch, a.Version, store.EncodeLabels(a.Labels),
			ts(a.Enrolled), ts(a.LastSeen), a.TokenID)...)
	if isConflict(err) {
		return store.Agent{}, conflict("agent", a.ID, err)
	}
	if err != nil {
		return store.Agent{}, fmt.Errorf("enroll agent %q: %w", a.ID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return store.Agent{}, fmt.Errorf("enroll agent %q: %w", a.ID, err)
	}
	return a, nil
}

const agentCols = `id, public_key, hostname, os, arch, version, labels::text, enrolled, last_seen, token_id`

func scanAgent(row pgx.Row) (store.Agent, error) {
	var a store.Agent
	var labels string
	var enrolled, seen pgtype.Timestamptz
	if err := row.Scan(&a.ID, &a.PublicKey, &a.Hostname, &a.OS, &a.Arch, &a.Version, &labels,
		&enrolled, &seen, &a.TokenID); err != nil {
		return a, err
	}
	var err error
	if a.Labels, err = store.DecodeLabels(labels); err != nil {
		return a, fmt.Errorf("agent %q: %w", a.ID, err)
	}
	a.Enrolled, a.LastSeen = fromTS(enrolled), fromTS(seen)
	return a, nil
}

// GetAgent returns one agent.
func (db *DB) GetAgent(ctx context.Context, id string) (store.Agent, error) {
	a, err := scanAgent(db.pool.QueryRow(ctx, `SELECT `+agentCols+` FROM agents WHERE id = $1`, cl(id)...))
	if errors.Is(err, pgx.ErrNoRows) {
		return a, notFound("agent", id)
	}
	if err != nil {
		return a, fmt.Errorf("get agent %q: %w", id, err)
	}
	return a, nil
}

// ListAgents returns every agent, ordered by ID.
func (db *DB) ListAgents(ctx context.Context) ([]store.Agent, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+agentCols+` FROM agents ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Agent, error) { return scanAgent(r) })
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	return out, nil
}

// TouchAgent records a Hello: when, and the hostname and version it gave.
func (db *DB) TouchAgent(ctx context.Context, id string, seen time.Time, hostname, version string) error {
	tag, err := db.pool.Exec(ctx, `UPDATE agents SET last_seen = $1, hostname = $2, version = $3 WHERE id = $4`,
		cl(ts(seen), hostname, version, id)...)
	if err != nil {
		return fmt.Errorf("touch agent %q: %w", id, err)
	}
	return mustAffect(tag, "agent", id)
}
