package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// This file holds the runner's tasks other than activation runs: their schedule, lease and
// history (migration 6).

const taskCols = `kind, object_id, workspace_id, schedule, next_run_at, lease_owner, lease_until`

func scanTask(sc scanner) (*Task, error) {
	var t Task
	var next, until sql.NullInt64
	var owner sql.NullString
	if err := sc.Scan(&t.Kind, &t.ObjectID, &t.WorkspaceID, &t.Schedule, &next, &owner, &until); err != nil {
		return nil, err
	}
	t.NextRunAt = timePtr(next)
	t.LeaseOwner = owner.String
	t.LeaseUntil = timePtr(until)
	return &t, nil
}

// ListTasks returns every task, by kind and object id.
func (s *sqlStore) ListTasks(ctx context.Context) ([]Task, error) {
	return queryAll(ctx, s.ro(), "list tasks", scanTask, `SELECT `+taskCols+` FROM tasks ORDER BY kind, object_id`)
}

// PutTask upserts the task's workspace, schedule and next due time; the lease is untouched.
func (s *sqlStore) PutTask(ctx context.Context, t *Task) error {
	op := fmt.Sprintf("put task %s of %s", t.Kind, t.ObjectID)
	if t.Kind == "" || t.ObjectID == "" || t.WorkspaceID == "" {
		return errEmptyField(op, "kind, object_id and workspace_id")
	}
	if _, err := s.ro().exec(ctx, `INSERT INTO tasks (kind, object_id, workspace_id, schedule, next_run_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (kind, object_id) DO UPDATE SET workspace_id = excluded.workspace_id, schedule = excluded.schedule,
		next_run_at = excluded.next_run_at`,
		t.Kind, t.ObjectID, t.WorkspaceID, t.Schedule, nullMicros(t.NextRunAt)); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// DeleteTask removes the task and its runs in one transaction. A missing task is not an error.
func (s *sqlStore) DeleteTask(ctx context.Context, kind, objectID string) error {
	err := s.inTx(ctx, func(e execer) error {
		if _, err := e.exec(ctx, `DELETE FROM task_runs WHERE kind = ? AND object_id = ?`, kind, objectID); err != nil {
			return err
		}
		_, err := e.exec(ctx, `DELETE FROM tasks WHERE kind = ? AND object_id = ?`, kind, objectID)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete task %s of %s: %w", kind, objectID, err)
	}
	return nil
}

func taskExists(ctx context.Context, e execer, kind, objectID string) (bool, error) {
	var one int
	err := e.row(ctx, `SELECT 1 FROM tasks WHERE kind = ? AND object_id = ?`, kind, objectID).Scan(&one)
	switch {
	case err == nil:
		return true, nil
	case errNoRows(err):
		return false, nil
	default:
		return false, err
	}
}

// AcquireTask takes the lease with one conditional UPDATE, atomic on both back-ends (see
// AcquireLease). With an occurrence, NextRunAt must still be it: that is what makes one
// scheduled occurrence run once across runners.
func (s *sqlStore) AcquireTask(ctx context.Context, kind, objectID, owner string, ttl time.Duration, occurrence *time.Time) (bool, error) {
	op := fmt.Sprintf("acquire task %s of %s", kind, objectID)
	if owner == "" {
		return false, errEmptyField(op, "owner")
	}
	if ttl <= 0 {
		return false, fmt.Errorf("%s: ttl must be positive, got %s", op, ttl)
	}
	t := now()
	q := `UPDATE tasks SET lease_owner = ?, lease_until = ?
		WHERE kind = ? AND object_id = ? AND (lease_owner IS NULL OR lease_owner = '' OR lease_until IS NULL OR lease_until < ? OR lease_owner = ?)`
	args := []any{owner, toMicros(t.Add(ttl)), kind, objectID, toMicros(t), owner}
	if occurrence != nil {
		q += ` AND next_run_at = ?`
		args = append(args, toMicros(*occurrence))
	}
	res, err := s.ro().exec(ctx, q, args...)
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
	ok, err := taskExists(ctx, s.ro(), kind, objectID)
	if err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	if !ok {
		return false, fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	return false, nil
}

// ReleaseTask frees the lease when owner holds it, storing the next due time; when the lease
// went to another runner (it expired), nothing changes.
func (s *sqlStore) ReleaseTask(ctx context.Context, kind, objectID, owner string, next *time.Time) error {
	op := fmt.Sprintf("release task %s of %s", kind, objectID)
	if owner == "" {
		return errEmptyField(op, "owner")
	}
	if _, err := s.ro().exec(ctx, `UPDATE tasks SET lease_owner = NULL, lease_until = NULL, next_run_at = ?
		WHERE kind = ? AND object_id = ? AND lease_owner = ?`, nullMicros(next), kind, objectID, owner); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

const taskRunCols = `id, kind, object_id, workspace_id, object_name, runner_id, trigger_type, status, started_at, finished_at, row_count, message`

func scanTaskRun(sc scanner) (*TaskRun, error) {
	var r TaskRun
	var started int64
	var finished sql.NullInt64
	if err := sc.Scan(&r.ID, &r.Kind, &r.ObjectID, &r.WorkspaceID, &r.ObjectName, &r.RunnerID, &r.Trigger, &r.Status,
		&started, &finished, &r.Rows, &r.Message); err != nil {
		return nil, err
	}
	r.StartedAt = fromMicros(started)
	r.FinishedAt = timePtr(finished)
	return &r, nil
}

// CreateTaskRun inserts r with status running, assigning ID and StartedAt unless set.
func (s *sqlStore) CreateTaskRun(ctx context.Context, r *TaskRun) error {
	if r.Kind == "" || r.ObjectID == "" || r.WorkspaceID == "" {
		return errEmptyField("create task run", "kind, object_id and workspace_id")
	}
	id := r.ID
	if id == "" {
		id = newID(prefixTaskRun)
	}
	started := r.StartedAt
	if started.IsZero() {
		started = now()
	} else {
		started = started.UTC().Truncate(time.Microsecond)
	}
	if _, err := s.ro().exec(ctx, `INSERT INTO task_runs (`+taskRunCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, r.Kind, r.ObjectID, r.WorkspaceID, r.ObjectName, r.RunnerID, r.Trigger, RunRunning, toMicros(started), nil, r.Rows, r.Message); err != nil {
		if violation(err) == violationUnique {
			return fmt.Errorf("create task run %s: %w", id, ErrConflict)
		}
		return fmt.Errorf("create task run: %w", err)
	}
	r.ID, r.StartedAt, r.Status, r.FinishedAt = id, started, RunRunning, nil
	return nil
}

// FinishTaskRun stores the final status (not running), rows and message, and the finish time
// (now unless set). A run that already finished is reported as an error.
func (s *sqlStore) FinishTaskRun(ctx context.Context, r *TaskRun) error {
	op := fmt.Sprintf("finish task run %s", r.ID)
	switch r.Status {
	case RunSucceeded, RunFailed, RunInterrupted:
	default:
		return fmt.Errorf("%s: status must be %s, %s or %s, got %q", op, RunSucceeded, RunFailed, RunInterrupted, r.Status)
	}
	finished := now()
	if r.FinishedAt != nil {
		finished = r.FinishedAt.UTC().Truncate(time.Microsecond)
	}
	res, err := s.ro().exec(ctx, `UPDATE task_runs SET status = ?, finished_at = ?, row_count = ?, message = ? WHERE id = ? AND status = ?`,
		r.Status, toMicros(finished), r.Rows, r.Message, r.ID, RunRunning)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w (missing or already finished)", op, ErrNotFound)
	}
	r.FinishedAt = &finished
	return nil
}

// ListTaskRuns returns task runs newest first: an object's, or a workspace's when objectID is
// empty.
func (s *sqlStore) ListTaskRuns(ctx context.Context, workspaceID, objectID string, limit int) ([]TaskRun, error) {
	if limit <= 0 {
		limit = 50
	}
	q := `SELECT ` + taskRunCols + ` FROM task_runs WHERE workspace_id = ?`
	args := []any{workspaceID}
	if objectID != "" {
		q += ` AND object_id = ?`
		args = append(args, objectID)
	}
	q += ` ORDER BY started_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	return queryAll(ctx, s.ro(), "list task runs", scanTaskRun, q, args...)
}

// MarkInterruptedTaskRuns marks the object's running task runs of that kind interrupted.
func (s *sqlStore) MarkInterruptedTaskRuns(ctx context.Context, kind, objectID string) (int, error) {
	res, err := s.ro().exec(ctx, `UPDATE task_runs SET status = ?, finished_at = ?, message = ?
		WHERE kind = ? AND object_id = ? AND status = ?`,
		RunInterrupted, toMicros(now()), "the runner stopped before the task finished", kind, objectID, RunRunning)
	if err != nil {
		return 0, fmt.Errorf("mark interrupted task runs of %s: %w", objectID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("mark interrupted task runs of %s: %w", objectID, err)
	}
	return int(n), nil
}
