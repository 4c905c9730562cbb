package fields

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"dinmo/connectors"
)

// Service options are written in HCL as a map of strings (one attribute for every service of
// every platform), while platforms declare them as typed fields. The functions below convert
// between the two: ParseText turns the text a user wrote into the declared type (checking
// enums and bounds), FormatText turns a stored value back into text, and SameText tells
// whether a user's spelling denotes a stored value, so state keeps the spelling ("TRUE",
// "010") instead of showing a perpetual diff.

// ParseText converts the text of a field to its declared type: a string (checked against
// Enum; not empty when Required), an int64 (decimal, checked against Min and Max), a bool
// (true/false, also 1/0, t/f, TRUE/FALSE), a map[string]string (a JSON object of strings) or
// a []string (a JSON list of strings). Errors say what was expected, without repeating the
// field's name (the caller names it).
func ParseText(f connectors.ConfigField, text string) (any, error) {
	switch f.Type {
	case connectors.FieldString:
		if f.Required && strings.TrimSpace(text) == "" {
			return nil, errors.New("must not be empty")
		}
		if len(f.Enum) > 0 && !slices.Contains(f.Enum, text) {
			return nil, fmt.Errorf("%q is not allowed; use one of %s", text, strings.Join(f.Enum, ", "))
		}
		return text, nil
	case connectors.FieldInt:
		n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", text)
		}
		if f.Min != 0 && n < f.Min {
			return nil, fmt.Errorf("%d is below the minimum %d", n, f.Min)
		}
		if f.Max != 0 && n > f.Max {
			return nil, fmt.Errorf("%d is above the maximum %d", n, f.Max)
		}
		return n, nil
	case connectors.FieldBool:
		b, err := strconv.ParseBool(strings.TrimSpace(text))
		if err != nil {
			return nil, fmt.Errorf("%q is not a boolean: write true or false", text)
		}
		return b, nil
	case connectors.FieldStringMap:
		var m map[string]string
		if err := json.Unmarshal([]byte(text), &m); err != nil || m == nil {
			return nil, errors.New(`must be a JSON object of strings, such as {"key":"value"} (use jsonencode)`)
		}
		return m, nil
	case connectors.FieldStringList:
		var l []string
		if err := json.Unmarshal([]byte(text), &l); err != nil || l == nil {
			return nil, errors.New(`must be a JSON list of strings, such as ["a","b"] (use jsonencode)`)
		}
		return l, nil
	}
	return nil, fmt.Errorf("unknown field type %q", f.Type)
}

// FormatText returns the canonical text of a stored value: strings as they are, booleans as
// true or false, whole numbers in decimal, collections as compact JSON. It accepts the shapes
// a JSON round trip produces (float64, json.Number, []any, map[string]any), since it does
// not need the field's declaration.
func FormatText(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case nil:
		return "", errors.New("the value is null")
	}
	if n, err := toInt64(v); err == nil {
		return strconv.FormatInt(n, 10), nil
	}
	switch v.(type) {
	case float64, float32, json.Number:
		return "", fmt.Errorf("%v is not a whole number", v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("cannot encode %T: %w", v, err)
	}
	return string(b), nil
}

// SameText reports whether text denotes the stored value v (another spelling of the same
// boolean or number, or JSON equal to it).
func SameText(text string, v any) bool {
	canonical, err := FormatText(v)
	if err != nil {
		return false
	}
	if text == canonical {
		return true
	}
	switch x := v.(type) {
	case string:
		return false
	case bool:
		b, err := strconv.ParseBool(strings.TrimSpace(text))
		return err == nil && b == x
	}
	if n, err := toInt64(v); err == nil {
		m, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
		return err == nil && m == n
	}
	var a, b any
	if json.Unmarshal([]byte(text), &a) != nil || json.Unmarshal([]byte(canonical), &b) != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}

// FormatDefault returns a field's default as text (empty when it has none), the way
// FormatText writes values.
func FormatDefault(f connectors.ConfigField) string {
	if f.Default == nil {
		return ""
	}
	s, err := FormatText(f.Default)
	if err != nil {
		return fmt.Sprint(f.Default)
	}
	return s
}
