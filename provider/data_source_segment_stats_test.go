package provider

import (
	"errors"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"dinmo/connectors/warehouse"
	"dinmo/stats"
)

// segmentsHCL is the seed's customers model with segments declared with conditions and with
// rules (a negated nested group and a membership), and the three statistics data sources.
//
// Seed: 1 FR 34 vip, 2 DE 28, 3 FR 41. fr = {1, 3}; vip = {1}; mixed = NOT(country = FR) OR
// member of vip = {1, 2}.
func segmentsHCL(e *env) string {
	return modelHCL(e, "table = \"customers\"\n  primary_key = \"id\"") + `
resource "dinmo_segment" "fr" {
  workspace_id = dinmo_workspace.ws.id
  model_id     = dinmo_model.m.id
  name         = "fr"
  conditions   = [{ column = "country", operator = "equals", value = "FR" }]
}

resource "dinmo_segment" "vip" {
  workspace_id = dinmo_workspace.ws.id
  model_id     = dinmo_model.m.id
  name         = "vip"
  rules = jsonencode({
    match      = "all"
    conditions = [{ column = "vip", operator = "is_true" }, { column = "age", operator = "gte", value = 18 }]
  })
}

resource "dinmo_segment" "mixed" {
  workspace_id = dinmo_workspace.ws.id
  model_id     = dinmo_model.m.id
  name         = "mixed"
  rules = jsonencode({
    match       = "any"
    groups      = [{ match = "all", negate = true, conditions = [{ column = "country", operator = "equals", value = "FR" }] }]
    memberships = [{ segment = "vip" }]
  })
  depends_on = [dinmo_segment.vip]
}

data "dinmo_segment_stats" "fr" {
  segment_id = dinmo_segment.fr.id
}

data "dinmo_segment_stats" "mixed" {
  segment_id = dinmo_segment.mixed.id
}

data "dinmo_segment_breakdown" "fr" {
  segment_id = dinmo_segment.fr.id
  fields     = ["country", "vip"]
}

data "dinmo_segment_overlap" "o" {
  segment_ids = [dinmo_segment.fr.id, dinmo_segment.vip.id, dinmo_segment.mixed.id]
}
`
}

func testAccSegmentStats(t *testing.T, engine string) {
	e := newStatsEnv(t, engine)
	bd := func(field, value string, count int64, pct float64) knownvalue.Check {
		v := knownvalue.StringExact(value)
		return knownvalue.ObjectExact(map[string]knownvalue.Check{"field": knownvalue.StringExact(field), "value": v,
			"count": knownvalue.Int64Exact(count), "percent": knownvalue.Float64Exact(pct)})
	}
	pair := func(a, b string, common int64, sa, sb float64) knownvalue.Check {
		return knownvalue.ObjectExact(map[string]knownvalue.Check{"a": knownvalue.StringExact(a), "b": knownvalue.StringExact(b),
			"common": knownvalue.Int64Exact(common), "share_of_a": knownvalue.Float64Exact(sa), "share_of_b": knownvalue.Float64Exact(sb)})
	}
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   testAccVersionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkDestroy,
		Steps: []resource.TestStep{{
			Config: segmentsHCL(e),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("data.dinmo_segment_stats.fr", tfjsonpath.New("size"), knownvalue.Int64Exact(2)),
				statecheck.ExpectKnownValue("data.dinmo_segment_stats.fr", tfjsonpath.New("parent_size"), knownvalue.Int64Exact(3)),
				statecheck.ExpectKnownValue("data.dinmo_segment_stats.fr", tfjsonpath.New("share"), knownvalue.Float64Exact(2.0/3)),
				statecheck.ExpectKnownValue("data.dinmo_segment_stats.mixed", tfjsonpath.New("size"), knownvalue.Int64Exact(2)),
				statecheck.ExpectKnownValue("data.dinmo_segment_breakdown.fr", tfjsonpath.New("size"), knownvalue.Int64Exact(2)),
				statecheck.ExpectKnownValue("data.dinmo_segment_breakdown.fr", tfjsonpath.New("values"), knownvalue.ListExact([]knownvalue.Check{
					bd("country", "FR", 2, 100), bd("vip", "false", 1, 50), bd("vip", "true", 1, 50),
				})),
				statecheck.ExpectKnownValue("data.dinmo_segment_overlap.o", tfjsonpath.New("pairs"), knownvalue.ListExact([]knownvalue.Check{
					pair("fr", "vip", 1, 0.5, 1), pair("fr", "mixed", 1, 0.5, 0.5), pair("vip", "mixed", 1, 1, 0.5),
				})),
				statecheck.ExpectKnownValue("data.dinmo_segment_overlap.o", tfjsonpath.New("segments").AtSliceIndex(2).AtMapKey("size"), knownvalue.Int64Exact(2)),
				statecheck.ExpectKnownValue("dinmo_segment.mixed", tfjsonpath.New("compiled_sql"), knownvalue.StringRegexp(regexp.MustCompile(`NOT COALESCE`))),
				statecheck.ExpectKnownValue("dinmo_model.m", tfjsonpath.New("duplicate_key_share"), knownvalue.Float64Exact(0)),
			},
			Check: func(*terraform.State) error {
				// Reading the stats data sources appended to the history table.
				h, err := stats.History(e.ctx, e.wh, mustSegmentID(e, "fr"), 10)
				if err != nil {
					return err
				}
				if len(h) == 0 || h[0].Size != 2 || h[0].ParentSize != 3 {
					return fmt.Errorf("history of fr: %+v", h)
				}
				ok, err := e.wh.RelationExists(e.ctx, warehouse.SchemaStats, stats.HistoryTable)
				if err != nil {
					return err
				}
				if !ok {
					return errors.New("history table missing")
				}
				return nil
			},
		}},
	})
}

func TestAccSegmentStats_duckdb(t *testing.T)   { testAccSegmentStats(t, "duckdb") }
func TestAccSegmentStats_postgres(t *testing.T) { testAccSegmentStats(t, "postgres") }

// mustSegmentID returns the catalog id of a segment of the test's workspace "shop".
func mustSegmentID(e *env, name string) string {
	e.t.Helper()
	ws, err := e.store.GetWorkspaceByName(e.ctx, "shop")
	if err != nil {
		e.t.Fatal(err)
	}
	s, err := e.store.GetSegmentByName(e.ctx, ws.ID, name)
	if err != nil {
		e.t.Fatal(err)
	}
	return s.ID
}

// newStatsEnv is newEnv whose source block carries the PostgreSQL role's password.
func newStatsEnv(t *testing.T, engine string) *env {
	e := newEnv(t, engine)
	if e.pg != nil {
		e.sourceBlock += "\n  credentials_wo = {\n    password = " + fmt.Sprintf("%q", e.pg.password) + "\n  }\n  credentials_wo_version = \"1\""
	}
	return e
}
