package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// This file holds the runner-side operations: pause state, schedule, leases and runs.

// activationExists distinguishes "no such activation" from "condition not met" after a
// conditional UPDATE changed no row.
func activationExists(ctx context.Context, e execer, id string) (bool, error) {
	var one int
	err := e.row(ctx, `SELECT 1 FROM activations WHERE id = ?`, id).Scan(&one)
	switch {
	case err == nil:
		return true, nil
	case errNoRows(err):
		return false, nil
	default:
		return false, err
	}
}

// SetActivationPause pauses (with reason and by, "user" or "auto") or resumes the activation;
// resuming clears the stored reason and by. The audit entry (pause or resume) carries reason
// and by. UpdatedAt is not bumped: it tracks the declared fields, which the provider compares.
func (s *sqlStore) SetActivationPause(ctx context.Context, id string, paused bool, reason, by string) error {
	action := "resume"
	if paused {
		action = "pause"
	}
	op := fmt.Sprintf("%s activation %s", action, id)
	err := s.inTx(ctx, func(e execer) error {
		var name, ws string
		if err := e.row(ctx, `SELECT name, workspace_id FROM activations WHERE id = ?`+s.lockSuffix(), id).Scan(&name, &ws); err != nil {
			if errNoRows(err) {
				return ErrNotFound
			}
			return err
		}
		storedReason, storedBy := reason, by
		if !paused {
			storedReason, storedBy = "", ""
		}
		if _, err := e.exec(ctx, `UPDATE activations SET paused = ?, pause_reason = ?, paused_by = ? WHERE id = ?`,
			paused, storedReason, storedBy, id); err != nil {
			return err
		}
		details := map[string]any{}
		if reason != "" {
			details["reason"] = reason
		}
		if by != "" {
			details["by"] = by
		}
		return s.audit(ctx, e, AuditEntry{Action: action, ObjectKind: KindActivation, ObjectID: id, ObjectName: name, WorkspaceID: ws, Details: details})
	})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// SetActivationSchedule stores the next run time (nil: not scheduled) and the pending full
// resync flag. Not audited, UpdatedAt not bumped (runner bookkeeping).
func (s *sqlStore) SetActivationSchedule(ctx context.Context, id string, next *time.Time, fullResync bool) error {
	res, err := s.ro().exec(ctx, `UPDATE activations SET next_run_at = ?, full_resync = ? WHERE id = ?`, nullMicros(next), fullResync, id)
	if err != nil {
		return fmt.Errorf("set activation schedule %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("set activation schedule %s: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("set activation schedule %s: %w", id, ErrNotFound)
	}
	return nil
}

// DueActivations lists enabled, unpaused activations with NextRunAt <= now, across all
// workspaces, oldest NextRunAt first. It does not look at leases: the caller takes the lease
// of each activation it starts.
func (s *sqlStore) DueActivations(ctx context.Context, at time.Time) ([]Activation, error) {
	return queryAll(ctx, s.ro(), "list due activations", scanActivation, `SELECT `+activationCols+` FROM activations
		WHERE enabled AND NOT paused AND next_run_at IS NOT NULL AND next_run_at <= ?
		ORDER BY next_run_at, id`, toMicros(at))
}

// AcquireLease takes the lease with one conditional UPDATE, atomic on both back-ends (on
// PostgreSQL a concurrent UPDATE of the row waits and re-checks the condition; on SQLite
// writers are serialised). The lease is free when it has no owner or has expired; expiry uses
// this process's clock, so runner hosts need roughly synchronised clocks (NTP).
func (s *sqlStore) AcquireLease(ctx context.Context, activationID, owner string, ttl time.Duration) (bool, error) {
	op := fmt.Sprintf("acquire lease of activation %s", activationID)
	if owner == "" {
		return false, errEmptyField(op, "owner")
	}
	if ttl <= 0 {
		return false, fmt.Errorf("%s: ttl must be positive, got %s", op, ttl)
	}
	t := now()
	res, err := s.ro().exec(ctx, `UPDATE activations SET lease_owner = ?, lease_until = ?
		WHERE id = ? AND (lease_owner IS NULL OR lease_owner = '' OR lease_until IS NULL OR lease_until < ? OR lease_owner = ?)`,
		owner, toMicros(t.Add(ttl)), activationID, toMicros(t), owner)
	if err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	if n == 1 {
		return true, nil
	}
	ok, err := activationExists(ctx, s.ro(), activationID)
	if err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	if !ok {
		return false, fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	return false, nil
}

// StealLease hands the lease from fromOwner to toOwner until now+ttl with one conditional
// UPDATE, only if fromOwner (or already toOwner) holds it, expired or not. It reports whether
// toOwner holds the lease afterwards.
func (s *sqlStore) StealLease(ctx context.Context, activationID, fromOwner, toOwner string, ttl time.Duration) (bool, error) {
	op := fmt.Sprintf("take over lease of activation %s", activationID)
	if fromOwner == "" {
		return false, errEmptyField(op, "previous owner")
	}
	if toOwner == "" {
		return false, errEmptyField(op, "owner")
	}
	if ttl <= 0 {
		return false, fmt.Errorf("%s: ttl must be positive, got %s", op, ttl)
	}
	res, err := s.ro().exec(ctx, `UPDATE activations SET lease_owner = ?, lease_until = ?
		WHERE id = ? AND (lease_owner = ? OR lease_owner = ?)`,
		toOwner, toMicros(now().Add(ttl)), activationID, fromOwner, toOwner)
	if err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	if n == 1 {
		return true, nil
	}
	ok, err := activationExists(ctx, s.ro(), activationID)
	if err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	if !ok {
		return false, fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	return false, nil
}

// LeaseHolder returns the stored owner and expiry. An expired lease still reports its last
// owner with an expiry in the past; an empty owner means the lease is free.
func (s *sqlStore) LeaseHolder(ctx context.Context, activationID string) (string, time.Time, error) {
	var owner sql.NullString
	var until sql.NullInt64
	if err := s.ro().row(ctx, `SELECT lease_owner, lease_until FROM activations WHERE id = ?`, activationID).Scan(&owner, &until); err != nil {
		if errNoRows(err) {
			return "", time.Time{}, fmt.Errorf("get lease of activation %s: %w", activationID, ErrNotFound)
		}
		return "", time.Time{}, fmt.Errorf("get lease of activation %s: %w", activationID, err)
	}
	if !owner.Valid || owner.String == "" {
		return "", time.Time{}, nil
	}
	var t time.Time
	if until.Valid {
		t = fromMicros(until.Int64)
	}
	return owner.String, t, nil
}

// ReleaseLease frees the lease if owner holds it; otherwise it does nothing (a lease that
// expired and was taken by another runner stays with that runner).
func (s *sqlStore) ReleaseLease(ctx context.Context, activationID, owner string) error {
	op := fmt.Sprintf("release lease of activation %s", activationID)
	if owner == "" {
		return errEmptyField(op, "owner")
	}
	res, err := s.ro().exec(ctx, `UPDATE activations SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?`, activationID, owner)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if n == 0 {
		ok, err := activationExists(ctx, s.ro(), activationID)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if !ok {
			return fmt.Errorf("%s: %w", op, ErrNotFound)
		}
	}
	return nil
}

// ---- runs

const runCols = `id, activation_id, workspace_id, run_type, status, trigger_type, runner_id, started_at, finished_at,
	rows_evaluated, rows_skipped, added, changed, removed, acknowledged, rejected, retryable, requests,
	error_category, error_message, sample_errors, warnings`

func scanRun(sc scanner) (*Run, error) {
	var r Run
	var started int64
	var finished sql.NullInt64
	var samples, warnings string
	if err := sc.Scan(&r.ID, &r.ActivationID, &r.WorkspaceID, &r.RunType, &r.Status, &r.Trigger, &r.RunnerID, &started, &finished,
		&r.RowsEvaluated, &r.RowsSkipped, &r.Added, &r.Changed, &r.Removed, &r.Acknowledged, &r.Rejected, &r.Retryable, &r.Requests,
		&r.ErrorCategory, &r.ErrorMessage, &samples, &warnings); err != nil {
		return nil, err
	}
	r.StartedAt = fromMicros(started)
	r.FinishedAt = timePtr(finished)
	if err := decodeJSON("sample_errors", samples, &r.SampleErrors); err != nil {
		return nil, err
	}
	if err := decodeJSON("warnings", warnings, &r.Warnings); err != nil {
		return nil, err
	}
	return &r, nil
}

// runCounts returns the audit details of a run: its counts.
func runCounts(r *Run) map[string]any {
	return map[string]any{
		"rows_evaluated": r.RowsEvaluated, "rows_skipped": r.RowsSkipped,
		"added": r.Added, "changed": r.Changed, "removed": r.Removed,
		"acknowledged": r.Acknowledged, "rejected": r.Rejected, "retryable": r.Retryable,
		"requests": r.Requests,
	}
}

// CreateRun inserts r with status running. It assigns ID (unless set) and StartedAt (unless
// set), and WorkspaceID from the activation (unless set; it must then match). Audited as
// run.start.
func (s *sqlStore) CreateRun(ctx context.Context, r *Run) error {
	if r.ActivationID == "" {
		return errEmptyField("create run", "activation_id")
	}
	origID := r.ID
	if r.ID == "" {
		r.ID = newID(prefixRun)
	}
	if r.StartedAt.IsZero() {
		r.StartedAt = now()
	} else {
		r.StartedAt = r.StartedAt.UTC().Truncate(time.Microsecond)
	}
	samples, err := encodeJSON("sample_errors", r.SampleErrors)
	if err != nil {
		return fmt.Errorf("create run: %w", err)
	}
	warnings, err := encodeJSON("warnings", r.Warnings)
	if err != nil {
		return fmt.Errorf("create run: %w", err)
	}
	ws := r.WorkspaceID
	err = s.inTx(ctx, func(e execer) error {
		var actWS, actName string
		if err := e.row(ctx, `SELECT workspace_id, name FROM activations WHERE id = ?`, r.ActivationID).Scan(&actWS, &actName); err != nil {
			if errNoRows(err) {
				return fmt.Errorf("activation %s: %w", r.ActivationID, ErrNotFound)
			}
			return err
		}
		if ws == "" {
			ws = actWS
		} else if ws != actWS {
			return fmt.Errorf("workspace_id %s does not match the activation's workspace %s", ws, actWS)
		}
		if _, err := e.exec(ctx, `INSERT INTO runs (`+runCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.ActivationID, ws, r.RunType, RunRunning, r.Trigger, r.RunnerID, toMicros(r.StartedAt), nil,
			r.RowsEvaluated, r.RowsSkipped, r.Added, r.Changed, r.Removed, r.Acknowledged, r.Rejected, r.Retryable, r.Requests,
			r.ErrorCategory, r.ErrorMessage, samples, warnings); err != nil {
			if violation(err) == violationUnique {
				return fmt.Errorf("run %s: %w", r.ID, ErrConflict)
			}
			return err
		}
		return s.audit(ctx, e, AuditEntry{Action: "run.start", ObjectKind: KindRun, ObjectID: r.ID, ObjectName: actName, WorkspaceID: ws,
			Details: map[string]any{"activation_id": r.ActivationID, "run_type": r.RunType, "trigger": r.Trigger, "runner_id": r.RunnerID}})
	})
	if err != nil {
		r.ID = origID
		return fmt.Errorf("create run: %w", err)
	}
	r.WorkspaceID, r.Status, r.FinishedAt = ws, RunRunning, nil
	return nil
}

// UpdateRunProgress stores the counts of a running run (not audited). A run that already
// finished is left alone and reported as an error.
func (s *sqlStore) UpdateRunProgress(ctx context.Context, r *Run) error {
	op := fmt.Sprintf("update progress of run %s", r.ID)
	res, err := s.ro().exec(ctx, `UPDATE runs SET rows_evaluated = ?, rows_skipped = ?, added = ?, changed = ?, removed = ?,
		acknowledged = ?, rejected = ?, retryable = ?, requests = ? WHERE id = ? AND status = ?`,
		r.RowsEvaluated, r.RowsSkipped, r.Added, r.Changed, r.Removed, r.Acknowledged, r.Rejected, r.Retryable, r.Requests, r.ID, RunRunning)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if n == 0 {
		var status string
		if err := s.ro().row(ctx, `SELECT status FROM runs WHERE id = ?`, r.ID).Scan(&status); err != nil {
			if errNoRows(err) {
				return fmt.Errorf("%s: %w", op, ErrNotFound)
			}
			return fmt.Errorf("%s: %w", op, err)
		}
		return fmt.Errorf("%s: run is %s, not running", op, status)
	}
	return nil
}

// finalStatuses are the statuses FinishRun accepts.
var finalStatuses = map[string]bool{RunSucceeded: true, RunWarning: true, RunFailed: true, RunInterrupted: true, RunBlocked: true}

// FinishRun stores r's final status, counts, errors and warnings, and FinishedAt (now unless
// set). Audited as run.finish with the status, the counts and the error category.
func (s *sqlStore) FinishRun(ctx context.Context, r *Run) error {
	op := fmt.Sprintf("finish run %s", r.ID)
	if !finalStatuses[r.Status] {
		return fmt.Errorf("%s: status must be one of %s, %s, %s, %s or %s, got %q", op, RunSucceeded, RunWarning, RunFailed, RunInterrupted, RunBlocked, r.Status)
	}
	finished := now()
	if r.FinishedAt != nil {
		finished = r.FinishedAt.UTC().Truncate(time.Microsecond)
	}
	samples, err := encodeJSON("sample_errors", r.SampleErrors)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	warnings, err := encodeJSON("warnings", r.Warnings)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	err = s.inTx(ctx, func(e execer) error {
		var activationID, ws, actName string
		if err := e.row(ctx, `SELECT r.activation_id, r.workspace_id, a.name FROM runs r JOIN activations a ON a.id = r.activation_id WHERE r.id = ?`, r.ID).
			Scan(&activationID, &ws, &actName); err != nil {
			if errNoRows(err) {
				return ErrNotFound
			}
			return err
		}
		if _, err := e.exec(ctx, `UPDATE runs SET status = ?, finished_at = ?, rows_evaluated = ?, rows_skipped = ?, added = ?, changed = ?,
			removed = ?, acknowledged = ?, rejected = ?, retryable = ?, requests = ?, error_category = ?, error_message = ?,
			sample_errors = ?, warnings = ? WHERE id = ?`,
			r.Status, toMicros(finished), r.RowsEvaluated, r.RowsSkipped, r.Added, r.Changed, r.Removed, r.Acknowledged, r.Rejected,
			r.Retryable, r.Requests, r.ErrorCategory, r.ErrorMessage, samples, warnings, r.ID); err != nil {
			return err
		}
		details := runCounts(r)
		details["status"] = r.Status
		details["activation_id"] = activationID
		if r.ErrorCategory != "" {
			details["error_category"] = r.ErrorCategory
		}
		return s.audit(ctx, e, AuditEntry{Action: "run.finish", ObjectKind: KindRun, ObjectID: r.ID, ObjectName: actName, WorkspaceID: ws, Details: details})
	})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	r.FinishedAt = &finished
	return nil
}

// GetRun returns the run with that ID.
func (s *sqlStore) GetRun(ctx context.Context, id string) (*Run, error) {
	r, err := scanRun(s.ro().row(ctx, `SELECT `+runCols+` FROM runs WHERE id = ?`, id))
	if err != nil {
		if errNoRows(err) {
			return nil, fmt.Errorf("get run %s: %w", id, ErrNotFound)
		}
		return nil, fmt.Errorf("get run %s: %w", id, err)
	}
	return r, nil
}

// ListRuns returns the activation's runs, newest StartedAt first (limit <= 0: 50). An unknown
// activation has no runs.
func (s *sqlStore) ListRuns(ctx context.Context, activationID string, limit int) ([]Run, error) {
	if limit <= 0 {
		limit = 50
	}
	return queryAll(ctx, s.ro(), "list runs of activation "+activationID, scanRun,
		`SELECT `+runCols+` FROM runs WHERE activation_id = ? ORDER BY started_at DESC, id DESC LIMIT ?`, activationID, limit)
}

// MarkInterruptedRuns sets the activation's running runs to interrupted, with FinishedAt now.
// Only the lease holder may call it (any running run then belongs to a dead runner).
func (s *sqlStore) MarkInterruptedRuns(ctx context.Context, activationID string) (int, error) {
	res, err := s.ro().exec(ctx, `UPDATE runs SET status = ?, finished_at = ? WHERE activation_id = ? AND status = ?`,
		RunInterrupted, toMicros(now()), activationID, RunRunning)
	if err != nil {
		return 0, fmt.Errorf("mark interrupted runs of activation %s: %w", activationID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("mark interrupted runs of activation %s: %w", activationID, err)
	}
	return int(n), nil
}

// SetActivationApproval records (approved) or consumes (!approved) the approval that lets
// the activation's next run pass its removal guards. Recording it is audited as approve;
// consuming it is part of the run, which is audited itself.
func (s *sqlStore) SetActivationApproval(ctx context.Context, id string, approved bool) error {
	op := fmt.Sprintf("set activation approval %s", id)
	err := s.inTx(ctx, func(e execer) error {
		var name, ws string
		if err := e.row(ctx, `SELECT name, workspace_id FROM activations WHERE id = ?`+s.lockSuffix(), id).Scan(&name, &ws); err != nil {
			if errNoRows(err) {
				return ErrNotFound
			}
			return err
		}
		if _, err := e.exec(ctx, `UPDATE activations SET removals_approved = ? WHERE id = ?`, approved, id); err != nil {
			return err
		}
		if !approved {
			return nil
		}
		return s.audit(ctx, e, AuditEntry{Action: "approve", ObjectKind: KindActivation, ObjectID: id, ObjectName: name, WorkspaceID: ws,
			Details: map[string]any{"scope": "next run"}})
	})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}
