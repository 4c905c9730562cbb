package destination

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"dinmo/connectors"
)

// Settings arrive as map[string]any from several places: the provider passes Go values of the
// declared types (int64, map[string]string...), while a catalog round trip through JSON turns
// numbers into float64 or json.Number and maps into map[string]any. The helpers below accept
// all of these spellings so platforms never type-switch themselves, and ValidateSettings
// rejects anything that is not one of them.

// SettingBatchSize is the optional setting through which a platform lets users choose the
// number of records per Apply call (see BatchSize).
const SettingBatchSize = "batch_size"

// ApplyDefaults returns a copy of values in which every declared field that is absent (or
// nil) holds its declared Default. Fields without a default stay absent. The input is not
// modified. The runner calls it before OpenParams.Settings is built, so platforms can rely on
// defaults being present; the helpers below also take a fallback for callers that did not.
func ApplyDefaults(fields []connectors.ConfigField, values map[string]any) map[string]any {
	out := make(map[string]any, len(values)+len(fields))
	for k, v := range values {
		out[k] = v
	}
	for _, f := range fields {
		if v, ok := out[f.Name]; (!ok || v == nil) && f.Default != nil {
			out[f.Name] = f.Default
		}
	}
	return out
}

// ValidateSettings checks settings and credentials against a platform's declaration: every
// required field is present, no undeclared field is given, each value has the declared type,
// string enums and integer bounds hold. It reports every problem at once, naming the field
// and what to do, as a permanent CategoryConfiguration error. Credential values never appear
// in the message. Platforms call it first in Check and Open; their own rules (URL syntax,
// cross-field checks) come after.
func ValidateSettings(spec PlatformSpec, settings map[string]any, credentials map[string]string) error {
	var problems []error
	problems = append(problems, validateValues("setting", spec.Settings, settings, false)...)
	creds := make(map[string]any, len(credentials))
	for k, v := range credentials {
		if v != "" {
			creds[k] = v
		}
	}
	problems = append(problems, validateValues("credential", spec.Credentials, creds, true)...)
	if len(problems) == 0 {
		return nil
	}
	return connectors.Permanent(connectors.CategoryConfiguration,
		fmt.Errorf("destination %q: invalid configuration: %w", spec.Platform, errors.Join(problems...)))
}

func validateValues(kind string, fields []connectors.ConfigField, values map[string]any, secret bool) []error {
	var problems []error
	declared := make(map[string]connectors.ConfigField, len(fields))
	names := make([]string, 0, len(fields))
	for _, f := range fields {
		declared[f.Name] = f
		names = append(names, f.Name)
	}
	sort.Strings(names)
	given := make([]string, 0, len(values))
	for k := range values {
		given = append(given, k)
	}
	sort.Strings(given)
	for _, k := range given {
		if _, ok := declared[k]; !ok {
			known := "none"
			if len(names) > 0 {
				known = strings.Join(names, ", ")
			}
			problems = append(problems, fmt.Errorf("unknown %s %q (known %ss: %s)", kind, k, kind, known))
		}
	}
	for _, f := range fields {
		v, ok := values[f.Name]
		if !ok || v == nil {
			if f.Required {
				problems = append(problems, fmt.Errorf("%s %q is required: %s", kind, f.Name, firstSentence(f.Description)))
			}
			continue
		}
		if err := validateValue(f, v, secret); err != nil {
			problems = append(problems, fmt.Errorf("%s %q: %w", kind, f.Name, err))
		}
	}
	return problems
}

func validateValue(f connectors.ConfigField, v any, secret bool) error {
	switch f.Type {
	case connectors.FieldString:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("must be a string, got %s", typeName(v))
		}
		if f.Required && strings.TrimSpace(s) == "" {
			return errors.New("must not be empty")
		}
		if len(f.Enum) > 0 && !slices.Contains(f.Enum, s) {
			if secret {
				return fmt.Errorf("must be one of %s", strings.Join(f.Enum, ", "))
			}
			return fmt.Errorf("value %q is not allowed; use one of %s", s, strings.Join(f.Enum, ", "))
		}
	case connectors.FieldInt:
		n, ok := asInt(v)
		if !ok {
			return fmt.Errorf("must be a whole number, got %s", typeName(v))
		}
		if f.Min != 0 && n < f.Min {
			return fmt.Errorf("%d is below the minimum %d", n, f.Min)
		}
		if f.Max != 0 && n > f.Max {
			return fmt.Errorf("%d is above the maximum %d", n, f.Max)
		}
	case connectors.FieldBool:
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("must be true or false, got %s", typeName(v))
		}
	case connectors.FieldStringMap:
		if _, ok := asStringMap(v); !ok {
			return fmt.Errorf("must be a map of strings, got %s", typeName(v))
		}
	case connectors.FieldStringList:
		if _, ok := asStringList(v); !ok {
			return fmt.Errorf("must be a list of strings, got %s", typeName(v))
		}
	default:
		return fmt.Errorf("unknown field type %q", f.Type)
	}
	return nil
}

// SettingString returns the string setting name, or def when it is absent or not a string.
func SettingString(settings map[string]any, name, def string) string {
	if s, ok := settings[name].(string); ok {
		return s
	}
	return def
}

// SettingInt returns the integer setting name, or def when it is absent or not a whole number.
// It accepts int, int64, integral float64 and json.Number, the shapes a catalog round trip
// produces.
func SettingInt(settings map[string]any, name string, def int64) int64 {
	if v, ok := settings[name]; ok && v != nil {
		if n, ok := asInt(v); ok {
			return n
		}
	}
	return def
}

// SettingBool returns the boolean setting name, or def when it is absent or not a bool.
func SettingBool(settings map[string]any, name string, def bool) bool {
	if b, ok := settings[name].(bool); ok {
		return b
	}
	return def
}

// SettingStringMap returns a copy of the map-of-strings setting name (nil when absent or of
// another shape). It accepts map[string]string and map[string]any holding strings.
func SettingStringMap(settings map[string]any, name string) map[string]string {
	m, _ := asStringMap(settings[name])
	return m
}

// SettingStringList returns a copy of the list-of-strings setting name (nil when absent or of
// another shape). It accepts []string and []any holding strings.
func SettingStringList(settings map[string]any, name string) []string {
	l, _ := asStringList(settings[name])
	return l
}

// BatchSize returns the number of records per Apply call for a service: the optional
// "batch_size" setting when it is positive, else the service's DefaultBatchSize, never more
// than its MaxBatchSize (and never less than 1). The runner sizes batches with it, and
// destinations use it to refuse oversized batches.
func BatchSize(spec ServiceSpec, settings map[string]any) int {
	n := int64(spec.DefaultBatchSize)
	if v := SettingInt(settings, SettingBatchSize, 0); v > 0 {
		n = v
	}
	if spec.MaxBatchSize > 0 && n > int64(spec.MaxBatchSize) {
		n = int64(spec.MaxBatchSize)
	}
	if n < 1 {
		n = 1
	}
	return int(n)
}

func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint64:
		if n > math.MaxInt64 {
			return 0, false
		}
		return int64(n), true
	case uint:
		if uint64(n) > math.MaxInt64 {
			return 0, false
		}
		return int64(n), true
	case float64:
		if n != math.Trunc(n) || math.IsInf(n, 0) || n >= math.MaxInt64 || n < math.MinInt64 {
			return 0, false
		}
		return int64(n), true
	case float32:
		return asInt(float64(n))
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

func asStringMap(v any) (map[string]string, bool) {
	switch m := v.(type) {
	case map[string]string:
		out := make(map[string]string, len(m))
		for k, s := range m {
			out[k] = s
		}
		return out, true
	case map[string]any:
		out := make(map[string]string, len(m))
		for k, x := range m {
			s, ok := x.(string)
			if !ok {
				return nil, false
			}
			out[k] = s
		}
		return out, true
	}
	return nil, false
}

func asStringList(v any) ([]string, bool) {
	switch l := v.(type) {
	case []string:
		return slices.Clone(l), true
	case []any:
		out := make([]string, 0, len(l))
		for _, x := range l {
			s, ok := x.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, float32, json.Number, int, int64, int32:
		return "a number"
	case map[string]any, map[string]string:
		return "a map"
	case []any, []string:
		return "a list"
	}
	return fmt.Sprintf("a %T", v)
}

func firstSentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "set it in the destination's configuration"
	}
	if i := strings.Index(s, ". "); i > 0 {
		return s[:i+1]
	}
	return s
}
