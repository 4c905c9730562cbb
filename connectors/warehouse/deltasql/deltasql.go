// Package deltasql builds every SQL statement of the delta sync of one activation: the
// evaluation of the segment, the diff against the committed snapshot, the acknowledgement
// checkpoint, the table of rejected records and the atomic fold of the acknowledged work into
// the snapshot. Statements are built only from warehouse.Dialect primitives (quoting, casts,
// row hash, DDL), so the runner never writes SQL text itself and every engine gets its own
// spelling.
//
// # Tables
//
// Each activation owns these tables in the managed schema dinmo_delta_storage (names are
// stable and documented; users may query them):
//
//   - snap_<activation id>: the committed state, one row per key the destination holds:
//     _dinmo_key (the primary key as text), _dinmo_hash (a 64-bit hash of the mapped values) and
//     one column per destination field (needed to remove a member that left the source).
//   - run_<activation id>: the current run's changes: _dinmo_kind (added, changed, removed;
//     unchanged too in a full run), _dinmo_key, _dinmo_hash (NULL for a removed key) and the
//     fields (a removed key's from the snapshot). It is small: only what changed. Dropped by
//     the fold.
//   - stage_<activation id>: with the rewrite strategies only, the whole segment evaluated
//     once (key, hash, fields), dropped as soon as the run table is built.
//   - ack_<activation id>: the keys whose change the destination acknowledged during the
//     current run (the checkpoint); dropped by the fold.
//   - rejected_<activation id>: every record a destination rejected (key, op, reason, run_id,
//     rejected_at), kept across runs so users can see why.
//
// A run killed between two batches leaves run_ and ack_ behind; folding them before the next
// run (Fold) is what makes a killed run lose nothing.
//
// # Strategies
//
// How the run table is computed is a Strategy. They all give the same run table; they differ
// in what the warehouse writes and joins, which is what a delta run costs. `make bench` times
// each of them on the same data and DefaultStrategy names the fastest per engine.
package deltasql

import (
	"errors"
	"fmt"
	"strings"

	"dinmo/connectors/warehouse"
)

// Columns every delta table carries, ahead of the destination fields.
const (
	// KeyColumn holds the record key: the model's primary key cast to text.
	KeyColumn = "_dinmo_key"
	// HashColumn holds the hash of the mapped values, compared to detect changed records.
	HashColumn = "_dinmo_hash"
	// KindColumn is the first column of the run table and of a diff row: one of the Kind values.
	KindColumn = "_dinmo_kind"
	// ReservedPrefix starts every column name dinmo adds; destination fields may not use it.
	ReservedPrefix = "_dinmo_"
)

// IsFieldColumn reports whether a column of a delta table holds a destination field (rather
// than a column dinmo adds: key, hash, kind).
func IsFieldColumn(name string) bool {
	return !strings.HasPrefix(strings.ToLower(name), ReservedPrefix)
}

// Columns of the rejected_<activation id> table.
const (
	RejectedKey  = "key"
	RejectedOp   = "op"
	RejectedWhy  = "reason"
	RejectedRun  = "run_id"
	RejectedWhen = "rejected_at"
)

// Kind classifies one diff row.
type Kind string

// Diff kinds. Unchanged rows are returned only by a full diff.
const (
	Added     Kind = "added"     // the key is in the run, not in the snapshot
	Changed   Kind = "changed"   // the key is in both with a different hash
	Removed   Kind = "removed"   // the key is in the snapshot, not in the run
	Unchanged Kind = "unchanged" // the key is in both with the same hash (full diffs only)
)

// Table-name prefixes inside warehouse.SchemaDeltaStorage.
const (
	prefixRun      = "run_"
	prefixStage    = "stage_"
	prefixSnapshot = "snap_"
	prefixAck      = "ack_"
	prefixRejected = "rejected_"
)

// MaxParams bounds the bind parameters of one statement. PostgreSQL accepts 65535; staying
// well below keeps every engine and driver comfortable.
const MaxParams = 30000

// Field maps one column of the source view to one destination field: the run table stores the
// column's value under the field's name.
type Field struct {
	Column string
	Name   string
}

// Tables names an activation's tables (unqualified; the schema is warehouse.SchemaDeltaStorage).
type Tables struct {
	Run      string
	Stage    string
	Snapshot string
	Ack      string
	Rejected string
}

// TablesFor returns the table names of an activation.
func TablesFor(activationID string) Tables {
	return Tables{
		Run:      prefixRun + activationID,
		Stage:    prefixStage + activationID,
		Snapshot: prefixSnapshot + activationID,
		Ack:      prefixAck + activationID,
		Rejected: prefixRejected + activationID,
	}
}

// Builder builds the statements of one activation for one dialect and strategy. It holds no
// connection and is safe for concurrent use.
type Builder struct {
	d        warehouse.Dialect
	t        Tables
	strategy Strategy
	pageRows int64 // rows per page of the diff read (0: DiffPageRows)
}

// New returns the builder of an activation's statements, with the engine's default strategy
// (DefaultStrategy).
func New(d warehouse.Dialect, activationID string) (*Builder, error) {
	if d == nil {
		return nil, errors.New("deltasql: nil dialect")
	}
	return NewWithStrategy(d, activationID, DefaultStrategy(d.Engine()))
}

// NewWithStrategy returns the builder of an activation's statements with a chosen strategy
// (benchmarks compare them; production uses New).
func NewWithStrategy(d warehouse.Dialect, activationID string, s Strategy) (*Builder, error) {
	if d == nil {
		return nil, errors.New("deltasql: nil dialect")
	}
	if strings.TrimSpace(activationID) == "" {
		return nil, errors.New("deltasql: empty activation id")
	}
	if !s.valid() {
		return nil, fmt.Errorf("deltasql: unknown strategy %d", int(s))
	}
	return &Builder{d: d, t: TablesFor(activationID), strategy: s}, nil
}

// Schema is the schema holding the activation's tables.
func (b *Builder) Schema() string { return warehouse.SchemaDeltaStorage }

// Tables returns the activation's table names.
func (b *Builder) Tables() Tables { return b.t }

// Strategy returns the strategy the builder's statements follow.
func (b *Builder) Strategy() Strategy { return b.strategy }

func (b *Builder) q(table string) string { return b.d.Qualified(warehouse.SchemaDeltaStorage, table) }

func (b *Builder) id(name string) string { return b.d.QuoteIdent(name) }

// ValidateFields checks a field list: names must be non-empty, unique and outside the reserved
// prefix (they become columns next to _dinmo_key and _dinmo_hash), and every field must name a
// source column.
func ValidateFields(fields []Field) error {
	seen := make(map[string]bool, len(fields))
	for i, f := range fields {
		if f.Name == "" {
			return fmt.Errorf("deltasql: mapping %d: empty destination field name", i+1)
		}
		if f.Column == "" {
			return fmt.Errorf("deltasql: mapping to field %q: empty source column", f.Name)
		}
		if !IsFieldColumn(f.Name) {
			return fmt.Errorf("deltasql: destination field %q: names starting with %q are reserved by dinmo", f.Name, ReservedPrefix)
		}
		if seen[f.Name] {
			return fmt.Errorf("deltasql: destination field %q is mapped twice", f.Name)
		}
		seen[f.Name] = true
	}
	return nil
}

// FieldNames returns the destination field names of a field list, in order.
func FieldNames(fields []Field) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.Name
	}
	return out
}

// CountAck returns the acknowledgement table's row count (what a recovery folds).
func (b *Builder) CountAck() string {
	return "SELECT COUNT(*) FROM " + b.q(b.t.Ack)
}

// CountRun returns the run table's row count.
func (b *Builder) CountRun() string {
	return "SELECT COUNT(*) FROM " + b.q(b.t.Run)
}

// ProbeRun and ProbeSnapshot select no row from a table; their result columns are the table's
// columns (for Warehouse.QueryColumns).
func (b *Builder) ProbeRun() string { return b.probe(b.t.Run) }

// ProbeSnapshot: see ProbeRun.
func (b *Builder) ProbeSnapshot() string { return b.probe(b.t.Snapshot) }

func (b *Builder) probe(table string) string {
	return "SELECT * FROM " + b.q(table) + " WHERE 1 = 0"
}

// CreateSnapshot creates the empty snapshot with the run table's key, hash and field columns
// (and their types). A run starts from Evaluation.CreateSnapshot instead; this one serves the
// recovery of an interrupted first run, whose run table exists but whose snapshot does not.
func (b *Builder) CreateSnapshot(fields []string) string {
	return b.d.CreateTableAs(warehouse.SchemaDeltaStorage, b.t.Snapshot,
		"SELECT "+b.columns(fields)+" FROM "+b.q(b.t.Run)+" WHERE 1 = 0")
}

// IndexSnapshot returns a statement indexing the snapshot's key, for engines whose key lookups
// benefit from it (PostgreSQL: the fold's deletes and the anti-joins), and false for the others
// (DuckDB and the distributed engines join by hash without one).
func (b *Builder) IndexSnapshot() (string, bool) {
	if b.d.Engine() != warehouse.Postgres {
		return "", false
	}
	return "CREATE INDEX IF NOT EXISTS " + b.id(b.t.Snapshot+"_key") + " ON " + b.q(b.t.Snapshot) +
		" (" + b.id(KeyColumn) + ")", true
}

// AddSnapshotColumn adds a field column to the snapshot (the snapshot evolves additively when
// a mapping gains a field). databaseType is the column's type as the engine names it.
func (b *Builder) AddSnapshotColumn(field, databaseType string) (string, error) {
	if err := checkType(databaseType); err != nil {
		return "", fmt.Errorf("deltasql: snapshot column %q: %w", field, err)
	}
	return "ALTER TABLE " + b.q(b.t.Snapshot) + " ADD COLUMN " + b.id(field) + " " + databaseType, nil
}

// DropSnapshotColumn drops a field column from the snapshot. It is used only to re-add a field
// whose type changed: its old values could not be compared or stored with the new type.
func (b *Builder) DropSnapshotColumn(field string) string {
	return "ALTER TABLE " + b.q(b.t.Snapshot) + " DROP COLUMN " + b.id(field)
}

// checkType accepts type names as engines report them (letters, digits, spaces, underscores,
// parentheses, commas, brackets, dots) and refuses anything that could end the statement.
func checkType(t string) error {
	if strings.TrimSpace(strings.Trim(t, "0123456789")) == "" {
		// Empty, or a bare type OID (what pgx reports for enums and other user types).
		return fmt.Errorf("column type %q is not a type name the engine accepts in a column definition", t)
	}
	for _, r := range t {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune(" _(),[].", r):
		default:
			return fmt.Errorf("column type %q cannot be used in a column definition", t)
		}
	}
	return nil
}

// DiffCounts returns one row counting the run table by kind: added, changed, removed and
// unchanged keys. The run table holds only the run's changes, so this reads little.
func (b *Builder) DiffCounts() string {
	k := b.id(KindColumn)
	count := func(kind Kind) string {
		return "COUNT(CASE WHEN " + k + " = " + b.d.QuoteString(string(kind)) + " THEN 1 END)"
	}
	return "SELECT " + count(Added) + ", " + count(Changed) + ", " + count(Removed) + ", " + count(Unchanged) +
		" FROM " + b.q(b.t.Run)
}

// Diff returns the run's changes ordered by key: columns _dinmo_kind, _dinmo_key, then the
// given fields. A removed row carries its fields from the snapshot, the others from the source.
// A delta diff returns only added, changed and removed rows; a full diff returns the unchanged
// rows a full run table holds too. Every field must be a column of the run table.
func (b *Builder) Diff(fields []string, full bool) string {
	var sb strings.Builder
	sb.WriteString("SELECT " + b.id(KindColumn) + ", " + b.id(KeyColumn))
	for _, f := range fields {
		sb.WriteString(", " + b.id(f))
	}
	sb.WriteString(" FROM " + b.q(b.t.Run))
	if !full {
		sb.WriteString(" WHERE " + b.id(KindColumn) + " <> " + b.d.QuoteString(string(Unchanged)))
	}
	sb.WriteString(" ORDER BY " + b.id(KeyColumn))
	return sb.String()
}

// CreateAck creates the empty acknowledgement table (one key column, typed like the run's).
func (b *Builder) CreateAck() string {
	return b.d.CreateTableAs(warehouse.SchemaDeltaStorage, b.t.Ack,
		"SELECT "+b.id(KeyColumn)+" FROM "+b.q(b.t.Run)+" WHERE 1 = 0")
}

// AckChunk is the most keys one InsertAck or InsertAcks statement carries.
const AckChunk = 1000

// InsertAck returns a multi-row INSERT of n keys into the acknowledgement table, with n bind
// parameters. Callers chunk by AckChunk. InsertAcks is cheaper where the engine has arrays.
func (b *Builder) InsertAck(n int) string {
	return b.insert(b.t.Ack, []string{KeyColumn}, n)
}

// InsertAcks returns the statement and arguments inserting keys into the acknowledgement
// table. On PostgreSQL and DuckDB the keys travel as one text array parameter, unnested by
// the engine: a 1000-key checkpoint then costs about what a one-row insert does, where 1000
// placeholders cost DuckDB ~30 ms to parse and bind. Elsewhere it is InsertAck's multi-row
// VALUES. Callers chunk by AckChunk.
func (b *Builder) InsertAcks(keys []string) (string, []any) {
	switch b.d.Engine() {
	case warehouse.Postgres, warehouse.DuckDB:
		return "INSERT INTO " + b.q(b.t.Ack) + " (" + b.id(KeyColumn) + ") SELECT unnest(CAST(" +
			b.d.Placeholder(1) + " AS " + b.d.TextType() + "[]))", []any{keys}
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	return b.InsertAck(len(keys)), args
}

// CreateRejected creates the table of rejected records (run it when it does not exist yet).
func (b *Builder) CreateRejected() string {
	text := b.d.CastText("NULL")
	return b.d.CreateTableAs(warehouse.SchemaDeltaStorage, b.t.Rejected,
		"SELECT "+text+" AS "+b.id(RejectedKey)+
			", "+text+" AS "+b.id(RejectedOp)+
			", "+text+" AS "+b.id(RejectedWhy)+
			", "+text+" AS "+b.id(RejectedRun)+
			", "+b.d.TimestampLiteral("1970-01-01T00:00:00Z")+" AS "+b.id(RejectedWhen)+
			" WHERE 1 = 0")
}

// RejectedColumns is the number of bind parameters per row of InsertRejected, in order: key,
// op, reason, run id, rejection time.
const RejectedColumns = 5

// RejectedChunk is the most rows InsertRejected statements carry.
const RejectedChunk = AckChunk

// InsertRejected returns a multi-row INSERT of n rejected records (RejectedColumns bind
// parameters each).
func (b *Builder) InsertRejected(n int) string {
	return b.insert(b.t.Rejected, []string{RejectedKey, RejectedOp, RejectedWhy, RejectedRun, RejectedWhen}, n)
}

func (b *Builder) insert(table string, cols []string, n int) string {
	var sb strings.Builder
	sb.WriteString("INSERT INTO ")
	sb.WriteString(b.q(table))
	sb.WriteString(" (")
	for i, c := range cols {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(b.id(c))
	}
	sb.WriteString(") VALUES ")
	p := 1
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("(")
		for j := range cols {
			if j > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(b.d.Placeholder(p))
			p++
		}
		sb.WriteString(")")
	}
	return sb.String()
}

// Fold returns the statements committing a run, to execute in order in one transaction: the
// snapshot rows of acknowledged keys are deleted, the acknowledged run rows that are present in
// the source (a removed key's run row has a NULL hash) are inserted, then the acknowledgement
// and run tables are dropped. Only the changed keys are written: the snapshot is patched, never
// rewritten. Keys not acknowledged keep their previous snapshot state, so the next run sends
// them again. fields are the run table's field columns; each must exist in the snapshot.
func (b *Builder) Fold(fields []string) []string {
	k := b.id(KeyColumn)
	acked := k + " IN (SELECT " + k + " FROM " + b.q(b.t.Ack) + ")"
	cols := b.columns(fields)
	return []string{
		"DELETE FROM " + b.q(b.t.Snapshot) + " WHERE " + acked,
		"INSERT INTO " + b.q(b.t.Snapshot) + " (" + cols + ") SELECT " + cols + " FROM " + b.q(b.t.Run) +
			" WHERE " + b.id(HashColumn) + " IS NOT NULL AND " + acked,
		b.DropAck(),
		b.DropRun(),
	}
}

// DropRun drops the run table if it exists.
func (b *Builder) DropRun() string { return b.d.DropTable(warehouse.SchemaDeltaStorage, b.t.Run) }

// DropStage drops the stage table if it exists.
func (b *Builder) DropStage() string {
	return b.d.DropTable(warehouse.SchemaDeltaStorage, b.t.Stage)
}

// DropAck drops the acknowledgement table if it exists.
func (b *Builder) DropAck() string { return b.d.DropTable(warehouse.SchemaDeltaStorage, b.t.Ack) }

// DropSnapshot drops the snapshot if it exists (the next run is then a full one).
func (b *Builder) DropSnapshot() string {
	return b.d.DropTable(warehouse.SchemaDeltaStorage, b.t.Snapshot)
}

// columns lists key, hash and fields, quoted.
func (b *Builder) columns(fields []string) string {
	parts := make([]string, 0, len(fields)+2)
	parts = append(parts, b.id(KeyColumn), b.id(HashColumn))
	for _, f := range fields {
		parts = append(parts, b.id(f))
	}
	return strings.Join(parts, ", ")
}
