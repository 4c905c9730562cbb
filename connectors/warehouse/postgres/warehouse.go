package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"

	"dinmo/connectors"
	"dinmo/connectors/warehouse"
)

// Warehouse is an open PostgreSQL source. It is safe for concurrent use.
type Warehouse struct {
	db       *sql.DB
	dialect  Dialect
	password string // only to redact it from errors
	logger   *slog.Logger
	closed   atomic.Bool
}

var (
	_ warehouse.Warehouse    = (*Warehouse)(nil)
	_ warehouse.ViewReplacer = (*Warehouse)(nil)
)

var errClosed = errors.New("postgres: warehouse is closed")

// Engine returns warehouse.Postgres.
func (w *Warehouse) Engine() warehouse.Engine { return warehouse.Postgres }

// Dialect returns the PostgreSQL dialect.
func (w *Warehouse) Dialect() warehouse.Dialect { return w.dialect }

// DB returns the connection pool. Every connection has TimeZone=UTC, DateStyle=ISO,
// IntervalStyle=iso_8601, extra_float_digits=1 and standard_conforming_strings=on, whatever
// the server, database or role defaults are.
func (w *Warehouse) DB() *sql.DB { return w.db }

func (w *Warehouse) check() error {
	if w.closed.Load() {
		return connectors.Permanent(connectors.CategoryInternal, errClosed)
	}
	return nil
}

// Ping checks that the server answers and the credentials work.
func (w *Warehouse) Ping(ctx context.Context) error {
	if err := w.check(); err != nil {
		return err
	}
	if err := w.db.PingContext(ctx); err != nil {
		return w.opError("ping", err)
	}
	return nil
}

// QueryColumns returns the result columns of a SELECT without reading its rows. The query runs
// wrapped in LIMIT 0 inside a read-only transaction, so nothing it calls can write.
func (w *Warehouse) QueryColumns(ctx context.Context, query string) ([]warehouse.Column, error) {
	if err := w.check(); err != nil {
		return nil, err
	}
	tx, err := w.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, w.opError("query columns: begin", err)
	}
	defer func() { _ = tx.Rollback() }()

	types, err := probeColumnTypes(ctx, tx, query)
	if err != nil {
		return nil, w.opError("query columns", err)
	}
	cols := warehouse.ColumnsFromTypes(types, Category)
	// pgx names the types it knows; other types (enums, domains, extension types) come as
	// their OID, resolved from pg_type.
	var unknown []int64
	for i := range cols {
		if oid, err := strconv.ParseInt(cols[i].DatabaseType, 10, 64); err == nil {
			unknown = append(unknown, oid)
		} else {
			cols[i].DatabaseType = strings.ToLower(cols[i].DatabaseType)
		}
	}
	if len(unknown) > 0 {
		if err := w.resolveTypes(ctx, tx, cols); err != nil {
			return nil, err
		}
	}
	return cols, nil
}

// probeColumnTypes runs query wrapped in LIMIT 0 and returns its result column types. The rows
// are drained and closed before it returns, so the transaction is free for the next statement.
func probeColumnTypes(ctx context.Context, tx *sql.Tx, query string) ([]*sql.ColumnType, error) {
	rows, err := tx.QueryContext(ctx, warehouse.ColumnsProbe(query))
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	// The probe returns no rows; draining it surfaces an error raised while executing.
	for rows.Next() {
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return types, rows.Close()
}

// resolveTypes names the columns whose type pgx reported by OID, and categorises enums as
// strings and domains by their base type.
func (w *Warehouse) resolveTypes(ctx context.Context, tx *sql.Tx, cols []warehouse.Column) error {
	const q = `SELECT t.oid::int8, format_type(t.oid, NULL), t.typtype::text, coalesce(b.typname::text, '')
FROM pg_catalog.pg_type t LEFT JOIN pg_catalog.pg_type b ON b.oid = t.typbasetype
WHERE t.oid::int8 = ANY($1)`
	var oids []int64
	for _, c := range cols {
		if oid, err := strconv.ParseInt(c.DatabaseType, 10, 64); err == nil {
			oids = append(oids, oid)
		}
	}
	rows, err := tx.QueryContext(ctx, q, oids)
	if err != nil {
		return w.opError("query columns: resolve types", err)
	}
	defer func() { _ = rows.Close() }()
	type info struct{ name, kind, base string }
	byOID := map[string]info{}
	for rows.Next() {
		var oid int64
		var i info
		if err := rows.Scan(&oid, &i.name, &i.kind, &i.base); err != nil {
			return w.opError("query columns: resolve types", err)
		}
		byOID[strconv.FormatInt(oid, 10)] = i
	}
	if err := rows.Err(); err != nil {
		return w.opError("query columns: resolve types", err)
	}
	for i := range cols {
		t, ok := byOID[cols[i].DatabaseType]
		if !ok {
			continue
		}
		cols[i].DatabaseType = t.name
		switch t.kind {
		case "e":
			cols[i].Category = warehouse.TypeString
		case "d":
			cols[i].Category = Category(t.base)
		default:
			cols[i].Category = Category(t.name)
		}
	}
	return nil
}

// Category maps a PostgreSQL type name (as pgx or pg_type spell it, any case) to its portable
// category.
func Category(databaseType string) warehouse.TypeCategory {
	switch strings.ToLower(strings.TrimSpace(databaseType)) {
	case "int2", "int4", "int8", "smallint", "integer", "bigint":
		return warehouse.TypeInteger
	case "numeric", "decimal", "float4", "float8", "real", "double precision", "money":
		return warehouse.TypeNumber
	case "bool", "boolean":
		return warehouse.TypeBoolean
	case "date":
		return warehouse.TypeDate
	case "timestamp", "timestamptz", "timestamp without time zone", "timestamp with time zone":
		return warehouse.TypeTimestamp
	case "text", "varchar", "bpchar", "char", "name", "uuid", "citext", "character varying", "character":
		return warehouse.TypeString
	}
	return warehouse.TypeOther
}

// RelationExists reports whether a table, view, materialized view, partitioned or foreign
// table schema.name exists. It reads pg_catalog rather than information_schema, which hides
// relations the role has no privilege on.
func (w *Warehouse) RelationExists(ctx context.Context, schema, name string) (bool, error) {
	if err := w.check(); err != nil {
		return false, err
	}
	const q = `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'v', 'm', 'p', 'f'))`
	var exists bool
	if err := w.db.QueryRowContext(ctx, q, schema, name).Scan(&exists); err != nil {
		return false, w.opError(fmt.Sprintf("check relation %s.%s", schema, name), err)
	}
	return exists, nil
}

// Close closes the pool. Later calls return nil.
func (w *Warehouse) Close() error {
	if w.closed.Swap(true) {
		return nil
	}
	if err := w.db.Close(); err != nil {
		return fmt.Errorf("postgres: close: %w", err)
	}
	return nil
}

// ReplaceView creates or replaces schema.name with query, in one transaction, even when the
// columns change. PostgreSQL's CREATE OR REPLACE VIEW refuses to drop, rename or retype a
// column (SQLSTATE 42P16); in that case the view is dropped and created again, and so are the
// views that depend on it (segments built on a model), from their current definitions, with
// their comments and grants. Grants and the comment of the view itself are kept too. If a
// dependent view no longer compiles against the new columns, or something other than a plain
// view depends on the view (a materialized view, a function), nothing changes and the error
// says which object is in the way. Recreated views are owned by the connecting role.
func (w *Warehouse) ReplaceView(ctx context.Context, schema, name, query string) error {
	if err := w.check(); err != nil {
		return err
	}
	op := fmt.Sprintf("replace view %s.%s", schema, name)
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return w.opError(op, err)
	}
	defer func() { _ = tx.Rollback() }()

	if _, err := tx.ExecContext(ctx, "SAVEPOINT dinmo_replace_view"); err != nil {
		return w.opError(op, err)
	}
	_, err = tx.ExecContext(ctx, w.dialect.CreateOrReplaceView(schema, name, query))
	if err != nil && sqlState(err) != "42P16" {
		return w.opError(op, err)
	}
	if err != nil {
		if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT dinmo_replace_view"); err != nil {
			return w.opError(op, err)
		}
		w.logger.Debug("view columns changed; recreating it and its dependent views", "schema", schema, "view", name)
		if err := w.recreateView(ctx, tx, schema, name, query); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return w.opError(op, err)
	}
	return nil
}

// viewInfo is what is needed to create a view again.
type viewInfo struct {
	oid        int64
	schema     string
	name       string
	kind       string
	definition string
	options    []string
	comment    sql.NullString
	grants     []grant
}

type grant struct {
	grantee   string // "" for PUBLIC
	privilege string
	grantable bool
}

func (w *Warehouse) recreateView(ctx context.Context, tx *sql.Tx, schema, name, query string) error {
	op := fmt.Sprintf("replace view %s.%s", schema, name)
	self, err := loadView(ctx, tx, schema, name)
	if err != nil {
		return w.opError(op, err)
	}
	deps, err := dependentViews(ctx, tx, self.oid)
	if err != nil {
		return w.opError(op+": list dependent views", err)
	}
	for _, d := range deps {
		if d.kind != "v" {
			return connectors.Permanent(connectors.CategoryConfiguration, fmt.Errorf(
				"postgres: %s: its columns changed and %s.%s (relkind %q, not a plain view) depends on it; drop or change that object first",
				op, d.schema, d.name, d.kind))
		}
	}
	for i := len(deps) - 1; i >= 0; i-- {
		if _, err := tx.ExecContext(ctx, "DROP VIEW "+w.dialect.Qualified(deps[i].schema, deps[i].name)); err != nil {
			return w.opError(fmt.Sprintf("%s: drop dependent view %s.%s", op, deps[i].schema, deps[i].name), err)
		}
	}
	if _, err := tx.ExecContext(ctx, "DROP VIEW "+w.dialect.Qualified(schema, name)); err != nil {
		return w.opError(op+": drop (other objects depend on the view; drop them first)", err)
	}
	if _, err := tx.ExecContext(ctx, "CREATE VIEW "+w.dialect.Qualified(schema, name)+" AS\n"+query); err != nil {
		return w.opError(op, err)
	}
	if err := w.restoreMetadata(ctx, tx, self); err != nil {
		return w.opError(op, err)
	}
	for _, d := range deps {
		// DDL cannot take bind parameters: the name is quoted by the dialect, the options were
		// checked against optionPattern and the definition is PostgreSQL's own pg_get_viewdef.
		stmt := "CREATE VIEW " + w.dialect.Qualified(d.schema, d.name) //nolint:gosec // G202: quoted identifiers, validated options, server-rendered definition
		if len(d.options) > 0 {
			stmt += " WITH (" + strings.Join(d.options, ", ") + ")"
		}
		stmt += " AS\n" + d.definition
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return w.opError(fmt.Sprintf("%s: dependent view %s.%s no longer compiles against the new columns", op, d.schema, d.name), err)
		}
		if err := w.restoreMetadata(ctx, tx, d); err != nil {
			return w.opError(op, err)
		}
	}
	return nil
}

// optionPattern accepts the reloptions a view can carry (security_barrier=true,
// check_option=local, security_invoker=on); anything else is refused rather than spliced.
var optionPattern = regexp.MustCompile(`^[a-z_]+=[a-z0-9_]+$`)

// privilegePattern accepts privilege names as aclexplode spells them.
var privilegePattern = regexp.MustCompile(`^[A-Z ]+$`)

const viewColumns = `c.oid::int8, n.nspname::text, c.relname::text, c.relkind::text,
  CASE WHEN c.relkind = 'v' THEN pg_catalog.pg_get_viewdef(c.oid) ELSE '' END,
  coalesce(array_to_string(c.reloptions, ','), ''),
  pg_catalog.obj_description(c.oid, 'pg_class')`

func scanView(row interface{ Scan(...any) error }) (viewInfo, error) {
	var v viewInfo
	var options string
	if err := row.Scan(&v.oid, &v.schema, &v.name, &v.kind, &v.definition, &options, &v.comment); err != nil {
		return v, err
	}
	if options != "" {
		v.options = strings.Split(options, ",")
		for _, o := range v.options {
			if !optionPattern.MatchString(o) {
				return v, fmt.Errorf("view %s.%s has an unexpected option %q", v.schema, v.name, o)
			}
		}
	}
	v.definition = strings.TrimRight(strings.TrimSpace(v.definition), ";")
	return v, nil
}

func loadView(ctx context.Context, tx *sql.Tx, schema, name string) (viewInfo, error) {
	q := `SELECT ` + viewColumns + `
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2`
	v, err := scanView(tx.QueryRowContext(ctx, q, schema, name))
	if err != nil {
		return v, err
	}
	v.grants, err = loadGrants(ctx, tx, v.oid)
	return v, err
}

// dependentViews returns the relations whose rewrite rules reference oid, directly or
// through other views, ordered so that each comes after everything it depends on.
func dependentViews(ctx context.Context, tx *sql.Tx, oid int64) ([]viewInfo, error) {
	q := `WITH RECURSIVE dep(oid, depth) AS (
    SELECT DISTINCT r.ev_class, 1
    FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
    WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
      AND d.refobjid = $1::int8::oid AND r.ev_class <> d.refobjid
  UNION ALL
    SELECT r.ev_class, dep.depth + 1
    FROM dep JOIN pg_catalog.pg_depend d ON d.refobjid = dep.oid
    JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
    WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
      AND r.ev_class <> d.refobjid AND dep.depth < 64
), ordered AS (
    SELECT oid, max(depth) AS depth FROM dep GROUP BY oid
)
SELECT ` + viewColumns + `
FROM ordered o JOIN pg_catalog.pg_class c ON c.oid = o.oid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
ORDER BY o.depth, n.nspname, c.relname`
	views, err := queryViews(ctx, tx, q, oid)
	if err != nil {
		return nil, err
	}
	for i := range views {
		if views[i].grants, err = loadGrants(ctx, tx, views[i].oid); err != nil {
			return nil, err
		}
	}
	return views, nil
}

// queryViews runs a query selecting viewColumns and scans every row. The rows are closed before
// it returns, so the caller can issue further statements on tx.
func queryViews(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]viewInfo, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var views []viewInfo
	for rows.Next() {
		v, err := scanView(rows)
		if err != nil {
			return nil, err
		}
		views = append(views, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return views, rows.Close()
}

// loadGrants returns the privileges granted on a relation to roles other than its owner.
func loadGrants(ctx context.Context, tx *sql.Tx, oid int64) ([]grant, error) {
	const q = `SELECT CASE WHEN a.grantee = 0 THEN '' ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END,
  a.privilege_type, a.is_grantable
FROM pg_catalog.pg_class c, LATERAL aclexplode(c.relacl) a
WHERE c.oid = $1::int8::oid AND a.grantee <> c.relowner
ORDER BY 1, 2`
	rows, err := tx.QueryContext(ctx, q, oid)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var grants []grant
	for rows.Next() {
		var g grant
		if err := rows.Scan(&g.grantee, &g.privilege, &g.grantable); err != nil {
			return nil, err
		}
		if !privilegePattern.MatchString(g.privilege) {
			return nil, fmt.Errorf("unexpected privilege %q", g.privilege)
		}
		grants = append(grants, g)
	}
	return grants, rows.Err()
}

// restoreMetadata applies the comment and grants a view had before it was recreated.
func (w *Warehouse) restoreMetadata(ctx context.Context, tx *sql.Tx, v viewInfo) error {
	target := w.dialect.Qualified(v.schema, v.name)
	if v.comment.Valid {
		if _, err := tx.ExecContext(ctx, "COMMENT ON VIEW "+target+" IS "+w.dialect.QuoteString(v.comment.String)); err != nil {
			return fmt.Errorf("restore comment of %s.%s: %w", v.schema, v.name, err)
		}
	}
	for _, g := range v.grants {
		grantee := "PUBLIC"
		if g.grantee != "" {
			grantee = w.dialect.QuoteIdent(g.grantee)
		}
		// GRANT cannot take bind parameters: the privilege was checked against privilegePattern
		// and the target and grantee are quoted by the dialect.
		stmt := "GRANT " + g.privilege + " ON " + target + " TO " + grantee //nolint:gosec // G202: validated privilege, quoted identifiers
		if g.grantable {
			stmt += " WITH GRANT OPTION"
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("restore grant %s to %s on %s.%s: %w", g.privilege, grantee, v.schema, v.name, err)
		}
	}
	return nil
}
