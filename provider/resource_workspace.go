package provider

import (
	"context"
	"errors"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"dinmo/catalog"
	"dinmo/provider/internal/diagnostics"
)

var (
	_ resource.Resource                   = (*workspaceResource)(nil)
	_ resource.ResourceWithConfigure      = (*workspaceResource)(nil)
	_ resource.ResourceWithImportState    = (*workspaceResource)(nil)
	_ resource.ResourceWithValidateConfig = (*workspaceResource)(nil)
)

func newWorkspaceResource() resource.Resource { return &workspaceResource{} }

// workspaceResource manages a dinmo workspace: the isolated space owning every other object.
type workspaceResource struct {
	resourceBase
}

func (r *workspaceResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_workspace"
}

func (r *workspaceResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A workspace is an isolated space (typically one team) that owns sources, models, segments, " +
			"destinations and activations. Object names are unique within a workspace. A workspace can only be destroyed " +
			"once everything in it is gone.\n\nImport with the workspace name or its catalog id.",
		Attributes: map[string]schema.Attribute{
			"id":   idAttribute("workspace"),
			"name": nameAttribute("workspace", false),
			"description": schema.StringAttribute{
				MarkdownDescription: "Free-text description.",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(""),
			},
			"cron_enabled": schema.BoolAttribute{
				MarkdownDescription: "Whether activations of this workspace may use cron schedules (a workspace-level switch, as in the product). Defaults to `false`.",
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(false),
			},
			"alerts": alertsSchema(),
		},
	}
}

// ValidateConfig checks the alerts attribute (channels, addresses, repeat, one form per secret).
func (r *workspaceResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	cfg := readAlertsConfig(ctx, req.Config, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	alertsConfig(nil, cfg, false, &resp.Diagnostics)
}

// setAlerts stores the configured alerts (write-only secrets sealed) on w.
func (r *workspaceResource) setAlerts(ctx context.Context, config tfsdk.Config, w *catalog.Workspace, diags *diag.Diagnostics) {
	cfg := readAlertsConfig(ctx, config, diags)
	if diags.HasError() {
		return
	}
	st := alertsConfig(r.data.Sealer, cfg, true, diags)
	if diags.HasError() {
		return
	}
	raw, err := alertsJSON(st)
	if err != nil {
		diagnostics.AddAttributeError(diags, path.Root("alerts"), "Invalid Alerts", "The alert settings cannot be stored.", "Report this as a bug.", err)
		return
	}
	w.Settings.Alerts = raw
}

func (r *workspaceResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan workspaceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	w := &catalog.Workspace{}
	plan.toCatalog(w)
	r.setAlerts(ctx, req.Config, w, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.data.Store.CreateWorkspace(r.data.ctx(ctx), w); err != nil {
		addStoreError(&resp.Diagnostics, "Cannot Create Workspace", catalog.KindWorkspace, w.Name, err)
		return
	}
	tflog.Info(ctx, "created workspace", map[string]any{"workspace_id": w.ID, "name": w.Name})
	plan.fromCatalog(w)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *workspaceResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state workspaceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	w, err := r.data.Store.GetWorkspace(ctx, state.ID.ValueString())
	if errors.Is(err, catalog.ErrNotFound) {
		tflog.Info(ctx, "workspace gone from the catalog; removing it from state", map[string]any{"workspace_id": state.ID.ValueString()})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addStoreError(&resp.Diagnostics, "Cannot Read Workspace", catalog.KindWorkspace, state.Name.ValueString(), err)
		return
	}
	state.fromCatalog(w)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *workspaceResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan workspaceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	w, err := r.data.Store.GetWorkspace(ctx, plan.ID.ValueString())
	if err != nil {
		addStoreError(&resp.Diagnostics, "Cannot Update Workspace", catalog.KindWorkspace, plan.Name.ValueString(), err)
		return
	}
	plan.toCatalog(w)
	r.setAlerts(ctx, req.Config, w, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.data.Store.UpdateWorkspace(r.data.ctx(ctx), w); err != nil {
		addStoreError(&resp.Diagnostics, "Cannot Update Workspace", catalog.KindWorkspace, w.Name, err)
		return
	}
	plan.fromCatalog(w)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *workspaceResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state workspaceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	err := r.data.Store.DeleteWorkspace(r.data.ctx(ctx), state.ID.ValueString())
	if err != nil && !errors.Is(err, catalog.ErrNotFound) {
		addStoreError(&resp.Diagnostics, "Cannot Delete Workspace", catalog.KindWorkspace, state.Name.ValueString(), err)
	}
}

func (r *workspaceResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if r.data == nil {
		diagnostics.AddError(&resp.Diagnostics, "Cannot Import Workspace", "The provider is not configured.", "Configure the dinmo provider.", errNoProviderData)
		return
	}
	w, err := r.data.Store.GetWorkspaceByName(ctx, req.ID)
	if errors.Is(err, catalog.ErrNotFound) {
		w, err = r.data.Store.GetWorkspace(ctx, req.ID)
	}
	if err != nil {
		addStoreError(&resp.Diagnostics, "Cannot Import Workspace", catalog.KindWorkspace, req.ID, err)
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, pathID, w.ID)...)
}

// workspaceModel is the Terraform state of a workspace.
type workspaceModel struct {
	ID          types.String `tfsdk:"id"`
	Name        types.String `tfsdk:"name"`
	Description types.String `tfsdk:"description"`
	CronEnabled types.Bool   `tfsdk:"cron_enabled"`
	Alerts      types.Object `tfsdk:"alerts"`
}

// toCatalog copies the declared attributes onto w, leaving settings Terraform does not manage
// (alert recipients) as they are.
func (m *workspaceModel) toCatalog(w *catalog.Workspace) {
	w.Name = m.Name.ValueString()
	w.Description = m.Description.ValueString()
	w.Settings.CronEnabled = m.CronEnabled.ValueBool()
}

func (m *workspaceModel) fromCatalog(w *catalog.Workspace) {
	m.ID = types.StringValue(w.ID)
	m.Name = types.StringValue(w.Name)
	m.Description = types.StringValue(w.Description)
	m.CronEnabled = types.BoolValue(w.Settings.CronEnabled)
	// A stored value that cannot be decoded (never written by this provider) shows as no
	// alerts, so the next apply rewrites it.
	m.Alerts, _ = alertsValue(w.Settings.Alerts)
}
