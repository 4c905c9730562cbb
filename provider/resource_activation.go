package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"dinmo/catalog"
	"dinmo/connectors/destination"
	"dinmo/connectors/warehouse/deltasql"
	"dinmo/provider/internal/diagnostics"
	"dinmo/provider/internal/fields"
	"dinmo/schedule"
)

var (
	_ resource.Resource                     = (*activationResource)(nil)
	_ resource.ResourceWithConfigure        = (*activationResource)(nil)
	_ resource.ResourceWithImportState      = (*activationResource)(nil)
	_ resource.ResourceWithConfigValidators = (*activationResource)(nil)
	_ resource.ResourceWithValidateConfig   = (*activationResource)(nil)
	_ resource.ResourceWithModifyPlan       = (*activationResource)(nil)
)

// reservedFieldPrefix starts the names dinmo gives its own columns in snapshot tables;
// destination fields may not use it.
const reservedFieldPrefix = "_dinmo"

func newActivationResource() resource.Resource { return &activationResource{} }

// activationResource manages an activation: which rows (a segment or a model) go to which
// destination service, how (run type, sync mode, mappings) and when (schedule). The runner
// executes it; the provider only declares it.
type activationResource struct {
	resourceBase
}

func (r *activationResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_activation"
}

func (r *activationResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "An activation sends the rows of a segment (or a whole model) to one service of a destination. " +
			"The service, sync mode, run type and mappings are checked at plan time against what the destination's platform " +
			"declares and the model's columns. The dinmo runner executes it on its schedule.\n\n" +
			"Changing `segment_id`, `model_id`, `destination_id`, `service`, `sync_mode`, `mappings` or `service_options` makes the " +
			"next run a **full** run (every row is sent again), because the stored snapshot no longer matches what the destination " +
			"holds (another audience, event name or matching property, for example).\n\n" +
			"Destroying an activation also drops its snapshot tables in the source's `dinmo_delta_storage` schema.\n\n" +
			"Import with `<workspace name>/<activation name>` or the catalog id.",
		Attributes: map[string]schema.Attribute{
			"id":           idAttribute("activation"),
			"workspace_id": workspaceIDAttribute("activation"),
			"name":         nameAttribute("activation", false),
			"description": schema.StringAttribute{
				MarkdownDescription: "Free-text description.",
				Optional:            true, Computed: true, Default: stringdefault.StaticString(""),
			},
			"segment_id": schema.StringAttribute{
				MarkdownDescription: "Id of the segment whose rows are sent (`dinmo_segment.<name>.id`). Exactly one of `segment_id` and `model_id` must be set.",
				Optional:            true,
			},
			"model_id": schema.StringAttribute{
				MarkdownDescription: "Id of the model whose rows are all sent (`dinmo_model.<name>.id`). Exactly one of `segment_id` and `model_id` must be set.",
				Optional:            true,
			},
			"destination_id": schema.StringAttribute{
				MarkdownDescription: "Id of the destination (`dinmo_destination.<name>.id`).",
				Required:            true,
			},
			"service": schema.StringAttribute{
				MarkdownDescription: "The destination service written to (for example `records` for a webhook). Must be one the destination's platform offers.",
				Required:            true,
			},
			"sync_mode": schema.StringAttribute{
				MarkdownDescription: "How rows are applied: `insert`, `update`, `upsert`, `mirror` (also deletes what left the segment), " +
					"`list` (audience membership) or `events`. Must be one the service supports.",
				Required: true,
			},
			"run_type": schema.StringAttribute{
				MarkdownDescription: "What recurring runs process: `delta` (only what changed since the last run), `full` (every row, every time) " +
					"or `incremental` (events models with a `timestamp_column` only, on services that offer it: each event row is sent exactly once, " +
					"tracked by a cursor on the timestamp and the primary key; see `lookback`). Defaults to `delta`.",
				Optional: true, Computed: true, Default: stringdefault.StaticString(string(destination.RunDelta)),
				Validators: []validator.String{stringvalidator.OneOf(string(destination.RunDelta), string(destination.RunFull), string(destination.RunIncremental))},
			},
			"lookback": schema.StringAttribute{
				MarkdownDescription: "For `run_type = \"incremental\"`: how far before the latest event sent a run still looks for events that " +
					"arrived late (a duration in whole seconds, such as `\"1h\"` or `\"90m\"`). A late event older than that when it appears is never sent: " +
					"choose more than the source's worst delay. Raising it later does not reach back before what earlier runs already left behind. Defaults to `\"0s\"`.",
				Optional: true, Computed: true, Default: stringdefault.StaticString("0s"),
			},
			"mappings": schema.MapAttribute{
				MarkdownDescription: "Destination field → model column. Columns must exist in the model; fields must be ones the service " +
					"declares unless it accepts custom fields, and every field the service requires must be mapped. Field names may not start with `_dinmo`.",
				ElementType: types.StringType,
				Optional:    true,
				Validators:  []validator.Map{mapvalidator.SizeAtLeast(1)},
			},
			"service_options": schema.MapAttribute{
				MarkdownDescription: "Options of the service, by name: the per-activation settings the service declares (an audience name, " +
					"an event name, a subscription group, a matching property; each platform's guide lists them). Values are written as " +
					"strings and checked at plan time against the declared type: whole numbers in decimal (within the declared bounds), " +
					"booleans as `true` or `false`, listed values exactly as documented. Unknown options and missing required options " +
					"are refused. Options left out take their documented default when the runner opens the destination. Changing them " +
					"makes the next run a full run.",
				ElementType: types.StringType,
				Optional:    true,
				Validators:  []validator.Map{mapvalidator.SizeAtLeast(1)},
			},
			"schedule": scheduleSchema(),
			"guards":   guardsSchema(),
			"enabled": schema.BoolAttribute{
				MarkdownDescription: "Whether the runner schedules the activation. Defaults to `true`.",
				Optional:            true, Computed: true, Default: booldefault.StaticBool(true),
			},
			"paused": schema.BoolAttribute{
				MarkdownDescription: "The user's pause switch. `true` pauses the activation (the runner skips it until resumed); `false` resumes a pause " +
					"made by a user (here or with `dinmo-runner pause`). Left unset, it shows whether a user paused the activation and Terraform does not " +
					"change it. An **automatic** pause by the runner (a broken source, model, segment or destination) does not show here: it shows in " +
					"`paused_by = \"auto\"` and `pause_reason`, and the runner resumes it itself once its checks pass.",
				Optional: true, Computed: true,
				PlanModifiers: []planmodifier.Bool{boolplanmodifier.UseStateForUnknown()},
			},
			"paused_by": schema.StringAttribute{
				MarkdownDescription: "Who paused the activation: `user` or `auto` (the runner, after a broken dependency); empty when it is not paused. Read from the catalog.",
				Computed:            true,
			},
			"pause_reason": schema.StringAttribute{
				MarkdownDescription: "Why the activation is paused (empty when it is not). Read from the catalog.",
				Computed:            true,
			},
		},
	}
}

func (r *activationResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{resourcevalidator.ExactlyOneOf(path.MatchRoot("segment_id"), path.MatchRoot("model_id"))}
}

// ValidateConfig checks what needs no catalog: the schedule and reserved field names.
func (r *activationResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg activationModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if mappings, known := stringMap(cfg.Mappings); known || mappings != nil {
		for _, field := range sortedKeys(mappings) {
			if strings.HasPrefix(strings.ToLower(field), reservedFieldPrefix) {
				diagnostics.AddAttributeError(&resp.Diagnostics, path.Root("mappings").AtMapKey(field), "Reserved Field Name",
					fmt.Sprintf("Destination field %q starts with %q, which dinmo reserves for its own columns.", field, reservedFieldPrefix),
					"Rename the field.", nil)
			}
		}
	}
	if sched, known := scheduleFromObject(cfg.Schedule); known {
		addScheduleProblems(&resp.Diagnostics, schedule.Validate(sched, true), false)
	}
	if !cfg.Lookback.IsNull() && !cfg.Lookback.IsUnknown() {
		if _, err := parseLookback(cfg.Lookback.ValueString()); err != nil {
			diagnostics.AddAttributeError(&resp.Diagnostics, path.Root("lookback"), "Invalid Lookback", err.Error(),
				"Write a duration in whole seconds, such as \"0s\", \"15m\" or \"2h\".", nil)
		}
	}
}

// parseLookback parses the lookback attribute: a Go duration of zero or more whole seconds.
func parseLookback(v string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("lookback %q is not a duration", v)
	}
	if d < 0 || d%time.Second != 0 {
		return 0, fmt.Errorf("lookback %q must be zero or more whole seconds", v)
	}
	return d, nil
}

// ModifyPlan checks the activation against the catalog when its references are known: the
// service, sync mode and run type against the platform's declaration, and the mappings against
// the service's fields and the model's columns.
func (r *activationResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || !r.configured() {
		return
	}
	var plan activationModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	r.validateRefs(ctx, plan, true, &resp.Diagnostics)
}

// validateRefs checks the references of an activation. At plan time (planning true) a
// reference that is unknown or not in the catalog yet is skipped, since it may be created in the
// same apply; at apply time it is an error. It returns the service options converted to the
// types the service declares (see validateService).
func (r *activationResource) validateRefs(ctx context.Context, p activationModel, planning bool, d *diag.Diagnostics) (options map[string]any) {
	ws := p.WorkspaceID.ValueString()
	mappings, mappingsKnown := stringMap(p.Mappings)

	// A cron schedule needs the workspace's permission.
	if sched, known := scheduleFromObject(p.Schedule); known && !p.WorkspaceID.IsUnknown() {
		r.data.checkCronAllowed(ctx, sched, ws, path.Root("schedule"), planning, "Invalid Activation", d)
	}

	// Destination, service, sync mode, run type, fields.
	if !p.DestinationID.IsUnknown() {
		dest, err := r.data.Store.GetDestination(ctx, p.DestinationID.ValueString())
		switch {
		case errors.Is(err, catalog.ErrNotFound) && planning:
		case err != nil:
			r.refError(d, "destination_id", catalog.KindDestination, p.DestinationID.ValueString(), err)
		case !p.WorkspaceID.IsUnknown() && dest.WorkspaceID != ws:
			diagnostics.AddAttributeError(d, path.Root("destination_id"), "Invalid Activation",
				fmt.Sprintf("Destination %q belongs to another workspace than the activation.", dest.Name), "Use a destination of the activation's workspace.", nil)
		default:
			options = r.validateService(dest, p, mappings, mappingsKnown, d)
		}
	}

	// Columns of the model (directly or through the segment). The early returns below keep
	// the options converted above.
	var m *catalog.Model
	switch {
	case !p.SegmentID.IsNull() && !p.SegmentID.IsUnknown():
		s, err := r.data.Store.GetSegment(ctx, p.SegmentID.ValueString())
		if errors.Is(err, catalog.ErrNotFound) && planning {
			return
		}
		if err != nil {
			r.refError(d, "segment_id", catalog.KindSegment, p.SegmentID.ValueString(), err)
			return
		}
		if !p.WorkspaceID.IsUnknown() && s.WorkspaceID != ws {
			diagnostics.AddAttributeError(d, path.Root("segment_id"), "Invalid Activation",
				fmt.Sprintf("Segment %q belongs to another workspace than the activation.", s.Name), "Use a segment of the activation's workspace.", nil)
			return
		}
		if m, err = r.data.Store.GetModel(ctx, s.ModelID); err != nil {
			addStoreError(d, "Invalid Activation", catalog.KindModel, s.ModelID, err)
			return
		}
	case !p.ModelID.IsNull() && !p.ModelID.IsUnknown():
		var err error
		m, err = r.data.Store.GetModel(ctx, p.ModelID.ValueString())
		if errors.Is(err, catalog.ErrNotFound) && planning {
			return
		}
		if err != nil {
			r.refError(d, "model_id", catalog.KindModel, p.ModelID.ValueString(), err)
			return
		}
		if !p.WorkspaceID.IsUnknown() && m.WorkspaceID != ws {
			diagnostics.AddAttributeError(d, path.Root("model_id"), "Invalid Activation",
				fmt.Sprintf("Model %q belongs to another workspace than the activation.", m.Name), "Use a model of the activation's workspace.", nil)
			return
		}
	default:
		return
	}
	if p.RunType.ValueString() == string(destination.RunIncremental) && (m.Type != catalog.ModelEvents || m.TimestampColumn == "") {
		diagnostics.AddAttributeError(d, path.Root("run_type"), "Unsupported Run Type",
			fmt.Sprintf("Run type %q sends each event row once, tracked by the model's timestamp: model %q is of type %q%s.",
				destination.RunIncremental, m.Name, m.Type, map[bool]string{true: " without a timestamp_column", false: ""}[m.TimestampColumn == ""]),
			"Use an events model with timestamp_column, or run type delta.", nil)
	}
	cols := map[string]bool{}
	var names []string
	for _, c := range m.Columns {
		cols[c.Name] = true
		names = append(names, c.Name)
	}
	for _, field := range sortedKeys(mappings) {
		if col := mappings[field]; !cols[col] {
			diagnostics.AddAttributeError(d, path.Root("mappings").AtMapKey(field), "Unknown Model Column",
				fmt.Sprintf("Field %q is mapped to column %q, which model %q does not have.", field, col, m.Name),
				"Map it to one of the model's columns: "+strings.Join(names, ", ")+".", nil)
		}
	}
	return options
}

func (r *activationResource) refError(d *diag.Diagnostics, attrName, kind, id string, err error) {
	if errors.Is(err, catalog.ErrNotFound) {
		diagnostics.AddAttributeError(d, path.Root(attrName), "Invalid Activation", fmt.Sprintf("The catalog has no %s with id %q.", kind, id),
			fmt.Sprintf("Reference an existing dinmo_%s.", kind), err)
		return
	}
	addStoreError(d, "Invalid Activation", kind, id, err)
}

// validateService checks service, sync mode, run type, service options and mapped fields
// against the platform's declaration. It returns the service options converted to their
// declared types (nil when there are none, or when they or the service are not known yet).
func (r *activationResource) validateService(dest *catalog.Destination, p activationModel, mappings map[string]string, mappingsKnown bool, d *diag.Diagnostics) map[string]any {
	platform, ok := r.data.Registry.Destination(dest.Platform)
	if !ok {
		diagnostics.AddAttributeError(d, path.Root("destination_id"), "Invalid Activation",
			fmt.Sprintf("Destination %q uses platform %q, which this provider build does not know.", dest.Name, dest.Platform),
			"Use a provider version that supports it.", nil)
		return nil
	}
	spec := platform.Spec()
	if p.Service.IsUnknown() {
		return nil
	}
	svc, ok := spec.Service(p.Service.ValueString())
	if !ok {
		var names []string
		for _, s := range spec.Services {
			names = append(names, s.Name)
		}
		diagnostics.AddAttributeError(d, path.Root("service"), "Unknown Destination Service",
			fmt.Sprintf("Platform %s has no service %q.", spec.Platform, p.Service.ValueString()),
			fmt.Sprintf("Services of platform %s: %s.", spec.Platform, strings.Join(names, ", ")), nil)
		return nil
	}
	if !p.SyncMode.IsUnknown() && !svc.SupportsMode(destination.SyncMode(p.SyncMode.ValueString())) {
		modes := make([]string, len(svc.SyncModes))
		for i, m := range svc.SyncModes {
			modes[i] = string(m)
		}
		diagnostics.AddAttributeError(d, path.Root("sync_mode"), "Unsupported Sync Mode",
			fmt.Sprintf("Sync mode %q is not supported: service %s of platform %s supports: %s.", p.SyncMode.ValueString(), svc.Name, spec.Platform, strings.Join(modes, ", ")),
			"Choose one of those sync modes.", nil)
	}
	if !p.RunType.IsUnknown() && !svc.SupportsRunType(destination.RunType(p.RunType.ValueString())) {
		runTypes := make([]string, len(svc.RunTypes))
		for i, t := range svc.RunTypes {
			runTypes[i] = string(t)
		}
		diagnostics.AddAttributeError(d, path.Root("run_type"), "Unsupported Run Type",
			fmt.Sprintf("Run type %q is not supported: service %s of platform %s supports: %s.", p.RunType.ValueString(), svc.Name, spec.Platform, strings.Join(runTypes, ", ")),
			"Choose one of those run types.", nil)
	}
	rawOptions, optionsKnown := stringMap(p.ServiceOptions)
	options := checkServiceOptions(spec.Platform, svc, rawOptions, optionsKnown, d)
	if !mappingsKnown {
		return options
	}
	declared := map[string]bool{}
	var fieldNames []string
	for _, f := range svc.Fields {
		declared[f.Name] = true
		fieldNames = append(fieldNames, f.Name)
	}
	sort.Strings(fieldNames)
	if !svc.AllowCustomFields {
		for _, field := range sortedKeys(mappings) {
			if !declared[field] {
				diagnostics.AddAttributeError(d, path.Root("mappings").AtMapKey(field), "Unknown Destination Field",
					fmt.Sprintf("Service %s of platform %s has no field %q and does not accept custom fields.", svc.Name, spec.Platform, field),
					"Map one of its fields: "+strings.Join(fieldNames, ", ")+".", nil)
			}
		}
	}
	for _, f := range svc.Fields {
		if _, ok := mappings[f.Name]; f.Required && !ok {
			diagnostics.AddAttributeError(d, path.Root("mappings"), "Missing Required Field",
				fmt.Sprintf("Service %s of platform %s requires field %q.", svc.Name, spec.Platform, f.Name),
				fmt.Sprintf("Add a mapping %q = \"<model column>\".", f.Name), nil)
		}
	}
	checkIdentifierMapped(spec.Platform, svc, mappings, rawOptions, optionsKnown, d)
	return options
}

// checkServiceOptions checks the service options against the service's declaration: every
// key is a declared option, every required option is given, and every value parses as the
// option's type (enums and bounds included). It returns the typed options, or nil when there
// are none or some are not known yet.
func checkServiceOptions(platform string, svc destination.ServiceSpec, raw map[string]string, known bool, d *diag.Diagnostics) map[string]any {
	optionsPath := path.Root("service_options")
	allowed := "This service has no options: remove service_options."
	if names := fields.Names(svc.Options); len(names) > 0 {
		allowed = "Options of this service: " + strings.Join(names, ", ") + "."
	}
	var typed map[string]any
	if len(raw) > 0 {
		typed = make(map[string]any, len(raw))
	}
	for _, name := range sortedKeys(raw) {
		opt, ok := fields.Find(svc.Options, name)
		if !ok {
			diagnostics.AddAttributeError(d, optionsPath.AtMapKey(name), "Unknown Service Option",
				fmt.Sprintf("Service %s of platform %s has no option %q.", svc.Name, platform, name), allowed, nil)
			continue
		}
		v, err := fields.ParseText(opt, raw[name])
		if err != nil {
			diagnostics.AddAttributeError(d, optionsPath.AtMapKey(name), "Invalid Service Option",
				fmt.Sprintf("Option %q of service %s (platform %s, type %s) is invalid: %v.", name, svc.Name, platform, opt.Type, err),
				"Fix the value: "+fields.Description(opt), nil)
			continue
		}
		typed[name] = v
	}
	if !known {
		return nil
	}
	for _, opt := range svc.Options {
		if _, ok := raw[opt.Name]; opt.Required && !ok {
			diagnostics.AddAttributeError(d, optionsPath, "Missing Service Option",
				fmt.Sprintf("Service %s of platform %s requires option %q: %s", svc.Name, platform, opt.Name, fields.Description(opt)),
				fmt.Sprintf("Add %q = \"<value>\" to service_options.", opt.Name), nil)
		}
	}
	return typed
}

// checkIdentifierMapped checks that the mappings target what identifies records in the
// destination: the field named by the service's identifier option (a HubSpot matching
// property), or else at least one of its identifiers when it requires one.
func checkIdentifierMapped(platform string, svc destination.ServiceSpec, mappings, options map[string]string, optionsKnown bool, d *diag.Diagnostics) {
	if svc.IdentifierOption != "" {
		field, given := options[svc.IdentifierOption]
		if !given {
			if !optionsKnown {
				return // the option's value is not known yet
			}
			if opt, ok := fields.Find(svc.Options, svc.IdentifierOption); ok {
				field = fields.FormatDefault(opt)
			}
		}
		field = strings.TrimSpace(field)
		if field == "" {
			return // a missing required option is reported on its own
		}
		if _, ok := mappings[field]; !ok {
			diagnostics.AddAttributeError(d, path.Root("mappings"), "Missing Identifier Mapping",
				fmt.Sprintf("Service %s of platform %s identifies records by field %q (option %s), which no mapping targets.",
					svc.Name, platform, field, svc.IdentifierOption),
				fmt.Sprintf("Add a mapping %q = \"<model column>\", or set service_options.%s to the field that identifies records.",
					field, svc.IdentifierOption), nil)
		}
		return
	}
	if !svc.RequireIdentifier || len(svc.Identifiers) == 0 {
		return
	}
	for _, id := range svc.Identifiers {
		if _, ok := mappings[id]; ok {
			return
		}
	}
	diagnostics.AddAttributeError(d, path.Root("mappings"), "Missing Identifier Mapping",
		fmt.Sprintf("Service %s of platform %s needs at least one identifier mapped: %s.", svc.Name, platform, strings.Join(svc.Identifiers, ", ")),
		"Map a model column to one of those fields, so the destination can find each record.", nil)
}

func (r *activationResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	const summary = "Cannot Create Activation"
	var plan activationModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	options := r.validateRefs(ctx, plan, false, &resp.Diagnostics)
	a := &catalog.Activation{Enabled: true}
	resp.Diagnostics.Append(plan.toCatalog(a)...)
	if resp.Diagnostics.HasError() {
		return
	}
	a.Options = options
	a.NextRunAt = nextRun(a.Schedule, a.Enabled, time.Now())
	if err := r.data.Store.CreateActivation(r.data.ctx(ctx), a); err != nil {
		addStoreError(&resp.Diagnostics, summary, catalog.KindActivation, a.Name, err)
		return
	}
	if err := r.applyPause(ctx, a, plan.Paused); err != nil {
		addStoreError(&resp.Diagnostics, summary, catalog.KindActivation, a.Name, err)
		return
	}
	tflog.Info(ctx, "created activation", map[string]any{"activation_id": a.ID, "service": a.Service, "sync_mode": a.SyncMode, "scheduled": a.NextRunAt != nil})
	plan.fromCatalog(a)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// nextRun is when the runner should start an activation whose schedule or switch was just set:
// the schedule's first due time (now for an unanchored interval, the next occurrence for the
// other types), never for a manual schedule or a disabled activation.
func nextRun(s schedule.Schedule, enabled bool, now time.Time) *time.Time {
	if !enabled {
		return nil
	}
	t, ok := s.FirstDue(now)
	if !ok {
		return nil
	}
	return &t
}

func (r *activationResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state activationModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	a, err := r.data.Store.GetActivation(ctx, state.ID.ValueString())
	if errors.Is(err, catalog.ErrNotFound) {
		tflog.Info(ctx, "activation gone from the catalog; removing it from state", map[string]any{"activation_id": state.ID.ValueString()})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addStoreError(&resp.Diagnostics, "Cannot Read Activation", catalog.KindActivation, state.Name.ValueString(), err)
		return
	}
	state.fromCatalog(a)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *activationResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	const summary = "Cannot Update Activation"
	var plan, state activationModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	options := r.validateRefs(ctx, plan, false, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	a, err := r.data.Store.GetActivation(ctx, state.ID.ValueString())
	if err != nil {
		addStoreError(&resp.Diagnostics, summary, catalog.KindActivation, state.Name.ValueString(), err)
		return
	}
	prevSchedule, prevEnabled := a.Schedule, a.Enabled
	resp.Diagnostics.Append(plan.toCatalog(a)...)
	if resp.Diagnostics.HasError() {
		return
	}
	a.Options = options
	a.FullResyncRequested = needsFullResync(plan, state)
	if err := r.data.Store.UpdateActivation(r.data.ctx(ctx), a); err != nil {
		addStoreError(&resp.Diagnostics, summary, catalog.KindActivation, a.Name, err)
		return
	}
	if !a.Schedule.Equal(prevSchedule) || a.Enabled != prevEnabled {
		next := nextRun(a.Schedule, a.Enabled, time.Now())
		if err := r.data.Store.SetActivationSchedule(r.data.ctx(ctx), a.ID, next, a.FullResyncRequested); err != nil {
			addStoreError(&resp.Diagnostics, summary, catalog.KindActivation, a.Name, err)
			return
		}
		a.NextRunAt = next
	}
	if err := r.applyPause(ctx, a, plan.Paused); err != nil {
		addStoreError(&resp.Diagnostics, summary, catalog.KindActivation, a.Name, err)
		return
	}
	tflog.Info(ctx, "updated activation", map[string]any{"activation_id": a.ID, "full_resync_requested": a.FullResyncRequested, "scheduled": a.NextRunAt != nil})
	plan.fromCatalog(a)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// Pause owners (catalog.Activation.PausedBy), as the runner writes them.
const (
	pausedByUser = "user"
	pausedByAuto = "auto"
)

// terraformPauseReason is the reason stored when paused = true pauses an activation.
const terraformPauseReason = "paused in Terraform (paused = true)"

// userPaused reports whether a user (Terraform or dinmo-runner pause) paused the activation:
// the value of the paused attribute. An automatic pause is the runner's and shows in
// paused_by and pause_reason only, so it never makes a plan differ from the configuration.
func userPaused(a *catalog.Activation) bool { return a.Paused && a.PausedBy != pausedByAuto }

// applyPause makes the user pause match the planned paused value (unknown: leave it): true
// pauses by the user (taking over an automatic pause, which the runner would otherwise
// resume), false resumes a user pause and leaves an automatic one alone. a is updated.
func (r *activationResource) applyPause(ctx context.Context, a *catalog.Activation, want types.Bool) error {
	if want.IsNull() || want.IsUnknown() || want.ValueBool() == userPaused(a) {
		return nil
	}
	if want.ValueBool() {
		if err := r.data.Store.SetActivationPause(r.data.ctx(ctx), a.ID, true, terraformPauseReason, pausedByUser); err != nil {
			return err
		}
		a.Paused, a.PausedBy, a.PauseReason = true, pausedByUser, terraformPauseReason
		return nil
	}
	if err := r.data.Store.SetActivationPause(r.data.ctx(ctx), a.ID, false, "", pausedByUser); err != nil {
		return err
	}
	a.Paused, a.PausedBy, a.PauseReason = false, "", ""
	return nil
}

// needsFullResync tells whether a change invalidates the stored snapshot: another source of
// rows, another destination or service, another way of applying them, other mapped fields, or
// other service options (another audience, list, event name or matching property holds none of
// what the snapshot says was sent).
func needsFullResync(plan, state activationModel) bool {
	return !plan.SegmentID.Equal(state.SegmentID) || !plan.ModelID.Equal(state.ModelID) ||
		!plan.DestinationID.Equal(state.DestinationID) || !plan.Service.Equal(state.Service) ||
		!plan.SyncMode.Equal(state.SyncMode) || !plan.Mappings.Equal(state.Mappings) ||
		!plan.ServiceOptions.Equal(state.ServiceOptions)
}

// Delete removes the activation from the catalog, then drops its delta tables from the
// warehouse it reads (a warning if that warehouse cannot be reached).
func (r *activationResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	const summary = "Cannot Delete Activation"
	var state activationModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	a, err := r.data.Store.GetActivation(ctx, state.ID.ValueString())
	if errors.Is(err, catalog.ErrNotFound) {
		return
	}
	if err != nil {
		addStoreError(&resp.Diagnostics, summary, catalog.KindActivation, state.Name.ValueString(), err)
		return
	}
	sourceID, srcErr := r.sourceOf(ctx, a)
	if err := r.data.Store.DeleteActivation(r.data.ctx(ctx), a.ID); err != nil && !errors.Is(err, catalog.ErrNotFound) {
		addStoreError(&resp.Diagnostics, summary, catalog.KindActivation, a.Name, err)
		return
	}
	tflog.Info(ctx, "deleted activation from the catalog", map[string]any{"activation_id": a.ID})
	if srcErr == nil {
		srcErr = r.dropDeltaTables(ctx, sourceID, a.ID)
	}
	if srcErr != nil {
		diagnostics.AddWarning(&resp.Diagnostics, "Snapshot Tables Not Dropped",
			fmt.Sprintf("Activation %q was removed from the catalog, but its tables in %s (named after id %s) could not be dropped.",
				a.Name, "dinmo_delta_storage", a.ID),
			"Drop them by hand if the warehouse is still in use.", srcErr)
	}
}

// sourceOf returns the source an activation's rows come from.
func (r *activationResource) sourceOf(ctx context.Context, a *catalog.Activation) (string, error) {
	modelID := a.ModelID
	if a.SegmentID != "" {
		s, err := r.data.Store.GetSegment(ctx, a.SegmentID)
		if err != nil {
			return "", fmt.Errorf("loading segment %s: %w", a.SegmentID, err)
		}
		modelID = s.ModelID
	}
	m, err := r.data.Store.GetModel(ctx, modelID)
	if err != nil {
		return "", fmt.Errorf("loading model %s: %w", modelID, err)
	}
	return m.SourceID, nil
}

// dropDeltaTables drops the runner's tables of an activation (snapshot, run, checkpoint,
// rejected records, and the sent events and cursor of incremental runs).
func (r *activationResource) dropDeltaTables(ctx context.Context, sourceID, activationID string) error {
	c, err := r.data.openSourceByID(ctx, sourceID)
	if err != nil {
		return err
	}
	defer c.close()
	b, err := deltasql.New(c.Dialect(), activationID)
	if err != nil {
		return fmt.Errorf("naming the delta tables: %w", err)
	}
	var errs []error
	inc := b.IncrementalTables()
	for _, stmt := range []string{b.DropRun(), b.DropAck(), b.DropSnapshot(), c.Dialect().DropTable(b.Schema(), b.Tables().Rejected),
		c.Dialect().DropTable(b.Schema(), b.Tables().Stage),
		c.Dialect().DropTable(b.Schema(), inc.Sent), c.Dialect().DropTable(b.Schema(), inc.Cursor)} {
		if err := c.exec(c.ctx, stmt); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (r *activationResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	r.importScoped(ctx, req, resp, catalog.KindActivation,
		byName(catalog.Store.GetActivationByName, func(x *catalog.Activation) string { return x.ID }), byID(catalog.Store.GetActivation))
}

// activationModel is the Terraform state of an activation.
type activationModel struct {
	ID             types.String `tfsdk:"id"`
	WorkspaceID    types.String `tfsdk:"workspace_id"`
	Name           types.String `tfsdk:"name"`
	Description    types.String `tfsdk:"description"`
	SegmentID      types.String `tfsdk:"segment_id"`
	ModelID        types.String `tfsdk:"model_id"`
	DestinationID  types.String `tfsdk:"destination_id"`
	Service        types.String `tfsdk:"service"`
	SyncMode       types.String `tfsdk:"sync_mode"`
	RunType        types.String `tfsdk:"run_type"`
	Lookback       types.String `tfsdk:"lookback"`
	Mappings       types.Map    `tfsdk:"mappings"`
	ServiceOptions types.Map    `tfsdk:"service_options"`
	Schedule       types.Object `tfsdk:"schedule"`
	Guards         types.Object `tfsdk:"guards"`
	Enabled        types.Bool   `tfsdk:"enabled"`
	Paused         types.Bool   `tfsdk:"paused"`
	PausedBy       types.String `tfsdk:"paused_by"`
	PauseReason    types.String `tfsdk:"pause_reason"`
}

// toCatalog copies the declared attributes onto a.
func (p *activationModel) toCatalog(a *catalog.Activation) diag.Diagnostics {
	a.WorkspaceID = p.WorkspaceID.ValueString()
	a.Name = p.Name.ValueString()
	a.Description = p.Description.ValueString()
	a.SegmentID = p.SegmentID.ValueString()
	a.ModelID = p.ModelID.ValueString()
	a.DestinationID = p.DestinationID.ValueString()
	a.Service = p.Service.ValueString()
	a.SyncMode = p.SyncMode.ValueString()
	a.RunType = p.RunType.ValueString()
	var d diag.Diagnostics
	a.Lookback = 0
	if !p.Lookback.IsNull() && !p.Lookback.IsUnknown() {
		lb, err := parseLookback(p.Lookback.ValueString())
		if err != nil {
			diagnostics.AddAttributeError(&d, path.Root("lookback"), "Invalid Lookback", err.Error(), "Write a duration in whole seconds, such as \"2h\".", nil)
		}
		a.Lookback = lb
	}
	a.Enabled = p.Enabled.ValueBool()
	mappings, _ := stringMap(p.Mappings)
	a.Mappings = nil
	for _, field := range sortedKeys(mappings) {
		a.Mappings = append(a.Mappings, catalog.Mapping{Field: field, Column: mappings[field]})
	}
	sched, _ := scheduleFromObject(p.Schedule)
	addScheduleProblems(&d, schedule.Validate(sched, true), false)
	a.Schedule = sched
	a.Guards = guardsFromObject(p.Guards)
	return d
}

// fromCatalog sets every attribute from the catalog's activation. An interval written by the
// user is kept as written when it denotes the stored period (see scheduleValue), and so is a
// service option value that denotes the stored one ("TRUE" stays "TRUE").
func (p *activationModel) fromCatalog(a *catalog.Activation) {
	p.ID = types.StringValue(a.ID)
	p.WorkspaceID = types.StringValue(a.WorkspaceID)
	p.Name = types.StringValue(a.Name)
	p.Description = types.StringValue(a.Description)
	p.SegmentID = optionalString(a.SegmentID)
	p.ModelID = optionalString(a.ModelID)
	p.DestinationID = types.StringValue(a.DestinationID)
	p.Service = types.StringValue(a.Service)
	p.SyncMode = types.StringValue(a.SyncMode)
	p.RunType = types.StringValue(a.RunType)
	// The lookback is kept as written ("60m") when it denotes the stored duration.
	if written, err := parseLookback(p.Lookback.ValueString()); p.Lookback.IsNull() || p.Lookback.IsUnknown() || err != nil || written != a.Lookback {
		p.Lookback = types.StringValue(a.Lookback.String())
	}
	p.Enabled = types.BoolValue(a.Enabled)
	p.Paused = types.BoolValue(userPaused(a))
	p.PausedBy = types.StringValue(a.PausedBy)
	p.PauseReason = types.StringValue(a.PauseReason)
	if len(a.Mappings) == 0 {
		p.Mappings = types.MapNull(types.StringType)
	} else {
		elems := make(map[string]attr.Value, len(a.Mappings))
		for _, m := range a.Mappings {
			elems[m.Field] = types.StringValue(m.Column)
		}
		p.Mappings = types.MapValueMust(types.StringType, elems)
	}
	p.ServiceOptions = optionsValue(a.Options, p.ServiceOptions)
	p.Schedule = scheduleValue(a.Schedule, p.Schedule)
	p.Guards = guardsValue(a.Guards)
}

// optionsValue is the service_options value of stored options: null when there are none,
// else each option's text, as the user wrote it in prev when that denotes the stored value.
// A stored value that cannot be written as text (which the provider never stores) is shown as
// its JSON, so a plan reveals it.
func optionsValue(stored map[string]any, prev types.Map) types.Map {
	if len(stored) == 0 {
		return types.MapNull(types.StringType)
	}
	written, _ := stringMap(prev)
	elems := make(map[string]attr.Value, len(stored))
	for name, v := range stored {
		if w, ok := written[name]; ok && fields.SameText(w, v) {
			elems[name] = types.StringValue(w)
			continue
		}
		text, err := fields.FormatText(v)
		if err != nil {
			b, _ := json.Marshal(v)
			text = string(b)
		}
		elems[name] = types.StringValue(text)
	}
	return types.MapValueMust(types.StringType, elems)
}
