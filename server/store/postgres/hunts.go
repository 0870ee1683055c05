package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

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
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("create hunt %q: %w", h.ID, err)
	}
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, `INSERT INTO hunts (id, name, rules, rules_sha256, paths, exclude, limits,
		target, why, created_by, created, expires, state, log_index, lint_class, approvals_required)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		cl(h.ID, h.Name, h.Rules, h.RulesSHA256, paths, exclude, limits, h.Target, h.Why, h.CreatedBy,
			ts(h.Created), ts(h.Expires), h.State, h.LogIndex, h.LintClass, h.ApprovalsRequired)...)
	if isConflict(err) {
		return conflict("hunt", h.ID, err)
	}
	if err != nil {
		return fmt.Errorf("create hunt %q: %w", h.ID, err)
	}
	if len(agents) > 0 {
		_, err = tx.Exec(ctx, `INSERT INTO assignments (hunt_id, agent_id)
			SELECT $1, a FROM unnest($2::text[]) AS a ON CONFLICT DO NOTHING`, cl(h.ID, agents)...)
		if err != nil {
			return fmt.Errorf("create hunt %q: assign agents: %w", h.ID, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("create hunt %q: %w", h.ID, err)
	}
	return nil
}

const huntCols = `h.id, h.name, h.rules, h.rules_sha256, h.paths, h.exclude, h.limits, h.target, h.why,
	h.created_by, h.created, h.expires, h.state, h.log_index, h.lint_class, h.approvals_required`

func scanHunt(row pgx.Row) (store.Hunt, error) {
	var h store.Hunt
	var paths, exclude, limits string
	var created, expires pgtype.Timestamptz
	if err := row.Scan(&h.ID, &h.Name, &h.Rules, &h.RulesSHA256, &paths, &exclude, &limits, &h.Target,
		&h.Why, &h.CreatedBy, &created, &expires, &h.State, &h.LogIndex, &h.LintClass,
		&h.ApprovalsRequired); err != nil {
		return h, err
	}
	if err := errors.Join(store.DecodeJSON(paths, &h.Paths), store.DecodeJSON(exclude, &h.Exclude),
		store.DecodeJSON(limits, &h.Limits)); err != nil {
		return h, fmt.Errorf("hunt %q: %w", h.ID, err)
	}
	h.Created, h.Expires = fromTS(created), fromTS(expires)
	return h, nil
}

func collectHunts(rows pgx.Rows) ([]store.Hunt, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Hunt, error) { return scanHunt(r) })
}

// GetHunt returns one hunt.
func (db *DB) GetHunt(ctx context.Context, id string) (store.Hunt, error) {
	h, err := scanHunt(db.pool.QueryRow(ctx, `SELECT `+huntCols+` FROM hunts h WHERE h.id = $1`, cl(id)...))
	if errors.Is(err, pgx.ErrNoRows) {
		return h, notFound("hunt", id)
	}
	if err != nil {
		return h, fmt.Errorf("get hunt %q: %w", id, err)
	}
	return h, nil
}

// ListHunts returns every hunt, newest (by Created) first.
func (db *DB) ListHunts(ctx context.Context) ([]store.Hunt, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+huntCols+` FROM hunts h ORDER BY h.created DESC NULLS LAST, h.n DESC`)
	if err != nil {
		return nil, fmt.Errorf("list hunts: %w", err)
	}
	out, err := collectHunts(rows)
	if err != nil {
		return nil, fmt.Errorf("list hunts: %w", err)
	}
	return out, nil
}

// SetHuntState changes a hunt's server state.
func (db *DB) SetHuntState(ctx context.Context, id, state string) error {
	tag, err := db.pool.Exec(ctx, `UPDATE hunts SET state = $1 WHERE id = $2`, cl(state, id)...)
	if err != nil {
		return fmt.Errorf("set hunt %q state: %w", id, err)
	}
	return mustAffect(tag, "hunt", id)
}

// AddApproval stores an approval; a second approval of the hunt by the
// same approver is a conflict, of an unknown hunt not found.
func (db *DB) AddApproval(ctx context.Context, a store.Approval) error {
	entry := a.Entry
	if entry == nil {
		entry = []byte{}
	}
	tag, err := db.pool.Exec(ctx, `INSERT INTO approvals (hunt_id, approver, key, log_index, entry, time)
		SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM hunts WHERE id = $1)`,
		cl(a.HuntID, a.Approver, a.Key, a.LogIndex, entry, ts(a.Time))...)
	if isConflict(err) {
		return conflict("approval of hunt "+a.HuntID+" by", a.Approver, err)
	}
	if err != nil {
		return fmt.Errorf("add approval of %q: %w", a.HuntID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("add approval: %w", notFound("hunt", a.HuntID))
	}
	return nil
}

// Approvals returns a hunt's approvals in LogIndex order (none for an
// unknown hunt).
func (db *DB) Approvals(ctx context.Context, huntID string) ([]store.Approval, error) {
	rows, err := db.pool.Query(ctx, `SELECT hunt_id, approver, key, log_index, entry, time
		FROM approvals WHERE hunt_id = $1 ORDER BY log_index, approver`, cl(huntID)...)
	if err != nil {
		return nil, fmt.Errorf("approvals of %q: %w", huntID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Approval, error) {
		var a store.Approval
		var t pgtype.Timestamptz
		if err := r.Scan(&a.HuntID, &a.Approver, &a.Key, &a.LogIndex, &a.Entry, &t); err != nil {
			return a, err
		}
		a.Time = fromTS(t)
		return a, nil
	})
	if err != nil {
		return nil, fmt.Errorf("approvals of %q: %w", huntID, err)
	}
	return out, nil
}

// PendingHunts returns the running, unexpired hunts assigned to the agent
// whose assignment is not terminal, oldest first.
func (db *DB) PendingHunts(ctx context.Context, agentID string, now time.Time) ([]store.Hunt, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+huntCols+` FROM assignments a JOIN hunts h ON h.id = a.hunt_id
		WHERE a.agent_id = $1 AND h.state = $2 AND h.expires > $3 AND a.state <> ALL($4::text[])
		ORDER BY h.created, h.id`, cl(agentID, store.HuntRunning, now, store.TerminalStates)...)
	if err != nil {
		return nil, fmt.Errorf("pending hunts of %q: %w", agentID, err)
	}
	out, err := collectHunts(rows)
	if err != nil {
		return nil, fmt.Errorf("pending hunts of %q: %w", agentID, err)
	}
	return out, nil
}

// readTx begins a read-only transaction with one snapshot, and checks that
// the hunt exists.
func (db *DB) readTx(ctx context.Context, huntID string) (pgx.Tx, error) {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	var one int
	err = tx.QueryRow(ctx, `SELECT 1 FROM hunts WHERE id = $1`, cl(huntID)...).Scan(&one)
	if err != nil {
		tx.Rollback(ctx)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, notFound("hunt", huntID)
		}
		return nil, err
	}
	return tx, nil
}

// Assignments returns a hunt's assignments, ordered by agent ID.
func (db *DB) Assignments(ctx context.Context, huntID string) ([]store.Assignment, error) {
	tx, err := db.readTx(ctx, huntID)
	if err != nil {
		return nil, fmt.Errorf("assignments: %w", err)
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, `SELECT hunt_id, agent_id, state, error, files_scanned, files_matched,
		files_skipped, file_errors, bytes, batches, status_seq, started, updated
		FROM assignments WHERE hunt_id = $1 ORDER BY agent_id`, cl(huntID)...)
	if err != nil {
		return nil, fmt.Errorf("assignments of %q: %w", huntID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Assignment, error) {
		var a store.Assignment
		var batches, seq int64
		var started, updated pgtype.Timestamptz
		if err := r.Scan(&a.HuntID, &a.AgentID, &a.State, &a.Error, &a.FilesScanned, &a.FilesMatched,
			&a.FilesSkipped, &a.FileErrors, &a.Bytes, &batches, &seq, &started, &updated); err != nil {
			return a, err
		}
		a.Batches, a.StatusSeq = uint64(batches), uint64(seq)
		a.Started, a.Updated = fromTS(started), fromTS(updated)
		return a, nil
	})
	if err != nil {
		return nil, fmt.Errorf("assignments of %q: %w", huntID, err)
	}
	return out, nil
}

// ApplyStatuses applies each status whose Seq is above its assignment's,
// in one transaction. A status without Time is stamped now.
//
// The statuses run sorted by (hunt, agent), a stable sort that keeps the
// order of one assignment's statuses: every writer of assignment rows locks
// them in that order, so concurrent servers cannot deadlock.
func (db *DB) ApplyStatuses(ctx context.Context, s []store.AgentStatus) ([]bool, error) {
	applied := make([]bool, len(s))
	if len(s) == 0 {
		return applied, nil
	}
	order := make([]int, 0, len(s))
	for i := range s {
		if _, ok := store.SeqInt64(s[i].Status.Seq); ok {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(s[a].Status.HuntID, s[b].Status.HuntID), cmp.Compare(s[a].AgentID, s[b].AgentID))
	})
	var batch pgx.Batch
	for _, i := range order {
		w := s[i].Status
		seq, _ := store.SeqInt64(w.Seq)
		batch.Queue(`UPDATE assignments SET state = $1, error = $2, files_scanned = $3,
			files_matched = $4, files_skipped = $5, file_errors = $6, bytes = $7, batches = $8, status_seq = $9,
			started = COALESCE($10, started), updated = $11
			WHERE hunt_id = $12 AND agent_id = $13 AND status_seq < $9`,
			cl(w.State, w.Error, w.FilesScanned, w.FilesMatched, w.FilesSkipped, w.FileErrors, w.Bytes,
				store.ClampInt64(w.Batches), seq, ts(w.Started), store.UTCOrNow(w.Time), w.HuntID, s[i].AgentID)...)
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("apply statuses: %w", err)
	}
	defer tx.Rollback(ctx)
	br := tx.SendBatch(ctx, &batch)
	for _, i := range order {
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			return nil, fmt.Errorf("apply status of %q for hunt %q: %w", s[i].AgentID, s[i].Status.HuntID, err)
		}
		applied[i] = tag.RowsAffected() == 1
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("apply statuses: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("apply statuses: %w", err)
	}
	return applied, nil
}

// Progress sums a hunt's assignments.
func (db *DB) Progress(ctx context.Context, huntID string) (store.Progress, error) {
	var p store.Progress
	tx, err := db.readTx(ctx, huntID)
	if err != nil {
		return p, fmt.Errorf("progress: %w", err)
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, `SELECT state, COUNT(*), SUM(results)::bigint, SUM(files_scanned)::bigint,
		SUM(file_errors)::bigint FROM assignments WHERE hunt_id = $1 GROUP BY state`, cl(huntID)...)
	if err != nil {
		return p, fmt.Errorf("progress of %q: %w", huntID, err)
	}
	defer rows.Close()
	p.States = map[string]int{}
	for rows.Next() {
		var state string
		var n, results, scanned, errs int64
		if err := rows.Scan(&state, &n, &results, &scanned, &errs); err != nil {
			return p, fmt.Errorf("progress of %q: %w", huntID, err)
		}
		p.Agents += int(n)
		p.States[state] += int(n)
		if wire.Terminal(state) {
			p.Done += int(n)
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
