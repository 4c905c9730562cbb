package provider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"dinmo/catalog"
	"dinmo/connectors/warehouse"
	"dinmo/provider/internal/diagnostics"
	"dinmo/segment"
)

var (
	_ resource.Resource                   = (*segmentResource)(nil)
	_ resource.ResourceWithConfigure      = (*segmentResource)(nil)
	_ resource.ResourceWithImportState    = (*segmentResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*segmentResource)(nil)
	_ resource.ResourceWithValidateConfig = (*segmentResource)(nil)
)

func newSegmentResource() resource.Resource { return &segmentResource{} }

// segmentResource manages a segment: a filtered subset of a model, compiled to SQL and
// exposed as a view in dinmo_segments.
type segmentResource struct {
	resourceBase
}

func (r *segmentResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_segment"
}

// conditionObjectType is the type of one element of a segment's conditions.
var conditionObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"column": types.StringType, "operator": types.StringType, "value": types.StringType,
	"values": types.ListType{ElemType: types.StringType}, "unit": types.StringType,
}}

func (r *segmentResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	var opNames, opDocs []string
	for _, o := range segment.Operators() {
		opNames = append(opNames, o.Name)
		cats := make([]string, len(o.Categories))
		for i, c := range o.Categories {
			cats[i] = string(c)
		}
		opDocs = append(opDocs, fmt.Sprintf("`%s` (%s; takes %s): %s", o.Name, strings.Join(cats, ", "), o.Arity, o.Description))
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "A segment is a filtered subset of a model's rows. Its conditions are checked against the model's " +
			"fields, relationships and calculated fields at plan time, and the plan shows the compiled SQL. Applying it creates " +
			"(or replaces) the view `" + warehouse.SchemaSegments + ".segment_<name>`, which selects every column of the model's " +
			"view, then the model's calculated fields, for the rows that match (so activations can map calculated fields).\n\n" +
			"Simple segments use `match` and `conditions` (attribute conditions combined with AND or OR). Any other segment uses " +
			"`rules`: the whole condition tree as JSON, written with `jsonencode`, which allows groups nested to any depth, " +
			"negated groups, related-model conditions, aggregate conditions and segment memberships:\n\n" +
			"```terraform\nrules = jsonencode({\n  match = \"all\"\n  conditions = [{ column = \"country\", operator = \"in\", values = [\"FR\", \"BE\"] }]\n" +
			"  groups = [{ match = \"any\", negate = true, conditions = [{ column = \"email\", operator = \"ends_with\", value = \"@test.com\" }] }]\n" +
			"  related = [{ path = [\"orders\"], quantifier = \"count_at_least\", count = 2, window = { last = 12, unit = \"months\" },\n" +
			"              filter = { match = \"all\", conditions = [{ column = \"status\", operator = \"equals\", value = \"paid\" }] } }]\n" +
			"  aggregates = [{ path = [\"orders\"], function = \"sum\", column = \"amount\", operator = \"gte\", value = 100 }]\n" +
			"  memberships = [{ segment = \"test_accounts\", exclude = true }]\n})\n```\n\n" +
			"A group has `match` (`all` or `any`), optional `negate`, and lists `conditions`, `groups`, `related`, `aggregates` and " +
			"`memberships`. A condition has `column`, `operator`, `value` or `values`, and `unit` (`days`, `weeks`, `months`, " +
			"`years`) for `in_last`, `in_next` and `more_than_ago`. A related condition has `path` (relationship names, multi-hop), " +
			"`quantifier` (" + codeList(segment.Quantifiers()) + "), `count`, an optional `filter` (a group on the related model, " +
			"nestable) and `window` (`last` with `unit`, or `from` and/or `to`, on the related model's `timestamp_column` or " +
			"`column`). An aggregate has `path`, `function` (" + codeList(segment.AggregateFunctions()) + "), `column`, `order_by` " +
			"(first, last), `filter`, `window` and the comparison `operator`, `value`/`values`, `unit`. A membership names another " +
			"segment of the same model (`segment`) and may `exclude` it; cycles are rejected. Values may be written as strings, " +
			"numbers or booleans. Errors name the exact place in the tree, such as `related[0].filter.conditions[1].value`.\n\n" +
			"Import with `<workspace name>/<segment name>` or the catalog id.",
		Attributes: map[string]schema.Attribute{
			"id":           idAttribute("segment"),
			"workspace_id": workspaceIDAttribute("segment"),
			"model_id": schema.StringAttribute{
				MarkdownDescription: "Id of the parent model (`dinmo_model.<name>.id`). Changing it replaces the segment.",
				Required:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"name": nameAttribute("segment", true),
			"description": schema.StringAttribute{
				MarkdownDescription: "Free-text description.",
				Optional:            true, Computed: true, Default: stringdefault.StaticString(""),
			},
			"match": schema.StringAttribute{
				MarkdownDescription: "`all`: a row must match every condition (AND); `any`: at least one (OR). Defaults to `all`. " +
					"Without conditions, the segment holds every row of the model. Not used with `rules`, whose tree has its own `match`.",
				Optional: true, Computed: true, Default: stringdefault.StaticString(segment.MatchAll),
				Validators: []validator.String{stringvalidator.OneOf(segment.MatchAll, segment.MatchAny)},
			},
			"conditions": schema.ListNestedAttribute{
				MarkdownDescription: "Conditions on the model's columns. Values are written as strings and read according to the " +
					"column's type category: integers and decimals as plain numbers, dates as `YYYY-MM-DD`, timestamps as RFC 3339. " +
					"Operators:\n\n  - " + strings.Join(opDocs, "\n  - "),
				Optional:   true,
				Validators: []validator.List{listvalidator.SizeAtLeast(1), listvalidator.ConflictsWith(path.MatchRoot("rules"))},
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"column": schema.StringAttribute{
						MarkdownDescription: "Exact (case-sensitive) name of a column of the model.",
						Required:            true,
					},
					"operator": schema.StringAttribute{
						MarkdownDescription: "One of " + codeList(opNames) + "; which ones apply depends on the column's type category.",
						Required:            true,
						Validators:          []validator.String{stringvalidator.OneOf(opNames...)},
					},
					"value": schema.StringAttribute{
						MarkdownDescription: "Operand of single-value operators (`equals`, `gt`, `contains`, ...).",
						Optional:            true,
					},
					"values": schema.ListAttribute{
						MarkdownDescription: "Operands of `in` and `not_in` (one or more), or the low and high bounds of `between`.",
						ElementType:         types.StringType,
						Optional:            true,
						Validators:          []validator.List{listvalidator.SizeAtLeast(1)},
					},
					"unit": schema.StringAttribute{
						MarkdownDescription: "Unit of `in_last`, `in_next` and `more_than_ago` (whose `value` is the number of units): " + codeList(segment.Units()) + ".",
						Optional:            true,
						Validators:          []validator.String{stringvalidator.OneOf(segment.Units()...)},
					},
				}},
			},
			"rules": schema.StringAttribute{
				MarkdownDescription: "The whole condition tree as a JSON object (use `jsonencode`), for segments `match` and `conditions` " +
					"cannot express; see the resource description for its format. Conflicts with `conditions` and `match`.",
				Optional:   true,
				Validators: []validator.String{stringvalidator.ConflictsWith(path.MatchRoot("conditions"))},
			},
			"compiled_sql": schema.StringAttribute{
				MarkdownDescription: "The SELECT the segment's view runs, compiled at plan time when the model is known; relative dates " +
					"use the warehouse's current time when the view is queried.",
				Computed: true,
			},
			"view_name": schema.StringAttribute{
				MarkdownDescription: "The segment's view in the warehouse, unquoted (`" + warehouse.SchemaSegments + ".segment_<name>`). " +
					"Empty when the view was found missing; the next apply re-creates it.",
				Computed: true,
			},
		},
	}
}

// ValidateConfig rejects match with rules and rules that are not a condition tree, with the
// JSON error at the rules attribute.
func (r *segmentResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var rules, match types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("rules"), &rules)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("match"), &match)...)
	if resp.Diagnostics.HasError() || rules.IsNull() || rules.IsUnknown() {
		return
	}
	if !match.IsNull() {
		diagnostics.AddAttributeError(&resp.Diagnostics, path.Root("match"), "Invalid Attribute Combination",
			"match cannot be set together with rules: the rules' top-level group has its own match.",
			"Remove match and set \"match\" inside rules.", nil)
	}
	if _, err := decodeRules(rules.ValueString()); err != nil {
		diagnostics.AddAttributeError(&resp.Diagnostics, path.Root("rules"), "Invalid Segment Rules", "The rules cannot be read.",
			"Write rules with jsonencode({...}) following the documented format; unknown keys are rejected.", err)
	}
}

// ModifyPlan validates the conditions against the model's columns and plans the compiled SQL,
// so `terraform plan` shows errors at the condition at fault and the SQL the view will run.
func (r *segmentResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan segmentModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !plan.Name.IsUnknown() {
		plan.ViewName = types.StringValue(displayViewName(segmentViewName(plan.Name.ValueString())))
	}
	var state *segmentModel
	if !req.State.Raw.IsNull() {
		state = &segmentModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	defer func() { resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...) }()
	g, known := plan.group()
	if !r.configured() || plan.ModelID.IsUnknown() || !known {
		plan.CompiledSQL = types.StringUnknown()
		return
	}
	m, err := r.data.Store.GetModel(ctx, plan.ModelID.ValueString())
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			// The model may be re-created in this same plan; Create and Update check again.
			plan.CompiledSQL = types.StringUnknown()
			return
		}
		addStoreError(&resp.Diagnostics, "Cannot Plan Segment", catalog.KindModel, plan.ModelID.ValueString(), err)
		return
	}
	graph, err := buildSchema(ctx, r.data.Store, m.WorkspaceID, m.SourceID, nil)
	if err != nil {
		diagnostics.AddError(&resp.Diagnostics, "Cannot Plan Segment", "The models and segments of the workspace cannot be loaded.",
			"Check the catalog; apply the models again if one was changed outside Terraform.", err)
		return
	}
	name := plan.Name.ValueString()
	if errs := segment.ValidateIn(graph, m.Name, g, segment.Options{Segment: name}); len(errs) > 0 {
		addConditionErrors(&resp.Diagnostics, "Invalid Segment Condition", m, errs, plan.usesRules())
		return
	}
	if state != nil && !segmentNeedsCompile(plan, *state) {
		plan.CompiledSQL = state.CompiledSQL
		return
	}
	c, err := r.data.openSourceByID(ctx, m.SourceID)
	if err != nil {
		diagnostics.AddWarning(&resp.Diagnostics, "Cannot Compile Segment At Plan Time",
			fmt.Sprintf("The warehouse of model %q could not be reached, so the plan cannot show the segment's SQL.", m.Name),
			"The SQL is compiled at apply; check the source's warehouse if this persists.", err)
		plan.CompiledSQL = types.StringUnknown()
		return
	}
	defer c.close()
	sql, err := compileSegment(c.Dialect(), graph, m.Name, name, g)
	if err != nil {
		addCompileError(&resp.Diagnostics, "Cannot Compile Segment", m, err, plan.usesRules())
		return
	}
	plan.CompiledSQL = types.StringValue(sql)
}

// compileSegment compiles a segment's tree in the graph: the SELECT of its view, with the
// model's calculated fields after its columns.
func compileSegment(d warehouse.Dialect, graph *segment.Schema, model, name string, g segment.Group) (string, error) {
	return segment.CompileIn(d, graph, model, g, segment.Options{Segment: name, IncludeCalculated: true})
}

// addCompileError reports a compilation failure: the problems of a validation error (an
// engine limit) at their conditions, any other error at the conditions as a whole.
func addCompileError(d *diag.Diagnostics, summary string, m *catalog.Model, err error, rules bool) {
	var verr *segment.ValidationError
	if errors.As(err, &verr) {
		addConditionErrors(d, summary, m, verr.Errors, rules)
		return
	}
	attr := path.Root("conditions")
	if rules {
		attr = path.Root("rules")
	}
	diagnostics.AddAttributeError(d, attr, summary, "The segment's conditions cannot be compiled to SQL.", "Fix the conditions.", err)
}

// segmentNeedsCompile tells whether the compiled SQL or the view must be produced again.
func segmentNeedsCompile(plan, state segmentModel) bool {
	return !plan.ModelID.Equal(state.ModelID) || !plan.Name.Equal(state.Name) || !plan.Match.Equal(state.Match) ||
		!plan.Conditions.Equal(state.Conditions) || !plan.Rules.Equal(state.Rules) || !plan.ViewName.Equal(state.ViewName) ||
		state.CompiledSQL.IsNull()
}

// addConditionErrors reports each problem of a condition tree at its attribute path. The path
// is also written in the text: Terraform cannot underline an element inside a list attribute,
// so it only shows the resource.
func addConditionErrors(d *diag.Diagnostics, summary string, m *catalog.Model, errs []*segment.Error, rules bool) {
	for _, e := range errs {
		where := "The segment"
		if e.Path != "" {
			where = "Condition " + e.Path
		}
		attr := segmentErrorPath(e.Path)
		if rules {
			attr = path.Root("rules")
			if e.Path != "" {
				where = "Rules at " + e.Path
			}
		}
		diagnostics.AddAttributeError(d, attr, summary,
			fmt.Sprintf("%s: %s (model %q).", where, strings.TrimSuffix(e.Message, "."), m.Name),
			"Fix the condition; the model's columns are listed in dinmo_model."+m.Name+".columns, its relationships and calculated fields in its configuration. "+
				"Conditions are checked against the model as last applied: if this change also adds the field, relationship or calculated field "+
				"to the model, apply the model first (terraform apply -target=<the dinmo_model resource>), then the segment.", nil)
	}
}

var pathStep = regexp.MustCompile(`^([a-z_]+)(?:\[(\d+)\])?$`)

// segmentErrorPath maps a segment.Error path ("conditions[2].value", "values[1]") onto the
// resource's attribute path; anything it cannot map points at conditions as a whole.
func segmentErrorPath(p string) path.Path {
	if p == "" {
		return path.Root("conditions")
	}
	var out path.Path
	for i, step := range strings.Split(p, ".") {
		m := pathStep.FindStringSubmatch(step)
		if m == nil {
			return path.Root("conditions")
		}
		if i == 0 {
			out = path.Root(m[1])
		} else {
			out = out.AtName(m[1])
		}
		if m[2] != "" {
			n, err := strconv.Atoi(m[2])
			if err != nil {
				return path.Root("conditions")
			}
			out = out.AtListIndex(n)
		}
	}
	return out
}

func (r *segmentResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	const summary = "Cannot Create Segment"
	var plan segmentModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s := &catalog.Segment{WorkspaceID: plan.WorkspaceID.ValueString(), ModelID: plan.ModelID.ValueString(), Name: plan.Name.ValueString()}
	if _, err := r.data.Store.GetSegmentByName(ctx, s.WorkspaceID, s.Name); !nameFree(&resp.Diagnostics, summary, catalog.KindSegment, s.Name, err) {
		return
	}
	if !r.build(ctx, &plan, s, true, summary, &resp.Diagnostics) {
		return
	}
	if err := r.data.Store.CreateSegment(r.data.ctx(ctx), s); err != nil {
		addStoreError(&resp.Diagnostics, summary, catalog.KindSegment, s.Name, err)
		r.data.dropViewOrWarn(ctx, r.sourceOf(ctx, s.ModelID), segmentViewName(s.Name), "segment", s.Name, &resp.Diagnostics)
		return
	}
	tflog.Info(ctx, "created segment", map[string]any{"segment_id": s.ID, "view": s.ViewName})
	resp.Diagnostics.Append(plan.fromCatalog(s)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// sourceOf returns the source id of a model ("" when it cannot be loaded).
func (r *segmentResource) sourceOf(ctx context.Context, modelID string) string {
	m, err := r.data.Store.GetModel(ctx, modelID)
	if err != nil {
		return ""
	}
	return m.SourceID
}

// build validates and compiles the plan's conditions against the model, then creates or
// replaces the segment's view; s receives the conditions, compiled SQL and view name.
func (r *segmentResource) build(ctx context.Context, plan *segmentModel, s *catalog.Segment, creating bool, summary string, d *diag.Diagnostics) bool {
	m, err := r.data.Store.GetModel(ctx, s.ModelID)
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			diagnostics.AddAttributeError(d, path.Root("model_id"), summary, fmt.Sprintf("The catalog has no model with id %q.", s.ModelID),
				"Reference an existing dinmo_model.", err)
			return false
		}
		addStoreError(d, summary, catalog.KindModel, s.ModelID, err)
		return false
	}
	if m.WorkspaceID != s.WorkspaceID {
		diagnostics.AddAttributeError(d, path.Root("model_id"), summary, fmt.Sprintf("Model %q belongs to another workspace than the segment.", m.Name),
			"Use a model of the segment's workspace.", nil)
		return false
	}
	g, known := plan.group()
	if !known {
		diagnostics.AddError(d, summary, "The segment's conditions are not known at apply time.", "This is a bug in the provider; please report it.", nil)
		return false
	}
	graph, err := buildSchema(ctx, r.data.Store, m.WorkspaceID, m.SourceID, nil)
	if err != nil {
		diagnostics.AddError(d, summary, "The models and segments of the workspace cannot be loaded.",
			"Check the catalog; apply the models again if one was changed outside Terraform.", err)
		return false
	}
	if errs := segment.ValidateIn(graph, m.Name, g, segment.Options{Segment: s.Name}); len(errs) > 0 {
		addConditionErrors(d, summary, m, errs, plan.usesRules())
		return false
	}
	raw, err := segment.Encode(g)
	if err != nil {
		diagnostics.AddError(d, summary, "The conditions cannot be encoded for the catalog.", "This is a bug in the provider; please report it.", err)
		return false
	}
	c, err := r.data.openSourceByID(ctx, m.SourceID)
	if err != nil {
		diagnostics.AddAttributeError(d, path.Root("model_id"), summary, fmt.Sprintf("The warehouse of model %q cannot be reached.", m.Name),
			"Check the source's settings and credentials, and that the warehouse is up.", err)
		return false
	}
	defer c.close()
	sql, err := compileSegment(c.Dialect(), graph, m.Name, s.Name, g)
	if err != nil {
		addCompileError(d, summary, m, err, plan.usesRules())
		return false
	}
	view := segmentViewName(s.Name)
	if err := warehouse.ReplaceView(c.ctx, c.Warehouse, warehouse.SchemaSegments, view, sql); err != nil {
		diagnostics.AddAttributeError(d, path.Root("conditions"), summary, "Creating the segment's view "+displayViewName(view)+" failed.",
			"Check that the model's view exists (apply the model) and that the source user may create views.", c.redact(err))
		if creating {
			if err := c.exec(c.ctx, c.Dialect().DropView(warehouse.SchemaSegments, view)); err != nil {
				tflog.Warn(c.ctx, "dropping the segment view after a failed create failed", map[string]any{"error": err.Error()})
			}
		}
		return false
	}
	s.Description = plan.Description.ValueString()
	s.Conditions = raw
	s.CompiledSQL = sql
	s.ViewName = view
	return true
}

func (r *segmentResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state segmentModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.data.Store.GetSegment(ctx, state.ID.ValueString())
	if errors.Is(err, catalog.ErrNotFound) {
		tflog.Info(ctx, "segment gone from the catalog; removing it from state", map[string]any{"segment_id": state.ID.ValueString()})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addStoreError(&resp.Diagnostics, "Cannot Read Segment", catalog.KindSegment, state.Name.ValueString(), err)
		return
	}
	prevView := state.ViewName
	resp.Diagnostics.Append(state.fromCatalog(s)...)
	if resp.Diagnostics.HasError() {
		return
	}
	state.ViewName = r.data.checkedViewName(ctx, r.sourceOf(ctx, s.ModelID), segmentViewName(s.Name), catalog.KindSegment, s.Name, state.ViewName, prevView, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *segmentResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	const summary = "Cannot Update Segment"
	var plan, state segmentModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.data.Store.GetSegment(ctx, state.ID.ValueString())
	if err != nil {
		addStoreError(&resp.Diagnostics, summary, catalog.KindSegment, state.Name.ValueString(), err)
		return
	}
	if segmentNeedsCompile(plan, state) {
		if !r.build(ctx, &plan, s, false, summary, &resp.Diagnostics) {
			return
		}
	}
	s.Description = plan.Description.ValueString()
	if err := r.data.Store.UpdateSegment(r.data.ctx(ctx), s); err != nil {
		addStoreError(&resp.Diagnostics, summary, catalog.KindSegment, s.Name, err)
		return
	}
	tflog.Info(ctx, "updated segment", map[string]any{"segment_id": s.ID, "view": s.ViewName})
	resp.Diagnostics.Append(plan.fromCatalog(s)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *segmentResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	const summary = "Cannot Delete Segment"
	var state segmentModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s, err := r.data.Store.GetSegment(ctx, state.ID.ValueString())
	if errors.Is(err, catalog.ErrNotFound) {
		return
	}
	if err != nil {
		addStoreError(&resp.Diagnostics, summary, catalog.KindSegment, state.Name.ValueString(), err)
		return
	}
	if r.data.refuseIfUsed(ctx, &resp.Diagnostics, summary, catalog.KindSegment, s.Name, s.WorkspaceID, refs{segmentID: s.ID}) {
		return
	}
	srcID := r.sourceOf(ctx, s.ModelID)
	if err := r.data.Store.DeleteSegment(r.data.ctx(ctx), s.ID); err != nil && !errors.Is(err, catalog.ErrNotFound) {
		addStoreError(&resp.Diagnostics, summary, catalog.KindSegment, s.Name, err)
		return
	}
	tflog.Info(ctx, "deleted segment from the catalog", map[string]any{"segment_id": s.ID})
	r.data.dropViewOrWarn(ctx, srcID, segmentViewName(s.Name), "segment", s.Name, &resp.Diagnostics)
}

func (r *segmentResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	r.importScoped(ctx, req, resp, catalog.KindSegment,
		byName(catalog.Store.GetSegmentByName, func(x *catalog.Segment) string { return x.ID }), byID(catalog.Store.GetSegment))
}

// segmentModel is the Terraform state of a segment.
type segmentModel struct {
	ID          types.String `tfsdk:"id"`
	WorkspaceID types.String `tfsdk:"workspace_id"`
	ModelID     types.String `tfsdk:"model_id"`
	Name        types.String `tfsdk:"name"`
	Description types.String `tfsdk:"description"`
	Match       types.String `tfsdk:"match"`
	Conditions  types.List   `tfsdk:"conditions"`
	Rules       types.String `tfsdk:"rules"`
	CompiledSQL types.String `tfsdk:"compiled_sql"`
	ViewName    types.String `tfsdk:"view_name"`
}

// usesRules tells whether the tree is declared with rules rather than match and conditions.
func (p *segmentModel) usesRules() bool { return !p.Rules.IsNull() }

// group builds the condition tree from the attributes; known is false while any part of it is
// unknown. rules, when set, is the whole tree (ValidateConfig reported a rules attribute that
// cannot be decoded; here it yields an unknown tree); otherwise the conditions form the
// top-level group.
func (p *segmentModel) group() (g segment.Group, known bool) {
	if p.Rules.IsUnknown() {
		return segment.Group{}, false
	}
	if !p.Rules.IsNull() {
		g, err := decodeRules(p.Rules.ValueString())
		if err != nil {
			return segment.Group{}, false
		}
		return g, true
	}
	if p.Match.IsUnknown() || p.Conditions.IsUnknown() {
		return segment.Group{}, false
	}
	g.Match = p.Match.ValueString()
	for _, e := range p.Conditions.Elements() {
		o, ok := e.(types.Object)
		if !ok || o.IsUnknown() {
			return segment.Group{}, false
		}
		a := o.Attributes()
		col, _ := a["column"].(types.String)
		op, _ := a["operator"].(types.String)
		val, _ := a["value"].(types.String)
		vals, _ := a["values"].(types.List)
		unit, _ := a["unit"].(types.String)
		if col.IsUnknown() || op.IsUnknown() || val.IsUnknown() || vals.IsUnknown() || unit.IsUnknown() {
			return segment.Group{}, false
		}
		c := segment.Condition{Column: col.ValueString(), Operator: op.ValueString(), Unit: unit.ValueString()}
		if !val.IsNull() {
			v := val.ValueString()
			c.Value = &v
		}
		for _, x := range vals.Elements() {
			s, ok := x.(types.String)
			if !ok || s.IsUnknown() {
				return segment.Group{}, false
			}
			c.Values = append(c.Values, s.ValueString())
		}
		g.Conditions = append(g.Conditions, c)
	}
	return g, true
}

// fromCatalog sets every attribute from the catalog's segment.
func (p *segmentModel) fromCatalog(s *catalog.Segment) diag.Diagnostics {
	var diags diag.Diagnostics
	p.ID = types.StringValue(s.ID)
	p.WorkspaceID = types.StringValue(s.WorkspaceID)
	p.ModelID = types.StringValue(s.ModelID)
	p.Name = types.StringValue(s.Name)
	p.Description = types.StringValue(s.Description)
	p.CompiledSQL = types.StringValue(s.CompiledSQL)
	p.ViewName = types.StringValue(displayViewName(s.ViewName))
	g, err := segment.Decode(s.Conditions)
	if err != nil {
		diagnostics.AddError(&diags, "Cannot Read Segment", fmt.Sprintf("The catalog's conditions of segment %q cannot be decoded.", s.Name),
			"Apply the segment's configuration again to rewrite them.", err)
		return diags
	}
	if p.Rules.IsNull() && simpleTree(g) {
		p.Match = types.StringValue(g.Match)
		conds, d := conditionsValue(g.Conditions)
		diags.Append(d...)
		p.Conditions = conds
		return diags
	}
	// Rules: the state keeps the configuration's text while it still means the stored tree, so
	// formatting choices do not show as changes; otherwise (drift, import) it holds the
	// catalog's canonical JSON.
	p.Conditions = types.ListNull(conditionObjectType)
	if p.Match.IsNull() || p.Match.IsUnknown() {
		p.Match = types.StringValue(segment.MatchAll)
	}
	stored, err := segment.Encode(g)
	if err != nil {
		diagnostics.AddError(&diags, "Cannot Read Segment", fmt.Sprintf("The conditions of segment %q cannot be encoded.", s.Name),
			"This is a bug in the provider; please report it.", err)
		return diags
	}
	if !p.Rules.IsNull() && !p.Rules.IsUnknown() {
		if cur, err := decodeRules(p.Rules.ValueString()); err == nil {
			if enc, err := segment.Encode(cur); err == nil && bytes.Equal(enc, stored) {
				return diags
			}
		}
	}
	p.Rules = types.StringValue(string(stored))
	return diags
}

// simpleTree tells whether match and conditions can express a tree: a top-level group of
// attribute conditions only.
func simpleTree(g segment.Group) bool {
	return !g.Negate && len(g.Groups) == 0 && len(g.Related) == 0 && len(g.Aggregates) == 0 && len(g.Memberships) == 0
}

// conditionsValue converts conditions to the conditions attribute (null when there are none).
func conditionsValue(conds []segment.Condition) (types.List, diag.Diagnostics) {
	var diags diag.Diagnostics
	if len(conds) == 0 {
		return types.ListNull(conditionObjectType), diags
	}
	elems := make([]attr.Value, 0, len(conds))
	for _, c := range conds {
		val := types.StringNull()
		if c.Value != nil {
			val = types.StringValue(*c.Value)
		}
		vals := types.ListNull(types.StringType)
		if len(c.Values) > 0 {
			vs := make([]attr.Value, len(c.Values))
			for i, v := range c.Values {
				vs[i] = types.StringValue(v)
			}
			l, d := types.ListValue(types.StringType, vs)
			diags.Append(d...)
			vals = l
		}
		unit := types.StringNull()
		if c.Unit != "" {
			unit = types.StringValue(c.Unit)
		}
		o, d := types.ObjectValue(conditionObjectType.AttrTypes, map[string]attr.Value{
			"column": types.StringValue(c.Column), "operator": types.StringValue(c.Operator), "value": val, "values": vals, "unit": unit,
		})
		diags.Append(d...)
		elems = append(elems, o)
	}
	l, d := types.ListValue(conditionObjectType, elems)
	diags.Append(d...)
	return l, diags
}
