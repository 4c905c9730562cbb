package provider

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/jackc/pgx/v5"
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

// graphHCL is a customers model (buyers) and an orders model with relationships both ways,
// aggregate and formula calculated fields, and a segment using a related-model condition with
// a filter and a window, an aggregate condition and a calculated field.
//
// Orders: customer 1 has two paid orders (120, 30), customer 2 one refunded order (50),
// customer 3 one paid order (200). paid_total = 150, 0, 200; orders_count = 2, 1, 1;
// avg_basket = 75, 0, 200. big = customers with a paid order in 2024, an order of at least
// 100, and avg_basket >= 100 = {3}.
func graphHCL(e *env, calcColumn string) string {
	return e.providerHCL() + fmt.Sprintf(`
resource "dinmo_workspace" "ws" {
  name = "shop"
}

resource "dinmo_source" "src" {
  workspace_id = dinmo_workspace.ws.id
  name         = "warehouse"
  %s
}

resource "dinmo_model" "orders" {
  workspace_id     = dinmo_workspace.ws.id
  source_id        = dinmo_source.src.id
  name             = "orders"
  type             = "events"
  table            = "orders"
  primary_key      = "order_id"
  timestamp_column = "ordered_at"
  relationships = [
    { name = "customer", to = "buyers", kind = "many_to_one", from_column = "customer_id", to_column = "id" },
  ]
}

resource "dinmo_model" "m" {
  workspace_id = dinmo_workspace.ws.id
  source_id    = dinmo_source.src.id
  name         = "buyers"
  table        = "customers"
  primary_key  = "id"
  fields = [
    { column = "country", categorical = true, semantic = "country", display_name = "Country" },
    { column = "email", semantic = "email", categorical = false },
    { column = "age", type = "number" },
  ]
  relationships = [
    { name = "orders", to = "orders", kind = "one_to_many", from_column = "id", to_column = "customer_id" },
  ]
  calculated_fields = [
    {
      name = "paid_total", kind = "aggregate", path = ["orders"], function = "sum", column = %q
      filter_json = jsonencode({ match = "all", conditions = [{ column = "status", operator = "equals", value = "paid" }] })
    },
    { name = "orders_count", kind = "aggregate", path = ["orders"], function = "count", window = { from = "2024-01-01" } },
    { name = "avg_basket", kind = "formula", expression = "paid_total / orders_count" },
  ]
  depends_on = [dinmo_model.orders]
}

resource "dinmo_segment" "big" {
  workspace_id = dinmo_workspace.ws.id
  model_id     = dinmo_model.m.id
  name         = "big"
  rules = jsonencode({
    match = "all"
    conditions = [{ column = "avg_basket", operator = "gte", value = 100 }]
    related = [{
      path = ["orders"], quantifier = "count_at_least", count = 1
      filter = { match = "all", conditions = [{ column = "status", operator = "equals", value = "paid" }] }
      window = { from = "2024-01-01", to = "2024-12-31" }
    }]
    aggregates = [{ path = ["orders"], function = "max", column = "amount", operator = "gte", value = 100 }]
  })
}

data "dinmo_segment_stats" "big" {
  segment_id = dinmo_segment.big.id
}
`, e.sourceBlock, calcColumn)
}

const ordersSQL = `CREATE TABLE orders (order_id INTEGER, customer_id INTEGER, amount DECIMAL(10,2), status VARCHAR(10), ordered_at TIMESTAMP);
INSERT INTO orders VALUES (10, 1, 120.00, 'paid', '2024-03-01 10:00:00'), (11, 1, 30.00, 'paid', '2024-04-01 10:00:00'),
 (12, 2, 50.00, 'refunded', '2024-04-02 10:00:00'), (13, 3, 200.00, 'paid', '2024-05-01 10:00:00')`

func testAccModelGraph(t *testing.T, engine string) {
	e := newStatsEnv(t, engine)
	for _, stmt := range strings.Split(ordersSQL, ";") {
		if _, err := e.wh.DB().ExecContext(e.ctx, stmt); err != nil {
			t.Fatalf("seed orders: %v", err)
		}
	}
	if e.pg != nil {
		if _, err := e.wh.DB().ExecContext(e.ctx, "GRANT SELECT ON orders TO "+pgx.Identifier{e.pg.role}.Sanitize()); err != nil {
			t.Fatal(err)
		}
	}
	breakdown := func(field string) string {
		return graphHCL(e, "amount") + `
data "dinmo_segment_breakdown" "b" {
  segment_id = dinmo_segment.big.id
  fields     = [` + fmt.Sprintf("%q", field) + `]
}
`
	}
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   testAccVersionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkDestroy,
		Steps: []resource.TestStep{
			{
				Config: graphHCL(e, "amount"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.dinmo_segment_stats.big", tfjsonpath.New("size"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("dinmo_segment.big", tfjsonpath.New("compiled_sql"), knownvalue.StringRegexp(regexp.MustCompile(`AS "avg_basket"`))),
					statecheck.ExpectKnownValue("dinmo_model.m", tfjsonpath.New("relationships").AtSliceIndex(0).AtMapKey("to"), knownvalue.StringExact("orders")),
					statecheck.ExpectKnownValue("dinmo_model.m", tfjsonpath.New("fields").AtSliceIndex(0).AtMapKey("categorical"), knownvalue.Bool(true)),
				},
				Check: func(*terraform.State) error {
					// The segment's view selects the calculated fields after the model's columns.
					var id int64
					var total, basket float64
					q := `SELECT id, paid_total, avg_basket FROM dinmo_segments.segment_big`
					if err := e.wh.DB().QueryRowContext(e.ctx, q).Scan(&id, &total, &basket); err != nil {
						return fmt.Errorf("%s: %w", q, err)
					}
					if id != 3 || total != 200 || basket != 200 {
						return fmt.Errorf("segment_big: id %d, paid_total %v, avg_basket %v", id, total, basket)
					}
					return nil
				},
			},
			{
				// Plan-time validation of calculated fields against the related model.
				Config:      graphHCL(e, "nope"),
				PlanOnly:    true,
				ExpectError: expectError("Invalid Model", "calculated[0].column", "nope"),
			},
			{
				Config: breakdown("country"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("data.dinmo_segment_breakdown.b", tfjsonpath.New("values"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectExact(map[string]knownvalue.Check{"field": knownvalue.StringExact("country"), "value": knownvalue.StringExact("FR"),
							"count": knownvalue.Int64Exact(1), "percent": knownvalue.Float64Exact(100)}),
					})),
				},
			},
			{
				Config:      breakdown("email"),
				ExpectError: expectError("Cannot Compute Segment Breakdown", `Field "email" of model "buyers" is not categorical`),
			},
			{
				// A new calculated field appears in the segment's view; removing it again
				// (next step) re-creates the view without it.
				Config: strings.Replace(graphHCL(e, "amount"), `{ name = "avg_basket"`,
					`{ name = "max_order", kind = "aggregate", path = ["orders"], function = "max", column = "amount" },
    { name = "avg_basket"`, 1),
				Check: func(*terraform.State) error {
					var m float64
					return e.wh.DB().QueryRowContext(e.ctx, `SELECT max_order FROM dinmo_segments.segment_big`).Scan(&m)
				},
			},
			{
				Config: graphHCL(e, "amount"),
				Check: func(*terraform.State) error {
					var m float64
					if err := e.wh.DB().QueryRowContext(e.ctx, `SELECT max_order FROM dinmo_segments.segment_big`).Scan(&m); err == nil {
						return errors.New("segment_big still has max_order")
					}
					return nil
				},
			},
			{
				Config:           graphHCL(e, "amount"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				ResourceName: "dinmo_model.m", ImportState: true, ImportStateId: "shop/buyers", ImportStateVerify: true,
				// jsonencode sorts keys; the catalog keeps its own order, so the imported text differs.
				ImportStateVerifyIgnore: []string{"calculated_fields.0.filter_json", "fields.1.categorical"},
			},
		},
	})
}

func TestAccModelGraph_duckdb(t *testing.T)   { testAccModelGraph(t, "duckdb") }
func TestAccModelGraph_postgres(t *testing.T) { testAccModelGraph(t, "postgres") }

// materializedHCL is modelHCL with a source stats schedule and a model materialised as table
// (mat is the model's materialization attribute, "" for none).
func materializedHCL(e *env, mat string) string {
	cfg := modelHCL(e, "table = \"customers\"\n  primary_key = \"id\"\n  "+mat)
	return strings.Replace(cfg, "  name         = \"warehouse\"\n",
		"  name         = \"warehouse\"\n  stats_schedule = { type = \"interval\", every = \"12h\", at = \"02:00\" }\n", 1)
}

// testAccModelMaterialization: a table model gets its table and a view reading it (a snapshot
// until refreshed), imports and plans empty; a table dropped behind Terraform's back is drift
// that apply repairs; going back to live drops the table; a refresh schedule on a live model
// and a bad stats schedule fail at plan.
func testAccModelMaterialization(t *testing.T, engine string) {
	e := newStatsEnv(t, engine)
	const table = `materialization = { mode = "table", refresh = { type = "interval", every = "6h" } }`
	tableExists := func(want bool) resource.TestCheckFunc {
		return func(*terraform.State) error {
			ok, err := e.wh.RelationExists(e.ctx, "dinmo_segments", "mat_buyers")
			if err != nil {
				return err
			}
			if ok != want {
				return fmt.Errorf("table dinmo_segments.mat_buyers: exists = %v, want %v", ok, want)
			}
			return nil
		}
	}
	rowsInView := func(want int) resource.TestCheckFunc {
		return func(*terraform.State) error {
			var n int
			if err := e.wh.DB().QueryRowContext(e.ctx, "SELECT count(*) FROM dinmo_segments.model_buyers").Scan(&n); err != nil {
				return err
			}
			if n != want {
				return fmt.Errorf("model_buyers has %d rows, want %d", n, want)
			}
			return nil
		}
	}
	execWH := func(q string) {
		if _, err := e.wh.DB().ExecContext(e.ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   testAccVersionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkDestroy,
		Steps: []resource.TestStep{
			{
				Config: materializedHCL(e, table),
				Check:  resource.ComposeAggregateTestCheckFunc(tableExists(true), e.checkViews(true, "model_buyers"), rowsInView(3)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("dinmo_model.m", tfjsonpath.New("materialization").AtMapKey("mode"), knownvalue.StringExact("table")),
					statecheck.ExpectKnownValue("dinmo_model.m", tfjsonpath.New("materialization").AtMapKey("refresh").AtMapKey("every"), knownvalue.StringExact("6h")),
					statecheck.ExpectKnownValue("dinmo_source.src", tfjsonpath.New("stats_schedule").AtMapKey("at"), knownvalue.StringExact("02:00")),
				},
			},
			{
				// A new row in the source is not in the table until the runner refreshes it.
				PreConfig: func() {
					execWH("INSERT INTO customers (id, email, country, age, vip) VALUES (99, 'new@example.com', 'FR', 20, false)")
				},
				Config:           materializedHCL(e, table),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            rowsInView(3),
			},
			{
				ResourceName: "dinmo_model.m", ImportState: true, ImportStateId: "shop/buyers", ImportStateVerify: true,
			},
			{
				ResourceName: "dinmo_source.src", ImportState: true, ImportStateId: "shop/warehouse", ImportStateVerify: true,
			},
			{
				// The table dropped behind Terraform's back: the plan shows an update, apply rebuilds it.
				PreConfig: func() {
					stmt := "DROP TABLE dinmo_segments.mat_buyers"
					if engine == "postgres" {
						stmt += " CASCADE" // the model's view depends on it
					}
					execWH(stmt)
				},
				Config: materializedHCL(e, table),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("dinmo_model.m", plancheck.ResourceActionUpdate),
				}},
				// The rebuilt table holds the source's current rows.
				Check: resource.ComposeAggregateTestCheckFunc(tableExists(true), rowsInView(4)),
			},
			{
				// A changed refresh schedule is an in-place update that rebuilds nothing.
				Config: materializedHCL(e, `materialization = { mode = "table", refresh = { type = "recurrence", rules = [{ days = ["mon"], times = ["06:00"] }] } }`),
				Check:  tableExists(true),
			},
			{
				// Destroying a table model drops its view and its table.
				Config: materializedHCL(e, table)[:strings.Index(materializedHCL(e, table), `resource "dinmo_model"`)],
				Check:  resource.ComposeAggregateTestCheckFunc(tableExists(false), e.checkViews(false, "model_buyers")),
			},
			{
				Config:      materializedHCL(e, `materialization = { mode = "live", refresh = { type = "interval", every = "1h" } }`),
				ExpectError: regexp.MustCompile(`(?s)Refresh Schedule On A Live Model.*nothing to refresh`),
			},
			{
				Config:      strings.Replace(materializedHCL(e, table), `every = "12h"`, `every = "30s"`, 1),
				ExpectError: regexp.MustCompile(`(?s)Invalid Schedule.*dinmo_source.src.*shorter than the minimum of 1m`),
			},
			{
				// Back to live: the view runs the query and the table is dropped.
				Config: materializedHCL(e, ""),
				Check:  resource.ComposeAggregateTestCheckFunc(tableExists(false), e.checkViews(true, "model_buyers"), rowsInView(4)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("dinmo_model.m", tfjsonpath.New("materialization"), knownvalue.Null()),
				},
			},
			{
				PreConfig:        func() { execWH("DELETE FROM customers WHERE id = 99") },
				Config:           materializedHCL(e, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}

func TestAccModelMaterialization_duckdb(t *testing.T)   { testAccModelMaterialization(t, "duckdb") }
func TestAccModelMaterialization_postgres(t *testing.T) { testAccModelMaterialization(t, "postgres") }
