package deltasql_test

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/deltasql"
	"dinmo/connectors/warehouse/duckdb"
	"dinmo/connectors/warehouse/internal/dialecttest"
	"dinmo/connectors/warehouse/postgres"
)

// renderIncremental writes every incremental statement (windowed and not, with and without a
// lookback), hostile names included, for the golden files.
func renderIncremental(t *testing.T, d warehouse.Dialect) string {
	t.Helper()
	b, err := deltasql.New(d, "0f3c-act")
	if err != nil {
		t.Fatal(err)
	}
	fields := []deltasql.Field{{Column: "event", Name: "Event"}, {Column: `pro"ps`, Name: "properties"}}
	var sb strings.Builder
	add := func(label, q string) { sb.WriteString("-- " + label + "\n" + q + ";\n\n") }
	for _, lookback := range []time.Duration{0, 90 * time.Minute} {
		for _, windowed := range []bool{true, false} {
			x, err := b.Incremental(deltasql.IncrementalSource{Schema: warehouse.SchemaSegments, View: "model_events",
				PrimaryKey: "event_id", Timestamp: "occurred at", Fields: fields, Lookback: lookback}, windowed)
			if err != nil {
				t.Fatal(err)
			}
			label := fmt.Sprintf("lookback %s windowed %t ", lookback, windowed)
			add(label+"KeyStats", x.KeyStats())
			add(label+"CountKept", x.CountKept())
			add(label+"Probe", x.Probe())
			add(label+"CreateRun", x.CreateRun(false))
			add(label+"CreateRun (skip bad keys)", x.CreateRun(true))
			if windowed {
				for i, q := range x.PruneSent() {
					add(fmt.Sprintf("%sPruneSent[%d]", label, i), q)
				}
			}
		}
	}
	x, err := b.Incremental(deltasql.IncrementalSource{Schema: warehouse.SchemaSegments, View: "model_events",
		PrimaryKey: "event_id", Timestamp: "occurred at", Fields: fields}, true)
	if err != nil {
		t.Fatal(err)
	}
	add("CreateSent", x.CreateSent())
	if q, ok := x.IndexSent(); ok {
		add("IndexSent", q)
	} else {
		add("IndexSent", "-- none")
	}
	add("CreateCursor", x.CreateCursor())
	add("CursorIsSet", x.CursorIsSet())
	add("IncrementalDiff", b.IncrementalDiff(deltasql.FieldNames(fields)))
	add("IncrementalDiffPage", b.IncrementalDiffPage(deltasql.FieldNames(fields)))
	for i, q := range b.IncrementalFold("run'1") {
		add(fmt.Sprintf("IncrementalFold[%d]", i), q)
	}
	for i, q := range b.IncrementalFold("") {
		add(fmt.Sprintf("IncrementalFold recovery[%d]", i), q)
	}
	return sb.String()
}

func TestIncrementalGoldenPostgres(t *testing.T) {
	dialecttest.Golden(t, "incremental_postgres", renderIncremental(t, postgres.NewDialect()))
}

func TestIncrementalGoldenDuckDB(t *testing.T) {
	dialecttest.Golden(t, "incremental_duckdb", renderIncremental(t, duckdb.NewDialect()))
}

func TestIncrementalTables(t *testing.T) {
	got := deltasql.IncrementalTablesFor("a1")
	if want := (deltasql.IncrementalTables{Sent: "sent_a1", Cursor: "cursor_a1"}); got != want {
		t.Fatalf("IncrementalTablesFor = %+v, want %+v", got, want)
	}
	b, _ := deltasql.New(duckdb.NewDialect(), "a1")
	if b.IncrementalTables() != got {
		t.Fatalf("Builder.IncrementalTables = %+v, want %+v", b.IncrementalTables(), got)
	}
}

func TestIncrementalRejectsBadInput(t *testing.T) {
	b, _ := deltasql.New(duckdb.NewDialect(), "a")
	ok := deltasql.IncrementalSource{Schema: "s", View: "v", PrimaryKey: "id", Timestamp: "ts"}
	tests := []struct {
		name string
		edit func(*deltasql.IncrementalSource)
		want string
	}{
		{"no view", func(s *deltasql.IncrementalSource) { s.View = "" }, "empty source view"},
		{"no key", func(s *deltasql.IncrementalSource) { s.PrimaryKey = "" }, "empty primary key"},
		{"no timestamp", func(s *deltasql.IncrementalSource) { s.Timestamp = "" }, "timestamp_column"},
		{"negative lookback", func(s *deltasql.IncrementalSource) { s.Lookback = -time.Second }, "whole seconds"},
		{"fractional lookback", func(s *deltasql.IncrementalSource) { s.Lookback = 1500 * time.Millisecond }, "whole seconds"},
		{"reserved field", func(s *deltasql.IncrementalSource) {
			s.Fields = []deltasql.Field{{Column: "a", Name: "_dinmo_ts"}}
		}, "reserved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := ok
			tt.edit(&src)
			if _, err := b.Incremental(src, true); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestIncrementalExecDuckDB(t *testing.T) { testIncrementalExec(t, openDuckDB(t), "evsrc") }

func TestIncrementalExecPostgres(t *testing.T) { testIncrementalExec(t, openPostgres(t), "evsrc") }

// testIncrementalExec runs incremental runs the way the runner does against a real engine and
// checks which events each run sends: every event once, late events within the lookback sent,
// older ones not, pending events holding the cursor back, rejected ones not, pruning, a
// recovered fold, a full run, and skipped NULL or duplicate keys.
func testIncrementalExec(t *testing.T, w warehouse.Warehouse, srcSchema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, db := w.Dialect(), w.DB()
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
	src := d.Qualified(srcSchema, "events")
	exec("CREATE TABLE " + src + " (id INTEGER, ts TIMESTAMP, name VARCHAR(50))")
	// at returns a timestamp literal minutes after 12:00.
	at := func(minutes int) string {
		return "TIMESTAMP '" + time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(minutes)*time.Minute).Format("2006-01-02 15:04:05") + "'"
	}
	insert := func(id, minutes int) {
		t.Helper()
		exec(fmt.Sprintf("INSERT INTO %s VALUES (%d, %s, 'e%d')", src, id, at(minutes), id))
	}
	view := "model_events_" + srcSchema
	exec(d.CreateOrReplaceView(warehouse.SchemaSegments, view, "SELECT * FROM "+src))
	b, err := deltasql.New(d, "inc-"+srcSchema)
	if err != nil {
		t.Fatal(err)
	}
	b.SetPageRows(2) // on DuckDB, the events of a run come in pages of 2, still in time order
	tables := b.IncrementalTables()
	fields := []deltasql.Field{{Column: "name", Name: "name"}}
	runs := 0

	// run performs one run: outcome decides each sent key's fate ("ack", "reject" or "" for
	// pending); it returns the keys sent, in order. It stops before the fold when kill is set.
	type outcome func(key string) string
	run := func(lookback time.Duration, full, kill bool, fate outcome) []string {
		t.Helper()
		runs++
		runID := fmt.Sprintf("run-%d", runs)
		x, err := b.Incremental(deltasql.IncrementalSource{Schema: warehouse.SchemaSegments, View: view,
			PrimaryKey: "id", Timestamp: "ts", Fields: fields, Lookback: lookback}, false)
		if err != nil {
			t.Fatal(err)
		}
		if !exists(tables.Sent) {
			exec(x.CreateSent())
			if q, ok := x.IndexSent(); ok {
				exec(q)
			}
		}
		if !exists(tables.Cursor) {
			exec(x.CreateCursor())
		}
		if exists(b.Tables().Run) && exists(b.Tables().Ack) {
			for _, q := range b.IncrementalFold("") { // recover an interrupted run
				exec(q)
			}
		}
		windowed := !full && count(x.CursorIsSet()) > 0
		x, err = b.Incremental(deltasql.IncrementalSource{Schema: warehouse.SchemaSegments, View: view,
			PrimaryKey: "id", Timestamp: "ts", Fields: fields, Lookback: lookback}, windowed)
		if err != nil {
			t.Fatal(err)
		}
		var total, keyed, distinct int64
		if err := db.QueryRowContext(ctx, x.KeyStats()).Scan(&total, &keyed, &distinct); err != nil {
			t.Fatal(err)
		}
		exec(b.DropRun())
		exec(x.CreateRun(distinct != total))
		exec(b.DropAck())
		exec(b.CreateAck())
		if !exists(b.Tables().Rejected) {
			exec(b.CreateRejected())
		}
		var sent, acked []string
		var rejected []string
		names := deltasql.FieldNames(fields)
		err = b.ReadIncrementalDiff(ctx, db, names, func(_ []*sql.ColumnType, vals []any) error {
			kind, key, name := fmt.Sprint(vals[0]), fmt.Sprint(vals[1]), fmt.Sprint(vals[2])
			if kind != string(deltasql.Added) || name != "e"+key {
				return fmt.Errorf("run %d: row %s %s %s", runs, kind, key, name)
			}
			sent = append(sent, key)
			switch fate(key) {
			case "ack":
				acked = append(acked, key)
			case "reject":
				rejected = append(rejected, key)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(acked) > 0 {
			q, args := b.InsertAcks(acked)
			exec(q, args...)
		}
		for _, k := range rejected {
			exec(b.InsertRejected(1), k, "event", "bad event", runID, time.Now().UTC())
		}
		if kill {
			return sent
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range b.IncrementalFold(runID) {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				_ = tx.Rollback()
				t.Fatalf("%v\n%s", err, q)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		for _, q := range x.PruneSent() {
			exec(q)
		}
		if exists(b.Tables().Run) || exists(b.Tables().Ack) {
			t.Fatalf("run %d: the fold left the run or ack table", runs)
		}
		return sent
	}
	ackAll := func(string) string { return "ack" }
	cursor := func() string {
		t.Helper()
		var v any
		if err := db.QueryRowContext(ctx, "SELECT "+d.CastText("MAX("+d.QuoteIdent(deltasql.IncrementalTimestampColumn)+")")+
			" FROM "+d.Qualified(warehouse.SchemaDeltaStorage, tables.Cursor)+" WHERE "+d.QuoteIdent(deltasql.KindColumn)+" = 'cursor'").Scan(&v); err != nil {
			t.Fatal(err)
		}
		s := fmt.Sprint(v)
		if b, ok := v.([]byte); ok {
			s = string(b)
		}
		return strings.TrimSuffix(s, "+00")
	}
	check := func(label string, got []string, want ...string) {
		t.Helper()
		if len(got) == 0 && len(want) == 0 {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: sent %v, want %v", label, got, want)
		}
	}
	const hour = time.Hour

	for id := 1; id <= 5; id++ {
		insert(id, id)
	}
	exec(fmt.Sprintf("INSERT INTO %s VALUES (NULL, %s, 'null'), (99, %s, 'e99'), (99, %s, 'e99')", src, at(2), at(3), at(4)))
	check("first run: every event, in time order, bad keys skipped", run(hour, false, false, ackAll), "1", "2", "3", "4", "5")
	if c := cursor(); !strings.HasPrefix(c, "2026-01-01 12:05:00") {
		t.Fatalf("cursor after the first run = %q, want 12:05", c)
	}
	check("nothing new", run(hour, false, false, ackAll))

	insert(6, 10)
	insert(7, 4)    // late, within the lookback of the cursor (12:05 - 1h)
	insert(8, -120) // late, outside the lookback: never sent
	check("late event within the lookback", run(hour, false, false, ackAll), "7", "6")

	insert(9, 20)
	insert(10, 30)
	check("9 pending, 10 acknowledged", run(hour, false, false, func(k string) string {
		if k == "9" {
			return ""
		}
		return "ack"
	}), "9", "10")
	if c := cursor(); !strings.HasPrefix(c, "2026-01-01 12:10:00") {
		t.Fatalf("cursor passed the pending event 9: %q, want 12:10", c)
	}
	// With no lookback the pending event is still inside the window: the cursor waited for it.
	check("the pending event again, not the acknowledged one", run(0, false, false, ackAll), "9")

	insert(11, 40)
	insert(12, 50)
	check("11 rejected, 12 acknowledged", run(0, false, false, func(k string) string {
		if k == "11" {
			return "reject"
		}
		return "ack"
	}), "11", "12")
	if c := cursor(); !strings.HasPrefix(c, "2026-01-01 12:50:00") {
		t.Fatalf("a rejected event held the cursor back: %q, want 12:50", c)
	}
	check("a rejected event outside a zero lookback is not retried", run(0, false, false, ackAll))
	// The zero-lookback runs pruned up to 12:50: raising the lookback does not reach below
	// that horizon, so neither the pruned events nor the rejected one are sent again.
	check("a raised lookback stops at the horizon", run(hour, false, false, ackAll))
	insert(17, 70)
	insert(18, 65)
	check("within the raised lookback, above the horizon", run(hour, false, false, ackAll), "18", "17")
	insert(19, 80)
	insert(20, 81)
	check("19 rejected, 20 acknowledged", run(hour, false, false, func(k string) string {
		if k == "19" {
			return "reject"
		}
		return "ack"
	}), "19", "20")
	check("a rejected event inside the lookback is retried", run(hour, false, false, ackAll), "19")

	// A killed run: its acknowledged events are folded by the next run, which sends only the
	// rest.
	insert(13, 60)
	insert(14, 61)
	insert(15, 62)
	check("killed after acknowledging 13 and 14", run(hour, false, true, func(k string) string {
		if k == "15" {
			return ""
		}
		return "ack"
	}), "13", "14", "15")
	check("the next run sends only the unacknowledged event", run(hour, false, false, ackAll), "15")

	// Pruning keeps only the events inside the lookback of the cursor.
	insert(16, 300)
	check("a later event", run(hour, false, false, ackAll), "16")
	if n := count("SELECT COUNT(*) FROM " + d.Qualified(warehouse.SchemaDeltaStorage, tables.Sent)); n != 1 {
		t.Fatalf("sent table holds %d events after pruning, want 1 (event 16)", n)
	}
	check("pruned events are not sent again", run(hour, false, false, ackAll))

	// A full run sends every event again (8 included) and keeps one sent row per key.
	got := run(hour, true, false, ackAll)
	if len(got) != 20 || got[0] != "8" {
		t.Fatalf("full run sent %v, want the 20 events from 8", got)
	}
	if n := count("SELECT COUNT(*) - COUNT(DISTINCT " + d.QuoteIdent(deltasql.KeyColumn) + ") FROM " +
		d.Qualified(warehouse.SchemaDeltaStorage, tables.Sent)); n != 0 {
		t.Fatalf("sent table holds %d duplicate keys after a full run", n)
	}
	check("after the full run", run(hour, false, false, ackAll))
}
