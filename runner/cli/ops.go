package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"dinmo/catalog"
	"dinmo/runner"
)

// The operator commands: approve, pause, resume, resync and status. They change runner-owned
// state in the catalog (never the declared attributes, which belong to Terraform) and are
// audited under the actor "cli".

// cliActor is the audit actor of operator commands.
const cliActor = "cli"

func pauseFlags(fs *flag.FlagSet, o *cmdOptions) {
	fs.StringVar(&o.reason, "reason", "", "why the activation is paused (shown by activations, status and the provider's pause_reason)")
}

// withActivation opens the catalog, resolves the single <workspace>/<activation> argument and
// calls f with an audited context.
func (e *env) withActivation(ctx context.Context, name string, pos []string, f func(ctx context.Context, st catalog.Store, ws *catalog.Workspace, a *catalog.Activation) error) error {
	if len(pos) != 1 {
		return usagef("%s needs exactly one <workspace>/<activation>, e.g. dinmo-runner %s shop/vip_customers_to_file", name, name)
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
	return f(catalog.WithActor(ctx, cliActor), st, ws, act)
}

func cmdApprove(ctx context.Context, e *env, _ *flag.FlagSet, pos []string) error {
	return e.withActivation(ctx, "approve", pos, func(ctx context.Context, st catalog.Store, ws *catalog.Workspace, a *catalog.Activation) error {
		if err := st.SetActivationApproval(ctx, a.ID, true); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Approved: the next run of %s/%s passes the mass-removal and empty-result guards once.\n", ws.Name, a.Name)
		if a.NextRunAt == nil {
			fmt.Fprintf(e.stdout, "It is not scheduled: start it with dinmo-runner run %s/%s\n", ws.Name, a.Name)
		}
		return nil
	})
}

func cmdPause(ctx context.Context, e *env, _ *flag.FlagSet, pos []string) error {
	return e.withActivation(ctx, "pause", pos, func(ctx context.Context, st catalog.Store, ws *catalog.Workspace, a *catalog.Activation) error {
		reason := strings.TrimSpace(e.opts.reason)
		if reason == "" {
			reason = "paused from the command line"
		}
		if err := st.SetActivationPause(ctx, a.ID, true, reason, runner.PausedByUser); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Paused %s/%s: %s\n", ws.Name, a.Name, reason)
		return nil
	})
}

func cmdResume(ctx context.Context, e *env, _ *flag.FlagSet, pos []string) error {
	return e.withActivation(ctx, "resume", pos, func(ctx context.Context, st catalog.Store, ws *catalog.Workspace, a *catalog.Activation) error {
		if !a.Paused {
			fmt.Fprintf(e.stdout, "%s/%s is not paused.\n", ws.Name, a.Name)
			return nil
		}
		if err := st.SetActivationPause(ctx, a.ID, false, "", runner.PausedByUser); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Resumed %s/%s (it was paused by %s: %s).\n", ws.Name, a.Name, or(a.PausedBy, "?"), a.PauseReason)
		return nil
	})
}

func cmdResync(ctx context.Context, e *env, _ *flag.FlagSet, pos []string) error {
	return e.withActivation(ctx, "resync", pos, func(ctx context.Context, st catalog.Store, ws *catalog.Workspace, a *catalog.Activation) error {
		if err := st.SetActivationSchedule(ctx, a.ID, a.NextRunAt, true); err != nil {
			return err
		}
		if err := st.AppendAudit(ctx, catalog.AuditEntry{Actor: cliActor, Action: "resync", ObjectKind: catalog.KindActivation,
			ObjectID: a.ID, ObjectName: a.Name, WorkspaceID: ws.ID, Details: map[string]any{"scope": "next run"}}); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "The next run of %s/%s is a full run: every row of its %s is sent again.\n", ws.Name, a.Name, sourceWord(a))
		return nil
	})
}

func sourceWord(a *catalog.Activation) string {
	if a.SegmentID != "" {
		return "segment"
	}
	return "model"
}

func cmdStatus(ctx context.Context, e *env, _ *flag.FlagSet, pos []string) error {
	return e.withActivation(ctx, "status", pos, func(ctx context.Context, st catalog.Store, ws *catalog.Workspace, a *catalog.Activation) error {
		from, err := activationSource(ctx, st, a)
		if err != nil {
			return err
		}
		to := a.DestinationID
		if d, err := st.GetDestination(ctx, a.DestinationID); err == nil {
			to = d.Name + " (" + d.Platform + ")"
		}
		owner, until, err := st.LeaseHolder(ctx, a.ID)
		if err != nil {
			return err
		}
		runs, err := st.ListRuns(ctx, a.ID, 5)
		if err != nil {
			return err
		}
		var sb strings.Builder
		tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "activation\t%s/%s (%s)\n", ws.Name, a.Name, a.ID)
		fmt.Fprintf(tw, "from\t%s\n", from)
		fmt.Fprintf(tw, "to\t%s, service %s, sync mode %s, run type %s\n", to, a.Service, a.SyncMode, or(a.RunType, "delta"))
		fmt.Fprintf(tw, "schedule\t%s\n", a.Schedule.Describe())
		fmt.Fprintf(tw, "state\t%s\n", state(a))
		next := "not scheduled"
		if a.NextRunAt != nil {
			next = a.NextRunAt.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		fmt.Fprintf(tw, "next run\t%s\n", next)
		g := a.Guards.Values()
		fmt.Fprintf(tw, "guards\tmax removal %g%% (snapshots of %d+ rows), block empty result %v, warn above %g%% rejected\n",
			g.MaxRemovalPercent, g.MinSnapshotForRemovalGuard, g.BlockEmptyResult, g.RejectedWarningPercent)
		var pending []string
		if a.FullResyncRequested {
			pending = append(pending, "full resync")
		}
		if a.RemovalsApproved {
			pending = append(pending, "guard approval")
		}
		if len(pending) > 0 {
			fmt.Fprintf(tw, "pending for next run\t%s\n", strings.Join(pending, ", "))
		}
		lease := "free"
		if owner != "" {
			lease = fmt.Sprintf("held by %s until %s", owner, until.UTC().Format(time.RFC3339))
			if until.Before(time.Now()) {
				lease += " (expired)"
			}
		}
		fmt.Fprintf(tw, "lease\t%s\n", lease)
		_ = tw.Flush()
		if len(runs) == 0 {
			sb.WriteString("last runs: none yet\n")
		} else {
			sb.WriteString("last runs:\n")
			tw = tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
			for _, r := range runs {
				detail := fmt.Sprintf("+%d ~%d -%d, %d acked, %d rejected", r.Added, r.Changed, r.Removed, r.Acknowledged, r.Rejected)
				if r.ErrorMessage != "" {
					detail = or(r.ErrorCategory, "error") + ": " + oneLine(r.ErrorMessage, 80)
				} else if len(r.Warnings) > 0 {
					detail += "; " + oneLine(strings.Join(r.Warnings, "; "), 80)
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", r.StartedAt.UTC().Format("2006-01-02 15:04:05"), r.Trigger, r.Status, detail)
			}
			_ = tw.Flush()
		}
		_, err = fmt.Fprint(e.stdout, sb.String())
		return err
	})
}

func cmdCheck(ctx context.Context, e *env, _ *flag.FlagSet, pos []string) error {
	if len(pos) > 1 {
		return usagef("check takes at most one workspace name")
	}
	if _, err := e.logger(io.Discard); err != nil {
		return err
	}
	st, err := e.openCatalog(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	wsID := ""
	if len(pos) == 1 {
		ws, err := findWorkspace(ctx, st, pos[0])
		if err != nil {
			return err
		}
		wsID = ws.ID
	}
	r, err := e.newRunner(st, e.stderr)
	if err != nil {
		return err
	}
	results, err := r.CheckPaused(ctx, wsID)
	r.WaitAlerts()
	for _, res := range results {
		if res.Resumed {
			fmt.Fprintf(e.stdout, "resumed       %s/%s: its checks pass again\n", res.Workspace, res.Activation)
		} else {
			fmt.Fprintf(e.stdout, "still paused  %s/%s: %s\n", res.Workspace, res.Activation, oneLine(res.Problem, 200))
		}
	}
	if err != nil {
		return err
	}
	if len(results) == 0 {
		fmt.Fprintln(e.stdout, "No automatically paused activations.")
	}
	return nil
}
