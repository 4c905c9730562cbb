package alert

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

func failedEvent() Event {
	return Event{
		Kind: KindRunFailed, Workspace: "shop", Activation: "loyal-to-crm", RunID: "run-42",
		Category: "credentials", Message: "HTTP 401: invalid api key",
		Counts: map[string]int64{CountRejected: 2, CountAdded: 10, "zeta": 1, CountChanged: 3, CountEvaluated: 1000},
		At:     t0, Link: "https://ops.example.com/runs/run-42",
	}
}

func TestRender(t *testing.T) {
	tests := []struct {
		name  string
		ev    Event
		title string
		lines []field
	}{
		{"failure", failedEvent(), "shop/loyal-to-crm failed: credentials", []field{
			{"Workspace", "shop"}, {"Activation", "loyal-to-crm"}, {"Run", "run-42"}, {"Category", "credentials"},
			{"At", "2025-03-14 09:30:00 UTC"}, {"Error", "HTTP 401: invalid api key"},
			{"Rows", "evaluated 1000, added 10, changed 3, rejected 2, zeta 1"}, {"Link", "https://ops.example.com/runs/run-42"},
		}},
		{"repeated failure", Event{Kind: KindRunFailed, Workspace: "shop", Activation: "a", Category: "timeout", At: t0, Since: t0.Add(-30 * time.Hour), Repeats: 7},
			"shop/a still failing: timeout", []field{
				{"Workspace", "shop"}, {"Activation", "a"}, {"Category", "timeout"}, {"At", "2025-03-14 09:30:00 UTC"},
				{"Ongoing", "since 2025-03-13 03:30:00 UTC; 7 more failed runs since the previous alert"},
			}},
		{"warning", Event{Kind: KindRunWarning, Workspace: "shop", Activation: "a", RunID: "r1", Message: "12% of rows rejected", At: t0},
			"shop/a succeeded with warnings", []field{
				{"Workspace", "shop"}, {"Activation", "a"}, {"Run", "r1"}, {"At", "2025-03-14 09:30:00 UTC"}, {"Warnings", "12% of rows rejected"},
			}},
		{"paused", Event{Kind: KindActivationPaused, Workspace: "shop", Activation: "a", Category: "not_found", Message: "model customers: table dropped"},
			"shop/a paused: not_found", []field{
				{"Workspace", "shop"}, {"Activation", "a"}, {"Category", "not_found"}, {"Reason", "model customers: table dropped"},
			}},
		{"resumed", Event{Kind: KindActivationResumed, Workspace: "shop", Activation: "a", Message: "checks pass again"},
			"shop/a resumed", []field{{"Workspace", "shop"}, {"Activation", "a"}, {"Details", "checks pass again"}}},
		{"recovered", Event{Kind: KindRunRecovered, Workspace: "shop", Activation: "a", RunID: "r9", Category: "rate_limit", Since: t0},
			"shop/a recovered", []field{{"Workspace", "shop"}, {"Activation", "a"}, {"Run", "r9"},
				{"Previously", "failing with rate_limit errors since 2025-03-14 09:30:00 UTC"}}},
		{"task failure", Event{Kind: KindRunFailed, Workspace: "shop", Task: "refresh of model web_events", RunID: "trun-1", Message: "column x does not exist"},
			"shop/refresh of model web_events failed", []field{{"Workspace", "shop"}, {"Task", "refresh of model web_events"}, {"Run", "trun-1"},
				{"Error", "column x does not exist"}}},
		{"control characters and a bad link", Event{Kind: KindRunFailed, Workspace: "sh\r\nop", Activation: "a\tb", Link: "javascript:alert(1)"},
			"sh  op/a b failed", []field{{"Workspace", "sh  op"}, {"Activation", "a b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := render(tt.ev)
			if r.title != tt.title {
				t.Errorf("title %q, want %q", r.title, tt.title)
			}
			if !reflect.DeepEqual(r.lines, tt.lines) {
				t.Errorf("lines\n got %q\nwant %q", r.lines, tt.lines)
			}
		})
	}
	long := render(Event{Kind: KindRunFailed, Message: strings.Repeat("é", 5000)})
	for _, f := range long.lines {
		if f.label == "Error" && len([]rune(f.value)) != maxMessage+1 {
			t.Errorf("long message kept %d characters", len([]rune(f.value)))
		}
	}
}

func TestMulti(t *testing.T) {
	var calls atomic.Int32
	var mu sync.Mutex
	var got []string
	ok := SenderFunc(func(_ context.Context, ev Event) error {
		calls.Add(1)
		mu.Lock()
		got = append(got, ev.RunID)
		mu.Unlock()
		return nil
	})
	errA, errB := errors.New("slack down"), errors.New("smtp down")
	m := Multi(ok, nil, SenderFunc(func(context.Context, Event) error { return errA }), ok,
		SenderFunc(func(context.Context, Event) error { return errB }))
	err := m.Send(context.Background(), Event{Kind: KindRunFailed, RunID: "r"})
	if !errors.Is(err, errA) || !errors.Is(err, errB) {
		t.Errorf("err = %v, want both failures joined", err)
	}
	if calls.Load() != 2 || len(got) != 2 {
		t.Errorf("working senders called %d times", calls.Load())
	}
	if err := Multi().Send(context.Background(), Event{}); err != nil {
		t.Errorf("empty Multi: %v", err)
	}
	if err := Multi(nil, ok).Send(context.Background(), Event{}); err != nil {
		t.Errorf("single Multi: %v", err)
	}
}

// logBuffer captures every log record, at debug level, as text.
func logBuffer() (*slog.Logger, *syncBuffer) {
	b := &syncBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
