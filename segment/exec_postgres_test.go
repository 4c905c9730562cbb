package segment

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/postgres"
	"dinmo/internal/pgtest"
)

func openPostgres(t *testing.T) warehouse.Warehouse {
	t.Helper()
	pcfg, err := pgx.ParseConfig(pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	w, err := postgres.New().Open(t.Context(), warehouse.Config{
		Settings: map[string]any{
			postgres.SettingHost:     pcfg.Host,
			postgres.SettingPort:     int64(pcfg.Port),
			postgres.SettingDatabase: pcfg.Database,
			postgres.SettingUser:     pcfg.User,
			postgres.SettingSSLMode:  "disable",
		},
		Credentials: map[string]string{postgres.CredentialPassword: pcfg.Password},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

func TestExecPostgres(t *testing.T) {
	w := openPostgres(t)
	cols := loadFixture(t, w, []string{"bigint", "text", "varchar(20)", "integer", "numeric(12,4)", "boolean", "date", "timestamptz", "bytea", "timestamp"})
	runExecCases(t, w, cols)
	runGoldenQueries(t, w)
}

func TestExecGraphPostgres(t *testing.T) {
	w := openPostgres(t)
	loadGraph(t, w, false)
	runGraphCases(t, w)
	runGraphGoldenQueries(t, w)
}
