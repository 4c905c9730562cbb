// Package declared holds the warehouse engines of the design whose driver is not built into
// dinmo yet: Redshift, Snowflake, BigQuery and Databricks. Their Spec is complete (settings and
// credentials as users will write them), so the provider schema and docs have their place and
// configurations can be written ahead; Available is false, the provider rejects them at plan
// time, and Open fails with a configuration error naming the engines that work.
package declared

import (
	"context"
	"fmt"
	"log/slog"

	"dinmo/connectors"
	"dinmo/connectors/warehouse"
)

// Connector is a declared, unavailable engine.
type Connector struct {
	spec warehouse.Spec
}

var _ warehouse.Connector = Connector{}

// Spec returns the engine's declaration, with Available false.
func (c Connector) Spec() warehouse.Spec { return c.spec }

// Open always fails: the engine is declared but not available in this build.
func (c Connector) Open(context.Context, warehouse.Config, *slog.Logger) (warehouse.Warehouse, error) {
	return nil, connectors.Permanent(connectors.CategoryConfiguration, fmt.Errorf(
		"engine %q is declared but not available in this build yet; use postgres or duckdb", c.spec.Engine))
}

// All returns the four declared engines.
func All() []warehouse.Connector {
	return []warehouse.Connector{Redshift(), Snowflake(), BigQuery(), Databricks()}
}

// Redshift declares Amazon Redshift (provisioned clusters and Serverless workgroups),
// authenticated by password. (IAM authentication and SSH/SSM tunnels come with the driver.)
func Redshift() Connector {
	return Connector{spec: warehouse.Spec{
		Engine:      warehouse.Redshift,
		DisplayName: "Amazon Redshift",
		Settings: []connectors.ConfigField{
			{Name: "host", Type: connectors.FieldString, Required: true,
				Description: "Endpoint of the cluster or Serverless workgroup, without port, e.g. `examplecluster.abc123xyz789.us-west-2.redshift.amazonaws.com`."},
			{Name: "port", Type: connectors.FieldInt, Default: int64(5439), Min: 1, Max: 65535,
				Description: "TCP port of the endpoint."},
			{Name: "database", Type: connectors.FieldString, Required: true,
				Description: "Database holding the data dinmo reads and the `dinmo_*` schemas it manages."},
			{Name: "user", Type: connectors.FieldString, Required: true,
				Description: "Database user dinmo connects as (a dedicated service user is recommended)."},
			{Name: "sslmode", Type: connectors.FieldString, Default: "verify-full",
				Enum:        []string{"require", "verify-ca", "verify-full"},
				Description: "TLS mode: `require`, `verify-ca` or `verify-full`."},
			{Name: "connect_timeout_seconds", Type: connectors.FieldInt, Default: int64(10), Min: 1, Max: 600,
				Description: "Seconds to wait for a connection before failing."},
		},
		Credentials: []connectors.ConfigField{
			{Name: "password", Type: connectors.FieldString, Required: true,
				Description: "Password of the user."},
		},
	}}
}

// Snowflake declares Snowflake, authenticated by key pair (recommended) or password.
func Snowflake() Connector {
	return Connector{spec: warehouse.Spec{
		Engine:      warehouse.Snowflake,
		DisplayName: "Snowflake",
		Settings: []connectors.ConfigField{
			{Name: "account", Type: connectors.FieldString, Required: true,
				Description: "Account identifier, `<orgname>-<account_name>` (or the legacy locator with region, e.g. `xy12345.eu-west-1`)."},
			{Name: "user", Type: connectors.FieldString, Required: true,
				Description: "Service user dinmo connects as."},
			{Name: "role", Type: connectors.FieldString, Required: true,
				Description: "Role dinmo uses: `SELECT` on the business schemas it may read, ownership of its internal schemas."},
			{Name: "warehouse", Type: connectors.FieldString, Required: true,
				Description: "Virtual warehouse running dinmo's queries (a dedicated XSMALL warehouse with auto-suspend is recommended)."},
			{Name: "database", Type: connectors.FieldString, Required: true,
				Description: "Internal database holding the `dinmo_*` schemas, e.g. `DINMO_DB`."},
			{Name: "login_timeout_seconds", Type: connectors.FieldInt, Default: int64(60), Min: 1, Max: 600,
				Description: "Seconds to wait for the login before failing."},
		},
		Credentials: []connectors.ConfigField{
			{Name: "private_key", Type: connectors.FieldString,
				Description: "PEM-encoded private key (PKCS#8) of the user's key pair. Key-pair authentication is recommended; set either this or `password`."},
			{Name: "private_key_passphrase", Type: connectors.FieldString,
				Description: "Passphrase of `private_key`, when it is encrypted."},
			{Name: "password", Type: connectors.FieldString,
				Description: "Password of the user (legacy; prefer `private_key`)."},
		},
	}}
}

// BigQuery declares Google BigQuery, authenticated by a service account key.
func BigQuery() Connector {
	return Connector{spec: warehouse.Spec{
		Engine:      warehouse.BigQuery,
		DisplayName: "Google BigQuery",
		Settings: []connectors.ConfigField{
			{Name: "project_id", Type: connectors.FieldString, Required: true,
				Description: "Google Cloud project ID holding the data (the ID, which may differ from the project name)."},
			{Name: "internal_project_id", Type: connectors.FieldString,
				Description: "Project holding dinmo's `dinmo_*` datasets, when it differs from `project_id` (same location required)."},
			{Name: "location", Type: connectors.FieldString, Required: true,
				Description: "Location (region or multi-region) of the datasets, e.g. `EU`, `US` or `europe-west1`."},
			{Name: "maximum_bytes_billed", Type: connectors.FieldInt,
				Description: "Upper bound of bytes billed per query; queries above it fail instead of running (0: no limit)."},
		},
		Credentials: []connectors.ConfigField{
			{Name: "service_account_json", Type: connectors.FieldString, Required: true,
				Description: "JSON key of the service account, granted BigQuery User and BigQuery Data Viewer."},
		},
	}}
}

// Databricks declares Databricks SQL, authenticated by a personal access token.
func Databricks() Connector {
	return Connector{spec: warehouse.Spec{
		Engine:      warehouse.Databricks,
		DisplayName: "Databricks",
		Settings: []connectors.ConfigField{
			{Name: "host", Type: connectors.FieldString, Required: true,
				Description: "Server hostname of the workspace, e.g. `dbc-a1b2345c-d6e7.cloud.databricks.com`."},
			{Name: "http_path", Type: connectors.FieldString, Required: true,
				Description: "HTTP path of the SQL warehouse, e.g. `/sql/1.0/warehouses/1234567890abcdef`."},
			{Name: "catalog", Type: connectors.FieldString, Required: true,
				Description: "Unity Catalog catalog holding the `dinmo_*` schemas."},
			{Name: "port", Type: connectors.FieldInt, Default: int64(443), Min: 1, Max: 65535,
				Description: "HTTPS port of the workspace."},
		},
		Credentials: []connectors.ConfigField{
			{Name: "token", Type: connectors.FieldString, Required: true,
				Description: "Personal access token (or service principal token) of the identity dinmo uses."},
		},
	}}
}
