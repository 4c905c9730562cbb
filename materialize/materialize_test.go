package materialize_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/duckdb"
	"dinmo/connectors/warehouse/postgres"
	"dinmo/internal/pgtest"
	"dinmo/materialize"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestRefreshSQL(t *testing.T) {
	got := materialize.RefreshSQL(postgres.NewDialect(), "mat_customers", "SELECT 1 AS a, 'x' AS \"B\";", []string{"a", "B"})
	want := []string{
		`DELETE FROM "dinmo_segments"."mat_customers"`,
		"INSERT INTO \"dinmo_segments\".\"mat_customers\" (\"a\", \"B\")\nSELECT \"a\", \"B\" FROM (\nSELECT 1 AS a, 'x' AS \"B\"\n) AS dinmo_model",
		`SELECT COUNT(*) FROM "dinmo_segments"."mat_customers"`,
	}
	if strings.Join(got, "\n--\n") != strings.Join(want, "\n--\n") {
		t.Fatalf("RefreshSQL:\n%s\nwant\n%s", strings.Join(got, "\n--\n"), strings.Join(want, "\n--\n"))
	}
}

func open(t *testing.T, engine string) warehouse.Warehouse {
	t.Helper()
	ctx := t.Context()
	var w warehouse.Warehouse
	var err error
	switch engine {
	case "duckdb":
		w, err = duckdb.New().Open(ctx, warehouse.Config{Settings: map[string]any{duckdb.SettingPath: filepath.Join(t.TempDir(), "w.duckdb")}}, nil)
	default:
		cfg, perr := pgx.ParseConfig(pgtest.DSN(t))
		if perr != nil {
			t.Fatal(perr)
		}
		w, err = postgres.New().Open(ctx, warehouse.Config{Settings: map[string]any{
			postgres.SettingHost: cfg.Host, postgres.SettingPort: int64(cfg.Port), postgres.SettingDatabase: cfg.Database,
			postgres.SettingUser: cfg.User, postgres.SettingSSLMode: "disable",
		}, Credentials: map[string]string{postgres.CredentialPassword: "trusted-locally"}}, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

func exec(t *testing.T, w warehouse.Warehouse, q string) {
	t.Helper()
	if _, err := w.DB().ExecContext(context.Background(), q); err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
}

func count(t *testing.T, w warehouse.Warehouse, rel string) int64 {
	t.Helper()
	var n int64
	if err := w.DB().QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+rel).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBuildRefreshUnbuild: a table model's view reads its table; a rebuild with new columns
// keeps the views that depend on the model's view (PostgreSQL tracks them); a refresh replaces
// the rows; a failed refresh changes nothing; Unbuild makes the view live and drops the table.
func TestBuildRefreshUnbuild(t *testing.T) {
	for _, engine := range []string{"duckdb", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := t.Context()
			w := open(t, engine)
			d := w.Dialect()
			for _, s := range []string{"src", warehouse.SchemaSegments} {
				exec(t, w, d.CreateSchema(s))
			}
			exec(t, w, "CREATE TABLE src.people (id INTEGER, name VARCHAR(50), age INTEGER)")
			exec(t, w, "INSERT INTO src.people VALUES (1, 'a', 30), (2, 'b', 40)")
			view, table := "model_people", materialize.TableName("people")
			qv, qt := d.Qualified(warehouse.SchemaSegments, view), d.Qualified(warehouse.SchemaSegments, table)
			q1 := "SELECT id, name FROM src.people"
			if err := materialize.Build(ctx, w, view, table, q1); err != nil {
				t.Fatal(err)
			}
			// A segment view on the model's view, as the provider creates.
			exec(t, w, d.CreateOrReplaceView(warehouse.SchemaSegments, "segment_a", "SELECT * FROM "+qv+" WHERE id >= 1"))
			exec(t, w, "INSERT INTO src.people VALUES (3, 'c', 50)")
			if n := count(t, w, qv); n != 2 {
				t.Fatalf("view before refresh: %d rows, want 2", n)
			}
			rows, err := materialize.Refresh(ctx, w, table, q1, []string{"id", "name"})
			if err != nil || rows != 3 {
				t.Fatalf("refresh: %d rows, %v", rows, err)
			}
			if n := count(t, w, d.Qualified(warehouse.SchemaSegments, "segment_a")); n != 3 {
				t.Fatalf("segment after refresh: %d rows, want 3", n)
			}
			// Rebuild with a new column: the dependent view survives (PostgreSQL would refuse to
			// drop a table or change a view's columns under it otherwise).
			q2 := "SELECT id, name, age FROM src.people"
			if err := materialize.Build(ctx, w, view, table, q2); err != nil {
				t.Fatal(err)
			}
			var age int64
			if err := w.DB().QueryRowContext(ctx, "SELECT age FROM "+qv+" WHERE id = 3").Scan(&age); err != nil || age != 50 {
				t.Fatalf("rebuilt view: age %d, %v", age, err)
			}
			if ok, err := w.RelationExists(ctx, warehouse.SchemaSegments, "segment_a"); err != nil || !ok {
				t.Fatalf("segment view after rebuild: exists %v, %v", ok, err)
			}
			// A failing refresh (a column gone) rolls back: the rows stay.
			exec(t, w, "ALTER TABLE src.people DROP COLUMN age")
			if _, err := materialize.Refresh(ctx, w, table, "SELECT id, name FROM src.people", []string{"id", "name", "age"}); err == nil {
				t.Fatal("refresh selecting a missing column succeeded")
			}
			if n := count(t, w, qt); n != 3 {
				t.Fatalf("table after a failed refresh: %d rows, want 3", n)
			}
			// Live again: the view runs the query, the table is gone.
			if err := materialize.Unbuild(ctx, w, view, table, q1); err != nil {
				t.Fatal(err)
			}
			if ok, _ := w.RelationExists(ctx, warehouse.SchemaSegments, table); ok {
				t.Fatal("table still exists after Unbuild")
			}
			exec(t, w, "INSERT INTO src.people VALUES (4, 'd')")
			if n := count(t, w, qv); n != 4 {
				t.Fatalf("live view: %d rows, want 4", n)
			}
			if _, err := materialize.Refresh(ctx, w, table, q1, []string{"id", "name"}); err == nil || !strings.Contains(err.Error(), "terraform apply") {
				t.Fatalf("refresh without a table: %v", err)
			}
		})
	}
}
