package sqlite

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"vigil/server/store"
	"vigil/server/store/storetest"
)

func openTemp(t *testing.T) *DB {
	t.Helper()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func versions(t *testing.T, db *DB) []int {
	t.Helper()
	rows, err := db.r.QueryContext(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	// The first schema alone, with data in it, as an old server left it.
	db, err := open(t.Context(), path, migrations[:1])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := versions(t, db), []int{1}; !slices.Equal(got, want) {
		t.Errorf("versions after first open = %v, want %v", got, want)
	}
	execV1(t, db, `INSERT INTO operators (id, name, role, token_hash) VALUES ('op-1', 'alice', 'admin', 'h')`)
	execV1(t, db, `INSERT INTO hunts (id, rules, state) VALUES ('hunt-1', 'rule a { condition: true }', 'running')`)
	db.Close()
	all := make([]int, len(migrations)+1)
	for i := range all {
		all[i] = i + 1
	}

	// A new migration: applied once, on the next open, after the old ones.
	// (Re-running an old one would fail: their CREATE TABLEs have no IF NOT EXISTS.)
	more := append(slices.Clip(migrations), `CREATE TABLE extra (x INTEGER NOT NULL); INSERT INTO extra (x) VALUES (42);`)
	for range 2 {
		db, err = open(t.Context(), path, more)
		if err != nil {
			t.Fatalf("reopen with a new migration: %v", err)
		}
		if got, want := versions(t, db), all; !slices.Equal(got, want) {
			t.Errorf("versions = %v, want %v", got, want)
		}
		var n, x int
		if err := db.r.QueryRowContext(t.Context(), `SELECT COUNT(*), MAX(x) FROM extra`).Scan(&n, &x); err != nil {
			t.Fatalf("new migration's table: %v", err)
		}
		if n != 1 || x != 42 {
			t.Errorf("extra has %d rows (max %d), want the one row of the new migration", n, x)
		}
		if o, err := db.OperatorByTokenHash(t.Context(), "h"); err != nil || o.Name != "alice" || o.ApprovalKey != "" {
			t.Errorf("operator from before the migrations: %+v, %v", o, err)
		}
		// Hunts from before the log are not in it: index -1.
		if h, err := db.GetHunt(t.Context(), "hunt-1"); err != nil || h.LogIndex != -1 || h.ApprovalsRequired != 0 || h.State != store.HuntRunning {
			t.Errorf("hunt from before the migrations: %+v, %v", h, err)
		}
		db.Close()
	}

	// A failing migration changes nothing.
	bad := append(slices.Clip(more), `CREATE TABLE extra2 (x INTEGER); CREATE TABLE extra (y INTEGER);`)
	if _, err := open(t.Context(), path, bad); err == nil {
		t.Fatalf("open with a failing migration succeeded")
	}
	db, err = open(t.Context(), path, more)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := versions(t, db), all; !slices.Equal(got, want) {
		t.Errorf("versions after a failed migration = %v, want %v", got, want)
	}
	var n int
	if err := db.r.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM sqlite_master WHERE name = 'extra2'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("a failed migration left table extra2 (%d, %v)", n, err)
	}
	db.Close()

	// A database newer than the program is refused.
	if _, err := open(t.Context(), path, migrations); err == nil {
		t.Errorf("open of a database with more migrations than the program knows succeeded")
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"", filepath.Join(dir, "a?b.db"), "file:x.db", filepath.Join(dir, "missing", "x.db")} {
		if db, err := Open(t.Context(), p); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
	db := openTemp(t)
	defer db.Close()
	var mode string
	if err := db.r.QueryRowContext(t.Context(), `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := db.w.QueryRowContext(t.Context(), `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
	}
	// Read connections are read-only.
	if _, err := db.r.ExecContext(t.Context(), `INSERT INTO operators (id, name, role, token_hash) VALUES ('a', 'a', 'a', 'a')`); err == nil {
		t.Errorf("a write through the read pool succeeded")
	}
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	o := store.Operator{ID: "op-1", Name: "alice", Role: store.RoleAdmin, TokenHash: "h"}
	if err := db.CreateOperator(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.OperatorByTokenHash(t.Context(), "h")
	if err != nil || got.Name != "alice" {
		t.Errorf("after reopen: %+v, %v", got, err)
	}
	if err := db.CreateOperator(t.Context(), o); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateOperator of a stored operator after reopen: %v", err)
	}
}

func BenchmarkAddBatches(b *testing.B) {
	storetest.BenchmarkAddBatches(b, func(b *testing.B) store.Store {
		db, err := Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		return db
	})
}

// execV1 runs a statement on the writer connection.
func execV1(t *testing.T, db *DB, q string) {
	t.Helper()
	if _, err := db.w.ExecContext(t.Context(), q); err != nil {
		t.Fatal(err)
	}
}
