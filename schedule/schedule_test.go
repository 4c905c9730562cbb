package schedule

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the DST test needs America/New_York on machines without a zoneinfo database
)

// ts parses a UTC time written "2006-01-02T15:04" or "2006-01-02T15:04:05".
func ts(t *testing.T, s string) time.Time {
	t.Helper()
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04"} {
		if v, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return v
		}
	}
	t.Fatalf("bad test time %q", s)
	return time.Time{}
}

func ivl(every, at string) Schedule { return Schedule{Type: TypeInterval, Every: every, At: at} }
func cronS(expr string) Schedule    { return Schedule{Type: TypeCron, Cron: expr} }
func recur(rs ...Rule) Schedule     { return Schedule{Type: TypeRecurrence, Rules: rs} }
func rl(days []string, times ...string) Rule {
	return Rule{Days: days, Times: times}
}

// sequence returns the n first occurrences after start, chaining Next.
func sequence(t *testing.T, s Schedule, start time.Time, n int) []string {
	t.Helper()
	var out []string
	after := start
	for range n {
		next, ok := s.Next(after)
		if !ok {
			out = append(out, "none")
			break
		}
		if next.Location() != time.UTC {
			t.Fatalf("Next returned %v in %v, want UTC", next, next.Location())
		}
		if !next.After(after) {
			t.Fatalf("Next(%v) = %v, not strictly after", after, next)
		}
		out = append(out, next.Format("2006-01-02T15:04 Mon"))
		after = next
	}
	return out
}

func TestNext(t *testing.T) {
	tests := []struct {
		name  string
		s     Schedule
		after string
		want  []string
	}{
		{"manual is never due", Schedule{Type: TypeManual}, "2024-01-01T00:00", []string{"none"}},
		{"zero value is manual", Schedule{}, "2024-01-01T00:00", []string{"none"}},
		{"unanchored interval counts from after", ivl("15m", ""), "2024-01-01T10:07", []string{
			"2024-01-01T10:22 Mon", "2024-01-01T10:37 Mon", "2024-01-01T10:52 Mon"}},
		{"daily at 07:00", ivl("1d", "07:00"), "2024-01-01T07:00", []string{
			"2024-01-02T07:00 Tue", "2024-01-03T07:00 Wed"}},
		{"daily at 07:00 before the anchor", ivl("1d", "07:00"), "2024-01-01T06:59:59.5", []string{
			"2024-01-01T07:00 Mon"}},
		{"every 6h anchored at 01:30", ivl("6h", "01:30"), "2024-01-01T00:00", []string{
			"2024-01-01T01:30 Mon", "2024-01-01T07:30 Mon", "2024-01-01T13:30 Mon", "2024-01-01T19:30 Mon", "2024-01-02T01:30 Tue"}},
		{"every 15m anchored at 00:05", ivl("15m", "00:05"), "2024-02-29T23:51", []string{
			"2024-03-01T00:05 Fri", "2024-03-01T00:20 Fri"}},
		{"every 8h anchored at 23:00 wraps the day", ivl("8h", "23:00"), "2024-12-31T20:00", []string{
			"2024-12-31T23:00 Tue", "2025-01-01T07:00 Wed", "2025-01-01T15:00 Wed"}},
		{"every 2d anchored counts from 1970-01-01", ivl("2d", "07:00"), "2024-01-01T00:00", []string{
			// 2024-01-01 is day 19723 since 1970-01-01 (odd), so even days are the 2nd, 4th...
			"2024-01-02T07:00 Tue", "2024-01-04T07:00 Thu"}},
		{"recurrence Mon & Wed 09:00, weekends 20:00", recur(rl([]string{"mon", "wed"}, "09:00"), rl([]string{"sat", "sun"}, "20:00")),
			"2024-09-04T09:00", []string{ // a Wednesday, exactly at 09:00: strictly after
				"2024-09-07T20:00 Sat", "2024-09-08T20:00 Sun", "2024-09-09T09:00 Mon", "2024-09-11T09:00 Wed", "2024-09-14T20:00 Sat"}},
		{"recurrence several times a day, rules overlapping", recur(rl([]string{"FRI"}, "18:00", "06:30"), rl([]string{"fri"}, "12:00", "06:30")),
			"2024-09-05T23:00", []string{"2024-09-06T06:30 Fri", "2024-09-06T12:00 Fri", "2024-09-06T18:00 Fri", "2024-09-13T06:30 Fri"}},
		{"recurrence once a week from the same day after its time", recur(rl([]string{"tue"}, "08:00")),
			"2024-09-03T08:00:01", []string{"2024-09-10T08:00 Tue"}},
		{"cron every 15 minutes", cronS("*/15 * * * *"), "2024-01-01T10:07:30", []string{
			"2024-01-01T10:15 Mon", "2024-01-01T10:30 Mon", "2024-01-01T10:45 Mon", "2024-01-01T11:00 Mon"}},
		{"cron N/step runs to the maximum", cronS("5/20 * * * *"), "2024-01-01T10:45", []string{
			"2024-01-01T11:05 Mon", "2024-01-01T11:25 Mon", "2024-01-01T11:45 Mon"}},
		{"cron range with step", cronS("10-30/10 9-17/4 * * *"), "2024-01-01T09:25", []string{
			"2024-01-01T09:30 Mon", "2024-01-01T13:10 Mon", "2024-01-01T13:20 Mon", "2024-01-01T13:30 Mon", "2024-01-01T17:10 Mon"}},
		{"cron daily at 03:00", cronS("0 3 * * *"), "2024-02-28T03:00", []string{
			"2024-02-29T03:00 Thu", "2024-03-01T03:00 Fri"}},
		{"cron Mondays 09:00", cronS("0 9 * * 1"), "2024-09-04T00:00", []string{"2024-09-09T09:00 Mon", "2024-09-16T09:00 Mon"}},
		{"cron leap day", cronS("0 0 29 2 *"), "2024-03-01T00:00", []string{"2028-02-29T00:00 Tue", "2032-02-29T00:00 Sun"}},
		{"cron leap day skips 2100", cronS("0 0 29 2 *"), "2096-03-01T00:00", []string{"2104-02-29T00:00 Fri"}},
		{"cron 31st skips short months", cronS("0 0 31 * *"), "2024-01-31T00:00", []string{
			"2024-03-31T00:00 Sun", "2024-05-31T00:00 Fri", "2024-07-31T00:00 Wed", "2024-08-31T00:00 Sat"}},
		{"cron end of February", cronS("30 23 28-31 2 *"), "2023-02-28T23:30", []string{
			"2024-02-28T23:30 Wed", "2024-02-29T23:30 Thu", "2025-02-28T23:30 Fri"}},
		{"cron new year", cronS("0 0 1 1 *"), "2024-12-31T23:59:59", []string{"2025-01-01T00:00 Wed", "2026-01-01T00:00 Thu"}},
		{"cron day-of-month OR day-of-week when both restricted", cronS("0 12 13 * 5"), "2024-09-01T00:00", []string{
			"2024-09-06T12:00 Fri", "2024-09-13T12:00 Fri", "2024-09-20T12:00 Fri", "2024-09-27T12:00 Fri",
			"2024-10-04T12:00 Fri", "2024-10-11T12:00 Fri", "2024-10-13T12:00 Sun", "2024-10-18T12:00 Fri"}},
		{"cron day fields AND when one starts with a star", cronS("0 12 */2 * 5"), "2024-09-01T00:00", []string{
			"2024-09-13T12:00 Fri", "2024-09-27T12:00 Fri", "2024-10-11T12:00 Fri", "2024-10-25T12:00 Fri"}},
		{"cron only day of week", cronS("0 12 * * fri"), "2024-09-01T00:00", []string{"2024-09-06T12:00 Fri", "2024-09-13T12:00 Fri"}},
		{"cron names and ranges", cronS("0 9 * JAN,jul mon-fri"), "2024-01-31T10:00", []string{
			"2024-07-01T09:00 Mon", "2024-07-02T09:00 Tue"}},
		{"cron 7 is Sunday", cronS("0 0 * * 7"), "2024-09-01T00:00", []string{"2024-09-08T00:00 Sun", "2024-09-15T00:00 Sun"}},
		{"cron 5-7 is Friday to Sunday", cronS("0 0 * * 5-7"), "2024-09-01T00:00", []string{
			"2024-09-06T00:00 Fri", "2024-09-07T00:00 Sat", "2024-09-08T00:00 Sun", "2024-09-13T00:00 Fri"}},
		{"cron weekly macro", cronS("@weekly"), "2024-09-03T00:00", []string{"2024-09-08T00:00 Sun"}},
		{"cron hourly macro", cronS("@HOURLY"), "2024-09-03T00:00", []string{"2024-09-03T01:00 Tue"}},
		{"cron list of single values", cronS("0,30 8,20 * * *"), "2024-09-03T08:00", []string{
			"2024-09-03T08:30 Tue", "2024-09-03T20:00 Tue", "2024-09-03T20:30 Tue", "2024-09-04T08:00 Wed"}},
		{"cron 31 April or Mondays: OR keeps it satisfiable", cronS("0 0 31 4 mon"), "2024-03-31T00:00", []string{
			"2024-04-01T00:00 Mon", "2024-04-08T00:00 Mon"}},
		{"cron Sunday 29 February (every 28 years or so)", cronS("0 0 29 2 */7"), "2021-01-01T00:00", []string{
			"2032-02-29T00:00 Sun", "2060-02-29T00:00 Sun"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Validate(tt.s, true); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			got := sequence(t, tt.s, ts(t, tt.after), len(tt.want))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("occurrences after %s:\n got %q\nwant %q", tt.after, got, tt.want)
			}
		})
	}
}

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		name string
		s    Schedule
		want string // the whole error text; problems joined with newlines
	}{
		{"unknown type", Schedule{Type: "weekly"}, `schedule.type: "weekly" is not a schedule type: use manual, interval, recurrence or cron`},
		{"manual with every", Schedule{Type: TypeManual, Every: "1h", Cron: "* * * * *"},
			"schedule.every: manual schedules do not take every: remove it\nschedule.cron: manual schedules do not take cron: remove it"},
		{"interval without every", ivl("", ""), `schedule.every: missing: an interval schedule needs every, such as "15m", "4h" or "1d"`},
		{"interval every not a duration", ivl("often", ""), `schedule.every: "often" is not a duration: use a number and a unit (m, h, d), such as "15m", "4h", "1h30m" or "1d"`},
		{"interval negative", ivl("-5m", ""), `schedule.every: "-5m" is not a duration: use a number and a unit (m, h, d), such as "15m", "4h", "1h30m" or "1d"`},
		{"interval too short", ivl("30s", ""), `schedule.every: "30s" is shorter than the minimum of 1m`},
		{"interval zero days", ivl("0d", ""), `schedule.every: "0d" is shorter than the minimum of 1m`},
		{"interval not whole minutes", ivl("90s", ""), `schedule.every: "90s" is not a whole number of minutes`},
		{"interval too long", ivl("366d", ""), `schedule.every: "366d" is longer than the maximum of 365d`},
		{"interval huge day count", ivl("99999999999999999999d", ""), `schedule.every: "99999999999999999999d" is longer than the maximum of 365d`},
		{"interval bad anchor", ivl("1d", "7:00"), `schedule.at: "7:00" is not a UTC time of day: use HH:MM from 00:00 to 23:59`},
		{"interval anchor 24:00", ivl("1d", "24:00"), `schedule.at: "24:00" is not a UTC time of day: use HH:MM from 00:00 to 23:59`},
		{"interval anchor with a period that does not divide a day", ivl("7h", "01:00"),
			`schedule.at: an anchored interval must divide a day (such as 15m, 6h or 8h) or be whole days (1d, 2d); "7h" is neither: remove at or change every`},
		{"interval with rules", Schedule{Type: TypeInterval, Every: "1h", Rules: []Rule{rl([]string{"mon"}, "09:00")}},
			`schedule.rules: interval schedules do not take rules: remove it`},
		{"recurrence without rules", recur(), `schedule.rules: missing: a recurrence schedule needs at least one rule of days and times`},
		{"recurrence bad time in second rule", recur(rl([]string{"mon"}, "09:00"), rl([]string{"sat", "sun"}, "9pm")),
			`schedule.rules[1].times[0]: "9pm" is not a UTC time of day: use HH:MM from 00:00 to 23:59`},
		{"recurrence several problems", recur(rl([]string{"mon", "mo", "MON"}), rl(nil, "09:00", "09:00")),
			"schedule.rules[0].days[1]: \"mo\" is not a day of the week: use mon, tue, wed, thu, fri, sat or sun\n" +
				"schedule.rules[0].days[2]: \"MON\" is listed twice\n" +
				"schedule.rules[0].times: missing: list at least one UTC time of day, such as \"09:00\"\n" +
				"schedule.rules[1].days: missing: list at least one day of the week (mon, tue, wed, thu, fri, sat, sun)\n" +
				"schedule.rules[1].times[1]: \"09:00\" is listed twice"},
		{"recurrence with at", Schedule{Type: TypeRecurrence, At: "09:00", Rules: []Rule{rl([]string{"mon"}, "09:00")}},
			`schedule.at: recurrence schedules do not take at: remove it`},
		{"cron empty", cronS("  "), `schedule.cron: missing: a cron schedule needs an expression, such as "*/15 * * * *"`},
		{"cron four fields", cronS("* * * *"), `schedule.cron: "* * * *" has 4 field(s); a cron expression has 5: minute hour day-of-month month day-of-week`},
		{"cron six fields", cronS("0 * * * * *"), `schedule.cron: "0 * * * * *" has 6 field(s); a cron expression has 5: minute hour day-of-month month day-of-week`},
		{"cron minute out of range", cronS("60 * * * *"), `schedule.cron: minute field "60": 60 is out of range 0-59`},
		{"cron hour out of range", cronS("* 24 * * *"), `schedule.cron: hour field "24": 24 is out of range 0-23`},
		{"cron day zero", cronS("* * 0 * *"), `schedule.cron: day-of-month field "0": 0 is out of range 1-31`},
		{"cron month 13", cronS("* * * 13 *"), `schedule.cron: month field "13": 13 is out of range 1-12 or jan-dec`},
		{"cron weekday 8", cronS("* * * * 8"), `schedule.cron: day-of-week field "8": 8 is out of range 0-7 (0 and 7 are Sunday) or sun-sat`},
		{"cron step zero", cronS("*/0 * * * *"), `schedule.cron: minute field "*/0": step "0" must be a whole number from 1 to 59`},
		{"cron step too large", cronS("* */24 * * *"), `schedule.cron: hour field "*/24": step "24" must be a whole number from 1 to 23`},
		{"cron step not a number", cronS("*/x * * * *"), `schedule.cron: minute field "*/x": step "x" must be a whole number from 1 to 59`},
		{"cron reversed range", cronS("5-1 * * * *"), `schedule.cron: minute field "5-1": range 5-1 starts after it ends`},
		{"cron empty list item", cronS("1,,2 * * * *"), `schedule.cron: minute field "1,,2": empty list item`},
		{"cron missing range start", cronS("-5 * * * *"), `schedule.cron: minute field "-5": a value is missing (0-59)`},
		{"cron unknown month name", cronS("* * * foo *"), `schedule.cron: month field "foo": "foo" is not a valid value (1-12 or jan-dec)`},
		{"cron name in a numeric field", cronS("mon * * * *"), `schedule.cron: minute field "mon": "mon" is not a valid value (0-59)`},
		{"cron quartz question mark", cronS("0 0 ? * *"), `schedule.cron: day-of-month field "?": "?" is not a valid value (1-31)`},
		{"cron signed number", cronS("+5 * * * *"), `schedule.cron: minute field "+5": "+5" is not a valid value (0-59)`},
		{"cron signed step", cronS("*/+5 * * * *"), `schedule.cron: minute field "*/+5": step "+5" must be a whole number from 1 to 59`},
		{"cron L is not standard", cronS("0 0 L * *"), `schedule.cron: day-of-month field "L": "L" is not a valid value (1-31)`},
		{"cron 30 February never happens", cronS("0 0 30 2 *"), `schedule.cron: "0 0 30 2 *" never matches: no month it allows has the day(s) of month it allows`},
		{"cron 31 in 30-day months never happens", cronS("0 0 31 apr,jun,sep,nov *"), `schedule.cron: "0 0 31 apr,jun,sep,nov *" never matches: no month it allows has the day(s) of month it allows`},
		{"cron unknown macro", cronS("@reboot"), `schedule.cron: "@reboot" is not a cron macro: use @yearly, @monthly, @weekly, @daily or @hourly, or 5 fields`},
		{"cron with every", Schedule{Type: TypeCron, Cron: "* * * * *", Every: "1h"}, `schedule.every: cron schedules do not take every: remove it`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.s, true)
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got %s\nwant %s", err, tt.want)
			}
			probs := Problems(err)
			if len(probs) != strings.Count(tt.want, "\n")+1 {
				t.Errorf("Problems returned %d field errors for %q", len(probs), err)
			}
			if _, ok := tt.s.Next(time.Now()); ok {
				t.Error("Next reports a due time for an invalid schedule")
			}
			if got := tt.s.Describe(); !strings.HasPrefix(got, "invalid ") {
				t.Errorf("Describe() = %q, want it to say invalid", got)
			}
		})
	}
}

func TestFieldErrorPath(t *testing.T) {
	err := Validate(recur(rl([]string{"mon"}, "09:00"), rl([]string{"sun"}, "25:00")), true)
	probs := Problems(err)
	if len(probs) != 1 {
		t.Fatalf("Problems = %v", probs)
	}
	if want := []any{"rules", 1, "times", 0}; !reflect.DeepEqual(probs[0].Path, want) {
		t.Errorf("Path = %#v, want %#v", probs[0].Path, want)
	}
	if probs[0].Field() != "schedule.rules[1].times[0]" {
		t.Errorf("Field() = %q", probs[0].Field())
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe != probs[0] {
		t.Error("errors.As does not find the FieldError")
	}
}

func TestValidateCronPolicy(t *testing.T) {
	s := cronS("*/15 * * * *")
	if err := Validate(s, true); err != nil {
		t.Fatalf("cron enabled: %v", err)
	}
	err := Validate(s, false)
	if !errors.Is(err, ErrCronDisabled) {
		t.Fatalf("err = %v, want ErrCronDisabled", err)
	}
	if want := "schedule.type: cron schedules are disabled in this workspace: set cron_enabled = true on dinmo_workspace"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	err = ValidateFor(s, "shop", false)
	if want := `schedule.type: cron schedules are disabled in workspace "shop": set cron_enabled = true on dinmo_workspace`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	// A syntax error is reported too, after the policy.
	err = ValidateFor(cronS("61 * * * *"), "shop", false)
	if want := "schedule.type: cron schedules are disabled in workspace \"shop\": set cron_enabled = true on dinmo_workspace\n" +
		`schedule.cron: minute field "61": 61 is out of range 0-59`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	// Other types do not care.
	if err := Validate(ivl("1h", ""), false); err != nil {
		t.Errorf("interval with cron disabled: %v", err)
	}
}

func TestValidAccepted(t *testing.T) {
	for _, s := range []Schedule{
		{}, {Type: TypeManual},
		ivl("1m", ""), ivl("1h30m", ""), ivl("1d12h", ""), ivl("365d", ""), ivl("1.5h", ""),
		ivl("90m", "00:00"), ivl("1d", "23:59"), ivl("3d", "12:00"), ivl("8h", "07:00"),
		recur(rl([]string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, "00:00", "23:59")),
		cronS("* * * * *"), cronS("0 0 1 1 *"), cronS("@daily"), cronS("0 0 31 * *"), cronS("0 0 29 2 *"),
		cronS(" 0   3 * *  * "), cronS("0-59/59 0-23/23 1-31/31 1-12/12 0-7/7"),
	} {
		if err := Validate(s, true); err != nil {
			t.Errorf("Validate(%+v): %v", s, err)
		}
		if _, ok := s.Next(time.Now()); ok == s.IsManual() {
			t.Errorf("Next(%+v) due = %v, manual = %v", s, ok, s.IsManual())
		}
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		s    Schedule
		want string
	}{
		{Schedule{}, "manual"},
		{ivl("15m", ""), "every 15m"},
		{ivl("90m", ""), "every 1h30m"},
		{ivl("6h", "01:30"), "every 6h at 01:30 UTC"},
		{ivl("1d", "07:00"), "every 1d at 07:00 UTC"},
		{ivl("36h", ""), "every 1d12h"},
		{recur(rl([]string{"wed", "mon"}, "09:00"), rl([]string{"sun", "sat"}, "20:00")), "Mon, Wed at 09:00 UTC; Sat, Sun at 20:00 UTC"},
		{recur(rl([]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}, "18:00", "06:00")), "every day at 06:00, 18:00 UTC"},
		{cronS("*/15 * * * *"), "cron */15 * * * * (UTC)"},
		{cronS("  0  3 * * *"), "cron 0 3 * * * (UTC)"},
		{cronS("@daily"), "cron @daily (UTC)"},
		{cronS("61 * * * *"), "invalid cron schedule"},
	}
	for _, tt := range tests {
		if got := tt.s.Describe(); got != tt.want {
			t.Errorf("Describe(%+v) = %q, want %q", tt.s, got, tt.want)
		}
	}
}

func TestJSON(t *testing.T) {
	tests := []struct {
		s    Schedule
		want string
	}{
		{Schedule{Type: TypeManual}, `{"type":"manual"}`},
		{ivl("6h", "01:30"), `{"type":"interval","every":"6h","at":"01:30"}`},
		{recur(rl([]string{"mon", "wed"}, "09:00"), rl([]string{"sat", "sun"}, "20:00")),
			`{"type":"recurrence","rules":[{"days":["mon","wed"],"times":["09:00"]},{"days":["sat","sun"],"times":["20:00"]}]}`},
		{cronS("*/15 * * * *"), `{"type":"cron","cron":"*/15 * * * *"}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.s)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tt.want {
			t.Errorf("Marshal = %s, want %s", b, tt.want)
		}
		back, err := Parse(b)
		if err != nil {
			t.Fatalf("Parse(%s): %v", b, err)
		}
		if !back.Equal(tt.s) || !reflect.DeepEqual(back, tt.s) {
			t.Errorf("round trip: %+v, want %+v", back, tt.s)
		}
	}
}

func TestJSONLegacyNumericEvery(t *testing.T) {
	var s Schedule
	if err := json.Unmarshal([]byte(`{"type":"interval","every":5400000000000}`), &s); err != nil {
		t.Fatal(err)
	}
	if s.Every != "1h30m" {
		t.Errorf("Every = %q, want 1h30m", s.Every)
	}
	if err := json.Unmarshal([]byte(`{"type":"interval","every":1.5}`), &s); err == nil {
		t.Error("a fractional number of nanoseconds was accepted")
	}
	if err := json.Unmarshal([]byte(`{"type":"manual","every":null,"future":1}`), &s); err != nil || s.Every != "" || s.Type != TypeManual {
		t.Errorf("null every / unknown field: %+v, %v", s, err)
	}
}

func TestParseStrict(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"type":"interval","every":"1h","anchor":"07:00"}`, `parse schedule: unknown field "anchor": a schedule has type, every, at, rules and cron`},
		{`{"type":"interval","every":"1h"`, `parse schedule: unexpected end of JSON input`},
		{`{"type":"recurrence","rules":[{"days":["mon"],"times":["9"]}]}`, `schedule.rules[0].times[0]: "9" is not a UTC time of day: use HH:MM from 00:00 to 23:59`},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%s) error %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestEqual(t *testing.T) {
	a := recur(rl([]string{"mon"}, "09:00"))
	b := recur(rl([]string{"mon"}, "09:00"))
	if !a.Equal(b) || !(Schedule{}).Equal(Schedule{Type: TypeManual}) {
		t.Error("equal schedules differ")
	}
	b.Rules[0].Times = []string{"09:01"}
	if a.Equal(b) || ivl("1h", "").Equal(ivl("1h", "00:00")) || cronS("* * * * *").Equal(cronS("0 * * * *")) {
		t.Error("different schedules are equal")
	}
}

func TestNextInOtherZonesIsUTC(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// 2024-03-10 02:00 EST: New York springs forward. UTC knows nothing of it.
	after := time.Date(2024, 3, 10, 0, 30, 0, 0, ny) // 05:30 UTC
	for _, tt := range []struct {
		s    Schedule
		want []string
	}{
		{ivl("1h", "00:00"), []string{"2024-03-10T06:00 Sun", "2024-03-10T07:00 Sun", "2024-03-10T08:00 Sun"}},
		{cronS("0 7 * * *"), []string{"2024-03-10T07:00 Sun", "2024-03-11T07:00 Mon", "2024-03-12T07:00 Tue"}},
		{recur(rl([]string{"sun", "mon"}, "07:00")), []string{"2024-03-10T07:00 Sun", "2024-03-11T07:00 Mon", "2024-03-17T07:00 Sun"}},
	} {
		if got := sequence(t, tt.s, after, 3); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.s.Describe(), got, tt.want)
		}
	}
	// A fixed-offset zone gives the same instants as UTC.
	cet := time.FixedZone("CET", 3600)
	a, _ := cronS("0 0 * * *").Next(time.Date(2024, 1, 1, 0, 30, 0, 0, cet)) // 2023-12-31 23:30 UTC
	if want := ts(t, "2024-01-01T00:00"); !a.Equal(want) {
		t.Errorf("Next from CET = %v, want %v", a, want)
	}
}

func TestNextAfterMissed(t *testing.T) {
	tests := []struct {
		name          string
		s             Schedule
		prevDue, now  string
		want          string
		wantScheduled bool
	}{
		{"unanchored interval keeps its phase", ivl("15m", ""), "2024-01-01T10:07", "2024-01-01T13:00:05", "2024-01-01T13:07", true},
		{"unanchored interval exactly on the grid", ivl("15m", ""), "2024-01-01T10:07", "2024-01-01T10:52", "2024-01-01T11:07", true},
		{"unanchored interval polled a little late", ivl("1h", ""), "2024-01-01T10:00", "2024-01-01T10:00:03", "2024-01-01T11:00", true},
		{"unanchored interval, days down", ivl("1d", ""), "2024-01-01T10:00", "2024-01-09T09:00", "2024-01-09T10:00", true},
		{"unanchored interval, no previous due time", ivl("1h", ""), "", "2024-01-01T10:00:03", "2024-01-01T11:00:03", true},
		{"anchored interval", ivl("6h", "01:30"), "2024-01-01T01:30", "2024-01-03T08:00", "2024-01-03T13:30", true},
		{"recurrence", recur(rl([]string{"mon"}, "09:00")), "2024-09-02T09:00", "2024-09-20T00:00", "2024-09-23T09:00", true},
		{"cron", cronS("0 3 * * *"), "2024-01-01T03:00", "2024-01-05T03:00", "2024-01-06T03:00", true},
		{"manual", Schedule{}, "2024-01-01T03:00", "2024-01-05T03:00", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var prev time.Time
			if tt.prevDue != "" {
				prev = ts(t, tt.prevDue)
			}
			now := ts(t, tt.now)
			got, ok := tt.s.NextAfterMissed(prev, now)
			if ok != tt.wantScheduled {
				t.Fatalf("scheduled = %v, want %v", ok, tt.wantScheduled)
			}
			if !ok {
				return
			}
			if !got.Equal(ts(t, tt.want)) || !got.After(now) {
				t.Errorf("NextAfterMissed = %v, want %v (after now %v)", got, tt.want, now)
			}
		})
	}
}

// TestOneCatchUpRun simulates the scheduler's contract: a runner down for a long time runs
// each activation once when it comes back, then resumes the schedule.
func TestOneCatchUpRun(t *testing.T) {
	for _, s := range []Schedule{
		ivl("15m", ""), ivl("1h", "00:10"), cronS("*/5 * * * *"),
		recur(rl([]string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, "00:00", "12:00")),
	} {
		t.Run(s.Describe(), func(t *testing.T) {
			start := ts(t, "2024-01-01T00:00")
			next, ok := s.FirstDue(start)
			if !ok {
				t.Fatal("not scheduled")
			}
			downFrom, downTo := ts(t, "2024-01-02T00:00"), ts(t, "2024-01-05T07:03")
			var runs []time.Time
			for now := start; now.Before(ts(t, "2024-01-06T00:00")); now = now.Add(time.Minute) {
				if !now.Before(downFrom) && now.Before(downTo) {
					continue // the runner is down
				}
				if !next.After(now) {
					runs = append(runs, now)
					if next, ok = s.NextAfterMissed(next, now); !ok || !next.After(now) {
						t.Fatalf("NextAfterMissed(%v) = %v, %v", now, next, ok)
					}
				}
			}
			catchUp := 0
			for _, r := range runs {
				if r.Equal(downTo) {
					catchUp++
				}
			}
			if catchUp != 1 {
				t.Errorf("%d runs at restart, want exactly one", catchUp)
			}
			// Apart from the catch-up run, which the next regular occurrence may follow closely,
			// runs are at least the schedule's shortest gap (5m here) apart: nothing else piles up.
			for i := 1; i < len(runs); i++ {
				if !runs[i-1].Equal(downTo) && runs[i].Sub(runs[i-1]) < 5*time.Minute {
					t.Errorf("runs %v and %v are closer than the schedule allows", runs[i-1], runs[i])
				}
			}
		})
	}
}

func TestFirstDue(t *testing.T) {
	now := ts(t, "2024-01-01T10:07:30")
	tests := []struct {
		s    Schedule
		want string
	}{
		{ivl("15m", ""), "2024-01-01T10:07:30"},
		{ivl("1d", "07:00"), "2024-01-02T07:00"},
		{cronS("0 * * * *"), "2024-01-01T11:00"},
		{recur(rl([]string{"mon"}, "10:08")), "2024-01-01T10:08"},
	}
	for _, tt := range tests {
		got, ok := tt.s.FirstDue(now)
		if !ok || !got.Equal(ts(t, tt.want)) {
			t.Errorf("FirstDue(%s) = %v, %v, want %s", tt.s.Describe(), got, ok, tt.want)
		}
	}
	if _, ok := (Schedule{}).FirstDue(now); ok {
		t.Error("a manual schedule is due")
	}
}

func TestParseEveryFormatEvery(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"1m": time.Minute, "15m": 15 * time.Minute, "4h": 4 * time.Hour, "1d": 24 * time.Hour,
		"1h30m": 90 * time.Minute, "1d12h": 36 * time.Hour, "2d30m": 48*time.Hour + 30*time.Minute,
	} {
		got, err := ParseEvery(in)
		if err != nil || got != want {
			t.Errorf("ParseEvery(%q) = %v, %v, want %v", in, got, err, want)
		}
		if back := FormatEvery(got); back != in {
			t.Errorf("FormatEvery(%v) = %q, want %q", got, back, in)
		}
	}
	if got := FormatEvery(90 * time.Second); got != "1m30s" {
		t.Errorf("FormatEvery(90s) = %q", got)
	}
}
