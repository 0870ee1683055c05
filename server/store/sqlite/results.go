package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"vigil/server/store"
)

// Result batches and results.

type assignKey struct{ hunt, agent string }

// AddBatches stores each new batch of an assigned hunt, and its results,
// in one transaction.
func (db *DB) AddBatches(ctx context.Context, b []store.Batch) ([]bool, error) {
	stored := make([]bool, len(b))
	if len(b) == 0 {
		return stored, nil
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("add batches: %w", err)
	}
	defer tx.Rollback()
	assigned, err := tx.PrepareContext(ctx, `SELECT 1 FROM assignments WHERE hunt_id = ? AND agent_id = ?`)
	if err != nil {
		return nil, fmt.Errorf("add batches: %w", err)
	}
	defer assigned.Close()
	insBatch, err := tx.PrepareContext(ctx, `INSERT INTO batches (hunt_id, agent_id, seq, received, matches, errors)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	if err != nil {
		return nil, fmt.Errorf("add batches: %w", err)
	}
	defer insBatch.Close()
	insResult, err := tx.PrepareContext(ctx, `INSERT INTO results (hunt_id, agent_id, seq, idx, path, size,
		sha256, md5, rule, namespace, tags, strings, received) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return nil, fmt.Errorf("add batches: %w", err)
	}
	defer insResult.Close()
	count, err := tx.PrepareContext(ctx, `UPDATE assignments SET results = results + ? WHERE hunt_id = ? AND agent_id = ?`)
	if err != nil {
		return nil, fmt.Errorf("add batches: %w", err)
	}
	defer count.Close()

	known := map[assignKey]bool{}
	added := map[assignKey]int64{}
	var order []assignKey
	for i := range b {
		bt := &b[i]
		seq, ok := store.SeqInt64(bt.Batch.Seq)
		if !ok {
			continue
		}
		k := assignKey{bt.Batch.HuntID, bt.AgentID}
		isAssigned, seen := known[k]
		if !seen {
			var one int
			err := assigned.QueryRowContext(ctx, k.hunt, k.agent).Scan(&one)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return nil, fmt.Errorf("add batches: %w", err)
			}
			isAssigned = err == nil
			known[k] = isAssigned
		}
		if !isAssigned {
			continue
		}
		received := store.UTCOrNow(bt.Received)
		res, err := insBatch.ExecContext(ctx, k.hunt, k.agent, seq, received.UnixMicro(),
			len(bt.Batch.Matches), len(bt.Batch.Errors))
		if err != nil {
			return nil, fmt.Errorf("add batch %d of %q for hunt %q: %w", bt.Batch.Seq, k.agent, k.hunt, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			if err != nil {
				return nil, fmt.Errorf("add batches: %w", err)
			}
			continue // seen before
		}
		stored[i] = true
		bc := *bt
		bc.Received = received
		rows := store.BatchResults(bc)
		for _, r := range rows {
			tags, err := store.EncodeJSON(r.Tags)
			if err != nil {
				return nil, fmt.Errorf("add batches: %w", err)
			}
			strs, err := store.EncodeJSON(r.Strings)
			if err != nil {
				return nil, fmt.Errorf("add batches: %w", err)
			}
			if _, err := insResult.ExecContext(ctx, r.HuntID, r.AgentID, seq, r.Index, r.Path, r.Size,
				r.SHA256, r.MD5, r.Rule, r.Namespace, tags, strs, received.UnixMicro()); err != nil {
				return nil, fmt.Errorf("add result of %q for hunt %q: %w", k.agent, k.hunt, err)
			}
		}
		if _, ok := added[k]; !ok {
			order = append(order, k)
		}
		added[k] += int64(len(rows))
	}
	for _, k := range order {
		if _, err := count.ExecContext(ctx, added[k], k.hunt, k.agent); err != nil {
			return nil, fmt.Errorf("add batches: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("add batches: %w", err)
	}
	return stored, nil
}

// defaultLimit is the page size of Results when the filter gives none.
const defaultLimit = 1000

// Results returns a page of a hunt's results in insertion order.
func (db *DB) Results(ctx context.Context, huntID string, f store.ResultFilter) ([]store.Result, int64, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	var q strings.Builder
	q.WriteString(`SELECT id, agent_id, seq, idx, path, size, sha256, md5, rule, namespace, tags, strings, received
		FROM results WHERE hunt_id = ? AND id > ?`)
	args := []any{huntID, f.After}
	if f.AgentID != "" {
		q.WriteString(` AND agent_id = ?`)
		args = append(args, f.AgentID)
	}
	if f.Rule != "" {
		q.WriteString(` AND instr(rule, ?) > 0`)
		args = append(args, f.Rule)
	}
	if f.Path != "" {
		q.WriteString(` AND instr(path, ?) > 0`)
		args = append(args, f.Path)
	}
	q.WriteString(` ORDER BY id LIMIT ?`)
	args = append(args, limit)

	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, fmt.Errorf("results of %q: %w", huntID, err)
	}
	defer tx.Rollback()
	if err := huntExists(ctx, tx, huntID); err != nil {
		return nil, 0, fmt.Errorf("results: %w", err)
	}
	rows, err := tx.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("results of %q: %w", huntID, err)
	}
	defer rows.Close()
	var out []store.Result
	cursor := f.After
	for rows.Next() {
		r := store.Result{HuntID: huntID}
		var seq int64
		var tags, strs string
		var received sql.NullInt64
		if err := rows.Scan(&cursor, &r.AgentID, &seq, &r.Index, &r.Path, &r.Size, &r.SHA256, &r.MD5, &r.Rule,
			&r.Namespace, &tags, &strs, &received); err != nil {
			return nil, 0, fmt.Errorf("results of %q: %w", huntID, err)
		}
		if err := store.DecodeJSON(tags, &r.Tags); err != nil {
			return nil, 0, fmt.Errorf("results of %q: %w", huntID, err)
		}
		if err := store.DecodeJSON(strs, &r.Strings); err != nil {
			return nil, 0, fmt.Errorf("results of %q: %w", huntID, err)
		}
		r.Seq = uint64(seq)
		r.Received = fromDB(received)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("results of %q: %w", huntID, err)
	}
	return out, cursor, nil
}
