package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"dinmo/alert"
	"dinmo/catalog"
	"dinmo/connectors/warehouse"
	"dinmo/materialize"
	"dinmo/schedule"
	"dinmo/stats"
)

// This file holds the runner's scheduled work other than activation runs: refreshing the
// tables of models materialised as tables, and the per-source statistics (segment sizes and
// the daily re-check of primary keys). Each is a catalog task with its schedule, a lease
// (so with several runners each due occurrence runs once, and a dead runner's lease expires
// and is taken over) and a run history.

// taskKey identifies a task.
type taskKey struct{ kind, object string }

// wantedTask is a task the catalog's objects call for.
type wantedTask struct {
	key       taskKey
	workspace string
	sched     schedule.Schedule
}

// encodeSchedule is the stored form of a task's schedule, compared to notice a change.
func encodeSchedule(s schedule.Schedule) string {
	b, err := json.Marshal(s)
	if err != nil { // a struct of strings: cannot fail
		return ""
	}
	return string(b)
}

// wantedTasks lists the tasks the catalog calls for: a refresh per table model, stats per
// source.
func (r *Runner) wantedTasks(ctx context.Context) ([]wantedTask, error) {
	wss, err := r.store.ListWorkspaces(ctx)
	if err != nil {
		return nil, err
	}
	var out []wantedTask
	for _, ws := range wss {
		srcs, err := r.store.ListSources(ctx, ws.ID)
		if err != nil {
			return nil, err
		}
		for i := range srcs {
			out = append(out, wantedTask{taskKey{catalog.TaskSourceStats, srcs[i].ID}, ws.ID, srcs[i].EffectiveStatsSchedule()})
		}
		models, err := r.store.ListModels(ctx, ws.ID)
		if err != nil {
			return nil, err
		}
		for _, m := range models {
			if m.Materialization.IsTable() {
				out = append(out, wantedTask{taskKey{catalog.TaskModelRefresh, m.ID}, ws.ID, m.Materialization.Refresh})
			}
		}
	}
	return out, nil
}

// syncTasks brings the catalog's tasks in line with its objects: new tasks get their first due
// time, a changed schedule resets it, tasks of deleted objects (or models back to live) go.
// It returns the tasks by key, with their schedules.
func (r *Runner) syncTasks(ctx context.Context, now time.Time) (map[taskKey]scheduledTask, error) {
	wanted, err := r.wantedTasks(ctx)
	if err != nil {
		return nil, fmt.Errorf("list objects with tasks: %w", err)
	}
	existing, err := r.store.ListTasks(ctx)
	if err != nil {
		return nil, err
	}
	have := make(map[taskKey]catalog.Task, len(existing))
	for _, t := range existing {
		have[taskKey{t.Kind, t.ObjectID}] = t
	}
	out := make(map[taskKey]scheduledTask, len(wanted))
	for _, w := range wanted {
		enc := encodeSchedule(w.sched)
		t, ok := have[w.key]
		delete(have, w.key)
		if ok && t.Schedule == enc && t.WorkspaceID == w.workspace {
			out[w.key] = scheduledTask{t, w.sched}
			continue
		}
		t = catalog.Task{Kind: w.key.kind, ObjectID: w.key.object, WorkspaceID: w.workspace, Schedule: enc, LeaseOwner: t.LeaseOwner, LeaseUntil: t.LeaseUntil}
		if first, ok := w.sched.FirstDue(now); ok {
			t.NextRunAt = &first
		}
		if err := r.store.PutTask(ctx, &t); err != nil {
			return nil, err
		}
		out[w.key] = scheduledTask{t, w.sched}
	}
	for k := range have {
		if err := r.store.DeleteTask(ctx, k.kind, k.object); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// scheduledTask is a task as stored and the schedule its NextRunAt follows.
type scheduledTask struct {
	catalog.Task
	sched schedule.Schedule
}

// TaskResult is the outcome of one task run.
type TaskResult struct {
	Run *catalog.TaskRun
	// Stats is what a stats task measured (nil for a refresh).
	Stats *StatsReport
}

// taskRunner runs due tasks in the background, one at a time per task, at most a few at once.
type taskRunner struct {
	r   *Runner
	sem chan struct{}
	wg  sync.WaitGroup

	mu      sync.Mutex
	running map[taskKey]string // workspace id of each task running in this process
}

// DefaultTaskConcurrency is how many tasks one serving runner runs at once.
const DefaultTaskConcurrency = 2

func (r *Runner) newTaskRunner(concurrency int) *taskRunner {
	return &taskRunner{r: r, sem: make(chan struct{}, max(concurrency, 1)), running: map[taskKey]string{}}
}

// TickTasks syncs the tasks with the catalog, then starts each due one this runner can claim;
// they run in the background with ctx until WaitTasks. It returns how many it started.
func (r *Runner) TickTasks(ctx context.Context) (int, error) { return r.tasks.tick(ctx) }

// WaitTasks waits for the tasks TickTasks started.
func (r *Runner) WaitTasks() { r.tasks.wg.Wait() }

func (tr *taskRunner) tick(ctx context.Context) (int, error) {
	r := tr.r
	now := r.now()
	tasks, err := r.syncTasks(ctx, now)
	if err != nil {
		return 0, fmt.Errorf("sync tasks: %w", err)
	}
	// Table refreshes first, and a workspace's stats only once none of its refreshes runs
	// here: stats measured during a refresh would describe the tables about to be replaced.
	keys := make([]taskKey, 0, len(tasks))
	for k := range tasks {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if ri, rj := keys[i].kind == catalog.TaskModelRefresh, keys[j].kind == catalog.TaskModelRefresh; ri != rj {
			return ri
		}
		return keys[i].object < keys[j].object
	})
	started := 0
	for _, k := range keys {
		t := tasks[k]
		if t.NextRunAt == nil || t.NextRunAt.After(now) {
			continue
		}
		tr.mu.Lock()
		_, busy := tr.running[k]
		if k.kind == catalog.TaskSourceStats {
			for rk, ws := range tr.running {
				busy = busy || (rk.kind == catalog.TaskModelRefresh && ws == t.WorkspaceID)
			}
		}
		tr.mu.Unlock()
		if busy {
			continue
		}
		select {
		case tr.sem <- struct{}{}:
		default:
			return started, nil // every slot busy: the rest waits for a later tick
		}
		ok, err := r.store.AcquireTask(ctx, k.kind, k.object, r.id, r.leaseTTL, t.NextRunAt)
		if err != nil || !ok {
			<-tr.sem
			if err != nil && !errors.Is(err, catalog.ErrNotFound) {
				r.logger.Warn("claiming a due task failed", LogTask, k.kind, LogObjectID, k.object, LogError, err.Error())
			}
			continue
		}
		tr.mu.Lock()
		tr.running[k] = t.WorkspaceID
		tr.mu.Unlock()
		started++
		tr.wg.Add(1)
		go func() {
			defer tr.wg.Done()
			defer func() { <-tr.sem }()
			defer func() {
				tr.mu.Lock()
				delete(tr.running, k)
				tr.mu.Unlock()
			}()
			next, ok := t.sched.NextAfterMissed(*t.NextRunAt, r.now())
			var nextPtr *time.Time
			if ok {
				nextPtr = &next
			}
			if _, err := r.runTask(ctx, k, TriggerSchedule, t.NextRunAt, nextPtr); err != nil && ctx.Err() == nil {
				r.logger.Debug("scheduled task ended with an error", LogTask, k.kind, LogObjectID, k.object, LogError, err.Error())
			}
		}()
	}
	return started, nil
}

// RefreshModel refreshes the table of a model materialised as a table now (the CLI's
// `refresh`), under the task's lease; the scheduled next refresh is unchanged.
func (r *Runner) RefreshModel(ctx context.Context, modelID string) (*TaskResult, error) {
	m, err := r.store.GetModel(ctx, modelID)
	if err != nil {
		return nil, fmt.Errorf("refresh model: %w", err)
	}
	if !m.Materialization.IsTable() {
		return nil, fmt.Errorf("model %s is live (a view that is always current): only models with materialization mode \"table\" have a table to refresh", m.Name)
	}
	return r.runTaskNow(ctx, taskKey{catalog.TaskModelRefresh, m.ID})
}

// ComputeSourceStats re-checks the primary keys of a source's models and measures its segments
// now (the CLI's `stats`), under the task's lease; the scheduled next run is unchanged.
func (r *Runner) ComputeSourceStats(ctx context.Context, sourceID string) (*TaskResult, error) {
	return r.runTaskNow(ctx, taskKey{catalog.TaskSourceStats, sourceID})
}

// runTaskNow syncs the tasks (so the object's task exists), takes its lease and runs it.
func (r *Runner) runTaskNow(ctx context.Context, k taskKey) (*TaskResult, error) {
	tasks, err := r.syncTasks(ctx, r.now())
	if err != nil {
		return nil, fmt.Errorf("sync tasks: %w", err)
	}
	t, ok := tasks[k]
	if !ok {
		return nil, fmt.Errorf("%s of %s: %w", k.kind, k.object, catalog.ErrNotFound)
	}
	got, err := r.store.AcquireTask(ctx, k.kind, k.object, r.id, r.leaseTTL, nil)
	if err != nil {
		return nil, err
	}
	if !got {
		holder := t.LeaseOwner
		if all, err := r.store.ListTasks(ctx); err == nil {
			for _, x := range all {
				if x.Kind == k.kind && x.ObjectID == k.object {
					holder = x.LeaseOwner
				}
			}
		}
		return nil, fmt.Errorf("the %s task of %s is already running: runner %s holds its lease (renewed while it runs); try again when it ends", k.kind, k.object, holder)
	}
	return r.runTask(ctx, k, TriggerManual, t.NextRunAt, t.NextRunAt)
}

// runTask runs a task whose lease this runner holds, records the run, and releases the lease
// with next as the next due time, or with due (still due) when the run was interrupted, so
// the occurrence runs again rather than being skipped.
func (r *Runner) runTask(ctx context.Context, k taskKey, trigger string, due, next *time.Time) (*TaskResult, error) {
	logger := r.logger.With(LogTask, k.kind, LogObjectID, k.object, LogTrigger, trigger)
	bg := context.WithoutCancel(ctx)
	interrupted := false
	defer func() {
		release := next
		if interrupted {
			release = due
		}
		if err := r.store.ReleaseTask(bg, k.kind, k.object, r.id, release); err != nil {
			logger.Error("releasing the task lease failed; it expires by itself", LogError, err.Error())
		}
	}()
	// The heartbeat renews the lease; a lease lost (taken by another runner, or not renewed
	// before it expired) stops the task. Release stops the heartbeat before the deferred
	// ReleaseTask above runs.
	l := startLease(r.leaseTTL, logger,
		func(ctx context.Context) (bool, error) {
			return r.store.AcquireTask(ctx, k.kind, k.object, r.id, r.leaseTTL, nil)
		}, nil)
	defer l.release()
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopWatch := context.AfterFunc(l.lost, func() { cancel(context.Cause(l.lost)) })
	defer stopWatch()

	if n, err := r.store.MarkInterruptedTaskRuns(bg, k.kind, k.object); err != nil {
		return nil, fmt.Errorf("mark interrupted task runs: %w", err)
	} else if n > 0 {
		logger.Info("an earlier run of the task was interrupted", "interrupted", n)
	}
	run := &catalog.TaskRun{Kind: k.kind, ObjectID: k.object, RunnerID: r.id, Trigger: trigger}
	res := &TaskResult{Run: run}
	var work func(context.Context) (int64, string, error)
	switch k.kind {
	case catalog.TaskModelRefresh:
		m, err := r.store.GetModel(ctx, k.object)
		if err != nil {
			return nil, fmt.Errorf("refresh model %s: %w", k.object, err)
		}
		run.WorkspaceID, run.ObjectName = m.WorkspaceID, m.Name
		work = func(ctx context.Context) (int64, string, error) { return r.refresh(ctx, m) }
	case catalog.TaskSourceStats:
		src, err := r.store.GetSource(ctx, k.object)
		if err != nil {
			return nil, fmt.Errorf("stats of source %s: %w", k.object, err)
		}
		run.WorkspaceID, run.ObjectName = src.WorkspaceID, src.Name
		work = func(ctx context.Context) (int64, string, error) {
			rep, err := r.sourceStats(ctx, src)
			res.Stats = rep
			if rep == nil {
				return 0, "", err
			}
			return int64(len(rep.Segments)), rep.summary(), err
		}
	default:
		return nil, fmt.Errorf("unknown task kind %q", k.kind)
	}
	if err := r.store.CreateTaskRun(bg, run); err != nil {
		return nil, err
	}
	start := time.Now()
	logger = logger.With(LogObject, run.ObjectName)
	logger.Info("task started")
	rows, msg, err := work(runCtx)
	run.Rows, run.Message, run.Status = rows, msg, catalog.RunSucceeded
	switch {
	case err != nil && ctx.Err() != nil:
		interrupted = true
		run.Status, run.Message = catalog.RunInterrupted, "the runner was stopped: "+err.Error()
	case err != nil && errors.Is(context.Cause(runCtx), errLeaseLost):
		run.Status, run.Message = catalog.RunInterrupted, context.Cause(runCtx).Error()
	case err != nil:
		run.Status, run.Message = catalog.RunFailed, err.Error()
	}
	if ferr := r.store.FinishTaskRun(bg, run); ferr != nil {
		logger.Error("recording the task's end failed", LogError, ferr.Error())
	}
	wsName := run.WorkspaceID
	ws, wsErr := r.store.GetWorkspace(bg, run.WorkspaceID)
	if wsErr == nil {
		wsName = ws.Name
	}
	r.metrics.observeTask(wsName, run, time.Since(start))
	if wsErr == nil {
		r.notifyTask(ws, run, res.Stats)
	}
	if err != nil {
		logger.Error("task failed", LogStatus, run.Status, LogError, err.Error(), LogDuration, time.Since(start).String())
		return res, err
	}
	logger.Info("task finished", LogStatus, run.Status, LogRows, rows, LogDuration, time.Since(start).String())
	return res, nil
}

// notifyTask alerts on a finished task run like on an activation run: a failure, a warning (a
// model with too many duplicate keys), and a success that the de-duplication turns into a
// recovery after an alerted failure. An interrupted run (the runner stopped) alerts nothing.
func (r *Runner) notifyTask(ws *catalog.Workspace, run *catalog.TaskRun, rep *StatsReport) {
	subject := "refresh of model " + run.ObjectName
	if run.Kind == catalog.TaskSourceStats {
		subject = "stats of source " + run.ObjectName
	}
	ev := alert.Event{Workspace: ws.Name, Task: subject, RunID: run.ID, At: r.now(), Message: run.Message}
	switch {
	case run.Status == catalog.RunFailed:
		ev.Kind = alert.KindRunFailed
	case run.Status != catalog.RunSucceeded:
		return
	case rep != nil && len(rep.Warnings) > 0:
		ev.Kind, ev.Message = alert.KindRunWarning, strings.Join(rep.Warnings, "\n")
	default:
		ev.Kind = alert.KindRunSucceeded
	}
	r.notify(ws, ev)
}

// sourceConn returns the connector of a source's engine and its resolved configuration.
func (r *Runner) sourceConn(src *catalog.Source) (warehouse.Connector, warehouse.Config, error) {
	return SourceConnection(r.reg, r.sealer, src)
}

// openSource opens a source's warehouse.
func (r *Runner) openSource(ctx context.Context, src *catalog.Source) (warehouse.Warehouse, error) {
	return OpenSource(ctx, r.reg, r.sealer, src, r.logger)
}

// refresh replaces the rows of a model's table; it returns the row count.
func (r *Runner) refresh(ctx context.Context, m *catalog.Model) (int64, string, error) {
	src, err := r.store.GetSource(ctx, m.SourceID)
	if err != nil {
		return 0, "", fmt.Errorf("model %s: source: %w", m.Name, err)
	}
	wh, err := r.openSource(ctx, src)
	if err != nil {
		return 0, "", err
	}
	defer wh.Close()
	cols := make([]string, len(m.Columns))
	for i, c := range m.Columns {
		cols[i] = c.Name
	}
	query := materialize.Query(wh.Dialect(), m.SQL, m.Table)
	rows, err := materialize.Refresh(ctx, wh, materialize.TableName(m.Name), query, cols)
	if err != nil {
		return 0, "", fmt.Errorf("model %s: %w", m.Name, err)
	}
	return rows, fmt.Sprintf("%d rows", rows), nil
}

// StatsReport is what a stats task measured on one source.
type StatsReport struct {
	Source   string
	Models   []ModelKeyCheck
	Segments []SegmentStats
	// Warnings are findings about the data (too many duplicate primary keys).
	Warnings []string
}

// ModelKeyCheck is the primary key re-check of one model.
type ModelKeyCheck struct {
	Model string
	stats.KeyCheck
}

// SegmentStats is the size of one segment.
type SegmentStats struct {
	Segment string
	stats.Size
}

func (s *StatsReport) summary() string {
	out := fmt.Sprintf("%d models checked, %d segments measured", len(s.Models), len(s.Segments))
	for _, w := range s.Warnings {
		out += "; warning: " + w
	}
	return out
}

// sourceStats re-checks the primary key of every model of the source (recording the share in
// the catalog and in dinmo_stats.model_key_checks) and measures every segment of those models
// (into dinmo_stats.segment_sizes). A model or segment that fails is reported in the error;
// the others are still measured.
func (r *Runner) sourceStats(ctx context.Context, src *catalog.Source) (*StatsReport, error) {
	wh, err := r.openSource(ctx, src)
	if err != nil {
		return nil, err
	}
	defer wh.Close()
	models, err := r.store.ListModels(ctx, src.WorkspaceID)
	if err != nil {
		return nil, err
	}
	segs, err := r.store.ListSegments(ctx, src.WorkspaceID)
	if err != nil {
		return nil, err
	}
	rep := &StatsReport{Source: src.Name}
	now := r.now()
	var problems []string
	byID := map[string]*catalog.Model{}
	actx := catalog.WithActor(ctx, "runner:"+r.id)
	d := wh.Dialect()
	for i := range models {
		m := &models[i]
		if m.SourceID != src.ID {
			continue
		}
		byID[m.ID] = m
		kc, err := stats.DuplicateKeys(ctx, wh.DB(), d, stats.SegmentsView(m.ViewName), m.PrimaryKey)
		if err == nil {
			err = stats.RecordKeyCheck(ctx, wh.DB(), d, m.ID, kc, now)
		}
		if err == nil {
			at := now.UTC().Truncate(time.Microsecond)
			m.DuplicateKeyShare, m.DuplicateKeyCheckedAt = kc.Share, &at
			err = r.store.UpdateModel(actx, m)
		}
		if err != nil {
			if ctx.Err() != nil {
				return rep, err
			}
			problems = append(problems, fmt.Sprintf("model %s: %v", m.Name, err))
			continue
		}
		if kc.Share > stats.MaxDuplicateShare {
			// A finding about the data, not a failure of the task: reported in the run's message
			// and the log; the next apply of the model fails until the source is fixed.
			w := fmt.Sprintf("model %s: %.1f%% of the rows have a NULL or repeated primary key %q (more than %.0f%%; the next apply of the model fails)",
				m.Name, kc.Share*100, m.PrimaryKey, stats.MaxDuplicateShare*100)
			rep.Warnings = append(rep.Warnings, w)
			r.logger.Warn("duplicate primary keys", LogObject, m.Name, LogError, w)
		}
		rep.Models = append(rep.Models, ModelKeyCheck{Model: m.Name, KeyCheck: kc})
	}
	for i := range segs {
		sg := &segs[i]
		m, ok := byID[sg.ModelID]
		if !ok {
			continue
		}
		s, err := stats.SegmentSize(ctx, wh.DB(), d, stats.SegmentsView(sg.ViewName), stats.SegmentsView(m.ViewName), now)
		if err == nil {
			err = stats.Record(ctx, wh.DB(), d, sg.ID, s)
		}
		if err != nil {
			if ctx.Err() != nil {
				return rep, err
			}
			problems = append(problems, fmt.Sprintf("segment %s: %v", sg.Name, err))
			continue
		}
		rep.Segments = append(rep.Segments, SegmentStats{Segment: sg.Name, Size: s})
	}
	if len(problems) > 0 {
		return rep, errors.New(strings.Join(problems, "; "))
	}
	return rep, nil
}
