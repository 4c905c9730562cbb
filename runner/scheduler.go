package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"dinmo/catalog"
)

// Scheduler starts the runs of due activations with bounded concurrency. Interval schedules
// run at multiples of their period measured from the previous planned time, so a runner that
// was down runs a missed activation once on start, not once per missed period. Manual
// schedules are never due.
type Scheduler struct {
	r   *Runner
	sem chan struct{}
	wg  sync.WaitGroup
}

// NewScheduler returns a scheduler running at most concurrency activations at once (at least 1).
func (r *Runner) NewScheduler(concurrency int) *Scheduler {
	return &Scheduler{r: r, sem: make(chan struct{}, max(concurrency, 1))}
}

// NextRun returns the first multiple of every after prev that is later than now; with no
// previous time, now+every.
func NextRun(prev *time.Time, every time.Duration, now time.Time) time.Time {
	if prev == nil || every <= 0 {
		return now.Add(every)
	}
	if prev.After(now) {
		return *prev
	}
	steps := int64(now.Sub(*prev)/every) + 1
	return prev.Add(every * time.Duration(steps))
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
		if a.Schedule.Type != catalog.ScheduleInterval || a.Schedule.Every <= 0 {
			// No longer an interval schedule: unschedule it.
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
		if !fresh.Enabled || fresh.Paused || fresh.NextRunAt == nil || fresh.NextRunAt.After(now) ||
			fresh.Schedule.Type != catalog.ScheduleInterval || fresh.Schedule.Every <= 0 {
			return false, nil
		}
		next := NextRun(fresh.NextRunAt, fresh.Schedule.Every, now)
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

// initSchedules gives enabled interval activations without a next run time one (now): a new
// activation runs at once, then every period.
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
			if a.NextRunAt == nil && a.Enabled && a.Schedule.Type == catalog.ScheduleInterval && a.Schedule.Every > 0 {
				if err := s.r.store.SetActivationSchedule(ctx, a.ID, &now, a.FullResyncRequested); err != nil {
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
