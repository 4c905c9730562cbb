package runner

import (
	"context"
	"fmt"

	"dinmo/connectors/warehouse/deltasql"
)

// Guards that can stop a run.
const (
	GuardMassRemoval = "mass_removal"
	GuardEmptyResult = "empty_result"
)

// ErrorCategoryGuard is the error category recorded on a run a guard blocked.
const ErrorCategoryGuard = "guard"

// GuardError ends a run a guard stopped before it sent anything. The run is recorded with
// status catalog.RunBlocked; nothing is sent and the snapshot is unchanged, so the next
// run (after `dinmo-runner approve`, or once the data is right again) sees the same diff.
type GuardError struct {
	// Guard is GuardMassRemoval or GuardEmptyResult.
	Guard string
	// Message explains what was stopped and how to approve it.
	Message string
}

func (e *GuardError) Error() string { return e.Message }

// approveHint names the command that lets the next run through.
func approveHint(ws, act string) string {
	return fmt.Sprintf("if this is intended, run `dinmo-runner approve %s/%s` and the next run proceeds; otherwise fix the data or the segment", ws, act)
}

// checkGuards runs after the diff is counted and before anything is sent: a run that would
// empty a non-empty destination or remove more than the activation's threshold of its
// snapshot stops with a *GuardError, unless an approval is pending, which this run uses up.
func (s *syncRun) checkGuards(ctx context.Context) error {
	g := s.act.Guards.Values()
	kept := s.run.RowsEvaluated - s.run.RowsSkipped
	// The snapshot holds the keys the run saw unchanged or changed, plus the removed ones.
	snapshot := kept - s.run.Added + s.run.Removed
	_, removalsSent := Operation(s.mode, deltasql.Removed, s.full)
	var blocked *GuardError
	switch {
	case g.BlockEmptyResult && kept == 0 && snapshot > 0:
		blocked = &GuardError{Guard: GuardEmptyResult, Message: fmt.Sprintf(
			"blocked by the empty-result guard: %s returned no rows while the previous run committed %d; nothing was sent. %s",
			s.sourceKind(), snapshot, approveHint(s.ws.Name, s.act.Name))}
	case removalsSent && snapshot > 0 && snapshot >= g.MinSnapshotForRemovalGuard &&
		float64(s.run.Removed)*100 > g.MaxRemovalPercent*float64(snapshot):
		blocked = &GuardError{Guard: GuardMassRemoval, Message: fmt.Sprintf(
			"blocked by the mass-removal guard: this run would remove %d of %d records (%.1f%%, more than the activation's max_removal_percent of %g%%); nothing was sent. %s",
			s.run.Removed, snapshot, float64(s.run.Removed)*100/float64(snapshot), g.MaxRemovalPercent, approveHint(s.ws.Name, s.act.Name))}
	}
	if !s.act.RemovalsApproved {
		if blocked != nil {
			s.logger.Warn("run blocked by a guard", LogGuard, blocked.Guard, LogRemoved, s.run.Removed, LogRows, kept)
			return blocked
		}
		return nil
	}
	// An approval covers the next run only: use it up whether or not this run needed it.
	if err := s.r.store.SetActivationApproval(ctx, s.act.ID, false); err != nil {
		return fmt.Errorf("use the approval of activation %s: %w", s.act.Name, err)
	}
	if blocked != nil {
		s.run.Warnings = append(s.run.Warnings, fmt.Sprintf("the %s guard was passed by approval: %d records removed of %d",
			blocked.Guard, s.run.Removed, snapshot))
		s.logger.Warn("guard passed by approval", LogGuard, blocked.Guard, LogRemoved, s.run.Removed)
	}
	return nil
}

// rejectedWarning returns the warning of a run whose rejected share of the records it sent
// exceeds the activation's threshold ("" when it does not).
func (s *syncRun) rejectedWarning() string {
	if s.run.Rejected == 0 {
		return ""
	}
	pct := s.act.Guards.Values().RejectedWarningPercent
	sent := max(s.result.Sent, s.run.Rejected)
	share := float64(s.run.Rejected) * 100 / float64(sent)
	if share <= pct {
		return ""
	}
	return fmt.Sprintf("%d records rejected by the destination (%.1f%% of %d sent, above the activation's rejected_warning_percent of %g%%): see table %s",
		s.run.Rejected, share, sent, pct, s.result.RejectedTable)
}
