package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"dinmo/catalog"
	"dinmo/runner"
)

func serveFlags(fs *flag.FlagSet, o *cmdOptions) {
	fs.StringVar(&o.addr, "addr", runner.DefaultAddr, "listen address of /healthz and /metrics")
	fs.DurationVar(&o.poll, "poll", runner.DefaultPoll, "how often to look for due activations")
	fs.IntVar(&o.concurrency, "concurrency", runner.DefaultConcurrency, "most activations running at once")
	fs.DurationVar(&o.leaseTTL, "lease-ttl", runner.DefaultLeaseTTL, "lease duration of a running activation (renewed every third of it)")
	fs.DurationVar(&o.checkEvery, "check-interval", runner.DefaultCheckInterval, "how often automatically paused activations are re-checked and resumed when they work again")
}

func runFlags(fs *flag.FlagSet, o *cmdOptions) {
	fs.BoolVar(&o.full, "full", false, "send every row of the segment, not only what changed since the last run")
	fs.DurationVar(&o.leaseTTL, "lease-ttl", runner.DefaultLeaseTTL, "lease duration of the run (renewed every third of it)")
}

func runsFlags(fs *flag.FlagSet, o *cmdOptions) {
	fs.IntVar(&o.limit, "limit", 20, "number of runs to show, newest first")
	fs.BoolVar(&o.json, "json", false, "print JSON instead of a table")
}

// newRunner builds a runner from the global flags.
func (e *env) newRunner(st catalog.Store, logs io.Writer) (*runner.Runner, error) {
	logger, err := e.logger(logs)
	if err != nil {
		return nil, err
	}
	sealer, err := e.sealer()
	if err != nil {
		return nil, err
	}
	return runner.New(runner.Options{
		Store:    st,
		Registry: e.registry(),
		Sealer:   sealer,
		Logger:   logger,
		LeaseTTL: e.opts.leaseTTL,
	})
}

func cmdServe(ctx context.Context, e *env, _ *flag.FlagSet, pos []string) error {
	if len(pos) > 0 {
		return usagef("serve takes no arguments, got %q", strings.Join(pos, " "))
	}
	if e.opts.poll <= 0 || e.opts.concurrency <= 0 || e.opts.leaseTTL <= 0 || e.opts.checkEvery <= 0 {
		return usagef("--poll, --concurrency, --lease-ttl and --check-interval must be positive")
	}
	if _, err := e.logger(io.Discard); err != nil {
		return err
	}
	st, err := e.openCatalog(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	r, err := e.newRunner(st, e.stderr)
	if err != nil {
		return err
	}
	return r.Serve(ctx, runner.ServeOptions{Addr: e.opts.addr, Poll: e.opts.poll, Concurrency: e.opts.concurrency, CheckInterval: e.opts.checkEvery})
}

func cmdRun(ctx context.Context, e *env, _ *flag.FlagSet, pos []string) error {
	if len(pos) != 1 {
		return usagef("run needs exactly one <workspace>/<activation>, e.g. dinmo-runner run shop/vip_customers_to_file")
	}
	if e.opts.leaseTTL <= 0 {
		return usagef("--lease-ttl must be positive")
	}
	if _, err := e.logger(io.Discard); err != nil {
		return err
	}
	st, err := e.openCatalog(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	ws, act, err := findActivation(ctx, st, pos[0])
	if err != nil {
		return err
	}
	display := newProgressDisplay(e.stderr)
	r, err := e.newRunner(st, display)
	if err != nil {
		return err
	}
	display.start()
	res, err := r.Run(ctx, act.ID, runner.RunOptions{Full: e.opts.full, Trigger: runner.TriggerManual, Progress: display.update})
	display.stop()
	if res == nil {
		return err
	}
	printSummary(e.stdout, ws.Name+"/"+act.Name, res)
	if err != nil {
		return &exitError{code: ExitFailure}
	}
	return nil
}

// printSummary writes the end-of-run report: status, counts, requests, duration, warnings,
// sample errors and where rejected records are stored.
func printSummary(w io.Writer, name string, res *runner.Result) {
	run := res.Run
	kind := "delta run"
	if res.Full {
		kind = "full run"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "Run %s of %s: %s (%s)\n", run.ID, name, run.Status, kind)
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	skipped := ""
	if run.RowsSkipped > 0 {
		skipped = fmt.Sprintf(" (%d skipped: null or duplicate key)", run.RowsSkipped)
	}
	fmt.Fprintf(tw, "  rows evaluated\t%d%s\n", run.RowsEvaluated, skipped)
	fmt.Fprintf(tw, "  diff\t+%d added, ~%d changed, -%d removed\n", run.Added, run.Changed, run.Removed)
	fmt.Fprintf(tw, "  records\t%d sent, %d acknowledged, %d rejected, %d to retry", res.Sent, run.Acknowledged, run.Rejected, run.Retryable)
	if res.NotSent > 0 {
		fmt.Fprintf(tw, ", %d not sent by the sync mode", res.NotSent)
	}
	fmt.Fprintln(tw)
	if res.Recovered > 0 {
		fmt.Fprintf(tw, "  recovered\t%d acknowledged records of an interrupted run committed first\n", res.Recovered)
	}
	fmt.Fprintf(tw, "  requests\t%d\n", run.Requests)
	fmt.Fprintf(tw, "  duration\t%s\n", res.Duration.Round(time.Millisecond))
	_ = tw.Flush()
	if run.ErrorMessage != "" {
		cat := ""
		if run.ErrorCategory != "" {
			cat = " [" + run.ErrorCategory + "]"
		}
		fmt.Fprintf(&sb, "  error%s: %s\n", cat, run.ErrorMessage)
	}
	if len(run.Warnings) > 0 {
		sb.WriteString("  warnings:\n")
		for _, wn := range run.Warnings {
			fmt.Fprintf(&sb, "    - %s\n", wn)
		}
	}
	if len(run.SampleErrors) > 0 {
		fmt.Fprintf(&sb, "  sample rejected records (%d of %d):\n", len(run.SampleErrors), run.Rejected)
		for _, se := range run.SampleErrors {
			fmt.Fprintf(&sb, "    - key %s: %s\n", se.Key, se.Reason)
		}
	}
	if run.Rejected > 0 {
		fmt.Fprintf(&sb, "  rejected records are stored in the warehouse table %s\n", res.RejectedTable)
	}
	_, _ = io.WriteString(w, sb.String())
}

// runJSON is the --json form of a run.
type runJSON struct {
	ID            string                `json:"id"`
	Status        string                `json:"status"`
	RunType       string                `json:"run_type"`
	Trigger       string                `json:"trigger"`
	RunnerID      string                `json:"runner_id"`
	StartedAt     time.Time             `json:"started_at"`
	FinishedAt    *time.Time            `json:"finished_at,omitempty"`
	RowsEvaluated int64                 `json:"rows_evaluated"`
	RowsSkipped   int64                 `json:"rows_skipped"`
	Added         int64                 `json:"added"`
	Changed       int64                 `json:"changed"`
	Removed       int64                 `json:"removed"`
	Acknowledged  int64                 `json:"acknowledged"`
	Rejected      int64                 `json:"rejected"`
	Retryable     int64                 `json:"retryable"`
	Requests      int64                 `json:"requests"`
	ErrorCategory string                `json:"error_category,omitempty"`
	ErrorMessage  string                `json:"error_message,omitempty"`
	SampleErrors  []catalog.SampleError `json:"sample_errors,omitempty"`
	Warnings      []string              `json:"warnings,omitempty"`
}

func cmdRuns(ctx context.Context, e *env, _ *flag.FlagSet, pos []string) error {
	if len(pos) != 1 {
		return usagef("runs needs exactly one <workspace>/<activation>")
	}
	if e.opts.limit <= 0 {
		return usagef("--limit must be positive")
	}
	st, err := e.openCatalog(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	_, act, err := findActivation(ctx, st, pos[0])
	if err != nil {
		return err
	}
	runs, err := st.ListRuns(ctx, act.ID, e.opts.limit)
	if err != nil {
		return err
	}
	if e.opts.json {
		out := make([]runJSON, 0, len(runs))
		for _, r := range runs {
			out = append(out, runJSON{
				ID: r.ID, Status: r.Status, RunType: r.RunType, Trigger: r.Trigger, RunnerID: r.RunnerID,
				StartedAt: r.StartedAt.UTC(), FinishedAt: utcPtr(r.FinishedAt),
				RowsEvaluated: r.RowsEvaluated, RowsSkipped: r.RowsSkipped, Added: r.Added, Changed: r.Changed,
				Removed: r.Removed, Acknowledged: r.Acknowledged, Rejected: r.Rejected, Retryable: r.Retryable,
				Requests: r.Requests, ErrorCategory: r.ErrorCategory, ErrorMessage: r.ErrorMessage,
				SampleErrors: r.SampleErrors, Warnings: r.Warnings,
			})
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(runs) == 0 {
		fmt.Fprintf(e.stdout, "No runs of %s yet: start one with dinmo-runner run %s\n", pos[0], pos[0])
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED (UTC)\tDURATION\tTYPE\tTRIGGER\tSTATUS\tROWS\tADDED\tCHANGED\tREMOVED\tACKED\tREJECTED\tERROR\tRUN ID")
	for _, r := range runs {
		dur := "-"
		if r.FinishedAt != nil {
			dur = r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond).String()
		}
		errText := "-"
		if r.ErrorMessage != "" {
			errText = oneLine(r.ErrorMessage, 60)
			if r.ErrorCategory != "" {
				errText = r.ErrorCategory + ": " + errText
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n",
			r.StartedAt.UTC().Format("2006-01-02 15:04:05"), dur, r.RunType, r.Trigger, r.Status,
			r.RowsEvaluated, r.Added, r.Changed, r.Removed, r.Acknowledged, r.Rejected, errText, r.ID)
	}
	return tw.Flush()
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func cmdActivations(ctx context.Context, e *env, _ *flag.FlagSet, pos []string) error {
	if len(pos) > 1 {
		return usagef("activations takes at most one workspace name")
	}
	st, err := e.openCatalog(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	var wss []catalog.Workspace
	if len(pos) == 1 {
		ws, err := findWorkspace(ctx, st, pos[0])
		if err != nil {
			return err
		}
		wss = []catalog.Workspace{*ws}
	} else if wss, err = st.ListWorkspaces(ctx); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTIVATION\tFROM\tTO\tMODE\tSCHEDULE\tSTATE\tNEXT RUN (UTC)\tLAST RUN")
	n := 0
	for _, ws := range wss {
		acts, err := st.ListActivations(ctx, ws.ID)
		if err != nil {
			return err
		}
		for _, a := range acts {
			n++
			from, err := activationSource(ctx, st, &a)
			if err != nil {
				return err
			}
			to := a.DestinationID
			if d, err := st.GetDestination(ctx, a.DestinationID); err == nil {
				to = d.Name
			} else if !errors.Is(err, catalog.ErrNotFound) {
				return err
			}
			next := "-"
			if a.NextRunAt != nil {
				next = a.NextRunAt.UTC().Format("2006-01-02 15:04:05")
			}
			last := "never"
			runs, err := st.ListRuns(ctx, a.ID, 1)
			if err != nil {
				return err
			}
			if len(runs) > 0 {
				last = runs[0].Status + " at " + runs[0].StartedAt.UTC().Format("2006-01-02 15:04:05")
			}
			fmt.Fprintf(tw, "%s/%s\t%s\t%s.%s\t%s\t%s\t%s\t%s\t%s\n", ws.Name, a.Name, from, to, a.Service,
				a.SyncMode, a.Schedule.Describe(), state(&a), next, last)
		}
	}
	if n == 0 {
		fmt.Fprintln(e.stdout, "No activations: declare dinmo_activation resources and run terraform apply.")
		return nil
	}
	return tw.Flush()
}

func activationSource(ctx context.Context, st catalog.Store, a *catalog.Activation) (string, error) {
	if a.SegmentID != "" {
		s, err := st.GetSegment(ctx, a.SegmentID)
		if err != nil {
			if errors.Is(err, catalog.ErrNotFound) {
				return "segment ?", nil
			}
			return "", err
		}
		return "segment " + s.Name, nil
	}
	m, err := st.GetModel(ctx, a.ModelID)
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return "model ?", nil
		}
		return "", err
	}
	return "model " + m.Name, nil
}

func state(a *catalog.Activation) string {
	switch {
	case !a.Enabled:
		return "disabled"
	case a.Paused:
		s := "paused"
		if a.PausedBy != "" {
			s += " by " + a.PausedBy
		}
		if a.PauseReason != "" {
			s += ": " + oneLine(a.PauseReason, 40)
		}
		return s
	}
	return "enabled"
}
