package duckdb

import (
	"testing"

	"dinmo/connectors/warehouse/internal/dialecttest"
)

func TestDialectGolden(t *testing.T) {
	dialecttest.Golden(t, "dialect", dialecttest.Render(NewDialect()))
}
