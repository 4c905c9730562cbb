// Package materialize keeps the table of a model materialised as a table: the provider builds
// it at apply (Build, Unbuild) and the runner refreshes it on the model's refresh schedule
// (Refresh). The model's view, dinmo_segments.model_<name>, then selects from the table, so
// segments, stats and activations read the table without knowing it exists.
//
// A refresh replaces the table's rows in one warehouse transaction (DELETE, then INSERT of
// the model query's rows): readers see the old rows until it commits, never a half-filled
// table, and the views depending on the table are untouched. The table's columns are those of
// the model at the last apply; a model whose query gains columns keeps the old ones until the
// next apply, and one whose query loses a column fails to refresh with the warehouse's error
// until it is applied again.
package materialize

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"dinmo/connectors/warehouse"
)

// tablePrefix starts the name of every model table in warehouse.SchemaSegments.
const tablePrefix = "mat_"

// TableName is the unqualified name of a model's table in warehouse.SchemaSegments.
func TableName(model string) string { return tablePrefix + model }

// Query is the SELECT of a model: the user's SQL (trailing semicolons removed), or every column
// of a table whose dotted name parts are each quoted by the dialect.
func Query(d warehouse.Dialect, sqlText, table string) string {
	if table != "" {
		return "SELECT * FROM " + d.Qualified(strings.Split(table, ".")...)
	}
	return warehouse.TrimQuery(sqlText)
}

// ViewQuery is the body of the view of a model materialised as table.
func ViewQuery(d warehouse.Dialect, table string) string {
	return "SELECT * FROM " + d.Qualified(warehouse.SchemaSegments, table)
}

// Build (re)creates the model's table from its query and points the model's view at it. The
// view first holds the query itself, so views depending on it (segments) follow a change of
// columns the way a live model's do, and the old table can be dropped; then the table is
// created and filled, and the view re-pointed. A failure leaves a working live view.
func Build(ctx context.Context, w warehouse.Warehouse, view, table, query string) error {
	d := w.Dialect()
	if err := warehouse.ReplaceView(ctx, w, warehouse.SchemaSegments, view, query); err != nil {
		return fmt.Errorf("replace view %s.%s: %w", warehouse.SchemaSegments, view, err)
	}
	if err := exec(ctx, w, d.DropTable(warehouse.SchemaSegments, table)); err != nil {
		return fmt.Errorf("drop the previous table %s.%s: %w", warehouse.SchemaSegments, table, err)
	}
	if err := exec(ctx, w, d.CreateTableAs(warehouse.SchemaSegments, table, query)); err != nil {
		return fmt.Errorf("create table %s.%s: %w", warehouse.SchemaSegments, table, err)
	}
	if err := warehouse.ReplaceView(ctx, w, warehouse.SchemaSegments, view, ViewQuery(d, table)); err != nil {
		return fmt.Errorf("point view %s.%s at table %s: %w", warehouse.SchemaSegments, view, table, err)
	}
	return nil
}

// Unbuild makes a model live again: its view holds the query, and its table (if any) is
// dropped.
func Unbuild(ctx context.Context, w warehouse.Warehouse, view, table, query string) error {
	if err := warehouse.ReplaceView(ctx, w, warehouse.SchemaSegments, view, query); err != nil {
		return fmt.Errorf("replace view %s.%s: %w", warehouse.SchemaSegments, view, err)
	}
	if err := exec(ctx, w, w.Dialect().DropTable(warehouse.SchemaSegments, table)); err != nil {
		return fmt.Errorf("drop table %s.%s: %w", warehouse.SchemaSegments, table, err)
	}
	return nil
}

// Drop removes a model's table (if any); its view must be gone or no longer select from it.
func Drop(ctx context.Context, w warehouse.Warehouse, table string) error {
	if err := exec(ctx, w, w.Dialect().DropTable(warehouse.SchemaSegments, table)); err != nil {
		return fmt.Errorf("drop table %s.%s: %w", warehouse.SchemaSegments, table, err)
	}
	return nil
}

// ErrNoTable is returned by Refresh when the model's table does not exist: the model must be
// applied (again) first.
var ErrNoTable = errors.New("the model's table does not exist")

// Refresh replaces the rows of the model's table with the current rows of its query, in one
// transaction, and returns the table's row count. columns are the table's columns (the
// model's at the last apply), selected by name from the query.
func Refresh(ctx context.Context, w warehouse.Warehouse, table, query string, columns []string) (int64, error) {
	if len(columns) == 0 {
		return 0, errors.New("refresh: the model has no columns; apply it first")
	}
	exists, err := w.RelationExists(ctx, warehouse.SchemaSegments, table)
	if err != nil {
		return 0, fmt.Errorf("refresh: check table %s.%s: %w", warehouse.SchemaSegments, table, err)
	}
	if !exists {
		return 0, fmt.Errorf("refresh %s.%s: %w; run terraform apply", warehouse.SchemaSegments, table, ErrNoTable)
	}
	stmts := RefreshSQL(w.Dialect(), table, query, columns)
	tx, err := w.DB().BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("refresh %s.%s: begin: %w", warehouse.SchemaSegments, table, err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, s := range stmts[:2] {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return 0, fmt.Errorf("refresh %s.%s: %w", warehouse.SchemaSegments, table, err)
		}
	}
	var rows int64
	if err := tx.QueryRowContext(ctx, stmts[2]).Scan(&rows); err != nil {
		return 0, fmt.Errorf("refresh %s.%s: count rows: %w", warehouse.SchemaSegments, table, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("refresh %s.%s: commit: %w", warehouse.SchemaSegments, table, err)
	}
	return rows, nil
}

// RefreshSQL returns the statements of a refresh, run in order in one transaction: delete every
// row, insert the query's rows (its named columns), count the rows.
func RefreshSQL(d warehouse.Dialect, table, query string, columns []string) []string {
	qt := d.Qualified(warehouse.SchemaSegments, table)
	cols := make([]string, len(columns))
	for i, c := range columns {
		cols[i] = d.QuoteIdent(c)
	}
	list := strings.Join(cols, ", ")
	return []string{
		"DELETE FROM " + qt,
		"INSERT INTO " + qt + " (" + list + ")\nSELECT " + list + " FROM (\n" + warehouse.TrimQuery(query) + "\n) AS dinmo_model",
		"SELECT COUNT(*) FROM " + qt,
	}
}

// exec runs one statement on the warehouse.
func exec(ctx context.Context, w warehouse.Warehouse, stmt string) error {
	_, err := w.DB().ExecContext(ctx, stmt)
	return err
}
