package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// DefaultRepeat is how often an ongoing problem is alerted again.
const DefaultRepeat = 24 * time.Hour

// Topic groups the kinds that describe one ongoing problem of an activation.
type Topic string

// Topics the Deduper tracks.
const (
	TopicFailure Topic = "failure" // run_failed
	TopicWarning Topic = "warning" // run_warning
	TopicPause   Topic = "pause"   // activation_paused
)

// DedupKey identifies one ongoing problem: an activation and a topic.
type DedupKey struct {
	Workspace  string `json:"workspace"`
	Activation string `json:"activation"`
	Topic      Topic  `json:"topic"`
}

// Mark is what the Deduper remembers of an ongoing problem (JSON-serialisable, so a shared
// store can keep it).
type Mark struct {
	// Category is the problem's category; a different one is a new problem.
	Category string `json:"category"`
	// Since is when the problem was first alerted.
	Since time.Time `json:"since"`
	// LastSent is when it was last alerted.
	LastSent time.Time `json:"last_sent"`
	// Suppressed counts the occurrences not alerted since LastSent.
	Suppressed int `json:"suppressed"`
}

// DedupState stores marks. MemoryState keeps them in the process; a catalog-backed
// implementation lets several runners (and restarts) share them. Implementations are safe
// for concurrent use; a missing mark is (Mark{}, false, nil).
type DedupState interface {
	Load(ctx context.Context, key DedupKey) (Mark, bool, error)
	Store(ctx context.Context, key DedupKey, m Mark) error
	Delete(ctx context.Context, key DedupKey) error
}

// MemoryState is an in-process DedupState. After a restart it is empty, so an ongoing
// problem alerts once more: the safe direction.
type MemoryState struct {
	mu    sync.Mutex
	marks map[DedupKey]Mark
}

// NewMemoryState returns an empty in-process state.
func NewMemoryState() *MemoryState { return &MemoryState{marks: map[DedupKey]Mark{}} }

// Load returns the mark of key.
func (m *MemoryState) Load(_ context.Context, key DedupKey) (Mark, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.marks[key]
	return v, ok, nil
}

// Store sets the mark of key.
func (m *MemoryState) Store(_ context.Context, key DedupKey, v Mark) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.marks[key] = v
	return nil
}

// Delete forgets key.
func (m *MemoryState) Delete(_ context.Context, key DedupKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.marks, key)
	return nil
}

// DedupOptions configures a Deduper.
type DedupOptions struct {
	// Repeat is how long an ongoing problem stays quiet after an alert: 0 means DefaultRepeat
	// (24h); a negative value never repeats (one alert per problem, then the recovery).
	Repeat time.Duration
	// State keeps the marks (default: a new MemoryState).
	State DedupState
	// Now is the clock for events without At (default time.Now).
	Now func() time.Time
}

// Deduper decides which events become alerts, so a failing activation alerts on its first
// failure and on its recovery, not on every run:
//
//   - run_failed, run_warning and activation_paused open a problem (keyed by workspace,
//     activation and topic: failure, warning or pause). The first occurrence is alerted;
//     later ones are counted and stay quiet until Repeat has passed since the last alert,
//     when one alert goes out carrying Since and Repeats. An occurrence with a different
//     category (credentials after rate_limit) is a new problem and is alerted at once.
//   - run_succeeded and run_warning end the failure problem: if a failure was alerted, a
//     run_recovered event goes out (with the failure's category and Since). run_succeeded
//     also ends a warning problem, silently.
//   - activation_resumed ends the pause and failure problems and is always alerted (a resume
//     is rare and worth telling); a failure after it is alerted again.
//   - run_succeeded itself is never alerted.
//
// Filter is safe for concurrent use; it serialises its read-modify-write of the state within
// the process.
type Deduper struct {
	repeat time.Duration
	state  DedupState
	now    func() time.Time
	mu     sync.Mutex
}

// NewDeduper returns a Deduper with opts' defaults applied.
func NewDeduper(opts DedupOptions) *Deduper {
	d := &Deduper{repeat: opts.Repeat, state: opts.State, now: opts.Now}
	if d.repeat == 0 {
		d.repeat = DefaultRepeat
	}
	if d.state == nil {
		d.state = NewMemoryState()
	}
	if d.now == nil {
		d.now = time.Now
	}
	return d
}

// ErrUnknownKind is returned for an event whose Kind is not one of Kinds.
var ErrUnknownKind = errors.New("unknown alert kind")

// Filter records ev and returns the events to send for it (none, one, or a recovery and a
// warning), in order.
func (d *Deduper) Filter(ctx context.Context, ev Event) ([]Event, error) {
	if ev.At.IsZero() {
		ev.At = d.now()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	key := func(t Topic) DedupKey {
		return DedupKey{Workspace: ev.Workspace, Activation: ev.dedupSubject(), Topic: t}
	}
	var out []Event
	switch ev.Kind {
	case KindRunFailed:
		return d.problem(ctx, key(TopicFailure), ev)
	case KindActivationPaused:
		return d.problem(ctx, key(TopicPause), ev)
	case KindRunWarning, KindRunSucceeded:
		rec, err := d.recover(ctx, key(TopicFailure), ev)
		if err != nil {
			return nil, err
		}
		out = append(out, rec...)
		if ev.Kind == KindRunSucceeded {
			if err := d.state.Delete(ctx, key(TopicWarning)); err != nil {
				return nil, fmt.Errorf("alert dedup: %w", err)
			}
			return out, nil
		}
		warn, err := d.problem(ctx, key(TopicWarning), ev)
		if err != nil {
			return nil, err
		}
		return append(out, warn...), nil
	case KindActivationResumed:
		for _, t := range []Topic{TopicPause, TopicFailure} {
			if err := d.state.Delete(ctx, key(t)); err != nil {
				return nil, fmt.Errorf("alert dedup: %w", err)
			}
		}
		return []Event{ev}, nil
	case KindRunRecovered:
		return []Event{ev}, nil
	default:
		return nil, fmt.Errorf("alert dedup: %w %q", ErrUnknownKind, ev.Kind)
	}
}

// problem handles an occurrence of an ongoing-problem kind.
func (d *Deduper) problem(ctx context.Context, key DedupKey, ev Event) ([]Event, error) {
	m, ok, err := d.state.Load(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("alert dedup: %w", err)
	}
	switch {
	case !ok || m.Category != ev.Category:
		m = Mark{Category: ev.Category, Since: ev.At, LastSent: ev.At}
	case d.repeat > 0 && ev.At.Sub(m.LastSent) >= d.repeat:
		ev.Since, ev.Repeats = m.Since, m.Suppressed
		m.LastSent, m.Suppressed = ev.At, 0
	default:
		m.Suppressed++
		if err := d.state.Store(ctx, key, m); err != nil {
			return nil, fmt.Errorf("alert dedup: %w", err)
		}
		return nil, nil
	}
	if err := d.state.Store(ctx, key, m); err != nil {
		return nil, fmt.Errorf("alert dedup: %w", err)
	}
	return []Event{ev}, nil
}

// recover ends the failure problem, returning a recovery event if one was alerted.
func (d *Deduper) recover(ctx context.Context, key DedupKey, ev Event) ([]Event, error) {
	m, ok, err := d.state.Load(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("alert dedup: %w", err)
	}
	if !ok {
		return nil, nil
	}
	if err := d.state.Delete(ctx, key); err != nil {
		return nil, fmt.Errorf("alert dedup: %w", err)
	}
	return []Event{{
		Kind: KindRunRecovered, Workspace: ev.Workspace, Activation: ev.Activation, Task: ev.Task, RunID: ev.RunID,
		Category: m.Category, Counts: ev.Counts, At: ev.At, Link: ev.Link, Since: m.Since, Repeats: m.Suppressed,
	}}, nil
}

// Forget drops the mark of the problem ev belongs to, so its next occurrence alerts again.
// The Notifier calls it when an alert could not be delivered.
func (d *Deduper) Forget(ctx context.Context, ev Event) error {
	var t Topic
	switch ev.Kind {
	case KindRunFailed:
		t = TopicFailure
	case KindRunWarning:
		t = TopicWarning
	case KindActivationPaused:
		t = TopicPause
	default:
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state.Delete(ctx, DedupKey{Workspace: ev.Workspace, Activation: ev.dedupSubject(), Topic: t})
}

// Notifier is what the runner calls: it filters events through a Deduper and sends what is
// left, logging deliveries. A failed delivery makes the Deduper forget the problem, so the
// next occurrence tries again instead of staying quiet for the repeat interval.
type Notifier struct {
	// Sender delivers alerts (typically Multi(slack, email)); nil drops every event.
	Sender Sender
	// Dedup filters events; nil sends every event except run_succeeded.
	Dedup *Deduper
	// Logger receives one record per alert sent or failed (names, ids, kinds, the redacted
	// error; never credentials). nil discards.
	Logger *slog.Logger
}

// Log attribute keys (the runner's names for the same things).
const (
	logKind       = "alert_kind"
	logWorkspace  = "workspace"
	logActivation = "activation"
	logRunID      = "run_id"
	logError      = "error"
)

// Notify filters and sends ev. It blocks until every resulting alert was sent or failed
// (bounded by the senders' timeouts and ctx); run it in its own goroutine when a run must not
// wait. The error joins the delivery failures, already logged.
func (n *Notifier) Notify(ctx context.Context, ev Event) error {
	logger := n.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	events := []Event{ev}
	if n.Dedup != nil {
		var err error
		if events, err = n.Dedup.Filter(ctx, ev); err != nil {
			logger.Warn("alert deduplication failed", logKind, string(ev.Kind), logWorkspace, ev.Workspace, logActivation, ev.subject(), logError, err.Error())
			return err
		}
	} else if ev.Kind == KindRunSucceeded {
		events = nil
	}
	if n.Sender == nil {
		return nil
	}
	var errs []error
	for _, e := range events {
		attrs := []any{logKind, string(e.Kind), logWorkspace, e.Workspace, logActivation, e.subject(), logRunID, e.RunID}
		if err := n.Sender.Send(ctx, e); err != nil {
			errs = append(errs, err)
			logger.Warn("alert not delivered", append(attrs, logError, err.Error())...)
			if n.Dedup != nil {
				if ferr := n.Dedup.Forget(ctx, e); ferr != nil {
					errs = append(errs, ferr)
				}
			}
			continue
		}
		logger.Info("alert sent", attrs...)
	}
	return errors.Join(errs...)
}
