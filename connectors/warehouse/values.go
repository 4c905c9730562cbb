package warehouse

import (
	"database/sql/driver"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// NormalizeValue converts a value scanned from a warehouse driver into a value encoding/json
// renders faithfully and destinations can inspect without knowing the driver. The result is
// one of: nil, bool, int64, float64, string, time.Time, []any or map[string]any (recursively).
//
//   - Every integer type becomes int64; integers beyond int64 (DuckDB UBIGINT, HUGEINT, BIGNUM,
//     *big.Int) become their decimal string, so they are never rounded.
//   - float32 becomes the float64 with the same shortest decimal form (float32 0.1 → 0.1);
//     NaN and ±Inf, which JSON cannot carry, become "NaN", "Infinity" and "-Infinity".
//   - []byte becomes a string when it is valid UTF-8 and standard base64 otherwise.
//   - time.Time stays time.Time; DATE and TIME values arrive as time.Time too (midnight UTC and
//     year 1 respectively); use NormalizeTypedValue when the column type is known to render
//     them as "2006-01-02" and "15:04:05".
//   - DuckDB values: DECIMAL becomes a json.Number of its exact digits with all scale digits
//     ("12.50"), so JSON renders a number that was never rounded through float64 (typed
//     PostgreSQL numeric gives the same through NormalizeTypedValue); INTERVAL an ISO-8601 duration ("P1Y2M3DT4H5M6.5S");
//     UUID its canonical string; MAP a map[string]any keyed by the keys' text; UNION its value;
//     BIT its string of 0s and 1s; LIST, ARRAY and STRUCT []any and map[string]any.
//   - PostgreSQL values arrive from pgx already simple: numeric, interval (ISO-8601, as the
//     connector pins IntervalStyle), arrays ("{1,2}") and other types without a Go mapping as
//     their text, json/jsonb and bytea as []byte.
//   - Other driver.Valuer values are replaced by their Value; other types by their String()
//     or fmt %v text.
//
// The DuckDB types are recognised by reflection on their package path and name, so this
// package does not link DuckDB; the duckdb package's tests pin the shapes.
func NormalizeValue(v any) any {
	return normalize(v, 0)
}

// NormalizeTypedValue is NormalizeValue for a value whose column type is known, as given by
// sql.ColumnType.DatabaseTypeName or Column.DatabaseType. On top of NormalizeValue it renders
// DATE as "2006-01-02", TIME as "15:04:05.999999" (TIMETZ with its offset), a 16-byte UUID as
// its canonical string (DuckDB returns raw bytes), a float4 widened to float64 by pgx as its
// float4 shortest form, and decodes JSON/JSONB text into map[string]any/[]any/float64/... the
// way the DuckDB driver already does.
func NormalizeTypedValue(databaseType string, v any) any {
	if v == nil {
		return nil
	}
	switch strings.ToUpper(strings.TrimSpace(databaseType)) {
	case "DATE":
		if t, ok := v.(time.Time); ok {
			return t.Format(dateLayout)
		}
	case "TIME", "TIME WITHOUT TIME ZONE":
		if t, ok := v.(time.Time); ok {
			return t.Format("15:04:05.999999")
		}
	case "TIMETZ", "TIME WITH TIME ZONE":
		if t, ok := v.(time.Time); ok {
			return t.Format("15:04:05.999999-07:00")
		}
	case "FLOAT4", "FLOAT", "REAL":
		// pgx widens float4 to float64 (0.1 becomes 0.10000000149); recover the float4's
		// shortest form.
		if f, ok := v.(float64); ok {
			return normalize(float32(f), 0)
		}
	case "NUMERIC", "DECIMAL":
		// pgx hands numeric over as its text; a finite one is a number (NaN and ±Infinity,
		// which JSON cannot carry, stay text).
		if t, ok := v.(string); ok && finiteDecimal(t) {
			return json.Number(t)
		}
	case "UUID":
		if b, ok := v.([]byte); ok && len(b) == 16 {
			return formatUUID(b)
		}
	case "JSON", "JSONB":
		var raw []byte
		switch j := v.(type) {
		case []byte:
			raw = j
		case string:
			raw = []byte(j)
		case json.RawMessage:
			raw = j
		}
		if raw != nil {
			var decoded any
			if err := json.Unmarshal(raw, &decoded); err == nil {
				return normalize(decoded, 0)
			}
		}
	}
	return normalize(v, 0)
}

// maxDepth bounds the recursion into nested values (and Valuer/Stringer chains).
const maxDepth = 64

const duckdbPkg = "github.com/duckdb/duckdb-go/v2"

func normalize(v any, depth int) any {
	if depth > maxDepth {
		return fmt.Sprint(v)
	}
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return x
	case bool:
		return x
	case int64:
		return x
	case float64:
		return normalizeFloat(x)
	case time.Time:
		return x
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint:
		return normalizeUint(uint64(x))
	case uint64:
		return normalizeUint(x)
	case float32:
		// Go through the shortest float32 text so float32(0.1) becomes 0.1, not 0.10000000149.
		f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(x), 'g', -1, 32), 64)
		return normalizeFloat(f)
	case []byte:
		return normalizeBytes(x)
	case json.RawMessage:
		var decoded any
		if err := json.Unmarshal(x, &decoded); err == nil {
			return normalize(decoded, depth+1)
		}
		return normalizeBytes(x)
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		return x.String()
	case *big.Int:
		if x == nil {
			return nil
		}
		return normalizeBigInt(x)
	case *big.Float:
		if x == nil {
			return nil
		}
		return x.Text('g', -1)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e, depth+1)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e, depth+1)
		}
		return out
	}

	rv := reflect.ValueOf(v)
	rt := rv.Type()
	if rt.PkgPath() == duckdbPkg {
		if out, ok := normalizeDuckDB(rt.Name(), rv, depth); ok {
			return out
		}
	}
	switch rv.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			return nil
		}
		if rt.Elem().PkgPath() == duckdbPkg {
			return normalize(rv.Elem().Interface(), depth+1)
		}
	case reflect.Slice:
		if rv.IsNil() {
			return nil
		}
		if rt.Elem().Kind() == reflect.Uint8 {
			return normalizeBytes(rv.Bytes())
		}
		return normalizeList(rv, depth)
	case reflect.Array:
		return normalizeList(rv, depth)
	case reflect.Map:
		if rv.IsNil() {
			return nil
		}
		out := make(map[string]any, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			out[mapKey(iter.Key().Interface(), depth)] = normalize(iter.Value().Interface(), depth+1)
		}
		return out
	}
	if valuer, ok := v.(driver.Valuer); ok {
		if dv, err := valuer.Value(); err == nil {
			return normalize(dv, depth+1)
		}
	}
	if s, ok := v.(fmt.Stringer); ok {
		return s.String()
	}
	switch rv.Kind() {
	case reflect.Pointer:
		return normalize(rv.Elem().Interface(), depth+1)
	case reflect.String:
		return rv.String()
	case reflect.Bool:
		return rv.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return normalizeUint(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return normalizeFloat(rv.Float())
	}
	return fmt.Sprintf("%v", v)
}

// normalizeDuckDB handles the value types of duckdb-go/v2 by name. ok is false for a type it
// does not know (or whose shape changed), which then falls through to the generic handling.
func normalizeDuckDB(name string, rv reflect.Value, depth int) (any, bool) {
	switch name {
	case "Decimal":
		scale, value := rv.FieldByName("Scale"), rv.FieldByName("Value")
		if !scale.IsValid() || !value.IsValid() || scale.Kind() != reflect.Uint8 {
			return nil, false
		}
		bi, ok := value.Interface().(*big.Int)
		if !ok || bi == nil {
			return nil, false
		}
		return json.Number(FormatDecimal(bi, int(scale.Uint()))), true
	case "Interval":
		months, days, micros := rv.FieldByName("Months"), rv.FieldByName("Days"), rv.FieldByName("Micros")
		if !months.IsValid() || !days.IsValid() || !micros.IsValid() {
			return nil, false
		}
		return FormatInterval(months.Int(), days.Int(), micros.Int()), true
	case "UUID":
		if rv.Kind() != reflect.Array || rv.Len() != 16 {
			return nil, false
		}
		b := make([]byte, 16)
		reflect.Copy(reflect.ValueOf(b), rv)
		return formatUUID(b), true
	case "Union":
		value := rv.FieldByName("Value")
		if !value.IsValid() {
			return nil, false
		}
		return normalize(value.Interface(), depth+1), true
	case "OrderedMap":
		// Keys and Values have pointer receivers; call them on an addressable copy.
		p := reflect.New(rv.Type())
		p.Elem().Set(rv)
		keysM, valuesM := p.MethodByName("Keys"), p.MethodByName("Values")
		if !keysM.IsValid() || !valuesM.IsValid() {
			return nil, false
		}
		keys, okK := keysM.Call(nil)[0].Interface().([]any)
		values, okV := valuesM.Call(nil)[0].Interface().([]any)
		if !okK || !okV || len(keys) != len(values) {
			return nil, false
		}
		out := make(map[string]any, len(keys))
		for i, k := range keys {
			out[mapKey(k, depth)] = normalize(values[i], depth+1)
		}
		return out, true
	case "Bit":
		if s, ok := rv.Interface().(fmt.Stringer); ok {
			return s.String(), true
		}
	}
	return nil, false
}

func normalizeList(rv reflect.Value, depth int) []any {
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = normalize(rv.Index(i).Interface(), depth+1)
	}
	return out
}

// mapKey renders a map key as a JSON object key.
func mapKey(k any, depth int) string {
	switch n := normalize(k, depth+1).(type) {
	case string:
		return n
	case time.Time:
		return n.Format(time.RFC3339Nano)
	case nil:
		return "null"
	default:
		return fmt.Sprint(n)
	}
}

func normalizeUint(u uint64) any {
	if u > math.MaxInt64 {
		return strconv.FormatUint(u, 10)
	}
	return int64(u)
}

func normalizeFloat(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return f
}

func normalizeBigInt(b *big.Int) any {
	if b.IsInt64() {
		return b.Int64()
	}
	return b.String()
}

func normalizeBytes(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func formatUUID(b []byte) string {
	var buf [36]byte
	hex.Encode(buf[0:8], b[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], b[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], b[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], b[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], b[10:16])
	return string(buf[:])
}

// FormatDecimal renders an unscaled integer and a scale as an exact decimal string with
// exactly scale fractional digits: (1250, 2) → "12.50", (-5, 3) → "-0.005". It matches the text
// PostgreSQL gives for numeric(p, scale), so both engines produce the same string for the same
// value.
func FormatDecimal(unscaled *big.Int, scale int) string {
	digits := new(big.Int).Abs(unscaled).String()
	sign := ""
	if unscaled.Sign() < 0 {
		sign = "-"
	}
	if scale <= 0 {
		return sign + digits + strings.Repeat("0", -scale)
	}
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	return sign + digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
}

// FormatInterval renders an interval of months, days and microseconds (the representation
// PostgreSQL and DuckDB share) as an ISO-8601 duration, each component with its own sign the
// way PostgreSQL's iso_8601 IntervalStyle does: (14, 3, 3_600_000_000) → "P1Y2M3DT1H".
func FormatInterval(months, days, micros int64) string {
	var b strings.Builder
	b.WriteByte('P')
	if y := months / 12; y != 0 {
		fmt.Fprintf(&b, "%dY", y)
	}
	if m := months % 12; m != 0 {
		fmt.Fprintf(&b, "%dM", m)
	}
	if days != 0 {
		fmt.Fprintf(&b, "%dD", days)
	}
	if micros != 0 {
		b.WriteByte('T')
		const (
			microsPerSecond = int64(time.Second / time.Microsecond)
			microsPerMinute = 60 * microsPerSecond
			microsPerHour   = 60 * microsPerMinute
		)
		if h := micros / microsPerHour; h != 0 {
			fmt.Fprintf(&b, "%dH", h)
		}
		if m := micros % microsPerHour / microsPerMinute; m != 0 {
			fmt.Fprintf(&b, "%dM", m)
		}
		if us := micros % microsPerMinute; us != 0 {
			s := new(big.Rat).SetFrac64(us, microsPerSecond).FloatString(6)
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
			fmt.Fprintf(&b, "%sS", s)
		}
	}
	if b.Len() == 1 {
		return "PT0S"
	}
	return b.String()
}

// finiteDecimal reports whether s is a plain decimal number JSON accepts as is: an optional
// minus, digits without superfluous leading zeros, an optional fraction and exponent.
func finiteDecimal(s string) bool {
	if !json.Valid([]byte(s)) {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && !strings.ContainsRune("-+.eE", r) {
			return false
		}
	}
	return s != ""
}
