package deltasql_test

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/deltasql"
)

// TestNarrowDiffMatchesFullJoin checks, on DuckDB, that the delta run table built by the narrow
// join (keys and hashes joined first, fields read back) holds exactly the rows of the wide full
// outer join a full run uses, unchanged rows aside: same kinds, keys, hashes and field values,
// NULLs, removed keys' snapshot values, and skipped NULL or duplicated keys included.
func TestNarrowDiffMatchesFullJoin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w, exec := openDuckDBWith(ctx, t, "nsrc")
	d, db := w.Dialect(), w.DB()
	fields := []deltasql.Field{{Column: "email", Name: "Email"}, {Column: "score", Name: "score"}, {Column: "seen", Name: "last seen"}}
	names := deltasql.FieldNames(fields)

	for _, strategy := range []deltasql.Strategy{deltasql.StrategyChanges, deltasql.StrategyRewriteJoin} {
		t.Run(strategy.String(), func(t *testing.T) {
			src := d.Qualified("nsrc", "people_"+strategy.String())
			view := "people_seg_" + strategy.String()
			// 3000 people, 2770 in the segment; some emails and scores NULL.
			exec("CREATE TABLE " + src + " AS SELECT CAST(i AS BIGINT) AS id," +
				" CASE WHEN i % 7 = 0 THEN NULL ELSE 'p' || i || '@x' END AS email," +
				" CASE WHEN i % 11 = 0 THEN NULL ELSE CAST(i % 100 AS INTEGER) END AS score," +
				" TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_minutes(i) AS seen" +
				" FROM range(1, 3001) t(i)")
			exec(d.CreateOrReplaceView(warehouse.SchemaSegments, view, "SELECT * FROM "+src+" WHERE id % 13 <> 0"))
			source := deltasql.Source{Schema: warehouse.SchemaSegments, View: view, PrimaryKey: "id", Fields: fields}
			b, err := deltasql.NewWithStrategy(d, "narrow-"+strategy.String(), strategy)
			if err != nil {
				t.Fatal(err)
			}
			// createRun evaluates like the runner and returns the run table's rows.
			createRun := func(full bool) []runRow {
				t.Helper()
				ev, err := b.Evaluate(source, full)
				if err != nil {
					t.Fatal(err)
				}
				for _, q := range ev.Stage() {
					exec(q)
				}
				var total, keyed, distinct int64
				if err := db.QueryRowContext(ctx, ev.KeyStats()).Scan(&total, &keyed, &distinct); err != nil {
					t.Fatal(err)
				}
				skip := distinct != total
				if skip {
					for _, q := range ev.SkipBadKeys() {
						exec(q)
					}
				}
				if ok, err := w.RelationExists(ctx, warehouse.SchemaDeltaStorage, b.Tables().Snapshot); err != nil {
					t.Fatal(err)
				} else if !ok {
					exec(ev.CreateSnapshot())
				}
				for _, q := range ev.CreateRun(skip) {
					exec(q)
				}
				return runRows(t, w, b)
			}

			// Run 1: everything is added; commit it all.
			if rows := createRun(true); len(rows) != 2770 {
				t.Fatalf("first run: %d rows, want 2770", len(rows))
			}
			exec(b.CreateAck())
			exec("INSERT INTO " + d.Qualified(b.Schema(), b.Tables().Ack) + " SELECT " + d.QuoteIdent(deltasql.KeyColumn) +
				" FROM " + d.Qualified(b.Schema(), b.Tables().Run))
			for _, q := range b.Fold(names) {
				exec(q)
			}

			// The source changes: removed, changed (values, to and from NULL), added, NULL and
			// duplicated keys (an existing key duplicated is skipped, so it is removed).
			exec("DELETE FROM " + src + " WHERE id % 17 = 0")
			exec("UPDATE " + src + " SET email = 'new' || id || '@x' WHERE id % 19 = 0")
			exec("UPDATE " + src + " SET score = NULL WHERE id % 23 = 0")
			exec("UPDATE " + src + " SET email = 'back' || id WHERE id % 7 = 0 AND id % 3 = 0")
			exec("INSERT INTO " + src + " SELECT 3000 + i, 'late' || i, CAST(i AS INTEGER), TIMESTAMPTZ '2025-01-01 00:00:00+00' FROM range(1, 200) t(i)")
			exec("INSERT INTO " + src + " VALUES (NULL, 'nokey', 1, NULL), (5, 'dup', 2, NULL), (4001, 'd1', 1, NULL), (4001, 'd2', 2, NULL)")

			full := createRun(true)
			exec(b.DropRun())
			delta := createRun(false)
			exec(b.DropRun())
			var changes []runRow
			kinds := map[deltasql.Kind]int{}
			for _, r := range full {
				if r.kind != deltasql.Unchanged {
					changes = append(changes, r)
					kinds[r.kind]++
				}
			}
			if kinds[deltasql.Added] == 0 || kinds[deltasql.Changed] == 0 || kinds[deltasql.Removed] == 0 {
				t.Fatalf("the change left a trivial diff: %v", kinds)
			}
			if !reflect.DeepEqual(delta, changes) {
				for i := range min(len(delta), len(changes)) {
					if delta[i] != changes[i] {
						t.Errorf("first difference, row %d: narrow %s, full join %s", i, delta[i].text, changes[i].text)
						break
					}
				}
				t.Fatalf("the narrow delta run table (%d rows) differs from the full join's changes (%d rows, %v)", len(delta), len(changes), kinds)
			}
		})
	}
}

// runRow is one row of a run table: its kind and every column as text.
type runRow struct {
	kind deltasql.Kind
	text string
}

// runRows returns every row of the run table, sorted by their text.
func runRows(t *testing.T, w warehouse.Warehouse, b *deltasql.Builder) []runRow {
	t.Helper()
	cols, err := w.QueryColumns(context.Background(), b.ProbeRun())
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) < 3 || cols[0].Name != deltasql.KindColumn || cols[1].Name != deltasql.KeyColumn || cols[2].Name != deltasql.HashColumn {
		t.Fatalf("run table columns: %+v", cols)
	}
	var out []runRow
	for _, vals := range tableRows(context.Background(), t, w, "SELECT * FROM "+w.Dialect().Qualified(b.Schema(), b.Tables().Run)) {
		out = append(out, runRow{kind: deltasql.Kind(str(vals[0])), text: fmt.Sprintf("%q", vals)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].text < out[j].text })
	return out
}
