package provider

import (
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/float64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/float64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"dinmo/catalog"
	"dinmo/provider/internal/diagnostics"
	"dinmo/schedule"
)

// This file holds the activation's schedule and guards attributes: their schema, their
// conversion to and from the catalog, and their validation (package schedule owns the rules).

var ruleAttrTypes = map[string]attr.Type{
	"days":  types.ListType{ElemType: types.StringType},
	"times": types.ListType{ElemType: types.StringType},
}

var scheduleAttrTypes = map[string]attr.Type{
	"type":  types.StringType,
	"every": types.StringType,
	"at":    types.StringType,
	"rules": types.ListType{ElemType: types.ObjectType{AttrTypes: ruleAttrTypes}},
	"cron":  types.StringType,
}

func manualScheduleValue() types.Object {
	return types.ObjectValueMust(scheduleAttrTypes, map[string]attr.Value{
		"type": types.StringValue(schedule.TypeManual), "every": types.StringNull(), "at": types.StringNull(),
		"rules": types.ListNull(types.ObjectType{AttrTypes: ruleAttrTypes}), "cron": types.StringNull(),
	})
}

func scheduleSchema() schema.SingleNestedAttribute {
	return scheduleAttribute("When the runner starts the activation by itself, always in UTC. Defaults to `{ type = \"manual\" }` (only on demand). ",
		manualScheduleValue())
}

// scheduleAttribute is a schedule attribute (the vocabulary of activation schedules) with its
// own opening sentence and default.
func scheduleAttribute(intro string, def types.Object) schema.SingleNestedAttribute {
	return schema.SingleNestedAttribute{
		MarkdownDescription: intro +
			"A runner that was down runs a missed schedule once when it starts, not once per missed occurrence.\n\n" +
			"* `{ type = \"interval\", every = \"15m\" }`: every 15 minutes (at least `1m`, at most `365d`; units `m`, `h`, `d`).\n" +
			"* `{ type = \"interval\", every = \"6h\", at = \"01:30\" }`: anchored at a UTC time: 01:30, 07:30, 13:30 and 19:30 UTC. " +
			"An anchored interval must divide a day or be whole days.\n" +
			"* `{ type = \"recurrence\", rules = [{ days = [\"mon\", \"wed\"], times = [\"09:00\"] }, { days = [\"sat\", \"sun\"], times = [\"20:00\"] }] }`: " +
			"every listed weekday at every listed UTC time; rules combine.\n" +
			"* `{ type = \"cron\", cron = \"*/15 * * * *\" }`: a 5-field cron expression in UTC, allowed only when the workspace sets `cron_enabled = true`.",
		Optional: true, Computed: true,
		Default: objectdefault.StaticValue(def),
		Attributes: map[string]schema.Attribute{
			"type": schema.StringAttribute{
				MarkdownDescription: "`manual`, `interval`, `recurrence` or `cron`. Defaults to `manual`.",
				Optional:            true, Computed: true, Default: stringdefault.StaticString(schedule.TypeManual),
			},
			"every": schema.StringAttribute{
				MarkdownDescription: "Period of an `interval` schedule: a number and a unit, such as `15m`, `1h`, `1h30m` or `1d`.",
				Optional:            true,
			},
			"at": schema.StringAttribute{
				MarkdownDescription: "Optional UTC time of day (`HH:MM`) anchoring an `interval` schedule.",
				Optional:            true,
			},
			"rules": schema.ListNestedAttribute{
				MarkdownDescription: "Rules of a `recurrence` schedule: each runs on every listed day at every listed UTC time.",
				Optional:            true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"days": schema.ListAttribute{
						MarkdownDescription: "Days of the week: `mon`, `tue`, `wed`, `thu`, `fri`, `sat`, `sun`.",
						ElementType:         types.StringType, Required: true,
					},
					"times": schema.ListAttribute{
						MarkdownDescription: "UTC times of day, `HH:MM`.",
						ElementType:         types.StringType, Required: true,
					},
				}},
			},
			"cron": schema.StringAttribute{
				MarkdownDescription: "Expression of a `cron` schedule: minute, hour, day of month, month, day of week, evaluated in UTC " +
					"(`*/15 * * * *`, `0 3 * * *`, `0 9 * * mon-fri`, `@daily`). The workspace must set `cron_enabled = true`.",
				Optional: true,
			},
		},
	}
}

// scheduleFromObject reads a schedule attribute. known is false when some part is unknown
// (then nothing can be validated yet).
func scheduleFromObject(o types.Object) (s schedule.Schedule, known bool) {
	if o.IsUnknown() {
		return s, false
	}
	s.Type = schedule.TypeManual
	if o.IsNull() {
		return s, true
	}
	a := o.Attributes()
	str := func(name string) (string, bool) {
		v, _ := a[name].(types.String)
		return v.ValueString(), !v.IsUnknown()
	}
	var ok [4]bool
	var typ string
	typ, ok[0] = str("type")
	if typ != "" {
		s.Type = typ
	}
	s.Every, ok[1] = str("every")
	s.At, ok[2] = str("at")
	s.Cron, ok[3] = str("cron")
	for _, k := range ok {
		if !k {
			return s, false
		}
	}
	rules, _ := a["rules"].(types.List)
	if rules.IsUnknown() {
		return s, false
	}
	for _, e := range rules.Elements() {
		ro, _ := e.(types.Object)
		if ro.IsUnknown() {
			return s, false
		}
		var r schedule.Rule
		for name, dst := range map[string]*[]string{"days": &r.Days, "times": &r.Times} {
			l, _ := ro.Attributes()[name].(types.List)
			if l.IsUnknown() {
				return s, false
			}
			for _, v := range l.Elements() {
				sv, _ := v.(types.String)
				if sv.IsUnknown() {
					return s, false
				}
				*dst = append(*dst, sv.ValueString())
			}
		}
		s.Rules = append(s.Rules, r)
	}
	return s, true
}

// scheduleValue is the schedule attribute of a stored schedule. prev is the attribute as the
// user wrote it: an interval period that denotes the stored one is kept as written ("60m"
// stays "60m" when a catalog written before package schedule stores 1h).
func scheduleValue(s schedule.Schedule, prev types.Object) types.Object {
	optional := func(v string) types.String {
		if v == "" {
			return types.StringNull()
		}
		return types.StringValue(v)
	}
	typ := s.Type
	if typ == "" {
		typ = schedule.TypeManual
	}
	every := optional(s.Every)
	if s.Every != "" && !prev.IsNull() && !prev.IsUnknown() {
		if p, ok := prev.Attributes()["every"].(types.String); ok && !p.IsNull() && !p.IsUnknown() && p.ValueString() != s.Every {
			a, errA := schedule.ParseEvery(p.ValueString())
			b, errB := schedule.ParseEvery(s.Every)
			if errA == nil && errB == nil && a == b {
				every = p
			}
		}
	}
	rules := types.ListNull(types.ObjectType{AttrTypes: ruleAttrTypes})
	if len(s.Rules) > 0 {
		elems := make([]attr.Value, len(s.Rules))
		for i, r := range s.Rules {
			elems[i] = types.ObjectValueMust(ruleAttrTypes, map[string]attr.Value{
				"days": stringList(r.Days), "times": stringList(r.Times),
			})
		}
		rules = types.ListValueMust(types.ObjectType{AttrTypes: ruleAttrTypes}, elems)
	}
	return types.ObjectValueMust(scheduleAttrTypes, map[string]attr.Value{
		"type": types.StringValue(typ), "every": every, "at": optional(s.At), "rules": rules, "cron": optional(s.Cron),
	})
}

func stringList(v []string) types.List {
	elems := make([]attr.Value, len(v))
	for i, s := range v {
		elems[i] = types.StringValue(s)
	}
	return types.ListValueMust(types.StringType, elems)
}

// schedulePath maps a schedule.FieldError path to the attribute path.
func schedulePath(root path.Path, fe *schedule.FieldError) path.Path {
	p := root
	for _, step := range fe.Path {
		switch v := step.(type) {
		case int:
			p = p.AtListIndex(v)
		case string:
			p = p.AtName(v)
		}
	}
	return p
}

// addScheduleProblems reports every problem of err (from schedule.Validate) on its attribute.
// onlyCron restricts the report to the workspace's cron refusal (the structural problems
// were reported when the configuration was validated).
func addScheduleProblems(d *diag.Diagnostics, err error, onlyCron bool) {
	addScheduleProblemsAt(d, path.Root("schedule"), err, onlyCron)
}

// addScheduleProblemsAt is addScheduleProblems for a schedule attribute at root.
func addScheduleProblemsAt(d *diag.Diagnostics, root path.Path, err error, onlyCron bool) {
	for _, fe := range schedule.Problems(err) {
		cron := errors.Is(fe, schedule.ErrCronDisabled)
		if onlyCron && !cron {
			continue
		}
		if cron {
			diagnostics.AddAttributeError(d, schedulePath(root, fe), "Cron Schedules Disabled", fe.Error()+".",
				"Enable cron on the workspace (cron_enabled = true on dinmo_workspace), or use an interval or recurrence schedule.", nil)
			continue
		}
		diagnostics.AddAttributeError(d, schedulePath(root, fe), "Invalid Schedule", fe.Error()+".",
			"Fix the schedule; see the schedule attribute's documentation for the forms it takes.", nil)
	}
}

var guardsAttrTypes = map[string]attr.Type{
	"max_removal_percent":            types.Float64Type,
	"min_snapshot_for_removal_guard": types.Int64Type,
	"block_empty_result":             types.BoolType,
	"rejected_warning_percent":       types.Float64Type,
}

func guardsValue(g catalog.Guards) types.Object {
	v := g.Values()
	return types.ObjectValueMust(guardsAttrTypes, map[string]attr.Value{
		"max_removal_percent":            types.Float64Value(v.MaxRemovalPercent),
		"min_snapshot_for_removal_guard": types.Int64Value(v.MinSnapshotForRemovalGuard),
		"block_empty_result":             types.BoolValue(v.BlockEmptyResult),
		"rejected_warning_percent":       types.Float64Value(v.RejectedWarningPercent),
	})
}

func guardsSchema() schema.SingleNestedAttribute {
	percent := []validator.Float64{float64validator.Between(0, 100)}
	return schema.SingleNestedAttribute{
		MarkdownDescription: "Safety thresholds checked by every run after the diff is computed and before anything is sent. " +
			"A run stopped by a guard ends with status `blocked` and sends nothing; approve it once with " +
			"`dinmo-runner approve <workspace>/<activation>`, and the next run passes the removal guards.",
		Optional: true, Computed: true,
		Default: objectdefault.StaticValue(guardsValue(catalog.Guards{})),
		Attributes: map[string]schema.Attribute{
			"max_removal_percent": schema.Float64Attribute{
				MarkdownDescription: fmt.Sprintf("A run that would remove more than this share (0-100) of the previous snapshot stops and waits for approval. Defaults to `%g`.", catalog.DefaultMaxRemovalPercent),
				Optional:            true, Computed: true, Default: float64default.StaticFloat64(catalog.DefaultMaxRemovalPercent), Validators: percent,
			},
			"min_snapshot_for_removal_guard": schema.Int64Attribute{
				MarkdownDescription: fmt.Sprintf("The removal guard applies only to snapshots of at least this many rows. Defaults to `%d`.", catalog.DefaultMinSnapshotForRemovalGuard),
				Optional:            true, Computed: true, Default: int64default.StaticInt64(catalog.DefaultMinSnapshotForRemovalGuard),
				Validators: []validator.Int64{int64validator.AtLeast(0)},
			},
			"block_empty_result": schema.BoolAttribute{
				MarkdownDescription: "Stop a run whose rows are empty while the previous snapshot was not (a broken upstream table, usually). Defaults to `true`.",
				Optional:            true, Computed: true, Default: booldefault.StaticBool(catalog.DefaultBlockEmptyResult),
			},
			"rejected_warning_percent": schema.Float64Attribute{
				MarkdownDescription: fmt.Sprintf("A run whose rejected share of the records it sent exceeds this (0-100) gets a warning (run history, metrics, alerts). Defaults to `%g`.", catalog.DefaultRejectedWarningPercent),
				Optional:            true, Computed: true, Default: float64default.StaticFloat64(catalog.DefaultRejectedWarningPercent), Validators: percent,
			},
		},
	}
}

// guardsFromObject reads the guards attribute; every threshold is stored explicitly.
func guardsFromObject(o types.Object) catalog.Guards {
	if o.IsNull() || o.IsUnknown() {
		return catalog.Guards{}
	}
	v := catalog.Guards{}.Values()
	a := o.Attributes()
	if x, ok := a["max_removal_percent"].(types.Float64); ok && !x.IsNull() && !x.IsUnknown() {
		v.MaxRemovalPercent = x.ValueFloat64()
	}
	if x, ok := a["min_snapshot_for_removal_guard"].(types.Int64); ok && !x.IsNull() && !x.IsUnknown() {
		v.MinSnapshotForRemovalGuard = x.ValueInt64()
	}
	if x, ok := a["block_empty_result"].(types.Bool); ok && !x.IsNull() && !x.IsUnknown() {
		v.BlockEmptyResult = x.ValueBool()
	}
	if x, ok := a["rejected_warning_percent"].(types.Float64); ok && !x.IsNull() && !x.IsUnknown() {
		v.RejectedWarningPercent = x.ValueFloat64()
	}
	return catalog.Guards{MaxRemovalPercent: &v.MaxRemovalPercent, MinSnapshotForRemovalGuard: &v.MinSnapshotForRemovalGuard,
		BlockEmptyResult: &v.BlockEmptyResult, RejectedWarningPercent: &v.RejectedWarningPercent}
}
