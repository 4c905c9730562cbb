package deltasql_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/deltasql"
)

// TestPagedDiffAndChunkedFold checks, on DuckDB, the two steps that bound a run's memory there:
//
//   - ReadDiff reads the run table in pages of row ids and returns exactly the rows, in the
//     same key order, of the single Diff query (23K changed rows: three pages);
//   - a fold preceded by Prune in small chunks (the snapshot pruned 3,000 row ids at a time,
//     checkpointed in between) leaves the snapshot identical to the single-transaction fold's,
//     also when the pruning was interrupted after some chunks and the whole fold (Prune, then
//     Fold) repeated, as the recovery of a killed run does.
func TestPagedDiffAndChunkedFold(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w, exec := openDuckDBWith(ctx, t, "psrc")
	d, db := w.Dialect(), w.DB()
	src := d.Qualified("psrc", "people")
	exec("CREATE TABLE " + src + " AS SELECT CAST(i AS BIGINT) AS id, 'p' || i || '@x' AS email," +
		" CASE WHEN i % 11 = 0 THEN NULL ELSE CAST(i % 100 AS INTEGER) END AS score FROM range(1, 40001) t(i)")
	exec(d.CreateOrReplaceView(warehouse.SchemaSegments, "people_seg", "SELECT * FROM "+src))
	fields := []deltasql.Field{{Column: "email", Name: "Email"}, {Column: "score", Name: "score"}}
	names := deltasql.FieldNames(fields)
	source := deltasql.Source{Schema: warehouse.SchemaSegments, View: "people_seg", PrimaryKey: "id", Fields: fields}

	// Three activations of the same segment: folded in one transaction, folded after a
	// chunked prune, and folded after a prune interrupted half-way.
	builders := map[string]*deltasql.Builder{}
	for _, name := range []string{"single", "chunked", "interrupted"} {
		b, err := deltasql.New(d, "paging-"+name)
		if err != nil {
			t.Fatal(err)
		}
		builders[name] = b
	}
	createRun := func(b *deltasql.Builder, full bool) {
		t.Helper()
		ev, err := b.Evaluate(source, full)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := w.RelationExists(ctx, warehouse.SchemaDeltaStorage, b.Tables().Snapshot); err != nil {
			t.Fatal(err)
		} else if !ok {
			exec(ev.CreateSnapshot())
		}
		for _, q := range ev.CreateRun(false) {
			exec(q)
		}
		exec(b.CreateAck())
	}
	// ack acknowledges the run's keys (all, or all but one in five of those whose key ends in 3, which
	// keep their old snapshot state).
	ack := func(b *deltasql.Builder, all bool) {
		t.Helper()
		k := d.QuoteIdent(deltasql.KeyColumn)
		q := "INSERT INTO " + d.Qualified(b.Schema(), b.Tables().Ack) + " SELECT " + k + " FROM " + d.Qualified(b.Schema(), b.Tables().Run)
		if !all {
			q += " WHERE NOT (" + k + " LIKE '%3' AND hash(" + k + ") % 5 = 0)"
		}
		exec(q)
	}
	for _, b := range builders {
		createRun(b, true)
		ack(b, true)
		for _, q := range b.Fold(names) {
			exec(q)
		}
	}

	exec("DELETE FROM " + src + " WHERE id % 8 = 0")                                                             // 5,000 removed
	exec("UPDATE " + src + " SET email = 'new' || id WHERE id % 10 = 1 OR id % 10 = 3 OR id % 10 = 7")           // 12,000 changed
	exec("INSERT INTO " + src + " SELECT 100000 + i, 'late' || i, CAST(i % 7 AS INTEGER) FROM range(6000) t(i)") // 6,000 added

	// The paged read equals the single query, row for row and in order.
	b := builders["chunked"]
	createRun(b, false)
	single := readAll(ctx, t, db, b.Diff(names, false), names)
	if len(single) != 23000 {
		t.Fatalf("the diff has %d rows, want 23000", len(single))
	}
	var paged [][]any
	err := b.ReadDiff(ctx, db, names, false, func(types []*sql.ColumnType, vals []any) error {
		if len(types) != len(names)+2 {
			return fmt.Errorf("%d column types", len(types))
		}
		paged = append(paged, append([]any(nil), vals...))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(paged) <= deltasql.DiffPageRows*2 {
		t.Fatalf("paged read returned %d rows: the test needs more than two pages", len(paged))
	}
	if !reflect.DeepEqual(paged, single) {
		t.Fatalf("the paged diff (%d rows) differs from the single query's (%d rows)", len(paged), len(single))
	}
	// A callback error stops the read and comes back unchanged; a warehouse error is a ReadError.
	stop := errors.New("stop")
	calls := 0
	if err := b.ReadDiff(ctx, db, names, false, func([]*sql.ColumnType, []any) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("callback error: got %v after %d calls", err, calls)
	}
	var re *deltasql.ReadError
	if err := b.ReadDiff(ctx, db, append(names, "missing"), false, func([]*sql.ColumnType, []any) error { return nil }); !errors.As(err, &re) {
		t.Fatalf("missing column: got %v, want a *deltasql.ReadError", err)
	}
	if err := deltasql.ReadQuery(ctx, db, b.Diff(names, false), nil, names[:1], func([]*sql.ColumnType, []any) error { return nil }); !errors.Is(err, deltasql.ErrDiffShape) {
		t.Fatalf("a field too many in the query: got %v, want ErrDiffShape", err)
	}

	// The folds.
	for _, name := range []string{"single", "interrupted"} {
		createRun(builders[name], false)
	}
	for _, b := range builders {
		ack(b, false)
	}
	for _, q := range builders["single"].Fold(names) {
		exec(q)
	}
	res, err := b.Prune(ctx, db, 3000)
	if err != nil {
		t.Fatal(err)
	}
	if res.Chunks != 14 || res.CheckpointErr != nil {
		t.Fatalf("prune: %+v, want 14 chunks and every checkpoint done", res)
	}
	for _, q := range b.Fold(names) {
		exec(q)
	}
	// Interrupted after 5 of the chunks (a kill), then the recovery's whole fold.
	bi := builders["interrupted"]
	for lo := int64(0); lo < 15000; lo += 3000 {
		exec(bi.PruneChunk(lo, lo+3000))
	}
	if _, err := bi.Prune(ctx, db, 3000); err != nil {
		t.Fatal(err)
	}
	for _, q := range bi.Fold(names) {
		exec(q)
	}
	want := snapshotRows(ctx, t, w, builders["single"])
	if n := len(want); n < 40000 || n == 40000-5000+6000 { // some added keys are not acknowledged
		t.Fatalf("the single fold's snapshot has %d rows", n)
	}
	for _, name := range []string{"chunked", "interrupted"} {
		if got := snapshotRows(ctx, t, w, builders[name]); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: the snapshot after a chunked fold (%d rows) differs from the single fold's (%d rows)", name, len(got), len(want))
		}
	}
	// Unacknowledged keys kept their old state: the next diff sends them again.
	createRun(b, false)
	var counts [4]int64
	if err := db.QueryRowContext(ctx, b.DiffCounts()).Scan(&counts[0], &counts[1], &counts[2], &counts[3]); err != nil {
		t.Fatal(err)
	}
	if counts[0]+counts[1]+counts[2] == 0 {
		t.Fatal("the unacknowledged keys were folded as if acknowledged")
	}

	// A snapshot column named rowid (a field, mapped now or before) would hide the row id: no
	// pruning (the fold's DELETE does it all).
	exec("ALTER TABLE " + d.Qualified(b.Schema(), b.Tables().Snapshot) + " ADD COLUMN rowId VARCHAR")
	if res, err := b.Prune(ctx, db, 3000); err != nil || res.Chunks != 0 {
		t.Fatalf("prune of a snapshot with a rowid column: %+v, %v", res, err)
	}
	exec("ALTER TABLE " + d.Qualified(b.Schema(), b.Tables().Snapshot) + " DROP COLUMN rowId")
	// Below one chunk, Prune does nothing (the fold's DELETE does it all).
	if res, err := b.Prune(ctx, db, 1<<20); err != nil || res.Chunks != 0 {
		t.Fatalf("prune of a small snapshot: %+v, %v", res, err)
	}
}

// readAll returns every row of a diff query.
func readAll(ctx context.Context, t *testing.T, db *sql.DB, q string, names []string) [][]any {
	t.Helper()
	var out [][]any
	err := deltasql.ReadQuery(ctx, db, q, nil, names, func(_ []*sql.ColumnType, vals []any) error {
		out = append(out, append([]any(nil), vals...))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// snapshotRows returns the snapshot's rows in key order, each formatted with %q.
func snapshotRows(ctx context.Context, t *testing.T, w warehouse.Warehouse, b *deltasql.Builder) []string {
	t.Helper()
	d := w.Dialect()
	var out []string
	for _, vals := range tableRows(ctx, t, w, "SELECT * FROM "+d.Qualified(b.Schema(), b.Tables().Snapshot)+" ORDER BY "+d.QuoteIdent(deltasql.KeyColumn)) {
		out = append(out, fmt.Sprintf("%q", vals))
	}
	return out
}
