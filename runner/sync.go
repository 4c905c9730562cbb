package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"dinmo/catalog"
	"dinmo/connectors"
	"dinmo/connectors/destination"
	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/deltasql"
)

// errStopped ends a run that was asked to stop (SIGINT/SIGTERM, shutdown) before it finished.
var errStopped = errors.New("run stopped before completion: what the destination acknowledged was committed; the next run sends the rest")

// maxSampleErrors bounds the rejected records kept on a run.
const maxSampleErrors = 20

// maxReasonLen bounds a rejection reason stored on a run or in the rejected table.
const maxReasonLen = 500

// finishTimeout bounds the catalog writes that end a run (they run even after a stop).
const finishTimeout = 30 * time.Second

// syncRun is the state of one run.
type syncRun struct {
	r      *Runner
	ws     *catalog.Workspace
	act    *catalog.Activation
	opts   RunOptions
	logger *slog.Logger

	// stop is the caller's context: when done, the run stops between batches.
	stop context.Context
	// commit bounds checkpoints, the destination's Close and the fold: only a lost lease
	// cancels it.
	commit context.Context

	run    catalog.Run
	result Result
	start  time.Time

	// Resolved declarations.
	model    *catalog.Model
	segment  *catalog.Segment
	source   *catalog.Source
	destRec  *catalog.Destination
	service  destination.ServiceSpec
	platform destination.Platform
	settings map[string]any // the destination's settings, defaults applied
	mode     destination.SyncMode
	fields   []deltasql.Field
	names    []string // destination field names, in mapping order
	view     string   // unqualified view in warehouse.SchemaSegments

	wh   warehouse.Warehouse
	b    *deltasql.Builder
	dest destination.Destination

	full bool
	// incremental is set for run type "incremental" (events sent once; see incremental.go).
	incremental bool
	diffRows    int64 // rows the diff query returns
	toSend      int64 // of which the mode sends
	batchNo     int
	applies     int64
	lastStore   time.Time
}

// execute runs the sync of an activation whose lease is held, records it in the catalog and
// returns its result. Panics are recovered and fail the run.
func (r *Runner) execute(ctx context.Context, ws *catalog.Workspace, act *catalog.Activation, l *lease, opts RunOptions, logger *slog.Logger) (res *Result, err error) {
	s := &syncRun{r: r, ws: ws, act: act, opts: opts, logger: logger, stop: ctx, start: r.now()}
	auditCtx := catalog.WithActor(context.WithoutCancel(ctx), "runner:"+r.id)

	// commit is cancelled only when the lease is lost: checkpoints and the final fold must not
	// be cut short by a stop. work is also cancelled StopGrace after a stop: it bounds the
	// statements and the batch in flight, which may still finish after a stop.
	commit, cancelCommit := context.WithCancelCause(auditCtx)
	defer cancelCommit(nil)
	work, cancelWork := context.WithCancelCause(commit)
	defer cancelWork(nil)
	s.commit = commit
	done := make(chan struct{})
	defer close(done)
	go func() {
		stop := ctx.Done()
		var grace <-chan time.Time
		for {
			select {
			case <-done:
				return
			case <-l.lost.Done():
				cancelCommit(context.Cause(l.lost))
				return
			case <-stop:
				stop = nil
				t := time.NewTimer(r.stopGrace)
				defer t.Stop()
				grace = t.C
			case <-grace:
				cancelWork(errStopped)
				return
			}
		}
	}()

	if n, err := r.store.MarkInterruptedRuns(work, act.ID); err != nil {
		return nil, fmt.Errorf("run activation %s: mark interrupted runs: %w", act.Name, err)
	} else if n > 0 {
		logger.Warn("earlier runs of this activation were interrupted", LogCount, n)
	}
	// A full resync requested by a declaration change (mappings, options) resends every row,
	// except on incremental activations: their destinations record events, and resending the
	// whole history would duplicate them. There only an explicit --full resends history.
	s.full = opts.Full || act.RunType == string(destination.RunFull) ||
		(act.FullResyncRequested && act.RunType != string(destination.RunIncremental))
	s.result.RejectedTable = warehouse.SchemaDeltaStorage + "." + deltasql.TablesFor(act.ID).Rejected

	defer func() {
		if p := recover(); p != nil {
			s.logger.Error("run panicked", LogPanic, fmt.Sprint(p), LogStack, string(debug.Stack()))
			err = connectors.Permanent(connectors.CategoryInternal, fmt.Errorf("internal error (panic): %v", p))
		}
		if s.dest != nil { // a panic or early return may leave it open
			_ = s.dest.Close(commit)
		}
		if s.wh != nil {
			_ = s.wh.Close()
		}
		if s.run.ID == "" {
			// The run failed before it was recorded: record it, so the failure shows in history.
			if cerr := s.createRun(auditCtx); cerr != nil {
				res, err = nil, errors.Join(err, cerr)
				return
			}
		}
		res, err = s.finish(auditCtx, err)
	}()
	return nil, s.sync(work, auditCtx)
}

// createRun records the run (status running) once its run type is known.
func (s *syncRun) createRun(ctx context.Context) error {
	s.run = catalog.Run{
		ActivationID: s.act.ID,
		WorkspaceID:  s.act.WorkspaceID,
		RunType:      s.runType(),
		Status:       catalog.RunRunning,
		Trigger:      s.opts.Trigger,
		RunnerID:     s.r.id,
		StartedAt:    s.start,
	}
	if err := s.r.store.CreateRun(ctx, &s.run); err != nil {
		s.run.ID = ""
		return fmt.Errorf("run activation %s: record run: %w", s.act.Name, err)
	}
	s.logger = s.logger.With(LogRunID, s.run.ID)
	s.lastStore = s.start
	s.logger.Info("run started", LogTrigger, s.opts.Trigger, LogRunType, s.run.RunType)
	s.progress(PhaseStarting)
	return nil
}

func (s *syncRun) runType() string {
	if s.full {
		return string(destination.RunFull)
	}
	if s.act.RunType != "" {
		return s.act.RunType
	}
	return string(destination.RunDelta)
}

// phaseCtx derives from work a context also cancelled by a stop: the phases before sending
// (evaluation, diff counts) have nothing to commit, so a stop aborts them at once.
func (s *syncRun) phaseCtx(work context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(work)
	stopWatch := context.AfterFunc(s.stop, func() { cancel(errStopped) })
	return ctx, func() { stopWatch(); cancel(nil) }
}

// sync runs the steps of DESIGN.md "The sync" on the warehouse and the destination.
func (s *syncRun) sync(work, auditCtx context.Context) error {
	if err := s.resolve(work); err != nil {
		return explain(work, err)
	}
	phase, endPhase := s.phaseCtx(work)
	defer endPhase()
	if err := s.openWarehouse(phase); err != nil {
		return explain(phase, err)
	}
	if s.incremental {
		if err := s.prepareIncremental(phase); err != nil {
			return explain(phase, err)
		}
	}
	// Recovery comes first: an interrupted first run leaves a snapshot to continue from.
	if err := s.recoverInterrupted(phase); err != nil {
		return explain(phase, err)
	}
	if !s.incremental { // an incremental first run has no cursor: it sends every event
		hasSnapshot, err := s.exists(phase, s.b.Tables().Snapshot)
		if err != nil {
			return explain(phase, err)
		}
		if !hasSnapshot {
			s.full = true // the first run sends everything
		}
	}
	if err := s.createRun(auditCtx); err != nil {
		return err
	}
	s.progress(PhaseEvaluating)
	testPause(PauseBeforeEvaluate)
	if err := s.evaluate(phase); err != nil {
		return s.abandon(explain(phase, err))
	}
	testPause(PauseAfterEvaluate)
	s.progress(PhaseDiffing)
	if err := s.prepare(phase); err != nil {
		return s.abandon(explain(phase, err))
	}
	if err := s.countDiff(phase); err != nil {
		return s.abandon(explain(phase, err))
	}
	if !s.incremental { // the guards concern removals, which an incremental run never sends
		if err := s.checkGuards(phase); err != nil {
			return s.abandon(explain(phase, err))
		}
	}
	endPhase()

	s.progress(PhaseSending)
	sendErr := explain(work, s.send(work))
	if cause := context.Cause(work); errors.Is(cause, errLeaseLost) {
		// Another runner may own the activation's tables now: touch nothing.
		return cause
	}
	if sendErr == nil && s.stop.Err() != nil {
		sendErr = errStopped
	}
	if err := s.closeDestination(s.commit); err != nil {
		// Records acknowledged before a failed Close may not be final (a file not flushed):
		// commit none of them, so the next run sends them again.
		s.logger.Error("closing the destination failed; this run's acknowledgements are discarded", LogError, err.Error())
		return s.abandon(failure(sendErr, err))
	}
	s.progress(PhaseCommitting)
	fold := func() error { return s.fold(s.commit, s.names) }
	if s.incremental {
		fold = func() error { return s.foldIncremental(s.commit, s.run.ID) }
	}
	if err := fold(); err != nil {
		return failure(sendErr, explain(s.commit, err))
	}
	return sendErr
}

// explain replaces a cancellation error by the reason the context was cancelled (a stop, a
// lost lease), which is what the run history should say.
func explain(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, ctx.Err()) {
		return cause
	}
	return err
}

// failure combines the error that ended sending with a later one: a stop is not worth
// reporting next to a real failure.
func failure(sendErr, err error) error {
	if sendErr == nil || errors.Is(sendErr, errStopped) {
		return err
	}
	return errors.Join(sendErr, err)
}

// abandon drops the run and acknowledgement tables after a failure that leaves nothing to
// commit, and returns err.
func (s *syncRun) abandon(err error) error {
	if s.wh == nil || s.b == nil || errors.Is(err, errLeaseLost) {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.stop), finishTimeout)
	defer cancel()
	for _, q := range []string{s.b.DropAck(), s.b.DropRun()} {
		if _, derr := s.wh.DB().ExecContext(ctx, q); derr != nil {
			s.logger.Warn("dropping the run's work tables failed; the next run drops them", LogError, derr.Error())
			break
		}
	}
	return err
}

// resolve loads the activation's model, segment, source and destination from the catalog and
// checks what the run needs from them.
func (s *syncRun) resolve(ctx context.Context) error {
	st := s.r.store
	act := s.act
	var modelID string
	switch {
	case act.SegmentID != "":
		seg, err := st.GetSegment(ctx, act.SegmentID)
		if err != nil {
			return catalogErr(err, "activation %s: segment", act.Name)
		}
		s.segment, modelID, s.view = seg, seg.ModelID, seg.ViewName
	case act.ModelID != "":
		modelID = act.ModelID
	default:
		return configErr("activation %s names neither a segment nor a model", act.Name)
	}
	m, err := st.GetModel(ctx, modelID)
	if err != nil {
		return catalogErr(err, "activation %s: model", act.Name)
	}
	s.model = m
	if s.segment == nil {
		s.view = m.ViewName
	}
	if s.view == "" {
		return configErr("activation %s: its %s has no view in %s yet: run terraform apply", act.Name, s.sourceKind(), warehouse.SchemaSegments)
	}
	if m.PrimaryKey == "" {
		return configErr("model %s has no primary key: declare primary_key on the model", m.Name)
	}
	if s.source, err = st.GetSource(ctx, m.SourceID); err != nil {
		return catalogErr(err, "model %s: source", m.Name)
	}
	if s.destRec, err = st.GetDestination(ctx, act.DestinationID); err != nil {
		return catalogErr(err, "activation %s: destination", act.Name)
	}
	platform, ok := s.r.reg.Destination(s.destRec.Platform)
	if !ok {
		return configErr("destination %s: platform %q is not built into this runner", s.destRec.Name, s.destRec.Platform)
	}
	svc, ok := platform.Spec().Service(act.Service)
	if !ok {
		return configErr("activation %s: platform %s has no service %q", act.Name, s.destRec.Platform, act.Service)
	}
	s.service, s.platform = svc, platform
	s.settings = destination.ApplyDefaults(platform.Spec().Settings, s.destRec.Settings)
	s.mode = destination.SyncMode(act.SyncMode)
	if !knownMode(s.mode) || !svc.SupportsMode(s.mode) {
		return configErr("activation %s: service %s.%s does not support sync mode %q", act.Name, s.destRec.Platform, svc.Name, act.SyncMode)
	}
	known := map[string]bool{}
	for _, c := range m.Columns {
		known[c.Name] = true
	}
	s.fields = make([]deltasql.Field, 0, len(act.Mappings))
	for _, mp := range act.Mappings {
		if len(known) > 0 && !known[mp.Column] {
			return configErr("activation %s: mapped column %q is not a column of model %s: run terraform apply after fixing the mapping", act.Name, mp.Column, m.Name)
		}
		s.fields = append(s.fields, deltasql.Field{Column: mp.Column, Name: mp.Field})
	}
	if err := deltasql.ValidateFields(s.fields); err != nil {
		return configErr("activation %s: %w", act.Name, err)
	}
	s.names = deltasql.FieldNames(s.fields)
	if s.act.RunType == string(destination.RunIncremental) {
		s.incremental = true
		if err := s.checkIncremental(); err != nil {
			return err
		}
		if len(known) > 0 && !known[m.TimestampColumn] {
			return configErr("model %s: timestamp_column %q is not a column of the model: run terraform apply", m.Name, m.TimestampColumn)
		}
	}
	s.logger = s.logger.With(LogSource, s.source.Name, LogEngine, s.source.Engine,
		LogDestination, s.destRec.Name, LogPlatform, s.destRec.Platform, LogService, svc.Name, LogSyncMode, string(s.mode))
	return nil
}

func (s *syncRun) sourceKind() string {
	if s.segment != nil {
		return "segment " + s.segment.Name
	}
	return "model " + s.model.Name
}

func configErr(format string, args ...any) error {
	return connectors.Permanent(connectors.CategoryConfiguration, fmt.Errorf(format, args...))
}

// catalogErr wraps a failed catalog read: a missing object is a configuration error (the
// declaration is incomplete), anything else a failure of the catalog itself.
func catalogErr(err error, format string, args ...any) error {
	err = fmt.Errorf(format+": %w", append(args, err)...)
	if errors.Is(err, catalog.ErrNotFound) {
		return connectors.Permanent(connectors.CategoryConfiguration, err)
	}
	return err
}

// openWarehouse connects to the source, checks the view and prepares the delta schema.
func (s *syncRun) openWarehouse(ctx context.Context) error {
	conn, cfg, err := s.r.sourceConn(s.source)
	if err != nil {
		return err
	}
	wh, err := conn.Open(ctx, cfg, s.logger)
	if err != nil {
		return broken(EntitySource, s.source.Name, fmt.Errorf("source %s: %w", s.source.Name, err))
	}
	s.wh = wh
	if s.b, err = deltasql.New(wh.Dialect(), s.act.ID); err != nil {
		return connectors.Permanent(connectors.CategoryInternal, err)
	}
	exists, err := wh.RelationExists(ctx, warehouse.SchemaSegments, s.view)
	if err != nil {
		return broken(EntitySource, s.source.Name, s.whErr("check the source view", err))
	}
	if !exists {
		return broken(s.viewEntity(), s.viewOwner(), connectors.Permanent(connectors.CategoryNotFound, fmt.Errorf(
			"view %s.%s of %s does not exist in source %s: run terraform apply to create it",
			warehouse.SchemaSegments, s.view, s.sourceKind(), s.source.Name)))
	}
	if _, err := wh.DB().ExecContext(ctx, wh.Dialect().CreateSchema(warehouse.SchemaDeltaStorage)); err != nil {
		return s.whErr("create schema "+warehouse.SchemaDeltaStorage, err)
	}
	return nil
}

// whErr classifies a failed warehouse statement: the source cannot be queried (connection
// category, per the product's error catalogue) unless the error already has a category.
func (s *syncRun) whErr(op string, err error) error {
	var ce *connectors.Error
	if errors.As(err, &ce) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	if c, ok := s.wh.(warehouse.ErrorClassifier); ok {
		if classified := c.ClassifyError(s.stop, err); errors.As(classified, &ce) {
			return fmt.Errorf("%s: %w", op, classified)
		}
	}
	return connectors.Retryable(connectors.CategoryConnection, fmt.Errorf("%s: %w", op, err))
}

func (s *syncRun) exec(ctx context.Context, op, query string, args ...any) error {
	if _, err := s.wh.DB().ExecContext(ctx, query, args...); err != nil {
		return s.whErr(op, err)
	}
	return nil
}

func (s *syncRun) exists(ctx context.Context, table string) (bool, error) {
	ok, err := s.wh.RelationExists(ctx, warehouse.SchemaDeltaStorage, table)
	if err != nil {
		return false, s.whErr("check table "+warehouse.SchemaDeltaStorage+"."+table, err)
	}
	return ok, nil
}

// recoverInterrupted commits what an interrupted run acknowledged (its run and ack tables are
// still there), so a killed run loses nothing and the next one re-sends at most the batches
// that were in flight. A run table alone holds nothing acknowledged: it is dropped.
func (s *syncRun) recoverInterrupted(ctx context.Context) error {
	t := s.b.Tables()
	runExists, err := s.exists(ctx, t.Run)
	if err != nil {
		return err
	}
	ackExists, err := s.exists(ctx, t.Ack)
	if err != nil {
		return err
	}
	switch {
	case runExists && ackExists && s.incremental:
		var n int64
		if err := s.wh.DB().QueryRowContext(ctx, s.b.CountAck()).Scan(&n); err != nil {
			return s.whErr("count the interrupted run's acknowledgements", err)
		}
		if err := s.foldIncremental(ctx, ""); err != nil {
			return err
		}
		s.result.Recovered = n
		s.logger.Info("committed the acknowledged events of an interrupted run", LogRecovered, n)
	case runExists && ackExists:
		cols, err := s.wh.QueryColumns(ctx, s.b.ProbeRun())
		if err != nil {
			return s.whErr("read the interrupted run table", err)
		}
		var n int64
		if err := s.wh.DB().QueryRowContext(ctx, s.b.CountAck()).Scan(&n); err != nil {
			return s.whErr("count the interrupted run's acknowledgements", err)
		}
		names := fieldColumns(cols)
		if err := s.ensureSnapshot(ctx, cols, s.b.CreateSnapshot(names)); err != nil {
			return err
		}
		if err := s.fold(ctx, names); err != nil {
			return err
		}
		s.result.Recovered = n
		s.logger.Info("committed the acknowledged records of an interrupted run", LogRecovered, n)
	case runExists:
		return s.exec(ctx, "drop an interrupted run table", s.b.DropRun())
	case ackExists:
		return s.exec(ctx, "drop an orphan acknowledgement table", s.b.DropAck())
	}
	return nil
}

// fieldColumns returns the field column names of a delta table (all but key, hash and kind).
func fieldColumns(cols []warehouse.Column) []string {
	out := make([]string, 0, len(cols))
	for _, c := range cols {
		if deltasql.IsFieldColumn(c.Name) {
			out = append(out, c.Name)
		}
	}
	return out
}

// evaluate evaluates the view once and writes the run's changes into the run table (with the
// strategy deltasql chose for the engine), creating or evolving the snapshot first. Rows whose
// key is NULL or duplicated are skipped (counted, with a warning).
func (s *syncRun) evaluate(ctx context.Context) error {
	if s.incremental {
		return s.evaluateIncremental(ctx)
	}
	ev, err := s.b.Evaluate(deltasql.Source{Schema: warehouse.SchemaSegments, View: s.view,
		PrimaryKey: s.model.PrimaryKey, Fields: s.fields}, s.full)
	if err != nil {
		return configErr("activation %s: %w", s.act.Name, err)
	}
	for _, q := range ev.Stage() {
		if err := s.exec(ctx, "evaluate "+s.sourceKind(), q); err != nil {
			return err
		}
	}
	var total, keyed, distinct int64
	if err := s.wh.DB().QueryRowContext(ctx, ev.KeyStats()).Scan(&total, &keyed, &distinct); err != nil {
		return s.whErr("count the evaluated rows", err)
	}
	s.run.RowsEvaluated = total
	skip := distinct != total
	if skip {
		for _, q := range ev.SkipBadKeys() {
			if err := s.exec(ctx, "skip rows with a null or duplicate key", q); err != nil {
				return err
			}
		}
		var kept int64
		if err := s.wh.DB().QueryRowContext(ctx, ev.CountKept()).Scan(&kept); err != nil {
			return s.whErr("count the evaluated rows", err)
		}
		s.run.RowsSkipped = total - kept
		if s.run.RowsSkipped > 0 {
			s.run.Warnings = append(s.run.Warnings, fmt.Sprintf(
				"%d rows skipped: null or duplicate primary key %q (%d null, %d duplicated)",
				s.run.RowsSkipped, s.model.PrimaryKey, total-keyed, s.run.RowsSkipped-(total-keyed)))
			s.logger.Warn("rows skipped: null or duplicate primary key", LogSkipped, s.run.RowsSkipped)
		}
	}
	cols, err := s.wh.QueryColumns(ctx, ev.Probe())
	if err != nil {
		return s.whErr("read the evaluated columns", err)
	}
	if err := s.ensureSnapshot(ctx, cols, ev.CreateSnapshot()); err != nil {
		return err
	}
	for _, q := range ev.CreateRun(skip) {
		if err := s.exec(ctx, "diff "+s.sourceKind()+" against the snapshot", q); err != nil {
			return err
		}
	}
	s.logger.Info("segment evaluated", LogRows, total, LogStrategy, s.b.Strategy().String())
	s.progress(PhaseEvaluating)
	return nil
}

// prepare creates the acknowledgement table and the rejected table.
func (s *syncRun) prepare(ctx context.Context) error {
	t := s.b.Tables()
	if err := s.exec(ctx, "reset the acknowledgement table", s.b.DropAck()); err != nil {
		return err
	}
	if err := s.exec(ctx, "create the acknowledgement table", s.b.CreateAck()); err != nil {
		return err
	}
	ok, err := s.exists(ctx, t.Rejected)
	if err != nil {
		return err
	}
	if !ok {
		if err := s.exec(ctx, "create the rejected records table", s.b.CreateRejected()); err != nil {
			return err
		}
	}
	return nil
}

// ensureSnapshot creates the snapshot with create when it does not exist, or evolves it
// additively to the columns runCols (the run's key, hash and fields): a field column the run
// has and the snapshot lacks is added; one whose type changed is dropped and re-added (old
// values of that field cannot be kept with the new type; the mapping change that caused it
// forces a full run).
func (s *syncRun) ensureSnapshot(ctx context.Context, runCols []warehouse.Column, create string) error {
	t := s.b.Tables()
	ok, err := s.exists(ctx, t.Snapshot)
	if err != nil {
		return err
	}
	if !ok {
		if err := s.exec(ctx, "create the snapshot", create); err != nil {
			return err
		}
		if q, ok := s.b.IndexSnapshot(); ok {
			if err := s.exec(ctx, "index the snapshot", q); err != nil {
				return err
			}
		}
		return nil
	}
	snapCols, err := s.wh.QueryColumns(ctx, s.b.ProbeSnapshot())
	if err != nil {
		return s.whErr("read the snapshot's columns", err)
	}
	have := make(map[string]string, len(snapCols))
	for _, c := range snapCols {
		have[c.Name] = c.DatabaseType
	}
	for _, c := range runCols {
		if !deltasql.IsFieldColumn(c.Name) {
			continue
		}
		typ, present := have[c.Name]
		if present && strings.EqualFold(typ, c.DatabaseType) {
			continue
		}
		if present {
			if err := s.exec(ctx, "drop snapshot column "+c.Name, s.b.DropSnapshotColumn(c.Name)); err != nil {
				return err
			}
		}
		add, err := s.b.AddSnapshotColumn(c.Name, c.DatabaseType)
		if err != nil {
			return connectors.Permanent(connectors.CategoryConfiguration, err)
		}
		if err := s.exec(ctx, "add snapshot column "+c.Name, add); err != nil {
			return err
		}
		s.logger.Info("snapshot evolved", LogField, c.Name, LogTypeChanged, present)
	}
	return nil
}

// countDiff counts the diff before sending, so progress and the run show totals.
func (s *syncRun) countDiff(ctx context.Context) error {
	var added, changed, removed, unchanged int64
	if err := s.wh.DB().QueryRowContext(ctx, s.b.DiffCounts()).Scan(&added, &changed, &removed, &unchanged); err != nil {
		return s.whErr("count the diff", err)
	}
	s.run.Added, s.run.Changed, s.run.Removed = added, changed, removed
	counts := map[deltasql.Kind]int64{deltasql.Added: added, deltasql.Changed: changed, deltasql.Removed: removed}
	if s.full {
		counts[deltasql.Unchanged] = unchanged
	}
	for k, n := range counts {
		s.diffRows += n
		if _, send := Operation(s.mode, k, s.full); send {
			s.toSend += n
		}
	}
	s.logger.Info("diff computed", LogAdded, added, LogChanged, changed, LogRemoved, removed, LogRunType, s.run.RunType)
	s.progress(PhaseDiffing)
	return nil
}

// openDestination opens the destination for this run.
func (s *syncRun) openDestination(ctx context.Context) error {
	creds, err := s.r.sealer.ResolveAll(s.destRec.Credentials)
	if err != nil {
		return configErr("destination %s: %w", s.destRec.Name, err)
	}
	d, err := s.platform.Open(ctx, destination.OpenParams{
		Service:        s.service.Name,
		Settings:       s.settings,
		Options:        destination.ApplyDefaults(s.service.Options, s.act.Options),
		BaseURL:        s.destRec.BaseURL,
		Credentials:    creds,
		RunID:          s.run.ID,
		ActivationID:   s.act.ID,
		ActivationName: s.act.Name,
		StartedAt:      s.start,
		Logger:         s.logger,
	})
	if err != nil {
		return fmt.Errorf("open destination %s: %w", s.destRec.Name, err)
	}
	s.dest = d
	return nil
}

// closeDestination finishes the destination's run (flushes files).
func (s *syncRun) closeDestination(ctx context.Context) error {
	if s.dest == nil {
		return nil
	}
	d := s.dest
	s.dest = nil
	if err := d.Close(ctx); err != nil {
		return fmt.Errorf("close destination %s: %w", s.destRec.Name, err)
	}
	return nil
}

// fold commits acknowledged work into the snapshot in one transaction, after pruning a large
// DuckDB snapshot in chunks (deltasql.Builder.Prune: safe to interrupt, and what keeps the
// fold's memory independent of the snapshot's size).
func (s *syncRun) fold(ctx context.Context, fields []string) error {
	pruned, err := s.b.Prune(ctx, s.wh.DB(), s.r.foldChunk)
	if err != nil {
		return s.whErr("commit the snapshot: prune the acknowledged keys", err)
	}
	if pruned.Chunks > 0 {
		s.logger.Debug("pruned the snapshot in chunks", LogChunks, pruned.Chunks)
		testPause(PauseInPrune)
	}
	if pruned.CheckpointErr != nil {
		s.logger.Warn("a checkpoint between snapshot chunks failed; DuckDB keeps the deletes in memory until the next one",
			LogError, pruned.CheckpointErr.Error())
	}
	tx, err := s.wh.DB().BeginTx(ctx, nil)
	if err != nil {
		return s.whErr("commit the snapshot: begin", err)
	}
	defer func() { _ = tx.Rollback() }()
	for i, q := range s.b.Fold(fields) {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return s.whErr("commit the snapshot", err)
		}
		if i == 0 {
			testPause(PauseInFold)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.whErr("commit the snapshot", err)
	}
	return nil
}

// finish stores the run's final state and records metrics.
func (s *syncRun) finish(ctx context.Context, runErr error) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, finishTimeout)
	defer cancel()
	end := s.r.now()
	s.run.FinishedAt = &end
	s.result.Duration = end.Sub(s.start)
	if s.applies > s.run.Requests {
		s.run.Requests = s.applies
	}
	if left := s.toSend - s.run.Acknowledged - s.run.Rejected; left > 0 {
		s.run.Retryable = left
	}
	if w := s.rejectedWarning(); w != "" {
		s.run.Warnings = append(s.run.Warnings, w)
	}
	var blocked *GuardError
	switch {
	case errors.As(runErr, &blocked):
		s.run.Status = catalog.RunBlocked
		s.run.ErrorCategory = ErrorCategoryGuard
		s.run.ErrorMessage = blocked.Message
	case runErr != nil && (errors.Is(runErr, errStopped) || s.stop.Err() != nil):
		// Asked to stop: whatever failed after that (a statement the engine interrupted, a
		// request cut short) is the stop's doing, not a failure of the source or destination.
		s.run.Status = catalog.RunInterrupted
		s.run.ErrorMessage = errStopped.Error()
	case runErr != nil:
		s.run.Status = catalog.RunFailed
		s.run.ErrorCategory = string(connectors.CategoryOf(runErr))
		// The category is stored apart; do not repeat it at the start of the message.
		s.run.ErrorMessage = strings.TrimPrefix(runErr.Error(), s.run.ErrorCategory+": ")
	default:
		if s.run.Retryable > 0 {
			s.run.Warnings = append(s.run.Warnings, fmt.Sprintf(
				"%d records were not applied (the destination asked to retry them): the next run sends them again", s.run.Retryable))
		}
		s.run.Status = catalog.RunSucceeded
		if len(s.run.Warnings) > 0 {
			s.run.Status = catalog.RunWarning
		}
	}
	s.result.Run = s.run
	s.result.Full = s.full
	if err := s.r.store.FinishRun(ctx, &s.run); err != nil {
		s.logger.Error("recording the end of the run failed", LogError, err.Error())
		runErr = errors.Join(runErr, fmt.Errorf("record run end: %w", err))
	}
	s.result.Run = s.run
	if runErr == nil && s.act.FullResyncRequested {
		// The full resync the provider (or the CLI) asked for is done.
		if fresh, err := s.r.store.GetActivation(ctx, s.act.ID); err == nil {
			if err := s.r.store.SetActivationSchedule(ctx, fresh.ID, fresh.NextRunAt, false); err != nil {
				s.logger.Warn("clearing the full resync request failed; the next run is full again", LogError, err.Error())
			}
		}
	}
	s.r.metrics.observe(s.ws.Name, s.act.Name, &s.result, s.result.Duration)
	attrs := []any{LogStatus, s.run.Status, LogDuration, s.result.Duration.Round(time.Millisecond).String(),
		LogRows, s.run.RowsEvaluated, LogSkipped, s.run.RowsSkipped, LogAdded, s.run.Added, LogChanged, s.run.Changed,
		LogRemoved, s.run.Removed, LogSent, s.result.Sent, LogAcked, s.run.Acknowledged, LogRejected, s.run.Rejected,
		LogRetryable, s.run.Retryable, LogNotSent, s.result.NotSent, LogRequests, s.run.Requests}
	if runErr != nil {
		attrs = append(attrs, LogCategory, s.run.ErrorCategory, LogError, runErr.Error())
		s.logger.Error("run finished", attrs...)
	} else {
		s.logger.Info("run finished", attrs...)
	}
	s.notifyRun()
	if runErr != nil && s.run.Status == catalog.RunFailed {
		s.autoPause(ctx, runErr)
	}
	s.progress(PhaseDone)
	res := s.result
	if runErr != nil && s.run.Status == catalog.RunInterrupted {
		return &res, errStopped
	}
	return &res, runErr
}

// progress reports the counts to the caller's callback and, every ProgressInterval, to the
// catalog.
func (s *syncRun) progress(phase string) {
	if s.opts.Progress != nil {
		s.opts.Progress(Progress{
			RunID: s.run.ID, Phase: phase, Full: s.full, StartedAt: s.start,
			RowsEvaluated: s.run.RowsEvaluated, RowsSkipped: s.run.RowsSkipped,
			Added: s.run.Added, Changed: s.run.Changed, Removed: s.run.Removed,
			ToSend: s.toSend, Sent: s.result.Sent, Acknowledged: s.run.Acknowledged,
			Rejected: s.run.Rejected, Requests: max(s.run.Requests, s.applies),
		})
	}
	if phase == PhaseDone || phase == PhaseStarting {
		return
	}
	if now := s.r.now(); now.Sub(s.lastStore) >= s.r.progressInt {
		s.lastStore = now
		ctx, cancel := context.WithTimeout(context.WithoutCancel(s.stop), 5*time.Second)
		defer cancel()
		snap := s.run
		snap.Requests = max(s.run.Requests, s.applies)
		if err := s.r.store.UpdateRunProgress(ctx, &snap); err != nil {
			s.logger.Warn("storing run progress failed", LogError, err.Error())
		}
	}
}

// scanString turns a scanned text value into a string.
func scanString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}
