package deltasql_test

import (
	"context"
	"fmt"
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

// openDuckDBWith opens a fresh DuckDB warehouse with the schemas a run needs and srcSchema,
// and returns it with a function executing a statement (failing the test on error).
func openDuckDBWith(ctx context.Context, t *testing.T, srcSchema string) (warehouse.Warehouse, func(q string, args ...any)) {
	t.Helper()
	w := openDuckDB(t)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := w.DB().ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
	}
	for _, s := range []string{srcSchema, warehouse.SchemaSegments, warehouse.SchemaDeltaStorage} {
		exec(w.Dialect().CreateSchema(s))
	}
	return w, exec
}

// tableRows returns every row of a query, scanned into any.
func tableRows(ctx context.Context, t *testing.T, w warehouse.Warehouse, q string) [][]any {
	t.Helper()
	rows, err := w.DB().QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
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

func TestExecDuckDB(t *testing.T) {
	for _, s := range deltasql.Strategies() {
		t.Run(s.String(), func(t *testing.T) { testExec(t, openDuckDB(t), s) })
	}
}

func TestExecPostgres(t *testing.T) {
	w := openPostgres(t)
	for i, s := range deltasql.Strategies() {
		t.Run(s.String(), func(t *testing.T) {
			// One database, one schema per strategy.
			testExec(t, w, s, fmt.Sprintf("src%d", i))
		})
	}
}

type diffRow struct {
	Kind  deltasql.Kind
	Key   string
	Email any
}

// testExec runs the statements in the order the runner does, against a real engine, and checks
// the results: bad keys skipped, diff kinds, partial acknowledgement, fold, snapshot evolution.
func testExec(t *testing.T, w warehouse.Warehouse, strategy deltasql.Strategy, schema ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := w.Dialect()
	db := w.DB()
	srcSchema := "src"
	if len(schema) > 0 {
		srcSchema = schema[0]
	}
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
	exists := func(table string) bool {
		t.Helper()
		ok, err := w.RelationExists(ctx, warehouse.SchemaDeltaStorage, table)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for _, s := range []string{srcSchema, warehouse.SchemaSegments, warehouse.SchemaDeltaStorage} {
		exec(d.CreateSchema(s))
	}
	src := d.Qualified(srcSchema, "people")
	exec("CREATE TABLE " + src + " (id INTEGER, email VARCHAR(100), score INTEGER)")
	exec("INSERT INTO " + src + " VALUES (1, 'a@x', 10), (2, 'b@x', 20), (3, 'c@x', 30), (4, 'd@x', 40)," +
		" (NULL, 'null@x', 0), (5, 'dup1@x', 1), (5, 'dup2@x', 2)")
	view := "model_people_" + srcSchema
	exec(d.CreateOrReplaceView(warehouse.SchemaSegments, view, "SELECT * FROM "+src))

	b, err := deltasql.NewWithStrategy(d, "act-"+srcSchema, strategy)
	if err != nil {
		t.Fatal(err)
	}
	if b.Strategy() != strategy {
		t.Fatalf("Strategy() = %v, want %v", b.Strategy(), strategy)
	}
	// probeSnapshot reads the snapshot's columns. Each probe has its own text: pgx caches
	// prepared statements per connection, and PostgreSQL refuses to reuse a cached SELECT *
	// whose columns changed ("cached plan must not change result type").
	probes := 0
	probeSnapshot := func() []warehouse.Column {
		t.Helper()
		probes++
		cols, err := w.QueryColumns(ctx, b.ProbeSnapshot()+fmt.Sprintf(" AND %d = %d", probes, probes))
		if err != nil {
			t.Fatal(err)
		}
		return cols
	}
	fields := []deltasql.Field{{Column: "email", Name: "Email"}}
	names := deltasql.FieldNames(fields)

	// evaluate runs the evaluation like the runner: stage, key check, snapshot creation or
	// evolution, run table. It returns the key stats and the rows kept.
	evaluate := func(fields []deltasql.Field, full bool) (stats [3]int64, kept int64) {
		t.Helper()
		ev, err := b.Evaluate(deltasql.Source{Schema: warehouse.SchemaSegments, View: view, PrimaryKey: "id", Fields: fields}, full)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range ev.Stage() {
			exec(q)
		}
		if err := db.QueryRowContext(ctx, ev.KeyStats()).Scan(&stats[0], &stats[1], &stats[2]); err != nil {
			t.Fatalf("%v\n%s", err, ev.KeyStats())
		}
		skip := stats[2] != stats[0]
		kept = stats[0]
		if skip {
			for _, q := range ev.SkipBadKeys() {
				exec(q)
			}
			kept = count(ev.CountKept())
		}
		cols, err := w.QueryColumns(ctx, ev.Probe())
		if err != nil {
			t.Fatal(err)
		}
		if !exists(b.Tables().Snapshot) {
			exec(ev.CreateSnapshot())
			if q, ok := b.IndexSnapshot(); ok {
				exec(q)
			}
		} else {
			snapCols := probeSnapshot()
			have := map[string]bool{}
			for _, c := range snapCols {
				have[c.Name] = true
			}
			for _, c := range cols {
				if !have[c.Name] {
					q, err := b.AddSnapshotColumn(c.Name, c.DatabaseType)
					if err != nil {
						t.Fatal(err)
					}
					exec(q)
				}
			}
		}
		for _, q := range ev.CreateRun(skip) {
			exec(q)
		}
		if exists(b.Tables().Stage) {
			t.Fatal("the stage table outlived CreateRun")
		}
		return stats, kept
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
	counts := func() [4]int64 {
		t.Helper()
		var c [4]int64
		if err := db.QueryRowContext(ctx, b.DiffCounts()).Scan(&c[0], &c[1], &c[2], &c[3]); err != nil {
			t.Fatal(err)
		}
		return c
	}
	ack := func(keys ...string) {
		t.Helper()
		exec(b.CreateAck())
		q, args := b.InsertAcks(keys)
		exec(q, args...)
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
		for _, tbl := range []string{b.Tables().Run, b.Tables().Ack} {
			if exists(tbl) {
				t.Fatalf("%s still exists after fold", tbl)
			}
		}
	}
	snapshot := func() map[string]string {
		t.Helper()
		rows, err := db.QueryContext(ctx, "SELECT "+d.QuoteIdent(deltasql.KeyColumn)+", "+d.QuoteIdent("Email")+ //nolint:gosec // G202: identifiers quoted by the dialect
			" FROM "+d.Qualified(warehouse.SchemaDeltaStorage, b.Tables().Snapshot))
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]string{}
		for rows.Next() {
			var k, e string
			if err := rows.Scan(&k, &e); err != nil {
				t.Fatal(err)
			}
			out[k] = e
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}

	// Run 1: 7 rows, one NULL key and a duplicated key 5 (both rows skipped).
	stats, kept := evaluate(fields, true)
	if stats != [3]int64{7, 6, 5} || kept != 4 {
		t.Fatalf("KeyStats = %v, kept %d; want [7 6 5], 4", stats, kept)
	}
	if c := counts(); c != [4]int64{4, 0, 0, 0} {
		t.Fatalf("DiffCounts = %v, want [4 0 0 0]", c)
	}
	want := []diffRow{{deltasql.Added, "1", "a@x"}, {deltasql.Added, "2", "b@x"}, {deltasql.Added, "3", "c@x"}, {deltasql.Added, "4", "d@x"}}
	if got := diff(names, true); !reflect.DeepEqual(got, want) {
		t.Fatalf("diff 1 = %v, want %v", got, want)
	}
	// Only keys 1, 2, 3 are acknowledged: 4 stays out of the snapshot.
	ack("1", "2", "3")
	fold(names)
	if got := snapshot(); !reflect.DeepEqual(got, map[string]string{"1": "a@x", "2": "b@x", "3": "c@x"}) {
		t.Fatalf("snapshot after run 1 = %v", got)
	}

	// Run 2: key 2 changes, key 3 leaves, key 6 enters; key 4 is still new (never acked).
	exec("UPDATE " + src + " SET email = 'b2@x' WHERE id = 2")
	exec("DELETE FROM " + src + " WHERE id = 3")
	exec("INSERT INTO " + src + " VALUES (6, 'f@x', 60)")
	// A full evaluation first: every key with its kind.
	evaluate(fields, true)
	kinds := map[string]deltasql.Kind{}
	for _, r := range diff(names, true) {
		kinds[r.Key] = r.Kind
	}
	if !reflect.DeepEqual(kinds, map[string]deltasql.Kind{"1": deltasql.Unchanged, "2": deltasql.Changed, "3": deltasql.Removed, "4": deltasql.Added, "6": deltasql.Added}) {
		t.Fatalf("full diff kinds = %v", kinds)
	}
	if c := counts(); c != [4]int64{2, 1, 1, 1} {
		t.Fatalf("full DiffCounts = %v, want [2 1 1 1]", c)
	}
	exec(b.DropRun())
	evaluate(fields, false)
	want = []diffRow{{deltasql.Changed, "2", "b2@x"}, {deltasql.Removed, "3", "c@x"}, {deltasql.Added, "4", "d@x"}, {deltasql.Added, "6", "f@x"}}
	if got := diff(names, false); !reflect.DeepEqual(got, want) {
		t.Fatalf("diff 2 = %v, want %v", got, want)
	}
	if c := counts(); c != [4]int64{2, 1, 1, 0} {
		t.Fatalf("DiffCounts = %v, want [2 1 1 0]", c)
	}
	// Everything but the new key 6 is acknowledged.
	ack("2", "3", "4")
	fold(names)
	if got := snapshot(); !reflect.DeepEqual(got, map[string]string{"1": "a@x", "2": "b2@x", "4": "d@x"}) {
		t.Fatalf("snapshot after run 2 = %v", got)
	}

	// Run 3: the mapping gains a field; the snapshot evolves additively and every row changes.
	fields2 := append(fields, deltasql.Field{Column: "score", Name: "score"})
	names2 := deltasql.FieldNames(fields2)
	evaluate(fields2, false)
	snapCols := probeSnapshot()
	if len(snapCols) != 4 || snapCols[3].Name != "score" {
		t.Fatalf("snapshot columns after evolution: %v", snapCols)
	}
	got := diff(names2, false)
	var keys []string
	for _, r := range got {
		if expected := r.Kind == deltasql.Changed || (r.Key == "6" && r.Kind == deltasql.Added); !expected {
			t.Fatalf("after a new field every row is changed (6 added), got %v", got)
		}
		keys = append(keys, r.Key)
	}
	sort.Strings(keys)
	if !reflect.DeepEqual(keys, []string{"1", "2", "4", "6"}) {
		t.Fatalf("changed keys = %v", keys)
	}
	ack("1", "2", "4", "6")
	fold(names2)
	evaluate(fields2, false)
	if got := diff(names2, false); len(got) != 0 {
		t.Fatalf("diff after fold = %v, want none", got)
	}
	exec(b.DropRun())

	// Multi-row VALUES acknowledgement (the engines without arrays) works too.
	evaluate(fields2, true)
	exec(b.CreateAck())
	exec(b.InsertAck(2), "1", "2")
	if n := count(b.CountAck()); n != 2 {
		t.Fatalf("acknowledged %d keys, want 2", n)
	}
	exec(b.DropAck())
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
