package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"dinmo/provider/internal/diagnostics"
	"dinmo/stats"
)

var (
	_ datasource.DataSource              = (*segmentBreakdownDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*segmentBreakdownDataSource)(nil)
)

func newSegmentBreakdownDataSource() datasource.DataSource { return &segmentBreakdownDataSource{} }

// segmentBreakdownDataSource counts a segment's rows per value of categorical fields, in the
// warehouse.
type segmentBreakdownDataSource struct {
	dataSourceBase
}

func (d *segmentBreakdownDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_segment_breakdown"
}

func (d *segmentBreakdownDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Computes, in the warehouse, the breakdown of a segment by one or more fields of its model: the number " +
			"of the segment's rows per value of each field and its percentage of the segment's size. When the model declares " +
			"`fields`, only fields marked `categorical` may be used (low-cardinality fields: a breakdown returns one row per value).",
		Attributes: map[string]schema.Attribute{
			"segment_id": schema.StringAttribute{
				MarkdownDescription: "Id of the segment (`dinmo_segment.<name>.id`).",
				Required:            true,
			},
			"fields": schema.ListAttribute{
				MarkdownDescription: "Fields (columns of the model) to break the segment down by; each gets its own values.",
				ElementType:         types.StringType,
				Required:            true,
				Validators:          []validator.List{listvalidator.SizeAtLeast(1), listvalidator.UniqueValues()},
			},
			"size": schema.Int64Attribute{MarkdownDescription: "Rows of the segment: the base of the percentages.", Computed: true},
			"values": schema.ListNestedAttribute{
				MarkdownDescription: "One element per field and value, grouped by field in the order of `fields`, each field's values " +
					"by decreasing count, then value (NULL last).",
				Computed: true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"field":   schema.StringAttribute{MarkdownDescription: "The field.", Computed: true},
					"value":   schema.StringAttribute{MarkdownDescription: "The value as text; null for NULL.", Computed: true},
					"count":   schema.Int64Attribute{MarkdownDescription: "Rows of the segment with this value.", Computed: true},
					"percent": schema.Float64Attribute{MarkdownDescription: "`count / size * 100`.", Computed: true},
				}},
			},
		},
	}
}

// segmentBreakdownModel is the data source's state.
type segmentBreakdownModel struct {
	SegmentID types.String     `tfsdk:"segment_id"`
	Fields    []types.String   `tfsdk:"fields"`
	Size      types.Int64      `tfsdk:"size"`
	Values    []breakdownValue `tfsdk:"values"`
}

type breakdownValue struct {
	Field   types.String  `tfsdk:"field"`
	Value   types.String  `tfsdk:"value"`
	Count   types.Int64   `tfsdk:"count"`
	Percent types.Float64 `tfsdk:"percent"`
}

func (d *segmentBreakdownDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	const summary = "Cannot Compute Segment Breakdown"
	var state segmentBreakdownModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	attr := path.Root("segment_id")
	t, ok := d.data.loadSegmentTarget(ctx, state.SegmentID.ValueString(), attr, summary, &resp.Diagnostics)
	if !ok {
		return
	}
	fields := make([]string, len(state.Fields))
	for i, f := range state.Fields {
		fields[i] = f.ValueString()
	}
	if !checkBreakdownFields(t, fields, summary, &resp.Diagnostics) {
		return
	}
	c := d.data.openTarget(ctx, t, attr, summary, &resp.Diagnostics)
	if c == nil {
		return
	}
	defer c.close()
	rows, err := stats.Breakdown(c.ctx, c.DB(), c.Dialect(), t.relation(), fields, -1)
	if err != nil {
		diagnostics.AddAttributeError(&resp.Diagnostics, attr, summary, fmt.Sprintf("Computing the breakdown of segment %q failed.", t.seg.Name),
			"Check that the segment's view exists (apply it) and that the source user may read it.", c.redact(err))
		return
	}
	var size int64
	state.Values = make([]breakdownValue, 0, len(rows))
	for _, r := range rows {
		if r.Field == fields[0] {
			size += r.Count
		}
		v := types.StringValue(r.Value)
		if r.Null {
			v = types.StringNull()
		}
		state.Values = append(state.Values, breakdownValue{Field: types.StringValue(r.Field), Value: v,
			Count: types.Int64Value(r.Count), Percent: types.Float64Value(r.Percent)})
	}
	state.Size = types.Int64Value(size)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// checkBreakdownFields checks that every field is a column of the segment's model and, when the
// model declares fields, a categorical one.
func checkBreakdownFields(t segmentTarget, fields []string, summary string, diags *diag.Diagnostics) bool {
	cols := map[string]bool{}
	var names []string
	for _, c := range t.model.Columns {
		cols[c.Name] = true
		names = append(names, c.Name)
	}
	categorical, declared := categoricalFields(t.model)
	ok := true
	for i, f := range fields {
		p := path.Root("fields").AtListIndex(i)
		switch {
		case !cols[f] && !declared[f]:
			diagnostics.AddAttributeError(diags, p, summary, fmt.Sprintf("Field %q is not a field of model %q.", f, t.model.Name),
				"Use one of: "+strings.Join(names, ", ")+".", nil)
			ok = false
		case len(declared) > 0 && !categorical[f]:
			diagnostics.AddAttributeError(diags, p, summary, fmt.Sprintf("Field %q of model %q is not categorical.", f, t.model.Name),
				"Mark it categorical in the model's fields (categorical = true), or break down by a categorical field.", nil)
			ok = false
		}
	}
	return ok
}
