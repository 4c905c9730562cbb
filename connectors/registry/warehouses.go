package registry

import (
	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/declared"
	"dinmo/connectors/warehouse/duckdb"
	"dinmo/connectors/warehouse/postgres"
)

// Warehouses returns every warehouse engine of this build, in the order of the design: the
// two available engines first, then the declared ones (Available false) so the provider
// schema has their place.
func Warehouses() []warehouse.Connector {
	return append([]warehouse.Connector{
		postgres.New(),
		duckdb.New(),
	}, declared.All()...)
}
