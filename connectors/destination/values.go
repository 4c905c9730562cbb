package destination

import (
	"time"
)

// RequestCounter is implemented by destinations that call an API, so the runner can report how
// many HTTP requests (retries included) a run sent:
//
//	if rc, ok := dest.(destination.RequestCounter); ok { stats.Requests = rc.Requests() }
type RequestCounter interface {
	Requests() int64
}

// FormatTime renders a timestamp the way every destination sends one unless its API demands
// otherwise: RFC 3339 with nanoseconds, in UTC.
func FormatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// JSONValue returns v ready for encoding/json in the form destinations send: time.Time (and
// *time.Time) become FormatTime strings, nested map[string]any and []any are converted
// recursively; everything else is returned unchanged. It never modifies v.
func JSONValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return FormatTime(x)
	case *time.Time:
		if x == nil {
			return nil
		}
		return FormatTime(*x)
	case map[string]any:
		return JSONFields(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = JSONValue(e)
		}
		return out
	}
	return v
}

// JSONFields applies JSONValue to every field of a record. A nil map gives an empty, non-nil
// map, so a record always encodes "fields" as an object.
func JSONFields(fields map[string]any) map[string]any {
	out := make(map[string]any, len(fields))
	for k, v := range fields {
		out[k] = JSONValue(v)
	}
	return out
}
