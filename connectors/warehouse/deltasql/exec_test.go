package deltasql_test

import (
	"context"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/deltasql"
	"dinmo/connectors/warehouse/duckdb"
	"dinmo/connectors/warehouse/postgres"
	"dinmo/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func openDuckDB(t *testing.T) warehouse.Warehouse {
	t.Helper()
	w, err := duckdb.New().Open(context.Background(), warehouse.Config{
		Settings: map[string]any{duckdb.SettingPath: filepath.Join(t.TempDir(), "wh.duckdb")},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

func openPostgres(t *testing.T) warehouse.Warehouse {
	t.Helper()
	cfg, err := pgx.ParseConfig(pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	w, err := postgres.New().Open(context.Background(), warehouse.Config{
		Settings: map[string]any{
			postgres.SettingHost: cfg.Host, postgres.SettingPort: int64(cfg.Port),
			postgres.SettingDatabase: cfg.Database, postgres.SettingUser: cfg.User,
			postgres.SettingSSLMode: "disable",
		},
		Credentials: map[string]string{postgres.CredentialPassword: cfg.Password},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

func TestExecDuckDB(t *testing.T)   { testExec(t, openDuckDB(t)) }
func TestExecPostgres(t *testing.T) { testExec(t, openPostgres(t)) }

type diffRow struct {
	Kind  deltasql.Kind
	Key   string
	Email any
}

// testExec runs the statements in the order the runner does, against a real engine, and checks
// the results: bad keys skipped, diff kinds, partial acknowledgement, fold, snapshot evolution.
func testExec(t *testing.T, w warehouse.Warehouse) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := w.Dialect()
	db := w.DB()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
	}
	count := func(q string) int64 {
		t.Helper()
		var n int64
		if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
		return n
	}
	for _, s := range []string{"src", warehouse.SchemaSegments, warehouse.SchemaDeltaStorage} {
		exec(d.CreateSchema(s))
	}
	src := d.Qualified("src", "people")
	exec("CREATE TABLE " + src + " (id INTEGER, email VARCHAR(100), score INTEGER)")
	exec("INSERT INTO " + src + " VALUES (1, 'a@x', 10), (2, 'b@x', 20), (3, 'c@x', 30), (4, 'd@x', 40)," +
		" (NULL, 'null@x', 0), (5, 'dup1@x', 1), (5, 'dup2@x', 2)")
	exec(d.CreateOrReplaceView(warehouse.SchemaSegments, "model_people", "SELECT * FROM "+src))

	b, err := deltasql.New(d, "act-1")
	if err != nil {
		t.Fatal(err)
	}
	fields := []deltasql.Field{{Column: "email", Name: "Email"}}
	names := deltasql.FieldNames(fields)

	evaluate := func(fields []deltasql.Field) {
		t.Helper()
		q, err := b.CreateRun(warehouse.SchemaSegments, "model_people", "id", fields)
		if err != nil {
			t.Fatal(err)
		}
		exec(q)
		exec(b.DeleteBadKeys())
	}
	diff := func(names []string, full bool) []diffRow {
		t.Helper()
		rows, err := db.QueryContext(ctx, b.Diff(names, full))
		if err != nil {
			t.Fatalf("%v\n%s", err, b.Diff(names, full))
		}
		defer rows.Close()
		var out []diffRow
		for rows.Next() {
			vals := make([]any, 2+len(names))
			ptrs := make([]any, len(vals))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out = append(out, diffRow{Kind: deltasql.Kind(str(vals[0])), Key: str(vals[1]), Email: warehouse.NormalizeValue(vals[2])})
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	fold := func(names []string) {
		t.Helper()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range b.Fold(names) {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				_ = tx.Rollback()
				t.Fatalf("%v\n%s", err, q)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}

	// Run 1: 7 rows, one NULL key and a duplicated key 5 (both rows skipped).
	q, err := b.CreateRun(warehouse.SchemaSegments, "model_people", "id", fields)
	if err != nil {
		t.Fatal(err)
	}
	exec(q)
	var total, keyed, distinct int64
	if err := db.QueryRowContext(ctx, b.RunStats()).Scan(&total, &keyed, &distinct); err != nil {
		t.Fatal(err)
	}
	if total != 7 || keyed != 6 || distinct != 5 {
		t.Fatalf("RunStats = %d %d %d, want 7 6 5", total, keyed, distinct)
	}
	exec(b.DeleteBadKeys())
	if n := count(b.CountRun()); n != 4 {
		t.Fatalf("after DeleteBadKeys: %d rows, want 4", n)
	}
	exec(b.CreateSnapshot(names))
	if q, ok := b.IndexSnapshot(); ok {
		exec(q)
	}
	var added, changed, removed, unchanged int64
	if err := db.QueryRowContext(ctx, b.DiffCounts()).Scan(&added, &changed, &removed, &unchanged); err != nil {
		t.Fatal(err)
	}
	if added != 4 || changed+removed+unchanged != 0 {
		t.Fatalf("DiffCounts = %d %d %d %d, want 4 0 0 0", added, changed, removed, unchanged)
	}
	want := []diffRow{{deltasql.Added, "1", "a@x"}, {deltasql.Added, "2", "b@x"}, {deltasql.Added, "3", "c@x"}, {deltasql.Added, "4", "d@x"}}
	if got := diff(names, false); !reflect.DeepEqual(got, want) {
		t.Fatalf("diff 1 = %v, want %v", got, want)
	}
	// Only keys 1, 2, 3 are acknowledged: 4 stays out of the snapshot.
	exec(b.CreateAck())
	exec(b.InsertAck(3), "1", "2", "3")
	fold(names)
	if n := count("SELECT COUNT(*) FROM " + d.Qualified(warehouse.SchemaDeltaStorage, b.Tables().Snapshot)); n != 3 {
		t.Fatalf("snapshot holds %d rows, want 3", n)
	}
	for _, tbl := range []string{b.Tables().Run, b.Tables().Ack} {
		if ok, err := w.RelationExists(ctx, warehouse.SchemaDeltaStorage, tbl); err != nil || ok {
			t.Fatalf("%s still exists after fold (%v)", tbl, err)
		}
	}

	// Run 2: key 2 changes, key 3 leaves, key 6 enters; key 4 is still new (never acked).
	exec("UPDATE " + src + " SET email = 'b2@x' WHERE id = 2")
	exec("DELETE FROM " + src + " WHERE id = 3")
	exec("INSERT INTO " + src + " VALUES (6, 'f@x', 60)")
	evaluate(fields)
	want = []diffRow{{deltasql.Changed, "2", "b2@x"}, {deltasql.Removed, "3", "c@x"}, {deltasql.Added, "4", "d@x"}, {deltasql.Added, "6", "f@x"}}
	if got := diff(names, false); !reflect.DeepEqual(got, want) {
		t.Fatalf("diff 2 = %v, want %v", got, want)
	}
	full := diff(names, true)
	kinds := map[string]deltasql.Kind{}
	for _, r := range full {
		kinds[r.Key] = r.Kind
	}
	if !reflect.DeepEqual(kinds, map[string]deltasql.Kind{"1": deltasql.Unchanged, "2": deltasql.Changed, "3": deltasql.Removed, "4": deltasql.Added, "6": deltasql.Added}) {
		t.Fatalf("full diff kinds = %v", kinds)
	}
	exec(b.CreateAck())
	exec(b.InsertAck(4), "2", "3", "4", "6")
	fold(names)

	// Run 3: the mapping gains a field; the snapshot evolves additively.
	fields2 := append(fields, deltasql.Field{Column: "score", Name: "score"})
	evaluate(fields2)
	runCols, err := w.QueryColumns(ctx, b.ProbeRun())
	if err != nil {
		t.Fatal(err)
	}
	snapCols, err := w.QueryColumns(ctx, b.ProbeSnapshot())
	if err != nil {
		t.Fatal(err)
	}
	if len(snapCols) != 3 || len(runCols) != 4 {
		t.Fatalf("columns: snapshot %v, run %v", snapCols, runCols)
	}
	add, err := b.AddSnapshotColumn("score", runCols[3].DatabaseType)
	if err != nil {
		t.Fatal(err)
	}
	exec(add)
	names2 := deltasql.FieldNames(fields2)
	got := diff(names2, false)
	var keys []string
	for _, r := range got {
		if r.Kind != deltasql.Changed {
			t.Fatalf("after a new field every row is changed, got %v", got)
		}
		keys = append(keys, r.Key)
	}
	sort.Strings(keys)
	if !reflect.DeepEqual(keys, []string{"1", "2", "4", "6"}) {
		t.Fatalf("changed keys = %v", keys)
	}
	exec(b.CreateAck())
	exec(b.InsertAck(4), "1", "2", "4", "6")
	fold(names2)
	evaluate(fields2)
	if got := diff(names2, false); len(got) != 0 {
		t.Fatalf("diff after fold = %v, want none", got)
	}
	exec(b.DropRun())

	// Rejected table.
	exec(b.CreateRejected())
	exec(b.InsertRejected(2), "1", "upsert", "bad email", "run-1", time.Now().UTC(), "2", "delete", "gone", "run-1", time.Now().UTC())
	if n := count("SELECT COUNT(*) FROM " + d.Qualified(warehouse.SchemaDeltaStorage, b.Tables().Rejected)); n != 2 {
		t.Fatalf("rejected rows = %d, want 2", n)
	}
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return ""
}
