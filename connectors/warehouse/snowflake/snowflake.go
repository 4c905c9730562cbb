// Package snowflake is the Snowflake warehouse engine. This build declares its configuration and
// implements its SQL dialect, so segments compile to Snowflake SQL and configurations can be
// written ahead; no driver is wired in yet, so the engine reports itself unavailable and Open
// fails with a configuration error.
package snowflake

import (
	"context"
	"fmt"
	"log/slog"

	"dinmo/connectors"
	"dinmo/connectors/warehouse"
)

// Setting and credential keys, as users write them in the source's settings and credentials.
const (
	SettingAccount                 = "account"
	SettingUser                    = "user"
	SettingRole                    = "role"
	SettingWarehouse               = "warehouse"
	SettingDatabase                = "database"
	SettingLoginTimeout            = "login_timeout_seconds"
	CredentialPrivateKey           = "private_key"
	CredentialPrivateKeyPassphrase = "private_key_passphrase"
	CredentialPassword             = "password"
)

// Connector declares Snowflake. It cannot open connections in this build.
type Connector struct{}

var _ warehouse.Connector = Connector{}

// New returns the Snowflake connector.
func New() Connector { return Connector{} }

// Spec declares Snowflake's settings and credentials, authenticated by key pair (recommended)
// or password. Available is false until a driver is built in.
func (Connector) Spec() warehouse.Spec {
	return warehouse.Spec{
		Engine:      warehouse.Snowflake,
		DisplayName: "Snowflake",
		Settings: []connectors.ConfigField{
			{Name: SettingAccount, Type: connectors.FieldString, Required: true,
				Description: "Account identifier, `<orgname>-<account_name>` (or the legacy locator with region, e.g. `xy12345.eu-west-1`)."},
			{Name: SettingUser, Type: connectors.FieldString, Required: true,
				Description: "Service user dinmo connects as."},
			{Name: SettingRole, Type: connectors.FieldString, Required: true,
				Description: "Role dinmo uses: `SELECT` on the business schemas it may read, ownership of its internal schemas."},
			{Name: SettingWarehouse, Type: connectors.FieldString, Required: true,
				Description: "Virtual warehouse running dinmo's queries (a dedicated XSMALL warehouse with auto-suspend is recommended)."},
			{Name: SettingDatabase, Type: connectors.FieldString, Required: true,
				Description: "Internal database holding the `dinmo_*` schemas, e.g. `DINMO_DB`."},
			{Name: SettingLoginTimeout, Type: connectors.FieldInt, Default: int64(60), Min: 1, Max: 600,
				Description: "Seconds to wait for the login before failing."},
		},
		Credentials: []connectors.ConfigField{
			{Name: CredentialPrivateKey, Type: connectors.FieldString,
				Description: "PEM-encoded private key (PKCS#8) of the user's key pair. Key-pair authentication is recommended; set either this or `password`."},
			{Name: CredentialPrivateKeyPassphrase, Type: connectors.FieldString,
				Description: "Passphrase of `private_key`, when it is encrypted."},
			{Name: CredentialPassword, Type: connectors.FieldString,
				Description: "Password of the user (legacy; prefer `private_key`)."},
		},
	}
}

// Open always fails with a permanent configuration error: Snowflake is declared but no driver
// is built into this build yet. The provider rejects the engine at plan time already; this
// guards every other path (the runner, tools).
func (Connector) Open(context.Context, warehouse.Config, *slog.Logger) (warehouse.Warehouse, error) {
	return nil, connectors.Permanent(connectors.CategoryConfiguration, fmt.Errorf(
		"engine %q is declared but not available in this build yet; use postgres or duckdb", warehouse.Snowflake))
}
