package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"dinmo/runner"
)

func TestFormatProgress(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		p    runner.Progress
		want string
	}{
		{runner.Progress{Phase: runner.PhaseEvaluating, StartedAt: start}, "[2s] evaluating: 0 rows evaluated"},
		{runner.Progress{Phase: runner.PhaseSending, StartedAt: start, RowsEvaluated: 1000, Added: 10, Changed: 4, Removed: 2, ToSend: 16, Sent: 8},
			"[2s] sending: 1000 rows evaluated | diff +10 ~4 -2 | 8/16 records sent | 4/s"},
		{runner.Progress{Phase: runner.PhaseSending, StartedAt: start, ToSend: 3, Sent: 3, Rejected: 1},
			"[2s] sending: 0 rows evaluated | diff +0 ~0 -0 | 3/3 records sent | 2/s | 1 rejected"},
	}
	for _, tt := range tests {
		if got := formatProgress(tt.p, start.Add(2*time.Second)); got != tt.want {
			t.Errorf("formatProgress = %q, want %q", got, tt.want)
		}
	}
}

// TestProgressDisplayNotTerminal: off a terminal, each refresh prints a new line (not repeated
// when nothing changed), and log lines pass through.
func TestProgressDisplayNotTerminal(t *testing.T) {
	var buf bytes.Buffer
	d := newProgressDisplay(&buf)
	if d.tty {
		t.Fatal("a buffer was taken for a terminal")
	}
	start := time.Now().Add(-time.Hour) // a rate of 0/s whatever the timing
	d.update(runner.Progress{Phase: runner.PhaseSending, StartedAt: start, ToSend: 2, Sent: 1})
	d.render()
	d.render()
	if _, err := d.Write([]byte("level=INFO msg=hello\n")); err != nil {
		t.Fatal(err)
	}
	d.update(runner.Progress{Phase: runner.PhaseSending, StartedAt: start, ToSend: 2, Sent: 2})
	d.render()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "1/2 records sent") || lines[1] != "level=INFO msg=hello" ||
		!strings.Contains(lines[2], "2/2 records sent") || strings.Contains(buf.String(), "\r") {
		t.Errorf("output:\n%q", buf.String())
	}
}

// TestProgressDisplayTerminal: on a terminal the line is redrawn in place, log lines are
// printed above it, and stop clears it.
func TestProgressDisplayTerminal(t *testing.T) {
	var buf bytes.Buffer
	d := newProgressDisplay(&buf)
	d.tty = true
	d.update(runner.Progress{Phase: runner.PhaseSending, StartedAt: time.Now(), ToSend: 2, Sent: 1})
	d.render()
	_, _ = d.Write([]byte("log line\n"))
	d.start()
	d.stop()
	want := "\r\033[K[0s] sending: 0 rows evaluated | diff +0 ~0 -0 | 1/2 records sent"
	got := buf.String()
	if !strings.HasPrefix(got, want) || !strings.Contains(got, "\r\033[Klog line\n") || !strings.HasSuffix(got, "\r\033[K") {
		t.Errorf("output:\n%q", got)
	}
}
