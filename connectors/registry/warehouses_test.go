package registry

import (
	"testing"

	"dinmo/connectors/warehouse"
)

func TestWarehousesListsEverySixEngines(t *testing.T) {
	r, err := New(Warehouses(), nil)
	if err != nil {
		t.Fatal(err)
	}
	available := map[warehouse.Engine]bool{
		warehouse.Postgres: true, warehouse.DuckDB: true,
		warehouse.Redshift: false, warehouse.Snowflake: false, warehouse.BigQuery: false, warehouse.Databricks: false,
	}
	specs := r.WarehouseSpecs()
	if len(specs) != len(available) {
		t.Fatalf("%d engines registered, want %d", len(specs), len(available))
	}
	for _, s := range specs {
		want, ok := available[s.Engine]
		if !ok {
			t.Errorf("unexpected engine %q", s.Engine)
			continue
		}
		if s.Available != want {
			t.Errorf("%s: Available = %v, want %v", s.Engine, s.Available, want)
		}
		c, ok := r.Warehouse(s.Engine)
		if !ok || c.Spec().Engine != s.Engine {
			t.Errorf("%s: lookup failed", s.Engine)
		}
	}
}
