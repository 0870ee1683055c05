package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"vigil/server/store"
)

// Result batches and results.

type batchKey struct {
	hunt, agent string
	seq         int64
}

type assignKey struct{ hunt, agent string }

// resultColumns are the columns AddBatches copies into results.
var resultColumns = []string{"hunt_id", "agent_id", "seq", "idx", "path", "size", "sha256", "md5", "rule",
	"namespace", "tags", "strings", "received"}

// AddBatches stores each new batch of an assigned hunt, and its results,
// in one transaction: one INSERT ... ON CONFLICT DO NOTHING RETURNING
// records the batches and tells which are new, then COPY writes the rows
// of the new ones.
//
// The transaction holds an advisory lock from before the rows get their
// IDs until it commits, so IDs become visible in increasing order and a
// reader paging by ID never skips a row committed after its page.
func (db *DB) AddBatches(ctx context.Context, b []store.Batch) ([]bool, error) {
	stored := make([]bool, len(b))
	first := map[batchKey]int{}
	var (
		hunts, agents     []string
		seqs              []int64
		received          []time.Time
		nMatches, nErrors []int32
	)
	recv := make([]time.Time, len(b))
	ids := make([]assignKey, len(b)) // cleaned: as the database has them
	for i := range b {
		seq, ok := store.SeqInt64(b[i].Batch.Seq)
		if !ok {
			continue
		}
		ids[i] = assignKey{store.CleanText(b[i].Batch.HuntID), store.CleanText(b[i].AgentID)}
		k := batchKey{ids[i].hunt, ids[i].agent, seq}
		if _, dup := first[k]; dup {
			continue
		}
		first[k] = i
		recv[i] = store.UTCOrNow(b[i].Received)
		hunts, agents, seqs = append(hunts, k.hunt), append(agents, k.agent), append(seqs, seq)
		received = append(received, recv[i])
		nMatches = append(nMatches, int32(min(len(b[i].Batch.Matches), 1<<31-1)))
		nErrors = append(nErrors, int32(min(len(b[i].Batch.Errors), 1<<31-1)))
	}
	if len(first) == 0 {
		return stored, nil
	}

	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("add batches: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext(COALESCE(current_schema(), '') || '/vigil/results'))`); err != nil {
		return nil, fmt.Errorf("add batches: %w", err)
	}
	rows, err := tx.Query(ctx, `INSERT INTO batches (hunt_id, agent_id, seq, received, matches, errors)
		SELECT k.h, k.a, k.s, k.r, k.m, k.e
		FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[], $5::integer[], $6::integer[])
			AS k (h, a, s, r, m, e)
		WHERE EXISTS (SELECT 1 FROM assignments x WHERE x.hunt_id = k.h AND x.agent_id = k.a)
		ON CONFLICT DO NOTHING
		RETURNING hunt_id, agent_id, seq`, cl(hunts, agents, seqs, received, nMatches, nErrors)...)
	if err != nil {
		return nil, fmt.Errorf("add batches: %w", err)
	}
	var k batchKey
	_, err = pgx.ForEachRow(rows, []any{&k.hunt, &k.agent, &k.seq}, func() error {
		i, ok := first[k]
		if !ok {
			return fmt.Errorf("database returned a batch it was not given")
		}
		stored[i] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("add batches: %w", err)
	}

	src := &resultSource{b: b, stored: stored, recv: recv, ids: ids, counts: map[assignKey]int64{}}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"results"}, resultColumns, src); err != nil {
		return nil, fmt.Errorf("add batches: copy results: %w", err)
	}
	// Count the new rows per assignment, updating rows in (hunt, agent)
	// order as ApplyStatuses does.
	keys := make([]assignKey, 0, len(src.counts))
	for k, n := range src.counts {
		if n > 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b assignKey) int {
		return cmp.Or(cmp.Compare(a.hunt, b.hunt), cmp.Compare(a.agent, b.agent))
	})
	if len(keys) > 0 {
		var batch pgx.Batch
		for _, k := range keys {
			batch.Queue(`UPDATE assignments SET results = results + $1 WHERE hunt_id = $2 AND agent_id = $3`,
				cl(src.counts[k], k.hunt, k.agent)...)
		}
		if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
			return nil, fmt.Errorf("add batches: count results: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("add batches: %w", err)
	}
	return stored, nil
}

// resultSource feeds COPY the result rows of the stored batches, in order,
// and counts them per assignment.
type resultSource struct {
	b        []store.Batch
	stored   []bool
	recv     []time.Time
	ids      []assignKey
	counts   map[assignKey]int64
	bi, m, r int // batch, match and rule of the next row; bi < 0 before the first
	started  bool
	err      error
}

// Next moves to the next row.
func (s *resultSource) Next() bool {
	if !s.started {
		s.started = true
		s.bi, s.m, s.r = 0, 0, -1
	}
	for s.bi < len(s.b) {
		if s.stored[s.bi] {
			ms := s.b[s.bi].Batch.Matches
			s.r++
			for s.m < len(ms) && s.r >= len(ms[s.m].Rules) {
				s.m, s.r = s.m+1, 0
			}
			if s.m < len(ms) {
				return true
			}
		}
		s.bi, s.m, s.r = s.bi+1, 0, -1
	}
	return false
}

// Values returns the current row.
func (s *resultSource) Values() ([]any, error) {
	bt := &s.b[s.bi]
	fm := &bt.Batch.Matches[s.m]
	hit := &fm.Rules[s.r]
	tags, err := store.EncodeJSON(hit.Tags)
	if err != nil {
		s.err = err
		return nil, err
	}
	strs, err := store.EncodeJSON(hit.Strings)
	if err != nil {
		s.err = err
		return nil, err
	}
	id := s.ids[s.bi]
	s.counts[id]++
	seq, _ := store.SeqInt64(bt.Batch.Seq)
	return []any{id.hunt, id.agent, seq, int64(s.m*1000 + s.r), store.CleanText(fm.Path), fm.Size,
		store.CleanText(fm.SHA256), store.CleanText(fm.MD5), store.CleanText(hit.Rule), store.CleanText(hit.Namespace),
		tags, strs, s.recv[s.bi]}, nil
}

// Err returns the error that stopped the rows.
func (s *resultSource) Err() error { return s.err }

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
		FROM results WHERE hunt_id = $1 AND id > $2`)
	args := []any{huntID, f.After}
	if f.AgentID != "" {
		args = append(args, f.AgentID)
		fmt.Fprintf(&q, ` AND agent_id = $%d`, len(args))
	}
	if f.Rule != "" {
		args = append(args, f.Rule)
		fmt.Fprintf(&q, ` AND strpos(rule, $%d) > 0`, len(args))
	}
	if f.Path != "" {
		args = append(args, f.Path)
		fmt.Fprintf(&q, ` AND strpos(path, $%d) > 0`, len(args))
	}
	args = append(args, limit)
	fmt.Fprintf(&q, ` ORDER BY id LIMIT $%d`, len(args))

	tx, err := db.readTx(ctx, huntID)
	if err != nil {
		return nil, 0, fmt.Errorf("results: %w", err)
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, q.String(), cl(args...)...)
	if err != nil {
		return nil, 0, fmt.Errorf("results of %q: %w", huntID, err)
	}
	cursor := f.After
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Result, error) {
		r := store.Result{HuntID: huntID}
		var seq int64
		var idx int64
		var tags, strs string
		var received pgtype.Timestamptz
		if err := row.Scan(&cursor, &r.AgentID, &seq, &idx, &r.Path, &r.Size, &r.SHA256, &r.MD5, &r.Rule,
			&r.Namespace, &tags, &strs, &received); err != nil {
			return r, err
		}
		if err := store.DecodeJSON(tags, &r.Tags); err != nil {
			return r, err
		}
		if err := store.DecodeJSON(strs, &r.Strings); err != nil {
			return r, err
		}
		r.Seq, r.Index, r.Received = uint64(seq), int(idx), fromTS(received)
		return r, nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("results of %q: %w", huntID, err)
	}
	return out, cursor, nil
}
