package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
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
	"dinmo/materialize"
	"dinmo/provider/internal/diagnostics"
	"dinmo/segment"
	"dinmo/stats"
)

var (
	_ resource.Resource                     = (*modelResource)(nil)
	_ resource.ResourceWithConfigure        = (*modelResource)(nil)
	_ resource.ResourceWithImportState      = (*modelResource)(nil)
	_ resource.ResourceWithConfigValidators = (*modelResource)(nil)
	_ resource.ResourceWithModifyPlan       = (*modelResource)(nil)
)

func newModelResource() resource.Resource { return &modelResource{} }

// modelResource manages a model: a table or SQL query of a source, exposed as a view in
// dinmo_segments and introspected so segments and activations can be checked at plan time.
type modelResource struct {
	resourceBase
}

func (r *modelResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_model"
}

// columnObjectType is the type of one element of a model's columns.
var columnObjectType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"name": types.StringType, "type": types.StringType, "category": types.StringType,
}}

func (r *modelResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	attrs := map[string]schema.Attribute{
		"id":           idAttribute("model"),
		"workspace_id": workspaceIDAttribute("model"),
		"source_id": schema.StringAttribute{
			MarkdownDescription: "Id of the source (warehouse) the model reads (`dinmo_source.<name>.id`). Changing it replaces the model.",
			Required:            true,
			PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
		},
		"name": nameAttribute("model", true),
		"description": schema.StringAttribute{
			MarkdownDescription: "Free-text description.",
			Optional:            true, Computed: true, Default: stringdefault.StaticString(""),
		},
		"type": schema.StringAttribute{
			MarkdownDescription: "Kind of rows: `users` (one row per person; feeds list and attribute destinations), `events` " +
				"(one row per event; feeds event destinations) or `custom` (other objects). Defaults to `users`.",
			Optional: true, Computed: true, Default: stringdefault.StaticString(catalog.ModelUsers),
			Validators: []validator.String{stringvalidator.OneOf(catalog.ModelUsers, catalog.ModelEvents, catalog.ModelCustom)},
		},
		"sql": schema.StringAttribute{
			MarkdownDescription: "A SELECT query in the warehouse's SQL dialect. Exactly one of `sql` and `table` must be set.",
			Optional:            true,
			Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
		},
		"table": schema.StringAttribute{
			MarkdownDescription: "An existing table or view, optionally qualified with dots (`schema.table`, `database.schema.table`); " +
				"each part is quoted as written, so it is case-sensitive. Exactly one of `sql` and `table` must be set.",
			Optional:   true,
			Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
		},
		"primary_key": schema.StringAttribute{
			MarkdownDescription: "Column that identifies a row uniquely. It must be one of the model's columns (checked at apply).",
			Required:            true,
			Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
		},
		"view_name": schema.StringAttribute{
			MarkdownDescription: "The model's view in the warehouse, unquoted (`" + warehouse.SchemaSegments + ".model_<name>`). " +
				"Empty when the view was found missing; the next apply re-creates it.",
			Computed: true,
		},
		"columns": schema.ListNestedAttribute{
			MarkdownDescription: "The model's columns, as introspected at the last apply.",
			Computed:            true,
			NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
				"name":     schema.StringAttribute{MarkdownDescription: "Column name, as the warehouse reports it.", Computed: true},
				"type":     schema.StringAttribute{MarkdownDescription: "The warehouse's type name.", Computed: true},
				"category": schema.StringAttribute{MarkdownDescription: "Portable type category: `string`, `integer`, `number`, `boolean`, `date`, `timestamp` or `other`. Segment operators depend on it.", Computed: true},
			}},
		},
		"duplicate_key_share": schema.Float64Attribute{
			MarkdownDescription: "Share of the model's rows whose primary key is NULL or repeats an earlier row's, " +
				"`(rows - distinct non-NULL keys) / rows`, checked in the warehouse each time the view is (re)built. Above 0.05 " +
				"the apply fails; above 0 it succeeds with a warning.",
			Computed: true,
		},
	}
	for k, v := range modelGraphAttributes() {
		attrs[k] = v
	}
	attrs["materialization"] = materializationAttribute()
	resp.Schema = schema.Schema{
		MarkdownDescription: "A model makes a table or a SQL query of a source available to segments and activations. " +
			"Applying it creates (or replaces) the view `" + warehouse.SchemaSegments + ".model_<name>` in the source's warehouse, " +
			"introspects its columns and checks the primary key: more than 5% of rows with a NULL or repeated key fails the " +
			"apply, naming the key and the share; any duplicate warns. Fields, relationships and calculated fields are checked " +
			"at plan time against the columns (introspected at plan time when the query changes) and the other models of the " +
			"source. When the model changes, the views of its segments are re-created too. If the view (or the table of a model " +
			"materialised as a table) disappears from the warehouse, the next plan shows an update that re-creates it.\n\n" +
			"A live model's view holds exactly the model's query (a table model's view reads its table); calculated fields are computed in segment views (which select " +
			"them after the model's columns), so activations can map them.\n\n" +
			"Import with `<workspace name>/<model name>` or the catalog id.",
		Attributes: attrs,
	}
}

func (r *modelResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{resourcevalidator.ExactlyOneOf(path.MatchRoot("sql"), path.MatchRoot("table"))}
}

// ModifyPlan plans the view name (always the expected one, so a view found missing shows an
// update that re-creates it) and keeps the columns when the view is not rebuilt.
func (r *modelResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan modelModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !plan.Name.IsUnknown() {
		plan.ViewName = types.StringValue(displayViewName(modelViewName(plan.Name.ValueString())))
	}
	if !req.State.Raw.IsNull() {
		var state modelModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		if resp.Diagnostics.HasError() {
			return
		}
		if !modelNeedsRebuild(plan, state) {
			plan.Columns = state.Columns
			plan.DuplicateKeyShare = state.DuplicateKeyShare
		} else {
			plan.DuplicateKeyShare = types.Float64Unknown()
		}
	}
	r.validateGraph(ctx, &plan, &resp.Diagnostics)
	r.data.validateMaterialization(ctx, plan.Materialization, plan.WorkspaceID, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// validateGraph checks the declared fields, relationships and calculated fields at plan time,
// against the model's columns (those in the plan, or introspected now when the query changed)
// and the other models of the source in the catalog. Anything it cannot check now (unknown
// values, an unreachable warehouse) is checked at apply.
func (r *modelResource) validateGraph(ctx context.Context, plan *modelModel, d *diag.Diagnostics) {
	const summary = "Invalid Model"
	if !r.configured() || plan.SourceID.IsUnknown() || plan.WorkspaceID.IsUnknown() || plan.Name.IsUnknown() ||
		plan.SQL.IsUnknown() || plan.Table.IsUnknown() || plan.PrimaryKey.IsUnknown() || plan.Type.IsUnknown() {
		return
	}
	g, known, diags := plan.graph(ctx)
	d.Append(diags...)
	if !known || d.HasError() {
		return
	}
	if !checkFields(g, plan.Type.ValueString(), nil, summary, d) {
		return
	}
	if len(g.Fields) == 0 && g.TimestampColumn == "" && len(g.Relationships) == 0 && len(g.Calculated) == 0 {
		return
	}
	m := &catalog.Model{ID: plan.ID.ValueString(), WorkspaceID: plan.WorkspaceID.ValueString(), SourceID: plan.SourceID.ValueString(),
		Name: plan.Name.ValueString(), Type: plan.Type.ValueString(), SQL: plan.SQL.ValueString(), Table: plan.Table.ValueString(),
		PrimaryKey: plan.PrimaryKey.ValueString()}
	if plan.ID.IsUnknown() {
		m.ID = ""
	}
	setModelGraph(m, g)
	var cols []warehouse.Column
	if !plan.Columns.IsUnknown() && !plan.Columns.IsNull() {
		var stored []catalog.Column
		for _, e := range plan.Columns.Elements() {
			o, ok := e.(types.Object)
			if !ok {
				return
			}
			a := o.Attributes()
			name, _ := a["name"].(types.String)
			typ, _ := a["type"].(types.String)
			cat, _ := a["category"].(types.String)
			stored = append(stored, catalog.Column{Name: name.ValueString(), Type: typ.ValueString(), Category: cat.ValueString()})
		}
		cols = columnsFromCatalog(stored)
	} else {
		c, err := r.data.openSourceByID(ctx, m.SourceID)
		if err != nil {
			return // the source may be created in this same apply; apply checks
		}
		defer c.close()
		cols, err = c.QueryColumns(c.ctx, materialize.Query(c.Dialect(), m.SQL, m.Table))
		if err != nil {
			return // reported at apply, with the warehouse's message
		}
	}
	m.Columns = columnsToCatalog(cols)
	r.checkGraph(ctx, m, cols, summary, d)
}

// checkGraph checks a model's declared graph against its columns and the other models of its
// source; it returns false after adding errors. Relationships to models not in the catalog yet
// (created in the same apply) are reported as a warning and their checks left to the segments
// that use them.
func (r *modelResource) checkGraph(ctx context.Context, m *catalog.Model, cols []warehouse.Column, summary string, d *diag.Diagnostics) bool {
	g := modelGraphOf(m)
	if !checkFields(g, m.Type, cols, summary, d) {
		return false
	}
	graph, err := buildSchema(ctx, r.data.Store, m.WorkspaceID, m.SourceID, m)
	if err != nil {
		diagnostics.AddError(d, summary, "The models and segments of the workspace cannot be loaded.", "Check the catalog.", err)
		return false
	}
	var missing []string
	for _, rel := range g.Relationships {
		if _, ok := graph.Models[rel.To]; !ok {
			missing = append(missing, rel.To)
		}
	}
	if len(missing) > 0 {
		diagnostics.AddWarning(d, "Model Relationships Not Checked",
			fmt.Sprintf("Model %q has relationships to models that are not in the catalog yet (%s), so its relationships and calculated fields are checked when a segment uses them.",
				m.Name, strings.Join(missing, ", ")),
			"Make the model depend on the target models (depends_on) to have them checked at plan time.", nil)
		return true
	}
	errs := segment.ValidateModel(graph, m.Name)
	for _, e := range errs {
		diagnostics.AddAttributeError(d, modelErrorPath(e.Path), summary,
			fmt.Sprintf("Model %q, %s.", m.Name, strings.TrimSuffix(e.Error(), ".")),
			"Fix the declaration; paths name calculated_fields as calculated, and a filter's conditions inside filter_json.", nil)
	}
	return len(errs) == 0
}

// modelNeedsRebuild tells whether an apply must (re)create the view and introspect it again:
// when its definition or location changed, or the view was found missing.
func modelNeedsRebuild(plan, state modelModel) bool {
	return !plan.WorkspaceID.Equal(state.WorkspaceID) || !plan.SourceID.Equal(state.SourceID) ||
		!plan.Name.Equal(state.Name) || !plan.SQL.Equal(state.SQL) || !plan.Table.Equal(state.Table) ||
		!plan.PrimaryKey.Equal(state.PrimaryKey) || !plan.ViewName.Equal(state.ViewName) ||
		!plan.Fields.Equal(state.Fields) || !plan.TimestampColumn.Equal(state.TimestampColumn) ||
		!plan.Relationships.Equal(state.Relationships) || !plan.Calculated.Equal(state.Calculated) ||
		modeChanged(plan.Materialization, state.Materialization)
}

// modeChanged tells whether the materialisation mode differs (a changed refresh schedule alone
// needs no rebuild: the runner picks it up).
func modeChanged(plan, state types.Object) bool {
	p, pk := materializationMode(plan)
	s, sk := materializationMode(state)
	return !pk || !sk || p != s
}

func (r *modelResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	const summary = "Cannot Create Model"
	var plan modelModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	m := &catalog.Model{}
	resp.Diagnostics.Append(plan.toCatalog(ctx, m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if _, err := r.data.Store.GetModelByName(ctx, m.WorkspaceID, m.Name); !nameFree(&resp.Diagnostics, summary, catalog.KindModel, m.Name, err) {
		return
	}
	c := r.openModelSource(ctx, m, summary, &resp.Diagnostics)
	if c == nil {
		return
	}
	defer c.close()
	if !r.buildView(c, m, true, summary, &resp.Diagnostics) {
		return
	}
	if err := r.data.Store.CreateModel(r.data.ctx(ctx), m); err != nil {
		r.dropView(c, m.Name)
		if err := materialize.Drop(c.ctx, c.Warehouse, materialize.TableName(m.Name)); err != nil {
			tflog.Warn(c.ctx, "dropping the model table after a failed create failed", map[string]any{"error": err.Error()})
		}
		addStoreError(&resp.Diagnostics, summary, catalog.KindModel, m.Name, err)
		return
	}
	tflog.Info(ctx, "created model", map[string]any{"model_id": m.ID, "view": m.ViewName, "columns": len(m.Columns)})
	resp.Diagnostics.Append(plan.fromCatalog(m)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// openModelSource loads the model's source, checks it belongs to the model's workspace, and
// opens its warehouse. It returns nil after adding a diagnostic.
func (r *modelResource) openModelSource(ctx context.Context, m *catalog.Model, summary string, d *diag.Diagnostics) *conn {
	src, err := r.data.Store.GetSource(ctx, m.SourceID)
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			diagnostics.AddAttributeError(d, path.Root("source_id"), summary, fmt.Sprintf("The catalog has no source with id %q.", m.SourceID),
				"Reference an existing dinmo_source.", err)
			return nil
		}
		addStoreError(d, summary, catalog.KindSource, m.SourceID, err)
		return nil
	}
	if src.WorkspaceID != m.WorkspaceID {
		diagnostics.AddAttributeError(d, path.Root("source_id"), summary,
			fmt.Sprintf("Source %q belongs to another workspace than the model.", src.Name),
			"Use a source of the model's workspace.", nil)
		return nil
	}
	c, err := r.data.openSource(ctx, src)
	if err != nil {
		diagnostics.AddAttributeError(d, path.Root("source_id"), summary,
			fmt.Sprintf("The warehouse of source %q cannot be reached.", src.Name),
			"Check the source's settings and credentials, and that the warehouse is up.", err)
		return nil
	}
	return c
}

// buildView introspects the model's query, checks the primary key, recompiles the model's
// segments against the new columns, then replaces the model's view and re-creates the segment
// views. Nothing is changed in the warehouse unless every check passed. On success m holds the
// new columns and view name.
func (r *modelResource) buildView(c *conn, m *catalog.Model, creating bool, summary string, d *diag.Diagnostics) bool {
	ctx := c.ctx
	queryAttr := path.Root("sql")
	if m.Table != "" {
		queryAttr = path.Root("table")
	}
	query := materialize.Query(c.Dialect(), m.SQL, m.Table)
	cols, err := c.QueryColumns(ctx, query)
	if err != nil {
		what := "The warehouse rejected the model's SQL."
		todo := "Fix the query; it must be a SELECT the source's warehouse can run."
		if m.Table != "" {
			what = fmt.Sprintf("The warehouse cannot read table %s.", m.Table)
			todo = "Check the table name (each dotted part is case-sensitive) and the source user's permissions."
		}
		diagnostics.AddAttributeError(d, queryAttr, summary, what, todo, c.redact(err))
		return false
	}
	if !hasColumn(cols, m.PrimaryKey) {
		diagnostics.AddAttributeError(d, path.Root("primary_key"), summary,
			fmt.Sprintf("The primary key %q is not a column of the model.", m.PrimaryKey),
			"Use one of the model's columns: "+strings.Join(columnNames(cols), ", ")+".", nil)
		return false
	}
	if !r.checkGraph(ctx, withColumns(m, cols), cols, summary, d) {
		return false
	}
	kc, err := stats.DuplicateKeysOfQuery(ctx, c.DB(), c.Dialect(), query, m.PrimaryKey)
	if err != nil {
		diagnostics.AddAttributeError(d, path.Root("primary_key"), summary, "Checking the uniqueness of the primary key failed.",
			"Check that the source user may read the model's rows.", c.redact(err))
		return false
	}
	if kc.Share > stats.MaxDuplicateShare {
		diagnostics.AddAttributeError(d, path.Root("primary_key"), summary,
			fmt.Sprintf("The primary key %q is not unique: %s of the model's rows (%d of %d) have a NULL key or repeat another row's key, more than the %s allowed.",
				m.PrimaryKey, percent(kc.Share), kc.Invalid, kc.Rows, percent(stats.MaxDuplicateShare)),
			"Choose a column that identifies each row (such as an id rather than a name), or remove duplicates and NULL keys in the source.", nil)
		return false
	}
	if kc.Invalid > 0 {
		diagnostics.AddAttributeWarning(d, path.Root("primary_key"), "Duplicate Primary Keys",
			fmt.Sprintf("%s of the rows of model %q (%d of %d) have a NULL primary key %q or repeat another row's key.",
				percent(kc.Share), m.Name, kc.Invalid, kc.Rows, m.PrimaryKey),
			"Fix the source so the key is unique: duplicates inflate segment sizes and break joins and syncs. Above 5% applies fail.", nil)
	}
	var rebuilds []segmentRebuild
	if !creating {
		rebuilds, err = planSegmentRebuilds(ctx, r.data.Store, c.Dialect(), m, cols)
		if err != nil {
			diagnostics.AddAttributeError(d, queryAttr, summary,
				"The model's new columns break one or more of its segments.",
				"Change the segments' conditions first, or keep the columns they use.", err)
			return false
		}
	}
	// When the columns change, the segment views are dropped first: they are re-created from the
	// catalog just below, and PostgreSQL would otherwise try to restore them from definitions
	// that name the old columns.
	if !creating {
		if err := dropSegmentViews(ctx, c, rebuilds, !sameColumns(m.Columns, cols)); err != nil {
			diagnostics.AddError(d, summary, "Dropping the views of the model's segments before replacing the model's view failed.",
				"Check that nothing else depends on the segment views; the next apply re-creates the missing ones.", err)
			return false
		}
	}
	view := modelViewName(m.Name)
	table := materialize.TableName(m.Name)
	if m.Materialization.IsTable() {
		if err := materialize.Build(ctx, c.Warehouse, view, table, query); err != nil {
			diagnostics.AddAttributeError(d, path.Root("materialization"), summary,
				"Creating the model's table "+displayViewName(table)+" and pointing its view "+displayViewName(view)+" at it failed.",
				"Check the query and that the source user may create tables and views in "+warehouse.SchemaSegments+".", c.redact(err))
			if creating {
				r.dropView(c, m.Name)
				_ = materialize.Drop(ctx, c.Warehouse, table)
			}
			return false
		}
	} else if err := materialize.Unbuild(ctx, c.Warehouse, view, table, query); err != nil {
		diagnostics.AddAttributeError(d, queryAttr, summary, "Creating the model's view "+displayViewName(view)+" failed.",
			"Check the query and that the source user may create views in "+warehouse.SchemaSegments+".", c.redact(err))
		if creating {
			r.dropView(c, m.Name)
		}
		return false
	}
	if err := applySegmentRebuilds(r.data.ctx(ctx), r.data.Store, c, rebuilds); err != nil {
		diagnostics.AddError(d, summary, "The model's view was replaced, but re-creating its segments' views failed.",
			"Apply again; segment views are re-created from the catalog.", err)
		return false
	}
	m.Columns = columnsToCatalog(cols)
	m.ViewName = view
	setDuplicateShare(m, kc.Share, time.Now())
	tflog.Debug(ctx, "model view built", map[string]any{"view": m.ViewName, "segments_rebuilt": len(rebuilds)})
	return true
}

// sameColumns tells whether the introspected columns are those stored in the catalog.
func sameColumns(stored []catalog.Column, cols []warehouse.Column) bool {
	if len(stored) != len(cols) {
		return false
	}
	for i, c := range columnsToCatalog(cols) {
		if stored[i] != c {
			return false
		}
	}
	return true
}

func hasColumn(cols []warehouse.Column, name string) bool {
	for _, c := range cols {
		if c.Name == name {
			return true
		}
	}
	return false
}

// dropView removes a model's view after a failed create, so no broken view is left behind.
func (r *modelResource) dropView(c *conn, name string) {
	if err := c.exec(c.ctx, c.Dialect().DropView(warehouse.SchemaSegments, modelViewName(name))); err != nil {
		tflog.Warn(c.ctx, "dropping the model view after a failed create failed", map[string]any{"error": err.Error()})
	}
}

func (r *modelResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state modelModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	m, err := r.data.Store.GetModel(ctx, state.ID.ValueString())
	if errors.Is(err, catalog.ErrNotFound) {
		tflog.Info(ctx, "model gone from the catalog; removing it from state", map[string]any{"model_id": state.ID.ValueString()})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addStoreError(&resp.Diagnostics, "Cannot Read Model", catalog.KindModel, state.Name.ValueString(), err)
		return
	}
	prevView := state.ViewName
	resp.Diagnostics.Append(state.fromCatalog(m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	state.ViewName = r.data.checkedViewName(ctx, m.SourceID, modelViewName(m.Name), catalog.KindModel, m.Name, state.ViewName, prevView, &resp.Diagnostics)
	if m.Materialization.IsTable() && state.ViewName.ValueString() != "" {
		// The view reads the table: a table gone from the warehouse is drift like a missing view.
		table := materialize.TableName(m.Name)
		state.ViewName = r.data.checkedViewName(ctx, m.SourceID, table, catalog.KindModel, m.Name, state.ViewName, prevView, &resp.Diagnostics)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// checkedViewName is the view_name Read puts in state after checking the view in the
// warehouse: the catalog's name when the view exists, "" when it is missing (so the plan shows
// an update that re-creates it), and the previous state's value, with a warning, when the
// warehouse cannot be reached.
func (d *providerData) checkedViewName(ctx context.Context, sourceID, view, kind, name string, stored, prev types.String, diags *diag.Diagnostics) types.String {
	exists, err := d.viewExists(ctx, sourceID, view)
	switch {
	case err != nil:
		diagnostics.AddWarning(diags, "Cannot Check "+titleKind(kind)+" View",
			fmt.Sprintf("The warehouse of %s %q could not be reached to check that its view exists; the state is kept as it was.", kind, name),
			"Check the source's warehouse if this persists.", err)
		if !prev.IsNull() && !prev.IsUnknown() {
			return prev
		}
	case !exists:
		tflog.Info(ctx, "view missing from the warehouse; planning its re-creation", map[string]any{"kind": kind, "name": name, "view": view})
		return types.StringValue("")
	}
	return stored
}

// viewExists opens a source's warehouse and checks that a view of dinmo_segments exists.
func (d *providerData) viewExists(ctx context.Context, sourceID, view string) (bool, error) {
	c, err := d.openSourceByID(ctx, sourceID)
	if err != nil {
		return false, err
	}
	defer c.close()
	ok, err := c.RelationExists(c.ctx, warehouse.SchemaSegments, view)
	if err != nil {
		return false, c.redact(fmt.Errorf("checking view %s: %w", displayViewName(view), err))
	}
	return ok, nil
}

func (r *modelResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	const summary = "Cannot Update Model"
	var plan, state modelModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	m, err := r.data.Store.GetModel(ctx, state.ID.ValueString())
	if err != nil {
		addStoreError(&resp.Diagnostics, summary, catalog.KindModel, state.Name.ValueString(), err)
		return
	}
	resp.Diagnostics.Append(plan.toCatalog(ctx, m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if modelNeedsRebuild(plan, state) {
		c := r.openModelSource(ctx, m, summary, &resp.Diagnostics)
		if c == nil {
			return
		}
		defer c.close()
		if !r.buildView(c, m, false, summary, &resp.Diagnostics) {
			return
		}
	}
	if err := r.data.Store.UpdateModel(r.data.ctx(ctx), m); err != nil {
		addStoreError(&resp.Diagnostics, summary, catalog.KindModel, m.Name, err)
		return
	}
	tflog.Info(ctx, "updated model", map[string]any{"model_id": m.ID, "view": m.ViewName})
	resp.Diagnostics.Append(plan.fromCatalog(m)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *modelResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	const summary = "Cannot Delete Model"
	var state modelModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	m, err := r.data.Store.GetModel(ctx, state.ID.ValueString())
	if errors.Is(err, catalog.ErrNotFound) {
		return
	}
	if err != nil {
		addStoreError(&resp.Diagnostics, summary, catalog.KindModel, state.Name.ValueString(), err)
		return
	}
	if r.data.refuseIfUsed(ctx, &resp.Diagnostics, summary, catalog.KindModel, m.Name, m.WorkspaceID, refs{modelID: m.ID}) {
		return
	}
	if err := r.data.Store.DeleteModel(r.data.ctx(ctx), m.ID); err != nil && !errors.Is(err, catalog.ErrNotFound) {
		addStoreError(&resp.Diagnostics, summary, catalog.KindModel, m.Name, err)
		return
	}
	tflog.Info(ctx, "deleted model from the catalog", map[string]any{"model_id": m.ID})
	var tables []string
	if m.Materialization.IsTable() {
		tables = append(tables, materialize.TableName(m.Name))
	}
	r.data.dropViewOrWarn(ctx, m.SourceID, modelViewName(m.Name), "model", m.Name, &resp.Diagnostics, tables...)
}

// dropViewOrWarn drops a view of dinmo_segments after its object left the catalog, then the
// tables listed (a table model's); when the warehouse cannot be reached or refuses, it warns
// (the object is gone either way).
func (d *providerData) dropViewOrWarn(ctx context.Context, sourceID, view, kind, name string, diags *diag.Diagnostics, tables ...string) {
	c, err := d.openSourceByID(ctx, sourceID)
	if err == nil {
		defer c.close()
		err = c.exec(c.ctx, c.Dialect().DropView(warehouse.SchemaSegments, view))
		for _, t := range tables {
			if err == nil {
				err = materialize.Drop(c.ctx, c.Warehouse, t)
			}
		}
	}
	if err != nil {
		what := "its view " + displayViewName(view)
		for _, t := range tables {
			what += " and table " + displayViewName(t)
		}
		diagnostics.AddWarning(diags, "View Not Dropped",
			fmt.Sprintf("The %s %q was removed from the catalog, but %s could not be dropped.", kind, name, what),
			"Drop them by hand if they are still there.", err)
	}
}

func (r *modelResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	r.importScoped(ctx, req, resp, catalog.KindModel,
		byName(catalog.Store.GetModelByName, func(x *catalog.Model) string { return x.ID }), byID(catalog.Store.GetModel))
}

// modelModel is the Terraform state of a model.
type modelModel struct {
	ID          types.String `tfsdk:"id"`
	WorkspaceID types.String `tfsdk:"workspace_id"`
	SourceID    types.String `tfsdk:"source_id"`
	Name        types.String `tfsdk:"name"`
	Description types.String `tfsdk:"description"`
	Type        types.String `tfsdk:"type"`
	SQL         types.String `tfsdk:"sql"`
	Table       types.String `tfsdk:"table"`
	PrimaryKey  types.String `tfsdk:"primary_key"`
	ViewName    types.String `tfsdk:"view_name"`
	Columns     types.List   `tfsdk:"columns"`
	// Issue-3 declarations (see model_graph.go).
	Fields            types.List    `tfsdk:"fields"`
	TimestampColumn   types.String  `tfsdk:"timestamp_column"`
	Relationships     types.List    `tfsdk:"relationships"`
	Calculated        types.List    `tfsdk:"calculated_fields"`
	DuplicateKeyShare types.Float64 `tfsdk:"duplicate_key_share"`
	Materialization   types.Object  `tfsdk:"materialization"`
}

// toCatalog copies the declared attributes onto m, the graph included (which must be known).
func (p *modelModel) toCatalog(ctx context.Context, m *catalog.Model) diag.Diagnostics {
	g, known, diags := p.graph(ctx)
	if !diags.HasError() && !known {
		diagnostics.AddError(&diags, "Unknown Model Definition", "The model's fields, relationships or calculated fields are not known at apply time.",
			"This is a bug in the provider; please report it.", nil)
	}
	if diags.HasError() {
		return diags
	}
	setModelGraph(m, g)
	m.WorkspaceID = p.WorkspaceID.ValueString()
	m.SourceID = p.SourceID.ValueString()
	m.Name = p.Name.ValueString()
	m.Description = p.Description.ValueString()
	m.Type = p.Type.ValueString()
	m.SQL = p.SQL.ValueString()
	m.Table = p.Table.ValueString()
	m.PrimaryKey = p.PrimaryKey.ValueString()
	mat, known := materializationFromObject(p.Materialization)
	if !known {
		diagnostics.AddError(&diags, "Unknown Model Definition", "The model's materialization is not known at apply time.",
			"This is a bug in the provider; please report it.", nil)
	}
	m.Materialization = mat
	return diags
}

// fromCatalog sets every attribute from the catalog's model.
func (p *modelModel) fromCatalog(m *catalog.Model) diag.Diagnostics {
	p.ID = types.StringValue(m.ID)
	p.WorkspaceID = types.StringValue(m.WorkspaceID)
	p.SourceID = types.StringValue(m.SourceID)
	p.Name = types.StringValue(m.Name)
	p.Description = types.StringValue(m.Description)
	p.Type = types.StringValue(m.Type)
	p.SQL = optionalString(m.SQL)
	p.Table = optionalString(m.Table)
	p.PrimaryKey = types.StringValue(m.PrimaryKey)
	p.ViewName = types.StringValue(displayViewName(m.ViewName))
	cols, d := columnsValue(m.Columns)
	p.Columns = cols
	d.Append(p.setGraph(context.Background(), modelGraphOf(m))...)
	p.DuplicateKeyShare = types.Float64Value(duplicateShareOf(m))
	p.Materialization = materializationValue(m.Materialization, p.Materialization)
	return d
}

// columnsValue converts catalog columns to the columns attribute.
func columnsValue(cols []catalog.Column) (types.List, diag.Diagnostics) {
	var diags diag.Diagnostics
	elems := make([]attr.Value, 0, len(cols))
	for _, c := range cols {
		o, d := types.ObjectValue(columnObjectType.AttrTypes, map[string]attr.Value{
			"name": types.StringValue(c.Name), "type": types.StringValue(c.Type), "category": types.StringValue(c.Category),
		})
		diags.Append(d...)
		elems = append(elems, o)
	}
	l, d := types.ListValue(columnObjectType, elems)
	diags.Append(d...)
	return l, diags
}

// withColumns returns a copy of m with the given columns.
func withColumns(m *catalog.Model, cols []warehouse.Column) *catalog.Model {
	c := *m
	c.Columns = columnsToCatalog(cols)
	return &c
}

// percent formats a share as a percentage with up to two decimals.
func percent(share float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", share*100), "0"), ".") + "%"
}

// categoricalFields returns the model's declared fields (by name) and those marked
// categorical. A model without declared fields returns empty maps: every column may then be
// used in a breakdown.
func categoricalFields(m *catalog.Model) (categorical, declared map[string]bool) {
	categorical, declared = map[string]bool{}, map[string]bool{}
	for _, f := range modelGraphOf(m).Fields {
		declared[f.Column] = true
		if f.Categorical {
			categorical[f.Column] = true
		}
	}
	return categorical, declared
}

// addModelGraph adds the model's declared graph (field type overrides, timestamp column,
// relationships and calculated fields) to its segment model.
func addModelGraph(sm *segment.Model, m *catalog.Model) {
	applyGraph(sm, modelGraphOf(m))
}
