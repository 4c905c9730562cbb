package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"dinmo/connectors/registry"
	"dinmo/connectors/warehouse/duckdb"
)

// TestAccDataSourceWarehouseEngines reads the engines and checks them against the registry:
// names in order, availability, and DuckDB's declared settings.
func TestAccDataSourceWarehouseEngines(t *testing.T) {
	e := newEnv(t, "")
	specs := registry.Default().WarehouseSpecs()
	engines := make([]knownvalue.Check, len(specs))
	available := map[string]knownvalue.Check{}
	var availableNames []knownvalue.Check
	duck := 0
	for i, s := range specs {
		engines[i] = knownvalue.StringExact(string(s.Engine))
		available[string(s.Engine)] = knownvalue.Bool(s.Available)
		if s.Available {
			availableNames = append(availableNames, knownvalue.StringExact(string(s.Engine)))
		}
		if s.Engine == "duckdb" {
			duck = i
		}
	}
	duckSpec := specs[duck]
	settings := make([]knownvalue.Check, len(duckSpec.Settings))
	for i, f := range duckSpec.Settings {
		settings[i] = knownvalue.ObjectPartial(map[string]knownvalue.Check{
			"name": knownvalue.StringExact(f.Name), "type": knownvalue.StringExact(string(f.Type)), "required": knownvalue.Bool(f.Required),
		})
	}
	ds := "data.dinmo_warehouse_engines.all"
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   testAccVersionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: e.providerHCL() + `
data "dinmo_warehouse_engines" "all" {}

output "engines" {
  value = [for x in data.dinmo_warehouse_engines.all.engines : x.engine]
}

output "available" {
  value = { for x in data.dinmo_warehouse_engines.all.engines : x.engine => x.available }
}
`,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownOutputValue("engines", knownvalue.ListExact(engines)),
				statecheck.ExpectKnownOutputValue("available", knownvalue.ObjectExact(available)),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("engines").AtSliceIndex(duck), knownvalue.ObjectPartial(map[string]knownvalue.Check{
					"engine":      knownvalue.StringExact("duckdb"),
					"available":   knownvalue.Bool(true),
					"settings":    knownvalue.ListExact(settings),
					"credentials": knownvalue.ListSizeExact(len(duckSpec.Credentials)),
				})),
				statecheck.ExpectKnownValue(ds, tfjsonpath.New("engines").AtSliceIndex(duck).AtMapKey("settings").AtSliceIndex(0).AtMapKey("name"),
					knownvalue.StringExact(duckdb.SettingPath)),
			},
		}, {
			// The documentation's example works as written.
			Config: e.providerHCL() + readExample(t, "data-sources/dinmo_warehouse_engines/data-source.tf"),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownOutputValue("available_engines", knownvalue.ListExact(availableNames)),
				statecheck.ExpectKnownOutputValue("postgres_settings", knownvalue.MapPartial(map[string]knownvalue.Check{
					"port": knownvalue.StringExact("5432"),
				})),
			},
		}},
	})
}
