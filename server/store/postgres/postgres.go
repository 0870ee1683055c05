// Package postgres is the PostgreSQL store.Store backend, for several
// servers sharing one database. It uses pgx's pool directly.
//
// The DSN is a pgx connection string (postgres://user@host/db?...). An
// extra parameter schema=NAME puts every table in that schema: Open
// creates it if needed and sets it as the connections' search_path, so
// that several installations (or tests) can share one database.
//
// Times are timestamptz (NULL for the zero time); labels are jsonb; tags,
// strings, paths and limits are JSON text.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"vigil/server/store"
)

// DB is a store.Store in a PostgreSQL database. Its methods are safe for
// concurrent use, also by several processes sharing the database.
type DB struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*DB)(nil)

// Open connects to the database dsn names and brings its schema up to date.
func Open(ctx context.Context, dsn string) (*DB, error) {
	return open(ctx, dsn, migrations)
}

// maxSchemaName is PostgreSQL's identifier length limit.
const maxSchemaName = 63

// validSchema checks a schema name: 1-63 of [a-z0-9_], not starting with a digit.
func validSchema(s string) error {
	if s == "" || len(s) > maxSchemaName {
		return fmt.Errorf("schema name %q: want 1-%d characters", s, maxSchemaName)
	}
	for i, c := range s {
		if !(c >= 'a' && c <= 'z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return fmt.Errorf("schema name %q: want lower-case letters, digits and _", s)
		}
	}
	return nil
}

func open(ctx context.Context, dsn string, migs []string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors may quote the DSN, password included.
		return nil, errors.New("postgres: the database URL does not parse")
	}
	schema, hasSchema := cfg.ConnConfig.RuntimeParams["schema"]
	if hasSchema {
		delete(cfg.ConnConfig.RuntimeParams, "schema")
		if err := validSchema(schema); err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = schema
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect to %s: %w", cfg.ConnConfig.Host, err)
	}
	if hasSchema {
		// Servers starting together may race to create the schema: losing
		// that race is a unique violation, and fine.
		_, err := pool.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize())
		if err != nil && !isConflict(err) {
			pool.Close()
			return nil, fmt.Errorf("postgres: create schema %s: %w", schema, err)
		}
	}
	if err := migrate(ctx, pool, migs); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &DB{pool: pool}, nil
}

// Close closes the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// migrate applies the migrations the schema has not seen, in one
// transaction, holding an advisory lock so that servers starting together
// do not race.
func migrate(ctx context.Context, pool *pgxpool.Pool, migs []string) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext(COALESCE(current_schema(), '') || '/vigil/migrate'))`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY,
		applied timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var cur int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&cur); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if cur > len(migs) {
		return fmt.Errorf("database schema version %d is newer than this program knows (%d)", cur, len(migs))
	}
	for v := cur + 1; v <= len(migs); v++ {
		// No arguments: the simple protocol, which runs several statements.
		if _, err := tx.Exec(ctx, migs[v-1]); err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, v); err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
	}
	return tx.Commit(ctx)
}

// migrations is the schema, one entry per version (version = index+1).
// Append only: never edit an entry that has shipped.
var migrations = []string{
	// 1: the initial schema.
	`
CREATE TABLE operators (
	id         text COLLATE "C" PRIMARY KEY,
	name       text NOT NULL UNIQUE,
	role       text NOT NULL,
	token_hash text NOT NULL,
	created    timestamptz,
	disabled   boolean NOT NULL DEFAULT false
);
CREATE INDEX operators_token_hash ON operators (token_hash);

CREATE TABLE enroll_tokens (
	id          text COLLATE "C" PRIMARY KEY,
	secret_hash text NOT NULL UNIQUE,
	labels      jsonb NOT NULL DEFAULT '{}',
	max_uses    integer NOT NULL DEFAULT 0,
	uses        integer NOT NULL DEFAULT 0,
	expires     timestamptz,
	created     timestamptz,
	created_by  text NOT NULL DEFAULT '',
	revoked     boolean NOT NULL DEFAULT false,
	description text NOT NULL DEFAULT ''
);

CREATE TABLE agents (
	id         text COLLATE "C" PRIMARY KEY,
	public_key text NOT NULL UNIQUE,
	hostname   text NOT NULL DEFAULT '',
	os         text NOT NULL DEFAULT '',
	arch       text NOT NULL DEFAULT '',
	version    text NOT NULL DEFAULT '',
	labels     jsonb NOT NULL DEFAULT '{}',
	enrolled   timestamptz,
	last_seen  timestamptz,
	token_id   text NOT NULL DEFAULT ''
);

CREATE TABLE hunts (
	id           text COLLATE "C" PRIMARY KEY,
	n            bigint GENERATED ALWAYS AS IDENTITY,
	name         text NOT NULL DEFAULT '',
	rules        text NOT NULL,
	rules_sha256 text NOT NULL DEFAULT '',
	paths        text NOT NULL DEFAULT '[]',
	exclude      text NOT NULL DEFAULT '[]',
	limits       text NOT NULL DEFAULT '{}',
	target       text NOT NULL DEFAULT '',
	why          text NOT NULL DEFAULT '',
	created_by   text NOT NULL DEFAULT '',
	created      timestamptz,
	expires      timestamptz,
	state        text NOT NULL
);
CREATE INDEX hunts_created ON hunts (created);

CREATE TABLE assignments (
	hunt_id       text COLLATE "C" NOT NULL REFERENCES hunts (id) ON DELETE CASCADE,
	agent_id      text COLLATE "C" NOT NULL,
	state         text NOT NULL DEFAULT '',
	error         text NOT NULL DEFAULT '',
	files_scanned bigint NOT NULL DEFAULT 0,
	files_matched bigint NOT NULL DEFAULT 0,
	files_skipped bigint NOT NULL DEFAULT 0,
	file_errors   bigint NOT NULL DEFAULT 0,
	bytes         bigint NOT NULL DEFAULT 0,
	batches       bigint NOT NULL DEFAULT 0,
	status_seq    bigint NOT NULL DEFAULT 0,
	results       bigint NOT NULL DEFAULT 0,
	started       timestamptz,
	updated       timestamptz,
	PRIMARY KEY (hunt_id, agent_id)
);
CREATE INDEX assignments_agent ON assignments (agent_id, hunt_id);

CREATE TABLE batches (
	hunt_id  text COLLATE "C" NOT NULL,
	agent_id text COLLATE "C" NOT NULL,
	seq      bigint NOT NULL,
	received timestamptz,
	matches  integer NOT NULL DEFAULT 0,
	errors   integer NOT NULL DEFAULT 0,
	PRIMARY KEY (hunt_id, agent_id, seq),
	FOREIGN KEY (hunt_id, agent_id) REFERENCES assignments (hunt_id, agent_id) ON DELETE CASCADE
);

CREATE TABLE results (
	id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	hunt_id   text COLLATE "C" NOT NULL,
	agent_id  text COLLATE "C" NOT NULL,
	seq       bigint NOT NULL,
	idx       bigint NOT NULL,
	path      text NOT NULL,
	size      bigint NOT NULL,
	sha256    text NOT NULL,
	md5       text NOT NULL,
	rule      text NOT NULL,
	namespace text NOT NULL,
	tags      text NOT NULL,
	strings   text NOT NULL,
	received  timestamptz
);
CREATE INDEX results_hunt ON results (hunt_id, id);
`,
	// 2: accountability (issue 7): approval keys, hunts' log entries, approvals.
	`
ALTER TABLE operators ADD COLUMN approval_key text NOT NULL DEFAULT '';
ALTER TABLE hunts ADD COLUMN log_index bigint NOT NULL DEFAULT -1;
ALTER TABLE hunts ADD COLUMN lint_class text NOT NULL DEFAULT '';
ALTER TABLE hunts ADD COLUMN approvals_required integer NOT NULL DEFAULT 0;

CREATE TABLE approvals (
	hunt_id   text COLLATE "C" NOT NULL REFERENCES hunts (id) ON DELETE CASCADE,
	approver  text COLLATE "C" NOT NULL,
	key       text NOT NULL,
	log_index bigint NOT NULL,
	entry     bytea NOT NULL,
	time      timestamptz,
	PRIMARY KEY (hunt_id, approver)
);
`,
}

// isConflict reports whether err is a unique violation.
func isConflict(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}

// ts converts a time for a timestamptz column: NULL if zero.
func ts(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: t, Valid: true}
}

// fromTS converts a timestamptz back to a UTC time.
func fromTS(v pgtype.Timestamptz) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return v.Time.UTC()
}

// notFound wraps store.ErrNotFound with what was looked up.
func notFound(what, id string) error {
	return fmt.Errorf("%s %q: %w", what, id, store.ErrNotFound)
}

// conflict wraps store.ErrConflict with what was created.
func conflict(what, id string, err error) error {
	return fmt.Errorf("%s %q: %w (%v)", what, id, store.ErrConflict, err)
}

func mustAffect(tag pgconn.CommandTag, what, id string) error {
	if tag.RowsAffected() == 0 {
		return notFound(what, id)
	}
	return nil
}

// cl cleans query arguments with store.CleanText: PostgreSQL refuses NUL
// bytes and invalid UTF-8 in text, and one such string from an agent must
// not make a whole batch (or any write) fail.
func cl(args ...any) []any {
	for i, a := range args {
		switch v := a.(type) {
		case string:
			args[i] = store.CleanText(v)
		case []string:
			c := make([]string, len(v))
			for j, s := range v {
				c[j] = store.CleanText(s)
			}
			args[i] = c
		}
	}
	return args
}
