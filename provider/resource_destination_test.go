package provider

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"dinmo/secrets"
)

// TestAccDestination_webhook creates a webhook destination with a write-only signing secret,
// imports it, updates its settings while rotating the secret, shows that a changed write-only
// value without a new version is ignored, moves the bearer token to an env: reference, and
// rejects undeclared credentials and invalid settings. No secret reaches the state, the
// catalog file or the logs.
func TestAccDestination_webhook(t *testing.T) {
	logPath := logToFile(t)
	e := newEnv(t, "")
	s1, s2, s3 := "sign-"+randomSuffix(t), "sign-"+randomSuffix(t), "sign-"+randomSuffix(t)
	token := "tok-" + randomSuffix(t)
	t.Setenv("DINMO_TEST_WEBHOOK_TOKEN", token)
	sealer, err := secrets.NewSealer(testKey)
	if err != nil {
		t.Fatal(err)
	}
	setSecret := func(v string) func() { return func() { t.Setenv("TF_VAR_signing_secret", v) } }
	config := func(block, creds string) string {
		return e.providerHCL() + fmt.Sprintf(`
variable "signing_secret" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "dinmo_workspace" "ws" {
  name = "crm"
}

resource "dinmo_destination" "hook" {
  workspace_id = dinmo_workspace.ws.id
  name         = "orders-hook"
  webhook = {
    %s
  }
  %s
}
`, block, creds)
	}
	wo := func(version string) string {
		return fmt.Sprintf("credentials_wo = {\n    signing_secret = var.signing_secret\n  }\n  credentials_wo_version = %q", version)
	}
	storedSecret := func(want string) resource.TestCheckFunc {
		return func(s *terraform.State) error {
			id, err := stateID(s, "dinmo_destination.hook")
			if err != nil {
				return err
			}
			d, err := e.store.GetDestination(e.ctx, id)
			if err != nil {
				return err
			}
			plain, err := sealer.Resolve(d.Credentials["signing_secret"])
			if err != nil {
				return err
			}
			if plain != want {
				return fmt.Errorf("the catalog's signing secret is not the expected one")
			}
			return nil
		}
	}
	all := []string{s1, s2, s3, token}
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   testAccVersionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkDestroy,
		Steps: []resource.TestStep{
			{
				PreConfig: setSecret(s1),
				Config:    config(`url = "https://hooks.example.com/orders"`, wo("1")),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("dinmo_destination.hook", tfjsonpath.New("platform"), knownvalue.StringExact("webhook")),
					statecheck.ExpectKnownValue("dinmo_destination.hook", tfjsonpath.New("webhook"), knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"url": knownvalue.StringExact("https://hooks.example.com/orders"), "batch_size": knownvalue.Null(),
					})),
					statecheck.ExpectKnownValue("dinmo_destination.hook", tfjsonpath.New("credentials_wo"), knownvalue.Null()),
				},
				Check: resource.ComposeAggregateTestCheckFunc(storedSecret(s1), e.checkSecretsAbsent(all...)),
			},
			{
				ResourceName: "dinmo_destination.hook", ImportState: true, ImportStateVerify: true, ImportStateIdFunc: importID("crm", "orders-hook"),
			},
			{
				PreConfig: setSecret(s2),
				Config:    config("url        = \"https://hooks.example.com/v2/orders\"\n    batch_size = 500\n    headers    = { \"X-Team\" = \"crm\" }", wo("2")),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("dinmo_destination.hook", plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("dinmo_destination.hook", tfjsonpath.New("webhook").AtMapKey("batch_size"), knownvalue.Int64Exact(500)),
				},
				Check: resource.ComposeAggregateTestCheckFunc(storedSecret(s2), e.checkSecretsAbsent(all...)),
			},
			{
				// A new write-only value without a new version: Terraform cannot see it, nothing
				// changes.
				PreConfig: setSecret(s3),
				Config:    config("url        = \"https://hooks.example.com/v2/orders\"\n    batch_size = 500\n    headers    = { \"X-Team\" = \"crm\" }", wo("2")),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
				Check: storedSecret(s2),
			},
			{
				ResourceName: "dinmo_destination.hook", ImportState: true, ImportStateVerify: true, ImportStateIdFunc: importID("crm", "orders-hook"),
			},
			{
				Config:      config(`url = "https://hooks.example.com/orders"`, wo("3")+"\n  credentials_ref = { api_key = \"env:X\" }"),
				ExpectError: expectError("Unknown Credential", `no credential named "api_key"`, "bearer_token, signing_secret"),
			},
			{
				Config:      config(`url = "ftp://hooks.example.com/orders"`, wo("3")),
				ExpectError: expectError("Cannot Update Destination", "webhook platform refused"),
			},
			{
				Config:      config(`url = "https://hooks.example.com/orders"`+"\n    batch_size = 0", wo("2")),
				ExpectError: expectError("batch_size", "between 1 and 10000"),
			},
			{
				// A reference added: the write-only map is read again too (s3 now).
				Config: config(`url = "https://hooks.example.com/orders"`, wo("2")+"\n  credentials_ref = { bearer_token = \"env:DINMO_TEST_WEBHOOK_TOKEN\" }"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("dinmo_destination.hook", tfjsonpath.New("credentials_ref"), knownvalue.MapExact(map[string]knownvalue.Check{
						"bearer_token": knownvalue.StringExact("env:DINMO_TEST_WEBHOOK_TOKEN"),
					})),
				},
				Check: resource.ComposeAggregateTestCheckFunc(storedSecret(s3), e.checkSecretsAbsent(all...)),
			},
		},
	})
	checkLogClean(t, logPath, "created destination", all...)
}

func TestCheckBaseURL(t *testing.T) {
	for _, tt := range []struct {
		url, wantErr string
	}{
		{"https://api-proxy.example.com", ""},
		{"http://127.0.0.1:8080/hubspot", ""},
		{"https://graph.facebook.com/", ""},
		{"", "empty"},
		{" https://x.example.com", "white space"},
		{"ftp://x.example.com", `scheme must be http or https, not "ftp"`},
		{"api.example.com", `scheme must be http or https, not ""`},
		{"https://", "no host"},
		{"https://user:hunter2@x.example.com", "must not contain credentials"},
		{"https://x.example.com/?key=1", "query or a fragment"},
		{"https://x.example.com/#top", "query or a fragment"},
		{"https://x.example.com:port/", "not a URL"},
		{"https://u:hunter2@x.example.com:port/", "not a URL"},
	} {
		err := checkBaseURL(tt.url)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("checkBaseURL(%q): %v", tt.url, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("checkBaseURL(%q) = %v, want an error containing %q", tt.url, err, tt.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("checkBaseURL(%q) repeats the password: %v", tt.url, err)
		}
	}
}
