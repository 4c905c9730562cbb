package segment

import (
	"strconv"

	"dinmo/connectors/warehouse"
)

// Base units of date arithmetic. Weeks are compiled as 7 days and years as 12 months, so each
// engine only needs day and month arithmetic.
const (
	unitDay   = "day"
	unitMonth = "month"
)

// DateDialect supplies the date and time SQL that warehouse.Dialect does not have: the current
// instant and date in UTC, calendar arithmetic, and the weekday and month of a value. A dialect
// may implement it itself; otherwise the compiler uses its built-in implementation for the
// dialect's engine (postgres, duckdb, snowflake, bigquery, redshift, databricks). Conditions
// that need it fail validation on an engine that has neither.
type DateDialect interface {
	// CurrentTimestamp returns the current instant (a timestamp with time zone where the engine
	// has one).
	CurrentTimestamp() string
	// CurrentDate returns the current date in UTC.
	CurrentDate() string
	// AddToTimestamp returns the timestamp expr shifted by n units (n may be negative), unit
	// being "day" or "month". Month arithmetic is calendar arithmetic in UTC, clamped to the
	// last day of a shorter month (March 31 minus one month is February 28 or 29).
	AddToTimestamp(expr string, n int64, unit string) string
	// AddToDate is AddToTimestamp for a date; the result is a date.
	AddToDate(expr string, n int64, unit string) string
	// ISOWeekday returns the ISO day of the week (1 = Monday ... 7 = Sunday) of a date or
	// timestamp expression; cat is its type category.
	ISOWeekday(expr string, cat warehouse.TypeCategory) string
	// Month returns the month (1 to 12) of a date or timestamp expression.
	Month(expr string, cat warehouse.TypeCategory) string
}

// AggregateDialect supplies the aggregate SQL that differs between engines. Like DateDialect, a
// dialect may implement it, otherwise the compiler's built-in implementation for the engine is
// used.
type AggregateDialect interface {
	// FloatType is the engine's double-precision floating-point type, used for division.
	FloatType() string
	// ValueAtExtreme returns an aggregate expression giving value at the row with the lowest
	// (last = false) or highest (last = true) order; ok is false when the engine has no such
	// aggregate. The compiler has already excluded rows where value or order is NULL.
	ValueAtExtreme(value, order string, last bool) (expr string, ok bool)
}

// extensions returns the date and aggregate SQL of d's engine: d's own implementation if it has
// one, the built-in one for a known engine, or nil.
func extensions(d warehouse.Dialect) (DateDialect, AggregateDialect) {
	var dd DateDialect
	var ad AggregateDialect
	builtin := builtinExtension(d)
	if x, ok := d.(DateDialect); ok {
		dd = x
	} else if builtin != nil {
		dd = builtin
	}
	if x, ok := d.(AggregateDialect); ok {
		ad = x
	} else if builtin != nil {
		ad = builtin
	}
	return dd, ad
}

// engineSQL is the built-in DateDialect and AggregateDialect of one engine. It quotes its
// string literals through the engine's own dialect.
type engineSQL struct {
	d      warehouse.Dialect
	engine warehouse.Engine
}

func builtinExtension(d warehouse.Dialect) *engineSQL {
	switch e := d.Engine(); e {
	case warehouse.Postgres, warehouse.DuckDB, warehouse.Snowflake, warehouse.BigQuery, warehouse.Redshift, warehouse.Databricks:
		return &engineSQL{d: d, engine: e}
	default:
		return nil
	}
}

var (
	_ DateDialect      = (*engineSQL)(nil)
	_ AggregateDialect = (*engineSQL)(nil)
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// sign returns "+" or "-" for an arithmetic shift by n.
func sign(n int64) string {
	if n < 0 {
		return "-"
	}
	return "+"
}

// CurrentTimestamp is the engine's current instant.
func (x *engineSQL) CurrentTimestamp() string {
	switch x.engine {
	case warehouse.Postgres, warehouse.DuckDB:
		return "CURRENT_TIMESTAMP"
	case warehouse.Redshift:
		return "GETDATE()"
	default: // snowflake, bigquery, databricks
		return "CURRENT_TIMESTAMP()"
	}
}

// CurrentDate is the current date in UTC.
func (x *engineSQL) CurrentDate() string {
	switch x.engine {
	case warehouse.Postgres:
		return "CAST((CURRENT_TIMESTAMP AT TIME ZONE " + x.d.QuoteString("UTC") + ") AS date)"
	case warehouse.DuckDB:
		return "CAST(timezone(" + x.d.QuoteString("UTC") + ", CURRENT_TIMESTAMP) AS DATE)"
	case warehouse.Snowflake:
		// SYSDATE() is the current UTC time as a TIMESTAMP_NTZ, whatever the session time zone.
		return "CAST(SYSDATE() AS DATE)"
	case warehouse.BigQuery:
		return "CURRENT_DATE(" + x.d.QuoteString("UTC") + ")"
	case warehouse.Redshift:
		return "CAST(GETDATE() AS DATE)"
	default: // databricks
		return "CURRENT_DATE()"
	}
}

// AddToTimestamp shifts a timestamp by n days or months, as a UTC calendar time.
func (x *engineSQL) AddToTimestamp(expr string, n int64, unit string) string {
	switch x.engine {
	case warehouse.Postgres:
		// Shifted as a UTC wall-clock time, so month arithmetic and day lengths do not depend
		// on the session time zone.
		utc := x.d.QuoteString("UTC")
		return "((((" + expr + ") AT TIME ZONE " + utc + ") " + sign(n) + " INTERVAL " + x.d.QuoteString(itoa(abs(n))+" "+unit+"s") + ") AT TIME ZONE " + utc + ")"
	case warehouse.DuckDB:
		utc := x.d.QuoteString("UTC")
		return "timezone(" + utc + ", timezone(" + utc + ", " + expr + ") " + sign(n) + " INTERVAL " + itoa(abs(n)) + " " + upper(unit) + ")"
	case warehouse.Snowflake, warehouse.Redshift:
		return "DATEADD(" + unit + ", " + itoa(n) + ", " + expr + ")"
	case warehouse.BigQuery:
		if unit == unitMonth {
			// TIMESTAMP_ADD has no MONTH part: shift the UTC civil time instead.
			utc := x.d.QuoteString("UTC")
			return "TIMESTAMP(DATETIME_ADD(DATETIME(" + expr + ", " + utc + "), INTERVAL " + itoa(n) + " MONTH), " + utc + ")"
		}
		return "TIMESTAMP_ADD(" + expr + ", INTERVAL " + itoa(n) + " DAY)"
	default: // databricks
		return "TIMESTAMPADD(" + upper(unit) + ", " + itoa(n) + ", " + expr + ")"
	}
}

// AddToDate shifts a date by n days or months and returns a date.
func (x *engineSQL) AddToDate(expr string, n int64, unit string) string {
	switch x.engine {
	case warehouse.Postgres:
		return "CAST((" + expr + ") " + sign(n) + " INTERVAL " + x.d.QuoteString(itoa(abs(n))+" "+unit+"s") + " AS date)"
	case warehouse.DuckDB:
		return "CAST((" + expr + ") " + sign(n) + " INTERVAL " + itoa(abs(n)) + " " + upper(unit) + " AS DATE)"
	case warehouse.Snowflake:
		// DATEADD on a DATE with a day or month part returns a DATE.
		return "DATEADD(" + unit + ", " + itoa(n) + ", " + expr + ")"
	case warehouse.Redshift:
		return "CAST(DATEADD(" + unit + ", " + itoa(n) + ", " + expr + ") AS DATE)"
	case warehouse.BigQuery:
		return "DATE_ADD(" + expr + ", INTERVAL " + itoa(n) + " " + upper(unit) + ")"
	default: // databricks
		if unit == unitMonth {
			return "ADD_MONTHS(" + expr + ", " + itoa(n) + ")"
		}
		return "DATE_ADD(" + expr + ", " + itoa(n) + ")"
	}
}

// utc returns a timestamp expression as a UTC time where the engine would otherwise extract
// parts in another zone: Snowflake extracts the parts of a TIMESTAMP_TZ in its own offset.
func (x *engineSQL) utc(expr string, cat warehouse.TypeCategory) string {
	if x.engine == warehouse.Snowflake && cat == warehouse.TypeTimestamp {
		return "CONVERT_TIMEZONE(" + x.d.QuoteString("UTC") + ", " + expr + ")"
	}
	return expr
}

// ISOWeekday is the ISO day of the week (1 = Monday ... 7 = Sunday).
func (x *engineSQL) ISOWeekday(expr string, cat warehouse.TypeCategory) string {
	expr = x.utc(expr, cat)
	switch x.engine {
	case warehouse.Postgres, warehouse.DuckDB:
		return "EXTRACT(ISODOW FROM " + expr + ")"
	case warehouse.Snowflake:
		return "DAYOFWEEKISO(" + expr + ")"
	case warehouse.BigQuery:
		// DAYOFWEEK is 1 (Sunday) to 7 (Saturday).
		return "(MOD(EXTRACT(DAYOFWEEK FROM " + expr + ") + 5, 7) + 1)"
	case warehouse.Redshift:
		// DOW is 0 (Sunday) to 6 (Saturday).
		return "(MOD(CAST(EXTRACT(DOW FROM " + expr + ") AS INTEGER) + 6, 7) + 1)"
	default: // databricks: WEEKDAY is 0 (Monday) to 6 (Sunday).
		return "(WEEKDAY(" + expr + ") + 1)"
	}
}

// Month is the month of the year (1 to 12).
func (x *engineSQL) Month(expr string, cat warehouse.TypeCategory) string {
	expr = x.utc(expr, cat)
	switch x.engine {
	case warehouse.Snowflake, warehouse.Databricks:
		return "MONTH(" + expr + ")"
	default:
		return "EXTRACT(MONTH FROM " + expr + ")"
	}
}

// FloatType is the engine's double-precision floating-point type.
func (x *engineSQL) FloatType() string {
	switch x.engine {
	case warehouse.Postgres, warehouse.Redshift:
		return "DOUBLE PRECISION"
	case warehouse.BigQuery:
		return "FLOAT64"
	default: // duckdb, snowflake, databricks
		return "DOUBLE"
	}
}

// ValueAtExtreme is the engine's aggregate returning value at the row with the lowest or
// highest order: MIN_BY/MAX_BY, or array_agg on PostgreSQL; Redshift has none.
func (x *engineSQL) ValueAtExtreme(value, order string, last bool) (string, bool) {
	switch x.engine {
	case warehouse.Postgres:
		dir := "ASC"
		if last {
			dir = "DESC"
		}
		return "(array_agg(" + value + " ORDER BY " + order + " " + dir + "))[1]", true
	case warehouse.Redshift:
		// No MIN_BY, no array_agg, and correlated subqueries cannot use ORDER BY ... LIMIT.
		return "", false
	default: // duckdb, snowflake, bigquery, databricks
		fn := "MIN_BY"
		if last {
			fn = "MAX_BY"
		}
		return fn + "(" + value + ", " + order + ")", true
	}
}

func upper(unit string) string {
	if unit == unitMonth {
		return "MONTH"
	}
	return "DAY"
}
