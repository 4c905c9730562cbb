package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"dinmo/catalog"
	"dinmo/connectors/warehouse"
	"dinmo/provider/internal/diagnostics"
	"dinmo/segment"
)

// Semantic tags of model fields: well-known meanings destinations can map automatically.
var semanticTags = []string{
	"email", "phone", "first_name", "last_name", "full_name", "gender", "birth_date", "zip_code", "city", "state", "country",
	"address", "language", "external_id",
}

// fieldTypes are the type categories a field declaration may force.
var fieldTypes = []string{
	string(warehouse.TypeString), string(warehouse.TypeNumber), string(warehouse.TypeInteger), string(warehouse.TypeBoolean),
	string(warehouse.TypeDate), string(warehouse.TypeTimestamp),
}

// Terraform types of the model graph attributes.
var (
	fieldObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{
		"column": types.StringType, "display_name": types.StringType, "type": types.StringType,
		"categorical": types.BoolType, "semantic": types.StringType,
	}}
	relationshipObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{
		"name": types.StringType, "to": types.StringType, "kind": types.StringType,
		"from_column": types.StringType, "to_column": types.StringType,
	}}
	windowObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{
		"column": types.StringType, "last": types.Int64Type, "unit": types.StringType, "from": types.StringType, "to": types.StringType,
	}}
	calculatedObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{
		"name": types.StringType, "kind": types.StringType, "path": types.ListType{ElemType: types.StringType},
		"function": types.StringType, "column": types.StringType, "order_by": types.StringType,
		"window": windowObjectType, "filter_json": types.StringType, "expression": types.StringType,
	}}
)

// modelGraphAttributes are the schema attributes declaring a model's fields, timestamp column,
// relationships and calculated fields.
func modelGraphAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"fields": schema.ListNestedAttribute{
			MarkdownDescription: "Declarations of some or all of the model's columns: a display name, a type that overrides the " +
				"introspected one (segment operators follow it), whether the field is categorical (low cardinality; only " +
				"categorical fields can be used in breakdowns once fields are declared) and a semantic tag destinations can map " +
				"automatically. Columns not declared stay usable with their introspected type.",
			Optional:   true,
			Validators: []validator.List{listvalidator.SizeAtLeast(1)},
			NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
				"column":       schema.StringAttribute{MarkdownDescription: "Exact name of a column of the model.", Required: true},
				"display_name": schema.StringAttribute{MarkdownDescription: "Human-readable name.", Optional: true},
				"type": schema.StringAttribute{
					MarkdownDescription: "Type category that replaces the introspected one: " + codeList(fieldTypes) + ".",
					Optional:            true,
					Validators:          []validator.String{stringvalidator.OneOf(fieldTypes...)},
				},
				"categorical": schema.BoolAttribute{MarkdownDescription: "Whether the field has few distinct values (breakdowns).", Optional: true},
				"semantic": schema.StringAttribute{
					MarkdownDescription: "Well-known meaning of the field: " + codeList(semanticTags) + ".",
					Optional:            true,
					Validators:          []validator.String{stringvalidator.OneOf(semanticTags...)},
				},
			}},
		},
		"timestamp_column": schema.StringAttribute{
			MarkdownDescription: "Date or timestamp column giving each row's time: the default field of time windows on this model. " +
				"Required for models of type `events`.",
			Optional: true,
		},
		"relationships": schema.ListNestedAttribute{
			MarkdownDescription: "Relationships from this model to other models of the same source: rows are related when " +
				"`this.from_column = to.to_column`. Relationships are directed; declare both directions to use both (the target " +
				"is named, not referenced, so two models can point at each other). Segments and calculated fields follow them by " +
				"name, multi-hop.",
			Optional:   true,
			Validators: []validator.List{listvalidator.SizeAtLeast(1)},
			NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
				"name": schema.StringAttribute{MarkdownDescription: "Name of the relationship, used in paths.", Required: true},
				"to":   schema.StringAttribute{MarkdownDescription: "Name of the target model (same workspace and source).", Required: true},
				"kind": schema.StringAttribute{
					MarkdownDescription: "`many_to_one` (each row has at most one related row) or `one_to_many`.",
					Required:            true,
					Validators:          []validator.String{stringvalidator.OneOf(segment.RelationshipKinds()...)},
				},
				"from_column": schema.StringAttribute{MarkdownDescription: "Key column of this model.", Required: true},
				"to_column":   schema.StringAttribute{MarkdownDescription: "Key column of the target model.", Required: true},
			}},
		},
		"calculated_fields": schema.ListNestedAttribute{
			MarkdownDescription: "Fields computed at query time, usable like columns in segments and selected in segment views " +
				"(so activations can map them). `aggregate` fields apply `function` to `column` of the rows reached through `path` " +
				"(count, count_distinct, sum, avg, min, max, first and last by `order_by`), restricted by `filter_json` and " +
				"`window`; over no rows count, count_distinct and sum are 0 and the others NULL. `formula` fields compute " +
				"`expression`: arithmetic (+ - * / and parentheses) over integer and number fields of the same row and " +
				"COALESCE(x, default); NULL in gives NULL out and a division by zero gives NULL.",
			Optional:   true,
			Validators: []validator.List{listvalidator.SizeAtLeast(1)},
			NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
				"name": schema.StringAttribute{MarkdownDescription: "Name of the field; it must not be a column's.", Required: true},
				"kind": schema.StringAttribute{
					MarkdownDescription: "`aggregate` or `formula`.", Required: true,
					Validators: []validator.String{stringvalidator.OneOf(segment.CalcAggregate, segment.CalcFormula)},
				},
				"path": schema.ListAttribute{
					MarkdownDescription: "Aggregate: relationship names followed from this model (multi-hop).",
					ElementType:         types.StringType, Optional: true,
				},
				"function": schema.StringAttribute{
					MarkdownDescription: "Aggregate: " + codeList(segment.AggregateFunctions()) + ".", Optional: true,
					Validators: []validator.String{stringvalidator.OneOf(segment.AggregateFunctions()...)},
				},
				"column":   schema.StringAttribute{MarkdownDescription: "Aggregate: field of the related model (not needed by `count`).", Optional: true},
				"order_by": schema.StringAttribute{MarkdownDescription: "Aggregate: field ordering rows for `first` and `last`.", Optional: true},
				"window": schema.SingleNestedAttribute{
					MarkdownDescription: "Aggregate: keep related rows in a period of their `timestamp_column` (or `column`): " +
						"`last` N `unit`, or `from` and/or `to` (dates or timestamps, both included).",
					Optional: true,
					Attributes: map[string]schema.Attribute{
						"column": schema.StringAttribute{MarkdownDescription: "Date or timestamp field of the related model.", Optional: true},
						"last":   schema.Int64Attribute{MarkdownDescription: "N of \"in the last N units\".", Optional: true},
						"unit": schema.StringAttribute{
							MarkdownDescription: codeList(segment.Units()) + ".", Optional: true,
							Validators: []validator.String{stringvalidator.OneOf(segment.Units()...)},
						},
						"from": schema.StringAttribute{MarkdownDescription: "Start of a fixed period.", Optional: true},
						"to":   schema.StringAttribute{MarkdownDescription: "End of a fixed period (a date includes the whole day).", Optional: true},
					},
				},
				"filter_json": schema.StringAttribute{
					MarkdownDescription: "Aggregate: condition tree on the related model, as JSON (`jsonencode`), in the format of " +
						"`dinmo_segment.rules`. (A JSON string because Terraform schemas cannot nest to any depth.)",
					Optional: true,
				},
				"expression": schema.StringAttribute{MarkdownDescription: "Formula: the arithmetic expression.", Optional: true},
			}},
		},
	}
}

// modelGraph is the declared graph of a model, as the segment package reads it, plus the field
// metadata.
type modelGraph struct {
	Fields          []declaredField
	TimestampColumn string
	Relationships   []segment.Relationship
	Calculated      []segment.CalculatedField
}

// declaredField is one element of fields.
type declaredField struct {
	Column      string `json:"column"`
	DisplayName string `json:"display_name,omitempty"`
	Type        string `json:"type,omitempty"`
	Categorical bool   `json:"categorical,omitempty"`
	Semantic    string `json:"semantic,omitempty"`
}

type modelFieldModel struct {
	Column      types.String `tfsdk:"column"`
	DisplayName types.String `tfsdk:"display_name"`
	Type        types.String `tfsdk:"type"`
	Categorical types.Bool   `tfsdk:"categorical"`
	Semantic    types.String `tfsdk:"semantic"`
}

type relationshipModel struct {
	Name       types.String `tfsdk:"name"`
	To         types.String `tfsdk:"to"`
	Kind       types.String `tfsdk:"kind"`
	FromColumn types.String `tfsdk:"from_column"`
	ToColumn   types.String `tfsdk:"to_column"`
}

type windowModel struct {
	Column types.String `tfsdk:"column"`
	Last   types.Int64  `tfsdk:"last"`
	Unit   types.String `tfsdk:"unit"`
	From   types.String `tfsdk:"from"`
	To     types.String `tfsdk:"to"`
}

type calculatedModel struct {
	Name       types.String `tfsdk:"name"`
	Kind       types.String `tfsdk:"kind"`
	Path       types.List   `tfsdk:"path"`
	Function   types.String `tfsdk:"function"`
	Column     types.String `tfsdk:"column"`
	OrderBy    types.String `tfsdk:"order_by"`
	Window     *windowModel `tfsdk:"window"`
	FilterJSON types.String `tfsdk:"filter_json"`
	Expression types.String `tfsdk:"expression"`
}

// graphKnown tells whether every graph attribute is known.
func (p *modelModel) graphKnown() bool {
	return !p.Fields.IsUnknown() && !p.TimestampColumn.IsUnknown() && !p.Relationships.IsUnknown() && !p.Calculated.IsUnknown()
}

// graph reads the declared graph. known is false while a part of it is unknown; a filter_json
// that cannot be decoded is reported at its attribute.
func (p *modelModel) graph(ctx context.Context) (g modelGraph, known bool, diags diag.Diagnostics) {
	if !p.graphKnown() {
		return g, false, diags
	}
	g.TimestampColumn = p.TimestampColumn.ValueString()
	var fields []modelFieldModel
	diags.Append(p.Fields.ElementsAs(ctx, &fields, true)...)
	var rels []relationshipModel
	diags.Append(p.Relationships.ElementsAs(ctx, &rels, true)...)
	var calcs []calculatedModel
	diags.Append(p.Calculated.ElementsAs(ctx, &calcs, true)...)
	if diags.HasError() {
		return g, false, diags
	}
	for _, f := range fields {
		if f.Column.IsUnknown() || f.Type.IsUnknown() || f.Categorical.IsUnknown() || f.Semantic.IsUnknown() || f.DisplayName.IsUnknown() {
			return g, false, diags
		}
		g.Fields = append(g.Fields, declaredField{Column: f.Column.ValueString(), DisplayName: f.DisplayName.ValueString(),
			Type: f.Type.ValueString(), Categorical: f.Categorical.ValueBool(), Semantic: f.Semantic.ValueString()})
	}
	for _, r := range rels {
		if r.Name.IsUnknown() || r.To.IsUnknown() || r.Kind.IsUnknown() || r.FromColumn.IsUnknown() || r.ToColumn.IsUnknown() {
			return g, false, diags
		}
		g.Relationships = append(g.Relationships, segment.Relationship{Name: r.Name.ValueString(), To: r.To.ValueString(),
			Kind: r.Kind.ValueString(), FromColumn: r.FromColumn.ValueString(), ToColumn: r.ToColumn.ValueString()})
	}
	for i, c := range calcs {
		strs := []types.String{c.Name, c.Kind, c.Function, c.Column, c.OrderBy, c.FilterJSON, c.Expression}
		for _, s := range strs {
			if s.IsUnknown() {
				return g, false, diags
			}
		}
		if c.Path.IsUnknown() {
			return g, false, diags
		}
		f := segment.CalculatedField{Name: c.Name.ValueString(), Kind: c.Kind.ValueString(), Function: c.Function.ValueString(),
			Column: c.Column.ValueString(), OrderBy: c.OrderBy.ValueString(), Expression: c.Expression.ValueString()}
		diags.Append(c.Path.ElementsAs(ctx, &f.Path, false)...)
		if w := c.Window; w != nil {
			if w.Column.IsUnknown() || w.Last.IsUnknown() || w.Unit.IsUnknown() || w.From.IsUnknown() || w.To.IsUnknown() {
				return g, false, diags
			}
			f.Window = &segment.Window{Column: w.Column.ValueString(), Unit: w.Unit.ValueString(), From: w.From.ValueString(), To: w.To.ValueString()}
			if !w.Last.IsNull() {
				n := w.Last.ValueInt64()
				f.Window.Last = &n
			}
		}
		if !c.FilterJSON.IsNull() {
			filter, err := decodeRules(c.FilterJSON.ValueString())
			if err != nil {
				diagnostics.AddAttributeError(&diags, path.Root("calculated_fields").AtListIndex(i).AtName("filter_json"),
					"Invalid Calculated Field", fmt.Sprintf("The filter of calculated field %q cannot be read.", f.Name),
					"Write filter_json with jsonencode({...}) in the format of dinmo_segment.rules.", err)
				continue
			}
			f.Filter = &filter
		}
		g.Calculated = append(g.Calculated, f)
	}
	return g, !diags.HasError(), diags
}

// setGraph writes a graph into the attributes; filterTexts keeps the configuration's
// filter_json strings (by calculated field name) when they still mean the stored filter.
func (p *modelModel) setGraph(ctx context.Context, g modelGraph) diag.Diagnostics {
	var diags diag.Diagnostics
	prevFilters := map[string]string{}
	if !p.Calculated.IsNull() && !p.Calculated.IsUnknown() {
		var prev []calculatedModel
		if d := p.Calculated.ElementsAs(ctx, &prev, true); !d.HasError() {
			for _, c := range prev {
				if !c.FilterJSON.IsNull() && !c.FilterJSON.IsUnknown() {
					prevFilters[c.Name.ValueString()] = c.FilterJSON.ValueString()
				}
			}
		}
	}
	// categorical = false written explicitly stays false rather than becoming null.
	explicitFalse := map[string]bool{}
	if !p.Fields.IsNull() && !p.Fields.IsUnknown() {
		var prev []modelFieldModel
		if d := p.Fields.ElementsAs(ctx, &prev, true); !d.HasError() {
			for _, f := range prev {
				if !f.Categorical.IsNull() && !f.Categorical.IsUnknown() && !f.Categorical.ValueBool() {
					explicitFalse[f.Column.ValueString()] = true
				}
			}
		}
	}
	p.TimestampColumn = optionalString(g.TimestampColumn)
	if len(g.Fields) == 0 {
		p.Fields = types.ListNull(fieldObjectType)
	} else {
		fs := make([]modelFieldModel, len(g.Fields))
		for i, f := range g.Fields {
			fs[i] = modelFieldModel{Column: types.StringValue(f.Column), DisplayName: optionalString(f.DisplayName), Type: optionalString(f.Type),
				Categorical: types.BoolNull(), Semantic: optionalString(f.Semantic)}
			if f.Categorical || explicitFalse[f.Column] {
				fs[i].Categorical = types.BoolValue(f.Categorical)
			}
		}
		l, d := types.ListValueFrom(ctx, fieldObjectType, fs)
		diags.Append(d...)
		p.Fields = l
	}
	if len(g.Relationships) == 0 {
		p.Relationships = types.ListNull(relationshipObjectType)
	} else {
		rs := make([]relationshipModel, len(g.Relationships))
		for i, r := range g.Relationships {
			rs[i] = relationshipModel{Name: types.StringValue(r.Name), To: types.StringValue(r.To), Kind: types.StringValue(r.Kind),
				FromColumn: types.StringValue(r.FromColumn), ToColumn: types.StringValue(r.ToColumn)}
		}
		l, d := types.ListValueFrom(ctx, relationshipObjectType, rs)
		diags.Append(d...)
		p.Relationships = l
	}
	if len(g.Calculated) == 0 {
		p.Calculated = types.ListNull(calculatedObjectType)
		return diags
	}
	cs := make([]calculatedModel, len(g.Calculated))
	for i, f := range g.Calculated {
		c := calculatedModel{Name: types.StringValue(f.Name), Kind: types.StringValue(f.Kind), Path: types.ListNull(types.StringType),
			Function: optionalString(f.Function), Column: optionalString(f.Column), OrderBy: optionalString(f.OrderBy),
			FilterJSON: types.StringNull(), Expression: optionalString(f.Expression)}
		if len(f.Path) > 0 {
			l, d := types.ListValueFrom(ctx, types.StringType, f.Path)
			diags.Append(d...)
			c.Path = l
		}
		if w := f.Window; w != nil {
			c.Window = &windowModel{Column: optionalString(w.Column), Last: types.Int64Null(), Unit: optionalString(w.Unit),
				From: optionalString(w.From), To: optionalString(w.To)}
			if w.Last != nil {
				c.Window.Last = types.Int64Value(*w.Last)
			}
		}
		if f.Filter != nil {
			stored, err := segment.Encode(*f.Filter)
			if err != nil {
				diagnostics.AddError(&diags, "Cannot Read Model", "A calculated field's filter cannot be encoded.", "This is a bug in the provider; please report it.", err)
				continue
			}
			c.FilterJSON = types.StringValue(string(stored))
			if prev, ok := prevFilters[f.Name]; ok {
				if cur, err := decodeRules(prev); err == nil {
					if enc, err := segment.Encode(cur); err == nil && string(enc) == string(stored) {
						c.FilterJSON = types.StringValue(prev)
					}
				}
			}
		}
		cs[i] = c
	}
	l, d := types.ListValueFrom(ctx, calculatedObjectType, cs)
	diags.Append(d...)
	p.Calculated = l
	return diags
}

// applyGraph sets a segment model's declared graph: type overrides of its columns, timestamp
// column, relationships and calculated fields.
func applyGraph(sm *segment.Model, g modelGraph) {
	types := map[string]string{}
	for _, f := range g.Fields {
		if f.Type != "" {
			types[f.Column] = f.Type
		}
	}
	for i, c := range sm.Columns {
		if t, ok := types[c.Name]; ok {
			sm.Columns[i].Category = warehouse.TypeCategory(t)
		}
	}
	sm.TimestampColumn = g.TimestampColumn
	sm.Relationships = g.Relationships
	sm.Calculated = g.Calculated
}

// checkFields checks the field declarations against the introspected columns and the timestamp
// column's presence for events models; problems are reported at their attribute.
func checkFields(g modelGraph, modelType string, cols []warehouse.Column, summary string, d *diag.Diagnostics) bool {
	ok := true
	names := map[string]bool{}
	for _, c := range cols {
		names[c.Name] = true
	}
	seen := map[string]bool{}
	for i, f := range g.Fields {
		p := path.Root("fields").AtListIndex(i).AtName("column")
		switch {
		case cols != nil && !names[f.Column]:
			diagnostics.AddAttributeError(d, p, summary, fmt.Sprintf("Field %q is not a column of the model (fields[%d].column).", f.Column, i),
				"Use one of: "+strings.Join(columnNames(cols), ", ")+".", nil)
			ok = false
		case seen[f.Column]:
			diagnostics.AddAttributeError(d, p, summary, fmt.Sprintf("Field %q is declared twice (fields[%d].column).", f.Column, i),
				"Declare each column once.", nil)
			ok = false
		}
		seen[f.Column] = true
	}
	if modelType == "events" && g.TimestampColumn == "" {
		diagnostics.AddAttributeError(d, path.Root("timestamp_column"), summary, "A model of type events needs a timestamp_column.",
			"Set timestamp_column to the date or timestamp column of each event.", nil)
		ok = false
	}
	return ok
}

var graphPathStep = regexp.MustCompile(`^([a-z_]+)(?:\[(\d+)\])?$`)

// modelErrorPath maps a segment.ValidateModel path ("relationships[0].to",
// "calculated[1].filter.conditions[0].value", "calculated[0].window.unit") to the attribute it
// comes from: nested filter paths point at filter_json, whose text the message quotes.
func modelErrorPath(p string) path.Path {
	steps := strings.Split(p, ".")
	first := graphPathStep.FindStringSubmatch(steps[0])
	if first == nil {
		return path.Empty()
	}
	name := first[1]
	switch name {
	case "calculated":
		name = "calculated_fields"
	case "relationships", "primary_key", "timestamp_column":
	default:
		return path.Empty()
	}
	out := path.Root(name)
	if first[2] == "" {
		return out
	}
	n, err := strconv.Atoi(first[2])
	if err != nil {
		return path.Root(name)
	}
	out = out.AtListIndex(n)
	if len(steps) < 2 {
		return out
	}
	second := graphPathStep.FindStringSubmatch(steps[1])
	if second == nil {
		return out
	}
	switch second[1] {
	case "filter":
		return out.AtName("filter_json")
	case "window":
		if len(steps) > 2 && name == "calculated_fields" {
			if third := graphPathStep.FindStringSubmatch(steps[2]); third != nil && third[2] == "" {
				return out.AtName("window").AtName(third[1])
			}
		}
		return out.AtName("window")
	case "path":
		return out.AtName("path")
	default:
		if second[2] == "" {
			return out.AtName(second[1])
		}
		return out
	}
}

// graphJSON encodes the parts of a graph the catalog stores as JSON.
func graphJSON(v any) (json.RawMessage, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode model definition: %w", err)
	}
	return data, nil
}

// modelGraphOf reads a catalog model's declared graph. Calculated fields the catalog holds but
// cannot decode (written by a newer dinmo) are left out; ValidateModel then reports the
// segments that use them.
func modelGraphOf(m *catalog.Model) modelGraph {
	g := modelGraph{TimestampColumn: m.TimestampColumn}
	for _, f := range m.Fields {
		g.Fields = append(g.Fields, declaredField(f))
	}
	for _, r := range m.Relationships {
		g.Relationships = append(g.Relationships, segment.Relationship(r))
	}
	if len(m.Calculated) > 0 {
		dec := json.NewDecoder(bytes.NewReader(m.Calculated))
		dec.DisallowUnknownFields()
		var calcs []segment.CalculatedField
		if err := dec.Decode(&calcs); err == nil {
			g.Calculated = calcs
		}
	}
	return g
}

// setModelGraph stores a declared graph on a catalog model.
func setModelGraph(m *catalog.Model, g modelGraph) {
	m.TimestampColumn = g.TimestampColumn
	m.Fields = nil
	for _, f := range g.Fields {
		m.Fields = append(m.Fields, catalog.Field(f))
	}
	m.Relationships = nil
	for _, r := range g.Relationships {
		m.Relationships = append(m.Relationships, catalog.Relationship(r))
	}
	m.Calculated = nil
	if len(g.Calculated) > 0 {
		// A list of plain structs always encodes.
		m.Calculated, _ = graphJSON(g.Calculated)
	}
}

func duplicateShareOf(m *catalog.Model) float64 { return m.DuplicateKeyShare }

// setDuplicateShare records the result of a duplicate primary key check.
func setDuplicateShare(m *catalog.Model, share float64, at time.Time) {
	m.DuplicateKeyShare = share
	at = at.UTC().Truncate(time.Microsecond)
	m.DuplicateKeyCheckedAt = &at
}
