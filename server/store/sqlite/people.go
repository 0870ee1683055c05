package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"vigil/server/store"
)

// Operators, enrollment tokens and agents.

// CreateOperator stores a new operator; the same ID or Name is a conflict.
func (db *DB) CreateOperator(ctx context.Context, o store.Operator) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO operators (id, name, role, token_hash, created, disabled, approval_key)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, o.ID, o.Name, o.Role, o.TokenHash, toDB(o.Created), boolInt(o.Disabled),
		o.ApprovalKey)
	if isConflict(err) {
		return conflict("operator", o.Name, err)
	}
	if err != nil {
		return fmt.Errorf("create operator %q: %w", o.Name, err)
	}
	return nil
}

const operatorCols = `id, name, role, token_hash, created, disabled, approval_key`

func scanOperator(sc interface{ Scan(...any) error }) (store.Operator, error) {
	var o store.Operator
	var created sql.NullInt64
	var disabled int
	if err := sc.Scan(&o.ID, &o.Name, &o.Role, &o.TokenHash, &created, &disabled, &o.ApprovalKey); err != nil {
		return o, err
	}
	o.Created = fromDB(created)
	o.Disabled = disabled != 0
	return o, nil
}

// OperatorByTokenHash finds the operator whose API token has this hash.
func (db *DB) OperatorByTokenHash(ctx context.Context, hash string) (store.Operator, error) {
	if hash == "" {
		return store.Operator{}, fmt.Errorf("operator by token: %w", store.ErrNotFound)
	}
	o, err := scanOperator(db.r.QueryRowContext(ctx, `SELECT `+operatorCols+` FROM operators WHERE token_hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return o, fmt.Errorf("operator by token: %w", store.ErrNotFound)
	}
	if err != nil {
		return o, fmt.Errorf("operator by token: %w", err)
	}
	return o, nil
}

// ListOperators returns every operator, ordered by ID.
func (db *DB) ListOperators(ctx context.Context) ([]store.Operator, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+operatorCols+` FROM operators ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list operators: %w", err)
	}
	defer rows.Close()
	var out []store.Operator
	for rows.Next() {
		o, err := scanOperator(rows)
		if err != nil {
			return nil, fmt.Errorf("list operators: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list operators: %w", err)
	}
	return out, nil
}

// SetOperatorDisabled disables or re-enables an operator.
func (db *DB) SetOperatorDisabled(ctx context.Context, id string, disabled bool) error {
	res, err := db.w.ExecContext(ctx, `UPDATE operators SET disabled = ? WHERE id = ?`, boolInt(disabled), id)
	if err != nil {
		return fmt.Errorf("set operator %q disabled: %w", id, err)
	}
	return mustAffect(res, "operator", id)
}

// SetOperatorKey sets (or with "" clears) an operator's approval key.
func (db *DB) SetOperatorKey(ctx context.Context, id, key string) error {
	res, err := db.w.ExecContext(ctx, `UPDATE operators SET approval_key = ? WHERE id = ?`, key, id)
	if err != nil {
		return fmt.Errorf("set operator %q key: %w", id, err)
	}
	return mustAffect(res, "operator", id)
}

func mustAffect(res sql.Result, what, id string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s %q: %w", what, id, err)
	}
	if n == 0 {
		return notFound(what, id)
	}
	return nil
}

// CreateEnrollToken stores a new enrollment token; the same ID or secret
// hash is a conflict.
func (db *DB) CreateEnrollToken(ctx context.Context, t store.EnrollToken) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO enroll_tokens
		(id, secret_hash, labels, max_uses, uses, expires, created, created_by, revoked, description)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.SecretHash, store.EncodeLabels(t.Labels), t.MaxUses, t.Uses, toDB(t.Expires), toDB(t.Created),
		t.CreatedBy, boolInt(t.Revoked), t.Description)
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
	rows, err := db.r.QueryContext(ctx, `SELECT id, secret_hash, labels, max_uses, uses, expires, created,
		created_by, revoked, description FROM enroll_tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list enrollment tokens: %w", err)
	}
	defer rows.Close()
	var out []store.EnrollToken
	for rows.Next() {
		var t store.EnrollToken
		var labels string
		var expires, created sql.NullInt64
		var revoked int
		if err := rows.Scan(&t.ID, &t.SecretHash, &labels, &t.MaxUses, &t.Uses, &expires, &created,
			&t.CreatedBy, &revoked, &t.Description); err != nil {
			return nil, fmt.Errorf("list enrollment tokens: %w", err)
		}
		if t.Labels, err = store.DecodeLabels(labels); err != nil {
			return nil, fmt.Errorf("enrollment token %q: %w", t.ID, err)
		}
		t.Expires, t.Created, t.Revoked = fromDB(expires), fromDB(created), revoked != 0
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list enrollment tokens: %w", err)
	}
	return out, nil
}

// RevokeEnrollToken marks a token revoked: it enrolls no more agents.
func (db *DB) RevokeEnrollToken(ctx context.Context, id string) error {
	res, err := db.w.ExecContext(ctx, `UPDATE enroll_tokens SET revoked = 1 WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("revoke enrollment token %q: %w", id, err)
	}
	return mustAffect(res, "enrollment token", id)
}

// Enroll uses one use of the token with this secret hash and creates the
// agent, in one transaction. A token with a zero Expires is expired.
func (db *DB) Enroll(ctx context.Context, secretHash string, a store.Agent, now time.Time) (store.Agent, error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return store.Agent{}, fmt.Errorf("enroll: %w", err)
	}
	defer tx.Rollback()
	var tokenID, labels string
	err = tx.QueryRowContext(ctx, `UPDATE enroll_tokens SET uses = uses + 1
		WHERE secret_hash = ? AND revoked = 0 AND expires > ? AND (max_uses <= 0 OR uses < max_uses)
		RETURNING id, labels`, secretHash, now.UnixMicro()).Scan(&tokenID, &labels)
	if errors.Is(err, sql.ErrNoRows) {
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
	_, err = tx.ExecContext(ctx, `INSERT INTO agents
		(id, public_key, hostname, os, arch, version, labels, enrolled, last_seen, token_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.PublicKey, a.Hostname, a.OS, a.Arch, a.Version, store.EncodeLabels(a.Labels),
		toDB(a.Enrolled), toDB(a.LastSeen), a.TokenID)
	if isConflict(err) {
		return store.Agent{}, conflict("agent", a.ID, err)
	}
	if err != nil {
		return store.Agent{}, fmt.Errorf("enroll agent %q: %w", a.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return store.Agent{}, fmt.Errorf("enroll agent %q: %w", a.ID, err)
	}
	return a, nil
}

const agentCols = `id, public_key, hostname, os, arch, version, labels, enrolled, last_seen, token_id`

func scanAgent(sc interface{ Scan(...any) error }) (store.Agent, error) {
	var a store.Agent
	var labels string
	var enrolled, seen sql.NullInt64
	if err := sc.Scan(&a.ID, &a.PublicKey, &a.Hostname, &a.OS, &a.Arch, &a.Version, &labels,
		&enrolled, &seen, &a.TokenID); err != nil {
		return a, err
	}
	var err error
	if a.Labels, err = store.DecodeLabels(labels); err != nil {
		return a, fmt.Errorf("agent %q: %w", a.ID, err)
	}
	a.Enrolled, a.LastSeen = fromDB(enrolled), fromDB(seen)
	return a, nil
}

// GetAgent returns one agent.
func (db *DB) GetAgent(ctx context.Context, id string) (store.Agent, error) {
	a, err := scanAgent(db.r.QueryRowContext(ctx, `SELECT `+agentCols+` FROM agents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, notFound("agent", id)
	}
	if err != nil {
		return a, fmt.Errorf("get agent %q: %w", id, err)
	}
	return a, nil
}

// ListAgents returns every agent, ordered by ID.
func (db *DB) ListAgents(ctx context.Context) ([]store.Agent, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+agentCols+` FROM agents ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	defer rows.Close()
	var out []store.Agent
	for rows.Next() {
		a, err := scanAgent(rows)
		if err != nil {
			return nil, fmt.Errorf("list agents: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	return out, nil
}

// TouchAgent records a Hello: when, and the hostname and version it gave.
func (db *DB) TouchAgent(ctx context.Context, id string, seen time.Time, hostname, version string) error {
	res, err := db.w.ExecContext(ctx, `UPDATE agents SET last_seen = ?, hostname = ?, version = ? WHERE id = ?`,
		toDB(seen), hostname, version, id)
	if err != nil {
		return fmt.Errorf("touch agent %q: %w", id, err)
	}
	return mustAffect(res, "agent", id)
}
