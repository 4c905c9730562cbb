package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"

	"dinmo/connectors/registry"
)

var _ datasource.DataSource = (*warehouseEnginesDataSource)(nil)

func newWarehouseEnginesDataSource(reg *registry.Registry) datasource.DataSource {
	return &warehouseEnginesDataSource{reg: reg}
}

// warehouseEnginesDataSource lists the warehouse engines the provider declares, whether this
// build can connect to each, and their settings and credentials, from the connectors'
// declarations.
type warehouseEnginesDataSource struct {
	reg *registry.Registry
}

func (d *warehouseEnginesDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_warehouse_engines"
}

func (d *warehouseEnginesDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the warehouse engines `dinmo_source` declares, whether this provider build can connect to " +
			"each (`available`), and their settings and credentials, from the engines' own declarations. It needs no catalog access.",
		Attributes: map[string]schema.Attribute{
			"engines": schema.ListNestedAttribute{
				MarkdownDescription: "The engines, sorted by name.",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"engine": schema.StringAttribute{
						MarkdownDescription: "Engine name: the block to set in `dinmo_source`.",
						Computed:            true,
					},
					"display_name": schema.StringAttribute{MarkdownDescription: "Human-readable name.", Computed: true},
					"available": schema.BoolAttribute{
						MarkdownDescription: "Whether this build can connect to the engine (declared engines that are not available " +
							"are refused at plan time).",
						Computed: true,
					},
					"settings":    configFieldAttributes("settings of the engine block"),
					"credentials": configFieldAttributes("credentials (`credentials_wo` or `credentials_ref` keys)"),
				}},
			},
		},
	}
}

func (d *warehouseEnginesDataSource) Read(ctx context.Context, _ datasource.ReadRequest, resp *datasource.ReadResponse) {
	state := warehouseEnginesModel{Engines: []engineModel{}}
	for _, s := range d.reg.WarehouseSpecs() {
		state.Engines = append(state.Engines, engineModel{
			Engine: string(s.Engine), DisplayName: s.DisplayName, Available: s.Available,
			Settings: configFieldsFrom(s.Settings), Credentials: configFieldsFrom(s.Credentials),
		})
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// warehouseEnginesModel is the data source's state.
type warehouseEnginesModel struct {
	Engines []engineModel `tfsdk:"engines"`
}

type engineModel struct {
	Engine      string             `tfsdk:"engine"`
	DisplayName string             `tfsdk:"display_name"`
	Available   bool               `tfsdk:"available"`
	Settings    []configFieldModel `tfsdk:"settings"`
	Credentials []configFieldModel `tfsdk:"credentials"`
}
