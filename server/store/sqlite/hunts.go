package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"vigil/server/store"
	"vigil/wire"
)

// Hunts, assignments and statuses.

// CreateHunt stores the hunt and an unacknowledged assignment per agent.
func (db *DB) CreateHunt(ctx context.Context, h store.Hunt, agents []string) error {
	hj, err := store.EncodeHuntJSON(&h)
	if err != nil {
		return fmt.Errorf("create hunt %q: %w", h.ID, err)
	}
	paths, exclude, limits := hj.Paths, hj.Exclude, hj.Limits
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create hunt %q: %w", h.ID, err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `INSERT INTO hunts (id, name, rules, rules_sha256, paths, exclude, limits,
		target, why, created_by, created, expires, state, log_index, lint_class, approvals_required)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		h.ID, h.Name, h.Rules, h.RulesSHA256, paths, exclude, limits, h.Target, h.Why, h.CreatedBy,
		toDB(h.Created), toDB(h.Expires), h.State, h.LogIndex, h.LintClass, h.ApprovalsRequired)
	if isConflict(err) {
		return conflict("hunt", h.ID, err)
	}
	if err != nil {
		return fmt.Errorf("create hunt %q: %w", h.ID, err)
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO assignments (hunt_id, agent_id) VALUES (?, ?)
		ON CONFLICT DO NOTHING`)
	if err != nil {
		return fmt.Errorf("create hunt %q: %w", h.ID, err)
	}
	defer st.Close()
	for _, a := range agents {
		if _, err := st.ExecContext(ctx, h.ID, a); err != nil {
			return fmt.Errorf("create hunt %q: assign %q: %w", h.ID, a, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create hunt %q: %w", h.ID, err)
	}
	return nil
}

const huntCols = `h.id, h.name, h.rules, h.rules_sha256, h.paths, h.exclude, h.limits, h.target, h.why,
	h.created_by, h.created, h.expires, h.state, h.log_index, h.lint_class, h.approvals_required`

func scanHunt(sc interface{ Scan(...any) error }) (store.Hunt, error) {
	var h store.Hunt
	var paths, exclude, limits string
	var created, expires sql.NullInt64
	if err := sc.Scan(&h.ID, &h.Name, &h.Rules, &h.RulesSHA256, &paths, &exclude, &limits, &h.Target,
		&h.Why, &h.CreatedBy, &created, &expires, &h.State, &h.LogIndex, &h.LintClass,
		&h.ApprovalsRequired); err != nil {
		return h, err
	}
	if err := errors.Join(store.DecodeJSON(paths, &h.Paths), store.DecodeJSON(exclude, &h.Exclude),
		store.DecodeJSON(limits, &h.Limits)); err != nil {
		return h, fmt.Errorf("hunt %q: %w", h.ID, err)
	}
	h.Created, h.Expires = fromDB(created), fromDB(expires)
	return h, nil
}

func scanHunts(rows *sql.Rows) ([]store.Hunt, error) {
	defer rows.Close()
	var out []store.Hunt
	for rows.Next() {
		h, err := scanHunt(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// GetHunt returns one hunt.
func (db *DB) GetHunt(ctx context.Context, id string) (store.Hunt, error) {
	h, err := scanHunt(db.r.QueryRowContext(ctx, `SELECT `+huntCols+` FROM hunts h WHERE h.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return h, notFound("hunt", id)
	}
	if err != nil {
		return h, fmt.Errorf("get hunt %q: %w", id, err)
	}
	return h, nil
}

// ListHunts returns every hunt, newest (by Created) first.
func (db *DB) ListHunts(ctx context.Context) ([]store.Hunt, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+huntCols+` FROM hunts h ORDER BY h.created DESC, h.rowid DESC`)
	if err != nil {
		return nil, fmt.Errorf("list hunts: %w", err)
	}
	out, err := scanHunts(rows)
	if err != nil {
		return nil, fmt.Errorf("list hunts: %w", err)
	}
	return out, nil
}

// SetHuntState changes a hunt's server state.
func (db *DB) SetHuntState(ctx context.Context, id, state string) error {
	res, err := db.w.ExecContext(ctx, `UPDATE hunts SET state = ? WHERE id = ?`, state, id)
	if err != nil {
		return fmt.Errorf("set hunt %q state: %w", id, err)
	}
	return mustAffect(res, "hunt", id)
}

// AddApproval stores an approval; a second approval of the hunt by the
// same approver is a conflict, of an unknown hunt not found.
func (db *DB) AddApproval(ctx context.Context, a store.Approval) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("add approval of %q: %w", a.HuntID, err)
	}
	defer tx.Rollback()
	if err := huntExists(ctx, tx, a.HuntID); err != nil {
		return fmt.Errorf("add approval: %w", err)
	}
	entry := a.Entry
	if entry == nil {
		entry = []byte{}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO approvals (hunt_id, approver, key, log_index, entry, time)
		VALUES (?, ?, ?, ?, ?, ?)`, a.HuntID, a.Approver, a.Key, a.LogIndex, entry, toDB(a.Time))
	if isConflict(err) {
		return conflict("approval of hunt "+a.HuntID+" by", a.Approver, err)
	}
	if err != nil {
		return fmt.Errorf("add approval of %q: %w", a.HuntID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("add approval of %q: %w", a.HuntID, err)
	}
	return nil
}

// Approvals returns a hunt's approvals in LogIndex order (none for an
// unknown hunt).
func (db *DB) Approvals(ctx context.Context, huntID string) ([]store.Approval, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT hunt_id, approver, key, log_index, entry, time
		FROM approvals WHERE hunt_id = ? ORDER BY log_index, approver`, huntID)
	if err != nil {
		return nil, fmt.Errorf("approvals of %q: %w", huntID, err)
	}
	defer rows.Close()
	var out []store.Approval
	for rows.Next() {
		var a store.Approval
		var t sql.NullInt64
		if err := rows.Scan(&a.HuntID, &a.Approver, &a.Key, &a.LogIndex, &a.Entry, &t); err != nil {
			return nil, fmt.Errorf("approvals of %q: %w", huntID, err)
		}
		a.Time = fromDB(t)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("approvals of %q: %w", huntID, err)
	}
	return out, nil
}

// PendingHunts returns the running, unexpired hunts assigned to the agent
// whose assignment is not terminal, oldest first.
func (db *DB) PendingHunts(ctx context.Context, agentID string, now time.Time) ([]store.Hunt, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+huntCols+` FROM assignments a JOIN hunts h ON h.id = a.hunt_id
		WHERE a.agent_id = ? AND h.state = ? AND h.expires > ? AND a.state NOT IN `+terminalList+`
		ORDER BY h.created, h.id`, agentID, store.HuntRunning, now.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("pending hunts of %q: %w", agentID, err)
	}
	out, err := scanHunts(rows)
	if err != nil {
		return nil, fmt.Errorf("pending hunts of %q: %w", agentID, err)
	}
	return out, nil
}

// huntExists returns an error wrapping store.ErrNotFound if the hunt is
// not stored.
func huntExists(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id string) error {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM hunts WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("hunt", id)
	}
	return err
}

// Assignments returns a hunt's assignments, ordered by agent ID.
func (db *DB) Assignments(ctx context.Context, huntID string) ([]store.Assignment, error) {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("assignments of %q: %w", huntID, err)
	}
	defer tx.Rollback()
	if err := huntExists(ctx, tx, huntID); err != nil {
		return nil, fmt.Errorf("assignments: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT hunt_id, agent_id, state, error, files_scanned, files_matched,
		files_skipped, file_errors, bytes, batches, status_seq, started, updated
		FROM assignments WHERE hunt_id = ? ORDER BY agent_id`, huntID)
	if err != nil {
		return nil, fmt.Errorf("assignments of %q: %w", huntID, err)
	}
	defer rows.Close()
	var out []store.Assignment
	for rows.Next() {
		var a store.Assignment
		var batches, seq int64
		var started, updated sql.NullInt64
		if err := rows.Scan(&a.HuntID, &a.AgentID, &a.State, &a.Error, &a.FilesScanned, &a.FilesMatched,
			&a.FilesSkipped, &a.FileErrors, &a.Bytes, &batches, &seq, &started, &updated); err != nil {
			return nil, fmt.Errorf("assignments of %q: %w", huntID, err)
		}
		a.Batches, a.StatusSeq = uint64(batches), uint64(seq)
		a.Started, a.Updated = fromDB(started), fromDB(updated)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("assignments of %q: %w", huntID, err)
	}
	return out, nil
}

// ApplyStatuses applies each status whose Seq is above its assignment's,
// in order, in one transaction. A status without Time is stamped now.
func (db *DB) ApplyStatuses(ctx context.Context, s []store.AgentStatus) ([]bool, error) {
	applied := make([]bool, len(s))
	if len(s) == 0 {
		return applied, nil
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("apply statuses: %w", err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `UPDATE assignments SET state = ?, error = ?, files_scanned = ?,
		files_matched = ?, files_skipped = ?, file_errors = ?, bytes = ?, batches = ?, status_seq = ?,
		started = COALESCE(?, started), updated = ?
		WHERE hunt_id = ? AND agent_id = ? AND status_seq < ?`)
	if err != nil {
		return nil, fmt.Errorf("apply statuses: %w", err)
	}
	defer st.Close()
	for i, as := range s {
		w := as.Status
		seq, ok := store.SeqInt64(w.Seq)
		if !ok {
			continue
		}
		res, err := st.ExecContext(ctx, w.State, w.Error, w.FilesScanned, w.FilesMatched, w.FilesSkipped,
			w.FileErrors, w.Bytes, store.ClampInt64(w.Batches), seq, toDB(w.Started),
			toDB(store.UTCOrNow(w.Time)), w.HuntID, as.AgentID, seq)
		if err != nil {
			return nil, fmt.Errorf("apply status of %q for hunt %q: %w", as.AgentID, w.HuntID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, fmt.Errorf("apply statuses: %w", err)
		}
		applied[i] = n == 1
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("apply statuses: %w", err)
	}
	return applied, nil
}

// Progress sums a hunt's assignments.
func (db *DB) Progress(ctx context.Context, huntID string) (store.Progress, error) {
	var p store.Progress
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return p, fmt.Errorf("progress of %q: %w", huntID, err)
	}
	defer tx.Rollback()
	if err := huntExists(ctx, tx, huntID); err != nil {
		return p, fmt.Errorf("progress: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT state, COUNT(*), SUM(results), SUM(files_scanned), SUM(file_errors)
		FROM assignments WHERE hunt_id = ? GROUP BY state`, huntID)
	if err != nil {
		return p, fmt.Errorf("progress of %q: %w", huntID, err)
	}
	defer rows.Close()
	p.States = map[string]int{}
	for rows.Next() {
		var state string
		var n int
		var results, scanned, errs int64
		if err := rows.Scan(&state, &n, &results, &scanned, &errs); err != nil {
			return p, fmt.Errorf("progress of %q: %w", huntID, err)
		}
		p.Agents += n
		p.States[state] += n
		if wire.Terminal(state) {
			p.Done += n
		}
		p.Results += results
		p.FilesScanned += scanned
		p.FileErrors += errs
	}
	if err := rows.Err(); err != nil {
		return p, fmt.Errorf("progress of %q: %w", huntID, err)
	}
	return p, nil
}
