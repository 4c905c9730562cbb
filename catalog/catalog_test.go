package catalog_test

import (
	"path/filepath"
	"testing"

	"dinmo/catalog/catalogtest"
	"dinmo/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestSQLite runs the conformance suite on a SQLite file per subtest.
func TestSQLite(t *testing.T) {
	t.Parallel()
	catalogtest.Run(t, func(t *testing.T) string {
		return "sqlite://" + filepath.Join(t.TempDir(), "catalog.db")
	})
}

// TestPostgres runs the same suite on a fresh PostgreSQL database per subtest.
func TestPostgres(t *testing.T) {
	t.Parallel()
	catalogtest.Run(t, func(t *testing.T) string { return pgtest.DSN(t) })
}
