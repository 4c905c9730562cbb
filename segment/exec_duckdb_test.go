package segment

import (
	"path/filepath"
	"testing"

	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/duckdb"
)

func openDuckDB(t *testing.T) warehouse.Warehouse {
	t.Helper()
	w, err := duckdb.New().Open(t.Context(), warehouse.Config{
		Settings: map[string]any{duckdb.SettingPath: filepath.Join(t.TempDir(), "segment.duckdb")},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

func TestExecDuckDB(t *testing.T) {
	w := openDuckDB(t)
	cols := loadFixture(t, w, []string{"BIGINT", "VARCHAR", "VARCHAR", "INTEGER", "DECIMAL(12,4)", "BOOLEAN", "DATE", "TIMESTAMPTZ", "BLOB", "TIMESTAMP"})
	runExecCases(t, w, cols)
	runGoldenQueries(t, w)
}

func TestExecGraphDuckDB(t *testing.T) {
	w := openDuckDB(t)
	loadGraph(t, w, true)
	runGraphCases(t, w)
	runGraphGoldenQueries(t, w)
}
