package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"dinmo/catalog"
	"dinmo/schedule"
)

// Scheduler starts the runs of due activations with bounded concurrency. It follows the
// contract of package schedule: a newly scheduled activation gets next = FirstDue(now); when
// next <= now it starts one run and sets next = NextAfterMissed(next, now), which is after now,
// so a runner that was down runs a missed activation once on start, not once per missed
// occurrence. Manual schedules are never due.
type Scheduler struct {
	r   *Runner
	sem chan struct{}
	wg  sync.WaitGroup
}

// NewScheduler returns a scheduler running at most concurrency activations at once (at least 1).
func (r *Runner) NewScheduler(concurrency int) *Scheduler {
	return &Scheduler{r: r, sem: make(chan struct{}, max(concurrency, 1))}
}

// NextRun returns when an activation that was due at prev (nil: never scheduled) runs next,
// seen at now: FirstDue(now) without a previous time, prev itself while it is in the future,
// else NextAfterMissed(prev, now). False for a manual or invalid schedule.
func NextRun(s schedule.Schedule, prev *time.Time, now time.Time) (time.Time, bool) {
	switch {
	case prev == nil:
		return s.FirstDue(now)
	case prev.After(now):
		if _, ok := s.Next(now); !ok {
			return time.Time{}, false
		}
		return *prev, true
	default:
		return s.NextAfterMissed(*prev, now)
	}
}

// Tick checks once for due activations and starts a run for each, as long as slots are free.
// Runs continue in the background with ctx; Wait waits for them. It returns how many runs it
// started (a started run may still find the activation taken by another runner and skip it).
func (s *Scheduler) Tick(ctx context.Context) (int, error) {
	r := s.r
	now := r.now()
	if err := s.initSchedules(ctx, now); err != nil {
		r.logger.Warn("scheduling new interval activations failed", LogError, err.Error())
	}
	due, err := r.store.DueActivations(ctx, now)
	if err != nil {
		return 0, fmt.Errorf("list due activations: %w", err)
	}
	started := 0
	for i := range due {
		a := due[i]
		if _, ok := a.Schedule.Next(now); !ok {
			// Manual (or not a valid schedule any more): unschedule it.
			if err := r.store.SetActivationSchedule(ctx, a.ID, nil, a.FullResyncRequested); err != nil {
				r.logger.Warn("unscheduling a manual activation failed", LogActivationID, a.ID, LogError, err.Error())
			}
			continue
		}
		select {
		case s.sem <- struct{}{}:
		default:
			return started, nil // every slot busy: the rest waits for a later tick
		}
		if !r.markRunning(a.ID) {
			<-s.sem
			continue
		}
		started++
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.sem }()
			defer r.unmarkRunning(a.ID)
			s.runDue(ctx, &a)
		}()
	}
	return started, nil
}

// runDue runs one due activation, unless another runner ran it since it was listed.
func (s *Scheduler) runDue(ctx context.Context, a *catalog.Activation) {
	r := s.r
	beforeRun := func(fresh *catalog.Activation) (bool, error) {
		now := r.now()
		if !fresh.Enabled || fresh.Paused || fresh.NextRunAt == nil || fresh.NextRunAt.After(now) {
			return false, nil
		}
		next, ok := fresh.Schedule.NextAfterMissed(*fresh.NextRunAt, now)
		if !ok {
			return false, r.store.SetActivationSchedule(ctx, fresh.ID, nil, fresh.FullResyncRequested)
		}
		if err := r.store.SetActivationSchedule(ctx, fresh.ID, &next, fresh.FullResyncRequested); err != nil {
			return false, fmt.Errorf("schedule next run: %w", err)
		}
		r.logger.Debug("scheduled run starting", LogActivationID, fresh.ID, LogActivation, fresh.Name, LogNextRun, next.UTC().Format(time.RFC3339))
		return true, nil
	}
	_, err := r.runMarked(ctx, a, RunOptions{Trigger: TriggerSchedule}, beforeRun)
	var busy *BusyError
	switch {
	case err == nil:
	case errors.As(err, &busy):
		r.logger.Debug("activation busy elsewhere", LogActivation, a.Name, LogHolder, busy.Holder)
	case errors.Is(err, errStopped):
	default:
		// The run's own failure is already logged and recorded; this covers what happens
		// before a run exists (catalog errors).
		r.logger.Debug("scheduled run ended with an error", LogActivation, a.Name, LogError, err.Error())
	}
}

// initSchedules gives enabled scheduled activations without a next run time their first due
// time (schedule.FirstDue): an unanchored interval runs at once, then every period; the
// other types at their next occurrence.
func (s *Scheduler) initSchedules(ctx context.Context, now time.Time) error {
	wss, err := s.r.store.ListWorkspaces(ctx)
	if err != nil {
		return err
	}
	for _, ws := range wss {
		acts, err := s.r.store.ListActivations(ctx, ws.ID)
		if err != nil {
			return err
		}
		for _, a := range acts {
			if a.NextRunAt != nil || !a.Enabled {
				continue
			}
			if first, ok := a.Schedule.FirstDue(now); ok {
				if err := s.r.store.SetActivationSchedule(ctx, a.ID, &first, a.FullResyncRequested); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Wait blocks until every run the scheduler started has ended.
func (s *Scheduler) Wait() { s.wg.Wait() }

// Loop ticks every poll until ctx is done, then waits for the runs in progress (they stop
// between batches and commit what was acknowledged).
func (s *Scheduler) Loop(ctx context.Context, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if _, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.r.logger.Error("scheduler tick failed", LogError, err.Error())
		}
		select {
		case <-ctx.Done():
			s.Wait()
			return
		case <-t.C:
		}
	}
}
