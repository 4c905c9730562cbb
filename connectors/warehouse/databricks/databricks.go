// Package databricks is the Databricks SQL warehouse engine (Unity Catalog). This build declares
// its configuration and implements its SQL dialect (Databricks SQL, Spark SQL's dialect), so
// segments compile to Databricks SQL and configurations can be written ahead; no driver is wired
// in yet, so the engine reports itself unavailable and Open fails with a configuration error.
package databricks

import (
	"context"
	"fmt"
	"log/slog"

	"dinmo/connectors"
	"dinmo/connectors/warehouse"
)

// Setting and credential keys, as users write them in the source's settings and credentials.
const (
	SettingHost     = "host"
	SettingHTTPPath = "http_path"
	SettingCatalog  = "catalog"
	SettingPort     = "port"
	CredentialToken = "token"
)

// Connector declares Databricks. It cannot open connections in this build.
type Connector struct{}

var _ warehouse.Connector = Connector{}

// New returns the Databricks connector.
func New() Connector { return Connector{} }

// Spec declares Databricks SQL's settings and credentials, authenticated by a personal access
// token. Available is false until a driver is built in.
func (Connector) Spec() warehouse.Spec {
	return warehouse.Spec{
		Engine:      warehouse.Databricks,
		DisplayName: "Databricks",
		Settings: []connectors.ConfigField{
			{Name: SettingHost, Type: connectors.FieldString, Required: true,
				Description: "Server hostname of the workspace, e.g. `dbc-a1b2345c-d6e7.cloud.databricks.com`."},
			{Name: SettingHTTPPath, Type: connectors.FieldString, Required: true,
				Description: "HTTP path of the SQL warehouse, e.g. `/sql/1.0/warehouses/1234567890abcdef`."},
			{Name: SettingCatalog, Type: connectors.FieldString, Required: true,
				Description: "Unity Catalog catalog holding the `dinmo_*` schemas."},
			{Name: SettingPort, Type: connectors.FieldInt, Default: int64(443), Min: 1, Max: 65535,
				Description: "HTTPS port of the workspace."},
		},
		Credentials: []connectors.ConfigField{
			{Name: CredentialToken, Type: connectors.FieldString, Required: true,
				Description: "Personal access token (or service principal token) of the identity dinmo uses."},
		},
	}
}

// Open always fails with a permanent configuration error: Databricks is declared but no driver
// is built into this build yet. The provider rejects the engine at plan time already; this
// guards every other path (the runner, tools).
func (Connector) Open(context.Context, warehouse.Config, *slog.Logger) (warehouse.Warehouse, error) {
	return nil, connectors.Permanent(connectors.CategoryConfiguration, fmt.Errorf(
		"engine %q is declared but not available in this build yet; use postgres or duckdb", warehouse.Databricks))
}
