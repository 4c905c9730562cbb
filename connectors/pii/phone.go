package pii

import (
	"errors"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// NormalizePhone parses a phone number and returns it in E.164 ("+33612345678"). Separators,
// parentheses, a "00" international prefix and national trunk prefixes are handled by
// libphonenumber's rules (github.com/nyaruka/phonenumbers), and the number must be valid for
// its country. defaultRegion (ISO 3166-1 alpha-2, e.g. "FR") is the country of numbers
// written without a country code; when it is empty such numbers are read as international:
// their digits must start with the country code ("33612345678").
func NormalizePhone(raw, defaultRegion string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", empty(RulePhone)
	}
	region := strings.ToUpper(strings.TrimSpace(defaultRegion))
	if region != "" && !IsPhoneRegion(region) {
		return "", invalid(RulePhone, "the default region %q is not a known ISO 3166-1 alpha-2 country code", defaultRegion)
	}
	if region == "" && !strings.HasPrefix(s, "+") {
		// No country to assume: the digits must carry the country code, as Meta's and
		// TikTok's guides require. "00" is the international call prefix in most countries.
		digits := digitsOnly(s)
		if digits == "" {
			return "", invalid(RulePhone, "a phone number must contain digits")
		}
		digits = strings.TrimPrefix(digits, "00")
		if strings.HasPrefix(digits, "0") {
			return "", invalid(RulePhone, "the number has no country code (it starts with a trunk prefix 0); write it with +<country code> or set a default region")
		}
		s = "+" + digits
	}
	num, err := phonenumbers.Parse(s, region)
	if err != nil {
		switch {
		case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
			return "", invalid(RulePhone, "the country code is missing or unknown; write the number with +<country code> or set a default region")
		case errors.Is(err, phonenumbers.ErrNotANumber):
			return "", invalid(RulePhone, "the value is not a phone number")
		default:
			return "", invalid(RulePhone, "the number cannot be parsed (%v)", err)
		}
	}
	if !phonenumbers.IsValidNumber(num) {
		return "", invalid(RulePhone, "the number is not a valid phone number for its country (wrong length or prefix)")
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// IsPhoneRegion reports whether region is an ISO 3166-1 alpha-2 code (any case) whose
// numbering plan libphonenumber knows, i.e. a usable default region for NormalizePhone.
func IsPhoneRegion(region string) bool {
	return phonenumbers.GetCountryCodeForRegion(strings.ToUpper(strings.TrimSpace(region))) != 0
}

// PhoneDigits returns an E.164 number without its "+": the country code and national number
// as digits only ("33612345678"), the form Meta, Pinterest, Snap and TikTok hash.
func PhoneDigits(e164 string) string {
	return strings.TrimPrefix(strings.TrimSpace(e164), "+")
}

func normalizePhoneRule(v string, opts Options) (string, error) {
	e164, err := NormalizePhone(v, opts.DefaultRegion)
	if err != nil {
		return "", err
	}
	if opts.PhoneFormat == PhoneFormatDigits {
		return PhoneDigits(e164), nil
	}
	return e164, nil
}

func digitsOnly(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
