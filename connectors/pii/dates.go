package pii

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// now is the clock of the date rules (a variable so tests can pin it).
var now = time.Now

// ParseDate reads a calendar date from "YYYY-MM-DD", "YYYY/MM/DD", "YYYYMMDD" or a timestamp
// starting with "YYYY-MM-DD" followed by "T" or a space (RFC 3339, SQL timestamps: the date
// as written is kept, whatever the time zone). Dates before 1800 or in the future are invalid
// for a date of birth.
func ParseDate(raw string) (time.Time, error) {
	return parseDate(RuleDateOfBirth, raw)
}

func parseDate(rule, raw string) (time.Time, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return time.Time{}, empty(rule)
	}
	var datePart string
	switch {
	case len(s) == 8 && digitsOnly(s) == s:
		datePart = s[:4] + "-" + s[4:6] + "-" + s[6:]
	case len(s) >= 10 && (s[4] == '-' || s[4] == '/') && s[7] == s[4]:
		if len(s) > 10 && s[10] != 'T' && s[10] != 't' && s[10] != ' ' {
			return time.Time{}, invalid(rule, "want a date as YYYY-MM-DD, YYYY/MM/DD, YYYYMMDD or an ISO timestamp")
		}
		datePart = strings.ReplaceAll(s[:10], "/", "-")
	default:
		return time.Time{}, invalid(rule, "want a date as YYYY-MM-DD, YYYY/MM/DD, YYYYMMDD or an ISO timestamp")
	}
	t, err := time.Parse("2006-01-02", datePart)
	if err != nil {
		return time.Time{}, invalid(rule, "not a calendar date (want YYYY-MM-DD with a valid month and day)")
	}
	if t.Year() < 1800 {
		return time.Time{}, invalid(rule, "the year is before 1800")
	}
	if t.After(now().UTC()) {
		return time.Time{}, invalid(rule, "the date is in the future")
	}
	return t, nil
}

func normalizeDateOfBirth(v string, _ Options) (string, error) {
	t, err := parseDate(RuleDateOfBirth, v)
	if err != nil {
		return "", err
	}
	return t.Format("20060102"), nil
}

func normalizeBirthYear(v string, _ Options) (string, error) {
	if len(v) == 4 && digitsOnly(v) == v {
		y, _ := strconv.Atoi(v)
		if y < 1800 || y > now().UTC().Year() {
			return "", invalid(RuleBirthYear, "the year must be between 1800 and the current year")
		}
		return v, nil
	}
	t, err := parseDate(RuleBirthYear, v)
	if err != nil {
		return "", invalid(RuleBirthYear, "want a four-digit year (YYYY) or a full date")
	}
	return t.Format("2006"), nil
}

func normalizeBirthMonth(v string, _ Options) (string, error) {
	return datePartRule(RuleBirthMonth, v, 12, "01")
}

func normalizeBirthDay(v string, _ Options) (string, error) {
	return datePartRule(RuleBirthDay, v, 31, "02")
}

// datePartRule reads a month or day: one or two digits in 1..limit, or a full date from
// which the part is taken (layout "01" for the month, "02" for the day).
func datePartRule(rule, v string, limit int, layout string) (string, error) {
	if len(v) <= 2 && digitsOnly(v) == v {
		n, _ := strconv.Atoi(v)
		if n < 1 || n > limit {
			return "", invalid(rule, "want a number from 1 to %d", limit)
		}
		return fmt.Sprintf("%02d", n), nil
	}
	t, err := parseDate(rule, v)
	if err != nil {
		return "", invalid(rule, "want a number from 1 to %d or a full date", limit)
	}
	return t.Format(layout), nil
}
