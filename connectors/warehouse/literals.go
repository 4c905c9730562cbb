package warehouse

import (
	"fmt"
	"time"
)

// dateLayout is the ISO-8601 calendar date accepted by DateLiteral.
const dateLayout = "2006-01-02"

// timestampLayouts are the ISO-8601 forms accepted by TimestampLiteral, tried in order. Forms
// without a zone are read as UTC.
var timestampLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	dateLayout,
}

// canonicalTimestampLayout is what NormalizeTimestamp produces: microsecond precision (the
// finest precision PostgreSQL and DuckDB keep), explicit UTC offset, a space separator that
// every engine parses.
const canonicalTimestampLayout = "2006-01-02 15:04:05.999999-07:00"

// ValidateDate reports whether iso is an ISO-8601 calendar date (YYYY-MM-DD). The segment
// compiler calls it before DateLiteral so a bad date is a plan-time error naming the attribute.
func ValidateDate(iso string) error {
	if _, err := time.Parse(dateLayout, iso); err != nil {
		return fmt.Errorf("invalid date %q: use the ISO-8601 form YYYY-MM-DD", iso)
	}
	return nil
}

// ValidateTimestamp reports whether iso is an ISO-8601 timestamp TimestampLiteral understands:
// a date, a date and time (read as UTC) or a date and time with an offset or Z.
func ValidateTimestamp(iso string) error {
	if _, ok := parseTimestamp(iso); !ok {
		return fmt.Errorf("invalid timestamp %q: use ISO-8601, e.g. 2024-01-02T15:04:05Z", iso)
	}
	return nil
}

// NormalizeTimestamp rewrites an ISO-8601 timestamp to the canonical UTC form
// "2006-01-02 15:04:05.999999+00:00" that every engine parses identically. Input it cannot
// parse is returned unchanged (dialects still quote it, and the warehouse reports it).
func NormalizeTimestamp(iso string) string {
	t, ok := parseTimestamp(iso)
	if !ok {
		return iso
	}
	return t.UTC().Format(canonicalTimestampLayout)
}

func parseTimestamp(iso string) (time.Time, bool) {
	for _, layout := range timestampLayouts {
		if t, err := time.Parse(layout, iso); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
