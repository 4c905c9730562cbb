// Package schedule decides when an activation (or a model refresh) runs by itself. A Schedule
// is a small JSON-serialisable value, written by users through the provider, stored by the
// catalog and evaluated by the runner. Every computation happens in UTC, so there is no
// daylight-saving ambiguity: a day is always 24 hours and 07:00 means 07:00 UTC.
//
// Types and their JSON (the catalog stores exactly this):
//
//	{"type": "manual"}
//	    never due by itself; runs only when triggered. The zero Schedule is manual.
//	{"type": "interval", "every": "15m"}
//	    every 15 minutes, counted from the activation's previous due time (see NextAfterMissed).
//	{"type": "interval", "every": "6h", "at": "01:30"}
//	    anchored: runs fall on 01:30 UTC + k*6h, that is 01:30, 07:30, 13:30 and 19:30 UTC.
//	    Precisely, the occurrences are 1970-01-01 at + k*every for every integer k, so an
//	    anchored interval must divide a day (15m, 6h, 8h...) or be whole days (1d, 2d...).
//	{"type": "recurrence", "rules": [{"days": ["mon", "wed"], "times": ["09:00"]},
//	                                 {"days": ["sat", "sun"], "times": ["20:00"]}]}
//	    every listed day of the week at every listed UTC time of day; rules combine (union).
//	{"type": "cron", "cron": "*/15 * * * *"}
//	    a standard 5-field cron expression evaluated in UTC; allowed only when the workspace
//	    enables cron (see Validate). The dialect is described on the Cron field.
//
// "every" is a number and a unit: m (minutes), h (hours), d (days), combinable in that order
// ("1h30m", "1d12h"); it is at least 1m, at most 365d, and a whole number of minutes. For
// compatibility with catalogs written before this package, a JSON number in "every" is read
// as nanoseconds (the encoding of a Go time.Duration).
//
// The scheduler's contract, which guarantees that a missed schedule leads to exactly one
// catch-up run: a newly scheduled activation gets next = FirstDue(now); whenever
// next <= now, the scheduler starts one run and sets next = NextAfterMissed(next, now), which
// is always strictly after now. However many occurrences passed while the runner was down,
// they collapse into that single run.
package schedule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Schedule types, as users write them and the catalog stores them.
const (
	TypeManual     = "manual"
	TypeInterval   = "interval"
	TypeRecurrence = "recurrence"
	TypeCron       = "cron"
)

// Types lists the schedule types in the order documentation shows them.
var Types = []string{TypeManual, TypeInterval, TypeRecurrence, TypeCron}

// Bounds of an interval schedule's period.
const (
	MinEvery = time.Minute
	MaxEvery = 365 * 24 * time.Hour
)

// ErrCronDisabled is wrapped by the error Validate returns for a cron schedule in a workspace
// that has not enabled cron, so callers can tell a policy refusal from a syntax error.
var ErrCronDisabled = errors.New("cron schedules are disabled")

// Schedule says when something runs by itself. Only the fields of its Type may be set.
type Schedule struct {
	// Type is manual, interval, recurrence or cron. Empty means manual.
	Type string `json:"type"`
	// Every is the period of an interval schedule: "15m", "4h", "1d", "1h30m".
	Every string `json:"every,omitempty"`
	// At optionally anchors an interval schedule at a UTC time of day ("HH:MM").
	At string `json:"at,omitempty"`
	// Rules are the day-of-week × time-of-day sets of a recurrence schedule.
	Rules []Rule `json:"rules,omitempty"`
	// Cron is the expression of a cron schedule: five fields separated by spaces, minute
	// (0-59), hour (0-23), day of month (1-31), month (1-12 or jan-dec) and day of week (0-7
	// or sun-sat, 0 and 7 both Sunday), evaluated in UTC. Each field is a comma-separated list
	// of "*", "N", "N-M", each optionally followed by "/STEP"; "N/STEP" means N to the field's
	// maximum. Names are case-insensitive and may appear in ranges (mon-fri). As in Vixie cron,
	// when both day of month and day of week are restricted (neither field starts with "*"),
	// a day matches if either matches; otherwise both must. The macros @yearly (@annually),
	// @monthly, @weekly, @daily (@midnight) and @hourly are accepted.
	Cron string `json:"cron,omitempty"`
}

// Rule is one recurrence rule: every listed day at every listed time.
type Rule struct {
	// Days are days of the week: mon, tue, wed, thu, fri, sat, sun (case-insensitive).
	Days []string `json:"days"`
	// Times are UTC times of day, "HH:MM" (00:00 to 23:59).
	Times []string `json:"times"`
}

// UnmarshalJSON reads a schedule, accepting a legacy numeric "every" (nanoseconds, as a Go
// time.Duration encodes) and converting it to the string form. Unknown fields are ignored
// here so a catalog can read rows written by a newer version; Parse is strict.
func (s *Schedule) UnmarshalJSON(b []byte) error {
	type plain Schedule
	var raw struct {
		plain
		Every json.RawMessage `json:"every,omitempty"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*s = Schedule(raw.plain)
	s.Every = ""
	every := bytes.TrimSpace(raw.Every)
	switch {
	case len(every) == 0 || string(every) == "null":
	case every[0] == '"':
		if err := json.Unmarshal(every, &s.Every); err != nil {
			return fmt.Errorf("schedule.every: %w", err)
		}
	default:
		n, err := strconv.ParseInt(string(every), 10, 64)
		if err != nil {
			return fmt.Errorf("schedule.every: %s is neither a duration string nor a whole number of nanoseconds", every)
		}
		s.Every = FormatEvery(time.Duration(n))
	}
	return nil
}

// Parse decodes a schedule from JSON strictly (unknown fields are errors) and checks its
// structure with cron allowed: whether the workspace allows cron is Validate's business.
func Parse(data []byte) (Schedule, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return Schedule{}, fmt.Errorf("parse schedule: %w", err)
	}
	for name := range fields {
		switch name {
		case "type", "every", "at", "rules", "cron":
		default:
			return Schedule{}, fmt.Errorf("parse schedule: unknown field %q: a schedule has type, every, at, rules and cron", name)
		}
	}
	var s Schedule
	if err := json.Unmarshal(data, &s); err != nil {
		return Schedule{}, fmt.Errorf("parse schedule: %w", err)
	}
	if err := Validate(s, true); err != nil {
		return Schedule{}, err
	}
	return s, nil
}

// Equal reports whether two schedules are the same declaration (field by field, as written).
func (s Schedule) Equal(o Schedule) bool {
	if normType(s.Type) != normType(o.Type) || s.Every != o.Every || s.At != o.At || s.Cron != o.Cron || len(s.Rules) != len(o.Rules) {
		return false
	}
	for i := range s.Rules {
		if !slices.Equal(s.Rules[i].Days, o.Rules[i].Days) || !slices.Equal(s.Rules[i].Times, o.Rules[i].Times) {
			return false
		}
	}
	return true
}

// IsManual reports whether the schedule never makes anything due by itself.
func (s Schedule) IsManual() bool { return normType(s.Type) == TypeManual }

func normType(t string) string {
	if t == "" {
		return TypeManual
	}
	return t
}

// FieldError is one problem with one field of a schedule. Path locates the field for
// callers that map it to their own paths (the provider's attribute paths): strings are
// attribute names and ints list indexes, e.g. {"rules", 1, "times", 0}.
type FieldError struct {
	Path    []any
	Problem string
	// Err is a sentinel the problem wraps (ErrCronDisabled), or nil.
	Err error
}

// Field renders the path as users read it: "schedule.rules[1].times[0]".
func (e *FieldError) Field() string {
	var b strings.Builder
	b.WriteString("schedule")
	for _, p := range e.Path {
		switch v := p.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", v)
		default:
			fmt.Fprintf(&b, ".%v", v)
		}
	}
	return b.String()
}

func (e *FieldError) Error() string { return e.Field() + ": " + e.Problem }

func (e *FieldError) Unwrap() error { return e.Err }

// Problems returns every FieldError in err (a single one, or all those Validate joined), in
// order, so the provider can attach each to its attribute.
func Problems(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if fe, ok := e.(*FieldError); ok { //nolint:errorlint // walking the tree by hand to collect every FieldError, not just the first
			out = append(out, fe)
			return
		}
		switch u := e.(type) { //nolint:errorlint // same walk
		case interface{ Unwrap() []error }:
			for _, c := range u.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// Validate checks a schedule and returns every problem found, joined, each a *FieldError
// naming its field (see Problems). cronEnabled is the workspace's cron_enabled setting; a
// cron schedule in a workspace without it is refused with an error wrapping ErrCronDisabled.
func Validate(s Schedule, cronEnabled bool) error {
	return ValidateFor(s, "", cronEnabled)
}

// ValidateFor is Validate with the workspace's name, which the cron refusal then names.
func ValidateFor(s Schedule, workspace string, cronEnabled bool) error {
	_, errs := compile(s)
	if normType(s.Type) == TypeCron && !cronEnabled {
		where := "this workspace"
		if workspace != "" {
			where = fmt.Sprintf("workspace %q", workspace)
		}
		errs = append([]error{&FieldError{
			Path:    []any{"type"},
			Problem: fmt.Sprintf("cron schedules are disabled in %s: set cron_enabled = true on dinmo_workspace", where),
			Err:     ErrCronDisabled,
		}}, errs...)
	}
	return errors.Join(errs...)
}

// Next returns the first due time strictly after after, in UTC, and true; false for a manual
// schedule or one that does not validate (validate before storing). An unanchored interval
// is counted from after itself (after + every); use NextAfterMissed to keep its phase.
func (s Schedule) Next(after time.Time) (time.Time, bool) {
	p, errs := compile(s)
	if len(errs) > 0 || p == nil {
		return time.Time{}, false
	}
	return p.next(after.UTC())
}

// NextAfterMissed returns the due time that follows a run started because prevDue was
// reached, seen at now: the first occurrence strictly after now, so that however many
// occurrences were missed while the runner was down, exactly one catch-up run happens. For
// an unanchored interval the occurrences are prevDue + k*every (the phase is kept, so runs do
// not drift by the scheduler's polling delay); for every other type it is Next(now). A zero
// prevDue means there is no phase to keep: Next(now).
func (s Schedule) NextAfterMissed(prevDue, now time.Time) (time.Time, bool) {
	p, errs := compile(s)
	if len(errs) > 0 || p == nil {
		return time.Time{}, false
	}
	if iv, ok := p.(*interval); ok && !iv.anchored && !prevDue.IsZero() {
		return iv.onGrid(prevDue.UTC(), now.UTC()), true
	}
	return p.next(now.UTC())
}

// FirstDue is when a newly scheduled (created, enabled or re-scheduled) activation is first
// due: at once (now) for an unanchored interval, so a new activation syncs right away and
// then every period; the next occurrence after now for anchored intervals, recurrences and
// cron, which promise specific times; false for manual schedules.
func (s Schedule) FirstDue(now time.Time) (time.Time, bool) {
	p, errs := compile(s)
	if len(errs) > 0 || p == nil {
		return time.Time{}, false
	}
	if iv, ok := p.(*interval); ok && !iv.anchored {
		return now.UTC(), true
	}
	return p.next(now.UTC())
}

// Describe renders the schedule for CLI output: "manual", "every 15m", "every 6h at 01:30
// UTC", "Mon, Wed at 09:00 UTC; Sat, Sun at 20:00 UTC", "cron */15 * * * * (UTC)". A schedule
// that does not validate is described as written, prefixed with "invalid".
func (s Schedule) Describe() string {
	p, errs := compile(s)
	if len(errs) > 0 {
		return fmt.Sprintf("invalid %s schedule", normType(s.Type))
	}
	if p == nil {
		return "manual"
	}
	return p.describe()
}

// plan is a compiled schedule.
type plan interface {
	// next returns the first occurrence strictly after after (given in UTC).
	next(after time.Time) (time.Time, bool)
	describe() string
}

// compile checks s and builds its plan (nil for manual). It returns every problem found.
func compile(s Schedule) (plan, []error) {
	var errs []error
	fail := func(problem string, path ...any) {
		errs = append(errs, &FieldError{Path: path, Problem: problem})
	}
	typ := normType(s.Type)
	notFor := func(field string, set bool) {
		if set {
			fail(fmt.Sprintf("%s schedules do not take %s: remove it", typ, field), field)
		}
	}
	switch typ {
	case TypeManual:
		notFor("every", s.Every != "")
		notFor("at", s.At != "")
		notFor("rules", len(s.Rules) > 0)
		notFor("cron", s.Cron != "")
		return nil, errs
	case TypeInterval:
		notFor("rules", len(s.Rules) > 0)
		notFor("cron", s.Cron != "")
		iv := &interval{}
		okEvery := false
		if s.Every == "" {
			fail(`missing: an interval schedule needs every, such as "15m", "4h" or "1d"`, "every")
		} else if d, err := ParseEvery(s.Every); err != nil {
			fail(err.Error(), "every")
		} else {
			iv.every, okEvery = d, true
		}
		if s.At != "" {
			m, err := parseTimeOfDay(s.At)
			if err != nil {
				fail(err.Error(), "at")
			} else {
				iv.anchored, iv.at = true, m
				day := 24 * time.Hour
				if okEvery && day%iv.every != 0 && iv.every%day != 0 {
					fail(fmt.Sprintf("an anchored interval must divide a day (such as 15m, 6h or 8h) or be whole days (1d, 2d); %q is neither: remove at or change every", s.Every), "at")
				}
			}
		}
		if len(errs) > 0 {
			return nil, errs
		}
		return iv, nil
	case TypeRecurrence:
		notFor("every", s.Every != "")
		notFor("at", s.At != "")
		notFor("cron", s.Cron != "")
		rec := &recurrence{}
		if len(s.Rules) == 0 {
			fail("missing: a recurrence schedule needs at least one rule of days and times", "rules")
		}
		for i, r := range s.Rules {
			cr, rerrs := compileRule(i, r)
			errs = append(errs, rerrs...)
			rec.rules = append(rec.rules, cr)
		}
		if len(errs) > 0 {
			return nil, errs
		}
		return rec, nil
	case TypeCron:
		notFor("every", s.Every != "")
		notFor("at", s.At != "")
		notFor("rules", len(s.Rules) > 0)
		if strings.TrimSpace(s.Cron) == "" {
			fail(`missing: a cron schedule needs an expression, such as "*/15 * * * *"`, "cron")
			return nil, errs
		}
		c, err := parseCron(s.Cron)
		if err != nil {
			fail(err.Error(), "cron")
		}
		if len(errs) > 0 {
			return nil, errs
		}
		return c, nil
	default:
		fail(fmt.Sprintf("%q is not a schedule type: use manual, interval, recurrence or cron", s.Type), "type")
		return nil, errs
	}
}

var dayPrefix = regexp.MustCompile(`^([0-9]+)d(.*)$`)

// ParseEvery reads an interval period: a number and a unit (m, h, d), combinable in that
// order ("1h30m", "1d12h"), at least MinEvery, at most MaxEvery, a whole number of minutes.
// Go duration syntax is accepted after the days ("90m", "1.5h").
func ParseEvery(s string) (time.Duration, error) {
	bad := fmt.Errorf(`%q is not a duration: use a number and a unit (m, h, d), such as "15m", "4h", "1h30m" or "1d"`, s)
	tooLong := fmt.Errorf("%q is longer than the maximum of %s", s, FormatEvery(MaxEvery))
	var days int64
	rest, hasDays := s, false
	if m := dayPrefix.FindStringSubmatch(s); m != nil {
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return 0, tooLong // only digits: the number is too large
		}
		days, rest, hasDays = n, m[2], true
	}
	var d time.Duration
	if rest != "" || !hasDays {
		var err error
		if d, err = time.ParseDuration(rest); err != nil || strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "+") {
			return 0, bad
		}
	}
	if days > int64(MaxEvery/(24*time.Hour)) || d > MaxEvery {
		return 0, tooLong
	}
	d += time.Duration(days) * 24 * time.Hour
	switch {
	case d < MinEvery:
		return 0, fmt.Errorf("%q is shorter than the minimum of %s", s, FormatEvery(MinEvery))
	case d > MaxEvery:
		return 0, fmt.Errorf("%q is longer than the maximum of %s", s, FormatEvery(MaxEvery))
	case d%time.Minute != 0:
		return 0, fmt.Errorf("%q is not a whole number of minutes", s)
	}
	return d, nil
}

// FormatEvery writes a period the way ParseEvery reads it, shortest first: "15m", "6h",
// "1h30m", "1d", "1d12h". Durations that are not whole minutes use Go syntax.
func FormatEvery(d time.Duration) string {
	if d <= 0 || d%time.Minute != 0 {
		return d.String()
	}
	var b strings.Builder
	if days := d / (24 * time.Hour); days > 0 {
		fmt.Fprintf(&b, "%dd", days)
	}
	if h := d % (24 * time.Hour) / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%dh", h)
	}
	if m := d % time.Hour / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	return b.String()
}

var timeOfDay = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)

// parseTimeOfDay reads "HH:MM" as minutes after midnight.
func parseTimeOfDay(s string) (int, error) {
	m := timeOfDay.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a UTC time of day: use HH:MM from 00:00 to 23:59", s)
	}
	h, _ := strconv.Atoi(m[1])
	mm, _ := strconv.Atoi(m[2])
	return h*60 + mm, nil
}

func formatTimeOfDay(minutes int) string {
	return fmt.Sprintf("%02d:%02d", minutes/60, minutes%60)
}

// interval is a compiled interval schedule.
type interval struct {
	every    time.Duration
	anchored bool
	at       int // minutes after midnight UTC, when anchored
}

func (iv *interval) next(after time.Time) (time.Time, bool) {
	if !iv.anchored {
		return after.Add(iv.every), true
	}
	// Occurrences are ref + k*every seconds, ref = 1970-01-01 at. Every occurrence is a whole
	// second, so o > after exactly when o > floor(after) in seconds; time.Unix floors.
	ref := int64(iv.at) * 60
	e := int64(iv.every / time.Second)
	k := floorDiv(after.Unix()-ref, e) + 1
	return time.Unix(ref+k*e, 0).UTC(), true
}

// onGrid returns the first prev + k*every (k any integer) strictly after now.
func (iv *interval) onGrid(prev, now time.Time) time.Time {
	diff := now.Sub(prev)
	if diff == time.Duration(1<<63-1) || diff == time.Duration(-1<<63) {
		return now.Add(iv.every) // more than 292 years apart: no meaningful phase
	}
	k := floorDiv(int64(diff), int64(iv.every)) + 1
	return prev.Add(time.Duration(k) * iv.every)
}

func (iv *interval) describe() string {
	if iv.anchored {
		return fmt.Sprintf("every %s at %s UTC", FormatEvery(iv.every), formatTimeOfDay(iv.at))
	}
	return "every " + FormatEvery(iv.every)
}

// floorDiv is a/b rounded towards negative infinity (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// weekOrder lists weekdays Monday first, for descriptions.
var weekOrder = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}

// rule is a compiled recurrence rule.
type rule struct {
	days  [7]bool
	times []int // minutes after midnight, sorted, unique
}

func compileRule(i int, r Rule) (rule, []error) {
	var out rule
	var errs []error
	fail := func(problem string, path ...any) {
		errs = append(errs, &FieldError{Path: append([]any{"rules", i}, path...), Problem: problem})
	}
	if len(r.Days) == 0 {
		fail("missing: list at least one day of the week (mon, tue, wed, thu, fri, sat, sun)", "days")
	}
	for j, d := range r.Days {
		wd := slices.Index(dayNames, strings.ToLower(d))
		switch {
		case wd < 0:
			fail(fmt.Sprintf("%q is not a day of the week: use mon, tue, wed, thu, fri, sat or sun", d), "days", j)
		case out.days[wd]:
			fail(fmt.Sprintf("%q is listed twice", d), "days", j)
		default:
			out.days[wd] = true
		}
	}
	if len(r.Times) == 0 {
		fail(`missing: list at least one UTC time of day, such as "09:00"`, "times")
	}
	for j, t := range r.Times {
		m, err := parseTimeOfDay(t)
		switch {
		case err != nil:
			fail(err.Error(), "times", j)
		case slices.Contains(out.times, m):
			fail(fmt.Sprintf("%q is listed twice", t), "times", j)
		default:
			out.times = append(out.times, m)
		}
	}
	slices.Sort(out.times)
	return out, errs
}

// recurrence is a compiled recurrence schedule.
type recurrence struct {
	rules []rule
}

func (rec *recurrence) next(after time.Time) (time.Time, bool) {
	day := time.Date(after.Year(), after.Month(), after.Day(), 0, 0, 0, 0, time.UTC)
	// Every rule has at least one day, so an occurrence lies within the next 8 days.
	for i := 0; i <= 7; i++ {
		d := day.AddDate(0, 0, i)
		var best time.Time
		for _, r := range rec.rules {
			if !r.days[d.Weekday()] {
				continue
			}
			for _, m := range r.times {
				c := d.Add(time.Duration(m) * time.Minute)
				if c.After(after) {
					if best.IsZero() || c.Before(best) {
						best = c
					}
					break
				}
			}
		}
		if !best.IsZero() {
			return best, true
		}
	}
	return time.Time{}, false
}

func (rec *recurrence) describe() string {
	parts := make([]string, 0, len(rec.rules))
	for _, r := range rec.rules {
		var days []string
		for _, wd := range weekOrder {
			if r.days[wd] {
				name := dayNames[wd]
				days = append(days, strings.ToUpper(name[:1])+name[1:])
			}
		}
		when := strings.Join(days, ", ")
		if len(days) == 7 {
			when = "every day"
		}
		times := make([]string, len(r.times))
		for i, m := range r.times {
			times[i] = formatTimeOfDay(m)
		}
		parts = append(parts, fmt.Sprintf("%s at %s UTC", when, strings.Join(times, ", ")))
	}
	return strings.Join(parts, "; ")
}
