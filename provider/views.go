package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"dinmo/catalog"
	"dinmo/connectors/warehouse"
	"dinmo/segment"
)

// View naming: every model and segment has one view in the managed schema dinmo_segments,
// named after the object, so users can query it and the runner can read it.
const (
	modelViewPrefix   = "model_"
	segmentViewPrefix = "segment_"
)

func modelViewName(name string) string   { return modelViewPrefix + name }
func segmentViewName(name string) string { return segmentViewPrefix + name }

// displayViewName is the unquoted schema-qualified view name shown in state and stored in the
// catalog, e.g. dinmo_segments.model_customers.
func displayViewName(view string) string { return warehouse.SchemaSegments + "." + view }

func columnsToCatalog(cols []warehouse.Column) []catalog.Column {
	out := make([]catalog.Column, len(cols))
	for i, c := range cols {
		out[i] = catalog.Column{Name: c.Name, Type: c.DatabaseType, Category: string(c.Category)}
	}
	return out
}

func columnsFromCatalog(cols []catalog.Column) []warehouse.Column {
	out := make([]warehouse.Column, len(cols))
	for i, c := range cols {
		out[i] = warehouse.Column{Name: c.Name, DatabaseType: c.Type, Category: warehouse.TypeCategory(c.Category)}
	}
	return out
}

func columnNames(cols []warehouse.Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}

// segmentRebuild is a segment whose view is re-created when a model changes: a segment of the
// model (its view selects the model's columns and calculated fields, and PostgreSQL drops it
// with the model's view), or a segment of another model of the source whose SQL changes (it
// inlines the definitions of the calculated fields and relationships it uses).
type segmentRebuild struct {
	seg catalog.Segment
	sql string
	own bool
}

// planSegmentRebuilds recompiles the segments of the source against the model's new columns,
// relationships and calculated fields, before anything is changed in the warehouse, so a model
// change that would break a segment fails with nothing done. The error names the segment and
// the condition at fault. Segments of other models whose SQL is unchanged are left alone.
func planSegmentRebuilds(ctx context.Context, store catalog.Store, d warehouse.Dialect, model *catalog.Model, cols []warehouse.Column) ([]segmentRebuild, error) {
	segs, err := store.ListSegments(ctx, model.WorkspaceID)
	if err != nil {
		return nil, fmt.Errorf("listing the segments of model %q: %w", model.Name, err)
	}
	models, err := store.ListModels(ctx, model.WorkspaceID)
	if err != nil {
		return nil, fmt.Errorf("listing the models of the workspace: %w", err)
	}
	names := map[string]string{model.ID: model.Name}
	for _, m := range models {
		if m.SourceID == model.SourceID && m.ID != model.ID {
			names[m.ID] = m.Name
		}
	}
	next := *model
	next.Columns = columnsToCatalog(cols)
	graph, err := buildSchema(ctx, store, model.WorkspaceID, model.SourceID, &next)
	if err != nil {
		return nil, fmt.Errorf("loading the models and segments of the workspace: %w", err)
	}
	var out []segmentRebuild
	var problems []error
	for _, s := range segs {
		modelName, ok := names[s.ModelID]
		if !ok {
			continue // another source
		}
		g, err := segment.Decode(s.Conditions)
		if err != nil {
			problems = append(problems, fmt.Errorf("segment %q: %w", s.Name, err))
			continue
		}
		if errs := segment.ValidateIn(graph, modelName, g, segment.Options{Segment: s.Name}); len(errs) > 0 {
			for _, e := range errs {
				problems = append(problems, fmt.Errorf("segment %q, %s", s.Name, e.Error()))
			}
			continue
		}
		sql, err := compileSegment(d, graph, modelName, s.Name, g)
		if err != nil {
			problems = append(problems, fmt.Errorf("segment %q: %w", s.Name, err))
			continue
		}
		own := s.ModelID == model.ID
		if !own && sql == s.CompiledSQL {
			continue
		}
		out = append(out, segmentRebuild{seg: s, sql: sql, own: own})
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return out, nil
}

// dropSegmentViews drops the views of the segments about to be rebuilt: all of the model's
// when its columns change (columnsChanged), and any whose SQL changes (its SELECT list may
// change, which CREATE OR REPLACE VIEW refuses on PostgreSQL).
func dropSegmentViews(ctx context.Context, c *conn, rebuilds []segmentRebuild, columnsChanged bool) error {
	for _, rb := range rebuilds {
		keep := rb.sql == rb.seg.CompiledSQL && (!rb.own || !columnsChanged)
		if keep {
			continue
		}
		if err := c.exec(ctx, c.Dialect().DropView(warehouse.SchemaSegments, segmentViewName(rb.seg.Name))); err != nil {
			return fmt.Errorf("dropping the view of segment %q: %w", rb.seg.Name, err)
		}
	}
	return nil
}

// applySegmentRebuilds re-creates the views of a model's segments (the model's view may have
// been dropped and re-created, which drops dependent views on PostgreSQL) and stores their new
// compiled SQL.
func applySegmentRebuilds(ctx context.Context, store catalog.Store, c *conn, rebuilds []segmentRebuild) error {
	for _, rb := range rebuilds {
		view := segmentViewName(rb.seg.Name)
		if err := warehouse.ReplaceView(ctx, c.Warehouse, warehouse.SchemaSegments, view, rb.sql); err != nil {
			return fmt.Errorf("re-creating the view of segment %q: %w", rb.seg.Name, c.redact(err))
		}
		if rb.seg.CompiledSQL != rb.sql {
			s := rb.seg
			s.CompiledSQL = rb.sql
			if err := store.UpdateSegment(ctx, &s); err != nil {
				return fmt.Errorf("storing the recompiled SQL of segment %q: %w", s.Name, err)
			}
		}
		tflog.Debug(ctx, "re-created segment view", map[string]any{"segment_id": rb.seg.ID, "view": view})
	}
	return nil
}
