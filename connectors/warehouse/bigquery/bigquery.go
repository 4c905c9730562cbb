// Package bigquery is the Google BigQuery warehouse engine. This build declares its
// configuration and implements its SQL dialect (GoogleSQL), so segments compile to BigQuery SQL
// and configurations can be written ahead; no driver is wired in yet, so the engine reports
// itself unavailable and Open fails with a configuration error.
//
// BigQuery calls schemas datasets; the dinmo_* schemas are datasets of the internal project.
package bigquery

import (
	"context"
	"fmt"
	"log/slog"

	"dinmo/connectors"
	"dinmo/connectors/warehouse"
)

// Setting and credential keys, as users write them in the source's settings and credentials.
const (
	SettingProjectID          = "project_id"
	SettingInternalProjectID  = "internal_project_id"
	SettingLocation           = "location"
	SettingMaximumBytesBilled = "maximum_bytes_billed"
	CredentialServiceAccount  = "service_account_json"
)

// Connector declares Google BigQuery. It cannot open connections in this build.
type Connector struct{}

var _ warehouse.Connector = Connector{}

// New returns the BigQuery connector.
func New() Connector { return Connector{} }

// Spec declares BigQuery's settings and credentials, authenticated by a service account key.
// Available is false until a driver is built in.
func (Connector) Spec() warehouse.Spec {
	return warehouse.Spec{
		Engine:      warehouse.BigQuery,
		DisplayName: "Google BigQuery",
		Settings: []connectors.ConfigField{
			{Name: SettingProjectID, Type: connectors.FieldString, Required: true,
				Description: "Google Cloud project ID holding the data (the ID, which may differ from the project name)."},
			{Name: SettingInternalProjectID, Type: connectors.FieldString,
				Description: "Project holding dinmo's `dinmo_*` datasets, when it differs from `project_id` (same location required)."},
			{Name: SettingLocation, Type: connectors.FieldString, Required: true,
				Description: "Location (region or multi-region) of the datasets, e.g. `EU`, `US` or `europe-west1`."},
			{Name: SettingMaximumBytesBilled, Type: connectors.FieldInt,
				Description: "Upper bound of bytes billed per query; queries above it fail instead of running (0: no limit)."},
		},
		Credentials: []connectors.ConfigField{
			{Name: CredentialServiceAccount, Type: connectors.FieldString, Required: true,
				Description: "JSON key of the service account, granted BigQuery User and BigQuery Data Viewer."},
		},
	}
}

// Open always fails with a permanent configuration error: BigQuery is declared but no driver
// is built into this build yet. The provider rejects the engine at plan time already; this
// guards every other path (the runner, tools).
func (Connector) Open(context.Context, warehouse.Config, *slog.Logger) (warehouse.Warehouse, error) {
	return nil, connectors.Permanent(connectors.CategoryConfiguration, fmt.Errorf(
		"engine %q is declared but not available in this build yet; use postgres or duckdb", warehouse.BigQuery))
}
