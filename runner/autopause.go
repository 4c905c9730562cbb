package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"dinmo/alert"
	"dinmo/catalog"
	"dinmo/connectors"
	"dinmo/connectors/destination"
	"dinmo/connectors/warehouse"
)

// Entities an automatic pause can blame (spec §6.8: the UI says which entity type is at
// fault).
const (
	EntitySource      = "source"
	EntityModel       = "model"
	EntitySegment     = "segment"
	EntityDestination = "destination"
)

// Who paused an activation (catalog.Activation.PausedBy).
const (
	PausedByAuto = "auto"
	PausedByUser = "user"
)

// brokenError marks a run failure caused by a broken dependency: the source cannot be
// reached, the model's or segment's view is gone. It keeps the error's category.
type brokenError struct {
	entity string
	name   string
	err    error
}

func (e *brokenError) Error() string { return e.err.Error() }
func (e *brokenError) Unwrap() error { return e.err }

func broken(entity, name string, err error) error {
	return &brokenError{entity: entity, name: name, err: err}
}

// viewEntity and viewOwner name what owns the view the run reads: its segment, or its model.
func (s *syncRun) viewEntity() string {
	if s.segment != nil {
		return EntitySegment
	}
	return EntityModel
}

func (s *syncRun) viewOwner() string {
	if s.segment != nil {
		return s.segment.Name
	}
	return s.model.Name
}

// maxPauseReason bounds the stored pause reason.
const maxPauseReason = 300

// pauseCause returns the entity to blame when a failed run means the activation cannot work
// until something is fixed: the source unreachable or refusing the credentials, the view of
// its model or segment missing, or the destination refusing the credentials. Other failures
// (rate limits, timeouts, a rejected batch) are left to the next run.
func pauseCause(runErr error, destName string) (entity, name string, ok bool) {
	cat := connectors.CategoryOf(runErr)
	var be *brokenError
	if errors.As(runErr, &be) {
		switch cat {
		case connectors.CategoryConnection, connectors.CategoryCredentials, connectors.CategoryNotFound:
			return be.entity, be.name, true
		}
		return "", "", false
	}
	if cat == connectors.CategoryCredentials {
		return EntityDestination, destName, true
	}
	return "", "", false
}

// autoPause pauses the activation after a failed run whose cause is a broken dependency,
// with a reason naming the entity type, and alerts. The periodic check resumes it.
func (s *syncRun) autoPause(ctx context.Context, runErr error) {
	destName := ""
	if s.destRec != nil {
		destName = s.destRec.Name
	}
	entity, name, ok := pauseCause(runErr, destName)
	if !ok || (s.act.Paused && s.act.PausedBy == PausedByUser) {
		return // a user's pause (a manual run of a paused activation) stays the user's
	}
	reason := truncateText(fmt.Sprintf("%s %s is broken (%s): %s", entity, name, connectors.CategoryOf(runErr), s.run.ErrorMessage), maxPauseReason)
	if err := s.r.store.SetActivationPause(ctx, s.act.ID, true, reason, PausedByAuto); err != nil {
		s.logger.Error("pausing the activation after a broken dependency failed", LogError, err.Error())
		return
	}
	s.act.Paused, s.act.PausedBy, s.act.PauseReason = true, PausedByAuto, reason
	s.logger.Warn("activation paused automatically; the periodic check resumes it once its dependencies work again",
		LogEntity, entity, LogCategory, string(connectors.CategoryOf(runErr)))
	s.r.notify(s.ws, alert.Event{Kind: alert.KindActivationPaused, Workspace: s.ws.Name, Activation: s.act.Name,
		RunID: s.run.ID, Category: string(connectors.CategoryOf(runErr)), Message: reason, At: s.r.now()})
}

func truncateText(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// CheckResult is the outcome of the dependency check of one automatically paused activation.
type CheckResult struct {
	Workspace  string
	Activation string
	// Resumed is true when every check passed and the activation was resumed.
	Resumed bool
	// Problem says what still fails (entity type first) when not resumed.
	Problem string
}

// DefaultCheckInterval is how often Serve re-checks automatically paused activations.
const DefaultCheckInterval = 24 * time.Hour

// checkTimeout bounds the checks of one activation.
const checkTimeout = 2 * time.Minute

// CheckPaused re-tests every activation the runner paused itself (in the workspace with that
// id, or in all when empty): the source answers a ping, the model's or segment's view exists,
// and the destination platform accepts the settings and credentials. Those that pass are
// resumed (audited, alerted). Activations a user paused are left alone.
func (r *Runner) CheckPaused(ctx context.Context, workspaceID string) ([]CheckResult, error) {
	var wss []catalog.Workspace
	if workspaceID != "" {
		ws, err := r.store.GetWorkspace(ctx, workspaceID)
		if err != nil {
			return nil, fmt.Errorf("check paused activations: %w", err)
		}
		wss = []catalog.Workspace{*ws}
	} else {
		var err error
		if wss, err = r.store.ListWorkspaces(ctx); err != nil {
			return nil, fmt.Errorf("check paused activations: %w", err)
		}
	}
	ctx = catalog.WithActor(ctx, "runner:"+r.id)
	var out []CheckResult
	for i := range wss {
		ws := &wss[i]
		acts, err := r.store.ListActivations(ctx, ws.ID)
		if err != nil {
			return out, fmt.Errorf("check paused activations of %s: %w", ws.Name, err)
		}
		for j := range acts {
			a := &acts[j]
			if !a.Paused || a.PausedBy != PausedByAuto {
				continue
			}
			res := CheckResult{Workspace: ws.Name, Activation: a.Name}
			logger := r.logger.With(LogWorkspace, ws.Name, LogActivation, a.Name, LogActivationID, a.ID)
			if err := r.checkDependencies(ctx, ws, a, logger); err != nil {
				res.Problem = err.Error()
				logger.Info("automatically paused activation still broken", LogError, err.Error())
				out = append(out, res)
				continue
			}
			if err := r.store.SetActivationPause(ctx, a.ID, false, "checks passed: source, view and destination work again", PausedByAuto); err != nil {
				return out, fmt.Errorf("resume %s/%s: %w", ws.Name, a.Name, err)
			}
			res.Resumed = true
			logger.Info("activation resumed automatically: its dependencies work again")
			r.notify(ws, alert.Event{Kind: alert.KindActivationResumed, Workspace: ws.Name, Activation: a.Name,
				Message: "checks passed: the source, the view and the destination work again (it was paused: " + a.PauseReason + ")", At: r.now()})
			out = append(out, res)
		}
	}
	return out, nil
}

// checkDependencies runs the checks of one activation; the error names the entity type at
// fault first.
func (r *Runner) checkDependencies(ctx context.Context, ws *catalog.Workspace, a *catalog.Activation, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	s := &syncRun{r: r, ws: ws, act: a, logger: logger}
	if err := s.resolve(ctx); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if err := s.checkSource(ctx); err != nil {
		return err
	}
	creds, err := r.sealer.ResolveAll(s.destRec.Credentials)
	if err != nil {
		return fmt.Errorf("%s %s: %w", EntityDestination, s.destRec.Name, err)
	}
	if err := s.platform.Check(ctx, destination.OpenParams{
		Service: s.service.Name, Settings: s.settings, Options: destination.ApplyDefaults(s.service.Options, a.Options),
		BaseURL: s.destRec.BaseURL, Credentials: creds, ActivationID: a.ID, ActivationName: a.Name, Logger: logger,
	}); err != nil {
		return fmt.Errorf("%s %s: %w", EntityDestination, s.destRec.Name, err)
	}
	return nil
}

// checkSource pings the source and checks the view exists.
func (s *syncRun) checkSource(ctx context.Context) error {
	conn, cfg, err := s.r.sourceConn(s.source)
	if err != nil {
		return errors.Unwrap(err) // "source <name>: ...", the entity first, without the category
	}
	wh, err := conn.Open(ctx, cfg, s.logger)
	if err != nil {
		return fmt.Errorf("%s %s: %w", EntitySource, s.source.Name, err)
	}
	defer wh.Close()
	if err := wh.Ping(ctx); err != nil {
		return fmt.Errorf("%s %s: %w", EntitySource, s.source.Name, err)
	}
	exists, err := wh.RelationExists(ctx, warehouse.SchemaSegments, s.view)
	if err != nil {
		return fmt.Errorf("%s %s: %w", EntitySource, s.source.Name, err)
	}
	if !exists {
		return fmt.Errorf("%s %s: view %s.%s does not exist: run terraform apply", s.viewEntity(), s.viewOwner(), warehouse.SchemaSegments, s.view)
	}
	return nil
}
