package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"dinmo/provider/internal/diagnostics"
	"dinmo/stats"
)

var (
	_ datasource.DataSource              = (*segmentOverlapDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*segmentOverlapDataSource)(nil)
)

func newSegmentOverlapDataSource() datasource.DataSource { return &segmentOverlapDataSource{} }

// segmentOverlapDataSource computes the pairwise overlaps of segments of one model in the
// warehouse.
type segmentOverlapDataSource struct {
	dataSourceBase
}

func (d *segmentOverlapDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_segment_overlap"
}

func (d *segmentOverlapDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Computes, in the warehouse, how two or more segments of the same parent model overlap: each segment's " +
			"size and, for every pair, the rows they have in common (joined on the model's primary key) and the share of each " +
			"segment that is common.",
		Attributes: map[string]schema.Attribute{
			"segment_ids": schema.ListAttribute{
				MarkdownDescription: "Ids of two or more segments (`dinmo_segment.<name>.id`) of the same model.",
				ElementType:         types.StringType,
				Required:            true,
				Validators:          []validator.List{listvalidator.SizeAtLeast(2), listvalidator.UniqueValues()},
			},
			"segments": schema.ListNestedAttribute{
				MarkdownDescription: "The segments, in the order of `segment_ids`.",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"id":   schema.StringAttribute{MarkdownDescription: "Segment id.", Computed: true},
					"name": schema.StringAttribute{MarkdownDescription: "Segment name.", Computed: true},
					"size": schema.Int64Attribute{MarkdownDescription: "Rows of the segment.", Computed: true},
				}},
			},
			"pairs": schema.ListNestedAttribute{
				MarkdownDescription: "One element per pair of segments (a before b in the order of `segment_ids`).",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"a":          schema.StringAttribute{MarkdownDescription: "Name of the first segment.", Computed: true},
					"b":          schema.StringAttribute{MarkdownDescription: "Name of the second segment.", Computed: true},
					"common":     schema.Int64Attribute{MarkdownDescription: "Rows of `a` whose primary key is in `b`.", Computed: true},
					"share_of_a": schema.Float64Attribute{MarkdownDescription: "`common / size of a` (0 when `a` is empty).", Computed: true},
					"share_of_b": schema.Float64Attribute{MarkdownDescription: "`common / size of b` (0 when `b` is empty).", Computed: true},
				}},
			},
		},
	}
}

// segmentOverlapModel is the data source's state.
type segmentOverlapModel struct {
	SegmentIDs []types.String   `tfsdk:"segment_ids"`
	Segments   []overlapSegment `tfsdk:"segments"`
	Pairs      []overlapPair    `tfsdk:"pairs"`
}

type overlapSegment struct {
	ID   types.String `tfsdk:"id"`
	Name types.String `tfsdk:"name"`
	Size types.Int64  `tfsdk:"size"`
}

type overlapPair struct {
	A        types.String  `tfsdk:"a"`
	B        types.String  `tfsdk:"b"`
	Common   types.Int64   `tfsdk:"common"`
	ShareOfA types.Float64 `tfsdk:"share_of_a"`
	ShareOfB types.Float64 `tfsdk:"share_of_b"`
}

func (d *segmentOverlapDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	const summary = "Cannot Compute Segment Overlap"
	var state segmentOverlapModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var targets []segmentTarget
	for i, id := range state.SegmentIDs {
		attr := path.Root("segment_ids").AtListIndex(i)
		t, ok := d.data.loadSegmentTarget(ctx, id.ValueString(), attr, summary, &resp.Diagnostics)
		if !ok {
			return
		}
		if i > 0 && t.model.ID != targets[0].model.ID {
			diagnostics.AddAttributeError(&resp.Diagnostics, attr, summary,
				fmt.Sprintf("Segment %q belongs to model %q, segment %q to model %q: only segments of the same model can be compared.",
					t.seg.Name, t.model.Name, targets[0].seg.Name, targets[0].model.Name),
				"List segments of one model.", nil)
			return
		}
		targets = append(targets, t)
	}
	c := d.data.openTarget(ctx, targets[0], path.Root("segment_ids"), summary, &resp.Diagnostics)
	if c == nil {
		return
	}
	defer c.close()
	members := make([]stats.Member, len(targets))
	for i, t := range targets {
		members[i] = stats.Member{Name: t.seg.Name, Relation: t.relation()}
	}
	o, err := stats.Overlaps(c.ctx, c.DB(), c.Dialect(), members, targets[0].model.PrimaryKey)
	if err != nil {
		diagnostics.AddAttributeError(&resp.Diagnostics, path.Root("segment_ids"), summary, "Computing the overlap of the segments failed.",
			"Check that the segments' views exist (apply them) and that the source user may read them.", c.redact(err))
		return
	}
	state.Segments = make([]overlapSegment, len(targets))
	for i, t := range targets {
		state.Segments[i] = overlapSegment{ID: types.StringValue(t.seg.ID), Name: types.StringValue(t.seg.Name), Size: types.Int64Value(o.Sizes[t.seg.Name])}
	}
	state.Pairs = make([]overlapPair, len(o.Pairs))
	for i, p := range o.Pairs {
		state.Pairs[i] = overlapPair{A: types.StringValue(p.A), B: types.StringValue(p.B), Common: types.Int64Value(p.Common),
			ShareOfA: types.Float64Value(p.ShareOfA), ShareOfB: types.Float64Value(p.ShareOfB)}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}
