package runner

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"dinmo/catalog"
	"dinmo/connectors"
	"dinmo/connectors/destination"
	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/deltasql"
)

// requestCounter is implemented by destinations that count the API calls they make (retries
// included); without it the runner counts Apply calls.
type requestCounter interface {
	Requests() int64
}

// rejection is one rejected record, for the rejected table.
type rejection struct {
	key, op, reason string
}

// send reads the diff, ordered by key, and applies it in batches of the service's size. Memory
// holds at most one batch of records, one chunk of keys the mode does not send and, on DuckDB,
// one page of the diff (deltasql.ReadDiff).
// It stops between batches when the run is asked to stop.
func (s *syncRun) send(work context.Context) (err error) {
	if s.diffRows == 0 {
		return nil // nothing changed: no query, no destination call
	}
	if s.toSend > 0 {
		if err := s.openDestination(work); err != nil {
			return err
		}
	}
	batchSize := destination.BatchSize(s.service, s.settings)
	s.logger.Debug("sending", LogBatchSize, batchSize)

	// The query has its own context: stopping early cancels it, so closing the rows does not
	// read the rest of a large diff.
	qctx, cancelQuery := context.WithCancel(work)
	defer cancelQuery()
	batch := make([]destination.Record, 0, batchSize)
	unsent := make([]string, 0, deltasql.AckChunk)
	defer func() {
		// Keys the mode does not send are acknowledged even when the run stops or fails.
		if ferr := s.insertAcks(s.commit, unsent); ferr != nil && err == nil {
			err = ferr
		}
	}()
	row := func(types []*sql.ColumnType, vals []any) error {
		kind := deltasql.Kind(scanString(vals[0]))
		key := scanString(vals[1])
		op, ok := Operation(s.mode, kind, s.full)
		if !ok {
			unsent = append(unsent, key)
			s.result.NotSent++
			if len(unsent) == cap(unsent) {
				if err := s.insertAcks(s.commit, unsent); err != nil {
					return err
				}
				unsent = unsent[:0]
			}
			return nil
		}
		fields := make(map[string]any, len(s.names))
		for i, name := range s.names {
			fields[name] = warehouse.NormalizeTypedValue(types[i+2].DatabaseTypeName(), vals[i+2])
		}
		batch = append(batch, destination.Record{Key: key, Op: op, Fields: fields})
		if len(batch) < batchSize {
			return nil
		}
		if err := s.applyBatch(work, batch); err != nil {
			return err
		}
		batch = batch[:0]
		if s.stop.Err() != nil {
			return errStopped
		}
		return nil
	}
	if s.incremental {
		// In time order, so a stop leaves no gap before the cursor.
		err = s.b.ReadIncrementalDiff(qctx, s.wh.DB(), s.names, row)
	} else {
		err = s.b.ReadDiff(qctx, s.wh.DB(), s.names, s.full, row)
	}
	if re := (*deltasql.ReadError)(nil); errors.As(err, &re) {
		return s.whErr("read the diff", re.Err)
	}
	if errors.Is(err, deltasql.ErrDiffShape) {
		return connectors.Permanent(connectors.CategoryInternal, err)
	}
	if err != nil {
		return err
	}
	if len(batch) > 0 {
		return s.applyBatch(work, batch)
	}
	return nil
}

// applyBatch sends one batch and checkpoints its outcomes: acknowledged keys into the ack
// table, rejected records into the rejected table and the run's samples. Records the
// destination answers as retryable are sent again within the run, with backoff, up to
// BatchRetries times; those still retryable then are left for the next run (they are neither
// acknowledged nor rejected, so the snapshot keeps their old state).
func (s *syncRun) applyBatch(ctx context.Context, records []destination.Record) error {
	s.batchNo++
	s.result.Sent += int64(len(records))
	for attempt := 0; ; attempt++ {
		retry, err := s.applyOnce(ctx, records)
		if err != nil || len(retry) == 0 {
			return err
		}
		if attempt >= s.r.retries {
			s.logger.Warn("records still retryable after the run's retries; the next run sends them again",
				LogBatch, s.batchNo, LogRetryable, len(retry))
			return nil
		}
		wait := min(s.r.backoff<<attempt, s.r.maxBackoff)
		s.logger.Info("records answered retryable; sending them again", LogBatch, s.batchNo, LogRetryable, len(retry),
			LogAttempt, attempt+1, LogBackoff, wait.String())
		if err := s.sleep(ctx, wait); err != nil {
			return err
		}
		records = retry
	}
}

// sleep waits d, or returns errStopped when the run is asked to stop, or ctx's error.
func (s *syncRun) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-s.stop.Done():
		return errStopped
	case <-ctx.Done():
		return fmt.Errorf("send batch %d: %w", s.batchNo, ctx.Err())
	}
}

// applyOnce sends records, retrying a retryable whole-batch failure a few times with
// backoff, checkpoints the acknowledged and rejected outcomes, and returns the records the
// destination answered as retryable.
func (s *syncRun) applyOnce(ctx context.Context, records []destination.Record) ([]destination.Record, error) {
	var outcomes []destination.Outcome
	for attempt := 0; ; attempt++ {
		out, err := s.dest.Apply(ctx, destination.Batch{RunID: s.run.ID, ActivationID: s.act.ID, Records: records})
		s.applies++
		s.countRequests()
		if err == nil {
			outcomes = out
			break
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("send batch %d: %w", s.batchNo, err)
		}
		if !connectors.IsRetryable(err) || attempt >= s.r.retries {
			return nil, fmt.Errorf("send batch %d: %w", s.batchNo, err)
		}
		wait := min(s.r.backoff<<attempt, s.r.maxBackoff)
		s.logger.Warn("batch failed; retrying", LogBatch, s.batchNo, LogAttempt, attempt+1,
			LogBackoff, wait.String(), LogCategory, string(connectors.CategoryOf(err)), LogError, err.Error())
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.stop.Done():
			t.Stop()
			return nil, errStopped
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("send batch %d: %w", s.batchNo, err)
		}
	}
	if len(outcomes) != len(records) {
		return nil, connectors.Permanent(connectors.CategoryInternal, fmt.Errorf(
			"send batch %d: destination returned %d outcomes for %d records", s.batchNo, len(outcomes), len(records)))
	}
	acked := make([]string, 0, len(records))
	var rejected []rejection
	var retry []destination.Record
	for i, o := range outcomes {
		rec := records[i]
		switch o.Status {
		case destination.Acknowledged:
			acked = append(acked, rec.Key)
		case destination.Rejected:
			reason := truncate(o.Reason, maxReasonLen)
			if reason == "" {
				reason = "rejected by the destination (no reason given)"
			}
			rejected = append(rejected, rejection{key: rec.Key, op: string(rec.Op), reason: reason})
			if len(s.run.SampleErrors) < maxSampleErrors {
				s.run.SampleErrors = append(s.run.SampleErrors, catalog.SampleError{Key: rec.Key, Reason: reason})
			}
		default:
			retry = append(retry, rec)
		}
	}
	// Checkpoint even if the run is being stopped: these records reached the destination.
	if err := s.insertAcks(s.commit, acked); err != nil {
		return nil, err
	}
	s.run.Acknowledged += int64(len(acked))
	if err := s.insertRejected(s.commit, rejected); err != nil {
		return nil, err
	}
	s.run.Rejected += int64(len(rejected))
	s.logger.Debug("batch applied", LogBatch, s.batchNo, LogSent, len(records), LogAcked, len(acked), LogRejected, len(rejected), LogRetryable, len(retry))
	s.progress(PhaseSending)
	return retry, nil
}

func (s *syncRun) countRequests() {
	if rc, ok := s.dest.(requestCounter); ok {
		s.run.Requests = rc.Requests()
	}
}

// insertAcks checkpoints acknowledged keys, in chunks below the parameter limits.
func (s *syncRun) insertAcks(ctx context.Context, keys []string) error {
	for len(keys) > 0 {
		n := min(len(keys), deltasql.AckChunk)
		q, args := s.b.InsertAcks(keys[:n])
		if err := s.exec(ctx, "checkpoint acknowledged records", q, args...); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// insertRejected appends rejected records to the activation's rejected table.
func (s *syncRun) insertRejected(ctx context.Context, recs []rejection) error {
	now := s.r.now().UTC()
	for len(recs) > 0 {
		n := min(len(recs), deltasql.RejectedChunk)
		args := make([]any, 0, n*deltasql.RejectedColumns)
		for _, r := range recs[:n] {
			args = append(args, r.key, r.op, r.reason, s.run.ID, now)
		}
		if err := s.exec(ctx, "store rejected records", s.b.InsertRejected(n), args...); err != nil {
			return err
		}
		recs = recs[n:]
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
		cut--
	}
	return s[:cut] + "…"
}
