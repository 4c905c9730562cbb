package runner_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"dinmo/catalog"
	"dinmo/connectors"
	"dinmo/connectors/destination"
	"dinmo/connectors/destination/connectortest"
	"dinmo/connectors/destination/file"
	"dinmo/connectors/destination/webhook"
	"dinmo/connectors/registry"
	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/deltasql"
	"dinmo/runner"
)

func TestSyncLifecycleDuckDB(t *testing.T)   { testSyncLifecycle(t, onDuckDB) }
func TestSyncLifecyclePostgres(t *testing.T) { testSyncLifecycle(t, onPostgres) }

// testSyncLifecycle: a full first run, a delta run with exactly 3 inserts, 2 updates and 1
// delete, then a run with no change that makes no request.
func testSyncLifecycle(t *testing.T, e engine) {
	f := newFixture(t, fixtureOptions{engine: e, mode: destination.ModeMirror, batchSize: 10, rows: 20})
	r := f.newRunner()

	res := f.run(r, runner.RunOptions{})
	wantRun(t, res, catalog.RunSucceeded, map[string]int64{"evaluated": 20, "added": 20, "acked": 20, "sent": 20})
	if !res.Full || res.Run.RunType != string(destination.RunFull) {
		t.Errorf("first run: full=%v run type %q, want a full run", res.Full, res.Run.RunType)
	}
	var want []sentRecord
	for i := 1; i <= 20; i++ {
		want = append(want, sentRecord{Key: fmt.Sprint(i), Op: string(destination.OpUpsert)})
	}
	if got := f.sent(res.Run.ID); !reflect.DeepEqual(got, want) {
		t.Fatalf("first run sent %v, want %v", got, want)
	}
	if f.fake.MaxBatchSeen() != 10 || f.fake.Hits() != 2 || res.Run.Requests != 2 {
		t.Errorf("first run: %d requests (run says %d), largest batch %d; want 2 batches of 10", f.fake.Hits(), res.Run.Requests, f.fake.MaxBatchSeen())
	}
	f.checkState()
	rec, _ := f.fake.Record("3")
	if !reflect.DeepEqual(rec, map[string]any{"email": "c3@example.com", "name": "Customer 3", "score": float64(53)}) {
		t.Errorf("record 3 = %v", rec)
	}

	// 3 inserts, 2 updates, 1 delete.
	f.insert(21, 70)
	f.insert(22, 71)
	f.insert(23, 72)
	f.update(5, "new5@example.com")
	f.update(6, "new6@example.com")
	f.delete(7)
	res = f.run(r, runner.RunOptions{})
	wantRun(t, res, catalog.RunSucceeded, map[string]int64{"evaluated": 22, "added": 3, "changed": 2, "removed": 1, "acked": 6, "sent": 6})
	if res.Full || res.Run.RunType != string(destination.RunDelta) {
		t.Errorf("second run: full=%v run type %q, want a delta run", res.Full, res.Run.RunType)
	}
	want = []sentRecord{{"5", "update"}, {"6", "update"}, {"7", "delete"}, {"21", "insert"}, {"22", "insert"}, {"23", "insert"}}
	if got := f.sent(res.Run.ID); !reflect.DeepEqual(got, want) {
		t.Fatalf("delta run sent %v, want %v", got, want)
	}
	f.checkState()

	hits := f.fake.Hits()
	res = f.run(r, runner.RunOptions{})
	wantRun(t, res, catalog.RunSucceeded, map[string]int64{"evaluated": 22, "added": 0, "changed": 0, "removed": 0, "sent": 0})
	if f.fake.Hits() != hits || res.Run.Requests != 0 {
		t.Errorf("unchanged run made %d requests (run says %d), want 0", f.fake.Hits()-hits, res.Run.Requests)
	}

	// The run history and the work tables.
	runs, err := f.store.ListRuns(f.ctx, f.act.ID, 0)
	must(t, err)
	if len(runs) != 3 || runs[0].Status != catalog.RunSucceeded || runs[2].Added != 20 {
		t.Errorf("run history = %+v", runs)
	}
	tables := deltasql.TablesFor(f.act.ID)
	for _, tbl := range []string{tables.Run, tables.Ack} {
		if ok, err := f.wh.RelationExists(f.ctx, warehouse.SchemaDeltaStorage, tbl); err != nil || ok {
			t.Errorf("work table %s left behind (%v)", tbl, err)
		}
	}
}

// TestSyncModes checks the operations each sync mode sends, for a full first run and for a
// delta run with one insert, one update, one delete and one member leaving the segment.
func TestSyncModes(t *testing.T) {
	tests := []struct {
		mode      destination.SyncMode
		full      string // op of every present row on the first run
		delta     []sentRecord
		notSent   int64 // delta records the mode does not send
		wantState bool  // the fake's final state equals the segment
	}{
		{destination.ModeInsert, "insert", []sentRecord{{"11", "insert"}}, 3, false},
		{destination.ModeUpdate, "update", []sentRecord{{"2", "update"}, {"11", "update"}}, 2, false},
		{destination.ModeUpsert, "upsert", []sentRecord{{"2", "upsert"}, {"11", "upsert"}}, 2, false},
		{destination.ModeMirror, "upsert", []sentRecord{{"2", "update"}, {"3", "delete"}, {"4", "delete"}, {"11", "insert"}}, 0, true},
		{destination.ModeList, "add", []sentRecord{{"3", "remove"}, {"4", "remove"}, {"11", "add"}}, 1, true},
		{destination.ModeEvents, "event", []sentRecord{{"11", "event"}}, 3, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			f := newFixture(t, fixtureOptions{mode: tt.mode, rows: 10, batchSize: 4})
			r := f.newRunner()
			res := f.run(r, runner.RunOptions{})
			got := f.sent(res.Run.ID)
			if len(got) != 10 {
				t.Fatalf("full run sent %d records, want 10", len(got))
			}
			for _, s := range got {
				if s.Op != tt.full {
					t.Fatalf("full run sent %v, want every op %s", got, tt.full)
				}
			}
			f.insert(11, 90)
			f.update(2, "new2@example.com")
			f.delete(3)
			f.exec("UPDATE " + f.table() + " SET score = 10 WHERE id = 4") // leaves the segment
			res = f.run(r, runner.RunOptions{})
			wantRun(t, res, catalog.RunSucceeded, map[string]int64{"added": 1, "changed": 1, "removed": 2,
				"sent": int64(len(tt.delta)), "acked": int64(len(tt.delta)), "not_sent": tt.notSent})
			if got := f.sent(res.Run.ID); !reflect.DeepEqual(got, tt.delta) {
				t.Fatalf("delta run sent %v, want %v", got, tt.delta)
			}
			if tt.wantState && tt.mode == destination.ModeMirror {
				f.checkState()
			}
			// Records the mode did not send were acknowledged: nothing comes back.
			hits := f.fake.Hits()
			res = f.run(r, runner.RunOptions{})
			wantRun(t, res, catalog.RunSucceeded, map[string]int64{"added": 0, "changed": 0, "removed": 0, "sent": 0})
			if f.fake.Hits() != hits {
				t.Errorf("third run made %d requests, want 0", f.fake.Hits()-hits)
			}
			if tt.mode == destination.ModeEvents {
				if n := len(f.fake.Events()); n != 11 {
					t.Errorf("events = %d, want 11", n)
				}
			}
		})
	}
}

func TestOperationTable(t *testing.T) {
	kinds := []deltasql.Kind{deltasql.Added, deltasql.Changed, deltasql.Removed, deltasql.Unchanged}
	tests := []struct {
		mode  destination.SyncMode
		delta []string // ops for added, changed, removed, unchanged ("" = not sent)
		full  []string
	}{
		{destination.ModeInsert, []string{"insert", "", "", ""}, []string{"insert", "insert", "", "insert"}},
		{destination.ModeUpdate, []string{"update", "update", "", ""}, []string{"update", "update", "", "update"}},
		{destination.ModeUpsert, []string{"upsert", "upsert", "", ""}, []string{"upsert", "upsert", "", "upsert"}},
		{destination.ModeMirror, []string{"insert", "update", "delete", ""}, []string{"upsert", "upsert", "delete", "upsert"}},
		{destination.ModeList, []string{"add", "", "remove", ""}, []string{"add", "add", "remove", "add"}},
		{destination.ModeEvents, []string{"event", "", "", ""}, []string{"event", "event", "", "event"}},
		{"bogus", []string{"", "", "", ""}, []string{"", "", "", ""}},
	}
	for _, tt := range tests {
		for i, k := range kinds {
			for _, full := range []bool{false, true} {
				want := tt.delta[i]
				if full {
					want = tt.full[i]
				}
				op, ok := runner.Operation(tt.mode, k, full)
				if string(op) != want || ok != (want != "") {
					t.Errorf("Operation(%s, %s, full=%v) = %q, %v; want %q", tt.mode, k, full, op, ok, want)
				}
			}
		}
	}
}

// TestRejectedRetried: records the destination rejects stay out of the snapshot, are stored in
// the rejected table and sampled on the run, and only they are sent by the next run. Records
// answered retryable are sent again within the run (with backoff); one still retryable after
// the run's retries is left for the next run.
func TestRejectedRetried(t *testing.T) {
	f := newFixture(t, fixtureOptions{mode: destination.ModeUpsert, rows: 12, batchSize: 5})
	r := f.newRunner()
	// The first batch holds keys 1, 10, 11, 12 and 2 (keys are text, in order). Key 10 is
	// retryable once: the in-run retry delivers it.
	f.fake.FailNext(1, connectortest.Failure{Reject: map[string]string{"2": "invalid email"}, Retry: map[string]string{"10": "busy"}})
	res := f.run(r, runner.RunOptions{})
	wantRun(t, res, catalog.RunWarning, map[string]int64{"added": 12, "sent": 12, "acked": 11, "rejected": 1, "retryable": 0})
	if n := len(f.fake.Accepted()); n != 4 { // 3 batches and the retry of key 10
		t.Errorf("%d requests accepted, want 4", n)
	}
	if !reflect.DeepEqual(res.Run.SampleErrors, []catalog.SampleError{{Key: "2", Reason: "invalid email"}}) {
		t.Errorf("sample errors = %v", res.Run.SampleErrors)
	}
	if !contains(res.Run.Warnings, "1 records rejected") || !contains(res.Run.Warnings, res.RejectedTable) {
		t.Errorf("warnings = %v", res.Run.Warnings)
	}
	stored, err := f.store.GetRun(f.ctx, res.Run.ID)
	must(t, err)
	if stored.Status != catalog.RunWarning || stored.Rejected != 1 || len(stored.SampleErrors) != 1 {
		t.Errorf("stored run = %+v", stored)
	}
	var key, op, reason, runID string
	must(t, f.wh.DB().QueryRowContext(f.ctx, `SELECT "key", "op", "reason", "run_id" FROM `+
		f.wh.Dialect().Qualified(warehouse.SchemaDeltaStorage, deltasql.TablesFor(f.act.ID).Rejected)).Scan(&key, &op, &reason, &runID))
	if key != "2" || op != "upsert" || reason != "invalid email" || runID != res.Run.ID {
		t.Errorf("rejected row = %s %s %s %s", key, op, reason, runID)
	}

	// Key 2 is sent again; it stays retryable through the first send and the 3 retries: the
	// run leaves it for the next one.
	f.fake.FailNext(4, connectortest.Failure{Retry: map[string]string{"2": "busy"}})
	res = f.run(r, runner.RunOptions{})
	wantRun(t, res, catalog.RunWarning, map[string]int64{"added": 1, "sent": 1, "acked": 0, "retryable": 1})
	if !contains(res.Run.Warnings, "1 records were not applied") {
		t.Errorf("warnings = %v", res.Run.Warnings)
	}

	res = f.run(r, runner.RunOptions{})
	wantRun(t, res, catalog.RunSucceeded, map[string]int64{"added": 1, "sent": 1, "acked": 1})
	if got := f.sent(res.Run.ID); !reflect.DeepEqual(got, []sentRecord{{"2", "upsert"}}) {
		t.Fatalf("third run sent %v, want key 2", got)
	}
	f.checkState()
}

// TestTransientFailures: 429 and 5xx answers are retried by the shared transport, and a batch
// failing beyond the transport's retries is retried by the runner; everything arrives.
func TestTransientFailures(t *testing.T) {
	f := newFixture(t, fixtureOptions{rows: 30, batchSize: 10,
		destSettings: map[string]any{webhook.SettingMaxRetries: int64(1)}})
	r := f.newRunner()
	f.fake.FailNext(1, connectortest.Failure{Status: 429, RetryAfter: "0"})
	f.fake.FailNext(3, connectortest.Failure{Status: 503})
	res := f.run(r, runner.RunOptions{})
	wantRun(t, res, catalog.RunSucceeded, map[string]int64{"added": 30, "acked": 30})
	f.checkState()
	if res.Run.Requests < 7 {
		t.Errorf("requests = %d, want the 4 failures and 3 successes counted", res.Run.Requests)
	}
	if !strings.Contains(f.logs.String(), "batch failed; retrying") {
		t.Errorf("the runner did not retry the batch:\n%s", f.logs.String())
	}
}

// TestBatchFailureFailsRun: a batch still failing after the runner's retries fails the run with
// the error's category; batches acknowledged before stay committed, and the next run sends only
// the rest.
func TestBatchFailureFailsRun(t *testing.T) {
	f := newFixture(t, fixtureOptions{mode: destination.ModeUpsert, rows: 30, batchSize: 10,
		destSettings: map[string]any{webhook.SettingMaxRetries: int64(0)}})
	r := f.newRunner(func(o *runner.Options) { o.BatchRetries = 2 })
	res, err := r.Run(f.ctx, f.act.ID, runner.RunOptions{Progress: func(p runner.Progress) {
		if p.Phase == runner.PhaseSending && p.Acknowledged == 10 && p.Requests == 1 {
			// The second batch fails on its first attempt and both runner retries.
			f.fake.FailNext(3, connectortest.Failure{Status: 500})
		}
	}})
	if err == nil {
		t.Fatal("run succeeded, want a failure")
	}
	wantRun(t, res, catalog.RunFailed, map[string]int64{"added": 30, "acked": 10, "retryable": 20})
	if res.Run.ErrorCategory != string(connectors.CategoryConnection) {
		t.Errorf("category = %q, want connection (%s)", res.Run.ErrorCategory, res.Run.ErrorMessage)
	}
	if res.Run.Requests != 4 {
		t.Errorf("requests = %d, want 4 (1 + 3 attempts of the failing batch)", res.Run.Requests)
	}
	res = f.run(r, runner.RunOptions{})
	wantRun(t, res, catalog.RunSucceeded, map[string]int64{"added": 20, "sent": 20, "acked": 20})
	f.checkState()
}

// TestCredentialsFailure: a 401 fails the run at once with category credentials.
func TestCredentialsFailure(t *testing.T) {
	f := newFixture(t, fixtureOptions{rows: 5, webhook: connectortest.WebhookConfig{BearerToken: "right-token"},
		destCreds: map[string]string{webhook.CredentialBearerToken: "wrong-token"}})
	r := f.newRunner()
	res, err := r.Run(f.ctx, f.act.ID, runner.RunOptions{})
	if err == nil {
		t.Fatal("run succeeded with a wrong token")
	}
	wantRun(t, res, catalog.RunFailed, map[string]int64{"acked": 0})
	if res.Run.ErrorCategory != string(connectors.CategoryCredentials) {
		t.Errorf("category = %q, want credentials (%s)", res.Run.ErrorCategory, res.Run.ErrorMessage)
	}
	if f.fake.Hits() != 1 {
		t.Errorf("%d requests, want 1 (no retry of a credentials error)", f.fake.Hits())
	}
	if strings.Contains(res.Run.ErrorMessage, "wrong-token") || strings.Contains(f.logs.String(), "wrong-token") {
		t.Error("the token leaked into the error or the logs")
	}
}

// TestMappingChangeFullResync: a new mapped field (the provider then requests a full resync)
// evolves the snapshot and resends every member with the field; the request is cleared.
func TestMappingChangeFullResync(t *testing.T) {
	f := newFixture(t, fixtureOptions{mode: destination.ModeUpsert, rows: 8})
	r := f.newRunner()
	f.run(r, runner.RunOptions{})

	f.act.Mappings = append(f.act.Mappings, catalog.Mapping{Column: "id", Field: "external_id"})
	f.act.FullResyncRequested = true
	must(t, f.store.UpdateActivation(f.ctx, f.act))
	res := f.run(r, runner.RunOptions{})
	wantRun(t, res, catalog.RunSucceeded, map[string]int64{"changed": 8, "sent": 8, "acked": 8})
	if !res.Full {
		t.Error("the run after a mapping change was not full")
	}
	rec, _ := f.fake.Record("4")
	if rec["external_id"] != float64(4) {
		t.Errorf("record 4 = %v, want external_id 4", rec)
	}
	cols, err := f.wh.QueryColumns(f.ctx, "SELECT * FROM "+f.wh.Dialect().Qualified(warehouse.SchemaDeltaStorage, deltasql.TablesFor(f.act.ID).Snapshot))
	must(t, err)
	var names []string
	for _, c := range cols {
		names = append(names, c.Name)
	}
	if !reflect.DeepEqual(names, []string{"_dinmo_key", "_dinmo_hash", "email", "name", "score", "external_id"}) {
		t.Errorf("snapshot columns = %v", names)
	}
	act, err := f.store.GetActivation(f.ctx, f.act.ID)
	must(t, err)
	if act.FullResyncRequested {
		t.Error("FullResyncRequested still set after the full run")
	}
	f.update(3, "x3@example.com")
	res = f.run(r, runner.RunOptions{})
	if got := f.sent(res.Run.ID); !reflect.DeepEqual(got, []sentRecord{{"3", "upsert"}}) || res.Full {
		t.Errorf("run after the resync sent %v (full %v), want only key 3", got, res.Full)
	}

	// Dropping a field and retyping one: the snapshot keeps its columns, retyped ones re-added.
	f.act.Mappings = []catalog.Mapping{{Column: "email", Field: "email"}, {Column: "name", Field: "score"}}
	f.act.FullResyncRequested = true
	must(t, f.store.UpdateActivation(f.ctx, f.act))
	res = f.run(r, runner.RunOptions{})
	wantRun(t, res, catalog.RunSucceeded, map[string]int64{"changed": 8, "sent": 8})
	rec, _ = f.fake.Record("4")
	if rec["score"] != "Customer 4" {
		t.Errorf("record 4 = %v, want score remapped to the name", rec)
	}
}

// TestBadKeysSkipped: rows with a NULL or duplicated key are counted, warned about and never
// sent.
func TestBadKeysSkipped(t *testing.T) {
	f := newFixture(t, fixtureOptions{rows: 5})
	f.exec("INSERT INTO " + f.table() + " (id, email, name, score) VALUES (NULL, 'n@x', 'N', 60), (3, 'dup@x', 'D', 60)")
	r := f.newRunner()
	res := f.run(r, runner.RunOptions{})
	wantRun(t, res, catalog.RunWarning, map[string]int64{"evaluated": 7, "skipped": 3, "added": 4, "sent": 4})
	if !contains(res.Run.Warnings, "3 rows skipped: null or duplicate primary key") {
		t.Errorf("warnings = %v", res.Run.Warnings)
	}
	if got := keysOf(f.sent(res.Run.ID)); !reflect.DeepEqual(got, []string{"1", "2", "4", "5"}) {
		t.Errorf("sent keys %v, want 1 2 4 5", got)
	}
}

// TestFileDestination: a run to the file destination writes one JSON line per record.
func TestFileDestination(t *testing.T) {
	f := newFixture(t, fixtureOptions{mode: destination.ModeMirror, rows: 6})
	out := filepath.Join(f.dir, "out")
	fd := &catalog.Destination{WorkspaceID: f.ws.ID, Name: "files", Platform: file.Name,
		Settings: map[string]any{file.SettingDirectory: out, file.SettingFormat: file.FormatJSONL}}
	must(t, f.store.CreateDestination(f.ctx, fd))
	f.act.DestinationID, f.act.Service = fd.ID, file.ServiceRecords
	must(t, f.store.UpdateActivation(f.ctx, f.act))
	r := f.newRunner()
	first := f.run(r, runner.RunOptions{})
	f.delete(2)
	f.update(4, "new4@example.com")
	second := f.run(r, runner.RunOptions{})
	read := func(runID string) []sentRecord {
		t.Helper()
		matches, err := filepath.Glob(filepath.Join(out, "*"+runID+"*.jsonl"))
		must(t, err)
		if len(matches) != 1 {
			t.Fatalf("files of run %s: %v", runID, matches)
		}
		fh, err := os.Open(matches[0])
		must(t, err)
		defer fh.Close()
		var recs []sentRecord
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			var line struct {
				Op     string         `json:"op"`
				Key    string         `json:"key"`
				Fields map[string]any `json:"fields"`
			}
			must(t, json.Unmarshal(sc.Bytes(), &line))
			recs = append(recs, sentRecord{Key: line.Key, Op: line.Op})
			if line.Key == "4" && line.Op == "update" && line.Fields["email"] != "new4@example.com" {
				t.Errorf("line for key 4 = %s", sc.Text())
			}
		}
		must(t, sc.Err())
		return recs
	}
	if got := read(first.Run.ID); len(got) != 6 || got[0] != (sentRecord{"1", "upsert"}) {
		t.Errorf("first file = %v", got)
	}
	if got := read(second.Run.ID); !reflect.DeepEqual(got, []sentRecord{{"2", "delete"}, {"4", "update"}}) {
		t.Errorf("second file = %v", got)
	}
}

// TestStopBetweenBatches: cancelling the run stops it between batches; what was acknowledged
// is committed and the next run sends only the rest.
func TestStopBetweenBatches(t *testing.T) {
	f := newFixture(t, fixtureOptions{rows: 40, batchSize: 10})
	r := f.newRunner()
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	res, err := r.Run(ctx, f.act.ID, runner.RunOptions{Progress: func(p runner.Progress) {
		if p.Phase == runner.PhaseSending && p.Acknowledged == 20 {
			cancel()
		}
	}})
	if err == nil {
		t.Fatal("stopped run reported success")
	}
	wantRun(t, res, catalog.RunInterrupted, map[string]int64{"acked": 20, "retryable": 20})
	res = f.run(r, runner.RunOptions{})
	wantRun(t, res, catalog.RunSucceeded, map[string]int64{"added": 20, "sent": 20})
	f.checkState()
	if f.fake.Replays() != 0 || len(f.fake.Accepted()) != 4 {
		t.Errorf("%d requests accepted, %d replays: want 4 and 0 (nothing resent)", len(f.fake.Accepted()), f.fake.Replays())
	}
}

// panicPlatform is a destination whose Apply panics.
type panicPlatform struct{}

func (panicPlatform) Spec() destination.PlatformSpec {
	return destination.PlatformSpec{Platform: "panicky", Services: []destination.ServiceSpec{{
		Name: "records", RunTypes: []destination.RunType{destination.RunFull, destination.RunDelta},
		SyncModes: []destination.SyncMode{destination.ModeUpsert}, MaxBatchSize: 10, DefaultBatchSize: 10,
	}}}
}
func (panicPlatform) Check(context.Context, destination.OpenParams) error { return nil }
func (panicPlatform) Open(context.Context, destination.OpenParams) (destination.Destination, error) {
	return panicDestination{}, nil
}

type panicDestination struct{}

func (panicDestination) Apply(context.Context, destination.Batch) ([]destination.Outcome, error) {
	panic("boom")
}
func (panicDestination) Close(context.Context) error { return nil }

// TestPanicFailsRun: a panic inside a run fails that run, not the process, and frees the lease.
func TestPanicFailsRun(t *testing.T) {
	f := newFixture(t, fixtureOptions{mode: destination.ModeUpsert, rows: 3})
	reg, err := registryWith(panicPlatform{})
	must(t, err)
	f.reg = reg
	pd := &catalog.Destination{WorkspaceID: f.ws.ID, Name: "panicky", Platform: "panicky"}
	must(t, f.store.CreateDestination(f.ctx, pd))
	f.act.DestinationID = pd.ID
	must(t, f.store.UpdateActivation(f.ctx, f.act))
	r := f.newRunner()
	res, err := r.Run(f.ctx, f.act.ID, runner.RunOptions{})
	if err == nil || res == nil {
		t.Fatalf("run = %v, %v; want a failed run", res, err)
	}
	wantRun(t, res, catalog.RunFailed, nil)
	if res.Run.ErrorCategory != string(connectors.CategoryInternal) || !strings.Contains(res.Run.ErrorMessage, "boom") {
		t.Errorf("error = %s: %s", res.Run.ErrorCategory, res.Run.ErrorMessage)
	}
	if owner, _, err := f.store.LeaseHolder(f.ctx, f.act.ID); err != nil || owner != "" {
		t.Errorf("lease still held by %q (%v)", owner, err)
	}
}

// TestLeases: a lease held by a live runner makes the run fail with a BusyError naming it; a
// lease left by a dead process of this host is taken over.
func TestLeases(t *testing.T) {
	f := newFixture(t, fixtureOptions{rows: 3})
	host, _ := os.Hostname()
	other := "elsewhere:123:abcd"
	ok, err := f.store.AcquireLease(f.ctx, f.act.ID, other, time.Hour)
	must(t, err)
	if !ok {
		t.Fatal("could not take the lease")
	}
	r := f.newRunner()
	_, err = r.Run(f.ctx, f.act.ID, runner.RunOptions{})
	var busy *runner.BusyError
	if !errors.As(err, &busy) || busy.Holder != other || !strings.Contains(err.Error(), other) {
		t.Fatalf("err = %v, want a BusyError naming %s", err, other)
	}
	must(t, f.store.ReleaseLease(f.ctx, f.act.ID, other))

	dead := fmt.Sprintf("%s:%d:dead", host, deadPID(t))
	ok, err = f.store.AcquireLease(f.ctx, f.act.ID, dead, time.Hour)
	must(t, err)
	if !ok {
		t.Fatal("could not take the lease")
	}
	res := f.run(r, runner.RunOptions{})
	wantRun(t, res, catalog.RunSucceeded, map[string]int64{"added": 3})
	if !strings.Contains(f.logs.String(), "took over the lease") {
		t.Error("no log line about the takeover")
	}
}

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	must(t, err)
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	return p.Pid
}

// registryWith is the fixture's registry plus extra destination platforms.
func registryWith(extra ...destination.Platform) (*registry.Registry, error) {
	return registry.New(registry.Warehouses(), append([]destination.Platform{
		file.New(), webhook.New(webhook.WithBackoff(time.Millisecond, 5*time.Millisecond)),
	}, extra...))
}

// TestProgressStored: a running run's counts reach the catalog while it runs.
func TestProgressStored(t *testing.T) {
	f := newFixture(t, fixtureOptions{rows: 30, batchSize: 10})
	r := f.newRunner(func(o *runner.Options) { o.ProgressInterval = time.Nanosecond })
	var seen *catalog.Run
	f.run(r, runner.RunOptions{Progress: func(p runner.Progress) {
		if p.Phase == runner.PhaseSending && p.Acknowledged == 20 {
			run, err := f.store.GetRun(f.ctx, p.RunID)
			must(t, err)
			seen = run
		}
	}})
	if seen == nil || seen.Status != catalog.RunRunning || seen.Acknowledged != 10 || seen.RowsEvaluated != 30 || seen.Added != 30 {
		t.Fatalf("stored progress = %+v, want a running run with 10 acknowledged of 30", seen)
	}
}

// TestMissingView: a segment whose view is gone fails with category not_found and says what to
// do; no work table is left behind.
func TestMissingView(t *testing.T) {
	f := newFixture(t, fixtureOptions{rows: 3})
	f.exec(f.wh.Dialect().DropView(warehouse.SchemaSegments, viewSeg))
	r := f.newRunner()
	res, err := r.Run(f.ctx, f.act.ID, runner.RunOptions{})
	if err == nil {
		t.Fatal("run succeeded without its view")
	}
	wantRun(t, res, catalog.RunFailed, nil)
	if res.Run.ErrorCategory != string(connectors.CategoryNotFound) ||
		!strings.HasPrefix(res.Run.ErrorMessage, "view dinmo_segments.segment_vip of segment vip does not exist") ||
		!strings.Contains(res.Run.ErrorMessage, "terraform apply") {
		t.Errorf("error = %s: %s", res.Run.ErrorCategory, res.Run.ErrorMessage)
	}
	if ok, _ := f.wh.RelationExists(f.ctx, warehouse.SchemaDeltaStorage, deltasql.TablesFor(f.act.ID).Run); ok {
		t.Error("run table left behind")
	}
}
