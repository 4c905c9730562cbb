package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"dinmo/catalog"
	"dinmo/connectors/warehouse"
	"dinmo/runner"
	"dinmo/secrets"
	"dinmo/stats"
)

// Segment statistics commands: stats, breakdown and overlap compute in the source's warehouse,
// through package stats, what the provider's dinmo_segment_stats, dinmo_segment_breakdown and
// dinmo_segment_overlap data sources compute, and print it as a table or, with --json, as JSON.

func statsFlags(fs *flag.FlagSet, o *cmdOptions) {
	fs.BoolVar(&o.json, "json", false, "print JSON instead of a table")
}

func breakdownFlags(fs *flag.FlagSet, o *cmdOptions) {
	statsFlags(fs, o)
	fs.StringVar(&o.by, "by", "", "comma-separated fields of the segment's model to break it down by (required)")
}

// statsTarget is a segment resolved from "<workspace>/<segment>" with its model and source.
type statsTarget struct {
	ws    *catalog.Workspace
	seg   *catalog.Segment
	model *catalog.Model
	src   *catalog.Source
}

func (t *statsTarget) relation() stats.Relation { return stats.SegmentsView(t.seg.ViewName) }
func (t *statsTarget) parent() stats.Relation   { return stats.SegmentsView(t.model.ViewName) }

// findSegment resolves "<workspace>/<segment>" with messages naming what exists.
func findSegment(ctx context.Context, st catalog.Store, ref string) (*statsTarget, error) {
	ws, seg, err := findNamed(ctx, st, ref, "segment", "shop/vip_customers", st.GetSegmentByName, st.ListSegments,
		func(s catalog.Segment) string { return s.Name })
	if err != nil {
		return nil, err
	}
	m, err := st.GetModel(ctx, seg.ModelID)
	if err != nil {
		return nil, fmt.Errorf("model of segment %s: %w", ref, err)
	}
	src, err := st.GetSource(ctx, m.SourceID)
	if err != nil {
		return nil, fmt.Errorf("source of segment %s: %w", ref, err)
	}
	return &statsTarget{ws: ws, seg: seg, model: m, src: src}, nil
}

// openSourceWarehouse opens a catalog source's warehouse; the secret key is needed only when
// the source has credentials.
func (e *env) openSourceWarehouse(ctx context.Context, src *catalog.Source) (warehouse.Warehouse, error) {
	var sealer *secrets.Sealer
	if len(src.Credentials) > 0 {
		var err error
		if sealer, err = e.sealer(); err != nil {
			return nil, err
		}
	}
	return runner.OpenSource(ctx, e.registry(), sealer, src, nil)
}

// withSegments opens the catalog, resolves the references and opens their source's warehouse
// for fn.
func (e *env) withSegments(ctx context.Context, refs []string, fn func(w warehouse.Warehouse, ts []*statsTarget) error) error {
	st, err := e.openCatalog(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	ts := make([]*statsTarget, len(refs))
	for i, ref := range refs {
		if ts[i], err = findSegment(ctx, st, ref); err != nil {
			return err
		}
	}
	w, err := e.openSourceWarehouse(ctx, ts[0].src)
	if err != nil {
		return err
	}
	defer w.Close()
	return fn(w, ts)
}

// statsJSON is the --json output of stats.
type statsJSON struct {
	Segment    string    `json:"segment"`
	Size       int64     `json:"size"`
	ParentSize int64     `json:"parent_size"`
	Share      float64   `json:"share"`
	ComputedAt time.Time `json:"computed_at"`
}

func cmdStats(ctx context.Context, e *env, _ *flag.FlagSet, pos []string) error {
	if len(pos) != 1 {
		return usagef("stats takes one segment, as <workspace>/<segment>, or a workspace")
	}
	if !strings.Contains(pos[0], "/") {
		return e.workspaceStats(ctx, pos[0])
	}
	return e.withSegments(ctx, pos, func(w warehouse.Warehouse, ts []*statsTarget) error {
		t := ts[0]
		s, err := stats.SegmentSize(ctx, w.DB(), w.Dialect(), t.relation(), t.parent(), time.Now())
		if err != nil {
			return fmt.Errorf("segment %s: %w", pos[0], err)
		}
		if err := stats.Record(ctx, w.DB(), w.Dialect(), t.seg.ID, s); err != nil {
			return fmt.Errorf("segment %s: %w", pos[0], err)
		}
		if e.opts.json {
			return writeJSON(e.stdout, statsJSON{Segment: pos[0], Size: s.Size, ParentSize: s.ParentSize, Share: s.Share, ComputedAt: s.ComputedAt})
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SEGMENT\tMODEL\tSIZE\tPARENT SIZE\tSHARE\tCOMPUTED AT (UTC)")
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", pos[0], t.model.Name, s.Size, s.ParentSize, pct(s.Share*100),
			s.ComputedAt.Format("2006-01-02 15:04:05"))
		return tw.Flush()
	})
}

// breakdownJSON is one element of the --json output of breakdown.
type breakdownJSON struct {
	Field   string  `json:"field"`
	Value   *string `json:"value"`
	Count   int64   `json:"count"`
	Percent float64 `json:"percent"`
}

func cmdBreakdown(ctx context.Context, e *env, _ *flag.FlagSet, pos []string) error {
	if len(pos) != 1 {
		return usagef("breakdown takes one segment, as <workspace>/<segment>")
	}
	var fields []string
	for _, f := range strings.Split(e.opts.by, ",") {
		if f = strings.TrimSpace(f); f != "" {
			fields = append(fields, f)
		}
	}
	if len(fields) == 0 {
		return usagef("breakdown needs --by with one or more fields, e.g. --by country,gender")
	}
	return e.withSegments(ctx, pos, func(w warehouse.Warehouse, ts []*statsTarget) error {
		t := ts[0]
		cols := map[string]bool{}
		var names []string
		for _, c := range t.model.Columns {
			cols[c.Name] = true
			names = append(names, c.Name)
		}
		categorical := map[string]bool{}
		for _, f := range t.model.Fields {
			categorical[f.Column] = f.Categorical
		}
		for _, f := range fields {
			if len(cols) > 0 && !cols[f] {
				return usagef("field %q is not a column of model %s; its columns: %s", f, t.model.Name, strings.Join(names, ", "))
			}
			// As in dinmo_segment_breakdown: once a model declares fields, only categorical
			// ones break a segment down (one row per value).
			if len(t.model.Fields) > 0 && !categorical[f] {
				return usagef("field %q of model %s is not categorical; mark it categorical in the model's fields", f, t.model.Name)
			}
		}
		rows, err := stats.Breakdown(ctx, w.DB(), w.Dialect(), t.relation(), fields, -1)
		if err != nil {
			return fmt.Errorf("segment %s: %w", pos[0], err)
		}
		if e.opts.json {
			out := make([]breakdownJSON, len(rows))
			for i, r := range rows {
				out[i] = breakdownJSON{Field: r.Field, Count: r.Count, Percent: r.Percent}
				if !r.Null {
					v := r.Value
					out[i].Value = &v
				}
			}
			return writeJSON(e.stdout, out)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "FIELD\tVALUE\tCOUNT\tPERCENT")
		for _, r := range rows {
			v := r.Value
			if r.Null {
				v = "(null)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", r.Field, v, r.Count, pct(r.Percent))
		}
		return tw.Flush()
	})
}

// overlapJSON is the --json output of overlap.
type overlapJSON struct {
	Segments []overlapSegmentJSON `json:"segments"`
	Pairs    []overlapPairJSON    `json:"pairs"`
}

type overlapSegmentJSON struct {
	Segment string `json:"segment"`
	Size    int64  `json:"size"`
}

type overlapPairJSON struct {
	A        string  `json:"a"`
	B        string  `json:"b"`
	Common   int64   `json:"common"`
	ShareOfA float64 `json:"share_of_a"`
	ShareOfB float64 `json:"share_of_b"`
}

func cmdOverlap(ctx context.Context, e *env, _ *flag.FlagSet, pos []string) error {
	if len(pos) < 2 {
		return usagef("overlap takes two or more segments of the same model, as <workspace>/<segment>")
	}
	return e.withSegments(ctx, pos, func(w warehouse.Warehouse, ts []*statsTarget) error {
		members := make([]stats.Member, len(ts))
		for i, t := range ts {
			if t.model.ID != ts[0].model.ID {
				return usagef("segments %s (model %s) and %s (model %s) have different models: only segments of the same model can be compared",
					pos[0], ts[0].model.Name, pos[i], t.model.Name)
			}
			members[i] = stats.Member{Name: pos[i], Relation: t.relation()}
		}
		o, err := stats.Overlaps(ctx, w.DB(), w.Dialect(), members, ts[0].model.PrimaryKey)
		if err != nil {
			return err
		}
		if e.opts.json {
			out := overlapJSON{}
			for _, p := range pos {
				out.Segments = append(out.Segments, overlapSegmentJSON{Segment: p, Size: o.Sizes[p]})
			}
			for _, p := range o.Pairs {
				out.Pairs = append(out.Pairs, overlapPairJSON(p))
			}
			return writeJSON(e.stdout, out)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SEGMENT A\tSEGMENT B\tSIZE A\tSIZE B\tCOMMON\t% OF A\t% OF B")
		for _, p := range o.Pairs {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\n", p.A, p.B, o.Sizes[p.A], o.Sizes[p.B], p.Common, pct(p.ShareOfA*100), pct(p.ShareOfB*100))
		}
		return tw.Flush()
	})
}

// pct formats a percentage with one decimal.
func pct(p float64) string { return strconv.FormatFloat(p, 'f', 1, 64) + "%" }

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// workspaceJSON is the --json output of stats for a workspace.
type workspaceJSON struct {
	Models   []modelCheckJSON `json:"models"`
	Segments []statsJSON      `json:"segments"`
}

type modelCheckJSON struct {
	Model             string  `json:"model"`
	Rows              int64   `json:"rows"`
	Invalid           int64   `json:"invalid_keys"`
	DuplicateKeyShare float64 `json:"duplicate_key_share"`
}

// workspaceStats runs the stats task of every source of a workspace now: it re-checks the
// primary key of every model (recording the share in the catalog and in
// dinmo_stats.model_key_checks) and computes the size of every segment (recorded in
// dinmo_stats.segment_sizes). `dinmo-runner serve` runs the same task on each source's
// stats_schedule; each run is in the task history (`dinmo-runner tasks`).
func (e *env) workspaceStats(ctx context.Context, wsName string) error {
	st, err := e.openCatalog(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	ws, err := findWorkspace(ctx, st, wsName)
	if err != nil {
		return err
	}
	srcs, err := st.ListSources(ctx, ws.ID)
	if err != nil {
		return err
	}
	r, err := e.newRunner(st, e.stderr)
	if err != nil {
		return err
	}
	var out workspaceJSON
	var failed []error
	for i := range srcs {
		res, err := r.ComputeSourceStats(ctx, srcs[i].ID)
		if err != nil {
			failed = append(failed, fmt.Errorf("source %s/%s: %w", ws.Name, srcs[i].Name, err))
		}
		if res == nil || res.Stats == nil {
			continue
		}
		for _, m := range res.Stats.Models {
			out.Models = append(out.Models, modelCheckJSON{Model: ws.Name + "/" + m.Model, Rows: m.Rows, Invalid: m.Invalid, DuplicateKeyShare: m.Share})
		}
		for _, s := range res.Stats.Segments {
			out.Segments = append(out.Segments, statsJSON{Segment: ws.Name + "/" + s.Segment, Size: s.Size.Size, ParentSize: s.ParentSize, Share: s.Share, ComputedAt: s.ComputedAt})
		}
	}
	if e.opts.json {
		if err := writeJSON(e.stdout, out); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "MODEL\tROWS\tINVALID KEYS\tDUPLICATE SHARE")
		for _, m := range out.Models {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", m.Model, m.Rows, m.Invalid, pct(m.DuplicateKeyShare*100))
		}
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "SEGMENT\tSIZE\tPARENT SIZE\tSHARE")
		for _, s := range out.Segments {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", s.Segment, s.Size, s.ParentSize, pct(s.Share*100))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return errors.Join(failed...)
}
