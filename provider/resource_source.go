package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"dinmo/catalog"
	"dinmo/connectors/registry"
	"dinmo/connectors/warehouse"
	"dinmo/provider/internal/diagnostics"
	"dinmo/schedule"
)

var (
	_ resource.Resource                     = (*sourceResource)(nil)
	_ resource.ResourceWithConfigure        = (*sourceResource)(nil)
	_ resource.ResourceWithImportState      = (*sourceResource)(nil)
	_ resource.ResourceWithConfigValidators = (*sourceResource)(nil)
	_ resource.ResourceWithValidateConfig   = (*sourceResource)(nil)
	_ resource.ResourceWithModifyPlan       = (*sourceResource)(nil)
)

func newSourceResource(reg *registry.Registry) resource.Resource {
	return &sourceResource{connResource{kinds: warehouseKinds(reg), kindAttr: "engine", what: catalog.KindSource}}
}

// sourceResource manages a source: a connected warehouse, and dinmo's managed schemas in it.
// Its schema has one block per engine of the registry.
type sourceResource struct {
	connResource
}

func (r *sourceResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_source"
}

func (r *sourceResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	attrs := connAttributes(r.what, r.kindAttr, r.kinds)
	attrs["id"] = idAttribute("source")
	attrs["workspace_id"] = workspaceIDAttribute("source")
	attrs["name"] = nameAttribute("source", false)
	attrs[attrStatsSchedule] = statsScheduleAttribute()
	resp.Schema = schema.Schema{
		MarkdownDescription: "A source is a connected warehouse. Creating it tests the connection and creates the schemas dinmo " +
			"manages in the warehouse: `" + strings.Join(warehouse.ManagedSchemas, "`, `") + "` (model and segment views, " +
			"statistics, per-activation snapshots, predictions). Set exactly one engine block. Changing the settings or " +
			"rotating the credentials tests the connection again.\n\n" +
			"**Destroying a source drops these managed schemas and everything in them** (views, snapshots, statistics). " +
			"It never touches the warehouse's other schemas or the user's tables.\n\n" +
			"Import with `<workspace name>/<source name>` or the catalog id.",
		Attributes: attrs,
	}
}

func (r *sourceResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	const summary = "Cannot Create Source"
	plan, d := r.read(ctx, req.Plan)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	kind, settings, ok := r.settingsOf(ctx, plan, summary, &resp.Diagnostics)
	if !ok {
		return
	}
	name, wsID := plan.Name.ValueString(), plan.WorkspaceID.ValueString()
	if _, err := r.data.Store.GetSourceByName(ctx, wsID, name); !nameFree(&resp.Diagnostics, summary, catalog.KindSource, name, err) {
		return
	}
	creds := r.configCredentials(ctx, req.Config, summary, &resp.Diagnostics)
	if resp.Diagnostics.HasError() || !r.prepare(ctx, kind, settings, creds, summary, &resp.Diagnostics) {
		return
	}
	src := &catalog.Source{
		WorkspaceID: wsID, Name: name, Engine: kind.Name, Settings: settings,
		Credentials: creds.Stored, CredentialsVersion: plan.CredentialsWOVersion.ValueString(),
		StatsSchedule: r.statsScheduleOf(ctx, plan, &resp.Diagnostics),
	}
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.data.Store.CreateSource(r.data.ctx(ctx), src); err != nil {
		addStoreError(&resp.Diagnostics, summary, catalog.KindSource, name, err)
		return
	}
	tflog.Info(ctx, "created source", map[string]any{"source_id": src.ID, "engine": src.Engine, "name": src.Name})
	plan.ID = types.StringValue(src.ID)
	plan.Kind = types.StringValue(kind.Name)
	r.setState(ctx, plan, &resp.State, &resp.Diagnostics)
}

func (r *sourceResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	state, d := r.read(ctx, req.State)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	src, err := r.data.Store.GetSource(ctx, state.ID.ValueString())
	if errors.Is(err, catalog.ErrNotFound) {
		tflog.Info(ctx, "source gone from the catalog; removing it from state", map[string]any{"source_id": state.ID.ValueString()})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addStoreError(&resp.Diagnostics, "Cannot Read Source", catalog.KindSource, state.Name.ValueString(), err)
		return
	}
	m, ok := r.fromCatalog(src.ID, src.WorkspaceID, src.Name, src.Engine, src.CredentialsVersion, src.Settings, src.Credentials, &resp.Diagnostics)
	if !ok {
		return
	}
	m.StatsSchedule = scheduleValue(src.EffectiveStatsSchedule(), state.StatsSchedule)
	r.setState(ctx, m, &resp.State, &resp.Diagnostics)
}

func (r *sourceResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	const summary = "Cannot Update Source"
	plan, d := r.read(ctx, req.Plan)
	resp.Diagnostics.Append(d...)
	state, d := r.read(ctx, req.State)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	kind, settings, ok := r.settingsOf(ctx, plan, summary, &resp.Diagnostics)
	if !ok {
		return
	}
	src, err := r.data.Store.GetSource(ctx, state.ID.ValueString())
	if err != nil {
		addStoreError(&resp.Diagnostics, summary, catalog.KindSource, state.Name.ValueString(), err)
		return
	}
	creds, rotated := r.updateCredentials(ctx, req.Config, plan, state, src.Credentials, summary, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	if rotated || !plan.Blocks[kind.Name].Equal(state.Blocks[kind.Name]) {
		if !r.prepare(ctx, kind, settings, creds, summary, &resp.Diagnostics) {
			return
		}
	}
	src.Settings = settings
	src.Credentials = creds.Stored
	src.CredentialsVersion = plan.CredentialsWOVersion.ValueString()
	src.StatsSchedule = r.statsScheduleOf(ctx, plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.data.Store.UpdateSource(r.data.ctx(ctx), src); err != nil {
		addStoreError(&resp.Diagnostics, summary, catalog.KindSource, src.Name, err)
		return
	}
	tflog.Info(ctx, "updated source", map[string]any{"source_id": src.ID, "credentials_rotated": rotated})
	plan.Kind = types.StringValue(kind.Name)
	r.setState(ctx, plan, &resp.State, &resp.Diagnostics)
}

// Delete refuses while models use the source, removes it from the catalog, then drops the
// managed schemas. The catalog goes first so a refused delete drops nothing; a warehouse that
// cannot be reached only leaves a warning (the schemas can be dropped by hand).
func (r *sourceResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	const summary = "Cannot Delete Source"
	state, d := r.read(ctx, req.State)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	src, err := r.data.Store.GetSource(ctx, state.ID.ValueString())
	if errors.Is(err, catalog.ErrNotFound) {
		return
	}
	if err != nil {
		addStoreError(&resp.Diagnostics, summary, catalog.KindSource, state.Name.ValueString(), err)
		return
	}
	if r.data.refuseIfUsed(ctx, &resp.Diagnostics, summary, catalog.KindSource, src.Name, src.WorkspaceID, refs{sourceID: src.ID}) {
		return
	}
	if err := r.data.Store.DeleteSource(r.data.ctx(ctx), src.ID); err != nil && !errors.Is(err, catalog.ErrNotFound) {
		addStoreError(&resp.Diagnostics, summary, catalog.KindSource, src.Name, err)
		return
	}
	tflog.Info(ctx, "deleted source from the catalog", map[string]any{"source_id": src.ID})
	schemas := strings.Join(warehouse.ManagedSchemas, ", ")
	c, err := r.data.openSource(ctx, src)
	if err != nil {
		diagnostics.AddWarning(&resp.Diagnostics, "Managed Schemas Not Dropped",
			fmt.Sprintf("Source %q was removed from the catalog, but its warehouse could not be reached to drop dinmo's schemas (%s).", src.Name, schemas),
			"Drop them by hand if the warehouse is still in use.", err)
		return
	}
	defer c.close()
	if err := c.dropManagedSchemas(c.ctx); err != nil {
		diagnostics.AddWarning(&resp.Diagnostics, "Managed Schemas Not Dropped",
			fmt.Sprintf("Source %q was removed from the catalog, but dropping dinmo's schemas failed.", src.Name),
			"Drop them by hand: "+schemas+".", err)
	}
}

func (r *sourceResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	r.importScoped(ctx, req, resp, catalog.KindSource,
		byName(catalog.Store.GetSourceByName, func(x *catalog.Source) string { return x.ID }), byID(catalog.Store.GetSource))
}

// prepare opens the warehouse with the new settings and credentials, tests the connection and
// creates the managed schemas. Failures are reported at the engine block, or at the
// credentials when the warehouse refused them.
func (r *sourceResource) prepare(ctx context.Context, kind connKind, settings map[string]any, creds credentials, summary string, d *diag.Diagnostics) bool {
	credPath := credentialsPath(creds)
	c, err := r.data.openWarehouse(ctx, kind.Name, settings, creds)
	if err != nil {
		addWarehouseError(d, path.Root(kind.Name), credPath, summary, fmt.Sprintf("Connecting to the %s warehouse failed.", kind.Name), err)
		return false
	}
	defer c.close()
	stage, err := c.prepareSource(c.ctx)
	if err != nil {
		what := fmt.Sprintf("The connection test of the %s warehouse failed.", kind.Name)
		if stage == "schemas" {
			what = "Creating dinmo's managed schemas (" + strings.Join(warehouse.ManagedSchemas, ", ") + ") failed; the user needs the right to create schemas."
		}
		addWarehouseError(d, path.Root(kind.Name), credPath, summary, what, err)
		return false
	}
	tflog.Debug(c.ctx, "source connection tested and managed schemas created", map[string]any{"engine": kind.Name})
	return true
}

// statsScheduleOf reads and checks a planned stats_schedule (cron needs the workspace's
// permission, like activation schedules).
func (r *sourceResource) statsScheduleOf(ctx context.Context, plan connModel, d *diag.Diagnostics) schedule.Schedule {
	sched, known := scheduleFromObject(plan.StatsSchedule)
	if !known {
		diagnostics.AddError(d, "Unknown Stats Schedule", "The source's stats_schedule is not known at apply time.",
			"This is a bug in the provider; please report it.", nil)
		return sched
	}
	root := path.Root(attrStatsSchedule)
	addScheduleProblemsAt(d, root, schedule.Validate(sched, true), false)
	if !d.HasError() {
		r.data.checkCronAllowed(ctx, sched, plan.WorkspaceID.ValueString(), root, false, "Invalid Source", d)
	}
	return sched
}
