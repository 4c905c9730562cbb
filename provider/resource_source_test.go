package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"dinmo/catalog"
	"dinmo/secrets"
)

// TestAccSource_postgresCredentials covers the credential life cycle of a source: a refused
// password fails at apply naming the credentials, the accepted one is sealed in the catalog,
// rotating it (new password, new version) is tested against the warehouse and re-sealed, and a
// switch to a file reference stores only the reference. No password ever reaches the state,
// the catalog file or the logs.
func TestAccSource_postgresCredentials(t *testing.T) {
	logPath := logToFile(t)
	e := newEnv(t, "postgres")
	if !e.pg.passwordsChecked() {
		t.Skipf("the PostgreSQL server at %s=%s accepts any password, so refused credentials cannot be tested", "TEST_PG_DSN", os.Getenv("TEST_PG_DSN"))
	}
	initial := e.pg.password
	wrong := "wrong-" + randomSuffix(t)
	rotated := "rotated-" + randomSuffix(t)
	pwFile := filepath.Join(t.TempDir(), "pg-password")
	sealer, err := secrets.NewSealer(testKey)
	if err != nil {
		t.Fatal(err)
	}
	// The password reaches Terraform through an ephemeral variable set in the environment, as
	// in real use: the configuration text (which the test harness logs) never holds it.
	setPassword := func(pw string) func() { return func() { t.Setenv("TF_VAR_pg_password", pw) } }
	config := func(creds string) string {
		return e.providerHCL() + fmt.Sprintf(`
variable "pg_password" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "dinmo_workspace" "ws" {
  name = "data"
}

resource "dinmo_source" "pg" {
  workspace_id = dinmo_workspace.ws.id
  name         = "pg"
  %s
  %s
}
`, e.sourceBlock, creds)
	}
	wo := func(version string) string {
		return fmt.Sprintf("credentials_wo = {\n    password = var.pg_password\n  }\n  credentials_wo_version = %q", version)
	}
	var sealedBefore string
	storedPassword := func(s *terraform.State) (string, *catalog.Source, error) {
		id, err := stateID(s, "dinmo_source.pg")
		if err != nil {
			return "", nil, err
		}
		src, err := e.store.GetSource(e.ctx, id)
		if err != nil {
			return "", nil, err
		}
		return src.Credentials["password"], src, nil
	}
	checkSealed := func(want string) resource.TestCheckFunc {
		return func(s *terraform.State) error {
			stored, src, err := storedPassword(s)
			if err != nil {
				return err
			}
			if !secrets.IsSealed(stored) {
				return fmt.Errorf("the catalog's password is not sealed")
			}
			plain, err := sealer.Resolve(stored)
			if err != nil {
				return err
			}
			if plain != want {
				return fmt.Errorf("the sealed password is not the configured one")
			}
			if stored == sealedBefore {
				return fmt.Errorf("the sealed value did not change")
			}
			sealedBefore = stored
			if src.Engine != "postgres" || src.Settings["user"] != e.pg.role {
				return fmt.Errorf("catalog source: engine %q settings %v", src.Engine, src.Settings)
			}
			return nil
		}
	}
	allSecrets := []string{initial, wrong, rotated}
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   testAccVersionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkDestroy,
		Steps: []resource.TestStep{
			{
				PreConfig:   setPassword(wrong),
				Config:      config(wo("1")),
				ExpectError: expectError("Cannot Create Source", "refused the credentials", "credentials_wo_version"),
			},
			{
				PreConfig: setPassword(initial),
				Config:    config(wo("1")),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("dinmo_source.pg", tfjsonpath.New("credentials_wo"), knownvalue.Null()),
					statecheck.ExpectKnownValue("dinmo_source.pg", tfjsonpath.New("credentials_wo_version"), knownvalue.StringExact("1")),
					statecheck.ExpectKnownValue("dinmo_source.pg", tfjsonpath.New("credentials_ref"), knownvalue.Null()),
				},
				Check: resource.ComposeAggregateTestCheckFunc(checkSealed(initial), e.checkSecretsAbsent(allSecrets...)),
			},
			{
				ResourceName: "dinmo_source.pg", ImportState: true, ImportStateVerify: true, ImportStateIdFunc: importID("data", "pg"),
			},
			{
				Config:      config(fmt.Sprintf("credentials_ref = {\n    password = %q\n    api_key = \"env:X\"\n  }", "file:"+pwFile)),
				ExpectError: expectError("Unknown Credential", "has no credential named \"api_key\"", "password"),
			},
			{
				Config:      config(fmt.Sprintf("credentials_ref = {\n    password = %q\n  }", pwFile)),
				ExpectError: expectError("Invalid Credential Reference", "env:NAME"),
			},
			{
				// Rotation: the warehouse only accepts the new password now, so the update's
				// connection test passes only if it used the new value.
				PreConfig: func() { e.pg.setPassword(t, rotated); setPassword(rotated)() },
				Config:    config(wo("2")),
				Check:     resource.ComposeAggregateTestCheckFunc(checkSealed(rotated), e.checkSecretsAbsent(allSecrets...)),
			},
			{
				PreConfig: func() {
					if err := os.WriteFile(pwFile, []byte(rotated+"\n"), 0o600); err != nil {
						t.Fatal(err)
					}
				},
				Config: config(fmt.Sprintf("credentials_ref = {\n    password = %q\n  }", "file:"+pwFile)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("dinmo_source.pg", tfjsonpath.New("credentials_ref"), knownvalue.MapExact(map[string]knownvalue.Check{
						"password": knownvalue.StringExact("file:" + pwFile),
					})),
					statecheck.ExpectKnownValue("dinmo_source.pg", tfjsonpath.New("credentials_wo_version"), knownvalue.Null()),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					func(s *terraform.State) error {
						stored, _, err := storedPassword(s)
						if err != nil {
							return err
						}
						if stored != "file:"+pwFile {
							return fmt.Errorf("the catalog must hold the reference, got a %d-character value", len(stored))
						}
						return nil
					},
					e.checkSecretsAbsent(allSecrets...),
				),
			},
			{
				ResourceName: "dinmo_source.pg", ImportState: true, ImportStateVerify: true, ImportStateIdFunc: importID("data", "pg"),
			},
		},
	})
	checkLogClean(t, logPath, "created source", allSecrets...)
}

// TestAccSource_unavailableEngine checks that a declared but unavailable engine is refused at
// plan time with a message naming the engines that work.
func TestAccSource_unavailableEngine(t *testing.T) {
	e := newEnv(t, "")
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   testAccVersionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: e.providerHCL() + `
resource "dinmo_source" "sf" {
  workspace_id = "ws_x"
  name         = "sf"
  snowflake = {
    account   = "xy12345"
    user      = "dinmo"
    role      = "transformer"
    warehouse = "compute_wh"
    database  = "analytics"
  }
}
`,
				PlanOnly:    true,
				ExpectError: expectError("engine snowflake is declared but not available in this build yet", "Use duckdb or postgres"),
			},
			{
				Config: e.providerHCL() + `
resource "dinmo_source" "none" {
  workspace_id = "ws_x"
  name         = "none"
}
`,
				PlanOnly:    true,
				ExpectError: expectError("Exactly one of these attributes must be configured", "duckdb,postgres"),
			},
		},
	})
}
