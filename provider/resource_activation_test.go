package provider

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"dinmo/catalog"
	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/deltasql"
	"dinmo/schedule"
)

// stack is a configuration with one resource of every type, chained the way users chain them:
// workspace → source → model → segment → activation ← destination.
type stack struct {
	wsDescription string
	sourceBlock   string // engine block and credentials of the source
	model         string // sql = ... or table = ... line
	modelDesc     string
	match         string
	conditions    []string // HCL objects
	hookURL       string
	mappings      string // HCL map body
	every         string
}

func (c stack) hcl(e *env) string {
	var b strings.Builder
	b.WriteString(e.providerHCL())
	fmt.Fprintf(&b, `
resource "dinmo_workspace" "ws" {
  name        = "growth"
  description = %q
}

resource "dinmo_source" "src" {
  workspace_id = dinmo_workspace.ws.id
  name         = "warehouse"
  %s
}

resource "dinmo_model" "customers" {
  workspace_id = dinmo_workspace.ws.id
  source_id    = dinmo_source.src.id
  name         = "customers"
  description  = %q
  %s
  primary_key  = "id"
}

resource "dinmo_segment" "fr_adults" {
  workspace_id = dinmo_workspace.ws.id
  model_id     = dinmo_model.customers.id
  name         = "fr_adults"
  match        = %q
  conditions = [
    %s
  ]
}

resource "dinmo_destination" "hook" {
  workspace_id = dinmo_workspace.ws.id
  name         = "crm-hook"
  webhook = {
    url = %q
  }
}

resource "dinmo_activation" "sync" {
  workspace_id   = dinmo_workspace.ws.id
  name           = "fr-adults-to-crm"
  segment_id     = dinmo_segment.fr_adults.id
  destination_id = dinmo_destination.hook.id
  service        = "records"
  sync_mode      = "upsert"
  mappings = {
    %s
  }
  schedule = {
    type  = "interval"
    every = %q
  }
}
`, c.wsDescription, c.sourceBlock, c.modelDesc, c.model, c.match, strings.Join(c.conditions, ",\n    "), c.hookURL, c.mappings, c.every)
	return b.String()
}

func TestAccActivation_stackDuckDB(t *testing.T) {
	e := newEnv(t, "duckdb")
	first := stack{
		wsDescription: "first", sourceBlock: e.sourceBlock,
		model: `sql = "SELECT id, email, country, age, vip FROM customers;"`, modelDesc: "all customers",
		match:      "all",
		conditions: []string{`{ column = "country", operator = "equals", value = "FR" }`, `{ column = "age", operator = "gte", value = "30" }`},
		hookURL:    "http://127.0.0.1:9/hook", mappings: `email = "email"` + "\n    country = \"country\"", every: "15m",
	}
	second := first
	second.wsDescription = "second"
	second.sourceBlock = strings.Replace(e.sourceBlock, "}", "  read_only = false\n  }", 1)
	second.model = `table = "customers"`
	second.modelDesc = "every customer column"
	second.match = "any"
	second.conditions = append(append([]string{}, first.conditions...), `{ column = "vip", operator = "is_false" }`)
	second.hookURL = "http://127.0.0.1:9/hook/v2"
	second.mappings = first.mappings + "\n    age = \"age\""
	second.every = "1h"
	runStack(t, e, first, second, 5, 6)
}

func TestAccActivation_stackPostgres(t *testing.T) {
	e := newEnv(t, "postgres")
	creds := "\n  credentials_wo = {\n    password = " + fmt.Sprintf("%q", e.pg.password) + "\n  }\n  credentials_wo_version = \"1\""
	first := stack{
		wsDescription: "first", sourceBlock: e.sourceBlock + creds,
		model: `table = "public.customers"`, modelDesc: "all customers",
		match:      "all",
		conditions: []string{`{ column = "country", operator = "equals", value = "FR" }`, `{ column = "age", operator = "gte", value = "30" }`},
		hookURL:    "http://127.0.0.1:9/hook", mappings: `email = "email"` + "\n    country = \"country\"", every: "15m",
	}
	second := first
	second.wsDescription = "second"
	second.sourceBlock = strings.Replace(e.sourceBlock, "}", "  connect_timeout_seconds = 5\n  }", 1) + creds
	// Dropping a column makes PostgreSQL refuse CREATE OR REPLACE VIEW: the model's view and its
	// segment's view must be dropped and created again.
	second.model = `sql = "SELECT id, email, country, age, vip FROM public.customers"`
	second.modelDesc = "without created_at"
	second.match = "any"
	second.conditions = append(append([]string{}, first.conditions...), `{ column = "vip", operator = "is_false" }`)
	second.hookURL = "http://127.0.0.1:9/hook/v2"
	second.mappings = first.mappings + "\n    age = \"age\""
	second.every = "1h"
	runStack(t, e, first, second, 6, 5)
}

// runStack creates the stack, imports every resource, updates every resource in place, drops
// the model's view behind Terraform's back and lets the next apply re-create it, then destroys
// everything and checks that the catalog and the warehouse are clean.
func runStack(t *testing.T, e *env, first, second stack, firstCols, secondCols int) {
	var activationID string
	var nextRunAfterCreate time.Time
	modelView := "model_customers"
	segmentView := "segment_fr_adults"
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   testAccVersionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkDestroy,
		Steps: []resource.TestStep{
			{
				Config: first.hcl(e),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("dinmo_source.src", tfjsonpath.New("engine"), knownvalue.StringExact(e.engine)),
					statecheck.ExpectKnownValue("dinmo_model.customers", tfjsonpath.New("view_name"), knownvalue.StringExact("dinmo_segments.model_customers")),
					statecheck.ExpectKnownValue("dinmo_model.customers", tfjsonpath.New("columns"), knownvalue.ListSizeExact(firstCols)),
					statecheck.ExpectKnownValue("dinmo_model.customers", tfjsonpath.New("columns").AtSliceIndex(0), knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"name": knownvalue.StringExact("id"), "category": knownvalue.StringExact("integer"),
					})),
					statecheck.ExpectKnownValue("dinmo_segment.fr_adults", tfjsonpath.New("view_name"), knownvalue.StringExact("dinmo_segments.segment_fr_adults")),
					statecheck.ExpectKnownValue("dinmo_segment.fr_adults", tfjsonpath.New("compiled_sql"),
						knownvalue.StringRegexp(regexp.MustCompile(`^SELECT \* FROM "dinmo_segments"\."model_customers" WHERE .*"country".*'FR'.*"age"`))),
					statecheck.ExpectKnownValue("dinmo_destination.hook", tfjsonpath.New("platform"), knownvalue.StringExact("webhook")),
					statecheck.ExpectKnownValue("dinmo_activation.sync", tfjsonpath.New("run_type"), knownvalue.StringExact("delta")),
					statecheck.ExpectKnownValue("dinmo_activation.sync", tfjsonpath.New("enabled"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue("dinmo_activation.sync", tfjsonpath.New("paused"), knownvalue.Bool(false)),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					e.checkViews(true, modelView, segmentView),
					func(*terraform.State) error {
						for _, s := range warehouse.ManagedSchemas {
							if ok, err := e.schemaExists(s); err != nil || !ok {
								return fmt.Errorf("managed schema %s: exists=%v err=%w", s, ok, err)
							}
						}
						return nil
					},
					e.checkSegmentRows(2), // ana (FR, 34) and cleo (FR, 41)
					func(s *terraform.State) error {
						id, err := stateID(s, "dinmo_activation.sync")
						if err != nil {
							return err
						}
						activationID = id
						a, err := e.store.GetActivation(e.ctx, id)
						if err != nil {
							return err
						}
						if a.NextRunAt == nil || time.Since(*a.NextRunAt) > time.Minute || a.FullResyncRequested {
							return fmt.Errorf("a new enabled interval activation must be due now without a pending resync: %+v", a)
						}
						nextRunAfterCreate = *a.NextRunAt
						if a.Schedule.Every != "15m" || len(a.Mappings) != 2 {
							return fmt.Errorf("catalog activation: %+v", a)
						}
						return nil
					},
				),
			},
			{ResourceName: "dinmo_workspace.ws", ImportState: true, ImportStateVerify: true, ImportStateId: "growth"},
			{ResourceName: "dinmo_source.src", ImportState: true, ImportStateVerify: true, ImportStateIdFunc: importID("growth", "warehouse")},
			{ResourceName: "dinmo_model.customers", ImportState: true, ImportStateVerify: true, ImportStateIdFunc: importID("growth", "customers")},
			{ResourceName: "dinmo_model.customers", ImportState: true, ImportStateVerify: true, ImportStateIdFunc: func(s *terraform.State) (string, error) {
				return stateID(s, "dinmo_model.customers") // a raw catalog id works too
			}},
			{ResourceName: "dinmo_segment.fr_adults", ImportState: true, ImportStateVerify: true, ImportStateIdFunc: importID("growth", "fr_adults")},
			{ResourceName: "dinmo_destination.hook", ImportState: true, ImportStateVerify: true, ImportStateIdFunc: importID("growth", "crm-hook")},
			{ResourceName: "dinmo_activation.sync", ImportState: true, ImportStateVerify: true, ImportStateIdFunc: importID("growth", "fr-adults-to-crm")},
			{
				Config: second.hcl(e),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("dinmo_workspace.ws", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("dinmo_source.src", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("dinmo_model.customers", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("dinmo_segment.fr_adults", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("dinmo_destination.hook", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("dinmo_activation.sync", plancheck.ResourceActionUpdate),
					// The plan shows the segment's new SQL.
					plancheck.ExpectKnownValue("dinmo_segment.fr_adults", tfjsonpath.New("compiled_sql"),
						knownvalue.StringRegexp(regexp.MustCompile(`"vip"`))),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("dinmo_model.customers", tfjsonpath.New("columns"), knownvalue.ListSizeExact(secondCols)),
					statecheck.ExpectKnownValue("dinmo_segment.fr_adults", tfjsonpath.New("match"), knownvalue.StringExact("any")),
					statecheck.ExpectKnownValue("dinmo_activation.sync", tfjsonpath.New("schedule"), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"type": knownvalue.StringExact("interval"), "every": knownvalue.StringExact("1h"),
						"at": knownvalue.Null(), "rules": knownvalue.Null(), "cron": knownvalue.Null(),
					})),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					e.checkViews(true, modelView, segmentView),
					e.checkSegmentRows(3), // FR, 30 or older, or not vip: everyone
					func(s *terraform.State) error {
						a, err := e.store.GetActivation(e.ctx, activationID)
						if err != nil {
							return err
						}
						if !a.FullResyncRequested {
							return fmt.Errorf("changing the mappings must request a full resync")
						}
						if a.Schedule.Every != "1h" || a.NextRunAt == nil || !a.NextRunAt.After(nextRunAfterCreate) {
							return fmt.Errorf("a schedule change must recompute the next run: %+v", a)
						}
						m, err := e.store.GetModelByName(e.ctx, a.WorkspaceID, "customers")
						if err != nil {
							return err
						}
						if len(m.Columns) != secondCols {
							return fmt.Errorf("catalog model columns: %+v", m.Columns)
						}
						return nil
					},
				),
			},
			{
				// Drift: the model's view disappears; the plan shows an in-place update that
				// re-creates it (and, on PostgreSQL, the segment view the CASCADE took along).
				PreConfig: func() { e.dropView(modelView) },
				Config:    second.hcl(e),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("dinmo_model.customers", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("dinmo_model.customers", tfjsonpath.New("view_name"), knownvalue.StringExact("dinmo_segments.model_customers")),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					e.checkViews(true, modelView, segmentView),
					e.checkSegmentRows(3),
				),
			},
		},
	})
}

// checkSegmentRows counts the rows of the segment's view, proving it runs against the model's
// current view.
func (e *env) checkSegmentRows(want int) func(*terraform.State) error {
	return func(*terraform.State) error {
		var n int
		q := "SELECT count(*) FROM " + e.wh.Dialect().Qualified(warehouse.SchemaSegments, "segment_fr_adults")
		if err := e.wh.DB().QueryRowContext(e.ctx, q).Scan(&n); err != nil {
			return fmt.Errorf("query segment view: %w", err)
		}
		if n != want {
			return fmt.Errorf("segment view has %d rows, want %d", n, want)
		}
		return nil
	}
}

// TestAccActivation_planErrors checks the plan-time validation of activations against the
// destination platform's declaration, the model's columns and the schedule rules, then
// creates a model-based manual activation.
func TestAccActivation_planErrors(t *testing.T) {
	e := newEnv(t, "duckdb")
	base := modelHCL(e, "table = \"customers\"\n  primary_key = \"id\"") + `
resource "dinmo_destination" "files" {
  workspace_id = dinmo_workspace.ws.id
  name         = "exports"
  file = {
    directory = "` + t.TempDir() + `"
  }
}
`
	activation := func(body string) string {
		return base + `
resource "dinmo_activation" "a" {
  workspace_id   = dinmo_workspace.ws.id
  name           = "export-buyers"
  model_id       = dinmo_model.m.id
  destination_id = dinmo_destination.files.id
  ` + body + `
}
`
	}
	plan := func(body string, parts ...string) resource.TestStep {
		return resource.TestStep{Config: activation(body), PlanOnly: true, ExpectError: expectError(parts...)}
	}
	ok := "service = \"records\"\n  sync_mode = \"upsert\"\n  mappings = { email = \"email\" }"
	var activationID string
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   testAccVersionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkDestroy,
		Steps: []resource.TestStep{
			{Config: base},
			plan("service = \"records\"\n  sync_mode = \"replace\"",
				`Sync mode "replace" is not supported: service records of platform file supports: insert, update, upsert, mirror, list, events`),
			plan("service = \"audiences\"\n  sync_mode = \"upsert\"", "Unknown Destination Service", "Services of platform file: records"),
			plan("service = \"records\"\n  sync_mode = \"upsert\"\n  mappings = { email = \"e_mail\" }",
				"Unknown Model Column", `mapped to column "e_mail"`, "id, email, country"),
			plan("service = \"records\"\n  sync_mode = \"upsert\"\n  mappings = { _dinmo_key = \"email\" }", "Reserved Field Name"),
			plan(ok+"\n  schedule = { type = \"interval\", every = \"30s\" }", "Invalid Schedule", "shorter than the minimum of 1m"),
			plan(ok+"\n  schedule = { type = \"interval\" }", "Invalid Schedule", "schedule.every: missing"),
			plan(ok+"\n  schedule = { type = \"interval\", every = \"soon\" }", "Invalid Schedule", `"soon" is not a duration`),
			plan(ok+"\n  schedule = { every = \"1h\" }", "Invalid Schedule", "manual schedules do not take every"),
			plan(ok+"\n  schedule = { type = \"interval\", every = \"7h\", at = \"01:00\" }", "Invalid Schedule", "must divide a day"),
			plan(ok+"\n  schedule = { type = \"recurrence\", rules = [{ days = [\"mon\"], times = [\"09:00\"] }, { days = [\"funday\"], times = [\"25:00\"] }] }",
				"schedule.rules[1].days[0]", `"funday" is not a day of the week`, "schedule.rules[1].times[0]"),
			plan(ok+"\n  schedule = { type = \"cron\", cron = \"*/15 * * *\" }", "Invalid Schedule", "schedule.cron"),
			plan(ok+"\n  guards = { max_removal_percent = 150 }", "guards.max_removal_percent", "between 0.000000 and 100.000000"),
			plan(ok+"\n  segment_id = \"seg_x\"", "Invalid Attribute Combination"),
			plan(ok+"\n  run_type = \"incremental\"", "Unsupported Run Type", `Run type "incremental" sends each event row once`, "Use an events model with timestamp_column"),
			plan(ok+"\n  lookback = \"1500ms\"", "Invalid Lookback", "whole seconds"),
			plan(ok+"\n  lookback = \"soon\"", "Invalid Lookback", "is not a duration"),
			{
				Config: activation(ok + "\n  run_type = \"full\""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("dinmo_activation.a", tfjsonpath.New("schedule"), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"type": knownvalue.StringExact("manual"), "every": knownvalue.Null(),
						"at": knownvalue.Null(), "rules": knownvalue.Null(), "cron": knownvalue.Null(),
					})),
					statecheck.ExpectKnownValue("dinmo_activation.a", tfjsonpath.New("guards"), knownvalue.ObjectExact(map[string]knownvalue.Check{
						"max_removal_percent": knownvalue.Float64Exact(50), "min_snapshot_for_removal_guard": knownvalue.Int64Exact(100),
						"block_empty_result": knownvalue.Bool(true), "rejected_warning_percent": knownvalue.Float64Exact(5),
					})),
					statecheck.ExpectKnownValue("dinmo_activation.a", tfjsonpath.New("segment_id"), knownvalue.Null()),
				},
				Check: func(s *terraform.State) error {
					id, err := stateID(s, "dinmo_activation.a")
					if err != nil {
						return err
					}
					a, err := e.store.GetActivation(e.ctx, id)
					if err != nil {
						return err
					}
					if a.NextRunAt != nil || a.RunType != "full" || a.ModelID == "" || a.SegmentID != "" {
						return fmt.Errorf("a manual model activation must not be scheduled: %+v", a)
					}
					return nil
				},
			},
			{ResourceName: "dinmo_activation.a", ImportState: true, ImportStateVerify: true, ImportStateIdFunc: importID("shop", "export-buyers")},
			{
				// Enabling an interval schedule makes the activation due now.
				Config: activation(ok + "\n  run_type = \"full\"\n  schedule = { type = \"interval\", every = \"1d\" }"),
				Check: func(s *terraform.State) error {
					id, err := stateID(s, "dinmo_activation.a")
					if err != nil {
						return err
					}
					activationID = id
					a, err := e.store.GetActivation(e.ctx, id)
					if err != nil {
						return err
					}
					if a.NextRunAt == nil || a.Schedule.Every != "1d" || a.FullResyncRequested {
						return fmt.Errorf("want a due daily activation without a resync request: %+v", a)
					}
					return nil
				},
			},
			{
				// Destroying the activation drops the runner's tables named after it.
				PreConfig: func() {
					for _, name := range deltaTables(activationID) {
						if _, err := e.wh.DB().ExecContext(e.ctx, e.wh.Dialect().CreateTableAs(warehouse.SchemaDeltaStorage, name, "SELECT 1 AS x")); err != nil {
							t.Fatal(err)
						}
					}
				},
				Config: base,
				Check: func(*terraform.State) error {
					for _, name := range deltaTables(activationID) {
						ok, err := e.wh.RelationExists(e.ctx, warehouse.SchemaDeltaStorage, name)
						if err != nil || ok {
							return fmt.Errorf("table %s.%s: exists=%v err=%w", warehouse.SchemaDeltaStorage, name, ok, err)
						}
					}
					return nil
				},
			},
		},
	})
}

func deltaTables(activationID string) []string {
	t := deltasql.TablesFor(activationID)
	return []string{t.Snapshot, t.Run, t.Ack, t.Rejected}
}

func TestActivationScheduleRoundTrip(t *testing.T) {
	every := func(m activationModel) string {
		v, _ := m.Schedule.Attributes()["every"].(types.String)
		return v.ValueString()
	}
	// A catalog row written before package schedule: a numeric interval in nanoseconds.
	var a catalog.Activation
	if err := json.Unmarshal([]byte(`{"type":"interval","every":3600000000000}`), &a.Schedule); err != nil {
		t.Fatal(err)
	}

	// As written by the user when it denotes the stored period...
	written := scheduleValue(schedule.Schedule{Type: "interval", Every: "60m"}, types.ObjectNull(scheduleAttrTypes))
	m := activationModel{Schedule: written}
	m.fromCatalog(&a)
	if every(m) != "60m" {
		t.Errorf("every = %q, want the user's spelling 60m", every(m))
	}
	// ...in the canonical form otherwise (import, or changed outside Terraform).
	m = activationModel{Schedule: types.ObjectNull(scheduleAttrTypes)}
	m.fromCatalog(&a)
	if every(m) != "1h" {
		t.Errorf("every = %q, want 1h", every(m))
	}
	if !m.Mappings.IsNull() || !m.SegmentID.IsNull() {
		t.Errorf("empty mappings and segment must be null: %v %v", m.Mappings, m.SegmentID)
	}
	var back catalog.Activation
	if d := m.toCatalog(&back); d.HasError() {
		t.Fatal(d)
	}
	if !back.Schedule.Equal(a.Schedule) {
		t.Errorf("toCatalog schedule = %+v, want %+v", back.Schedule, a.Schedule)
	}

	// Recurrence and cron round-trip field by field; guards default when unset.
	for _, s := range []schedule.Schedule{
		{Type: schedule.TypeRecurrence, Rules: []schedule.Rule{{Days: []string{"mon", "wed"}, Times: []string{"09:00"}}, {Days: []string{"sat"}, Times: []string{"20:00", "21:30"}}}},
		{Type: schedule.TypeCron, Cron: "0 3 * * *"},
		{Type: schedule.TypeInterval, Every: "6h", At: "01:30"},
	} {
		m := activationModel{}
		m.fromCatalog(&catalog.Activation{Schedule: s})
		var back catalog.Activation
		if d := m.toCatalog(&back); d.HasError() {
			t.Fatal(d)
		}
		if !back.Schedule.Equal(s) {
			t.Errorf("round trip of %+v gave %+v", s, back.Schedule)
		}
		if v := back.Guards.Values(); v.MaxRemovalPercent != 50 || v.MinSnapshotForRemovalGuard != 100 || !v.BlockEmptyResult || v.RejectedWarningPercent != 5 {
			t.Errorf("default guards = %+v", v)
		}
	}
}

func TestNextRun(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	interval := schedule.Schedule{Type: schedule.TypeInterval, Every: "1h"}
	if got := nextRun(interval, true, now); got == nil || !got.Equal(now) || got.Location() != time.UTC {
		t.Errorf("enabled interval: got %v, want now in UTC", got)
	}
	if got := nextRun(interval, false, now); got != nil {
		t.Errorf("disabled: got %v, want nil", got)
	}
	if got := nextRun(schedule.Schedule{Type: schedule.TypeManual}, true, now); got != nil {
		t.Errorf("manual: got %v, want nil", got)
	}
	rec := schedule.Schedule{Type: schedule.TypeRecurrence, Rules: []schedule.Rule{{Days: []string{"mon"}, Times: []string{"09:00"}}}}
	if got, want := nextRun(rec, true, now), time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC); got == nil || !got.Equal(want) {
		t.Errorf("recurrence: got %v, want %v", got, want)
	}
}

// TestAccActivation_scheduleTypes: a recurrence schedule is accepted and scheduled at its next
// occurrence; a cron schedule is refused at plan time (naming the attribute and the workspace
// switch) until the workspace enables cron, then accepted, with empty plans after each apply.
func TestAccActivation_scheduleTypes(t *testing.T) {
	e := newEnv(t, "duckdb")
	dir := t.TempDir()
	base := func(cron bool) string {
		hcl := modelHCL(e, "table = \"customers\"\n  primary_key = \"id\"") + `
resource "dinmo_destination" "files" {
  workspace_id = dinmo_workspace.ws.id
  name         = "exports"
  file = {
    directory = "` + dir + `"
  }
}
`
		if cron {
			hcl = strings.Replace(hcl, `name = "shop"`, "name = \"shop\"\n  cron_enabled = true", 1)
		}
		return hcl
	}
	activation := func(cron bool, sched string) string {
		return base(cron) + `
resource "dinmo_activation" "a" {
  workspace_id   = dinmo_workspace.ws.id
  name           = "export-buyers"
  model_id       = dinmo_model.m.id
  destination_id = dinmo_destination.files.id
  service        = "records"
  sync_mode      = "upsert"
  mappings       = { email = "email" }
  schedule       = ` + sched + `
  guards         = { max_removal_percent = 20, block_empty_result = false }
}
`
	}
	recurrence := `{ type = "recurrence", rules = [{ days = ["mon", "wed"], times = ["09:00"] }, { days = ["sat", "sun"], times = ["20:00"] }] }`
	cron := `{ type = "cron", cron = "0 3 * * mon-fri" }`
	scheduled := func(typ string) resource.TestCheckFunc {
		return func(s *terraform.State) error {
			id, err := stateID(s, "dinmo_activation.a")
			if err != nil {
				return err
			}
			a, err := e.store.GetActivation(e.ctx, id)
			if err != nil {
				return err
			}
			want, _ := a.Schedule.FirstDue(time.Now())
			if a.Schedule.Type != typ || a.NextRunAt == nil || !a.NextRunAt.After(time.Now()) || a.NextRunAt.After(want) {
				return fmt.Errorf("want a %s activation due at its next occurrence %v: %+v", typ, want, a)
			}
			if g := a.Guards.Values(); g.MaxRemovalPercent != 20 || g.BlockEmptyResult || g.MinSnapshotForRemovalGuard != 100 {
				return fmt.Errorf("stored guards = %+v", g)
			}
			return nil
		}
	}
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   testAccVersionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkDestroy,
		Steps: []resource.TestStep{
			{Config: activation(false, recurrence), Check: scheduled(schedule.TypeRecurrence)},
			{Config: activation(false, recurrence), PlanOnly: true}, // no diff after apply
			{Config: activation(false, cron), PlanOnly: true, ExpectError: expectError("Cron Schedules Disabled", `workspace "shop"`, "cron_enabled = true")},
			{Config: activation(true, recurrence)}, // enable cron first
			{Config: activation(true, cron), Check: scheduled(schedule.TypeCron)},
			{Config: activation(true, cron), PlanOnly: true},
			{ResourceName: "dinmo_activation.a", ImportState: true, ImportStateVerify: true, ImportStateIdFunc: importID("shop", "export-buyers")},
		},
	})
}

// TestAccActivation_pause: paused is the user's switch. Unset, a pause by the runner (auto)
// or the CLI leaves plans empty; true pauses by the user; false resumes a user pause but
// leaves an automatic one to the runner, still with empty plans afterwards.
func TestAccActivation_pause(t *testing.T) {
	e := newEnv(t, "duckdb")
	dir := t.TempDir()
	config := func(paused string) string {
		return modelHCL(e, "table = \"customers\"\n  primary_key = \"id\"") + `
resource "dinmo_destination" "files" {
  workspace_id = dinmo_workspace.ws.id
  name         = "exports"
  file = {
    directory = "` + dir + `"
  }
}

resource "dinmo_activation" "a" {
  workspace_id   = dinmo_workspace.ws.id
  name           = "export-buyers"
  model_id       = dinmo_model.m.id
  destination_id = dinmo_destination.files.id
  service        = "records"
  sync_mode      = "upsert"
  mappings       = { email = "email" }
  ` + paused + `
}
`
	}
	var id string
	pause := func(paused bool, by string) func() {
		return func() {
			if err := e.store.SetActivationPause(e.ctx, id, paused, "segment vip is broken (not_found)", by); err != nil {
				t.Fatal(err)
			}
		}
	}
	stored := func(paused bool, by string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			a, err := e.store.GetActivation(e.ctx, id)
			if err != nil {
				return err
			}
			if a.Paused != paused || a.PausedBy != by {
				return fmt.Errorf("catalog pause = %v by %q, want %v by %q", a.Paused, a.PausedBy, paused, by)
			}
			return nil
		}
	}
	attrs := func(paused bool, by string) []statecheck.StateCheck {
		return []statecheck.StateCheck{
			statecheck.ExpectKnownValue("dinmo_activation.a", tfjsonpath.New("paused"), knownvalue.Bool(paused)),
			statecheck.ExpectKnownValue("dinmo_activation.a", tfjsonpath.New("paused_by"), knownvalue.StringExact(by)),
		}
	}
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   testAccVersionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkDestroy,
		Steps: []resource.TestStep{
			{Config: config(""), ConfigStateChecks: attrs(false, ""), Check: func(s *terraform.State) error {
				var err error
				id, err = stateID(s, "dinmo_activation.a")
				return err
			}},
			// The runner pauses it: no diff, and an apply leaves the automatic pause alone.
			{PreConfig: pause(true, "auto"), Config: config(""), PlanOnly: true},
			{Config: config(""), ConfigStateChecks: attrs(false, "auto"), Check: stored(true, "auto")},
			{Config: config("paused = false"), ConfigStateChecks: attrs(false, "auto"), Check: stored(true, "auto")},
			{Config: config("paused = false"), PlanOnly: true},
			// paused = true takes it over as a user pause; false resumes it.
			{Config: config("paused = true"), ConfigStateChecks: attrs(true, "user"), Check: resource.ComposeTestCheckFunc(stored(true, "user"),
				resource.TestCheckResourceAttr("dinmo_activation.a", "pause_reason", "paused in Terraform (paused = true)"))},
			{Config: config("paused = true"), PlanOnly: true},
			{Config: config("paused = false"), ConfigStateChecks: attrs(false, ""), Check: stored(false, "")},
			// A CLI pause with paused unset: shown, no diff.
			{PreConfig: pause(true, "user"), Config: config(""), PlanOnly: true},
			{Config: config(""), ConfigStateChecks: attrs(true, "user"), Check: stored(true, "user")},
		},
	})
}

func TestNeedsFullResync(t *testing.T) {
	base := activationModel{
		SegmentID: types.StringValue("seg"), ModelID: types.StringNull(), DestinationID: types.StringValue("dst"),
		Service: types.StringValue("records"), SyncMode: types.StringValue("upsert"), RunType: types.StringValue("delta"),
		Mappings: stringMapValue(map[string]string{"email": "email"}), Description: types.StringValue("a"),
		ServiceOptions: types.MapNull(types.StringType),
	}
	changed := func(f func(*activationModel)) activationModel { m := base; f(&m); return m }
	tests := map[string]struct {
		plan activationModel
		want bool
	}{
		"nothing":     {base, false},
		"description": {changed(func(m *activationModel) { m.Description = types.StringValue("b") }), false},
		"run type":    {changed(func(m *activationModel) { m.RunType = types.StringValue("full") }), false},
		"mappings":    {changed(func(m *activationModel) { m.Mappings = stringMapValue(map[string]string{"mail": "email"}) }), true},
		"sync mode":   {changed(func(m *activationModel) { m.SyncMode = types.StringValue("mirror") }), true},
		"segment":     {changed(func(m *activationModel) { m.SegmentID = types.StringValue("other") }), true},
		"destination": {changed(func(m *activationModel) { m.DestinationID = types.StringValue("other") }), true},
		"service options": {changed(func(m *activationModel) {
			m.ServiceOptions = stringMapValue(map[string]string{"audience_name": "other"})
		}), true},
	}
	for name, tt := range tests {
		if got := needsFullResync(tt.plan, base); got != tt.want {
			t.Errorf("%s: needsFullResync = %v, want %v", name, got, tt.want)
		}
	}
}

// TestAccActivation_incremental creates an incremental activation of an events model with a
// lookback: the lookback is stored in whole seconds and kept as written in the state.
func TestAccActivation_incremental(t *testing.T) {
	e := newEnv(t, "duckdb")
	config := modelHCL(e, "table = \"customers\"\n  primary_key = \"id\"\n  type = \"events\"\n  timestamp_column = \"created_at\"") + `
resource "dinmo_destination" "files" {
  workspace_id = dinmo_workspace.ws.id
  name         = "exports"
  file = {
    directory = "` + t.TempDir() + `"
  }
}

resource "dinmo_activation" "a" {
  workspace_id   = dinmo_workspace.ws.id
  name           = "signups"
  model_id       = dinmo_model.m.id
  destination_id = dinmo_destination.files.id
  service        = "records"
  sync_mode      = "events"
  run_type       = "incremental"
  lookback       = "90m"
  mappings       = { email = "email" }
}
`
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   testAccVersionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkDestroy,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("dinmo_activation.a", tfjsonpath.New("lookback"), knownvalue.StringExact("90m")),
				},
				Check: func(s *terraform.State) error {
					id, err := stateID(s, "dinmo_activation.a")
					if err != nil {
						return err
					}
					a, err := e.store.GetActivation(e.ctx, id)
					if err != nil {
						return err
					}
					if a.RunType != "incremental" || a.Lookback != 90*time.Minute {
						return fmt.Errorf("stored run type %q, lookback %s; want incremental, 1h30m", a.RunType, a.Lookback)
					}
					return nil
				},
			},
			{ResourceName: "dinmo_activation.a", ImportState: true, ImportStateVerify: true, ImportStateIdFunc: importID("shop", "signups"),
				ImportStateVerifyIgnore: []string{"lookback"}}, // imported as "1h30m0s"
		},
	})
}
