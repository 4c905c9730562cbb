package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// modelHCL is a workspace, a DuckDB or PostgreSQL source and one model with the given body.
func modelHCL(e *env, modelBody string) string {
	return e.providerHCL() + fmt.Sprintf(`
resource "dinmo_workspace" "ws" {
  name = "shop"
}

resource "dinmo_source" "src" {
  workspace_id = dinmo_workspace.ws.id
  name         = "warehouse"
  %s
}

resource "dinmo_model" "m" {
  workspace_id = dinmo_workspace.ws.id
  source_id    = dinmo_source.src.id
  name         = "buyers"
  %s
}
`, e.sourceBlock, modelBody)
}

// TestAccModel_errors checks that a model the warehouse cannot run fails at apply with the
// warehouse's message at the sql attribute, that a primary key outside the columns fails naming
// the columns, and that neither leaves a view behind.
func TestAccModel_errors(t *testing.T) {
	e := newEnv(t, "duckdb")
	noView := func() {
		if err := e.checkViews(false, "model_buyers")(nil); err != nil {
			t.Fatal(err)
		}
	}
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   testAccVersionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkDestroy,
		Steps: []resource.TestStep{
			{
				Config:      modelHCL(e, "sql = \"SELEC id FROM customers\"\n  primary_key = \"id\""),
				ExpectError: expectError("Cannot Create Model", "rejected the model's SQL", "syntax error"),
			},
			{
				PreConfig:   noView,
				Config:      modelHCL(e, "sql = \"SELECT id, email FROM no_such_table\"\n  primary_key = \"id\""),
				ExpectError: expectError("Cannot Create Model", "no_such_table"),
			},
			{
				PreConfig:   noView,
				Config:      modelHCL(e, "table = \"customers\"\n  primary_key = \"customer_id\""),
				ExpectError: expectError(`primary key "customer_id" is not a column`, "id, email, country, age, vip, created_at"),
			},
			{
				Config:      modelHCL(e, "table = \"customers\"\n  sql = \"SELECT 1 AS id\"\n  primary_key = \"id\""),
				ExpectError: expectError("Invalid Attribute Combination"),
			},
			{
				PreConfig: noView,
				Config:    modelHCL(e, "sql = \"SELECT id AS customer_id, email FROM customers\"\n  primary_key = \"customer_id\"\n  type = \"custom\""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("dinmo_model.m", tfjsonpath.New("columns"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectExact(map[string]knownvalue.Check{"name": knownvalue.StringExact("customer_id"), "type": knownvalue.StringExact("INTEGER"), "category": knownvalue.StringExact("integer")}),
						knownvalue.ObjectExact(map[string]knownvalue.Check{"name": knownvalue.StringExact("email"), "type": knownvalue.StringExact("VARCHAR"), "category": knownvalue.StringExact("string")}),
					})),
					statecheck.ExpectKnownValue("dinmo_model.m", tfjsonpath.New("type"), knownvalue.StringExact("custom")),
				},
				Check: e.checkViews(true, "model_buyers"),
			},
			{
				// An update the warehouse refuses keeps the old view.
				Config:      modelHCL(e, "sql = \"SELECT id AS customer_id, nope FROM customers\"\n  primary_key = \"customer_id\"\n  type = \"custom\""),
				ExpectError: expectError("Cannot Update Model", "nope"),
			},
			{
				Config: modelHCL(e, "sql = \"SELECT id AS customer_id, email FROM customers\"\n  primary_key = \"customer_id\"\n  type = \"custom\""),
				Check:  e.checkViews(true, "model_buyers"),
			},
		},
	})
}

// testAccModelDuplicateKeys checks the duplicate primary key rule: more than 5% of NULL or
// repeated keys fails naming the key and the share, 5% or less succeeds (with a warning) and
// exposes the share.
func testAccModelDuplicateKeys(t *testing.T, engine string) {
	e := newStatsEnv(t, engine)
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   testAccVersionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkDestroy,
		Steps: []resource.TestStep{
			{
				// FR twice and DE once: one row in three repeats a key.
				Config:      modelHCL(e, "sql = \"SELECT country AS k FROM customers\"\n  primary_key = \"k\""),
				ExpectError: expectError("Cannot Create Model", `primary key "k" is not unique: 33.33%`, "(1 of 3)", "more than the 5%"),
			},
			{
				PreConfig: func() {
					if err := e.checkViews(false, "model_buyers")(nil); err != nil {
						t.Fatal(err)
					}
				},
				// A NULL key counts as invalid too: 2 of 21 rows.
				Config:      modelHCL(e, "sql = \"SELECT g AS id FROM generate_series(1, 19) AS t(g) UNION ALL SELECT 1 UNION ALL SELECT NULL\"\n  primary_key = \"id\""),
				ExpectError: expectError("Cannot Create Model", `primary key "id" is not unique: 9.52%`, "(2 of 21)"),
			},
			{
				// 40 distinct keys and one repeat: 1 of 41 rows, under 5%: a warning.
				Config: modelHCL(e, "sql = \"SELECT g AS id FROM generate_series(1, 40) AS t(g) UNION ALL SELECT 1\"\n  primary_key = \"id\""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("dinmo_model.m", tfjsonpath.New("duplicate_key_share"), knownvalue.Float64Exact(1.0/41)),
				},
			},
		},
	})
}

func TestAccModelDuplicateKeys_duckdb(t *testing.T)   { testAccModelDuplicateKeys(t, "duckdb") }
func TestAccModelDuplicateKeys_postgres(t *testing.T) { testAccModelDuplicateKeys(t, "postgres") }
