// Package deltasql builds every SQL statement of the delta sync of one activation: the run
// table (the segment evaluated once), the committed snapshot, the diff between them, the
// acknowledgement checkpoint, the table of rejected records and the atomic fold of the
// acknowledged work into the snapshot. Statements are built only from warehouse.Dialect
// primitives (quoting, casts, row hash, DDL), so the runner never writes SQL text itself and
// every engine gets its own spelling.
//
// # Tables
//
// Each activation owns four tables in the managed schema dinmo_delta_storage (names are stable
// and documented; users may query them):
//
//   - snap_<activation id>: the committed state, one row per key the destination holds:
//     _dinmo_key (the primary key as text), _dinmo_hash (a 64-bit hash of the mapped values) and
//     one column per destination field (needed to remove a member that left the source).
//   - run_<activation id>: the rows of the current run, same shape; dropped by the fold.
//   - ack_<activation id>: the keys whose change the destination acknowledged during the
//     current run (the checkpoint); dropped by the fold.
//   - rejected_<activation id>: every record a destination rejected (key, op, reason, run_id,
//     rejected_at), kept across runs so users can see why.
//
// A run killed between two batches leaves run_ and ack_ behind; folding them before the next
// run (Fold) is what makes a killed run lose nothing.
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
	// KindColumn is the first column of a diff row: one of the Kind values.
	KindColumn = "_dinmo_kind"
	// ReservedPrefix starts every column name dinmo adds; destination fields may not use it.
	ReservedPrefix = "_dinmo_"
)

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
	Snapshot string
	Ack      string
	Rejected string
}

// TablesFor returns the table names of an activation.
func TablesFor(activationID string) Tables {
	return Tables{
		Run:      prefixRun + activationID,
		Snapshot: prefixSnapshot + activationID,
		Ack:      prefixAck + activationID,
		Rejected: prefixRejected + activationID,
	}
}

// Builder builds the statements of one activation for one dialect. It holds no connection and
// is safe for concurrent use.
type Builder struct {
	d warehouse.Dialect
	t Tables
}

// New returns the builder of an activation's statements.
func New(d warehouse.Dialect, activationID string) (*Builder, error) {
	if d == nil {
		return nil, errors.New("deltasql: nil dialect")
	}
	if strings.TrimSpace(activationID) == "" {
		return nil, errors.New("deltasql: empty activation id")
	}
	return &Builder{d: d, t: TablesFor(activationID)}, nil
}

// Schema is the schema holding the activation's tables.
func (b *Builder) Schema() string { return warehouse.SchemaDeltaStorage }

// Tables returns the activation's table names.
func (b *Builder) Tables() Tables { return b.t }

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
		if strings.HasPrefix(strings.ToLower(f.Name), ReservedPrefix) {
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

// CreateRun evaluates the source view once into the run table: the primary key as text, the
// row hash of the mapped columns, and each mapped column under its destination field name.
// Rows with a NULL or duplicate key stay in it until DeleteBadKeys removes them.
func (b *Builder) CreateRun(sourceSchema, sourceView, primaryKey string, fields []Field) (string, error) {
	if primaryKey == "" {
		return "", errors.New("deltasql: empty primary key column")
	}
	if err := ValidateFields(fields); err != nil {
		return "", err
	}
	key := b.d.CastText(b.id(primaryKey))
	hashed := make([]string, 0, len(fields))
	for _, f := range fields {
		hashed = append(hashed, b.id(f.Column))
	}
	// With nothing mapped (membership by key only) RowHash is a constant: a key never changes.
	var sb strings.Builder
	sb.WriteString("SELECT ")
	sb.WriteString(key)
	sb.WriteString(" AS ")
	sb.WriteString(b.id(KeyColumn))
	sb.WriteString(", ")
	sb.WriteString(b.d.RowHash(hashed))
	sb.WriteString(" AS ")
	sb.WriteString(b.id(HashColumn))
	for _, f := range fields {
		sb.WriteString(", ")
		sb.WriteString(b.id(f.Column))
		sb.WriteString(" AS ")
		sb.WriteString(b.id(f.Name))
	}
	sb.WriteString(" FROM ")
	sb.WriteString(b.d.Qualified(sourceSchema, sourceView))
	return b.d.CreateTableAs(warehouse.SchemaDeltaStorage, b.t.Run, sb.String()), nil
}

// RunStats returns one row: the run table's row count, its count of non-NULL keys and its
// count of distinct keys. When all three are equal, every key is present and unique.
func (b *Builder) RunStats() string {
	k := b.id(KeyColumn)
	return "SELECT COUNT(*), COUNT(" + k + "), COUNT(DISTINCT " + k + ") FROM " + b.q(b.t.Run)
}

// DeleteBadKeys removes from the run table every row whose key is NULL or appears more than
// once: without an order there is no right row to keep, so none of a duplicated key is sent.
func (b *Builder) DeleteBadKeys() string {
	k := b.id(KeyColumn)
	run := b.q(b.t.Run)
	return "DELETE FROM " + run + " WHERE " + k + " IS NULL OR " + k + " IN (SELECT " + k +
		" FROM " + run + " WHERE " + k + " IS NOT NULL GROUP BY " + k + " HAVING COUNT(*) > 1)"
}

// CountRun returns the run table's row count.
func (b *Builder) CountRun() string {
	return "SELECT COUNT(*) FROM " + b.q(b.t.Run)
}

// CountAck returns the acknowledgement table's row count (what a recovery folds).
func (b *Builder) CountAck() string {
	return "SELECT COUNT(*) FROM " + b.q(b.t.Ack)
}

// ProbeRun, ProbeSnapshot and ProbeAck select no row from a table; their result columns are the
// table's columns (for Warehouse.QueryColumns).
func (b *Builder) ProbeRun() string { return b.probe(b.t.Run) }

// ProbeSnapshot: see ProbeRun.
func (b *Builder) ProbeSnapshot() string { return b.probe(b.t.Snapshot) }

func (b *Builder) probe(table string) string {
	return "SELECT * FROM " + b.q(table) + " WHERE 1 = 0"
}

// CreateSnapshot creates the empty snapshot with the run table's key, hash and field columns
// (and their types).
func (b *Builder) CreateSnapshot(fields []string) string {
	return b.d.CreateTableAs(warehouse.SchemaDeltaStorage, b.t.Snapshot,
		"SELECT "+b.columns(fields)+" FROM "+b.q(b.t.Run)+" WHERE 1 = 0")
}

// IndexSnapshot returns a statement indexing the snapshot's key, for engines whose join
// benefits from it (PostgreSQL turns the diff into a merge join), and false for the others
// (DuckDB and the distributed engines join by hash without one).
func (b *Builder) IndexSnapshot() (string, bool) {
	if b.d.Engine() != warehouse.Postgres {
		return "", false
	}
	return "CREATE INDEX IF NOT EXISTS " + b.id(b.t.Snapshot+"_key") + " ON " + b.q(b.t.Snapshot) +
		" (" + b.id(KeyColumn) + ")", true
}

// AddSnapshotColumn adds a field column to the snapshot (the snapshot evolves additively when
// a mapping gains a field). databaseType is the run table's column type as the engine names it.
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

// join is the FROM clause shared by the diff statements.
func (b *Builder) join() string {
	return " FROM " + b.q(b.t.Run) + " r FULL OUTER JOIN " + b.q(b.t.Snapshot) + " s ON r." +
		b.id(KeyColumn) + " = s." + b.id(KeyColumn)
}

// DiffCounts returns one row counting the diff: added, changed, removed and unchanged keys.
// It reads only keys and hashes.
func (b *Builder) DiffCounts() string {
	rk, sk := "r."+b.id(KeyColumn), "s."+b.id(KeyColumn)
	rh, sh := "r."+b.id(HashColumn), "s."+b.id(HashColumn)
	return "SELECT COUNT(CASE WHEN " + sk + " IS NULL THEN 1 END)" +
		", COUNT(CASE WHEN " + rk + " IS NOT NULL AND " + sk + " IS NOT NULL AND " + rh + " <> " + sh + " THEN 1 END)" +
		", COUNT(CASE WHEN " + rk + " IS NULL THEN 1 END)" +
		", COUNT(CASE WHEN " + rk + " IS NOT NULL AND " + sk + " IS NOT NULL AND " + rh + " = " + sh + " THEN 1 END)" +
		b.join()
}

// Diff returns the diff between the run table and the snapshot in one full outer join on the
// key, ordered by key: columns _dinmo_kind, _dinmo_key, then the given fields. A removed row
// takes its fields from the snapshot, the others from the run table. A delta diff returns only
// added, changed and removed rows; a full diff returns unchanged rows too. Every field must
// exist in both tables (create or evolve the snapshot first).
func (b *Builder) Diff(fields []string, full bool) string {
	rk, sk := "r."+b.id(KeyColumn), "s."+b.id(KeyColumn)
	rh, sh := "r."+b.id(HashColumn), "s."+b.id(HashColumn)
	var sb strings.Builder
	sb.WriteString("SELECT * FROM (SELECT CASE WHEN ")
	sb.WriteString(sk + " IS NULL THEN " + b.d.QuoteString(string(Added)))
	sb.WriteString(" WHEN " + rk + " IS NULL THEN " + b.d.QuoteString(string(Removed)))
	sb.WriteString(" WHEN " + rh + " <> " + sh + " THEN " + b.d.QuoteString(string(Changed)))
	sb.WriteString(" ELSE " + b.d.QuoteString(string(Unchanged)) + " END AS " + b.id(KindColumn))
	sb.WriteString(", CASE WHEN " + rk + " IS NULL THEN " + sk + " ELSE " + rk + " END AS " + b.id(KeyColumn))
	for _, f := range fields {
		c := b.id(f)
		sb.WriteString(", CASE WHEN " + rk + " IS NULL THEN s." + c + " ELSE r." + c + " END AS " + c)
	}
	sb.WriteString(b.join())
	if !full {
		sb.WriteString(" WHERE " + rk + " IS NULL OR " + sk + " IS NULL OR " + rh + " <> " + sh)
	}
	sb.WriteString(") d ORDER BY d." + b.id(KeyColumn))
	return sb.String()
}

// CreateAck creates the empty acknowledgement table (one key column, typed like the run's).
func (b *Builder) CreateAck() string {
	return b.d.CreateTableAs(warehouse.SchemaDeltaStorage, b.t.Ack,
		"SELECT "+b.id(KeyColumn)+" FROM "+b.q(b.t.Run)+" WHERE 1 = 0")
}

// AckChunk is the most keys InsertAck statements carry.
const AckChunk = 1000

// InsertAck returns a multi-row INSERT of n keys into the acknowledgement table, with n bind
// parameters. Callers chunk by AckChunk.
func (b *Builder) InsertAck(n int) string {
	return b.insert(b.t.Ack, []string{KeyColumn}, n)
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
// snapshot rows of acknowledged keys are replaced by their run rows (a removed key has no run
// row, so it leaves the snapshot), then the acknowledgement and run tables are dropped.
// Keys not acknowledged keep their previous snapshot state, so the next run sends them again.
// fields are the run table's field columns; each must exist in the snapshot.
func (b *Builder) Fold(fields []string) []string {
	k := b.id(KeyColumn)
	acked := k + " IN (SELECT " + k + " FROM " + b.q(b.t.Ack) + ")"
	cols := b.columns(fields)
	return []string{
		"DELETE FROM " + b.q(b.t.Snapshot) + " WHERE " + acked,
		"INSERT INTO " + b.q(b.t.Snapshot) + " (" + cols + ") SELECT " + cols + " FROM " + b.q(b.t.Run) + " WHERE " + acked,
		b.DropAck(),
		b.DropRun(),
	}
}

// DropRun drops the run table if it exists.
func (b *Builder) DropRun() string { return b.d.DropTable(warehouse.SchemaDeltaStorage, b.t.Run) }

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
