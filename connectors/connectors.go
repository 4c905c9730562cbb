// Package connectors holds what warehouse and destination connectors share: the description of
// their configuration fields and the classification of their errors. Connectors import neither
// provider/ nor runner/; both of those import connectors.
package connectors

import (
	"errors"
	"fmt"
	"regexp"
)

// FieldType is the type of one configuration field of a connector.
type FieldType string

// Field types a connector's configuration may use. The provider derives its schema from them.
const (
	FieldString     FieldType = "string"
	FieldInt        FieldType = "int"
	FieldBool       FieldType = "bool"
	FieldStringMap  FieldType = "map"  // map of string to string
	FieldStringList FieldType = "list" // list of strings
)

// ConfigField describes one setting or credential of a connector. Settings are stored in the
// catalog as given; credentials are secret: they reach the catalog only sealed or as references
// (env:NAME, file:PATH) and never appear in Terraform state, logs or errors.
type ConfigField struct {
	// Name is the stable snake_case key users write in HCL.
	Name string
	// Description is the Markdown shown in the generated docs.
	Description string
	Type        FieldType
	Required    bool
	// Default is used when the field is omitted (nil: no default). Its Go type matches Type:
	// string, int64, bool, map[string]string or []string.
	Default any
	// Enum, when not empty, lists the allowed values of a string field.
	Enum []string
	// Min and Max bound an int field when non-zero.
	Min, Max int64
}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// ValidateFields checks a list of field declarations (unique snake_case names, known types,
// defaults of the declared type). Registries call it so a malformed declaration fails at start.
func ValidateFields(fields []ConfigField) error {
	seen := map[string]bool{}
	for _, f := range fields {
		if !namePattern.MatchString(f.Name) {
			return fmt.Errorf("field %q: name must be snake_case", f.Name)
		}
		if seen[f.Name] {
			return fmt.Errorf("field %q declared twice", f.Name)
		}
		seen[f.Name] = true
		switch f.Type {
		case FieldString, FieldInt, FieldBool, FieldStringMap, FieldStringList:
		default:
			return fmt.Errorf("field %q: unknown type %q", f.Name, f.Type)
		}
		if f.Default != nil {
			ok := false
			switch f.Type {
			case FieldString:
				_, ok = f.Default.(string)
			case FieldInt:
				_, ok = f.Default.(int64)
			case FieldBool:
				_, ok = f.Default.(bool)
			case FieldStringMap:
				_, ok = f.Default.(map[string]string)
			case FieldStringList:
				_, ok = f.Default.([]string)
			}
			if !ok {
				return fmt.Errorf("field %q: default %v is not of type %s", f.Name, f.Default, f.Type)
			}
		}
	}
	return nil
}

// Category classifies an error the way run history and alerts show it (spec §6.9).
type Category string

// Error categories of the product spec.
const (
	CategoryConnection    Category = "connection"    // the source cannot be reached or queried
	CategoryCredentials   Category = "credentials"   // bad credentials or insufficient permissions
	CategoryRateLimit     Category = "rate_limit"    // the destination's limits were exceeded
	CategoryConfiguration Category = "configuration" // invalid or incomplete settings
	CategoryTimeout       Category = "timeout"       // an operation exceeded its allowed duration
	CategoryNotFound      Category = "not_found"     // an account, list, object or table is missing
	CategoryInternal      Category = "internal"      // anything else
)

// Error is an error with a category and a retry verdict. Connectors return it (wrapped or not)
// so the runner can decide whether to retry, pause or fail, and what to show.
type Error struct {
	Category  Category
	Retryable bool
	Err       error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %v", e.Category, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Permanent wraps err as a non-retryable error of the given category.
func Permanent(c Category, err error) error {
	return &Error{Category: c, Err: err}
}

// Retryable wraps err as a retryable error of the given category.
func Retryable(c Category, err error) error {
	return &Error{Category: c, Retryable: true, Err: err}
}

// CategoryOf returns the category of err, or CategoryInternal when it has none.
func CategoryOf(err error) Category {
	var e *Error
	if errors.As(err, &e) {
		return e.Category
	}
	return CategoryInternal
}

// IsRetryable reports whether err was marked retryable.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable
}
