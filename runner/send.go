package runner

import (
	"context"
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

// send streams the diff, ordered by key, and applies it in batches of the service's size.
// Memory holds at most one batch of records (and one chunk of keys the mode does not send).
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
	rows, err := s.wh.DB().QueryContext(qctx, s.b.Diff(s.names, s.full))
	if err != nil {
		return whErr("read the diff", err)
	}
	defer func() {
		cancelQuery()
		_ = rows.Close()
	}()
	types, err := rows.ColumnTypes()
	if err != nil {
		return whErr("read the diff", err)
	}
	if len(types) != len(s.names)+2 {
		return connectors.Permanent(connectors.CategoryInternal,
			fmt.Errorf("diff returned %d columns, expected %d", len(types), len(s.names)+2))
	}
	vals := make([]any, len(types))
	ptrs := make([]any, len(types))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	batch := make([]destination.Record, 0, batchSize)
	unsent := make([]string, 0, deltasql.AckChunk)
	defer func() {
		// Keys the mode does not send are acknowledged even when the run stops or fails.
		if ferr := s.insertAcks(s.commit, unsent); ferr != nil && err == nil {
			err = ferr
		}
	}()
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return whErr("read the diff", err)
		}
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
			continue
		}
		fields := make(map[string]any, len(s.names))
		for i, name := range s.names {
			fields[name] = warehouse.NormalizeTypedValue(types[i+2].DatabaseTypeName(), vals[i+2])
		}
		batch = append(batch, destination.Record{Key: key, Op: op, Fields: fields})
		if len(batch) < batchSize {
			continue
		}
		if err := s.applyBatch(work, batch); err != nil {
			return err
		}
		batch = batch[:0]
		if s.stop.Err() != nil {
			return errStopped
		}
	}
	if err := rows.Err(); err != nil {
		return whErr("read the diff", err)
	}
	if len(batch) > 0 {
		return s.applyBatch(work, batch)
	}
	return nil
}

// applyBatch sends one batch, retrying a retryable whole-batch failure a few times with
// backoff, then checkpoints its outcomes: acknowledged keys into the ack table, rejected
// records into the rejected table and the run's samples.
func (s *syncRun) applyBatch(ctx context.Context, records []destination.Record) error {
	s.batchNo++
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
			return fmt.Errorf("send batch %d: %w", s.batchNo, err)
		}
		if !connectors.IsRetryable(err) || attempt >= s.r.retries {
			return fmt.Errorf("send batch %d: %w", s.batchNo, err)
		}
		wait := min(s.r.backoff<<attempt, s.r.maxBackoff)
		s.logger.Warn("batch failed; retrying", LogBatch, s.batchNo, LogAttempt, attempt+1,
			LogBackoff, wait.String(), LogCategory, string(connectors.CategoryOf(err)), LogError, err.Error())
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.stop.Done():
			t.Stop()
			return errStopped
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("send batch %d: %w", s.batchNo, err)
		}
	}
	if len(outcomes) != len(records) {
		return connectors.Permanent(connectors.CategoryInternal, fmt.Errorf(
			"send batch %d: destination returned %d outcomes for %d records", s.batchNo, len(outcomes), len(records)))
	}
	s.result.Sent += int64(len(records))
	acked := make([]string, 0, len(records))
	var rejected []rejection
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
		}
	}
	// Checkpoint even if the run is being stopped: these records reached the destination.
	if err := s.insertAcks(s.commit, acked); err != nil {
		return err
	}
	s.run.Acknowledged += int64(len(acked))
	if err := s.insertRejected(s.commit, rejected); err != nil {
		return err
	}
	s.run.Rejected += int64(len(rejected))
	s.logger.Debug("batch applied", LogBatch, s.batchNo, LogSent, len(records), LogAcked, len(acked), LogRejected, len(rejected))
	s.progress(PhaseSending)
	return nil
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
