package cli

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"dinmo/runner"
)

// Refresh periods of the progress display.
const (
	terminalRefresh = time.Second     // one line redrawn in place
	logRefresh      = 5 * time.Second // a new line each time (files, CI logs)
)

// progressDisplay shows a run's progress on stderr: redrawn in place about once a second on a
// terminal, a line every few seconds otherwise. It is also the writer of the run's logs, so a
// log line never garbles the progress line.
type progressDisplay struct {
	w     io.Writer
	tty   bool
	every time.Duration

	mu       sync.Mutex
	last     runner.Progress
	have     bool
	shown    string // the progress line on screen (terminal only)
	lastLine string // the last line printed (non-terminal), to avoid repeats

	stopOnce sync.Once
	stopCh   chan struct{}
	done     chan struct{}
}

func newProgressDisplay(w io.Writer) *progressDisplay {
	d := &progressDisplay{w: w, tty: isTerminal(w), stopCh: make(chan struct{}), done: make(chan struct{})}
	d.every = logRefresh
	if d.tty {
		d.every = terminalRefresh
	}
	return d
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (d *progressDisplay) update(p runner.Progress) {
	d.mu.Lock()
	d.last, d.have = p, true
	d.mu.Unlock()
}

func (d *progressDisplay) start() {
	go func() {
		defer close(d.done)
		t := time.NewTicker(d.every)
		defer t.Stop()
		for {
			select {
			case <-d.stopCh:
				return
			case <-t.C:
				d.render()
			}
		}
	}()
}

// stop ends the display and clears the progress line (the summary follows).
func (d *progressDisplay) stop() {
	d.stopOnce.Do(func() { close(d.stopCh) })
	<-d.done
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tty && d.shown != "" {
		_, _ = io.WriteString(d.w, "\r\033[K")
		d.shown = ""
	}
}

func (d *progressDisplay) render() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.have {
		return
	}
	line := formatProgress(d.last, time.Now())
	if d.tty {
		d.shown = line
		_, _ = io.WriteString(d.w, "\r\033[K"+line)
		return
	}
	if line != d.lastLine {
		d.lastLine = line
		_, _ = io.WriteString(d.w, line+"\n")
	}
}

// Write prints a log line above the progress line.
func (d *progressDisplay) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tty && d.shown != "" {
		_, _ = io.WriteString(d.w, "\r\033[K")
	}
	n, err := d.w.Write(p)
	if d.tty && d.shown != "" {
		_, _ = io.WriteString(d.w, d.shown)
	}
	return n, err
}

// formatProgress renders one progress line: rows evaluated, the diff, records sent and the
// sending rate.
func formatProgress(p runner.Progress, now time.Time) string {
	elapsed := now.Sub(p.StartedAt)
	line := fmt.Sprintf("[%s] %s: %d rows evaluated", elapsed.Round(time.Second), p.Phase, p.RowsEvaluated)
	switch p.Phase {
	case runner.PhaseStarting, runner.PhaseEvaluating:
		return line
	}
	line += fmt.Sprintf(" | diff +%d ~%d -%d", p.Added, p.Changed, p.Removed)
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(p.Sent) / s
	}
	line += fmt.Sprintf(" | %d/%d records sent | %.0f/s", p.Sent, p.ToSend, rate)
	if p.Rejected > 0 {
		line += fmt.Sprintf(" | %d rejected", p.Rejected)
	}
	return line
}
