package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"dinmo/catalog"
	"dinmo/connectors/warehouse"
	"dinmo/provider/internal/diagnostics"
	"dinmo/stats"
)

var (
	_ datasource.DataSource              = (*segmentStatsDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*segmentStatsDataSource)(nil)
)

// dataSourceBase holds what every catalog-backed data source gets from the provider.
type dataSourceBase struct {
	data *providerData
}

// Configure stores the provider data; see resourceBase.Configure.
func (b *dataSourceBase) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	if req.ProviderData == nil {
		return
	}
	d, ok := req.ProviderData.(*providerData)
	if !ok {
		diagnostics.AddError(&resp.Diagnostics, "Unexpected Provider Data",
			fmt.Sprintf("The data source received provider data of type %T instead of the dinmo provider's.", req.ProviderData),
			"This is a bug in the provider; please report it.", nil)
		return
	}
	b.data = d
}

// segmentTarget is a segment with its model, ready for statistics.
type segmentTarget struct {
	seg   *catalog.Segment
	model *catalog.Model
}

func (t segmentTarget) relation() stats.Relation {
	return stats.Relation{Schema: warehouse.SchemaSegments, Name: segmentViewName(t.seg.Name)}
}

func (t segmentTarget) parent() stats.Relation {
	return stats.Relation{Schema: warehouse.SchemaSegments, Name: modelViewName(t.model.Name)}
}

// loadSegmentTarget loads a segment and its model; attr is the attribute naming it. It returns
// false after adding a diagnostic.
func (d *providerData) loadSegmentTarget(ctx context.Context, id string, attr path.Path, summary string, diags *diag.Diagnostics) (segmentTarget, bool) {
	if d == nil {
		diagnostics.AddError(diags, summary, "The provider is not configured.", "Configure the dinmo provider.", errNoProviderData)
		return segmentTarget{}, false
	}
	s, err := d.Store.GetSegment(ctx, id)
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			diagnostics.AddAttributeError(diags, attr, summary, fmt.Sprintf("The catalog has no segment with id %q.", id),
				"Reference an existing dinmo_segment (dinmo_segment.<name>.id).", err)
			return segmentTarget{}, false
		}
		addStoreError(diags, summary, catalog.KindSegment, id, err)
		return segmentTarget{}, false
	}
	m, err := d.Store.GetModel(ctx, s.ModelID)
	if err != nil {
		addStoreError(diags, summary, catalog.KindModel, s.ModelID, err)
		return segmentTarget{}, false
	}
	return segmentTarget{seg: s, model: m}, true
}

// openTarget opens the warehouse of a segment's model. It returns nil after adding a
// diagnostic.
func (d *providerData) openTarget(ctx context.Context, t segmentTarget, attr path.Path, summary string, diags *diag.Diagnostics) *conn {
	c, err := d.openSourceByID(ctx, t.model.SourceID)
	if err != nil {
		diagnostics.AddAttributeError(diags, attr, summary, fmt.Sprintf("The warehouse of model %q cannot be reached.", t.model.Name),
			"Check the source's settings and credentials, and that the warehouse is up.", err)
		return nil
	}
	return c
}

func newSegmentStatsDataSource() datasource.DataSource { return &segmentStatsDataSource{} }

// segmentStatsDataSource computes a segment's size and share of its model in the warehouse and
// appends them to the history table dinmo_stats.segment_sizes.
type segmentStatsDataSource struct {
	dataSourceBase
}

func (d *segmentStatsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_segment_stats"
}

func (d *segmentStatsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Computes, in the warehouse, the size of a segment (rows of its view) and its share of the parent model " +
			"(rows of the model's view), each time Terraform reads it, and appends the result to the history table `" +
			warehouse.SchemaStats + "." + stats.HistoryTable + "` (segment_id, computed_at, size, parent_size), which the runner's " +
			"`stats` command appends to as well. Only counts leave the warehouse.",
		Attributes: map[string]schema.Attribute{
			"segment_id": schema.StringAttribute{
				MarkdownDescription: "Id of the segment (`dinmo_segment.<name>.id`).",
				Required:            true,
			},
			"size":        schema.Int64Attribute{MarkdownDescription: "Rows of the segment.", Computed: true},
			"parent_size": schema.Int64Attribute{MarkdownDescription: "Rows of the segment's parent model.", Computed: true},
			"share": schema.Float64Attribute{
				MarkdownDescription: "`size / parent_size`, between 0 and 1 (0 when the model is empty).",
				Computed:            true,
			},
			"computed_at": schema.StringAttribute{
				MarkdownDescription: "When the statistics were computed (RFC 3339, UTC).",
				Computed:            true,
			},
		},
	}
}

// segmentStatsModel is the data source's state.
type segmentStatsModel struct {
	SegmentID  types.String  `tfsdk:"segment_id"`
	Size       types.Int64   `tfsdk:"size"`
	ParentSize types.Int64   `tfsdk:"parent_size"`
	Share      types.Float64 `tfsdk:"share"`
	ComputedAt types.String  `tfsdk:"computed_at"`
}

func (d *segmentStatsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	const summary = "Cannot Compute Segment Stats"
	var state segmentStatsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	attr := path.Root("segment_id")
	t, ok := d.data.loadSegmentTarget(ctx, state.SegmentID.ValueString(), attr, summary, &resp.Diagnostics)
	if !ok {
		return
	}
	c := d.data.openTarget(ctx, t, attr, summary, &resp.Diagnostics)
	if c == nil {
		return
	}
	defer c.close()
	s, err := stats.SegmentSize(c.ctx, c.DB(), c.Dialect(), t.relation(), t.parent(), time.Now())
	if err != nil {
		diagnostics.AddAttributeError(&resp.Diagnostics, attr, summary,
			fmt.Sprintf("Counting the rows of segment %q failed.", t.seg.Name),
			"Check that the segment's and the model's views exist (apply them) and that the source user may read them.", c.redact(err))
		return
	}
	if err := stats.Record(c.ctx, c.DB(), c.Dialect(), t.seg.ID, s); err != nil {
		diagnostics.AddWarning(&resp.Diagnostics, "Segment Stats Not Recorded",
			fmt.Sprintf("The size of segment %q was computed but could not be appended to %s.%s.", t.seg.Name, warehouse.SchemaStats, stats.HistoryTable),
			"Check that the source user may create tables in "+warehouse.SchemaStats+".", c.redact(err))
	}
	state.Size = types.Int64Value(s.Size)
	state.ParentSize = types.Int64Value(s.ParentSize)
	state.Share = types.Float64Value(s.Share)
	state.ComputedAt = types.StringValue(s.ComputedAt.Format(time.RFC3339))
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}
