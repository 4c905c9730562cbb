package provider

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// TestAccSegment_planErrors checks that conditions are validated against the model's columns
// at plan time, with the error at the condition at fault.
func TestAccSegment_planErrors(t *testing.T) {
	e := newEnv(t, "duckdb")
	base := modelHCL(e, "table = \"customers\"\n  primary_key = \"id\"")
	segment := func(conditions string) string {
		return base + `
resource "dinmo_segment" "s" {
  workspace_id = dinmo_workspace.ws.id
  model_id     = dinmo_model.m.id
  name         = "seg"
  conditions = [
    ` + conditions + `
  ]
}
`
	}
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   testAccVersionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkDestroy,
		Steps: []resource.TestStep{
			{Config: base},
			{
				Config:      segment(`{ column = "country", operator = "equals", value = "FR" }, { column = "nope", operator = "equals", value = "x" }`),
				PlanOnly:    true,
				ExpectError: expectError("Invalid Segment Condition", "conditions[1].column", "nope"),
			},
			{
				Config:      segment(`{ column = "country", operator = "gt", value = "FR" }`),
				PlanOnly:    true,
				ExpectError: expectError("Invalid Segment Condition", "conditions[0].operator"),
			},
			{
				Config:      segment(`{ column = "age", operator = "gte", value = "thirty" }`),
				PlanOnly:    true,
				ExpectError: expectError("Invalid Segment Condition", "conditions[0].value"),
			},
			{
				Config:      segment(`{ column = "age", operator = "like", value = "3" }`),
				PlanOnly:    true,
				ExpectError: expectError("value must be one of"),
			},
			{
				Config: segment(`{ column = "age", operator = "between", values = ["30", "40"] }`),
			},
			{
				// A model change that removes a column a segment uses fails before anything
				// changes, naming the segment and its condition.
				Config: strings.Replace(segment(`{ column = "age", operator = "between", values = ["30", "40"] }`),
					`table = "customers"`, `sql = "SELECT id, email FROM customers"`, 1),
				ExpectError: expectError("Cannot Update Model", `segment "seg", conditions[0].column`, `unknown column "age"`),
			},
			{
				Config:           segment(`{ column = "age", operator = "between", values = ["30", "40"] }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            e.checkViews(true, "model_buyers", "segment_seg"),
			},
		},
	})
}

// TestAccSegment_rules checks the rules attribute: JSON and format errors at rules, tree
// errors naming the exact place in the tree, the conflicts with match and conditions,
// membership cycles, and an empty plan after apply (the configuration's JSON text is kept).
func TestAccSegment_rules(t *testing.T) {
	e := newEnv(t, "duckdb")
	base := modelHCL(e, "table = \"customers\"\n  primary_key = \"id\"")
	seg := func(name, body string) string {
		return `
resource "dinmo_segment" "` + name + `" {
  workspace_id = dinmo_workspace.ws.id
  model_id     = dinmo_model.m.id
  name         = "` + name + `"
  ` + body + `
}
`
	}
	good := seg("a", `rules = jsonencode({
    match  = "any"
    groups = [{ match = "all", negate = true, groups = [{ match = "any", conditions = [{ column = "age", operator = "between", values = [30, 40] }] }] }]
    conditions = [{ column = "created_at", operator = "in_last", value = 3, unit = "years" }]
  })`)
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   testAccVersionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkDestroy,
		Steps: []resource.TestStep{
			{Config: base},
			{
				Config:      base + seg("a", `rules = "{not json"`),
				PlanOnly:    true,
				ExpectError: expectError("Invalid Segment Rules", "not valid JSON"),
			},
			{
				Config:      base + seg("a", `rules = jsonencode({ match = "all", nope = 1 })`),
				PlanOnly:    true,
				ExpectError: expectError("Invalid Segment Rules", "nope"),
			},
			{
				Config:      base + seg("a", `match = "any"`+"\n  "+`rules = jsonencode({ match = "all" })`),
				PlanOnly:    true,
				ExpectError: expectError("match cannot be set together with rules"),
			},
			{
				Config:      base + seg("a", `conditions = [{ column = "age", operator = "gt", value = "3" }]`+"\n  "+`rules = jsonencode({ match = "all" })`),
				PlanOnly:    true,
				ExpectError: expectError("Invalid Attribute Combination"),
			},
			{
				Config:      base + seg("a", `rules = jsonencode({ match = "all", groups = [{ match = "any", conditions = [{ column = "age", operator = "gt", value = "x" }] }] })`),
				PlanOnly:    true,
				ExpectError: expectError("Invalid Segment Condition", "Rules at groups[0].conditions[0].value"),
			},
			{
				Config: base + seg("a", `rules = jsonencode({ match = "all", memberships = [{ segment = "b" }] })`) +
					seg("b", `rules = jsonencode({ match = "all", memberships = [{ segment = "a" }] })`),
				PlanOnly:    true,
				ExpectError: expectError("Invalid Segment Condition"),
			},
			{
				Config: base + good,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("dinmo_segment.a", tfjsonpath.New("compiled_sql"), knownvalue.StringRegexp(regexp.MustCompile(`NOT COALESCE\(.*BETWEEN 30 AND 40`))),
				},
				Check: e.checkViews(true, "segment_a"),
			},
			{
				Config:           base + good,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				ResourceName: "dinmo_segment.a", ImportState: true, ImportStateId: "shop/a", ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"rules"},
			},
		},
	})
}
