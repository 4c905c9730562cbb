package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"dinmo/catalog"
	"dinmo/connectors"
	"dinmo/connectors/destination"
	"dinmo/connectors/registry"
	"dinmo/provider/internal/diagnostics"
	"dinmo/provider/internal/tflogslog"
)

var (
	_ resource.Resource                     = (*destinationResource)(nil)
	_ resource.ResourceWithConfigure        = (*destinationResource)(nil)
	_ resource.ResourceWithImportState      = (*destinationResource)(nil)
	_ resource.ResourceWithConfigValidators = (*destinationResource)(nil)
	_ resource.ResourceWithValidateConfig   = (*destinationResource)(nil)
	_ resource.ResourceWithModifyPlan       = (*destinationResource)(nil)
)

func newDestinationResource(reg *registry.Registry) resource.Resource {
	return &destinationResource{connResource{kinds: destinationKinds(reg), kindAttr: "platform", what: catalog.KindDestination}}
}

// destinationResource manages a destination: a connection to one platform, whose services
// activations write to. Its schema has one block per platform of the registry.
type destinationResource struct {
	connResource
}

func (r *destinationResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_destination"
}

func (r *destinationResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	attrs := connAttributes(r.what, r.kindAttr, r.kinds)
	attrs["id"] = idAttribute("destination")
	attrs["workspace_id"] = workspaceIDAttribute("destination")
	attrs["name"] = nameAttribute("destination", false)
	resp.Schema = schema.Schema{
		MarkdownDescription: "A destination is a connection to one platform (set exactly one platform block). Applying it checks " +
			"the settings and credentials with the platform, without sending data. Activations choose one of the platform's " +
			"services.\n\nImport with `<workspace name>/<destination name>` or the catalog id.",
		Attributes: attrs,
	}
}

func (r *destinationResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	const summary = "Cannot Create Destination"
	plan, d := r.read(ctx, req.Plan)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	kind, settings, ok := r.settingsOf(ctx, plan, summary, &resp.Diagnostics)
	if !ok {
		return
	}
	name := plan.Name.ValueString()
	wsID := plan.WorkspaceID.ValueString()
	if _, err := r.data.Store.GetDestinationByName(ctx, wsID, name); !nameFree(&resp.Diagnostics, summary, catalog.KindDestination, name, err) {
		return
	}
	creds := r.configCredentials(ctx, req.Config, summary, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	if !r.check(ctx, kind, settings, creds, summary, &resp.Diagnostics) {
		return
	}
	dest := &catalog.Destination{
		WorkspaceID: wsID, Name: name, Platform: kind.Name, Settings: settings,
		Credentials: creds.Stored, CredentialsVersion: plan.CredentialsWOVersion.ValueString(),
	}
	if err := r.data.Store.CreateDestination(r.data.ctx(ctx), dest); err != nil {
		addStoreError(&resp.Diagnostics, summary, catalog.KindDestination, name, err)
		return
	}
	tflog.Info(ctx, "created destination", map[string]any{"destination_id": dest.ID, "platform": dest.Platform, "name": dest.Name})
	plan.ID = types.StringValue(dest.ID)
	plan.Kind = types.StringValue(kind.Name)
	r.setState(ctx, plan, &resp.State, &resp.Diagnostics)
}

func (r *destinationResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	state, d := r.read(ctx, req.State)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	dest, err := r.data.Store.GetDestination(ctx, state.ID.ValueString())
	if errors.Is(err, catalog.ErrNotFound) {
		tflog.Info(ctx, "destination gone from the catalog; removing it from state", map[string]any{"destination_id": state.ID.ValueString()})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addStoreError(&resp.Diagnostics, "Cannot Read Destination", catalog.KindDestination, state.Name.ValueString(), err)
		return
	}
	m, ok := r.fromCatalog(dest.ID, dest.WorkspaceID, dest.Name, dest.Platform, dest.CredentialsVersion, dest.Settings, dest.Credentials, &resp.Diagnostics)
	if !ok {
		return
	}
	r.setState(ctx, m, &resp.State, &resp.Diagnostics)
}

func (r *destinationResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	const summary = "Cannot Update Destination"
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
	dest, err := r.data.Store.GetDestination(ctx, state.ID.ValueString())
	if err != nil {
		addStoreError(&resp.Diagnostics, summary, catalog.KindDestination, state.Name.ValueString(), err)
		return
	}
	creds, rotated := r.updateCredentials(ctx, req.Config, plan, state, dest.Credentials, summary, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	if !r.check(ctx, kind, settings, creds, summary, &resp.Diagnostics) {
		return
	}
	dest.Settings = settings
	dest.Credentials = creds.Stored
	dest.CredentialsVersion = plan.CredentialsWOVersion.ValueString()
	if err := r.data.Store.UpdateDestination(r.data.ctx(ctx), dest); err != nil {
		addStoreError(&resp.Diagnostics, summary, catalog.KindDestination, dest.Name, err)
		return
	}
	tflog.Info(ctx, "updated destination", map[string]any{"destination_id": dest.ID, "credentials_rotated": rotated})
	plan.Kind = types.StringValue(kind.Name)
	r.setState(ctx, plan, &resp.State, &resp.Diagnostics)
}

func (r *destinationResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	const summary = "Cannot Delete Destination"
	state, d := r.read(ctx, req.State)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ID.ValueString()
	if r.data.refuseIfUsed(ctx, &resp.Diagnostics, summary, catalog.KindDestination, state.Name.ValueString(), state.WorkspaceID.ValueString(), refs{destinationID: id}) {
		return
	}
	if err := r.data.Store.DeleteDestination(r.data.ctx(ctx), id); err != nil && !errors.Is(err, catalog.ErrNotFound) {
		addStoreError(&resp.Diagnostics, summary, catalog.KindDestination, state.Name.ValueString(), err)
		return
	}
	tflog.Info(ctx, "deleted destination", map[string]any{"destination_id": id})
}

func (r *destinationResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	r.importScoped(ctx, req, resp, catalog.KindDestination,
		byName(catalog.Store.GetDestinationByName, func(x *catalog.Destination) string { return x.ID }), byID(catalog.Store.GetDestination))
}

// check asks the platform to verify the settings and credentials (it sends no data).
// Failures are reported at the platform block, or at the credentials when they were refused.
func (r *destinationResource) check(ctx context.Context, kind connKind, settings map[string]any, creds credentials, summary string, d *diag.Diagnostics) bool {
	platform, ok := r.data.Registry.Destination(kind.Name)
	if !ok {
		diagnostics.AddAttributeError(d, path.Root(kind.Name), summary, fmt.Sprintf("Platform %q is not built into this provider.", kind.Name),
			"Use a provider version that supports it.", nil)
		return false
	}
	secretValues := creds.values()
	ctx = maskContext(ctx, secretValues)
	err := platform.Check(ctx, destination.OpenParams{
		Settings:    destination.ApplyDefaults(kind.Settings, settings),
		Credentials: creds.Plain,
		Logger:      tflogslog.New(ctx),
	})
	if err == nil {
		return true
	}
	err = diagnostics.Redact(err, secretValues...)
	credPath := credentialsPath(creds)
	what := fmt.Sprintf("The %s platform refused the destination's configuration.", kind.Name)
	if connectors.CategoryOf(err) == connectors.CategoryCredentials {
		diagnostics.AddAttributeError(d, credPath, summary, what+" The credentials were refused.",
			"Check the credentials; to change write-only credentials, update "+attrCredentialsWO+" and change "+attrCredentialsWOVersion+".", err)
		return false
	}
	diagnostics.AddAttributeError(d, path.Root(kind.Name), summary, what, "Fix the settings as the platform's message says.", err)
	return false
}
