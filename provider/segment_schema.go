package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"dinmo/catalog"
	"dinmo/connectors/warehouse"
	"dinmo/segment"
)

// buildSchema assembles the graph segments are validated and compiled in: every model of the
// workspace that reads the same source (each with its view, primary key, columns with the
// declared type overrides, timestamp column, relationships and calculated fields) and every
// segment of the workspace on those models, for membership conditions. override, when not nil,
// replaces (or adds) the model with its id: the model being planned or applied, not stored yet.
func buildSchema(ctx context.Context, store catalog.Store, workspaceID, sourceID string, override *catalog.Model) (*segment.Schema, error) {
	models, err := store.ListModels(ctx, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("listing the models of the workspace: %w", err)
	}
	if override != nil {
		found := false
		for i := range models {
			if models[i].ID == override.ID && override.ID != "" {
				models[i] = *override
				found = true
			}
		}
		if !found {
			models = append(models, *override)
		}
	}
	names := map[string]string{} // model id -> name
	for _, m := range models {
		if m.SourceID == sourceID {
			names[m.ID] = m.Name
		}
	}
	s := &segment.Schema{Models: map[string]*segment.Model{}, Segments: map[string]segment.SegmentDef{}}
	for i := range models {
		m := &models[i]
		if m.SourceID != sourceID {
			continue
		}
		s.Models[m.Name] = schemaModel(m)
	}
	segs, err := store.ListSegments(ctx, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("listing the segments of the workspace: %w", err)
	}
	for _, sg := range segs {
		name, ok := names[sg.ModelID]
		if !ok {
			continue
		}
		g, err := segment.Decode(sg.Conditions)
		if err != nil {
			return nil, fmt.Errorf("segment %q: %w", sg.Name, err)
		}
		s.Segments[sg.Name] = segment.SegmentDef{Model: name, Tree: g}
	}
	return s, nil
}

// schemaModel converts a catalog model to a model of the segment graph.
func schemaModel(m *catalog.Model) *segment.Model {
	sm := &segment.Model{
		Name: m.Name, ViewSchema: warehouse.SchemaSegments, View: modelViewName(m.Name), PrimaryKey: m.PrimaryKey,
		Columns: columnsFromCatalog(m.Columns),
	}
	addModelGraph(sm, m)
	return sm
}

// decodeRules parses the rules attribute: the stored JSON form of a condition tree (see package
// segment), except that value and values may also hold JSON numbers and booleans, which are
// read as their text (jsonencode writes numbers for value = 100).
func decodeRules(text string) (segment.Group, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return segment.Group{}, fmt.Errorf("rules is not valid JSON: %w", err)
	}
	if dec.More() {
		return segment.Group{}, fmt.Errorf("rules holds trailing data after the JSON object")
	}
	if _, ok := raw.(map[string]any); !ok {
		return segment.Group{}, fmt.Errorf("rules must be a JSON object (a group: match, conditions, groups, related, aggregates, memberships)")
	}
	data, err := json.Marshal(stringifyValues(raw))
	if err != nil {
		return segment.Group{}, fmt.Errorf("rules: %w", err)
	}
	g, err := segment.Decode(data)
	if err != nil {
		return segment.Group{}, fmt.Errorf("rules: %w", err)
	}
	return g, nil
}

// stringifyValues rewrites numbers and booleans under the keys value and values as strings,
// at any depth.
func stringifyValues(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			switch k {
			case "value":
				x[k] = scalarText(e)
			case "values":
				if list, ok := e.([]any); ok {
					for i := range list {
						list[i] = scalarText(list[i])
					}
				}
			default:
				x[k] = stringifyValues(e)
			}
		}
		return x
	case []any:
		for i := range x {
			x[i] = stringifyValues(x[i])
		}
		return x
	default:
		return v
	}
}

func scalarText(v any) any {
	switch x := v.(type) {
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	default:
		return v
	}
}
