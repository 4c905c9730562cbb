package provider

import (
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
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
