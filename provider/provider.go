// Package provider is the dinmo Terraform provider: it turns HCL into catalog records,
// validates declarations at plan time against the warehouse and the connectors' declared
// capabilities, and creates the warehouse artifacts (managed schemas, model and segment
// views). It never runs a sync; the runner does, from what the provider wrote to the catalog.
package provider

import (
	"context"
	"errors"
	"os"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"dinmo/catalog"
	"dinmo/connectors/registry"
	"dinmo/provider/internal/diagnostics"
	"dinmo/secrets"
)

var _ provider.Provider = (*dinmoProvider)(nil)

// DefaultActor is the name recorded in the catalog's audit log for changes made through
// Terraform when the provider configuration does not set actor.
const DefaultActor = "terraform"

// New returns the provider factory. The registry is passed in, not looked up, so tests can
// serve the provider with fake connectors and the schema follows whatever engines and
// platforms the registry declares.
func New(version string, reg *registry.Registry) func() provider.Provider {
	return func() provider.Provider {
		return &dinmoProvider{version: version, reg: reg}
	}
}

type dinmoProvider struct {
	version string
	reg     *registry.Registry
}

// providerData is what Configure hands every resource: the open catalog, the sealer for
// write-only credentials (nil when no key is configured), the connector registry, and the
// actor the audit log records.
type providerData struct {
	Store    catalog.Store
	Sealer   *secrets.Sealer
	Registry *registry.Registry
	Actor    string
}

// ctx returns a context whose catalog mutations are audited under the configured actor.
func (d *providerData) ctx(ctx context.Context) context.Context {
	return catalog.WithActor(ctx, d.Actor)
}

type providerModel struct {
	CatalogURL    types.String `tfsdk:"catalog_url"`
	EncryptionKey types.String `tfsdk:"encryption_key"`
	Actor         types.String `tfsdk:"actor"`
}

func (p *dinmoProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "dinmo"
	resp.Version = p.version
}

func (p *dinmoProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "dinmo declares a composable CDP as code: sources (warehouses), models, segments, " +
			"destinations and activations. The provider writes them to the dinmo catalog, which the `dinmo-runner` " +
			"service reads to run the syncs, and creates the views segments and models need in the warehouse.",
		Attributes: map[string]schema.Attribute{
			"catalog_url": schema.StringAttribute{
				MarkdownDescription: "Where the dinmo catalog lives: `sqlite:///absolute/path/catalog.db` (or a bare file path) " +
					"for the embedded catalog, or a `postgres://` URL for a shared one. The runner must use the same catalog. " +
					"Defaults to the `" + catalog.EnvURL + "` environment variable.",
				Optional: true,
			},
			"encryption_key": schema.StringAttribute{
				MarkdownDescription: "Passphrase (at least 16 characters) used to encrypt write-only credentials before they are " +
					"stored in the catalog. The runner needs the same key to decrypt them. Defaults to the `" + secrets.EnvKey +
					"` environment variable. Not needed when every credential is given as a reference (`env:NAME`, `file:PATH`).",
				Optional:  true,
				Sensitive: true,
			},
			"actor": schema.StringAttribute{
				MarkdownDescription: "Name recorded in the catalog's audit log for the changes this provider makes. Defaults to `" +
					DefaultActor + "`.",
				Optional: true,
			},
		},
	}
}

func (p *dinmoProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	for name, v := range map[string]types.String{"catalog_url": cfg.CatalogURL, "encryption_key": cfg.EncryptionKey, "actor": cfg.Actor} {
		if v.IsUnknown() {
			diagnostics.AddAttributeError(&resp.Diagnostics, path.Root(name), "Unknown Provider Setting",
				"The provider's "+name+" depends on a value that is not known until apply, but the provider needs it to plan.",
				"Use a value known at plan time (a literal, a variable or an environment variable).", nil)
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}

	url := cfg.CatalogURL.ValueString()
	if url == "" {
		url = os.Getenv(catalog.EnvURL)
	}
	if url == "" {
		diagnostics.AddAttributeError(&resp.Diagnostics, path.Root("catalog_url"), "Missing Catalog URL",
			"The provider does not know where the dinmo catalog is.",
			"Set catalog_url in the provider block or the "+catalog.EnvURL+" environment variable, "+
				"for example sqlite:///var/lib/dinmo/catalog.db.", nil)
		return
	}
	key := cfg.EncryptionKey.ValueString()
	if key == "" {
		key = os.Getenv(secrets.EnvKey)
	}
	sealer, err := secrets.NewSealer(key)
	if err != nil {
		diagnostics.AddAttributeError(&resp.Diagnostics, path.Root("encryption_key"), "Invalid Encryption Key",
			"The encryption key (from encryption_key or "+secrets.EnvKey+") cannot be used.",
			"Use a passphrase of at least 16 characters, the same for the provider and the runner.", err)
		return
	}
	actor := cfg.Actor.ValueString()
	if actor == "" {
		actor = DefaultActor
	}

	store, err := catalog.Open(ctx, url)
	if err != nil {
		diagnostics.AddAttributeError(&resp.Diagnostics, path.Root("catalog_url"), "Cannot Open Catalog",
			"The provider could not open the dinmo catalog.",
			"Check catalog_url (or "+catalog.EnvURL+"): the file's directory must exist and be writable, "+
				"or the PostgreSQL server must be reachable with the given user.", redactURL(err, url))
		return
	}
	tflog.Debug(ctx, "opened dinmo catalog", map[string]any{"actor": actor, "sealer": sealer != nil})

	data := &providerData{Store: store, Sealer: sealer, Registry: p.reg, Actor: actor}
	resp.ResourceData = data
	resp.DataSourceData = data
}

// redactURL hides a PostgreSQL catalog URL's password in an error, should the driver echo it.
func redactURL(err error, url string) error {
	if pw := urlPassword(url); pw != "" {
		return diagnostics.Redact(err, pw)
	}
	return err
}

func (p *dinmoProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		newWorkspaceResource,
		func() resource.Resource { return newSourceResource(p.reg) },
		newModelResource,
		newSegmentResource,
		func() resource.Resource { return newDestinationResource(p.reg) },
		newActivationResource,
	}
}

func (p *dinmoProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		func() datasource.DataSource { return newDestinationPlatformsDataSource(p.reg) },
		func() datasource.DataSource { return newWarehouseEnginesDataSource(p.reg) },
		newSegmentStatsDataSource,
		newSegmentBreakdownDataSource,
		newSegmentOverlapDataSource,
	}
}

// errNoProviderData is reported when a resource is used before the provider was configured.
var errNoProviderData = errors.New("the provider was not configured")
