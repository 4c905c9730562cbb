// Package postgres is the PostgreSQL warehouse engine: its configuration, its connection
// (pgx through database/sql), its dialect and its introspection.
package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"dinmo/connectors"
	"dinmo/connectors/warehouse"
)

// Setting and credential keys.
const (
	SettingHost            = "host"
	SettingPort            = "port"
	SettingDatabase        = "database"
	SettingUser            = "user"
	SettingSSLMode         = "sslmode"
	SettingSSLRootCert     = "sslrootcert"
	SettingConnectTimeout  = "connect_timeout_seconds"
	SettingApplicationName = "application_name"
	CredentialPassword     = "password"
)

// SSL modes, with libpq's meaning.
var sslModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

// Session settings pinned on every connection, so that SQL text of values (and therefore row
// hashes and relative date conditions) does not depend on server or role defaults.
var sessionParams = map[string]string{
	"TimeZone":                    "UTC",
	"DateStyle":                   "ISO, MDY",
	"IntervalStyle":               "iso_8601",
	"extra_float_digits":          "1",
	"standard_conforming_strings": "on",
}

// Pool limits of the database/sql pool. The runner streams one diff at a time per activation
// and the provider issues a handful of DDL statements, so a small pool suffices and keeps the
// warehouse's connection count low.
const (
	maxOpenConns    = 8
	maxIdleConns    = 2
	connMaxIdleTime = 5 * time.Minute
	connMaxLifetime = 30 * time.Minute
)

// Connector opens PostgreSQL warehouses.
type Connector struct{}

var _ warehouse.Connector = Connector{}

// New returns the PostgreSQL connector.
func New() Connector { return Connector{} }

// Spec declares PostgreSQL's settings and credentials.
func (Connector) Spec() warehouse.Spec {
	return warehouse.Spec{
		Engine:      warehouse.Postgres,
		DisplayName: "PostgreSQL",
		Available:   true,
		Settings: []connectors.ConfigField{
			{Name: SettingHost, Type: connectors.FieldString, Required: true,
				Description: "Host name or IP address of the server, or the directory of its Unix socket."},
			{Name: SettingPort, Type: connectors.FieldInt, Default: int64(5432), Min: 1, Max: 65535,
				Description: "TCP port of the server."},
			{Name: SettingDatabase, Type: connectors.FieldString, Required: true,
				Description: "Database holding the data dinmo reads and the `dinmo_*` schemas it manages."},
			{Name: SettingUser, Type: connectors.FieldString, Required: true,
				Description: "Role dinmo connects as. It needs `SELECT` on the modelled tables and `CREATE` on the database (to create the `dinmo_*` schemas)."},
			{Name: SettingSSLMode, Type: connectors.FieldString, Default: "prefer", Enum: sslModes,
				Description: "TLS mode, with libpq's meaning: `disable`, `allow`, `prefer`, `require`, `verify-ca` or `verify-full`."},
			{Name: SettingSSLRootCert, Type: connectors.FieldString,
				Description: "Path to the PEM file of the certificate authorities that `verify-ca` and `verify-full` trust (default: the system's)."},
			{Name: SettingConnectTimeout, Type: connectors.FieldInt, Default: int64(10), Min: 1, Max: 600,
				Description: "Seconds to wait for a connection before failing."},
			{Name: SettingApplicationName, Type: connectors.FieldString, Default: "dinmo",
				Description: "`application_name` reported to the server (visible in `pg_stat_activity`)."},
		},
		Credentials: []connectors.ConfigField{
			{Name: CredentialPassword, Type: connectors.FieldString,
				Description: "Password of the user. Omit it for trust, peer or certificate authentication."},
		},
	}
}

// Open connects to the server and pings it. Connection parameters come only from cfg and the
// standard PG* environment variables and ~/.pgpass of libpq for what cfg leaves unset (the
// password is always taken from cfg, empty when not given).
func (c Connector) Open(ctx context.Context, cfg warehouse.Config, logger *slog.Logger) (warehouse.Warehouse, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := warehouse.NewConfigReader(c.Spec(), cfg)
	host := r.String(SettingHost)
	port := r.Int(SettingPort)
	database := r.String(SettingDatabase)
	user := r.String(SettingUser)
	sslMode := r.String(SettingSSLMode)
	sslRootCert := r.String(SettingSSLRootCert)
	timeout := r.Int(SettingConnectTimeout)
	appName := r.String(SettingApplicationName)
	password := r.Credential(CredentialPassword)
	if err := r.Err(); err != nil {
		return nil, err
	}

	// The connection string never holds the password: it is set on the parsed config, so no
	// parse error or log line can contain it.
	kv := [][2]string{
		{"host", host},
		{"port", strconv.FormatInt(port, 10)},
		{"dbname", database},
		{"user", user},
		{"sslmode", sslMode},
	}
	if sslRootCert != "" {
		kv = append(kv, [2]string{"sslrootcert", sslRootCert})
	}
	pcfg, err := pgx.ParseConfig(keywordValue(kv))
	if err != nil {
		return nil, connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("postgres: invalid connection settings: %w", redact(err, password)))
	}
	pcfg.Password = password
	// No server-side statement cache: views and tables change under dinmo's connections (apply
	// replaces views, the runner alters snapshots), and a cached plan whose result type changed
	// fails with "cached plan must not change result type". A warehouse sync runs a few large
	// statements, so describing each one first costs nothing that matters.
	pcfg.DefaultQueryExecMode = pgx.QueryExecModeDescribeExec
	pcfg.ConnectTimeout = time.Duration(timeout) * time.Second
	pcfg.RuntimeParams["application_name"] = appName
	for k, v := range sessionParams {
		pcfg.RuntimeParams[k] = v
	}

	db := stdlib.OpenDB(*pcfg)
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxIdleConns)
	db.SetConnMaxIdleTime(connMaxIdleTime)
	db.SetConnMaxLifetime(connMaxLifetime)

	w := &Warehouse{db: db, dialect: NewDialect(), password: password, logger: logger}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, w.opError(fmt.Sprintf("connect to %s:%d/%s", host, port, database), err)
	}
	logger.Debug("postgres warehouse opened", "host", host, "port", port, "database", database, "user", user)
	return w, nil
}

// keywordValue builds a libpq keyword/value connection string, quoting every value so spaces,
// quotes and backslashes in it cannot inject another keyword.
func keywordValue(kv [][2]string) string {
	parts := make([]string, len(kv))
	for i, p := range kv {
		v := strings.ReplaceAll(p[1], `\`, `\\`)
		v = strings.ReplaceAll(v, `'`, `\'`)
		parts[i] = p[0] + "='" + v + "'"
	}
	return strings.Join(parts, " ")
}
