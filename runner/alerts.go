package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"dinmo/alert"
	"dinmo/catalog"
	"dinmo/connectors/httpx"
)

// alertTimeout bounds the delivery of one event's alerts (the senders retry within it).
const alertTimeout = 2 * time.Minute

// alerting holds the per-workspace notifiers, built from the workspace's alert settings and
// rebuilt when they change. Deliveries run in the background, off the run's critical path.
type alerting struct {
	http httpx.Options

	mu        sync.Mutex
	notifiers map[string]*wsNotifier // by workspace id
	wg        sync.WaitGroup
}

type wsNotifier struct {
	settings string // the JSON it was built from
	n        *alert.Notifier
}

// notifier returns the workspace's notifier (nil when alerts are off), building it when the
// workspace's settings changed since the last event.
func (r *Runner) notifier(ws *catalog.Workspace) (*alert.Notifier, error) {
	raw := strings.TrimSpace(string(ws.Settings.Alerts))
	a := r.alerts
	a.mu.Lock()
	defer a.mu.Unlock()
	if cur, ok := a.notifiers[ws.ID]; ok && cur.settings == raw {
		return cur.n, nil
	}
	var n *alert.Notifier
	if raw != "" && raw != "null" {
		var st alert.Settings
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			return nil, fmt.Errorf("workspace %s: alert settings: %w", ws.Name, err)
		}
		repeat, err := st.RepeatInterval()
		if err != nil {
			return nil, fmt.Errorf("workspace %s: %w", ws.Name, err)
		}
		sender, err := st.Build(alert.BuildOptions{Resolve: r.sealer.Resolve, Logger: r.logger, HTTP: a.http})
		if err != nil {
			return nil, fmt.Errorf("workspace %s: %w", ws.Name, err)
		}
		if sender != nil {
			n = &alert.Notifier{Sender: sender, Dedup: alert.NewDeduper(alert.DedupOptions{Repeat: repeat, Now: r.now}), Logger: r.logger}
		}
	}
	a.notifiers[ws.ID] = &wsNotifier{settings: raw, n: n}
	return n, nil
}

// notify hands an event to the workspace's alerts in the background; failures are logged.
func (r *Runner) notify(ws *catalog.Workspace, ev alert.Event) {
	n, err := r.notifier(ws)
	if err != nil {
		r.logger.Warn("alerts are misconfigured; no alert sent", LogWorkspace, ws.Name, LogError, err.Error())
		return
	}
	if n == nil {
		return
	}
	r.alerts.wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), alertTimeout)
		defer cancel()
		_ = n.Notify(ctx, ev) // Notify logs each failed delivery
	})
}

// WaitAlerts blocks until the alerts handed to the background so far were delivered or
// failed. Serve calls it when it stops; tests call it before looking at a fake.
func (r *Runner) WaitAlerts() { r.alerts.wg.Wait() }

// notifyRun alerts on a finished run: failures (and guard blocks), warnings, and successes
// (which the deduplication turns into a recovery after an alerted failure, or drops).
func (s *syncRun) notifyRun() {
	run := &s.run
	ev := alert.Event{Workspace: s.ws.Name, Activation: s.act.Name, RunID: run.ID, At: s.r.now(),
		Counts: map[string]int64{
			alert.CountEvaluated: run.RowsEvaluated, alert.CountSkipped: run.RowsSkipped, alert.CountAdded: run.Added,
			alert.CountChanged: run.Changed, alert.CountRemoved: run.Removed, alert.CountAcknowledged: run.Acknowledged,
			alert.CountRejected: run.Rejected, alert.CountRetryable: run.Retryable, alert.CountRequests: run.Requests,
		}}
	switch run.Status {
	case catalog.RunFailed, catalog.RunBlocked:
		ev.Kind, ev.Category, ev.Message = alert.KindRunFailed, run.ErrorCategory, run.ErrorMessage
	case catalog.RunWarning:
		ev.Kind, ev.Message = alert.KindRunWarning, strings.Join(run.Warnings, "\n")
	case catalog.RunSucceeded:
		ev.Kind = alert.KindRunSucceeded
	default:
		return // interrupted: the next run catches up
	}
	s.r.notify(s.ws, ev)
}
