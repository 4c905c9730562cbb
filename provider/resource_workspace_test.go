package provider

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"dinmo/alert"
	"dinmo/catalog"
	"dinmo/secrets"
)

func TestAccWorkspace_basic(t *testing.T) {
	e := newEnv(t, "")
	config := func(extra string) string {
		return e.providerHCL() + fmt.Sprintf("resource \"dinmo_workspace\" \"ws\" {\n  name = \"marketing-ops\"\n%s}\n", extra)
	}
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   testAccVersionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkDestroy,
		Steps: []resource.TestStep{
			{
				Config: config(""),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("dinmo_workspace.ws", tfjsonpath.New("name"), knownvalue.StringExact("marketing-ops")),
					statecheck.ExpectKnownValue("dinmo_workspace.ws", tfjsonpath.New("description"), knownvalue.StringExact("")),
					statecheck.ExpectKnownValue("dinmo_workspace.ws", tfjsonpath.New("cron_enabled"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue("dinmo_workspace.ws", tfjsonpath.New("id"), knownvalue.NotNull()),
				},
				Check: func(s *terraform.State) error {
					id, err := stateID(s, "dinmo_workspace.ws")
					if err != nil {
						return err
					}
					w, err := e.store.GetWorkspace(e.ctx, id)
					if err != nil {
						return err
					}
					if w.Name != "marketing-ops" || w.Settings.CronEnabled {
						return fmt.Errorf("catalog holds %+v", w)
					}
					audit, err := e.store.ListAudit(e.ctx, catalog.AuditFilter{ObjectID: id})
					if err != nil {
						return err
					}
					if len(audit) == 0 || audit[0].Actor != DefaultActor {
						return fmt.Errorf("want an audit entry by %q, got %+v", DefaultActor, audit)
					}
					return nil
				},
			},
			{
				ResourceName:      "dinmo_workspace.ws",
				ImportState:       true,
				ImportStateVerify: true,
				ImportStateId:     "marketing-ops",
			},
			{
				ResourceName:      "dinmo_workspace.ws",
				ImportState:       true,
				ImportStateVerify: true,
				ImportStateIdFunc: func(s *terraform.State) (string, error) { return stateID(s, "dinmo_workspace.ws") },
			},
			{
				Config:      config("  description  = \"x\"\n") + "resource \"dinmo_workspace\" \"bad\" {\n  name = \"Bad Name\"\n}\n",
				ExpectError: expectError("must start with a lowercase letter or digit"),
			},
			{
				// Deleted from the catalog behind Terraform's back: Read drops it from state
				// and the plan creates it again.
				PreConfig: func() {
					w, err := e.store.GetWorkspaceByName(e.ctx, "marketing-ops")
					if err != nil {
						t.Fatal(err)
					}
					if err := e.store.DeleteWorkspace(e.ctx, w.ID); err != nil {
						t.Fatal(err)
					}
				},
				Config: config(""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("dinmo_workspace.ws", plancheck.ResourceActionCreate),
				}},
			},
			{
				Config: config("  description  = \"Campaign audiences\"\n  cron_enabled = true\n"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("dinmo_workspace.ws", plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("dinmo_workspace.ws", tfjsonpath.New("description"), knownvalue.StringExact("Campaign audiences")),
					statecheck.ExpectKnownValue("dinmo_workspace.ws", tfjsonpath.New("cron_enabled"), knownvalue.Bool(true)),
				},
				Check: func(s *terraform.State) error {
					w, err := e.store.GetWorkspaceByName(e.ctx, "marketing-ops")
					if err != nil {
						return err
					}
					if w.Description != "Campaign audiences" || !w.Settings.CronEnabled {
						return fmt.Errorf("catalog not updated: %+v", w)
					}
					return nil
				},
			},
		},
	})
}

// TestAccWorkspace_alerts: the alerts attribute is validated at plan time, stored with the
// write-only Slack URL sealed and the SMTP password as a reference, kept out of state, gives
// empty plans after apply, and the runner's alert package reads it back.
func TestAccWorkspace_alerts(t *testing.T) {
	e := newEnv(t, "")
	const hook = "https://hooks.slack.com/services/T000/B000/SECRETSLACKTOKEN42"
	config := func(alerts string) string {
		return e.providerHCL() + "resource \"dinmo_workspace\" \"ws\" {\n  name = \"growth\"\n  alerts = " + alerts + "\n}\n"
	}
	full := `{
    slack_webhook_url_wo = "` + hook + `"
    secrets_wo_version   = "1"
    repeat               = "6h"
    email = {
      host         = "smtp.example.com"
      username     = "alerts"
      password_ref = "env:DINMO_TEST_SMTP_PASSWORD"
      from         = "dinmo <alerts@example.com>"
      to           = ["data-team@example.com"]
    }
  }`
	plan := func(alerts string, parts ...string) resource.TestStep {
		return resource.TestStep{Config: config(alerts), PlanOnly: true, ExpectError: expectError(parts...)}
	}
	stored := func(s *terraform.State) error {
		w, err := e.store.GetWorkspaceByName(e.ctx, "growth")
		if err != nil {
			return err
		}
		var st alert.Settings
		if err := json.Unmarshal(w.Settings.Alerts, &st); err != nil {
			return err
		}
		if st.Slack == nil || !secrets.IsSealed(st.Slack.WebhookURL) || strings.Contains(string(w.Settings.Alerts), "SECRETSLACKTOKEN42") {
			return fmt.Errorf("the Slack URL is not sealed in the catalog: %s", w.Settings.Alerts)
		}
		if st.Email == nil || st.Email.Password != "env:DINMO_TEST_SMTP_PASSWORD" || st.Repeat != "6h" || st.Email.Host != "smtp.example.com" {
			return fmt.Errorf("stored alert settings: %s", w.Settings.Alerts)
		}
		sealer, err := secrets.NewSealer(testKey)
		if err != nil {
			return err
		}
		if url, err := sealer.Resolve(st.Slack.WebhookURL); err != nil || url != hook {
			return fmt.Errorf("the sealed Slack URL does not open to the configured one: %w", err)
		}
		for _, r := range s.RootModule().Resources {
			for k, v := range r.Primary.Attributes {
				if strings.Contains(v, "SECRETSLACKTOKEN42") {
					return fmt.Errorf("state attribute %s holds the Slack URL", k)
				}
			}
		}
		return nil
	}
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   testAccVersionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkDestroy,
		Steps: []resource.TestStep{
			plan(`{ repeat = "1h" }`, "configures no channel"),
			plan(`{ slack_webhook_url_wo = "http://hooks.example.com/x" }`, "The Slack webhook URL is not valid", "must use https"),
			plan(`{
    slack_webhook_url_wo  = "`+hook+`"
    slack_webhook_url_ref = "env:SLACK"
  }`, "Both slack_webhook_url_wo and slack_webhook_url_ref are set"),
			plan(`{
    slack_webhook_url_ref = "env:SLACK"
    repeat                = "soon"
  }`, "alerts.repeat"),
			plan(`{
    email = { host = "smtp.example.com", from = "alerts@example.com", to = ["not an address"] }
  }`, "alerts.email.to"),
			{Config: config(full), Check: stored, ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("dinmo_workspace.ws", tfjsonpath.New("alerts").AtMapKey("slack_webhook_url_wo"), knownvalue.Null()),
				statecheck.ExpectKnownValue("dinmo_workspace.ws", tfjsonpath.New("alerts").AtMapKey("email").AtMapKey("password_ref"),
					knownvalue.StringExact("env:DINMO_TEST_SMTP_PASSWORD")),
			}},
			{Config: config(full), PlanOnly: true},
			{Config: config(`{ slack_webhook_url_ref = "env:DINMO_TEST_SLACK" }`), Check: func(*terraform.State) error {
				w, err := e.store.GetWorkspaceByName(e.ctx, "growth")
				if err != nil {
					return err
				}
				if string(w.Settings.Alerts) != `{"slack":{"webhook_url":"env:DINMO_TEST_SLACK"}}` {
					return fmt.Errorf("stored alerts = %s", w.Settings.Alerts)
				}
				return nil
			}},
			{ResourceName: "dinmo_workspace.ws", ImportState: true, ImportStateVerify: true, ImportStateId: "growth"},
			{Config: e.providerHCL() + "resource \"dinmo_workspace\" \"ws\" {\n  name = \"growth\"\n}\n", Check: func(*terraform.State) error {
				w, err := e.store.GetWorkspaceByName(e.ctx, "growth")
				if err != nil {
					return err
				}
				if len(w.Settings.Alerts) != 0 {
					return fmt.Errorf("alerts removed from the configuration are still stored: %s", w.Settings.Alerts)
				}
				return nil
			}},
		},
	})
}
