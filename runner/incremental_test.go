package runner_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"dinmo/catalog"
	"dinmo/connectors/destination"
	"dinmo/connectors/destination/webhook"
	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/deltasql"
	"dinmo/runner"
)

// eventsBase is the time of event minute 0.
var eventsBase = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// withEvents adds an events table and model to the fixture and makes its activation an
// incremental one of that model, with the given lookback.
func withEvents(t *testing.T, f *fixture, lookback time.Duration) {
	t.Helper()
	d := f.wh.Dialect()
	f.exec("CREATE TABLE " + d.Qualified("src", "events") + " (id INTEGER, ts TIMESTAMP, name VARCHAR(50))")
	f.exec(d.CreateOrReplaceView(warehouse.SchemaSegments, "model_events", "SELECT * FROM "+d.Qualified("src", "events")))
	m := &catalog.Model{WorkspaceID: f.ws.ID, SourceID: f.src.ID, Name: "events", Type: catalog.ModelEvents,
		Table: "src.events", PrimaryKey: "id", ViewName: "model_events", TimestampColumn: "ts",
		Columns: []catalog.Column{{Name: "id", Type: "INTEGER", Category: "integer"}, {Name: "ts", Type: "TIMESTAMP", Category: "timestamp"},
			{Name: "name", Type: "VARCHAR", Category: "string"}}}
	must(t, f.store.CreateModel(f.ctx, m))
	f.act = &catalog.Activation{WorkspaceID: f.ws.ID, Name: "events_to_hook", ModelID: m.ID, DestinationID: f.dest.ID,
		Service: webhook.ServiceRecords, RunType: string(destination.RunIncremental), SyncMode: string(destination.ModeEvents),
		Lookback: lookback, Mappings: []catalog.Mapping{{Column: "name", Field: "name"}}, Enabled: true}
	must(t, f.store.CreateActivation(f.ctx, f.act))
}

// insertEvent adds event id at base + minutes.
func insertEvent(f *fixture, id, minutes int) {
	f.t.Helper()
	f.exec(fmt.Sprintf("INSERT INTO %s VALUES (%d, TIMESTAMP '%s', 'e%d')", f.wh.Dialect().Qualified("src", "events"), id,
		eventsBase.Add(time.Duration(minutes)*time.Minute).Format("2006-01-02 15:04:05"), id))
}

// eventDeliveries counts the deliveries of each event key so far.
func eventDeliveries(f *fixture) map[string]int {
	out := map[string]int{}
	for _, e := range f.fake.Events() {
		out[e.Key]++
	}
	return out
}

// sentKeys returns the keys a run sent, in the order it sent them.
func sentInOrder(f *fixture, runID string) []string {
	var out []string
	for _, req := range f.fake.Accepted() {
		if req.Payload.RunID != runID {
			continue
		}
		for _, r := range req.Payload.Records {
			if r.Op != string(destination.OpEvent) {
				f.t.Errorf("run %s sent %s with op %s, want %s", runID, r.Key, r.Op, destination.OpEvent)
			}
			out = append(out, r.Key)
		}
	}
	return out
}

func TestIncrementalDuckDB(t *testing.T)   { testIncremental(t, onDuckDB) }
func TestIncrementalPostgres(t *testing.T) { testIncremental(t, onPostgres) }

// testIncremental runs an incremental activation through new events, late events within and
// outside the lookback, a run stopped between batches and a run killed after some batches
// (its tables left as a SIGKILL leaves them), and checks that every event within reach is
// delivered exactly once, except at most the batch in flight at the kill.
func testIncremental(t *testing.T, e engine) {
	f := newFixture(t, fixtureOptions{engine: e, rows: 1, batchSize: 10})
	withEvents(t, f, time.Hour)
	r := f.newRunner()

	for id := 1; id <= 25; id++ {
		insertEvent(f, id, id)
	}
	res := f.run(r, runner.RunOptions{})
	wantRun(t, res, catalog.RunSucceeded, map[string]int64{"evaluated": 25, "added": 25, "acked": 25, "sent": 25})
	if res.Run.RunType != string(destination.RunIncremental) || res.Full {
		t.Fatalf("first run: run type %s, full %v; want an incremental run", res.Run.RunType, res.Full)
	}
	if got := sentInOrder(f, res.Run.ID); len(got) != 25 || got[0] != "1" || got[24] != "25" {
		t.Fatalf("first run sent %v, want events 1..25 in time order", got)
	}
	res = f.run(r, runner.RunOptions{})
	wantRun(t, res, catalog.RunSucceeded, map[string]int64{"added": 0, "sent": 0})

	// A declaration change (the provider requests a full resync when mappings change) must
	// not resend the event history of an incremental activation; the request is cleared.
	if err := f.store.SetActivationSchedule(f.ctx, f.act.ID, nil, true); err != nil {
		t.Fatal(err)
	}
	res = f.run(r, runner.RunOptions{})
	wantRun(t, res, catalog.RunSucceeded, map[string]int64{"sent": 0})
	if res.Full {
		t.Fatal("a full resync request made an incremental activation resend its history")
	}
	if a, err := f.store.GetActivation(f.ctx, f.act.ID); err != nil || a.FullResyncRequested {
		t.Fatalf("full resync request not cleared: %+v, %v", a, err)
	}

	// Late events: 27 is within the lookback of the cursor (12:25 - 1h), 28 is not.
	insertEvent(f, 26, 40)
	insertEvent(f, 27, 10)
	insertEvent(f, 28, -120)
	res = f.run(r, runner.RunOptions{})
	if got := sentInOrder(f, res.Run.ID); fmt.Sprint(got) != "[27 26]" {
		t.Fatalf("late events: sent %v, want [27 26] (28 is older than the lookback)", got)
	}

	// A run stopped between batches: the next sends the rest, nothing twice.
	for id := 101; id <= 125; id++ {
		insertEvent(f, id, 100+id)
	}
	ctx, cancel := context.WithCancel(f.ctx)
	res, err := r.Run(ctx, f.act.ID, runner.RunOptions{Progress: func(p runner.Progress) {
		if p.Phase == runner.PhaseSending && p.Acknowledged == 10 {
			cancel()
		}
	}})
	cancel()
	if err == nil {
		t.Fatal("stopped run reported success")
	}
	wantRun(t, res, catalog.RunInterrupted, map[string]int64{"acked": 10})
	res = f.run(r, runner.RunOptions{})
	wantRun(t, res, catalog.RunSucceeded, map[string]int64{"added": 15, "sent": 15})

	// A killed run: it sent two batches, the checkpoint holds the first only (the second was
	// in flight), and the run and acknowledgement tables are left behind.
	for id := 201; id <= 230; id++ {
		insertEvent(f, id, 300+id)
	}
	killRunAfter(t, f, r, 10)
	res = f.run(r, runner.RunOptions{})
	if res.Recovered != 10 {
		t.Errorf("the run after the kill recovered %d acknowledged events, want 10", res.Recovered)
	}

	// Every event within reach delivered exactly once, but for the batch in flight at the kill.
	deliveries := eventDeliveries(f)
	twice := 0
	var missing []string
	want := []int{}
	for id := 1; id <= 27; id++ {
		want = append(want, id)
	}
	for id := 101; id <= 125; id++ {
		want = append(want, id)
	}
	for id := 201; id <= 230; id++ {
		want = append(want, id)
	}
	for _, id := range want {
		switch n := deliveries[fmt.Sprint(id)]; {
		case n == 0:
			missing = append(missing, fmt.Sprint(id))
		case n > 1:
			twice += n - 1
		}
	}
	if len(missing) > 0 {
		t.Fatalf("events never delivered: %v", missing)
	}
	if deliveries["28"] != 0 {
		t.Error("event 28, older than the lookback when it appeared, was delivered")
	}
	if twice > 10 {
		t.Errorf("%d events delivered twice, want at most the batch in flight (10)", twice)
	}
	if len(deliveries) != len(want) {
		keys := make([]string, 0, len(deliveries))
		for k := range deliveries {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		t.Errorf("delivered %d distinct events, want %d: %v", len(deliveries), len(want), keys)
	}
	if v := f.fake.Violations(); len(v) > 0 {
		t.Fatalf("webhook contract violations: %v", v)
	}

	// A forced full run sends every event again (28 included).
	res = f.run(r, runner.RunOptions{Full: true})
	wantRun(t, res, catalog.RunSucceeded, map[string]int64{"added": int64(len(want) + 1), "sent": int64(len(want) + 1)})
	res = f.run(r, runner.RunOptions{})
	wantRun(t, res, catalog.RunSucceeded, map[string]int64{"sent": 0})
}

// killRunAfter leaves the warehouse as a runner killed mid-run leaves it: it runs the
// activation with a destination that is slow on the second batch, and when the first batch
// is checkpointed and the second accepted by the fake, copies the run and acknowledgement
// tables aside, stops the run, and puts the copies back (undoing the fold the stop made).
func killRunAfter(t *testing.T, f *fixture, r *runner.Runner, acked int64) {
	t.Helper()
	b, err := deltasql.New(f.wh.Dialect(), f.act.ID)
	must(t, err)
	d := f.wh.Dialect()
	tb, inc := b.Tables(), b.IncrementalTables()
	copyTable := func(from, to string) {
		f.exec(d.DropTable(warehouse.SchemaDeltaStorage, to))
		f.exec(d.CreateTableAs(warehouse.SchemaDeltaStorage, to, "SELECT * FROM "+d.Qualified(warehouse.SchemaDeltaStorage, from)))
	}
	before := len(f.fake.Accepted())
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	saved := false
	_, _ = r.Run(ctx, f.act.ID, runner.RunOptions{Progress: func(p runner.Progress) {
		if saved || p.Phase != runner.PhaseSending || p.Acknowledged != acked {
			return
		}
		// The state at this instant is what a SIGKILL leaves: the first batch checkpointed.
		for _, name := range []string{tb.Run, tb.Ack, inc.Sent, inc.Cursor} {
			copyTable(name, "killed_"+name)
		}
		saved = true
		cancel()
	}})
	if !saved {
		t.Fatal("the run to kill never checkpointed its first batch")
	}
	// The stop committed the first batch; restore the tables as the kill left them. The
	// second batch, if the stop let it through, counts as the batch in flight.
	for _, name := range []string{tb.Run, tb.Ack, inc.Sent, inc.Cursor} {
		copyTable("killed_"+name, name)
		f.exec(d.DropTable(warehouse.SchemaDeltaStorage, "killed_"+name))
	}
	if n := len(f.fake.Accepted()) - before; n < 1 {
		t.Fatalf("the killed run sent %d requests, want at least 1", n)
	}
}
