package deltasql_test

import (
	"fmt"
	"strings"
	"testing"

	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/deltasql"
	"dinmo/connectors/warehouse/duckdb"
	"dinmo/connectors/warehouse/internal/dialecttest"
	"dinmo/connectors/warehouse/postgres"
)

// render writes every statement of the builder for one activation, for every strategy,
// hostile names included, so the golden files pin the exact SQL text of each engine.
func render(t *testing.T, d warehouse.Dialect) string {
	t.Helper()
	b, err := deltasql.New(d, "0f3c-act")
	if err != nil {
		t.Fatal(err)
	}
	fields := []deltasql.Field{
		{Column: "email", Name: "Email"},
		{Column: `na"me`, Name: "first name"},
		{Column: "score", Name: "score"},
	}
	names := deltasql.FieldNames(fields)
	src := deltasql.Source{Schema: warehouse.SchemaSegments, View: "segment_vip", PrimaryKey: "customer_id", Fields: fields}
	var sb strings.Builder
	add := func(label, q string) {
		sb.WriteString("-- " + label + "\n" + q + ";\n\n")
	}
	addAll := func(label string, qs []string) {
		if len(qs) == 0 {
			add(label, "-- none")
		}
		for i, q := range qs {
			add(fmt.Sprintf("%s[%d]", label, i), q)
		}
	}
	add("Default strategy", "-- "+b.Strategy().String())
	for _, s := range deltasql.Strategies() {
		sb.WriteString("---- strategy " + s.String() + "\n\n")
		sb2, err := deltasql.NewWithStrategy(d, "0f3c-act", s)
		if err != nil {
			t.Fatal(err)
		}
		for _, full := range []bool{false, true} {
			ev, err := sb2.Evaluate(src, full)
			if err != nil {
				t.Fatal(err)
			}
			label := s.String()
			if full {
				label += " full"
				addAll(label+" CreateRun", ev.CreateRun(false))
				continue
			}
			addAll(label+" Stage", ev.Stage())
			add(label+" KeyStats", ev.KeyStats())
			addAll(label+" SkipBadKeys", ev.SkipBadKeys())
			add(label+" CountKept", ev.CountKept())
			add(label+" Probe", ev.Probe())
			add(label+" CreateSnapshot", ev.CreateSnapshot())
			addAll(label+" CreateRun", ev.CreateRun(false))
			addAll(label+" CreateRun (skip bad keys)", ev.CreateRun(true))
		}
	}
	keyOnly, err := b.Evaluate(deltasql.Source{Schema: warehouse.SchemaSegments, View: "segment_vip", PrimaryKey: "customer_id"}, false)
	if err != nil {
		t.Fatal(err)
	}
	sb.WriteString("---- shared\n\n")
	add("Probe (no mapped field)", keyOnly.Probe())
	add("CountRun", b.CountRun())
	add("CountAck", b.CountAck())
	add("ProbeRun", b.ProbeRun())
	add("ProbeSnapshot", b.ProbeSnapshot())
	add("CreateSnapshot", b.CreateSnapshot(names))
	if q, ok := b.IndexSnapshot(); ok {
		add("IndexSnapshot", q)
	} else {
		add("IndexSnapshot", "-- none")
	}
	addCol, err := b.AddSnapshotColumn("new field", "DECIMAL(18,3)")
	if err != nil {
		t.Fatal(err)
	}
	add("AddSnapshotColumn", addCol)
	add("DropSnapshotColumn", b.DropSnapshotColumn("score"))
	add("DiffCounts", b.DiffCounts())
	add("Diff (delta)", b.Diff(names, false))
	add("Diff (full)", b.Diff(names, true))
	add("CreateAck", b.CreateAck())
	add("InsertAck(3)", b.InsertAck(3))
	q, args := b.InsertAcks([]string{"1", "2"})
	add(fmt.Sprintf("InsertAcks (%d args)", len(args)), q)
	add("CreateRejected", b.CreateRejected())
	add("InsertRejected(2)", b.InsertRejected(2))
	add("RunBound", b.RunBound())
	add("DiffPage (delta)", b.DiffPage(names, false))
	add("SnapshotBound", b.SnapshotBound())
	add("PruneChunk(0, 1048576)", b.PruneChunk(0, 1<<20))
	for i, q := range b.Fold(names) {
		add("Fold["+string(rune('0'+i))+"]", q)
	}
	add("DropRun", b.DropRun())
	add("DropStage", b.DropStage())
	add("DropAck", b.DropAck())
	add("DropSnapshot", b.DropSnapshot())
	return sb.String()
}

func TestGoldenPostgres(t *testing.T) {
	dialecttest.Golden(t, "postgres", render(t, postgres.NewDialect()))
}

func TestGoldenDuckDB(t *testing.T) {
	dialecttest.Golden(t, "duckdb", render(t, duckdb.NewDialect()))
}

func TestTablesFor(t *testing.T) {
	got := deltasql.TablesFor("a1")
	want := deltasql.Tables{Run: "run_a1", Stage: "stage_a1", Snapshot: "snap_a1", Ack: "ack_a1", Rejected: "rejected_a1"}
	if got != want {
		t.Fatalf("TablesFor = %+v, want %+v", got, want)
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	if _, err := deltasql.New(nil, "a"); err == nil {
		t.Error("nil dialect accepted")
	}
	if _, err := deltasql.New(duckdb.NewDialect(), " "); err == nil {
		t.Error("empty activation id accepted")
	}
	if _, err := deltasql.NewWithStrategy(duckdb.NewDialect(), "a", deltasql.Strategy(99)); err == nil {
		t.Error("unknown strategy accepted")
	}
}

func TestStrategyNames(t *testing.T) {
	for _, s := range deltasql.Strategies() {
		got, err := deltasql.ParseStrategy(strings.ToUpper(s.String()))
		if err != nil || got != s {
			t.Errorf("ParseStrategy(%q) = %v, %v", s.String(), got, err)
		}
	}
	if _, err := deltasql.ParseStrategy("magic"); err == nil || !strings.Contains(err.Error(), "rewrite_join") {
		t.Errorf("ParseStrategy(magic) error = %v, want one listing the strategies", err)
	}
	for _, e := range []warehouse.Engine{warehouse.DuckDB, warehouse.Postgres, warehouse.Snowflake} {
		if s := deltasql.DefaultStrategy(e); s.String() == "" || strings.HasPrefix(s.String(), "Strategy(") {
			t.Errorf("DefaultStrategy(%s) = %v", e, s)
		}
	}
}

func TestIsFieldColumn(t *testing.T) {
	for name, want := range map[string]bool{"email": true, "_dinmo_kind": false, "_DINMO_key": false, "_dinmo": true} {
		if got := deltasql.IsFieldColumn(name); got != want {
			t.Errorf("IsFieldColumn(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestValidateFields(t *testing.T) {
	tests := []struct {
		name   string
		fields []deltasql.Field
		want   string // substring of the error; "" for none
	}{
		{"ok", []deltasql.Field{{Column: "a", Name: "x"}, {Column: "a", Name: "y"}}, ""},
		{"none", nil, ""},
		{"empty name", []deltasql.Field{{Column: "a"}}, "empty destination field name"},
		{"empty column", []deltasql.Field{{Name: "x"}}, "empty source column"},
		{"reserved", []deltasql.Field{{Column: "a", Name: "_DINMO_key"}}, "reserved"},
		{"twice", []deltasql.Field{{Column: "a", Name: "x"}, {Column: "b", Name: "x"}}, "mapped twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := deltasql.ValidateFields(tt.fields)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	b, _ := deltasql.New(duckdb.NewDialect(), "a")
	if _, err := b.Evaluate(deltasql.Source{Schema: "s", View: "v"}, false); err == nil {
		t.Error("Evaluate accepted an empty primary key")
	}
	if _, err := b.Evaluate(deltasql.Source{Schema: "s", PrimaryKey: "id"}, false); err == nil {
		t.Error("Evaluate accepted an empty view")
	}
	if _, err := b.Evaluate(deltasql.Source{Schema: "s", View: "v", PrimaryKey: "id", Fields: []deltasql.Field{{Column: "a", Name: "_dinmo_hash"}}}, false); err == nil {
		t.Error("Evaluate accepted a reserved field name")
	}
}

func TestAddSnapshotColumnRefusesUnsafeTypes(t *testing.T) {
	b, _ := deltasql.New(postgres.NewDialect(), "a")
	for _, typ := range []string{"", "16385", "int; DROP TABLE x", "text -- c", `"quoted"`} {
		if q, err := b.AddSnapshotColumn("f", typ); err == nil {
			t.Errorf("type %q accepted: %s", typ, q)
		}
	}
	for _, typ := range []string{"INT8", "TIMESTAMP WITH TIME ZONE", "DECIMAL(18,3)", "INTEGER[]", "_text"} {
		if _, err := b.AddSnapshotColumn("f", typ); err != nil {
			t.Errorf("type %q refused: %v", typ, err)
		}
	}
}

func TestInsertPlaceholdersNumbered(t *testing.T) {
	b, _ := deltasql.New(postgres.NewDialect(), "a")
	q := b.InsertRejected(2)
	if !strings.HasSuffix(q, "($1, $2, $3, $4, $5), ($6, $7, $8, $9, $10)") {
		t.Fatalf("InsertRejected(2) = %s", q)
	}
	if n := strings.Count(b.InsertAck(deltasql.AckChunk), "$"); n != deltasql.AckChunk {
		t.Fatalf("InsertAck(%d) has %d placeholders", deltasql.AckChunk, n)
	}
	if deltasql.RejectedChunk*deltasql.RejectedColumns > deltasql.MaxParams || deltasql.AckChunk > deltasql.MaxParams {
		t.Fatal("chunks exceed MaxParams")
	}
}
