package braze

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"dinmo/connectors"
	"dinmo/connectors/destination"
	"dinmo/connectors/pii"
)

// Reasons and errors below never quote a record's values: they are personal data, and
// reasons end up in run history and logs.

// identify returns the first of the identifier fields (in order) that holds a non-empty value,
// normalised (trimmed), or a reason to reject the record.
func identify(fields map[string]any, names ...string) (kind, id, reason string) {
	for _, name := range names {
		v, ok := identifierValue(fields[name])
		if !ok {
			continue
		}
		return name, v, ""
	}
	return "", "", fmt.Sprintf("the record has no %s: map %s to a column and make sure it is not empty", orList(names), orList(names))
}

func identifierValue(v any) (string, bool) {
	s, ok := pii.ValueString(v)
	if !ok {
		return "", false
	}
	n, err := pii.Normalize(pii.RuleExternalID, s, pii.Options{})
	if err != nil {
		return "", false
	}
	return n, true
}

// subscriptionIdentity returns the identifier of a subscription_status record: external_id,
// else a valid e-mail, else a valid phone number in E.164.
func subscriptionIdentity(fields map[string]any, region string) (kind, id, reason string) {
	if id, ok := identifierValue(fields["external_id"]); ok {
		return "external_id", id, ""
	}
	var problems []string
	for _, f := range []struct{ name, rule string }{{"email", pii.RuleEmail}, {"phone", pii.RulePhone}} {
		s, ok := pii.ValueString(fields[f.name])
		if !ok {
			continue
		}
		n, err := pii.Normalize(f.rule, s, pii.Options{DefaultRegion: region})
		switch {
		case err == nil:
			return f.name, n, ""
		case errors.Is(err, pii.ErrEmpty):
		default:
			problems = append(problems, fmt.Sprintf("%s is invalid (%v)", f.name, err))
		}
	}
	if len(problems) > 0 {
		return "", "", "the record has no usable identifier: " + strings.Join(problems, "; ") + phoneHint(region, problems)
	}
	return "", "", "the record has no external_id, email or phone: map at least one of them and make sure it is not empty"
}

func phoneHint(region string, problems []string) string {
	if region != "" {
		return ""
	}
	for _, p := range problems {
		if strings.HasPrefix(p, "phone") {
			return fmt.Sprintf(" (numbers without a country code need the %q setting)", SettingDefaultPhoneRegion)
		}
	}
	return ""
}

// attributeValue converts one user attribute for Braze, or gives a reason to reject the
// record. E-mail and phone are normalised (an empty one clears the attribute), dob becomes a
// date, everything else is sent as JSON (null removes the attribute).
func attributeValue(name string, v any, region string) (any, string) {
	switch name {
	case "email", "phone":
		rule := pii.RuleEmail
		if name == "phone" {
			rule = pii.RulePhone
		}
		s, ok := pii.ValueString(v)
		if !ok {
			if v == nil {
				return nil, ""
			}
			return nil, fmt.Sprintf("%s must be text, not %s", name, kindOf(v))
		}
		n, err := pii.Normalize(rule, s, pii.Options{DefaultRegion: region})
		switch {
		case err == nil:
			return n, ""
		case errors.Is(err, pii.ErrEmpty):
			return nil, ""
		}
		reason := fmt.Sprintf("%s is invalid (%v)", name, err)
		if name == "phone" && region == "" {
			reason += fmt.Sprintf("; numbers without a country code need the %q setting", SettingDefaultPhoneRegion)
		}
		return nil, reason
	case "dob":
		switch x := v.(type) {
		case time.Time:
			return x.UTC().Format(time.DateOnly), ""
		case *time.Time:
			if x == nil {
				return nil, ""
			}
			return x.UTC().Format(time.DateOnly), ""
		case string:
			if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(x)); err == nil {
				return t.UTC().Format(time.DateOnly), ""
			}
			return strings.TrimSpace(x), ""
		}
	}
	return destination.JSONValue(v), ""
}

// eventTimeLayouts are the text forms of an event time accepted besides RFC 3339; times
// without a zone are read as UTC.
var eventTimeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999", time.DateOnly}

// eventTime returns the ISO 8601 time of an event, or a reason to reject the record.
func eventTime(v any) (string, string) {
	switch x := v.(type) {
	case nil:
		return "", "time is required: map the event's timestamp column to time"
	case time.Time:
		return destination.FormatTime(x), ""
	case *time.Time:
		if x == nil {
			return "", "time is required: map the event's timestamp column to time"
		}
		return destination.FormatTime(*x), ""
	case string:
		s := strings.TrimSpace(x)
		for _, layout := range eventTimeLayouts {
			if t, err := time.Parse(layout, s); err == nil {
				return destination.FormatTime(t), ""
			}
		}
		return "", "time is not an ISO 8601 timestamp"
	}
	return "", fmt.Sprintf("time must be a timestamp, not %s", kindOf(v))
}

func productID(v any) (string, string) {
	s, ok := pii.ValueString(v)
	s = strings.TrimSpace(s)
	switch {
	case !ok || s == "":
		return "", "product_id is required for purchases: map it to a column and make sure it is not empty"
	case len([]rune(s)) > maxNameLength:
		return "", fmt.Sprintf("product_id is longer than %d characters", maxNameLength)
	}
	return s, ""
}

func currencyCode(v any) (string, string) {
	s, ok := v.(string)
	if !ok || strings.TrimSpace(s) == "" {
		return "", "currency is required for purchases: map it to a column holding ISO 4217 codes such as EUR"
	}
	c := strings.ToUpper(strings.TrimSpace(s))
	if len(c) != 3 || strings.IndexFunc(c, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
		return "", "currency is not an ISO 4217 code (three letters such as EUR or USD)"
	}
	return c, ""
}

// priceValue returns the price as a JSON number, keeping a decimal's exact digits.
func priceValue(v any) (json.Number, string) {
	var s string
	switch x := v.(type) {
	case nil:
		return "", "price is required for purchases: map it to a numeric column"
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", "price is not a finite number"
		}
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case float32, int, int32, int64, json.Number:
		s, _ = pii.ValueString(x)
	case string:
		s = strings.TrimSpace(x)
	default:
		return "", fmt.Sprintf("price must be a number, not %s", kindOf(v))
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return "", "price is not a number"
	}
	if _, err := json.Marshal(json.Number(s)); err != nil {
		s = strconv.FormatFloat(f, 'f', -1, 64) // "1e3", "+5" and the like: not JSON numbers
	}
	return json.Number(s), ""
}

// quantityValue returns a purchase quantity: an integer from 1 to 100 (Braze's limit).
func quantityValue(v any) (int64, string) {
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case int:
		n = int64(x)
	case int32:
		n = int64(x)
	case float64:
		if x != math.Trunc(x) {
			return 0, "quantity must be a whole number"
		}
		n = int64(x)
	case json.Number:
		i, err := x.Int64()
		if err != nil {
			return 0, "quantity must be a whole number"
		}
		n = i
	case string:
		i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return 0, "quantity must be a whole number"
		}
		n = i
	default:
		return 0, fmt.Sprintf("quantity must be a number, not %s", kindOf(v))
	}
	if n < 1 || n > 100 {
		return 0, "quantity must be between 1 and 100 (Braze's limit)"
	}
	return n, ""
}

// checkFieldName rejects a mapping target Braze cannot take as an attribute or property: it
// is a configuration error of the activation, so the whole batch fails with it.
func checkFieldName(name, what, service string) error {
	var problem string
	switch {
	case strings.TrimSpace(name) == "":
		problem = "an empty name"
	case strings.HasPrefix(name, "$"):
		problem = "a name starting with $, which Braze reserves"
	case len([]rune(name)) > maxNameLength:
		problem = fmt.Sprintf("a name longer than %d characters", maxNameLength)
	case what == "attribute" && reservedAttributeNames[name]:
		problem = "a key Braze reserves for identifiers and flags"
	}
	if problem == "" {
		return nil
	}
	return connectors.Permanent(connectors.CategoryConfiguration,
		fmt.Errorf("braze: the mapping of service %q targets %s %q, %s: rename the destination field", service, what, name, problem))
}

func orList(names []string) string {
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func kindOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case bool:
		return "a boolean"
	case string:
		return "text"
	case float64, float32, int, int64, int32, json.Number:
		return "a number"
	}
	return fmt.Sprintf("a %T", v)
}
