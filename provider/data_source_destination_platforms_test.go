package provider

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"dinmo/connectors/destination/braze"
	"dinmo/connectors/destination/hubspot"
	"dinmo/connectors/destination/meta"
	"dinmo/connectors/registry"
)

// TestAccDataSourceDestinationPlatforms reads the platforms and checks a few declarations of
// each kind (services, modes, identifiers, fields, options, limits) against the specs, and
// that outputs can select from it.
func TestAccDataSourceDestinationPlatforms(t *testing.T) {
	e := newEnv(t, "")
	config := e.providerHCL() + `
data "dinmo_destination_platforms" "all" {}

locals {
  meta = one([for p in data.dinmo_destination_platforms.all.platforms : p if p.platform == "meta"])
}

output "platforms" {
  value = [for p in data.dinmo_destination_platforms.all.platforms : p.platform]
}

output "meta_audiences" {
  value = one([for s in local.meta.services : s if s.name == "custom_audiences"])
}
`
	specs := registry.Default().DestinationSpecs()
	names := make([]knownvalue.Check, len(specs))
	for i, s := range specs {
		names[i] = knownvalue.StringExact(s.Platform)
	}
	brazeSpec, _ := braze.New().Spec().Service(braze.ServiceUserAttributes)
	ds := "data.dinmo_destination_platforms.all"
	p := func(i int) tfjsonpath.Path { return tfjsonpath.New("platforms").AtSliceIndex(i) }
	index := map[string]int{}
	for i, s := range specs {
		index[s.Platform] = i
	}
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   testAccVersionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: config,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownOutputValue("platforms", knownvalue.ListExact(names)),
				// Braze: a service with identifiers, custom fields and a rate limit.
				statecheck.ExpectKnownValue(ds, p(index["braze"]).AtMapKey("display_name"), knownvalue.StringExact("Braze")),
				statecheck.ExpectKnownValue(ds, p(index["braze"]).AtMapKey("services").AtSliceIndex(0), knownvalue.ObjectPartial(map[string]knownvalue.Check{
					"name":                knownvalue.StringExact(braze.ServiceUserAttributes),
					"family":              knownvalue.StringExact("objects"),
					"sync_modes":          knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("update"), knownvalue.StringExact("upsert")}),
					"identifiers":         knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("external_id"), knownvalue.StringExact("braze_id")}),
					"require_identifier":  knownvalue.Bool(true),
					"identifier_option":   knownvalue.Null(),
					"allow_custom_fields": knownvalue.Bool(true),
					"max_batch_size":      knownvalue.Int64Exact(int64(brazeSpec.MaxBatchSize)),
					"default_batch_size":  knownvalue.Int64Exact(int64(brazeSpec.DefaultBatchSize)),
					"requests_per_second": knownvalue.Float64Exact(brazeSpec.RequestsPerSecond),
					"options":             knownvalue.ListSizeExact(0),
				})),
				// Braze settings: a required string and a bounded integer with a default.
				statecheck.ExpectKnownValue(ds, p(index["braze"]).AtMapKey("settings").AtSliceIndex(1), knownvalue.ObjectExact(map[string]knownvalue.Check{
					"name":        knownvalue.StringExact(braze.SettingBatchSize),
					"description": knownvalue.NotNull(),
					"type":        knownvalue.StringExact("int"),
					"required":    knownvalue.Bool(false),
					"default":     knownvalue.StringExact("50"),
					"enum":        knownvalue.ListSizeExact(0),
					"min":         knownvalue.Int64Exact(1),
					"max":         knownvalue.Int64Exact(75),
				})),
				// HubSpot contacts: matched on the property id_property names (default email).
				statecheck.ExpectKnownValue(ds, p(index["hubspot"]).AtMapKey("services").AtSliceIndex(0), knownvalue.ObjectPartial(map[string]knownvalue.Check{
					"name":              knownvalue.StringExact(hubspot.ServiceContacts),
					"identifier_option": knownvalue.StringExact(hubspot.OptionIDProperty),
					"options": knownvalue.ListExact([]knownvalue.Check{knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"name": knownvalue.StringExact(hubspot.OptionIDProperty), "default": knownvalue.StringExact("email"),
						"required": knownvalue.Bool(false), "min": knownvalue.Null(), "max": knownvalue.Null(),
					})}),
				})),
				// A credential.
				statecheck.ExpectKnownValue(ds, p(index["hubspot"]).AtMapKey("credentials").AtSliceIndex(0).AtMapKey("name"),
					knownvalue.StringExact(hubspot.CredentialAccessToken)),
			},
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr(ds, "platforms.#", strconv.Itoa(len(specs))),
			),
		}, {
			Config: config,
			ConfigStateChecks: []statecheck.StateCheck{
				// Meta custom audiences, read through the output: hashed PII fields, an enum option
				// with a default, a minimum audience size.
				statecheck.ExpectKnownOutputValue("meta_audiences", knownvalue.ObjectPartial(map[string]knownvalue.Check{
					"name":              knownvalue.StringExact(meta.ServiceCustomAudiences),
					"family":            knownvalue.StringExact("lists"),
					"min_audience_size": knownvalue.Int64Exact(meta.MinAudienceSize),
					"max_batch_size":    knownvalue.Int64Exact(meta.MaxAudienceRows),
					"fields": knownvalue.ListPartial(map[int]knownvalue.Check{0: knownvalue.ObjectExact(map[string]knownvalue.Check{
						"name": knownvalue.StringExact(meta.FieldEmail), "description": knownvalue.NotNull(), "type": knownvalue.StringExact("string"),
						"required": knownvalue.Bool(false), "pii": knownvalue.StringExact("email"), "hashed": knownvalue.Bool(true),
					})}),
					"options": knownvalue.ListPartial(map[int]knownvalue.Check{2: knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"name":    knownvalue.StringExact(meta.OptionCustomerFileSource),
						"default": knownvalue.StringExact(meta.FileSourceUser),
						"enum":    knownvalue.ListSizeExact(3),
					})}),
				})),
			},
		}, {
			// The documentation's example works as written.
			Config: e.providerHCL() + readExample(t, "data-sources/dinmo_destination_platforms/data-source.tf"),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownOutputValue("braze_services", knownvalue.MapPartial(map[string]knownvalue.Check{
					braze.ServiceUserLists: knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("list")}),
				})),
				statecheck.ExpectKnownOutputValue("meta_audience_fields", knownvalue.MapPartial(map[string]knownvalue.Check{
					meta.FieldEmail: knownvalue.Bool(true), meta.FieldMADID: knownvalue.Bool(false),
				})),
			},
		}},
	})
}

// readExample returns an example file of examples/ (the docs include them), so tests prove
// the documented configuration works.
func readExample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", filepath.FromSlash(name)))
	if err != nil {
		t.Fatalf("read example: %v", err)
	}
	return "\n" + string(b)
}
