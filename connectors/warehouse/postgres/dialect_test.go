package postgres

import (
	"testing"

	"dinmo/connectors/warehouse/internal/dialecttest"
)

func TestDialectGolden(t *testing.T) {
	dialecttest.Golden(t, "dialect", dialecttest.Render(NewDialect()))
}

func TestKeywordValueQuoting(t *testing.T) {
	got := keywordValue([][2]string{{"host", "h"}, {"user", `o'brien \ x`}, {"dbname", "a b"}})
	want := `host='h' user='o\'brien \\ x' dbname='a b'`
	if got != want {
		t.Errorf("keywordValue = %s, want %s", got, want)
	}
}
