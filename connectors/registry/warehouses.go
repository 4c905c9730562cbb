package registry

import (
	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/bigquery"
	"dinmo/connectors/warehouse/databricks"
	"dinmo/connectors/warehouse/duckdb"
	"dinmo/connectors/warehouse/postgres"
	"dinmo/connectors/warehouse/redshift"
	"dinmo/connectors/warehouse/snowflake"
)

// Warehouses returns every warehouse engine of this build, in the order of the design: the
// two available engines first, then the engines whose configuration and dialect are declared
// but whose driver is not built in yet (Available false), so the provider schema has their
// place.
func Warehouses() []warehouse.Connector {
	return []warehouse.Connector{
		postgres.New(),
		duckdb.New(),
		redshift.New(),
		snowflake.New(),
		bigquery.New(),
		databricks.New(),
	}
}
