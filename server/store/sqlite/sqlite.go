// Package sqlite is the default store.Store backend: one SQLite file
// (modernc.org/sqlite, pure Go) in WAL mode.
//
// SQLite allows one writer at a time, so every write goes through a single
// connection (writes are serialized in the process and never fail with
// SQLITE_BUSY against each other); reads use a pool of read-only
// connections and run beside the writer.
//
// Times are stored as INTEGER microseconds since the Unix epoch (NULL for
// the zero time); labels, tags, strings, paths and limits as JSON text.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"vigil/server/store"
)

// busyTimeout is how long a connection waits for a lock held by another
// process (or a checkpoint) before giving up, in milliseconds.
const busyTimeout = 10000

// maxReaders bounds the read connection pool.
const maxReaders = 8

// DB is a store.Store in one SQLite file. Its methods are safe for
// concurrent use.
type DB struct {
	w *sql.DB // exactly one connection: all writes
	r *sql.DB // read-only pool
}

var _ store.Store = (*DB)(nil)

// Open opens the SQLite database at path, creating it if needed, and
// brings its schema up to date.
func Open(ctx context.Context, path string) (*DB, error) {
	return open(ctx, path, migrations)
}

func open(ctx context.Context, path string, migs []string) (*DB, error) {
	if path == "" || strings.Contains(path, "?") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: unusable database path %q (must be a plain file path)", path)
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	wq := url.Values{"_txlock": {"immediate"}}
	for k, v := range q {
		wq[k] = v
	}
	w, err := sql.Open("sqlite", path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := migrate(ctx, w, migs); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	q.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := min(runtime.GOMAXPROCS(0)*2, maxReaders)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return &DB{w: w, r: r}, nil
}

// Close closes the database.
func (db *DB) Close() error {
	return errors.Join(db.r.Close(), db.w.Close())
}

// migrate applies the migrations the database has not seen, in one
// transaction.
func migrate(ctx context.Context, w *sql.DB, migs []string) error {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		applied INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var cur int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&cur); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if cur > len(migs) {
		return fmt.Errorf("database schema version %d is newer than this program knows (%d)", cur, len(migs))
	}
	for v := cur + 1; v <= len(migs); v++ {
		if _, err := tx.ExecContext(ctx, migs[v-1]); err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied) VALUES (?, ?)`,
			v, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
	}
	return tx.Commit()
}

// migrations is the schema, one entry per version (version = index+1).
// Append only: never edit an entry that has shipped.
var migrations = []string{
	// 1: the initial schema.
	`
CREATE TABLE operators (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	role       TEXT NOT NULL,
	token_hash TEXT NOT NULL,
	created    INTEGER,
	disabled   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX operators_token_hash ON operators (token_hash);

CREATE TABLE enroll_tokens (
	id          TEXT PRIMARY KEY,
	secret_hash TEXT NOT NULL UNIQUE,
	labels      TEXT NOT NULL DEFAULT '{}',
	max_uses    INTEGER NOT NULL DEFAULT 0,
	uses        INTEGER NOT NULL DEFAULT 0,
	expires     INTEGER,
	created     INTEGER,
	created_by  TEXT NOT NULL DEFAULT '',
	revoked     INTEGER NOT NULL DEFAULT 0,
	description TEXT NOT NULL DEFAULT ''
);

CREATE TABLE agents (
	id         TEXT PRIMARY KEY,
	public_key TEXT NOT NULL UNIQUE,
	hostname   TEXT NOT NULL DEFAULT '',
	os         TEXT NOT NULL DEFAULT '',
	arch       TEXT NOT NULL DEFAULT '',
	version    TEXT NOT NULL DEFAULT '',
	labels     TEXT NOT NULL DEFAULT '{}',
	enrolled   INTEGER,
	last_seen  INTEGER,
	token_id   TEXT NOT NULL DEFAULT ''
);

CREATE TABLE hunts (
	id           TEXT PRIMARY KEY,
	name         TEXT NOT NULL DEFAULT '',
	rules        TEXT NOT NULL,
	rules_sha256 TEXT NOT NULL DEFAULT '',
	paths        TEXT NOT NULL DEFAULT '[]',
	exclude      TEXT NOT NULL DEFAULT '[]',
	limits       TEXT NOT NULL DEFAULT '{}',
	target       TEXT NOT NULL DEFAULT '',
	why          TEXT NOT NULL DEFAULT '',
	created_by   TEXT NOT NULL DEFAULT '',
	created      INTEGER,
	expires      INTEGER,
	state        TEXT NOT NULL
);
CREATE INDEX hunts_created ON hunts (created);

CREATE TABLE assignments (
	hunt_id       TEXT NOT NULL REFERENCES hunts (id) ON DELETE CASCADE,
	agent_id      TEXT NOT NULL,
	state         TEXT NOT NULL DEFAULT '',
	error         TEXT NOT NULL DEFAULT '',
	files_scanned INTEGER NOT NULL DEFAULT 0,
	files_matched INTEGER NOT NULL DEFAULT 0,
	files_skipped INTEGER NOT NULL DEFAULT 0,
	file_errors   INTEGER NOT NULL DEFAULT 0,
	bytes         INTEGER NOT NULL DEFAULT 0,
	batches       INTEGER NOT NULL DEFAULT 0,
	status_seq    INTEGER NOT NULL DEFAULT 0,
	results       INTEGER NOT NULL DEFAULT 0,
	started       INTEGER,
	updated       INTEGER,
	PRIMARY KEY (hunt_id, agent_id)
);
CREATE INDEX assignments_agent ON assignments (agent_id, hunt_id);

CREATE TABLE batches (
	hunt_id  TEXT NOT NULL,
	agent_id TEXT NOT NULL,
	seq      INTEGER NOT NULL,
	received INTEGER,
	matches  INTEGER NOT NULL DEFAULT 0,
	errors   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (hunt_id, agent_id, seq),
	FOREIGN KEY (hunt_id, agent_id) REFERENCES assignments (hunt_id, agent_id) ON DELETE CASCADE
);

CREATE TABLE results (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	hunt_id   TEXT NOT NULL,
	agent_id  TEXT NOT NULL,
	seq       INTEGER NOT NULL,
	idx       INTEGER NOT NULL,
	path      TEXT NOT NULL,
	size      INTEGER NOT NULL,
	sha256    TEXT NOT NULL,
	md5       TEXT NOT NULL,
	rule      TEXT NOT NULL,
	namespace TEXT NOT NULL,
	tags      TEXT NOT NULL,
	strings   TEXT NOT NULL,
	received  INTEGER
);
CREATE INDEX results_hunt ON results (hunt_id, id);
`,
	// 2: accountability (issue 7): approval keys, hunts' log entries, approvals.
	`
ALTER TABLE operators ADD COLUMN approval_key TEXT NOT NULL DEFAULT '';
ALTER TABLE hunts ADD COLUMN log_index INTEGER NOT NULL DEFAULT -1;
ALTER TABLE hunts ADD COLUMN lint_class TEXT NOT NULL DEFAULT '';
ALTER TABLE hunts ADD COLUMN approvals_required INTEGER NOT NULL DEFAULT 0;

CREATE TABLE approvals (
	hunt_id   TEXT NOT NULL REFERENCES hunts (id) ON DELETE CASCADE,
	approver  TEXT NOT NULL,
	key       TEXT NOT NULL,
	log_index INTEGER NOT NULL,
	entry     BLOB NOT NULL,
	time      INTEGER,
	PRIMARY KEY (hunt_id, approver)
);
`,
}

// isConflict reports whether err is a UNIQUE or PRIMARY KEY violation.
func isConflict(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	c := e.Code()
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// toDB converts a time for an INTEGER column: microseconds, NULL if zero.
func toDB(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// fromDB converts toDB's value back to a UTC time.
func fromDB(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// notFound wraps store.ErrNotFound with what was looked up.
func notFound(what, id string) error {
	return fmt.Errorf("%s %q: %w", what, id, store.ErrNotFound)
}

// conflict wraps store.ErrConflict with what was created.
func conflict(what, id string, err error) error {
	return fmt.Errorf("%s %q: %w (%v)", what, id, store.ErrConflict, err)
}

// terminalList is the SQL list of terminal assignment states.
var terminalList = func() string {
	q := make([]string, len(store.TerminalStates))
	for i, s := range store.TerminalStates {
		q[i] = "'" + s + "'"
	}
	return "(" + strings.Join(q, ", ") + ")"
}()
