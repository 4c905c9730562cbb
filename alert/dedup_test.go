package alert

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// step is one event reported to the Deduper and the alerts expected from it.
type step struct {
	kind     Kind
	act      string // activation, default "a"
	cat      string
	hours    float64 // since t0
	want     []Kind
	wantSent func(*testing.T, []Event)
}

func runSteps(t *testing.T, d *Deduper, steps []step) {
	t.Helper()
	for i, s := range steps {
		act := s.act
		if act == "" {
			act = "a"
		}
		ev := Event{Kind: s.kind, Workspace: "shop", Activation: act, RunID: fmt.Sprintf("run-%d", i), Category: s.cat,
			At: t0.Add(time.Duration(s.hours * float64(time.Hour)))}
		out, err := d.Filter(context.Background(), ev)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		var got []Kind
		for _, e := range out {
			got = append(got, e.Kind)
		}
		if fmt.Sprint(got) != fmt.Sprint(s.want) {
			t.Fatalf("step %d (%s %s at +%vh): alerts %v, want %v", i, s.kind, s.cat, s.hours, got, s.want)
		}
		if s.wantSent != nil {
			s.wantSent(t, out)
		}
	}
}

func TestDeduperFailureLifecycle(t *testing.T) {
	d := NewDeduper(DedupOptions{})
	runSteps(t, d, []step{
		{kind: KindRunFailed, cat: "credentials", hours: 0, want: []Kind{KindRunFailed}, wantSent: func(t *testing.T, e []Event) {
			if !e[0].Since.IsZero() || e[0].Repeats != 0 || render(e[0]).title != "shop/a failed: credentials" {
				t.Errorf("first alert %+v", e[0])
			}
		}},
		{kind: KindRunFailed, cat: "credentials", hours: 1, want: nil},
		{kind: KindRunFailed, cat: "credentials", hours: 2, want: nil},
		{kind: KindRunFailed, cat: "credentials", hours: 23.9, want: nil},
		{kind: KindRunFailed, cat: "credentials", hours: 24, want: []Kind{KindRunFailed}, wantSent: func(t *testing.T, e []Event) {
			if !e[0].Since.Equal(t0) || e[0].Repeats != 3 || render(e[0]).title != "shop/a still failing: credentials" {
				t.Errorf("repeat alert %+v", e[0])
			}
		}},
		{kind: KindRunFailed, cat: "credentials", hours: 25, want: nil},
		// Another category is another problem: alerted at once.
		{kind: KindRunFailed, cat: "rate_limit", hours: 26, want: []Kind{KindRunFailed}, wantSent: func(t *testing.T, e []Event) {
			if e[0].Repeats != 0 || !e[0].Since.IsZero() {
				t.Errorf("new problem alert %+v", e[0])
			}
		}},
		{kind: KindRunFailed, cat: "rate_limit", hours: 27, want: nil},
		{kind: KindRunSucceeded, hours: 28, want: []Kind{KindRunRecovered}, wantSent: func(t *testing.T, e []Event) {
			r := e[0]
			if r.Category != "rate_limit" || !r.Since.Equal(t0.Add(26*time.Hour)) || r.Repeats != 1 || r.RunID != "run-8" {
				t.Errorf("recovery %+v", r)
			}
		}},
		{kind: KindRunSucceeded, hours: 29, want: nil},
		{kind: KindRunFailed, cat: "credentials", hours: 30, want: []Kind{KindRunFailed}},
		// Other activations are independent.
		{kind: KindRunFailed, act: "b", cat: "credentials", hours: 30, want: []Kind{KindRunFailed}},
		{kind: KindRunSucceeded, act: "b", hours: 31, want: []Kind{KindRunRecovered}},
		{kind: KindRunFailed, cat: "credentials", hours: 31, want: nil},
	})
}

func TestDeduperWarnings(t *testing.T) {
	d := NewDeduper(DedupOptions{Repeat: 6 * time.Hour})
	runSteps(t, d, []step{
		{kind: KindRunFailed, cat: "timeout", hours: 0, want: []Kind{KindRunFailed}},
		// A run with warnings is a success: the failure recovered, and the warning is new.
		{kind: KindRunWarning, hours: 1, want: []Kind{KindRunRecovered, KindRunWarning}},
		{kind: KindRunWarning, hours: 2, want: nil},
		{kind: KindRunWarning, hours: 7, want: []Kind{KindRunWarning}},
		// A clean run ends the warning silently; the next warning alerts again.
		{kind: KindRunSucceeded, hours: 8, want: nil},
		{kind: KindRunWarning, hours: 9, want: []Kind{KindRunWarning}},
		// Failures and warnings are separate problems.
		{kind: KindRunFailed, cat: "timeout", hours: 10, want: []Kind{KindRunFailed}},
		{kind: KindRunWarning, hours: 11, want: []Kind{KindRunRecovered}},
	})
}

func TestDeduperPauseResume(t *testing.T) {
	d := NewDeduper(DedupOptions{})
	runSteps(t, d, []step{
		{kind: KindRunFailed, cat: "credentials", hours: 0, want: []Kind{KindRunFailed}},
		{kind: KindActivationPaused, cat: "credentials", hours: 0.1, want: []Kind{KindActivationPaused}},
		{kind: KindActivationPaused, cat: "credentials", hours: 12, want: nil}, // the nightly check finds it still broken
		{kind: KindActivationResumed, hours: 24.5, want: []Kind{KindActivationResumed}},
		// The resume closed the failure: the next run's success is no "recovery", and a new
		// failure is alerted as new.
		{kind: KindRunSucceeded, hours: 25, want: nil},
		{kind: KindRunFailed, cat: "credentials", hours: 26, want: []Kind{KindRunFailed}},
		{kind: KindActivationPaused, cat: "credentials", hours: 26.1, want: []Kind{KindActivationPaused}},
		{kind: KindActivationResumed, hours: 27, want: []Kind{KindActivationResumed}},
		{kind: KindActivationResumed, hours: 28, want: []Kind{KindActivationResumed}},
	})
}

func TestDeduperNeverRepeat(t *testing.T) {
	d := NewDeduper(DedupOptions{Repeat: -1})
	runSteps(t, d, []step{
		{kind: KindRunFailed, cat: "connection", hours: 0, want: []Kind{KindRunFailed}},
		{kind: KindRunFailed, cat: "connection", hours: 100, want: nil},
		{kind: KindRunFailed, cat: "connection", hours: 1000, want: nil},
		{kind: KindRunSucceeded, hours: 1001, want: []Kind{KindRunRecovered}, wantSent: func(t *testing.T, e []Event) {
			if e[0].Repeats != 2 {
				t.Errorf("recovery counts %d unalerted failures, want 2", e[0].Repeats)
			}
		}},
	})
}

func TestDeduperDefaultsAndErrors(t *testing.T) {
	now := t0
	d := NewDeduper(DedupOptions{Now: func() time.Time { return now }})
	if d.repeat != DefaultRepeat {
		t.Errorf("default repeat %v", d.repeat)
	}
	out, err := d.Filter(context.Background(), Event{Kind: KindRunFailed, Workspace: "w", Activation: "a"})
	if err != nil || len(out) != 1 || !out[0].At.Equal(t0) {
		t.Fatalf("Filter without At: %+v, %v", out, err)
	}
	if _, err := d.Filter(context.Background(), Event{Kind: "exploded"}); !errors.Is(err, ErrUnknownKind) {
		t.Errorf("unknown kind: %v", err)
	}
	broken := NewDeduper(DedupOptions{State: failingState{}})
	if _, err := broken.Filter(context.Background(), Event{Kind: KindRunFailed}); err == nil || !strings.Contains(err.Error(), "alert dedup: state unavailable") {
		t.Errorf("state error: %v", err)
	}
}

type failingState struct{}

func (failingState) Load(context.Context, DedupKey) (Mark, bool, error) {
	return Mark{}, false, errors.New("state unavailable")
}
func (failingState) Store(context.Context, DedupKey, Mark) error {
	return errors.New("state unavailable")
}
func (failingState) Delete(context.Context, DedupKey) error { return errors.New("state unavailable") }

// recorder is a Sender that records events and fails while told to.
type recorder struct {
	mu   sync.Mutex
	got  []Event
	fail error
}

func (r *recorder) Send(_ context.Context, ev Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.got = append(r.got, ev)
	return nil
}

func (r *recorder) kinds() []Kind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var k []Kind
	for _, e := range r.got {
		k = append(k, e.Kind)
	}
	return k
}

func TestNotifier(t *testing.T) {
	rec := &recorder{}
	logger, logs := logBuffer()
	n := &Notifier{Sender: rec, Dedup: NewDeduper(DedupOptions{}), Logger: logger}
	ctx := context.Background()
	ev := failedEvent()

	// A delivery failure is reported, logged, and makes the next failure alert again.
	rec.fail = errors.New("email alert: 421 try later")
	if err := n.Notify(ctx, ev); err == nil || !strings.Contains(err.Error(), "421 try later") {
		t.Fatalf("Notify: %v", err)
	}
	if !strings.Contains(logs.String(), "alert not delivered") || !strings.Contains(logs.String(), "run_id=run-42") {
		t.Errorf("logs: %s", logs)
	}
	rec.fail = nil
	ev.At = ev.At.Add(time.Hour)
	if err := n.Notify(ctx, ev); err != nil {
		t.Fatal(err)
	}
	ev.At = ev.At.Add(time.Hour)
	if err := n.Notify(ctx, ev); err != nil {
		t.Fatal(err)
	}
	ok := ev
	ok.Kind, ok.At = KindRunSucceeded, ev.At.Add(time.Hour)
	if err := n.Notify(ctx, ok); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(rec.kinds()); got != "[run_failed run_recovered]" {
		t.Errorf("sent %s", got)
	}
	if !strings.Contains(logs.String(), "alert sent") {
		t.Errorf("logs: %s", logs)
	}

	// Without a Deduper everything but successes goes out.
	rec2 := &recorder{}
	plain := &Notifier{Sender: rec2}
	for _, k := range []Kind{KindRunFailed, KindRunFailed, KindRunSucceeded, KindRunWarning} {
		if err := plain.Notify(ctx, Event{Kind: k}); err != nil {
			t.Fatal(err)
		}
	}
	if got := fmt.Sprint(rec2.kinds()); got != "[run_failed run_failed run_warning]" {
		t.Errorf("sent %s", got)
	}
	// No sender: nothing happens, no error.
	if err := (&Notifier{Dedup: NewDeduper(DedupOptions{})}).Notify(ctx, ev); err != nil {
		t.Error(err)
	}
}

func TestDeduperConcurrent(t *testing.T) {
	d := NewDeduper(DedupOptions{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	alerts := 0
	for i := range 50 {
		wg.Go(func() {
			out, err := d.Filter(context.Background(), Event{Kind: KindRunFailed, Workspace: "w", Activation: "a", Category: "timeout", At: t0.Add(time.Duration(i) * time.Minute)})
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			alerts += len(out)
			mu.Unlock()
		})
	}
	wg.Wait()
	if alerts != 1 {
		t.Errorf("%d alerts for 50 concurrent failures, want 1", alerts)
	}
}

// TestDeduperTaskApartFromActivation: a task and an activation with the same name have their
// own problem state: the task's failure neither silences nor recovers the activation's.
func TestDeduperTaskApartFromActivation(t *testing.T) {
	d := NewDeduper(DedupOptions{})
	ctx := context.Background()
	filter := func(ev Event) []Kind {
		t.Helper()
		ev.Workspace, ev.At = "shop", t0
		out, err := d.Filter(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []Kind
		for _, e := range out {
			kinds = append(kinds, e.Kind)
			if ev.Task != "" && (e.Task != ev.Task || e.Activation != "") {
				t.Fatalf("event about task %q came out as %+v", ev.Task, e)
			}
		}
		return kinds
	}
	if got := filter(Event{Kind: KindRunFailed, Activation: "x"}); fmt.Sprint(got) != "[run_failed]" {
		t.Fatalf("activation failure: %v", got)
	}
	if got := filter(Event{Kind: KindRunFailed, Task: "x"}); fmt.Sprint(got) != "[run_failed]" {
		t.Fatalf("task failure with the activation's name was silenced: %v", got)
	}
	if got := filter(Event{Kind: KindRunSucceeded, Task: "x"}); fmt.Sprint(got) != "[run_recovered]" {
		t.Fatalf("task success after failure: %v", got)
	}
	if got := filter(Event{Kind: KindRunFailed, Activation: "x"}); fmt.Sprint(got) != "[]" {
		t.Fatalf("the activation's repeated failure alerted again after the task recovered: %v", got)
	}
}
