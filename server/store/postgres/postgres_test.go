package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"vigil/server/store"
	"vigil/server/store/storetest"
)

// adminDSNs are tried in order to reach the test database.
var adminDSNs = []string{
	"postgres://postgres@127.0.0.1:5432/test?sslmode=disable&connect_timeout=5",
	"postgres://root@127.0.0.1:5432/test?sslmode=disable&connect_timeout=5",
}

// adminDSN returns a DSN that reaches the test database, or skips the test
// (fails it when VIGIL_REQUIRE_SERVICES=1).
func adminDSN(tb testing.TB) string {
	tb.Helper()
	probe.once.Do(func() { probe.dsn, probe.err = findDSN() })
	if probe.err == nil {
		return probe.dsn
	}
	if os.Getenv("VIGIL_REQUIRE_SERVICES") == "1" {
		tb.Fatalf("PostgreSQL unreachable: %v", probe.err)
	}
	tb.Skipf("PostgreSQL unreachable (set VIGIL_REQUIRE_SERVICES=1 to fail instead): %v", probe.err)
	return ""
}

// probe remembers whether PostgreSQL is reachable: tried once per run.
var probe struct {
	once sync.Once
	dsn  string
	err  error
}

func findDSN() (string, error) {
	var last error
	for _, dsn := range adminDSNs {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		conn, err := pgx.Connect(ctx, dsn)
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return dsn, nil
		}
		last = err
	}
	return "", last
}

// tempSchema returns a DSN for a new random schema, dropped at cleanup.
func tempSchema(tb testing.TB) string {
	tb.Helper()
	dsn := adminDSN(tb)
	var rnd [6]byte
	rand.Read(rnd[:])
	schema := "vigil_test_" + hex.EncodeToString(rnd[:])
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return dsn + "&schema=" + schema
}

func openTemp(tb testing.TB) *DB {
	tb.Helper()
	db, err := Open(context.Background(), tempSchema(tb))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func versions(t *testing.T, db *DB) []int {
	t.Helper()
	rows, err := db.pool.Query(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestMigrations(t *testing.T) {
	dsn := tempSchema(t)
	// The first schema alone, with data in it, as an old server left it.
	db, err := open(t.Context(), dsn, migrations[:1])
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
	more := append(slices.Clip(migrations), `CREATE TABLE extra (x integer NOT NULL); INSERT INTO extra (x) VALUES (42);`)
	for range 2 {
		db, err = open(t.Context(), dsn, more)
		if err != nil {
			t.Fatalf("reopen with a new migration: %v", err)
		}
		if got, want := versions(t, db), all; !slices.Equal(got, want) {
			t.Errorf("versions = %v, want %v", got, want)
		}
		var n, x int
		if err := db.pool.QueryRow(t.Context(), `SELECT COUNT(*), MAX(x) FROM extra`).Scan(&n, &x); err != nil {
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
	bad := append(slices.Clip(more), `CREATE TABLE extra2 (x integer); CREATE TABLE extra (y integer);`)
	if _, err := open(t.Context(), dsn, bad); err == nil {
		t.Fatalf("open with a failing migration succeeded")
	}
	db, err = open(t.Context(), dsn, more)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := versions(t, db), all; !slices.Equal(got, want) {
		t.Errorf("versions after a failed migration = %v, want %v", got, want)
	}
	var n int
	if err := db.pool.QueryRow(t.Context(), `SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'extra2'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("a failed migration left table extra2 (%d, %v)", n, err)
	}
	db.Close()

	// A database newer than the program is refused.
	if _, err := open(t.Context(), dsn, migrations); err == nil {
		t.Errorf("open of a database with more migrations than the program knows succeeded")
	}
}

// TestMigrateConcurrently opens one new schema from several goroutines:
// the advisory lock makes exactly one of them create the tables.
func TestMigrateConcurrently(t *testing.T) {
	dsn := tempSchema(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			db, err := Open(t.Context(), dsn)
			if err == nil {
				db.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
}

func TestSchemaIsolation(t *testing.T) {
	a, b := openTemp(t), openTemp(t)
	defer a.Close()
	defer b.Close()
	o := store.Operator{ID: "op-1", Name: "alice", Role: store.RoleAdmin, TokenHash: "h"}
	if err := a.CreateOperator(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateOperator(t.Context(), o); err != nil {
		t.Errorf("the same operator in another schema: %v", err)
	}
	list, err := b.ListOperators(t.Context())
	if err != nil || len(list) != 1 {
		t.Errorf("ListOperators in schema b = %v, %v; want 1", list, err)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, dsn := range []string{
		"postgres://u:sekrit@127.0.0.1:5432/test?schema=Bad-Name",
		"postgres://u:sekrit@127.0.0.1:5432/test?schema=",
		"postgres://u:sekrit@127.0.0.1:notaport/test",
	} {
		db, err := Open(t.Context(), dsn)
		if err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", dsn)
			continue
		}
		if strings.Contains(err.Error(), "sekrit") {
			t.Errorf("Open error shows the password: %v", err)
		}
	}
}

func BenchmarkAddBatches(b *testing.B) {
	storetest.BenchmarkAddBatches(b, func(b *testing.B) store.Store { return openTemp(b) })
}

// execV1 runs a statement on the pool.
func execV1(t *testing.T, db *DB, q string) {
	t.Helper()
	if _, err := db.pool.Exec(t.Context(), q); err != nil {
		t.Fatal(err)
	}
}
