package pgtest

import (
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

// TestDSNFreshDatabase checks that every DSN is a distinct, empty, writable database.
func TestDSNFreshDatabase(t *testing.T) {
	if !Available() {
		t.Skip("pgtest: PostgreSQL not available")
	}
	ctx := t.Context()
	a, b := DSN(t), DSN(t)
	if a == b {
		t.Fatalf("two DSN calls returned the same database %q", a)
	}
	for _, dsn := range []string{a, b} {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatalf("connect %s: %v", dsn, err)
		}
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("fresh database %s has %d tables, want 0", dsn, n)
		}
		if _, err := conn.Exec(ctx, `CREATE TABLE t (id int PRIMARY KEY)`); err != nil {
			t.Fatalf("create table: %v", err)
		}
		if err := conn.Close(ctx); err != nil {
			t.Errorf("close connection: %v", err)
		}
	}
}

// TestDSNDroppedOnCleanup checks that the database of a finished test is gone, even while a
// connection to it is still open (DROP ... WITH (FORCE)).
func TestDSNDroppedOnCleanup(t *testing.T) {
	ctx := t.Context()
	var dsn string
	var leaked *pgx.Conn
	t.Run("inner", func(t *testing.T) {
		dsn = DSN(t)
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		leaked = c // left open on purpose
	})
	if dsn == "" {
		t.Fatal("inner test did not get a DSN")
	}
	defer func() {
		if leaked != nil {
			// The forced drop terminated this connection, so closing it may report an error.
			_ = leaked.Close(ctx)
		}
	}()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, shared.adminDSN)
	if err != nil {
		t.Fatalf("connect admin: %v", err)
	}
	defer admin.Close(ctx)
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, cfg.Database).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still exists after its test ended", cfg.Database)
	}
}

func TestWithDatabase(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://u:p@h:5432/orig?sslmode=disable", "postgres://u:p@h:5432/x?sslmode=disable"},
		{"postgresql://h/", "postgresql://h/x"},
		{"host=h user=u dbname=orig", "host=h user=u dbname=orig dbname=x"},
	}
	for _, tt := range tests {
		got, err := withDatabase(tt.in, "x")
		if err != nil {
			t.Fatalf("withDatabase(%q): %v", tt.in, err)
		}
		if got != tt.want {
			t.Errorf("withDatabase(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestVersionOrder(t *testing.T) {
	if versionOf("/usr/lib/postgresql/15/bin") <= versionOf("/usr/lib/postgresql/9.6/bin") {
		t.Error("15 should sort above 9.6")
	}
	if versionOf("/opt/pg/bin") != -1 {
		t.Error("non-numeric version should be -1")
	}
}
