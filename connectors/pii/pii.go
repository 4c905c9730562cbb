// Package pii normalises and hashes personal identifiers (e-mail addresses, phone numbers,
// names, addresses, dates of birth, device and CRM ids) the way ad and marketing platforms
// match them. Platforms declare on each field which rule applies (destination.FieldSpec.PII)
// and whether the value is sent hashed (FieldSpec.Hashed); this package holds the rules, so
// every platform normalises the same input the same way and a change in a vendor's guidance
// is made once.
//
// Vendors disagree on details (phone numbers with or without "+", gmail dots, +tags), so the
// per-vendor differences are Options rather than separate rules: Meta sends phone numbers as
// digits, Google as E.164; Google's Data Manager strips gmail dots, Meta does not.
//
// Errors never contain the value being normalised: it is personal data, and errors end up in
// logs and run history. They name the rule and what is wrong.
package pii

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Rule names, the values of destination.FieldSpec.PII.
const (
	RuleEmail        = "email"
	RulePhone        = "phone"
	RuleFirstName    = "first_name"
	RuleLastName     = "last_name"
	RuleFirstInitial = "first_initial"
	RuleCity         = "city"
	RuleState        = "state"
	RuleZip          = "zip"
	RuleCountry      = "country"
	RuleGender       = "gender"
	RuleDateOfBirth  = "date_of_birth"
	RuleBirthYear    = "birth_year"
	RuleBirthMonth   = "birth_month"
	RuleBirthDay     = "birth_day"
	RuleExternalID   = "external_id"
	RuleMADID        = "madid"
)

// ErrEmpty is returned (wrapped in an *Error) for a value that is empty after trimming:
// platforms usually leave such a field out rather than reject the record.
var ErrEmpty = errors.New("the value is empty")

// ErrInvalid is returned (wrapped in an *Error) for a value that cannot be normalised.
var ErrInvalid = errors.New("the value is invalid")

// Error reports why a value could not be normalised. It names the rule and the problem but
// never the value, which is personal data.
type Error struct {
	Rule   string
	Reason string
	Err    error // ErrEmpty or ErrInvalid
}

func (e *Error) Error() string {
	return fmt.Sprintf("pii: %s: %s", e.Rule, e.Reason)
}

// Unwrap returns ErrEmpty or ErrInvalid, for errors.Is.
func (e *Error) Unwrap() error { return e.Err }

func invalid(rule, format string, args ...any) error {
	return &Error{Rule: rule, Reason: fmt.Sprintf(format, args...), Err: ErrInvalid}
}

func empty(rule string) error {
	return &Error{Rule: rule, Reason: "the value is empty", Err: ErrEmpty}
}

// EmailOptions selects the optional e-mail canonicalisations some vendors ask for.
type EmailOptions struct {
	// GmailCanonical removes the dots and the "+tag" of the local part of gmail.com and
	// googlemail.com addresses (Google Data Manager's rule): Gmail ignores both, so
	// "j.doe+ads@gmail.com" and "jdoe@gmail.com" are the same mailbox.
	GmailCanonical bool
	// DropPlusTag removes a "+tag" suffix from the local part of every address (TikTok's
	// rule). Outside Gmail this may merge distinct mailboxes; use it only when the vendor
	// asks for it.
	DropPlusTag bool
}

// PhoneFormat is the text form of a normalised phone number.
type PhoneFormat int

// Phone formats.
const (
	// PhoneFormatE164 is "+" then country code and national number: "+33612345678" (Google).
	PhoneFormatE164 PhoneFormat = iota
	// PhoneFormatDigits is the E.164 number without "+": "33612345678" (Meta, Pinterest,
	// Snap, TikTok).
	PhoneFormatDigits
)

// Options tunes the rules to one vendor's guidance. The zero value gives the common core:
// trimmed, lowercased e-mails kept as written, phone numbers in E.164 that must carry their
// country code.
type Options struct {
	Email EmailOptions
	// DefaultRegion is the ISO 3166-1 alpha-2 code (e.g. "FR") of the country assumed for
	// phone numbers written without a country code ("06 12 34 56 78"). Empty: such numbers
	// are read as international numbers whose digits start with the country code.
	DefaultRegion string
	// PhoneFormat is the form phone numbers are normalised to (default PhoneFormatE164).
	PhoneFormat PhoneFormat
}

// Rule is one named normalisation rule.
type Rule struct {
	// Name is the value of destination.FieldSpec.PII that selects the rule.
	Name string
	// Description says what the rule produces, for generated documentation.
	Description string
	normalize   func(value string, opts Options) (string, error)
}

// Normalize applies the rule to value. Surrounding white space is ignored; an empty value
// gives an error wrapping ErrEmpty, a value the rule cannot read one wrapping ErrInvalid.
func (r Rule) Normalize(value string, opts Options) (string, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return "", empty(r.Name)
	}
	return r.normalize(v, opts)
}

var rules = []Rule{
	{RuleEmail, "Trimmed and lowercased; must have one `@` with a non-empty local part and a domain. " +
		"Gmail dots and `+tags` are removed only where the platform asks for it.", normalizeEmailRule},
	{RulePhone, "Parsed with Google's libphonenumber rules and written in E.164 (`+33612345678`), " +
		"or as digits with the country code (`33612345678`) where the platform wants digits. " +
		"Numbers without a country code need the platform's default region.", normalizePhoneRule},
	{RuleFirstName, "Lowercased, letters only (accented and non-Latin letters kept, in Unicode NFC); " +
		"spaces, punctuation and digits removed.", normalizeNameRule(RuleFirstName)},
	{RuleLastName, "Lowercased, letters only (accented and non-Latin letters kept, in Unicode NFC); " +
		"spaces, punctuation and digits removed.", normalizeNameRule(RuleLastName)},
	{RuleFirstInitial, "The first letter of the normalised first name.", normalizeFirstInitial},
	{RuleCity, "Lowercased, letters only: spaces, punctuation and digits removed.", normalizeCity},
	{RuleState, "Lowercased letters; United States state names become their two-letter code.", normalizeState},
	{RuleZip, "Lowercased, white space removed; United States ZIP+4 codes keep their first five digits.", normalizeZip},
	{RuleCountry, "ISO 3166-1 alpha-2 code in lowercase (`fr`); a few common aliases (`UK`, `USA`, " +
		"`United States`, `United Kingdom`) are accepted.", normalizeCountry},
	{RuleGender, "`m` or `f` (from m, male, man, f, female, woman and their French equivalents).", normalizeGender},
	{RuleDateOfBirth, "`YYYYMMDD` from an ISO date (`1990-03-07`, `1990/03/07`, `19900307`) or timestamp.", normalizeDateOfBirth},
	{RuleBirthYear, "`YYYY` from a year or a full date.", normalizeBirthYear},
	{RuleBirthMonth, "`MM` (01 to 12) from a month number or a full date.", normalizeBirthMonth},
	{RuleBirthDay, "`DD` (01 to 31) from a day number or a full date.", normalizeBirthDay},
	{RuleExternalID, "Trimmed, otherwise unchanged (case matters).", normalizeExternalID},
	{RuleMADID, "Mobile advertising id (IDFA or Google advertising id): a UUID, lowercased.", normalizeMADID},
}

// Rules returns every rule, in a stable order.
func Rules() []Rule { return slices.Clone(rules) }

// LookupRule returns the rule named name.
func LookupRule(name string) (Rule, bool) {
	for _, r := range rules {
		if r.Name == name {
			return r, true
		}
	}
	return Rule{}, false
}

// Normalize applies the rule named rule to value. An unknown rule is an error (a platform
// declaration bug, reported rather than sending an unnormalised value).
func Normalize(rule, value string, opts Options) (string, error) {
	r, ok := LookupRule(rule)
	if !ok {
		return "", fmt.Errorf("pii: unknown normalisation rule %q", rule)
	}
	return r.Normalize(value, opts)
}

// SHA256Hex returns the SHA-256 digest of s as lowercase hex, the form every platform that
// takes hashed identifiers accepts.
func SHA256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// IsSHA256Hex reports whether v, lowercased, is 64 hexadecimal characters: a value that was
// already hashed (in the warehouse, or by the source system).
func IsSHA256Hex(v string) bool {
	if len(v) != 64 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

// HashNormalized returns the SHA-256 hex of raw normalised by the rule named kind. A raw
// value that is already a SHA-256 hex digest (surrounding white space ignored) passes through
// unchanged apart from lowercasing, so warehouses that hash identifiers themselves can feed
// platforms directly.
func HashNormalized(kind, raw string, opts Options) (string, error) {
	v := strings.TrimSpace(raw)
	if IsSHA256Hex(v) {
		return strings.ToLower(v), nil
	}
	n, err := Normalize(kind, v, opts)
	if err != nil {
		return "", err
	}
	return SHA256Hex(n), nil
}

// ValueString renders a record value (the JSON-ready types of destination.Record: string,
// numbers, bool, time.Time) as the text the rules read. Integral floats lose their ".0" (a
// phone number read as a number stays digits); times become RFC 3339 in UTC, which the date
// rules read as a date. It reports false for nil and for values that have no text form (maps,
// lists).
func ValueString(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case []byte:
		return string(x), true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	case int:
		return strconv.Itoa(x), true
	case int8, int16, int32, int64:
		return fmt.Sprintf("%d", x), true
	case uint, uint8, uint16, uint32, uint64:
		return fmt.Sprintf("%d", x), true
	case float32:
		return formatFloat(float64(x)), true
	case float64:
		return formatFloat(x), true
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), true
	case *time.Time:
		if x == nil {
			return "", false
		}
		return x.UTC().Format(time.RFC3339Nano), true
	case fmt.Stringer:
		return x.String(), true
	}
	return "", false
}

func formatFloat(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e18 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
