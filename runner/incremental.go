package runner

import (
	"context"
	"fmt"
	"time"

	"dinmo/catalog"
	"dinmo/connectors/destination"
	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/deltasql"
)

// Incremental runs (run type "incremental") send each event row of an events model once; see
// package deltasql for the tables and the guarantees. They reuse the delta run's machinery
// (the run table, counts, batches, acknowledgements, the rejected table, crash recovery) with
// three differences: the evaluation reads only the lookback window and skips the events
// already sent, the run table is sent in timestamp order, and the fold records the sent
// events and advances the cursor instead of patching a snapshot. The first run sends every
// event; a forced full run (`--full`, full_resync) sends every event again.

// checkIncremental checks what an incremental run needs from its declarations: an events
// model with a timestamp column, and a service that declares the run type.
func (s *syncRun) checkIncremental() error {
	m := s.model
	if m.Type != catalog.ModelEvents || m.TimestampColumn == "" {
		return configErr("activation %s: run type %q needs an events model with timestamp_column; model %s is of type %q%s",
			s.act.Name, destination.RunIncremental, m.Name, m.Type, map[bool]string{true: " without timestamp_column", false: ""}[m.TimestampColumn == ""])
	}
	if !s.service.SupportsRunType(destination.RunIncremental) {
		return configErr("activation %s: service %s.%s does not support run type %q", s.act.Name, s.destRec.Platform, s.service.Name, destination.RunIncremental)
	}
	if s.act.Lookback < 0 || s.act.Lookback%time.Second != 0 {
		return configErr("activation %s: lookback %s must be zero or more whole seconds", s.act.Name, s.act.Lookback)
	}
	return nil
}

// incrementalBuilder returns the statements of this run's evaluation.
func (s *syncRun) incrementalBuilder(windowed bool) (*deltasql.Incremental, error) {
	x, err := s.b.Incremental(deltasql.IncrementalSource{Schema: warehouse.SchemaSegments, View: s.view,
		PrimaryKey: s.model.PrimaryKey, Timestamp: s.model.TimestampColumn, Fields: s.fields, Lookback: s.act.Lookback}, windowed)
	if err != nil {
		return nil, configErr("activation %s: %w", s.act.Name, err)
	}
	return x, nil
}

// prepareIncremental creates the sent and cursor tables when they do not exist.
func (s *syncRun) prepareIncremental(ctx context.Context) error {
	x, err := s.incrementalBuilder(false)
	if err != nil {
		return err
	}
	t := x.Tables()
	ok, err := s.exists(ctx, t.Sent)
	if err != nil {
		return err
	}
	if !ok {
		if err := s.exec(ctx, "create the sent events table", x.CreateSent()); err != nil {
			return err
		}
		if q, ok := x.IndexSent(); ok {
			if err := s.exec(ctx, "index the sent events table", q); err != nil {
				return err
			}
		}
	}
	if ok, err = s.exists(ctx, t.Cursor); err != nil {
		return err
	}
	if !ok {
		return s.exec(ctx, "create the cursor table", x.CreateCursor())
	}
	return nil
}

// evaluateIncremental writes the window's unsent events into the run table.
func (s *syncRun) evaluateIncremental(ctx context.Context) error {
	x, err := s.incrementalBuilder(false)
	if err != nil {
		return err
	}
	windowed := false
	if !s.full {
		var n int64
		if err := s.wh.DB().QueryRowContext(ctx, x.CursorIsSet()).Scan(&n); err != nil {
			return s.whErr("read the cursor", err)
		}
		windowed = n > 0
	}
	if x, err = s.incrementalBuilder(windowed); err != nil {
		return err
	}
	var total, keyed, distinct int64
	if err := s.wh.DB().QueryRowContext(ctx, x.KeyStats()).Scan(&total, &keyed, &distinct); err != nil {
		return s.whErr("count the evaluated events", err)
	}
	s.run.RowsEvaluated = total
	skip := distinct != total
	if skip {
		var kept int64
		if err := s.wh.DB().QueryRowContext(ctx, x.CountKept()).Scan(&kept); err != nil {
			return s.whErr("count the evaluated events", err)
		}
		s.run.RowsSkipped = total - kept
		if s.run.RowsSkipped > 0 {
			s.run.Warnings = append(s.run.Warnings, fmt.Sprintf(
				"%d events skipped: null or duplicate primary key %q within the lookback window (%d null, %d duplicated)",
				s.run.RowsSkipped, s.model.PrimaryKey, total-keyed, s.run.RowsSkipped-(total-keyed)))
			s.logger.Warn("events skipped: null or duplicate primary key", LogSkipped, s.run.RowsSkipped)
		}
	}
	if err := s.exec(ctx, "drop a stale run table", s.b.DropRun()); err != nil {
		return err
	}
	if err := s.exec(ctx, "select the unsent events of "+s.sourceKind(), x.CreateRun(skip)); err != nil {
		return err
	}
	s.logger.Info("events evaluated", LogRows, total, LogRunType, s.runType())
	s.progress(PhaseEvaluating)
	return nil
}

// foldIncremental commits an incremental run in one transaction (runID "" for the recovery
// of an interrupted run), then prunes the sent events the window left behind.
func (s *syncRun) foldIncremental(ctx context.Context, runID string) error {
	tx, err := s.wh.DB().BeginTx(ctx, nil)
	if err != nil {
		return s.whErr("commit the sent events: begin", err)
	}
	defer func() { _ = tx.Rollback() }()
	for i, q := range s.b.IncrementalFold(runID) {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return s.whErr("commit the sent events", err)
		}
		if i == 0 {
			testPause(PauseInFold)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.whErr("commit the sent events", err)
	}
	x, err := s.incrementalBuilder(true)
	if err != nil {
		return err
	}
	for _, q := range x.PruneSent() {
		if _, err := s.wh.DB().ExecContext(ctx, q); err != nil {
			// The run is committed; the next run prunes again.
			s.logger.Warn("pruning the sent events table failed; the next run prunes it", LogError, err.Error())
			break
		}
	}
	return nil
}
