package provider

import (
	"context"
	"errors"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"dinmo/catalog"
	"dinmo/connectors/warehouse"
	"dinmo/provider/internal/diagnostics"
	"dinmo/schedule"
)

// This file holds the schedule-like attributes of models and sources: a model's
// materialization (live view or table refreshed by the runner) and a source's stats schedule.

var materializationAttrTypes = map[string]attr.Type{
	"mode":    types.StringType,
	"refresh": types.ObjectType{AttrTypes: scheduleAttrTypes},
}

func materializationAttribute() schema.SingleNestedAttribute {
	return schema.SingleNestedAttribute{
		MarkdownDescription: "How the model's rows are kept in the warehouse. Omitted, or `mode = \"live\"`: the view `" +
			warehouse.SchemaSegments + ".model_<name>` runs the model's query each time it is read. `mode = \"table\"`: apply creates " +
			"the table `" + warehouse.SchemaSegments + ".mat_<name>` from the query and the view reads it; `dinmo-runner serve` " +
			"refreshes the table on the `refresh` schedule (each refresh replaces the rows in one transaction, so readers never " +
			"see a half-filled table) and records each refresh in its history (`dinmo-runner tasks`, `dinmo-runner refresh`). " +
			"Use a table for expensive queries that many segments and activations read.",
		Optional: true,
		Attributes: map[string]schema.Attribute{
			"mode": schema.StringAttribute{
				MarkdownDescription: "`live` or `table`. Changing it rebuilds the model's view (and creates or drops the table).",
				Required:            true,
				Validators:          []validator.String{stringvalidator.OneOf(catalog.MaterializeLive, catalog.MaterializeTable)},
			},
			"refresh": scheduleAttribute("When the runner refreshes the table of a `table` model, always in UTC. Defaults to "+
				"`{ type = \"manual\" }`: the table is filled at apply and refreshed only by `dinmo-runner refresh <workspace>/<model>`. "+
				"A `live` model takes no refresh schedule. ", manualScheduleValue()),
		},
	}
}

// materializationFromObject reads the materialization attribute; known is false while a part
// of it is unknown.
func materializationFromObject(o types.Object) (m catalog.Materialization, known bool) {
	if o.IsUnknown() {
		return m, false
	}
	if o.IsNull() {
		return m, true
	}
	a := o.Attributes()
	mode, _ := a["mode"].(types.String)
	if mode.IsUnknown() {
		return m, false
	}
	m.Mode = mode.ValueString()
	refresh, _ := a["refresh"].(types.Object)
	sched, ok := scheduleFromObject(refresh)
	if !ok {
		return m, false
	}
	if sched.Type != schedule.TypeManual || m.Mode == catalog.MaterializeTable {
		m.Refresh = sched
	}
	return m, true
}

// materializationValue is the attribute of a stored materialisation: null when the
// configuration did not mention it (Mode ""), the refresh schedule kept as written when it
// denotes the stored one.
func materializationValue(m catalog.Materialization, prev types.Object) types.Object {
	if m.Mode == "" {
		return types.ObjectNull(materializationAttrTypes)
	}
	prevRefresh := types.ObjectNull(scheduleAttrTypes)
	if !prev.IsNull() && !prev.IsUnknown() {
		if r, ok := prev.Attributes()["refresh"].(types.Object); ok {
			prevRefresh = r
		}
	}
	return types.ObjectValueMust(materializationAttrTypes, map[string]attr.Value{
		"mode":    types.StringValue(m.Mode),
		"refresh": scheduleValue(m.Refresh, prevRefresh),
	})
}

// materializationMode is the mode an attribute value stands for ("live" when omitted), and
// false while unknown.
func materializationMode(o types.Object) (string, bool) {
	m, known := materializationFromObject(o)
	if !known {
		return "", false
	}
	if m.Mode == "" {
		return catalog.MaterializeLive, true
	}
	return m.Mode, true
}

// validateMaterialization checks the refresh schedule: its form, that a live model has none,
// and that a cron schedule is allowed by the workspace (when the workspace is in the catalog).
func (d *providerData) validateMaterialization(ctx context.Context, o types.Object, workspaceID types.String, diags *diag.Diagnostics) {
	m, known := materializationFromObject(o)
	if !known || m.Mode == "" {
		return
	}
	root := path.Root("materialization").AtName("refresh")
	if m.Mode == catalog.MaterializeLive && m.Refresh.Type != "" {
		diagnostics.AddAttributeError(diags, root, "Refresh Schedule On A Live Model",
			"A live model is a view that is always current; it has nothing to refresh.",
			"Remove refresh, or set mode = \"table\" to materialise the model as a table the runner refreshes.", nil)
		return
	}
	if err := schedule.Validate(m.Refresh, true); err != nil {
		addScheduleProblemsAt(diags, root, err, false)
		return
	}
	if !workspaceID.IsUnknown() && !workspaceID.IsNull() {
		d.checkCronAllowed(ctx, m.Refresh, workspaceID.ValueString(), root, true, "Invalid Model", diags)
	}
}

// checkCronAllowed reports a cron schedule (at root) in a workspace that does not enable cron.
// While planning, a workspace not in the catalog yet (created in the same apply) is skipped.
func (d *providerData) checkCronAllowed(ctx context.Context, sched schedule.Schedule, workspaceID string, root path.Path, planning bool, summary string, diags *diag.Diagnostics) {
	if sched.Type != schedule.TypeCron {
		return
	}
	w, err := d.Store.GetWorkspace(ctx, workspaceID)
	switch {
	case errors.Is(err, catalog.ErrNotFound) && planning:
	case err != nil:
		addStoreError(diags, summary, catalog.KindWorkspace, workspaceID, err)
	default:
		addScheduleProblemsAt(diags, root, schedule.ValidateFor(sched, w.Name, w.Settings.CronEnabled), true)
	}
}

// dailyScheduleValue is the default stats schedule of a source: every day.
func dailyScheduleValue() types.Object {
	return scheduleValue(catalog.DefaultStatsSchedule, types.ObjectNull(scheduleAttrTypes))
}

func statsScheduleAttribute() schema.SingleNestedAttribute {
	return scheduleAttribute("When `dinmo-runner serve` re-checks the primary keys of the source's models (the share of NULL or "+
		"repeated keys, into the model's `duplicate_key_share` and `"+warehouse.SchemaStats+".model_key_checks`) and computes the "+
		"size and share of each of its segments (into `"+warehouse.SchemaStats+".segment_sizes`, read by `dinmo_segment_stats`), "+
		"always in UTC. Defaults to `{ type = \"interval\", every = \"1d\" }`; `{ type = \"manual\" }` leaves it to "+
		"`dinmo-runner stats <workspace>`. ", dailyScheduleValue())
}
