// Package stats computes the statistics of models and segments in the warehouse: the share of
// invalid primary keys of a model, the size of a segment and its share of the parent model,
// breakdowns of a segment by categorical fields, and overlaps between segments of the same
// model. Sizes are appended to a history table in the managed schema dinmo_stats.
//
// Everything is computed by the warehouse over the views dinmo maintains (model_<name> and
// segment_<name> in dinmo_segments), so no row ever leaves it: only counts do. SQL is built
// through the warehouse's Dialect only (identifiers quoted, values bound), so the same code runs
// on every engine; the *SQL functions are exported so that tests and the documentation can show
// exactly what runs.
//
// Definitions:
//
//   - Duplicate key share: (rows - distinct non-NULL keys) / rows, the share of rows that are not
//     the first row of their key; a NULL key counts as invalid. It is 0 for an empty model. A
//     model whose key is unique and never NULL has share 0; one where every row has the same key
//     has share (n-1)/n. The provider fails an apply above MaxDuplicateShare (5%) and warns
//     between 0 and 5%.
//   - Segment size: the rows of the segment's view; parent size: the rows of its model's view;
//     share: size / parent size (0 when the model is empty).
//   - Breakdown: for each field, the count of the segment's rows per value (NULL is a value of
//     its own) and its percentage of the segment's size, largest counts first.
//   - Overlap: for each pair of segments, the rows of the first whose primary key is the key of
//     a row of the second (the key joins them, so both segments must share their parent model).
package stats

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"dinmo/connectors/warehouse"
)

// MaxDuplicateShare is the highest share of invalid primary keys (duplicates and NULLs) a model
// may have: above it an apply fails. The spec leaves exactly 5% undecided; it is accepted (with
// a warning).
const MaxDuplicateShare = 0.05

// HistoryTable is the table of dinmo_stats holding one row per computed segment size.
const HistoryTable = "segment_sizes"

// KeyHistoryTable is the table of dinmo_stats holding one row per duplicate primary key check
// of a model.
const KeyHistoryTable = "model_key_checks"

// Relation names a table or view of the warehouse.
type Relation struct {
	Schema string
	Name   string
}

// SegmentsView is the relation of a view of dinmo_segments, from the view name the catalog
// stores (older catalogs stored it qualified with dinmo_segments).
func SegmentsView(view string) Relation {
	return Relation{Schema: warehouse.SchemaSegments, Name: strings.TrimPrefix(view, warehouse.SchemaSegments+".")}
}

// Display is the unquoted schema-qualified name, for messages.
func (r Relation) Display() string { return r.Schema + "." + r.Name }

func (r Relation) quoted(d warehouse.Dialect) string { return d.Qualified(r.Schema, r.Name) }

// Queryer is what the functions of this package run their SQL on: a *sql.DB, *sql.Conn or
// *sql.Tx.
type Queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// KeyCheck is the result of a duplicate primary key check.
type KeyCheck struct {
	// Rows is the number of rows of the model; Invalid the rows that are not the first of
	// their key or whose key is NULL.
	Rows    int64
	Invalid int64
	// Share is Invalid / Rows (0 when the model is empty).
	Share float64
}

// DuplicateKeySQL returns the query counting a relation's rows and its invalid keys (two BIGINT
// columns: rows, invalid).
func DuplicateKeySQL(d warehouse.Dialect, rel Relation, key string) string {
	k := d.QuoteIdent(key)
	return "SELECT COUNT(*) AS " + d.QuoteIdent("rows") + ", COUNT(*) - COUNT(DISTINCT " + k + ") AS " +
		d.QuoteIdent("invalid") + " FROM " + rel.quoted(d)
}

// DuplicateKeyQuerySQL is DuplicateKeySQL over the result of a SELECT (a model's query before
// its view exists). The query is the user's own SQL, run as written.
func DuplicateKeyQuerySQL(d warehouse.Dialect, query, key string) string {
	k := d.QuoteIdent(key)
	return "SELECT COUNT(*) AS " + d.QuoteIdent("rows") + ", COUNT(*) - COUNT(DISTINCT " + k + ") AS " +
		d.QuoteIdent("invalid") + " FROM (" + warehouse.TrimQuery(query) + ") AS " + d.QuoteIdent("q")
}

// DuplicateKeysOfQuery checks the primary key of a SELECT's result.
func DuplicateKeysOfQuery(ctx context.Context, q Queryer, d warehouse.Dialect, query, key string) (KeyCheck, error) {
	var kc KeyCheck
	if err := q.QueryRowContext(ctx, DuplicateKeyQuerySQL(d, query, key)).Scan(&kc.Rows, &kc.Invalid); err != nil {
		return KeyCheck{}, fmt.Errorf("check primary key %q: %w", key, err)
	}
	kc.Share = ratio(kc.Invalid, kc.Rows)
	return kc, nil
}

// DuplicateKeys checks the primary key of a relation (see the package documentation).
func DuplicateKeys(ctx context.Context, q Queryer, d warehouse.Dialect, rel Relation, key string) (KeyCheck, error) {
	var kc KeyCheck
	if err := q.QueryRowContext(ctx, DuplicateKeySQL(d, rel, key)).Scan(&kc.Rows, &kc.Invalid); err != nil {
		return KeyCheck{}, fmt.Errorf("check primary key %q of %s: %w", key, rel.Display(), err)
	}
	kc.Share = ratio(kc.Invalid, kc.Rows)
	return kc, nil
}

func ratio(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}

// Size is a segment's size and its share of the parent model.
type Size struct {
	Size       int64
	ParentSize int64
	// Share is Size / ParentSize (0 when the model is empty).
	Share      float64
	ComputedAt time.Time
}

// SizeSQL returns the query counting the rows of a segment and of its parent (two BIGINT
// columns: size, parent_size).
func SizeSQL(d warehouse.Dialect, seg, parent Relation) string {
	return "SELECT (SELECT COUNT(*) FROM " + seg.quoted(d) + ") AS " + d.QuoteIdent("size") +
		", (SELECT COUNT(*) FROM " + parent.quoted(d) + ") AS " + d.QuoteIdent("parent_size")
}

// SegmentSize computes a segment's size; now stamps the result (UTC).
func SegmentSize(ctx context.Context, q Queryer, d warehouse.Dialect, seg, parent Relation, now time.Time) (Size, error) {
	var s Size
	if err := q.QueryRowContext(ctx, SizeSQL(d, seg, parent)).Scan(&s.Size, &s.ParentSize); err != nil {
		return Size{}, fmt.Errorf("count the rows of %s and %s: %w", seg.Display(), parent.Display(), err)
	}
	s.Share = ratio(s.Size, s.ParentSize)
	s.ComputedAt = now.UTC().Truncate(time.Microsecond)
	return s, nil
}

// BreakdownRow is the count of one value of one field.
type BreakdownRow struct {
	Field string
	// Value is the value as text; Null is true (and Value empty) for NULL.
	Value string
	Null  bool
	Count int64
	// Percent is Count / the segment's size * 100.
	Percent float64
}

// BreakdownSQL returns the query counting a segment's rows per value of a field (columns:
// value as text, count).
func BreakdownSQL(d warehouse.Dialect, seg Relation, field string) string {
	f := d.QuoteIdent(field)
	return "SELECT " + d.CastText(f) + " AS " + d.QuoteIdent("value") + ", COUNT(*) AS " + d.QuoteIdent("count") +
		" FROM " + seg.quoted(d) + " GROUP BY " + f
}

// Breakdown computes the breakdown of a segment by each field, in the order of fields, each
// field's values by decreasing count then increasing value (NULL last). size is the segment's
// size, the base of the percentages; pass a negative size to have it counted.
func Breakdown(ctx context.Context, q Queryer, d warehouse.Dialect, seg Relation, fields []string, size int64) ([]BreakdownRow, error) {
	if len(fields) == 0 {
		return nil, errors.New("breakdown: no field given")
	}
	if size < 0 {
		if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+seg.quoted(d)).Scan(&size); err != nil {
			return nil, fmt.Errorf("breakdown: count the rows of %s: %w", seg.Display(), err)
		}
	}
	var out []BreakdownRow
	for _, f := range fields {
		rows, err := breakdownField(ctx, q, d, seg, f, size)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}

func breakdownField(ctx context.Context, q Queryer, d warehouse.Dialect, seg Relation, field string, size int64) ([]BreakdownRow, error) {
	rows, err := q.QueryContext(ctx, BreakdownSQL(d, seg, field))
	if err != nil {
		return nil, fmt.Errorf("breakdown of %s by %q: %w", seg.Display(), field, err)
	}
	defer rows.Close()
	var out []BreakdownRow
	for rows.Next() {
		var v sql.NullString
		var n int64
		if err := rows.Scan(&v, &n); err != nil {
			return nil, fmt.Errorf("breakdown of %s by %q: %w", seg.Display(), field, err)
		}
		out = append(out, BreakdownRow{Field: field, Value: v.String, Null: !v.Valid, Count: n, Percent: 100 * ratio(n, size)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("breakdown of %s by %q: %w", seg.Display(), field, err)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if a.Null != b.Null {
			return b.Null
		}
		return a.Value < b.Value
	})
	return out, nil
}

// Member is one segment of an overlap.
type Member struct {
	// Name identifies the segment in the result.
	Name     string
	Relation Relation
}

// Pair is the overlap of two segments.
type Pair struct {
	A, B string
	// Common is the number of rows of A whose key is a key of B.
	Common int64
	// ShareOfA and ShareOfB are Common divided by the size of A and of B (0 for an empty
	// segment).
	ShareOfA float64
	ShareOfB float64
}

// Overlap is the result of an overlap analysis.
type Overlap struct {
	// Sizes of the segments, by name.
	Sizes map[string]int64
	// Pairs in the order of the segments: (0,1), (0,2), ..., (1,2), ...
	Pairs []Pair
}

// OverlapSQL returns the query counting the rows of a whose key is the key of a row of b (one
// BIGINT column).
func OverlapSQL(d warehouse.Dialect, a, b Relation, key string) string {
	k := d.QuoteIdent(key)
	return "SELECT COUNT(*) FROM " + a.quoted(d) + " AS " + d.QuoteIdent("a") + " WHERE EXISTS (SELECT 1 FROM " +
		b.quoted(d) + " AS " + d.QuoteIdent("b") + " WHERE " + d.QuoteIdent("b") + "." + k + " = " + d.QuoteIdent("a") + "." + k + ")"
}

// Overlaps computes the sizes of two or more segments of the same model (whose primary key is
// key) and the overlap of every pair.
func Overlaps(ctx context.Context, q Queryer, d warehouse.Dialect, members []Member, key string) (Overlap, error) {
	if len(members) < 2 {
		return Overlap{}, errors.New("overlap: at least two segments are needed")
	}
	seen := map[string]bool{}
	res := Overlap{Sizes: map[string]int64{}}
	for _, m := range members {
		if seen[m.Name] {
			return Overlap{}, fmt.Errorf("overlap: segment %q is given twice", m.Name)
		}
		seen[m.Name] = true
		var n int64
		if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+m.Relation.quoted(d)).Scan(&n); err != nil {
			return Overlap{}, fmt.Errorf("overlap: count the rows of %s: %w", m.Relation.Display(), err)
		}
		res.Sizes[m.Name] = n
	}
	for i, a := range members {
		for _, b := range members[i+1:] {
			var n int64
			if err := q.QueryRowContext(ctx, OverlapSQL(d, a.Relation, b.Relation, key)).Scan(&n); err != nil {
				return Overlap{}, fmt.Errorf("overlap of %s and %s: %w", a.Relation.Display(), b.Relation.Display(), err)
			}
			res.Pairs = append(res.Pairs, Pair{A: a.Name, B: b.Name, Common: n,
				ShareOfA: ratio(n, res.Sizes[a.Name]), ShareOfB: ratio(n, res.Sizes[b.Name])})
		}
	}
	return res, nil
}

// History of segment sizes.

// column types of the history table per engine: text, timestamp with time zone, integer.
func historyTypes(d warehouse.Dialect) (ts, integer string) {
	switch d.Engine() {
	case warehouse.Snowflake:
		return "TIMESTAMP_TZ", "BIGINT"
	case warehouse.BigQuery:
		return "TIMESTAMP", "INT64"
	case warehouse.Databricks:
		return "TIMESTAMP", "BIGINT"
	default:
		return "TIMESTAMPTZ", "BIGINT"
	}
}

// HistorySQL returns the statements creating the history table (idempotent): the schema
// dinmo_stats and the table segment_sizes(segment_id, computed_at, size, parent_size).
func HistorySQL(d warehouse.Dialect) []string {
	ts, integer := historyTypes(d)
	cols := []string{
		d.QuoteIdent("segment_id") + " " + d.TextType(),
		d.QuoteIdent("computed_at") + " " + ts,
		d.QuoteIdent("size") + " " + integer,
		d.QuoteIdent("parent_size") + " " + integer,
	}
	return []string{
		d.CreateSchema(warehouse.SchemaStats),
		"CREATE TABLE IF NOT EXISTS " + d.Qualified(warehouse.SchemaStats, HistoryTable) + " (" + strings.Join(cols, ", ") + ")",
	}
}

// RecordSQL returns the INSERT of one history row (four bound parameters: segment id,
// computed_at, size, parent_size).
func RecordSQL(d warehouse.Dialect) string {
	return "INSERT INTO " + d.Qualified(warehouse.SchemaStats, HistoryTable) + " (" +
		strings.Join([]string{d.QuoteIdent("segment_id"), d.QuoteIdent("computed_at"), d.QuoteIdent("size"), d.QuoteIdent("parent_size")}, ", ") +
		") VALUES (" + d.Placeholder(1) + ", " + d.Placeholder(2) + ", " + d.Placeholder(3) + ", " + d.Placeholder(4) + ")"
}

// Record appends a segment's size to the history table, creating it when needed.
func Record(ctx context.Context, q Queryer, d warehouse.Dialect, segmentID string, s Size) error {
	for _, stmt := range HistorySQL(d) {
		if _, err := q.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("create the stats history table: %w", err)
		}
	}
	if _, err := q.ExecContext(ctx, RecordSQL(d), segmentID, s.ComputedAt.UTC(), s.Size, s.ParentSize); err != nil {
		return fmt.Errorf("record the size of segment %s: %w", segmentID, err)
	}
	return nil
}

// HistoryQuerySQL returns the query reading a segment's last sizes, newest first (one bound
// parameter: the segment id).
func HistoryQuerySQL(d warehouse.Dialect, limit int) string {
	return "SELECT " + d.QuoteIdent("computed_at") + ", " + d.QuoteIdent("size") + ", " + d.QuoteIdent("parent_size") +
		" FROM " + d.Qualified(warehouse.SchemaStats, HistoryTable) + " WHERE " + d.QuoteIdent("segment_id") + " = " +
		d.Placeholder(1) + " ORDER BY " + d.QuoteIdent("computed_at") + " DESC LIMIT " + fmt.Sprint(limit)
}

// History returns up to limit recorded sizes of a segment, newest first; none when the history
// table does not exist yet.
func History(ctx context.Context, w warehouse.Warehouse, segmentID string, limit int) ([]Size, error) {
	if limit <= 0 {
		return nil, errors.New("stats history: limit must be positive")
	}
	ok, err := w.RelationExists(ctx, warehouse.SchemaStats, HistoryTable)
	if err != nil {
		return nil, fmt.Errorf("stats history: %w", err)
	}
	if !ok {
		return nil, nil
	}
	d := w.Dialect()
	rows, err := w.DB().QueryContext(ctx, HistoryQuerySQL(d, limit), segmentID)
	if err != nil {
		return nil, fmt.Errorf("stats history of segment %s: %w", segmentID, err)
	}
	defer rows.Close()
	var out []Size
	for rows.Next() {
		var s Size
		if err := rows.Scan(&s.ComputedAt, &s.Size, &s.ParentSize); err != nil {
			return nil, fmt.Errorf("stats history of segment %s: %w", segmentID, err)
		}
		s.ComputedAt = s.ComputedAt.UTC()
		s.Share = ratio(s.Size, s.ParentSize)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("stats history of segment %s: %w", segmentID, err)
	}
	return out, nil
}

// KeyHistorySQL returns the statements creating the key check history table (idempotent):
// model_key_checks(model_id, checked_at, rows, invalid).
func KeyHistorySQL(d warehouse.Dialect) []string {
	ts, integer := historyTypes(d)
	cols := []string{
		d.QuoteIdent("model_id") + " " + d.TextType(),
		d.QuoteIdent("checked_at") + " " + ts,
		d.QuoteIdent("rows") + " " + integer,
		d.QuoteIdent("invalid") + " " + integer,
	}
	return []string{
		d.CreateSchema(warehouse.SchemaStats),
		"CREATE TABLE IF NOT EXISTS " + d.Qualified(warehouse.SchemaStats, KeyHistoryTable) + " (" + strings.Join(cols, ", ") + ")",
	}
}

// RecordKeyCheckSQL returns the INSERT of one key check (four bound parameters: model id,
// checked_at, rows, invalid).
func RecordKeyCheckSQL(d warehouse.Dialect) string {
	return "INSERT INTO " + d.Qualified(warehouse.SchemaStats, KeyHistoryTable) + " (" +
		strings.Join([]string{d.QuoteIdent("model_id"), d.QuoteIdent("checked_at"), d.QuoteIdent("rows"), d.QuoteIdent("invalid")}, ", ") +
		") VALUES (" + d.Placeholder(1) + ", " + d.Placeholder(2) + ", " + d.Placeholder(3) + ", " + d.Placeholder(4) + ")"
}

// RecordKeyCheck appends a model's key check to the history table, creating it when needed.
func RecordKeyCheck(ctx context.Context, q Queryer, d warehouse.Dialect, modelID string, kc KeyCheck, at time.Time) error {
	for _, stmt := range KeyHistorySQL(d) {
		if _, err := q.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("create the key check history table: %w", err)
		}
	}
	if _, err := q.ExecContext(ctx, RecordKeyCheckSQL(d), modelID, at.UTC().Truncate(time.Microsecond), kc.Rows, kc.Invalid); err != nil {
		return fmt.Errorf("record the key check of model %s: %w", modelID, err)
	}
	return nil
}
