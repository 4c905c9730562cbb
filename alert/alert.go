// Package alert tells people when a synchronisation stops working (spec §6.9): a run failed,
// an activation was paused or resumed, a run succeeded with warnings, or a failing activation
// recovered. A workspace configures a Slack incoming webhook and/or email over SMTP
// (Settings); the runner builds a Sender from that configuration, puts a Deduper in front of
// it (so a failing activation alerts on its first failure and on recovery, not on every run),
// and hands events to a Notifier.
//
// What an alert contains: workspace and activation names, the run id, the error category,
// row counts, the error message (which the runner has already redacted) and an optional
// link. Never row data (the Event type has nowhere to put it: no keys, no field values, no
// sample rejections) and never secrets: the webhook URL and the SMTP password are redacted
// from every log line and error this package produces.
package alert

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
)

// Kind says what happened.
type Kind string

// Event kinds. The runner reports run_failed, run_warning, run_succeeded,
// activation_paused and activation_resumed; the Deduper turns a success after an alerted
// failure into run_recovered and never passes run_succeeded on.
const (
	KindRunFailed         Kind = "run_failed"
	KindRunWarning        Kind = "run_warning" // the run succeeded but rejected or skipped rows
	KindRunSucceeded      Kind = "run_succeeded"
	KindRunRecovered      Kind = "run_recovered"
	KindActivationPaused  Kind = "activation_paused"
	KindActivationResumed Kind = "activation_resumed"
)

// Kinds lists every kind, for validation and documentation.
var Kinds = []Kind{KindRunFailed, KindRunWarning, KindRunSucceeded, KindRunRecovered, KindActivationPaused, KindActivationResumed}

// Keys of Event.Counts the renderers know, in the order they are shown (other keys follow,
// sorted). They match the run statistics of the catalog.
const (
	CountEvaluated    = "evaluated"
	CountSkipped      = "skipped"
	CountAdded        = "added"
	CountChanged      = "changed"
	CountRemoved      = "removed"
	CountAcknowledged = "acknowledged"
	CountRejected     = "rejected"
	CountRetryable    = "retryable"
	CountRequests     = "requests"
)

var countOrder = []string{CountEvaluated, CountSkipped, CountAdded, CountChanged, CountRemoved, CountAcknowledged, CountRejected, CountRetryable, CountRequests}

// Event is one thing worth telling people about. It holds names, identifiers, counts and an
// already redacted message: nothing from the rows, no credentials.
type Event struct {
	Kind       Kind
	Workspace  string // workspace name
	Activation string // activation name
	// Task, instead of Activation, names the runner task the event is about ("refresh of
	// model web_events", "stats of source warehouse"): run kinds apply to task runs too.
	Task  string
	RunID string // empty for pause and resume
	// Category is the error category (connectors.Category: credentials, rate_limit...) of a
	// failure or pause.
	Category string
	// Message is the error, pause reason or warnings, already redacted by the runner.
	Message string
	// Counts are the run's statistics (see the Count constants).
	Counts map[string]int64
	At     time.Time
	// Link, when set, points to the run in an operator UI or log search (http or https).
	Link string
	// Since and Repeats are set by the Deduper: when the problem started (its first alert),
	// and how many occurrences were not alerted since the previous alert.
	Since   time.Time
	Repeats int
}

// Sender delivers one alert. Send blocks until the alert is accepted or has failed, honours
// ctx, and is safe for concurrent use. Errors never contain the destination's secrets.
type Sender interface {
	Send(ctx context.Context, ev Event) error
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, ev Event) error

// Send calls f.
func (f SenderFunc) Send(ctx context.Context, ev Event) error { return f(ctx, ev) }

// Multi returns a Sender that sends each event to every sender at once and joins their
// errors, so a broken Slack webhook does not keep the email from going out. nil senders are
// skipped; with none, Send does nothing.
func Multi(senders ...Sender) Sender {
	var live multi
	for _, s := range senders {
		if s != nil {
			live = append(live, s)
		}
	}
	return live
}

type multi []Sender

func (m multi) Send(ctx context.Context, ev Event) error {
	if len(m) == 1 {
		return m[0].Send(ctx, ev)
	}
	errs := make([]error, len(m))
	var wg sync.WaitGroup
	for i, s := range m {
		wg.Go(func() { errs[i] = s.Send(ctx, ev) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// maxMessage bounds the message shown in an alert (Slack sections take 3000 characters).
const maxMessage = 2000

// rendered is an event laid out for people, shared by the Slack and email senders.
type rendered struct {
	title string  // "shop/loyal-to-crm failed: credentials"
	lines []field // label and value, in order
	link  string
}

type field struct{ label, value string }

// render lays out ev. Names are stripped of control characters so they cannot break a mail
// header or a Slack line.
func render(ev Event) rendered {
	name := oneLine(ev.Workspace) + "/" + oneLine(ev.subject())
	cat := oneLine(ev.Category)
	withCat := func(s string) string {
		if cat == "" {
			return s
		}
		return s + ": " + cat
	}
	var title, msgLabel string
	switch ev.Kind {
	case KindRunFailed:
		title, msgLabel = withCat(name+" failed"), "Error"
		if ev.Repeats > 0 || (!ev.Since.IsZero() && ev.Since.Before(ev.At)) {
			title = withCat(name + " still failing")
		}
	case KindRunWarning:
		title, msgLabel = name+" succeeded with warnings", "Warnings"
	case KindRunRecovered:
		title, msgLabel = name+" recovered", "Details"
	case KindActivationPaused:
		title, msgLabel = withCat(name+" paused"), "Reason"
	case KindActivationResumed:
		title, msgLabel = name+" resumed", "Details"
	case KindRunSucceeded:
		title, msgLabel = name+" succeeded", "Details"
	default:
		title, msgLabel = name+": "+oneLine(string(ev.Kind)), "Details"
	}
	r := rendered{title: title}
	add := func(label, value string) {
		if value != "" {
			r.lines = append(r.lines, field{label, value})
		}
	}
	add("Workspace", oneLine(ev.Workspace))
	if ev.Task != "" {
		add("Task", oneLine(ev.Task))
	} else {
		add("Activation", oneLine(ev.Activation))
	}
	add("Run", oneLine(ev.RunID))
	if ev.Kind != KindRunRecovered {
		add("Category", cat)
	}
	if !ev.At.IsZero() {
		add("At", formatTime(ev.At))
	}
	add(msgLabel, truncate(strings.TrimSpace(ev.Message), maxMessage))
	add("Rows", formatCounts(ev.Counts))
	switch ev.Kind {
	case KindRunRecovered:
		since := ""
		if !ev.Since.IsZero() {
			since = " since " + formatTime(ev.Since)
		}
		was := "failing"
		if cat != "" {
			was = "failing with " + cat + " errors"
		}
		add("Previously", was+since)
	case KindRunFailed, KindRunWarning, KindActivationPaused:
		if ev.Repeats > 0 || (!ev.Since.IsZero() && ev.Since.Before(ev.At)) {
			what := map[Kind]string{KindRunFailed: "failed runs", KindRunWarning: "runs with warnings", KindActivationPaused: "pauses"}[ev.Kind]
			add("Ongoing", fmt.Sprintf("since %s; %d more %s since the previous alert", formatTime(ev.Since), ev.Repeats, what))
		}
	case KindRunSucceeded, KindActivationResumed:
	}
	if isWebLink(ev.Link) {
		r.link = ev.Link
		add("Link", ev.Link)
	}
	return r
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// formatCounts writes "added 10, changed 3, removed 0" in a stable order.
func formatCounts(c map[string]int64) string {
	if len(c) == 0 {
		return ""
	}
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		ia, ib := slices.Index(countOrder, a), slices.Index(countOrder, b)
		switch {
		case ia >= 0 && ib >= 0:
			return ia - ib
		case ia >= 0:
			return -1
		case ib >= 0:
			return 1
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", oneLine(k), c[k])
	}
	return strings.Join(parts, ", ")
}

// oneLine replaces control characters (CR, LF, tabs...) with spaces and trims.
func oneLine(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s))
}

// truncate cuts s to n characters, marking the cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

func isWebLink(s string) bool {
	return (strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")) && !strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == '<' || r == '>' || r == '|'
	})
}

// subject is what the event is about: the activation, or the task.
func (ev Event) subject() string {
	if ev.Task != "" {
		return ev.Task
	}
	return ev.Activation
}

// dedupSubject keys the event's de-duplication state: tasks apart from activations.
func (ev Event) dedupSubject() string {
	if ev.Task != "" {
		return "task:" + ev.Task
	}
	return ev.Activation
}
