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
)

// This file holds the commands of the runner's tasks: refresh (a model's table now) and tasks
// (the history of refreshes and stats runs).

func tasksFlags(fs *flag.FlagSet, o *cmdOptions) {
	fs.IntVar(&o.limit, "limit", 20, "number of task runs to show, newest first")
	fs.BoolVar(&o.json, "json", false, "print JSON instead of a table")
}

func findModel(ctx context.Context, st catalog.Store, ref string) (*catalog.Workspace, *catalog.Model, error) {
	return findNamed(ctx, st, ref, "model", "shop/customers", st.GetModelByName, st.ListModels,
		func(m catalog.Model) string { return m.Name })
}

func cmdRefresh(ctx context.Context, e *env, _ *flag.FlagSet, pos []string) error {
	if len(pos) != 1 {
		return usagef("refresh needs exactly one <workspace>/<model>, e.g. dinmo-runner refresh shop/customers")
	}
	if _, err := e.logger(io.Discard); err != nil {
		return err
	}
	st, err := e.openCatalog(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	ws, m, err := findModel(ctx, st, pos[0])
	if err != nil {
		return err
	}
	r, err := e.newRunner(st, e.stderr)
	if err != nil {
		return err
	}
	res, err := r.RefreshModel(ctx, m.ID)
	if res == nil || res.Run == nil {
		return err
	}
	run := res.Run
	took := time.Duration(0)
	if run.FinishedAt != nil {
		took = run.FinishedAt.Sub(run.StartedAt)
	}
	fmt.Fprintf(e.stdout, "Refresh %s of %s/%s: %s, %d rows in the table, %s\n", run.ID, ws.Name, m.Name, run.Status, run.Rows, took.Round(time.Millisecond))
	if err != nil {
		return fmt.Errorf("refresh %s/%s: %w", ws.Name, m.Name, err)
	}
	return nil
}

// taskRunJSON is one element of the --json output of tasks.
type taskRunJSON struct {
	ID         string     `json:"id"`
	Task       string     `json:"task"`
	Object     string     `json:"object"`
	Status     string     `json:"status"`
	Trigger    string     `json:"trigger"`
	Runner     string     `json:"runner"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Rows       int64      `json:"rows"`
	Message    string     `json:"message,omitempty"`
}

// cmdTasks lists the task runs of a workspace, or of one of its models or sources.
func cmdTasks(ctx context.Context, e *env, _ *flag.FlagSet, pos []string) error {
	if len(pos) != 1 {
		return usagef("tasks takes <workspace>, or <workspace>/<model or source> for one object's history")
	}
	st, err := e.openCatalog(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	wsName, objName, one := strings.Cut(pos[0], "/")
	ws, err := findWorkspace(ctx, st, wsName)
	if err != nil {
		return err
	}
	objectID := ""
	if one {
		if m, err := st.GetModelByName(ctx, ws.ID, objName); err == nil {
			objectID = m.ID
		} else if src, serr := st.GetSourceByName(ctx, ws.ID, objName); serr == nil {
			objectID = src.ID
		} else {
			return fmt.Errorf("%s: no model or source %q in workspace %s", pos[0], objName, ws.Name)
		}
	}
	runs, err := st.ListTaskRuns(ctx, ws.ID, objectID, e.opts.limit)
	if err != nil {
		return err
	}
	if e.opts.json {
		out := make([]taskRunJSON, len(runs))
		for i, r := range runs {
			out[i] = taskRunJSON{ID: r.ID, Task: r.Kind, Object: r.ObjectName, Status: r.Status, Trigger: r.Trigger, Runner: r.RunnerID,
				StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, Rows: r.Rows, Message: r.Message}
		}
		return writeJSON(e.stdout, out)
	}
	if len(runs) == 0 {
		fmt.Fprintf(e.stdout, "No task runs in %s yet: `dinmo-runner serve` refreshes table models and computes each source's stats on their schedules.\n", pos[0])
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED (UTC)\tTASK\tOBJECT\tSTATUS\tTRIGGER\tDURATION\tROWS\tMESSAGE")
	for _, r := range runs {
		took := "-"
		if r.FinishedAt != nil {
			took = r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", r.StartedAt.Format("2006-01-02 15:04:05"), r.Kind, r.ObjectName, r.Status,
			r.Trigger, took, r.Rows, oneLine(r.Message, 100))
	}
	return tw.Flush()
}
