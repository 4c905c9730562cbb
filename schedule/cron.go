package schedule

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// cronField describes one of the five fields of a cron expression.
type cronField struct {
	name     string
	min, max int
	// names maps lower-case names to values (months, days of the week).
	names map[string]int
	hint  string // what a valid value looks like, for errors
}

var cronFields = [5]cronField{
	{name: "minute", min: 0, max: 59, hint: "0-59"},
	{name: "hour", min: 0, max: 23, hint: "0-23"},
	{name: "day-of-month", min: 1, max: 31, hint: "1-31"},
	{name: "month", min: 1, max: 12, hint: "1-12 or jan-dec", names: map[string]int{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
	}},
	{name: "day-of-week", min: 0, max: 7, hint: "0-7 (0 and 7 are Sunday) or sun-sat", names: map[string]int{
		"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6,
	}},
}

var cronMacros = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

// cronExpr is a compiled cron expression: one bit per allowed value of each field.
type cronExpr struct {
	text                     string // as written, whitespace normalised
	minute, hour, dom, month uint64
	dow                      uint64 // bits 0-6, Sunday = 0
	domStar, dowStar         bool   // the field starts with "*" (Vixie's DOM_STAR/DOW_STAR)
}

// daysIn is the most days each month can have (February: 29, in leap years).
var daysIn = [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// parseCron compiles a 5-field expression or a macro.
func parseCron(expr string) (*cronExpr, error) {
	text := strings.Join(strings.Fields(expr), " ")
	body := text
	if strings.HasPrefix(text, "@") {
		m, ok := cronMacros[strings.ToLower(text)]
		if !ok {
			return nil, fmt.Errorf("%q is not a cron macro: use @yearly, @monthly, @weekly, @daily or @hourly, or 5 fields", text)
		}
		body = m
	}
	fields := strings.Fields(body)
	if len(fields) != 5 {
		return nil, fmt.Errorf("%q has %d field(s); a cron expression has 5: minute hour day-of-month month day-of-week", text, len(fields))
	}
	c := &cronExpr{text: text}
	sets := [5]*uint64{&c.minute, &c.hour, &c.dom, &c.month, &c.dow}
	for i, f := range fields {
		set, err := parseCronField(cronFields[i], f)
		if err != nil {
			return nil, err
		}
		*sets[i] = set
	}
	if c.dow&(1<<7) != 0 {
		c.dow = c.dow&^(1<<7) | 1
	}
	c.domStar = strings.HasPrefix(fields[2], "*")
	c.dowStar = strings.HasPrefix(fields[4], "*")
	if !c.satisfiable() {
		return nil, fmt.Errorf("%q never matches: no month it allows has the day(s) of month it allows", text)
	}
	return c, nil
}

// parseCronField reads one field: a comma-separated list of *, N, N-M, each with an optional
// /STEP.
func parseCronField(f cronField, text string) (uint64, error) {
	var set uint64
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s field %q: %s", f.name, text, fmt.Sprintf(format, args...))
	}
	for item := range strings.SplitSeq(text, ",") {
		if item == "" {
			return 0, fail("empty list item")
		}
		rng, stepText, hasStep := strings.Cut(item, "/")
		lo, hi := f.min, f.max
		if rng != "*" {
			a, b, isRange := strings.Cut(rng, "-")
			var err error
			if lo, err = cronValue(f, a); err != nil {
				return 0, fail("%v", err)
			}
			switch {
			case isRange:
				if hi, err = cronValue(f, b); err != nil {
					return 0, fail("%v", err)
				}
				if lo > hi {
					return 0, fail("range %s-%s starts after it ends", a, b)
				}
			case hasStep:
				hi = f.max // N/STEP: from N to the maximum
			default:
				hi = lo
			}
		}
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || !digits(stepText) || n < 1 || n > f.max {
				return 0, fail("step %q must be a whole number from 1 to %d", stepText, f.max)
			}
			step = n
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << uint(v)
		}
	}
	return set, nil
}

// cronValue reads one number or name of a field.
func cronValue(f cronField, s string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("a value is missing (%s)", f.hint)
	}
	if n, err := strconv.Atoi(s); err == nil && digits(s) {
		if n < f.min || n > f.max {
			return 0, fmt.Errorf("%d is out of range %s", n, f.hint)
		}
		return n, nil
	}
	if v, ok := f.names[strings.ToLower(s)]; ok {
		return v, nil
	}
	return 0, fmt.Errorf("%q is not a valid value (%s)", s, f.hint)
}

// digits reports whether s is only ASCII digits (strconv.Atoi also takes signs).
func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// satisfiable reports whether the expression matches at least one minute. Minutes, hours and
// days of the week always do once a field has a value; the only impossible combinations are
// days of month that no allowed month has (30 February), when the day of month has to match:
// always unless both day fields are restricted (then any allowed weekday matches). Any real
// date falls on every weekday over the years, so a date plus a weekday constraint is fine.
func (c *cronExpr) satisfiable() bool {
	if !c.domStar && !c.dowStar {
		return true
	}
	for m := 1; m <= 12; m++ {
		if c.month&(1<<uint(m)) == 0 {
			continue
		}
		if bits.TrailingZeros64(c.dom) <= daysIn[m] {
			return true
		}
	}
	return false
}

// dayMatches applies the day-of-month/day-of-week rule.
func (c *cronExpr) dayMatches(t time.Time) bool {
	dom := c.dom&(1<<uint(t.Day())) != 0
	dow := c.dow&(1<<uint(t.Weekday())) != 0
	if c.domStar || c.dowStar {
		return dom && dow
	}
	return dom || dow
}

// matches reports whether the minute starting at t (UTC) is an occurrence.
func (c *cronExpr) matches(t time.Time) bool {
	return c.minute&(1<<uint(t.Minute())) != 0 && c.hour&(1<<uint(t.Hour())) != 0 &&
		c.month&(1<<uint(t.Month())) != 0 && c.dayMatches(t)
}

// cronHorizon bounds the search: the Gregorian calendar repeats every 400 years, so an
// expression that matches at all matches within that span.
const cronHorizon = 401

func (c *cronExpr) next(after time.Time) (time.Time, bool) {
	t := after.Truncate(time.Minute).Add(time.Minute)
	limit := t.AddDate(cronHorizon, 0, 0)
	for t.Before(limit) {
		y, mo, d := t.Date()
		h, mi := t.Hour(), t.Minute()
		switch {
		case c.month&(1<<uint(mo)) == 0:
			t = time.Date(y, mo+1, 1, 0, 0, 0, 0, time.UTC)
		case !c.dayMatches(t):
			t = time.Date(y, mo, d+1, 0, 0, 0, 0, time.UTC)
		case c.hour&(1<<uint(h)) == 0:
			t = time.Date(y, mo, d, h+1, 0, 0, 0, time.UTC)
		case c.minute&(1<<uint(mi)) == 0:
			// Jump to the next allowed minute of this hour, or the next hour.
			rest := c.minute >> uint(mi+1)
			if rest == 0 {
				t = time.Date(y, mo, d, h+1, 0, 0, 0, time.UTC)
			} else {
				t = t.Add(time.Duration(bits.TrailingZeros64(rest)+1) * time.Minute)
			}
		default:
			return t, true
		}
	}
	return time.Time{}, false
}

func (c *cronExpr) describe() string { return "cron " + c.text + " (UTC)" }
