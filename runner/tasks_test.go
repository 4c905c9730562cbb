package runner_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"dinmo/catalog"
	"dinmo/connectors/warehouse"
	"dinmo/materialize"
	"dinmo/runner"
	"dinmo/schedule"
	"dinmo/stats"
)

// materializeModel turns the fixture's model into a table model refreshed every hour, as the
// provider does at apply.
func (f *fixture) materializeModel(refresh schedule.Schedule) {
	f.t.Helper()
	q := materialize.Query(f.wh.Dialect(), "", f.model.Table)
	must(f.t, materialize.Build(f.ctx, f.wh, viewMdl, materialize.TableName(f.model.Name), q))
	f.model.Materialization = catalog.Materialization{Mode: catalog.MaterializeTable, Refresh: refresh}
	must(f.t, f.store.UpdateModel(f.ctx, f.model))
}

func (f *fixture) count(relation string) int64 {
	f.t.Helper()
	var n int64
	must(f.t, f.wh.DB().QueryRowContext(f.ctx, "SELECT COUNT(*) FROM "+relation).Scan(&n))
	return n
}

func taskRuns(t *testing.T, f *fixture, objectID string) []catalog.TaskRun {
	t.Helper()
	runs, err := f.store.ListTaskRuns(f.ctx, f.ws.ID, objectID, 100)
	must(t, err)
	return runs
}

// TestTaskSchedules: serve's task tick refreshes a table model and computes the source's stats
// when due, once per occurrence; the history records each run; a failed refresh leaves the
// table as it was; a model back to live loses its task.
func TestTaskSchedules(t *testing.T) {
	for _, eng := range []engine{onDuckDB, onPostgres} {
		t.Run(string(eng), func(t *testing.T) {
			f := newFixture(t, fixtureOptions{engine: eng, rows: 20, pgPassword: "trusted-locally"})
			f.exec(f.wh.Dialect().CreateSchema(warehouse.SchemaStats))
			f.materializeModel(schedule.Schedule{Type: schedule.TypeInterval, Every: "1h"})
			d := f.wh.Dialect()
			modelView := d.Qualified(warehouse.SchemaSegments, viewMdl)
			segView := d.Qualified(warehouse.SchemaSegments, viewSeg)
			if n := f.count(modelView); n != 20 {
				t.Fatalf("model view after build: %d rows, want 20", n)
			}
			f.insert(21, 99) // not visible until a refresh
			f.insert(22, 10)
			if n := f.count(segView); n != 20 {
				t.Fatalf("segment before the refresh: %d rows, want 20 (the table is a snapshot)", n)
			}

			clk := &clock{t: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
			r := f.newRunner(func(o *runner.Options) { o.Now = clk.now })
			// Both are due; the refresh runs first, the stats once it is done (next tick).
			started, err := r.TickTasks(f.ctx)
			must(t, err)
			r.WaitTasks()
			if started != 1 || len(taskRuns(t, f, f.src.ID)) != 0 {
				t.Fatalf("first tick started %d tasks, want 1 (the refresh, before the stats)\n%s", started, f.logs.String())
			}
			started, err = r.TickTasks(f.ctx)
			must(t, err)
			r.WaitTasks()
			if started != 1 {
				t.Fatalf("second tick started %d tasks, want 1 (the stats)\n%s", started, f.logs.String())
			}
			if n := f.count(modelView); n != 22 {
				t.Fatalf("model view after the refresh: %d rows, want 22", n)
			}
			if n := f.count(segView); n != 21 {
				t.Fatalf("segment after the refresh: %d rows, want 21", n)
			}
			runs := taskRuns(t, f, f.model.ID)
			if len(runs) != 1 || runs[0].Status != catalog.RunSucceeded || runs[0].Rows != 22 || runs[0].Trigger != runner.TriggerSchedule ||
				runs[0].Kind != catalog.TaskModelRefresh || runs[0].ObjectName != "customers" {
				t.Fatalf("refresh history = %+v", runs)
			}
			// The stats task runs daily (the source declares no schedule): next in a day.
			if st := taskOf(t, f, catalog.TaskSourceStats, f.src.ID); !st.NextRunAt.Equal(clk.now().Add(24 * time.Hour)) {
				t.Fatalf("stats task next run %v, want a day after %v", st.NextRunAt, clk.now())
			}
			// The stats task re-checked the key and measured the segment.
			srcRuns := taskRuns(t, f, f.src.ID)
			if len(srcRuns) != 1 || srcRuns[0].Status != catalog.RunSucceeded || srcRuns[0].Rows != 1 {
				t.Fatalf("stats history = %+v", srcRuns)
			}
			m, err := f.store.GetModel(f.ctx, f.model.ID)
			must(t, err)
			if m.DuplicateKeyCheckedAt == nil || m.DuplicateKeyShare != 0 {
				t.Fatalf("key check not recorded on the model: %+v %v", m.DuplicateKeyCheckedAt, m.DuplicateKeyShare)
			}
			hist, err := stats.History(f.ctx, f.wh, f.seg.ID, 10)
			must(t, err)
			if len(hist) != 1 || hist[0].Size != 21 || hist[0].ParentSize != 22 {
				t.Fatalf("segment size history = %+v", hist)
			}

			// Nothing is due at the same time, nor 59 minutes later.
			for _, step := range []time.Duration{0, 59 * time.Minute} {
				clk.set(clk.now().Add(step))
				started, err = r.TickTasks(f.ctx)
				must(t, err)
				r.WaitTasks()
				if started != 0 {
					t.Fatalf("tick %s later started %d tasks, want 0", step, started)
				}
			}
			// An hour after the first: the refresh only (stats are daily). Two runners tick at
			// once; the occurrence runs once.
			clk.set(clk.now().Add(time.Minute))
			f.insert(23, 77)
			r2 := f.newRunner(func(o *runner.Options) { o.Now = clk.now })
			var wg sync.WaitGroup
			var n1, n2 int
			wg.Add(2)
			go func() { defer wg.Done(); n1, _ = r.TickTasks(f.ctx) }()
			go func() { defer wg.Done(); n2, _ = r2.TickTasks(f.ctx) }()
			wg.Wait()
			r.WaitTasks()
			r2.WaitTasks()
			if n1+n2 != 1 {
				t.Fatalf("two runners started %d + %d refreshes of one due occurrence, want 1 in all", n1, n2)
			}
			if runs := taskRuns(t, f, f.model.ID); len(runs) != 2 || runs[0].Rows != 23 {
				t.Fatalf("refresh history after the second occurrence = %+v", runs)
			}

			// A manual refresh runs now and leaves the schedule alone.
			before := taskOf(t, f, catalog.TaskModelRefresh, f.model.ID)
			f.delete(23)
			res, err := r.RefreshModel(f.ctx, f.model.ID)
			must(t, err)
			if res.Run.Status != catalog.RunSucceeded || res.Run.Rows != 22 || res.Run.Trigger != runner.TriggerManual {
				t.Fatalf("manual refresh = %+v", res.Run)
			}
			if after := taskOf(t, f, catalog.TaskModelRefresh, f.model.ID); !after.NextRunAt.Equal(*before.NextRunAt) || after.LeaseOwner != "" {
				t.Fatalf("manual refresh changed the schedule or kept the lease: before %+v after %+v", before, after)
			}

			// A refresh that fails (a column the table has is gone from the source) keeps the rows,
			// and alerts the workspace.
			slack := newSlackFake(t)
			f.enableSlack(slack)
			f.exec("ALTER TABLE " + f.table() + " DROP COLUMN name")
			f.insert2(24)
			res, err = r.RefreshModel(f.ctx, f.model.ID)
			if err == nil || res == nil || res.Run.Status != catalog.RunFailed || !strings.Contains(strings.ToLower(res.Run.Message), "name") {
				t.Fatalf("refresh without a column: err %v, run %+v", err, res)
			}
			if n := f.count(modelView); n != 22 {
				t.Fatalf("model view after a failed refresh: %d rows, want the 22 of the last good refresh", n)
			}
			r.WaitAlerts()
			wantAlerts(t, slack.take(), "shop/refresh of model customers failed")

			// A model back to live has no refresh task any more.
			f.model.Materialization = catalog.Materialization{Mode: catalog.MaterializeLive}
			must(t, f.store.UpdateModel(f.ctx, f.model))
			_, err = r.TickTasks(f.ctx)
			must(t, err)
			r.WaitTasks()
			tasks, err := f.store.ListTasks(f.ctx)
			must(t, err)
			if len(tasks) != 1 || tasks[0].Kind != catalog.TaskSourceStats {
				t.Fatalf("tasks after the model went live = %+v", tasks)
			}
			if _, err := r.RefreshModel(f.ctx, f.model.ID); err == nil || !strings.Contains(err.Error(), "live") {
				t.Fatalf("refreshing a live model: %v", err)
			}
		})
	}
}

// insert2 adds customer i after the name column was dropped.
func (f *fixture) insert2(i int) {
	f.t.Helper()
	d := f.wh.Dialect()
	f.exec("INSERT INTO "+f.table()+" (id, email, score) VALUES ("+d.Placeholder(1)+", "+d.Placeholder(2)+", 60)", i, "x@example.com")
}

func taskOf(t *testing.T, f *fixture, kind, object string) catalog.Task {
	t.Helper()
	tasks, err := f.store.ListTasks(f.ctx)
	must(t, err)
	for _, x := range tasks {
		if x.Kind == kind && x.ObjectID == object {
			if x.NextRunAt == nil {
				t.Fatalf("task %s of %s has no next run", kind, object)
			}
			return x
		}
	}
	t.Fatalf("no task %s of %s in %+v", kind, object, tasks)
	return catalog.Task{}
}

// TestTaskTakeover: a runner that died holding a task's lease (its run still "running") is
// taken over once the lease expires: the occurrence it did not finish runs, and its run is
// marked interrupted.
func TestTaskTakeover(t *testing.T) {
	f := newFixture(t, fixtureOptions{rows: 5})
	f.exec(f.wh.Dialect().CreateSchema(warehouse.SchemaStats))
	f.materializeModel(schedule.Schedule{Type: schedule.TypeInterval, Every: "1h"})
	clk := &clock{t: time.Now().UTC()}
	r := f.newRunner(func(o *runner.Options) { o.Now = clk.now })
	// First ticks: both tasks run (the refresh, then the stats) and get their next due times.
	for range 2 {
		if _, err := r.TickTasks(f.ctx); err != nil {
			t.Fatal(err)
		}
		r.WaitTasks()
	}
	// A ghost runner claims the refresh as due (its next time set in the past), starts a run, and dies.
	task := taskOf(t, f, catalog.TaskModelRefresh, f.model.ID)
	past := time.Now().Add(-time.Minute).UTC()
	task.NextRunAt = &past
	must(t, f.store.PutTask(f.ctx, &task))
	ok, err := f.store.AcquireTask(f.ctx, task.Kind, task.ObjectID, "ghost:1:dead", 50*time.Millisecond, &past)
	if err != nil || !ok {
		t.Fatalf("ghost claim: %v %v", ok, err)
	}
	ghostRun := &catalog.TaskRun{Kind: task.Kind, ObjectID: task.ObjectID, WorkspaceID: f.ws.ID, ObjectName: "customers", RunnerID: "ghost:1:dead"}
	must(t, f.store.CreateTaskRun(f.ctx, ghostRun))
	f.insert(6, 70)

	// While the ghost's lease is valid, nobody else runs it.
	n, err := r.TickTasks(f.ctx)
	r.WaitTasks()
	if err != nil || n != 0 {
		t.Fatalf("tick under the ghost's lease started %d tasks (%v)", n, err)
	}
	time.Sleep(100 * time.Millisecond)
	n, err = r.TickTasks(f.ctx)
	must(t, err)
	r.WaitTasks()
	if n != 1 {
		t.Fatalf("tick after the ghost's lease expired started %d tasks, want 1\n%s", n, f.logs.String())
	}
	runs := taskRuns(t, f, f.model.ID)
	if len(runs) != 3 || runs[0].Status != catalog.RunSucceeded || runs[0].Rows != 6 || runs[1].ID != ghostRun.ID || runs[1].Status != catalog.RunInterrupted {
		t.Fatalf("history after the takeover = %+v", runs)
	}
	if after := taskOf(t, f, catalog.TaskModelRefresh, f.model.ID); after.LeaseOwner != "" || !after.NextRunAt.After(clk.now()) {
		t.Fatalf("task after the takeover = %+v", after)
	}
}
