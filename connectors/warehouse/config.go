package warehouse

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"dinmo/connectors"
)

// ConfigReader reads a Config against the fields its Spec declares: it applies defaults,
// enforces required fields, types, enums and bounds, and collects every problem so Open reports
// them all at once. Settings may arrive with JSON types (a catalog round trip turns int64 into
// float64), so integral numbers of any Go numeric type and numeric strings are accepted for
// int fields, and "true"/"false" for bool fields.
//
// Credential values never appear in its errors.
type ConfigReader struct {
	engine   Engine
	settings map[string]connectors.ConfigField
	creds    map[string]connectors.ConfigField
	cfg      Config
	errs     []error
}

// NewConfigReader returns a reader of cfg for the fields of spec.
func NewConfigReader(spec Spec, cfg Config) *ConfigReader {
	r := &ConfigReader{
		engine:   spec.Engine,
		settings: map[string]connectors.ConfigField{},
		creds:    map[string]connectors.ConfigField{},
		cfg:      cfg,
	}
	for _, f := range spec.Settings {
		r.settings[f.Name] = f
	}
	for _, f := range spec.Credentials {
		r.creds[f.Name] = f
	}
	return r
}

func (r *ConfigReader) fail(format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf(format, args...))
}

// value returns the raw value of a setting, falling back to its default; ok is false when the
// setting is absent and has no default (a missing required setting is recorded as an error).
func (r *ConfigReader) value(name string, want connectors.FieldType) (connectors.ConfigField, any, bool) {
	f, declared := r.settings[name]
	if !declared || f.Type != want {
		// A programming error in the engine package, not a user error; surface it anyway.
		r.fail("setting %q is not declared as %s by engine %q", name, want, r.engine)
		return f, nil, false
	}
	v, present := r.cfg.Settings[name]
	if !present || v == nil {
		if f.Default != nil {
			return f, f.Default, true
		}
		if f.Required {
			r.fail("setting %q is required: set it in the source's settings", name)
		}
		return f, nil, false
	}
	return f, v, true
}

// String returns a string setting ("" when absent and optional).
func (r *ConfigReader) String(name string) string {
	f, v, ok := r.value(name, connectors.FieldString)
	if !ok {
		return ""
	}
	s, isString := v.(string)
	if !isString {
		r.fail("setting %q must be a string, got %T", name, v)
		return ""
	}
	if s == "" && f.Required {
		r.fail("setting %q is required and must not be empty", name)
		return ""
	}
	if len(f.Enum) > 0 && !slices.Contains(f.Enum, s) {
		r.fail("setting %q must be one of %s, got %q", name, strings.Join(f.Enum, ", "), s)
		return ""
	}
	return s
}

// Int returns an int setting (0 when absent and optional).
func (r *ConfigReader) Int(name string) int64 {
	f, v, ok := r.value(name, connectors.FieldInt)
	if !ok {
		return 0
	}
	n, err := toInt64(v)
	if err != nil {
		r.fail("setting %q must be an integer: %v", name, err)
		return 0
	}
	if (f.Min != 0 && n < f.Min) || (f.Max != 0 && n > f.Max) {
		switch {
		case f.Min != 0 && f.Max != 0:
			r.fail("setting %q must be between %d and %d, got %d", name, f.Min, f.Max, n)
		case f.Min != 0:
			r.fail("setting %q must be at least %d, got %d", name, f.Min, n)
		default:
			r.fail("setting %q must be at most %d, got %d", name, f.Max, n)
		}
		return 0
	}
	return n
}

// Bool returns a bool setting (false when absent and optional).
func (r *ConfigReader) Bool(name string) bool {
	_, v, ok := r.value(name, connectors.FieldBool)
	if !ok {
		return false
	}
	switch b := v.(type) {
	case bool:
		return b
	case string:
		parsed, err := strconv.ParseBool(b)
		if err == nil {
			return parsed
		}
	}
	r.fail("setting %q must be true or false, got %v", name, v)
	return false
}

// Credential returns a resolved credential ("" when absent and optional). Its value is never
// put in an error.
func (r *ConfigReader) Credential(name string) string {
	f, declared := r.creds[name]
	if !declared {
		r.fail("credential %q is not declared by engine %q", name, r.engine)
		return ""
	}
	v := r.cfg.Credentials[name]
	if v == "" && f.Required {
		r.fail("credential %q is required: set it in the source's credentials", name)
	}
	return v
}

// Err returns every problem found so far as one permanent configuration error, or nil.
func (r *ConfigReader) Err() error {
	if len(r.errs) == 0 {
		return nil
	}
	return connectors.Permanent(connectors.CategoryConfiguration,
		fmt.Errorf("%s source configuration: %w", r.engine, errors.Join(r.errs...)))
}

func toInt64(v any) (int64, error) {
	switch n := v.(type) {
	case int:
		return int64(n), nil
	case int8:
		return int64(n), nil
	case int16:
		return int64(n), nil
	case int32:
		return int64(n), nil
	case int64:
		return n, nil
	case uint8:
		return int64(n), nil
	case uint16:
		return int64(n), nil
	case uint32:
		return int64(n), nil
	case uint:
		if uint64(n) > math.MaxInt64 {
			return 0, fmt.Errorf("%d is out of range", n)
		}
		return int64(n), nil
	case uint64:
		if n > math.MaxInt64 {
			return 0, fmt.Errorf("%d is out of range", n)
		}
		return int64(n), nil
	case float32:
		return floatToInt64(float64(n))
	case float64:
		return floatToInt64(n)
	case json.Number:
		return strconv.ParseInt(string(n), 10, 64)
	case string:
		i, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not an integer", n)
		}
		return i, nil
	default:
		return 0, fmt.Errorf("got %T", v)
	}
}

func floatToInt64(f float64) (int64, error) {
	if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, fmt.Errorf("%v is not an integer", f)
	}
	return int64(f), nil
}
