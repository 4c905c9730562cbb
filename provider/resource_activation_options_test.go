package provider

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"dinmo/catalog"
	"dinmo/connectors"
	"dinmo/connectors/destination"
	"dinmo/connectors/destination/braze/brazefake"
	"dinmo/connectors/destination/meta/metafake"
	"dinmo/connectors/registry"
)

// optionsPlatform declares a service with integer, required and no options, which no built-in
// platform has.
type optionsPlatform struct{}

func (optionsPlatform) Spec() destination.PlatformSpec {
	return destination.PlatformSpec{Platform: "stub", Services: []destination.ServiceSpec{
		{
			Name: "windows", RunTypes: []destination.RunType{destination.RunDelta}, SyncModes: []destination.SyncMode{destination.ModeUpsert},
			MaxBatchSize: 10, DefaultBatchSize: 10, AllowCustomFields: true,
			Options: []connectors.ConfigField{
				{Name: "window_days", Type: connectors.FieldInt, Min: 1, Max: 30, Description: "Days."},
				{Name: "label", Type: connectors.FieldString, Required: true, Description: "A label."},
				{Name: "tags", Type: connectors.FieldStringList},
			},
		},
		{
			Name: "plain", RunTypes: []destination.RunType{destination.RunDelta}, SyncModes: []destination.SyncMode{destination.ModeUpsert},
			MaxBatchSize: 10, DefaultBatchSize: 10, AllowCustomFields: true,
		},
	}}
}

func (optionsPlatform) Check(context.Context, destination.OpenParams) error { return nil }

func (optionsPlatform) Open(context.Context, destination.OpenParams) (destination.Destination, error) {
	return nil, nil
}

// TestValidateServiceOptionsAndIdentifiers checks the plan-time rules derived from the
// platforms' declarations: service options (unknown keys, required options, typed values,
// enums and bounds) and identifier mappings (RequireIdentifier and IdentifierOption).
func TestValidateServiceOptionsAndIdentifiers(t *testing.T) {
	reg, err := registry.New(nil, append(registry.Destinations(), optionsPlatform{}))
	if err != nil {
		t.Fatal(err)
	}
	r := &activationResource{resourceBase{data: &providerData{Registry: reg}}}
	unknown := types.MapUnknown(types.StringType)
	tests := []struct {
		name     string
		platform string
		service  string
		mode     string
		mappings map[string]string
		options  map[string]string
		rawOpts  *types.Map // overrides options (unknown values)
		want     map[string]any
		errs     []string // each must appear in some diagnostic (summary + detail); none: no error
	}{
		{
			name: "braze subscription ok", platform: "braze", service: "subscription_status", mode: "list",
			mappings: map[string]string{"external_id": "id", "email": "email"}, options: map[string]string{"subscription_group_id": "grp-1"},
			want: map[string]any{"subscription_group_id": "grp-1"},
		},
		{
			name: "required option missing", platform: "braze", service: "subscription_status", mode: "list",
			mappings: map[string]string{"external_id": "id"},
			errs:     []string{"Missing Service Option", `requires option "subscription_group_id"`, `Add "subscription_group_id"`},
		},
		{
			name: "unknown option", platform: "braze", service: "subscription_status", mode: "list",
			mappings: map[string]string{"external_id": "id"}, options: map[string]string{"subscription_group_id": "g", "colour": "red"},
			errs: []string{"Unknown Service Option", `has no option "colour"`, "Options of this service: subscription_group_id."},
		},
		{
			name: "enum", platform: "braze", service: "track_events", mode: "events",
			mappings: map[string]string{"external_id": "id", "time": "at"}, options: map[string]string{"event_type": "refund"},
			errs: []string{"Invalid Service Option", `Option "event_type"`, `"refund" is not allowed; use one of custom, purchase`},
		},
		{
			name: "bool parse error names the key", platform: "braze", service: "track_events", mode: "events",
			mappings: map[string]string{"external_id": "id", "time": "at"}, options: map[string]string{"event_name": "x", "update_existing_only": "maybe"},
			errs: []string{"Invalid Service Option", `Option "update_existing_only"`, `"maybe" is not a boolean`},
		},
		{
			name: "typed options", platform: "braze", service: "track_events", mode: "events",
			mappings: map[string]string{"external_id": "id", "time": "at", "amount": "amount"},
			options:  map[string]string{"event_name": "order_completed", "update_existing_only": "TRUE"},
			want:     map[string]any{"event_name": "order_completed", "update_existing_only": true},
		},
		{
			name: "required field", platform: "braze", service: "track_events", mode: "events",
			mappings: map[string]string{"external_id": "id"}, options: map[string]string{"event_name": "x"},
			errs: []string{"Missing Required Field", `requires field "time"`},
		},
		{
			name: "identifier required", platform: "braze", service: "user_attributes", mode: "upsert",
			mappings: map[string]string{"email": "email", "first_name": "first_name"},
			errs:     []string{"Missing Identifier Mapping", "needs at least one identifier mapped: external_id, braze_id"},
		},
		{
			name: "no custom fields", platform: "meta", service: "custom_audiences", mode: "list",
			mappings: map[string]string{"email": "email", "phone_number": "phone"},
			errs:     []string{"Unknown Destination Field", `has no field "phone_number"`},
		},
		{
			name: "meta audience ok", platform: "meta", service: "custom_audiences", mode: "list",
			mappings: map[string]string{"email": "email", "external_id": "id"}, options: map[string]string{"audience_name": "VIP"},
			want: map[string]any{"audience_name": "VIP"},
		},
		{
			name: "hubspot identifier option", platform: "hubspot", service: "contacts", mode: "upsert",
			mappings: map[string]string{"email": "email"}, options: map[string]string{"id_property": "customer_ref"},
			errs: []string{"Missing Identifier Mapping", `identifies records by field "customer_ref" (option id_property)`},
		},
		{
			name: "hubspot identifier default", platform: "hubspot", service: "contacts", mode: "upsert",
			mappings: map[string]string{"firstname": "first_name"},
			errs:     []string{"Missing Identifier Mapping", `field "email" (option id_property)`},
		},
		{
			name: "hubspot default mapped", platform: "hubspot", service: "contacts", mode: "upsert",
			mappings: map[string]string{"email": "email", "firstname": "first_name"},
		},
		{
			name: "hubspot companies need the option", platform: "hubspot", service: "companies", mode: "upsert",
			mappings: map[string]string{"name": "name"},
			errs:     []string{"Missing Service Option", `"id_property"`},
		},
		{
			name: "hubspot options not known yet", platform: "hubspot", service: "contacts", mode: "upsert",
			mappings: map[string]string{"firstname": "first_name"}, rawOpts: &unknown,
		},
		{
			name: "int below minimum", platform: "stub", service: "windows", mode: "upsert",
			options: map[string]string{"label": "l", "window_days": "0"},
			errs:    []string{`Option "window_days"`, "0 is below the minimum 1"},
		},
		{
			name: "int parse error", platform: "stub", service: "windows", mode: "upsert",
			options: map[string]string{"label": "l", "window_days": "a week"},
			errs:    []string{`Option "window_days"`, `"a week" is not a whole number`},
		},
		{
			name: "int and list", platform: "stub", service: "windows", mode: "upsert",
			options: map[string]string{"label": "l", "window_days": "30", "tags": `["a","b"]`},
			want:    map[string]any{"label": "l", "window_days": int64(30), "tags": []string{"a", "b"}},
		},
		{
			name: "required string empty", platform: "stub", service: "windows", mode: "upsert",
			options: map[string]string{"label": " "},
			errs:    []string{`Option "label"`, "must not be empty"},
		},
		{
			name: "service without options", platform: "stub", service: "plain", mode: "upsert",
			options: map[string]string{"x": "1"},
			errs:    []string{"Unknown Service Option", "This service has no options: remove service_options."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := activationModel{
				Service: types.StringValue(tt.service), SyncMode: types.StringValue(tt.mode), RunType: types.StringValue("delta"),
				Mappings: stringMapValue(tt.mappings), ServiceOptions: stringMapValue(tt.options),
			}
			if tt.rawOpts != nil {
				p.ServiceOptions = *tt.rawOpts
			}
			var d diag.Diagnostics
			mappings, known := stringMap(p.Mappings)
			got := r.validateService(&catalog.Destination{Name: "d", Platform: tt.platform}, p, mappings, known, &d)
			var texts []string
			for _, x := range d.Errors() {
				texts = append(texts, x.Summary()+": "+x.Detail())
			}
			all := strings.Join(texts, "\n")
			if len(tt.errs) == 0 && d.HasError() {
				t.Fatalf("unexpected errors:\n%s", all)
			}
			for _, want := range tt.errs {
				if !strings.Contains(all, want) {
					t.Errorf("no diagnostic contains %q; got:\n%s", want, all)
				}
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("typed options = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestOptionsValue(t *testing.T) {
	stored := map[string]any{"update_existing_only": true, "window_days": float64(10), "event_name": "Purchase"}
	// As written when the spelling denotes the stored value.
	prev := stringMapValue(map[string]string{"update_existing_only": "TRUE", "window_days": "010", "event_name": "Purchase"})
	got, _ := stringMap(optionsValue(stored, prev))
	want := map[string]string{"update_existing_only": "TRUE", "window_days": "010", "event_name": "Purchase"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("with the user's spelling: %v, want %v", got, want)
	}
	// Canonical otherwise (import, or a change outside Terraform).
	prev = stringMapValue(map[string]string{"update_existing_only": "false", "event_name": "purchase"})
	got, _ = stringMap(optionsValue(stored, prev))
	want = map[string]string{"update_existing_only": "true", "window_days": "10", "event_name": "Purchase"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("canonical: %v, want %v", got, want)
	}
	if v := optionsValue(nil, prev); !v.IsNull() {
		t.Errorf("no options: %v, want null", v)
	}
}

// TestAccActivation_serviceOptions declares Braze and Meta destinations whose checks go to the
// platforms' fakes through api_base_url, and activations with service_options: it checks the
// typed options and the base URL in the catalog, import, plan-time refusals (unknown option,
// missing required option, unparsable value, enum, unmapped identifier, invalid base URL),
// that a boolean written "TRUE" stays as written without a diff, and that changing
// service_options requests a full resync.
func TestAccActivation_serviceOptions(t *testing.T) {
	e := newEnv(t, "duckdb")
	braze := brazefake.New(t, brazefake.Config{})
	const metaToken = "EAA-acceptance-meta-token-0123"
	meta := metafake.New(t, metafake.Config{AccessToken: metaToken, AdAccounts: []string{"4242"}})

	type cfg struct {
		brazeURL     string
		subOptions   string // HCL map body of the subscription activation's service_options
		eventOptions string
		audMappings  string
		audOptions   string
	}
	base := cfg{
		brazeURL:     braze.URL(),
		subOptions:   `subscription_group_id = "grp-1"`,
		eventOptions: `event_name = "signed_up"` + "\n    update_existing_only = \"TRUE\"",
		audMappings:  `email = "email"` + "\n    country = \"country\"",
		audOptions:   `audience_name = "FR customers"`,
	}
	hcl := func(c cfg) string {
		return modelHCL(e, "table = \"customers\"\n  primary_key = \"id\"") + fmt.Sprintf(`
resource "dinmo_destination" "braze" {
  workspace_id = dinmo_workspace.ws.id
  name         = "braze"
  braze = {
    rest_endpoint = "https://rest.iad-01.braze.com"
  }
  api_base_url = %q
  credentials_wo = {
    api_key = %q
  }
  credentials_wo_version = "1"
}

resource "dinmo_destination" "meta" {
  workspace_id = dinmo_workspace.ws.id
  name         = "meta"
  meta = {
    ad_account_id = "act_4242"
  }
  api_base_url = %q
  credentials_wo = {
    access_token = %q
  }
  credentials_wo_version = "1"
}

resource "dinmo_activation" "sub" {
  workspace_id   = dinmo_workspace.ws.id
  name           = "newsletter"
  model_id       = dinmo_model.m.id
  destination_id = dinmo_destination.braze.id
  service        = "subscription_status"
  sync_mode      = "list"
  mappings = {
    external_id = "id"
    email       = "email"
  }
  service_options = {
    %s
  }
}

resource "dinmo_activation" "events" {
  workspace_id   = dinmo_workspace.ws.id
  name           = "sign-ups"
  model_id       = dinmo_model.m.id
  destination_id = dinmo_destination.braze.id
  service        = "track_events"
  sync_mode      = "events"
  mappings = {
    external_id = "id"
    time        = "created_at"
  }
  service_options = {
    %s
  }
}

resource "dinmo_activation" "audience" {
  workspace_id   = dinmo_workspace.ws.id
  name           = "fr-audience"
  model_id       = dinmo_model.m.id
  destination_id = dinmo_destination.meta.id
  service        = "custom_audiences"
  sync_mode      = "list"
  mappings = {
    %s
  }
  service_options = {
    %s
  }
}
`, c.brazeURL, brazefake.DefaultAPIKey, meta.URL(), metaToken, c.subOptions, c.eventOptions, c.audMappings, c.audOptions)
	}
	with := func(f func(*cfg)) string {
		c := base
		f(&c)
		return hcl(c)
	}
	activation := func(s *terraform.State, name string) (*catalog.Activation, error) {
		id, err := stateID(s, "dinmo_activation."+name)
		if err != nil {
			return nil, err
		}
		return e.store.GetActivation(e.ctx, id)
	}
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   testAccVersionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkDestroy,
		Steps: []resource.TestStep{
			{
				Config: hcl(base),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("dinmo_activation.events", tfjsonpath.New("service_options"), knownvalue.MapExact(map[string]knownvalue.Check{
						"event_name": knownvalue.StringExact("signed_up"), "update_existing_only": knownvalue.StringExact("TRUE"),
					})),
					statecheck.ExpectKnownValue("dinmo_destination.braze", tfjsonpath.New("api_base_url"), knownvalue.StringExact(braze.URL())),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					func(s *terraform.State) error {
						want := map[string]map[string]any{
							"sub":      {"subscription_group_id": "grp-1"},
							"events":   {"event_name": "signed_up", "update_existing_only": true},
							"audience": {"audience_name": "FR customers"},
						}
						for name, opts := range want {
							a, err := activation(s, name)
							if err != nil {
								return err
							}
							if !reflect.DeepEqual(a.Options, opts) || a.FullResyncRequested {
								return fmt.Errorf("activation %s: options %#v (want %#v), full resync %v", name, a.Options, opts, a.FullResyncRequested)
							}
						}
						id, err := stateID(s, "dinmo_destination.meta")
						if err != nil {
							return err
						}
						d, err := e.store.GetDestination(e.ctx, id)
						if err != nil {
							return err
						}
						if d.BaseURL != meta.URL() {
							return fmt.Errorf("meta destination base URL %q, want %q", d.BaseURL, meta.URL())
						}
						// The checks reached the fakes, not the vendors.
						if braze.Probes() == 0 || meta.ControlHits() == 0 {
							return fmt.Errorf("the destinations' checks did not reach the fakes: braze probes %d, meta requests %d", braze.Probes(), meta.ControlHits())
						}
						if v := append(braze.Violations(), meta.Violations()...); len(v) > 0 {
							return fmt.Errorf("contract violations: %v", v)
						}
						return nil
					},
					e.checkSecretsAbsent(brazefake.DefaultAPIKey, metaToken),
				),
			},
			{ResourceName: "dinmo_activation.sub", ImportState: true, ImportStateVerify: true, ImportStateIdFunc: importID("shop", "newsletter")},
			{ResourceName: "dinmo_activation.audience", ImportState: true, ImportStateVerify: true, ImportStateIdFunc: importID("shop", "fr-audience")},
			{ResourceName: "dinmo_destination.meta", ImportState: true, ImportStateVerify: true, ImportStateIdFunc: importID("shop", "meta")},
			{
				Config:      with(func(c *cfg) { c.subOptions = `subscription_group_id = "grp-1"` + "\n    group = \"x\"" }),
				PlanOnly:    true,
				ExpectError: expectError("Unknown Service Option", `has no option "group"`, "Options of this service: subscription_group_id"),
			},
			{
				Config:      with(func(c *cfg) { c.subOptions = `subscription_group_id = ""` }),
				PlanOnly:    true,
				ExpectError: expectError("Invalid Service Option", `Option "subscription_group_id"`, "must not be empty"),
			},
			{
				Config:      with(func(c *cfg) { c.eventOptions = `event_name = "signed_up"` + "\n    update_existing_only = \"maybe\"" }),
				PlanOnly:    true,
				ExpectError: expectError("Invalid Service Option", `Option "update_existing_only"`, `"maybe" is not a boolean`),
			},
			{
				Config:      with(func(c *cfg) { c.audOptions = `customer_file_source = "SCRAPED"` }),
				PlanOnly:    true,
				ExpectError: expectError("Invalid Service Option", `"SCRAPED" is not allowed`, "USER_PROVIDED_ONLY"),
			},
			{
				Config:      with(func(c *cfg) { c.audMappings = `country = "country"` }),
				PlanOnly:    true,
				ExpectError: expectError("Missing Identifier Mapping", "email, phone, madid, external_id"),
			},
			{
				Config:      with(func(c *cfg) { c.brazeURL = "ftp://proxy.example.com" }),
				PlanOnly:    true,
				ExpectError: expectError("Invalid API Base URL", "scheme must be http or https"),
			},
			{
				// Another audience: the snapshot says nothing about it, so the next run is full.
				Config: with(func(c *cfg) { c.audOptions = `audience_name = "FR customers v2"` }),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("dinmo_activation.audience", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("dinmo_activation.sub", plancheck.ResourceActionNoop),
				}},
				Check: func(s *terraform.State) error {
					a, err := activation(s, "audience")
					if err != nil {
						return err
					}
					if !a.FullResyncRequested || a.Options["audience_name"] != "FR customers v2" {
						return fmt.Errorf("changing service_options must store them and request a full resync: %+v", a)
					}
					other, err := activation(s, "sub")
					if err != nil {
						return err
					}
					if other.FullResyncRequested {
						return fmt.Errorf("an unchanged activation must not request a full resync")
					}
					return nil
				},
			},
		},
	})
}
