package warehouse

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"dinmo/connectors"
)

// ViewReplacer is implemented by warehouses that replace a view with more than the dialect's
// CREATE OR REPLACE VIEW statement, because the engine's statement cannot change a view's
// columns (PostgreSQL). ReplaceView uses it when present.
type ViewReplacer interface {
	// ReplaceView creates the view or replaces its definition, whatever its columns were. It is
	// atomic: on error the previous view (and anything depending on it) is left as it was.
	ReplaceView(ctx context.Context, schema, name, query string) error
}

// ReplaceView creates or replaces the view schema.name with query on w, even when the new
// query has different columns than the current view. Use it instead of executing
// Dialect.CreateOrReplaceView: on PostgreSQL that statement fails as soon as a column is
// renamed, removed or changes type. Engines without that restriction (DuckDB) just run the
// dialect's statement.
func ReplaceView(ctx context.Context, w Warehouse, schema, name, query string) error {
	if r, ok := w.(ViewReplacer); ok {
		return r.ReplaceView(ctx, schema, name, query)
	}
	if _, err := w.DB().ExecContext(ctx, w.Dialect().CreateOrReplaceView(schema, name, query)); err != nil {
		return connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("replace view %s.%s: %w", schema, name, err))
	}
	return nil
}

// TrimQuery removes trailing white space and semicolons from a SELECT so it can be embedded
// in a larger statement (a view body, a subquery). Users often end their model SQL with ";".
func TrimQuery(query string) string {
	return strings.TrimRight(query, " \t\r\n;")
}

// ColumnsProbe wraps a query so that running it returns its columns and no row. The query is
// put on its own lines so a trailing line comment in it cannot swallow the wrapper. Engines
// whose syntax differs build their own probe.
func ColumnsProbe(query string) string {
	return "SELECT * FROM (\n" + TrimQuery(query) + "\n) AS dinmo_probe LIMIT 0"
}

// ColumnsFromTypes builds Columns from the column types of a result, with the engine's
// categorisation of its type names.
func ColumnsFromTypes(types []*sql.ColumnType, categorize func(databaseType string) TypeCategory) []Column {
	cols := make([]Column, len(types))
	for i, t := range types {
		cols[i] = Column{Name: t.Name(), DatabaseType: t.DatabaseTypeName(), Category: categorize(t.DatabaseTypeName())}
	}
	return cols
}
