package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"dinmo/catalog"
	"dinmo/connectors/warehouse"
	"dinmo/materialize"
	"dinmo/schedule"
	"dinmo/stats"
)

// statsFixture adds to the CLI fixture a model people (10 rows) with segments fr (5 rows),
// vip (4 rows, 2 of them in fr) and a model other with segment all_other.
func statsFixture(t *testing.T) *cliFixture {
	f := newCLIFixture(t, 3, 0)
	f.withWarehouse(func(w warehouse.Warehouse) {
		d := w.Dialect()
		f.exec(w, "CREATE TABLE src.people (id INTEGER, country VARCHAR, vip BOOLEAN)")
		f.exec(w, "INSERT INTO src.people VALUES (1, 'FR', TRUE), (2, 'FR', FALSE), (3, 'DE', TRUE), (4, NULL, TRUE), (5, 'FR', FALSE), "+
			"(6, 'ES', FALSE), (7, 'DE', FALSE), (8, 'FR', TRUE), (9, 'IT', FALSE), (10, 'FR', FALSE)")
		f.exec(w, d.CreateOrReplaceView(warehouse.SchemaSegments, "model_people", "SELECT * FROM src.people"))
		f.exec(w, d.CreateOrReplaceView(warehouse.SchemaSegments, "segment_fr", "SELECT * FROM dinmo_segments.model_people WHERE country = 'FR'"))
		f.exec(w, d.CreateOrReplaceView(warehouse.SchemaSegments, "segment_vip2", "SELECT * FROM dinmo_segments.model_people WHERE vip"))
	})
	ws, err := f.store.GetWorkspaceByName(f.ctx, "shop")
	must(t, err)
	src, err := f.store.GetSourceByName(f.ctx, ws.ID, "lake")
	must(t, err)
	m := &catalog.Model{WorkspaceID: ws.ID, SourceID: src.ID, Name: "people", Type: catalog.ModelUsers, Table: "src.people",
		PrimaryKey: "id", ViewName: "model_people", Columns: []catalog.Column{
			{Name: "id", Type: "INTEGER", Category: "integer"}, {Name: "country", Type: "VARCHAR", Category: "string"},
			{Name: "vip", Type: "BOOLEAN", Category: "boolean"}},
		Fields: []catalog.Field{{Column: "country", Categorical: true}, {Column: "vip", Categorical: true}, {Column: "id"}}}
	must(t, f.store.CreateModel(f.ctx, m))
	for _, name := range []string{"fr", "vip2"} {
		must(t, f.store.CreateSegment(f.ctx, &catalog.Segment{WorkspaceID: ws.ID, ModelID: m.ID, Name: name,
			ViewName: "segment_" + name, Conditions: json.RawMessage(`{"match":"all"}`)}))
	}
	return f
}

func TestCLIStats(t *testing.T) {
	f := statsFixture(t)

	code, out, errOut := f.cli("stats", "shop/fr")
	if code != 0 {
		t.Fatalf("stats: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "SEGMENT") || !strings.Contains(lines[1], "shop/fr") ||
		!strings.Contains(lines[1], " 5 ") || !strings.Contains(lines[1], " 10 ") || !strings.Contains(lines[1], "50.0%") {
		t.Errorf("stats table:\n%s", out)
	}
	code, out, errOut = f.cli("stats", "shop/fr", "--json")
	if code != 0 {
		t.Fatalf("stats --json: exit %d: %s", code, errOut)
	}
	var s struct {
		Segment    string  `json:"segment"`
		Size       int64   `json:"size"`
		ParentSize int64   `json:"parent_size"`
		Share      float64 `json:"share"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil || s.Segment != "shop/fr" || s.Size != 5 || s.ParentSize != 10 || s.Share != 0.5 {
		t.Errorf("stats --json: %v\n%s", err, out)
	}
	// Both runs were recorded in dinmo_stats.
	f.withWarehouse(func(w warehouse.Warehouse) {
		seg, err := f.store.GetSegmentByName(f.ctx, mustWS(t, f).ID, "fr")
		must(t, err)
		h, err := stats.History(f.ctx, w, seg.ID, 10)
		must(t, err)
		if len(h) != 2 || h[0].Size != 5 {
			t.Errorf("history: %+v", h)
		}
	})

	code, out, errOut = f.cli("breakdown", "shop/vip2", "--by", "country,vip")
	if code != 0 {
		t.Fatalf("breakdown: exit %d: %s", code, errOut)
	}
	want := []string{"FIELD VALUE COUNT PERCENT", "country DE 1 25.0%", "country FR 2 50.0%"}
	got := strings.Join(strings.Fields(strings.SplitN(out, "\n", 2)[0]), " ")
	if got != want[0] || !strings.Contains(squash(out), want[1]) || !strings.Contains(squash(out), "country (null) 1 25.0%") ||
		!strings.Contains(squash(out), "vip true 4 100.0%") {
		t.Errorf("breakdown table:\n%s", out)
	}
	code, out, _ = f.cli("breakdown", "shop/vip2", "--by", "country", "--json")
	var rows []struct {
		Field   string  `json:"field"`
		Value   *string `json:"value"`
		Count   int64   `json:"count"`
		Percent float64 `json:"percent"`
	}
	if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil || len(rows) != 3 || *rows[0].Value != "FR" || rows[0].Count != 2 || rows[2].Value != nil {
		t.Errorf("breakdown --json: %d %v\n%s", code, err, out)
	}

	code, out, errOut = f.cli("overlap", "shop/fr", "shop/vip2")
	if code != 0 {
		t.Fatalf("overlap: exit %d: %s", code, errOut)
	}
	if !strings.Contains(squash(out), "shop/fr shop/vip2 5 4 2 40.0% 50.0%") {
		t.Errorf("overlap table:\n%s", out)
	}
	code, out, _ = f.cli("overlap", "shop/fr", "shop/vip2", "--json")
	var o struct {
		Segments []struct {
			Segment string `json:"segment"`
			Size    int64  `json:"size"`
		} `json:"segments"`
		Pairs []struct {
			A, B   string
			Common int64 `json:"common"`
		} `json:"pairs"`
	}
	if err := json.Unmarshal([]byte(out), &o); code != 0 || err != nil || len(o.Segments) != 2 || len(o.Pairs) != 1 || o.Pairs[0].Common != 2 {
		t.Errorf("overlap --json: %d %v\n%s", code, err, out)
	}
}

// TestCLIWorkspaceStats checks stats of a whole workspace: every model's key check (recorded in
// the catalog and dinmo_stats) and every segment's size.
func TestCLIWorkspaceStats(t *testing.T) {
	f := statsFixture(t)
	f.withWarehouse(func(w warehouse.Warehouse) {
		f.exec(w, "INSERT INTO src.people VALUES (10, 'FR', FALSE)") // one repeated key in 11 rows
	})
	code, out, errOut := f.cli("stats", "shop", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res struct {
		Models []struct {
			Model   string `json:"model"`
			Rows    int64  `json:"rows"`
			Invalid int64  `json:"invalid_keys"`
		} `json:"models"`
		Segments []struct {
			Segment string `json:"segment"`
			Size    int64  `json:"size"`
		} `json:"segments"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := map[string]int64{}
	for _, m := range res.Models {
		got[m.Model] = m.Invalid
	}
	for _, s := range res.Segments {
		got[s.Segment] = s.Size
	}
	want := map[string]int64{"shop/customers": 0, "shop/people": 1, "shop/vip": 3, "shop/fr": 6, "shop/vip2": 4}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %d, want %d", k, got[k], v)
		}
	}
	m, err := f.store.GetModelByName(f.ctx, mustWS(t, f).ID, "people")
	must(t, err)
	if m.DuplicateKeyCheckedAt == nil || m.DuplicateKeyShare != 1.0/11 {
		t.Errorf("catalog: share %v checked at %v", m.DuplicateKeyShare, m.DuplicateKeyCheckedAt)
	}
	code, out, _ = f.cli("stats", "shop")
	if code != 0 || !strings.Contains(squash(out), "shop/people 11 1 9.1%") || !strings.Contains(squash(out), "shop/fr 6 11 54.5%") {
		t.Errorf("table:\n%s", out)
	}
}

func TestCLIStatsErrors(t *testing.T) {
	f := statsFixture(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"stats"}, 2, "one segment"},
		{[]string{"stats", "shop/nope"}, 1, "known segments in shop: fr, vip, vip2"},
		{[]string{"stats", "nope"}, 1, "workspace nope not found"},
		{[]string{"stats", "shop/a/b"}, 2, "<workspace>/<segment>"},
		{[]string{"breakdown", "shop/fr"}, 2, "--by"},
		{[]string{"breakdown", "shop/fr", "--by", "nope"}, 2, `field "nope" is not a column of model people`},
		{[]string{"overlap", "shop/fr"}, 2, "two or more"},
		{[]string{"overlap", "shop/fr", "shop/vip"}, 2, "different models"},
		{[]string{"breakdown", "shop/fr", "--by", "id"}, 2, `field "id" of model people is not categorical`},
	} {
		code, _, errOut := f.cli(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}

func squash(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return strings.Join(lines, "\n")
}

func mustWS(t *testing.T, f *cliFixture) *catalog.Workspace {
	ws, err := f.store.GetWorkspaceByName(f.ctx, "shop")
	must(t, err)
	return ws
}

// TestCLIRefreshAndTasks: refresh fills a table model's table now; tasks shows the history of
// refreshes and stats runs, as a table and as JSON; refreshing a live model or an unknown one
// is an error that says why.
func TestCLIRefreshAndTasks(t *testing.T) {
	f := statsFixture(t)
	f.withWarehouse(func(w warehouse.Warehouse) {
		if err := materialize.Build(f.ctx, w, "model_people", materialize.TableName("people"), "SELECT * FROM src.people"); err != nil {
			t.Fatal(err)
		}
		f.exec(w, "INSERT INTO src.people VALUES (11, 'FR', TRUE)")
	})
	m, err := f.store.GetModelByName(f.ctx, mustWS(t, f).ID, "people")
	must(t, err)
	m.Materialization = catalog.Materialization{Mode: catalog.MaterializeTable, Refresh: schedule.Schedule{Type: schedule.TypeManual}}
	must(t, f.store.UpdateModel(f.ctx, m))

	code, out, errOut := f.cli("stats", "shop/fr")
	if code != 0 || !strings.Contains(squash(out), "shop/fr people 5 10 50.0%") {
		t.Fatalf("stats before the refresh (the table is a snapshot): exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = f.cli("refresh", "shop/people")
	if code != 0 || !strings.Contains(out, "of shop/people: succeeded, 11 rows in the table") {
		t.Fatalf("refresh: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = f.cli("stats", "shop/fr")
	if code != 0 || !strings.Contains(squash(out), "shop/fr people 6 11 54.5%") {
		t.Fatalf("stats after the refresh:\n%s", out)
	}
	if code, _, errOut = f.cli("stats", "shop"); code != 0 {
		t.Fatalf("workspace stats: exit %d: %s", code, errOut)
	}
	code, out, errOut = f.cli("tasks", "shop")
	lines := strings.Split(strings.TrimSpace(squash(out)), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "STARTED (UTC) TASK OBJECT STATUS") ||
		!strings.Contains(lines[1], "source_stats lake succeeded manual") || !strings.Contains(lines[1], "2 models checked, 3 segments measured") ||
		!strings.Contains(lines[2], "model_refresh people succeeded manual") || !strings.Contains(lines[2], " 11 11 rows") {
		t.Fatalf("tasks: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = f.cli("tasks", "shop/people", "--json")
	var runs []struct {
		Task, Object, Status string
		Rows                 int64
	}
	if err := json.Unmarshal([]byte(out), &runs); code != 0 || err != nil || len(runs) != 1 || runs[0].Task != "model_refresh" ||
		runs[0].Object != "people" || runs[0].Status != "succeeded" || runs[0].Rows != 11 {
		t.Fatalf("tasks --json: exit %d %v\n%s", code, err, out)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"refresh"}, 2, "exactly one <workspace>/<model>"},
		{[]string{"refresh", "shop/nope"}, 1, "known models in shop: customers, people"},
		{[]string{"refresh", "shop/customers"}, 1, `model customers is live`},
		{[]string{"tasks", "shop/nope"}, 1, `no model or source "nope"`},
	} {
		code, _, errOut := f.cli(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}
