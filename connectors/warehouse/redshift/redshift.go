// Package redshift is the Amazon Redshift warehouse engine (provisioned clusters and Serverless
// workgroups). This build declares its configuration and implements its SQL dialect, so segments
// compile to Redshift SQL and configurations can be written ahead; no driver is wired in yet, so
// the engine reports itself unavailable and Open fails with a configuration error.
package redshift

import (
	"context"
	"fmt"
	"log/slog"

	"dinmo/connectors"
	"dinmo/connectors/warehouse"
)

// Setting and credential keys, as users write them in the source's settings and credentials.
const (
	SettingHost           = "host"
	SettingPort           = "port"
	SettingDatabase       = "database"
	SettingUser           = "user"
	SettingSSLMode        = "sslmode"
	SettingConnectTimeout = "connect_timeout_seconds"
	CredentialPassword    = "password"
)

// Connector declares Amazon Redshift. It cannot open connections in this build.
type Connector struct{}

var _ warehouse.Connector = Connector{}

// New returns the Redshift connector.
func New() Connector { return Connector{} }

// Spec declares Redshift's settings and credentials, authenticated by password. (IAM
// authentication and SSH/SSM tunnels come with the driver.) Available is false until a driver
// is built in.
func (Connector) Spec() warehouse.Spec {
	return warehouse.Spec{
		Engine:      warehouse.Redshift,
		DisplayName: "Amazon Redshift",
		Settings: []connectors.ConfigField{
			{Name: SettingHost, Type: connectors.FieldString, Required: true,
				Description: "Endpoint of the cluster or Serverless workgroup, without port, e.g. `examplecluster.abc123xyz789.us-west-2.redshift.amazonaws.com`."},
			{Name: SettingPort, Type: connectors.FieldInt, Default: int64(5439), Min: 1, Max: 65535,
				Description: "TCP port of the endpoint."},
			{Name: SettingDatabase, Type: connectors.FieldString, Required: true,
				Description: "Database holding the data dinmo reads and the `dinmo_*` schemas it manages."},
			{Name: SettingUser, Type: connectors.FieldString, Required: true,
				Description: "Database user dinmo connects as (a dedicated service user is recommended)."},
			{Name: SettingSSLMode, Type: connectors.FieldString, Default: "verify-full",
				Enum:        []string{"require", "verify-ca", "verify-full"},
				Description: "TLS mode: `require`, `verify-ca` or `verify-full`."},
			{Name: SettingConnectTimeout, Type: connectors.FieldInt, Default: int64(10), Min: 1, Max: 600,
				Description: "Seconds to wait for a connection before failing."},
		},
		Credentials: []connectors.ConfigField{
			{Name: CredentialPassword, Type: connectors.FieldString, Required: true,
				Description: "Password of the user."},
		},
	}
}

// Open always fails with a permanent configuration error: Redshift is declared but no driver
// is built into this build yet. The provider rejects the engine at plan time already; this
// guards every other path (the runner, tools).
func (Connector) Open(context.Context, warehouse.Config, *slog.Logger) (warehouse.Warehouse, error) {
	return nil, connectors.Permanent(connectors.CategoryConfiguration, fmt.Errorf(
		"engine %q is declared but not available in this build yet; use postgres or duckdb", warehouse.Redshift))
}
