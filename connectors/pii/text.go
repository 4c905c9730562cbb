package pii

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// NormalizeName normalises a first or last name: Unicode NFC (so "é" typed as "e" plus an
// accent hashes like the precomposed letter), lowercased, keeping letters and combining marks
// only: spaces, punctuation, digits and symbols are removed ("Mary-Ann O'Neil 2" →
// "maryannoneil"). Non-Latin scripts are kept, as Meta and Google ask for UTF-8 names.
func NormalizeName(raw string) (string, error) {
	return lettersOnly(RuleFirstName, raw)
}

// NormalizeCity normalises a city name: lowercased letters only, no spaces, punctuation or
// digits ("Saint-Étienne" → "saintétienne", "New York" → "newyork").
func NormalizeCity(raw string) (string, error) {
	return lettersOnly(RuleCity, raw)
}

func lettersOnly(rule, raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", empty(rule)
	}
	s = norm.NFC.String(strings.ToLower(s))
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsMark(r) {
			b.WriteRune(r)
		}
	}
	out := norm.NFC.String(b.String())
	if out == "" {
		return "", invalid(rule, "the value contains no letters")
	}
	return out, nil
}

func normalizeNameRule(rule string) func(string, Options) (string, error) {
	return func(v string, _ Options) (string, error) { return lettersOnly(rule, v) }
}

func normalizeFirstInitial(v string, _ Options) (string, error) {
	n, err := lettersOnly(RuleFirstInitial, v)
	if err != nil {
		return "", err
	}
	// The first letter with the marks that combine with it.
	first := []rune(n)
	end := 1
	for end < len(first) && unicode.IsMark(first[end]) {
		end++
	}
	return string(first[:end]), nil
}

func normalizeCity(v string, _ Options) (string, error) { return NormalizeCity(v) }

// NormalizeState normalises a state or province: lowercased letters only; United States
// state and territory names become their two-letter USPS code ("New York" → "ny", "CA" →
// "ca"). Other countries' regions are kept as letters ("Île-de-France" → "îledefrance").
func NormalizeState(raw string) (string, error) {
	s, err := lettersOnly(RuleState, raw)
	if err != nil {
		return "", err
	}
	if code, ok := usStates[s]; ok {
		return code, nil
	}
	return s, nil
}

func normalizeState(v string, _ Options) (string, error) { return NormalizeState(v) }

// NormalizeZip normalises a postal code: lowercased, white space removed; a United States
// ZIP+4 ("94103-1234" or "941031234") keeps its first five digits. Only letters, digits and
// hyphens may remain.
func NormalizeZip(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", empty(RuleZip)
	}
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case unicode.IsSpace(r):
		case r == '-' || (r >= '0' && r <= '9') || unicode.IsLetter(r):
			b.WriteRune(r)
		default:
			return "", invalid(RuleZip, "a postal code may contain only letters, digits, spaces and hyphens")
		}
	}
	z := b.String()
	if isUSZip4(z) {
		return z[:5], nil
	}
	if strings.Trim(z, "-") == "" {
		return "", invalid(RuleZip, "the value contains no letters or digits")
	}
	return z, nil
}

// isUSZip4 matches 12345-6789 and 123456789.
func isUSZip4(z string) bool {
	d := strings.Replace(z, "-", "", 1)
	if len(d) != 9 || (len(z) == 10 && z[5] != '-') {
		return false
	}
	return digitsOnly(d) == d
}

func normalizeZip(v string, _ Options) (string, error) { return NormalizeZip(v) }

// NormalizeGender returns "m" or "f" from m, male, man, masculine (and French homme,
// masculin) or f, female, woman, feminine (and femme, féminin), any case. Anything else is
// invalid: platforms accept only these two values.
func NormalizeGender(raw string) (string, error) {
	s := strings.ToLower(strings.TrimSpace(raw))
	if s == "" {
		return "", empty(RuleGender)
	}
	switch s {
	case "m", "male", "man", "masculine", "homme", "masculin":
		return "m", nil
	case "f", "female", "woman", "feminine", "femme", "féminin", "feminin":
		return "f", nil
	}
	return "", invalid(RuleGender, "want m, male, f or female")
}

func normalizeGender(v string, _ Options) (string, error) { return NormalizeGender(v) }

func normalizeExternalID(v string, _ Options) (string, error) {
	s := strings.TrimSpace(v)
	if s == "" {
		return "", empty(RuleExternalID)
	}
	return s, nil
}

// NormalizeMADID normalises a mobile advertising id (Apple IDFA, Google advertising id):
// lowercased UUID in its 8-4-4-4-12 form. The all-zero id that devices report when the user
// limited ad tracking identifies nobody and is invalid.
func NormalizeMADID(raw string) (string, error) {
	s := strings.ToLower(strings.TrimSpace(raw))
	if s == "" {
		return "", empty(RuleMADID)
	}
	if len(s) != 36 {
		return "", invalid(RuleMADID, "a mobile advertising id must be a UUID such as 6d92078a-8246-4ba4-ae5b-76104861e7dc")
	}
	zero := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", invalid(RuleMADID, "a mobile advertising id must be a UUID such as 6d92078a-8246-4ba4-ae5b-76104861e7dc")
			}
			continue
		}
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", invalid(RuleMADID, "a mobile advertising id must be a UUID such as 6d92078a-8246-4ba4-ae5b-76104861e7dc")
		}
		if c != '0' {
			zero = false
		}
	}
	if zero {
		return "", invalid(RuleMADID, "the all-zero advertising id (ad tracking limited) identifies nobody")
	}
	return s, nil
}

func normalizeMADID(v string, _ Options) (string, error) { return NormalizeMADID(v) }

// usStates maps United States state, district and territory names (letters only, lowercase)
// to their two-letter USPS code. Codes themselves need no entry: they pass through.
var usStates = map[string]string{
	"alabama": "al", "alaska": "ak", "arizona": "az", "arkansas": "ar", "california": "ca",
	"colorado": "co", "connecticut": "ct", "delaware": "de", "districtofcolumbia": "dc",
	"florida": "fl", "georgia": "ga", "hawaii": "hi", "idaho": "id", "illinois": "il",
	"indiana": "in", "iowa": "ia", "kansas": "ks", "kentucky": "ky", "louisiana": "la",
	"maine": "me", "maryland": "md", "massachusetts": "ma", "michigan": "mi", "minnesota": "mn",
	"mississippi": "ms", "missouri": "mo", "montana": "mt", "nebraska": "ne", "nevada": "nv",
	"newhampshire": "nh", "newjersey": "nj", "newmexico": "nm", "newyork": "ny",
	"northcarolina": "nc", "northdakota": "nd", "ohio": "oh", "oklahoma": "ok", "oregon": "or",
	"pennsylvania": "pa", "rhodeisland": "ri", "southcarolina": "sc", "southdakota": "sd",
	"tennessee": "tn", "texas": "tx", "utah": "ut", "vermont": "vt", "virginia": "va",
	"washington": "wa", "westvirginia": "wv", "wisconsin": "wi", "wyoming": "wy",
	"americansamoa": "as", "guam": "gu", "northernmarianaislands": "mp", "puertorico": "pr",
	"usvirginislands": "vi", "unitedstatesvirginislands": "vi",
}
