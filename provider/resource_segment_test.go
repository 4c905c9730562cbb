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

// TestDecodeRules checks the reading of the rules attribute: numbers and booleans as values
// at any depth, unknown keys and non-objects rejected.
func TestDecodeRules(t *testing.T) {
	g, err := decodeRules(`{"match":"all","conditions":[{"column":"age","operator":"gte","value":30}],
		"groups":[{"match":"any","negate":true,"conditions":[{"column":"vip","operator":"equals","value":true},
		{"column":"score","operator":"between","values":[1.5,2]}]}],
		"related":[{"path":["orders"],"quantifier":"count_at_least","count":2,
		"filter":{"match":"all","conditions":[{"column":"amount","operator":"gt","value":100}]}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if *g.Conditions[0].Value != "30" || *g.Groups[0].Conditions[0].Value != "true" ||
		strings.Join(g.Groups[0].Conditions[1].Values, ",") != "1.5,2" || !g.Groups[0].Negate ||
		*g.Related[0].Count != 2 || *g.Related[0].Filter.Conditions[0].Value != "100" {
		t.Errorf("decoded: %+v", g)
	}
	for _, bad := range []string{`[1]`, `{"match":"all","nope":1}`, `{"match":"all"} {}`, `{`, `"x"`} {
		if _, err := decodeRules(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// TestModelErrorPath checks the mapping of segment.ValidateModel paths to attributes.
func TestModelErrorPath(t *testing.T) {
	for in, want := range map[string]string{
		"relationships[1].to_column":               "relationships[1].to_column",
		"calculated[2].filter.conditions[0].value": "calculated_fields[2].filter_json",
		"calculated[0].window.unit":                "calculated_fields[0].window.unit",
		"calculated[0].path[1]":                    "calculated_fields[0].path",
		"calculated[3].expression":                 "calculated_fields[3].expression",
		"primary_key":                              "primary_key",
		"timestamp_column":                         "timestamp_column",
		"view":                                     "",
	} {
		if got := modelErrorPath(in).String(); got != want {
			t.Errorf("%s: got %q, want %q", in, got, want)
		}
	}
}
