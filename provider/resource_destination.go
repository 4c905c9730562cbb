package provider

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
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
	attrs[attrAPIBaseURL] = schema.StringAttribute{
		MarkdownDescription: "Override the platform's API base URL: a regional instance, a proxy, tests. An `http://` or `https://` " +
			"address (an optional path prefix, no credentials, query or fragment) that replaces the platform's API host, for " +
			"checks and for every sync; the destination's credentials are sent to it. Leave it unset to use the platform's own " +
			"API. Platforms without an API (`file`) and those whose settings hold the full address (`webhook`) ignore it.",
		Optional:   true,
		Validators: []validator.String{baseURLValidator{}},
	}
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
	baseURL := plan.APIBaseURL.ValueString()
	if !r.check(ctx, kind, settings, baseURL, creds, summary, &resp.Diagnostics) {
		return
	}
	dest := &catalog.Destination{
		WorkspaceID: wsID, Name: name, Platform: kind.Name, Settings: settings,
		Credentials: creds.Stored, CredentialsVersion: plan.CredentialsWOVersion.ValueString(), BaseURL: baseURL,
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
	m.APIBaseURL = optionalString(dest.BaseURL)
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
	baseURL := plan.APIBaseURL.ValueString()
	if !r.check(ctx, kind, settings, baseURL, creds, summary, &resp.Diagnostics) {
		return
	}
	dest.Settings = settings
	dest.BaseURL = baseURL
	dest.Credentials = creds.Stored
	dest.CredentialsVersion = plan.CredentialsWOVersion.ValueString()
	if err := r.data.Store.UpdateDestination(r.data.ctx(ctx), dest); err != nil {
		addStoreError(&resp.Diagnostics, summary, catalog.KindDestination, dest.Name, err)
		return
	}
	tflog.Info(ctx, "updated destination", map[string]any{"destination_id": dest.ID, "credentials_rotated": rotated, "api_base_url_set": baseURL != ""})
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

// check asks the platform to verify the settings and credentials (it sends no data), at the
// API base URL override when one is set. Failures are reported at the platform block, or at
// the credentials when they were refused.
func (r *destinationResource) check(ctx context.Context, kind connKind, settings map[string]any, baseURL string, creds credentials, summary string, d *diag.Diagnostics) bool {
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
		BaseURL:     baseURL,
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

// baseURLValidator checks api_base_url: an absolute http(s) URL with a host and no
// credentials, query or fragment (the platform appends its API paths to it).
type baseURLValidator struct{}

func (baseURLValidator) Description(context.Context) string {
	return "must be an http:// or https:// address without credentials, query or fragment"
}

func (v baseURLValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (baseURLValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := checkBaseURL(req.ConfigValue.ValueString()); err != nil {
		diagnostics.AddAttributeError(&resp.Diagnostics, req.Path, "Invalid API Base URL",
			"The API base URL cannot be used.",
			"Write an address such as https://api-proxy.example.com or http://127.0.0.1:8080/hubspot.", err)
	}
}

// checkBaseURL is the rule baseURLValidator applies.
func checkBaseURL(raw string) error {
	if strings.TrimSpace(raw) != raw || raw == "" {
		return errors.New("the address is empty or has surrounding white space")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the address, which may hold credentials
		}
		return fmt.Errorf("not a URL: %w", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("the scheme must be http or https, not %q", u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return errors.New("the address has no host")
	case u.User != nil:
		return errors.New("the address must not contain credentials: give them in credentials_wo or credentials_ref")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return errors.New("the address must not have a query or a fragment")
	}
	return nil
}
