package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"dinmo/connectors"
	"dinmo/connectors/destination"
	"dinmo/connectors/registry"
	"dinmo/provider/internal/fields"
)

var _ datasource.DataSource = (*destinationPlatformsDataSource)(nil)

func newDestinationPlatformsDataSource(reg *registry.Registry) datasource.DataSource {
	return &destinationPlatformsDataSource{reg: reg}
}

// destinationPlatformsDataSource lists the destination platforms built into the provider with
// their services and capabilities, computed from the connectors' declarations, so
// configurations can check or derive what a platform offers (a service's sync modes, the
// fields a mapping may target) instead of copying it from the docs.
type destinationPlatformsDataSource struct {
	reg *registry.Registry
}

func (d *destinationPlatformsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_destination_platforms"
}

// configFieldAttributes describes one declared setting, credential or service option.
func configFieldAttributes(what string) schema.ListNestedAttribute {
	return schema.ListNestedAttribute{
		MarkdownDescription: "The " + what + ", in declaration order.",
		Computed:            true,
		NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
			"name":        schema.StringAttribute{MarkdownDescription: "Name, as written in HCL.", Computed: true},
			"description": schema.StringAttribute{MarkdownDescription: "Markdown description.", Computed: true},
			"type": schema.StringAttribute{
				MarkdownDescription: "Type: `string`, `int`, `bool`, `map` (of strings) or `list` (of strings).",
				Computed:            true,
			},
			"required": schema.BoolAttribute{MarkdownDescription: "Whether it must be given.", Computed: true},
			"default": schema.StringAttribute{
				MarkdownDescription: "Default used when it is omitted, as text (null when there is none).",
				Computed:            true,
			},
			"enum": schema.ListAttribute{
				MarkdownDescription: "Allowed values of a string (empty: any).",
				ElementType:         types.StringType, Computed: true,
			},
			"min": schema.Int64Attribute{MarkdownDescription: "Lower bound of an integer (null: none).", Computed: true},
			"max": schema.Int64Attribute{MarkdownDescription: "Upper bound of an integer (null: none).", Computed: true},
		}},
	}
}

func (d *destinationPlatformsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists every destination platform this provider build supports, with its settings, credentials and " +
			"services, and for each service its capabilities: run types, sync modes, identifiers, the fields a mapping may " +
			"target (type, required, PII normalisation, hashing), the service options, batch sizes, rate limit and minimum " +
			"audience size. The values come from the same declarations the provider validates activations against and the " +
			"runner batches with. It needs no catalog access.",
		Attributes: map[string]schema.Attribute{
			"platforms": schema.ListNestedAttribute{
				MarkdownDescription: "The platforms, sorted by name.",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"platform": schema.StringAttribute{
						MarkdownDescription: "Platform name: the block to set in `dinmo_destination`.",
						Computed:            true,
					},
					"display_name": schema.StringAttribute{MarkdownDescription: "Human-readable name.", Computed: true},
					"description":  schema.StringAttribute{MarkdownDescription: "Markdown description.", Computed: true},
					"settings":     configFieldAttributes("settings of the platform block"),
					"credentials":  configFieldAttributes("credentials (`credentials_wo` or `credentials_ref` keys)"),
					"services": schema.ListNestedAttribute{
						MarkdownDescription: "The services activations can write to, in declaration order.",
						Computed:            true,
						NestedObject:        schema.NestedAttributeObject{Attributes: serviceAttributes()},
					},
				}},
			},
		},
	}
}

func serviceAttributes() map[string]schema.Attribute {
	strList := func(desc string) schema.ListAttribute {
		return schema.ListAttribute{MarkdownDescription: desc, ElementType: types.StringType, Computed: true}
	}
	return map[string]schema.Attribute{
		"name":        schema.StringAttribute{MarkdownDescription: "Service name: the activation's `service`.", Computed: true},
		"description": schema.StringAttribute{MarkdownDescription: "Markdown description.", Computed: true},
		"family":      schema.StringAttribute{MarkdownDescription: "`objects`, `lists` or `events`.", Computed: true},
		"run_types":   strList("Run types it supports (`full`, `delta`, `incremental`)."),
		"sync_modes":  strList("Sync modes it supports (`insert`, `update`, `upsert`, `mirror`, `list`, `events`)."),
		"identifiers": strList("Destination fields that can identify a record (empty: the model's primary key identifies it)."),
		"require_identifier": schema.BoolAttribute{
			MarkdownDescription: "Whether a mapping must target at least one of `identifiers`.",
			Computed:            true,
		},
		"identifier_option": schema.StringAttribute{
			MarkdownDescription: "The service option whose value names the field that identifies records, which a mapping must " +
				"target (null when the service has none).",
			Computed: true,
		},
		"allow_custom_fields": schema.BoolAttribute{
			MarkdownDescription: "Whether mappings may target fields other than `fields`.",
			Computed:            true,
		},
		"creates_unknown_records": schema.BoolAttribute{
			MarkdownDescription: "Whether writing an unknown identifier creates a record.",
			Computed:            true,
		},
		"fields": schema.ListNestedAttribute{
			MarkdownDescription: "Known destination fields a mapping may target, in declaration order.",
			Computed:            true,
			NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
				"name":        schema.StringAttribute{MarkdownDescription: "Field name: a key of the activation's `mappings`.", Computed: true},
				"description": schema.StringAttribute{MarkdownDescription: "Markdown description.", Computed: true},
				"type": schema.StringAttribute{
					MarkdownDescription: "Value type: `string`, `number`, `integer`, `boolean`, `timestamp` or `object`.",
					Computed:            true,
				},
				"required": schema.BoolAttribute{MarkdownDescription: "Whether a mapping must target it.", Computed: true},
				"pii": schema.StringAttribute{
					MarkdownDescription: "Normalisation rule applied before sending (`email`, `phone`...; null: none).",
					Computed:            true,
				},
				"hashed": schema.BoolAttribute{
					MarkdownDescription: "Whether the value is sent as the SHA-256 hex of its normalised form.",
					Computed:            true,
				},
			}},
		},
		"options": configFieldAttributes("service options (keys of the activation's `service_options`)"),
		"max_batch_size": schema.Int64Attribute{
			MarkdownDescription: "Most records one request carries.",
			Computed:            true,
		},
		"default_batch_size": schema.Int64Attribute{
			MarkdownDescription: "Records per request unless the destination's `batch_size` setting says otherwise.",
			Computed:            true,
		},
		"requests_per_second": schema.Float64Attribute{
			MarkdownDescription: "The platform's documented request rate limit (0: none declared).",
			Computed:            true,
		},
		"burst": schema.Int64Attribute{
			MarkdownDescription: "Requests the rate limit lets through at once.",
			Computed:            true,
		},
		"min_audience_size": schema.Int64Attribute{
			MarkdownDescription: "Smallest audience the platform uses (0: no minimum).",
			Computed:            true,
		},
	}
}

func (d *destinationPlatformsDataSource) Read(ctx context.Context, _ datasource.ReadRequest, resp *datasource.ReadResponse) {
	state := destinationPlatformsModel{Platforms: []platformModel{}}
	for _, p := range d.reg.DestinationSpecs() {
		state.Platforms = append(state.Platforms, platformFromSpec(p))
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// destinationPlatformsModel is the data source's state.
type destinationPlatformsModel struct {
	Platforms []platformModel `tfsdk:"platforms"`
}

type platformModel struct {
	Platform    string             `tfsdk:"platform"`
	DisplayName string             `tfsdk:"display_name"`
	Description string             `tfsdk:"description"`
	Settings    []configFieldModel `tfsdk:"settings"`
	Credentials []configFieldModel `tfsdk:"credentials"`
	Services    []serviceModel     `tfsdk:"services"`
}

type serviceModel struct {
	Name                  string             `tfsdk:"name"`
	Description           string             `tfsdk:"description"`
	Family                string             `tfsdk:"family"`
	RunTypes              []string           `tfsdk:"run_types"`
	SyncModes             []string           `tfsdk:"sync_modes"`
	Identifiers           []string           `tfsdk:"identifiers"`
	RequireIdentifier     bool               `tfsdk:"require_identifier"`
	IdentifierOption      types.String       `tfsdk:"identifier_option"`
	AllowCustomFields     bool               `tfsdk:"allow_custom_fields"`
	CreatesUnknownRecords bool               `tfsdk:"creates_unknown_records"`
	Fields                []fieldModel       `tfsdk:"fields"`
	Options               []configFieldModel `tfsdk:"options"`
	MaxBatchSize          int64              `tfsdk:"max_batch_size"`
	DefaultBatchSize      int64              `tfsdk:"default_batch_size"`
	RequestsPerSecond     float64            `tfsdk:"requests_per_second"`
	Burst                 int64              `tfsdk:"burst"`
	MinAudienceSize       int64              `tfsdk:"min_audience_size"`
}

type fieldModel struct {
	Name        string       `tfsdk:"name"`
	Description string       `tfsdk:"description"`
	Type        string       `tfsdk:"type"`
	Required    bool         `tfsdk:"required"`
	PII         types.String `tfsdk:"pii"`
	Hashed      bool         `tfsdk:"hashed"`
}

type configFieldModel struct {
	Name        string       `tfsdk:"name"`
	Description string       `tfsdk:"description"`
	Type        string       `tfsdk:"type"`
	Required    bool         `tfsdk:"required"`
	Default     types.String `tfsdk:"default"`
	Enum        []string     `tfsdk:"enum"`
	Min         types.Int64  `tfsdk:"min"`
	Max         types.Int64  `tfsdk:"max"`
}

func platformFromSpec(p destination.PlatformSpec) platformModel {
	out := platformModel{
		Platform: p.Platform, DisplayName: p.DisplayName, Description: p.Description,
		Settings: configFieldsFrom(p.Settings), Credentials: configFieldsFrom(p.Credentials), Services: []serviceModel{},
	}
	for _, s := range p.Services {
		out.Services = append(out.Services, serviceFromSpec(s))
	}
	return out
}

func serviceFromSpec(s destination.ServiceSpec) serviceModel {
	out := serviceModel{
		Name: s.Name, Description: s.Description, Family: string(s.Family),
		RunTypes: stringsOf(s.RunTypes), SyncModes: stringsOf(s.SyncModes), Identifiers: stringsOf(s.Identifiers),
		RequireIdentifier: s.RequireIdentifier, IdentifierOption: optionalString(s.IdentifierOption),
		AllowCustomFields: s.AllowCustomFields, CreatesUnknownRecords: s.CreatesUnknownRecords,
		Fields: []fieldModel{}, Options: configFieldsFrom(s.Options),
		MaxBatchSize: int64(s.MaxBatchSize), DefaultBatchSize: int64(s.DefaultBatchSize),
		RequestsPerSecond: s.RequestsPerSecond, Burst: int64(s.Burst), MinAudienceSize: int64(s.MinAudienceSize),
	}
	for _, f := range s.Fields {
		out.Fields = append(out.Fields, fieldModel{
			Name: f.Name, Description: f.Description, Type: f.Type, Required: f.Required,
			PII: optionalString(f.PII), Hashed: f.Hashed,
		})
	}
	return out
}

// configFieldsFrom describes declared configuration fields; never nil, so an empty list reads
// as [] rather than null.
func configFieldsFrom(fs []connectors.ConfigField) []configFieldModel {
	out := make([]configFieldModel, 0, len(fs))
	for _, f := range fs {
		out = append(out, configFieldModel{
			Name: f.Name, Description: f.Description, Type: string(f.Type), Required: f.Required,
			Default: optionalString(fields.FormatDefault(f)), Enum: stringsOf(f.Enum),
			Min: optionalInt(f.Min), Max: optionalInt(f.Max),
		})
	}
	return out
}

// stringsOf converts a list of string-like values; never nil.
func stringsOf[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

// optionalInt maps 0 (no bound) to null.
func optionalInt(n int64) types.Int64 {
	if n == 0 {
		return types.Int64Null()
	}
	return types.Int64Value(n)
}
