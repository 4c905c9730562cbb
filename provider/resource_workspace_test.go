package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"dinmo/catalog"
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
