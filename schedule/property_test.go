package schedule

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// randomCronField builds one field of a random cron expression: lists of *, */s, n, n/s,
// a-b, a-b/s, with names for months and weekdays.
func randomCronField(rng *rand.Rand, f cronField) string {
	value := func() string {
		hi := f.max
		v := f.min + rng.IntN(hi-f.min+1)
		if f.names != nil && rng.IntN(3) == 0 {
			for name, n := range f.names {
				if n == v {
					if rng.IntN(2) == 0 {
						return strings.ToUpper(name)
					}
					return name
				}
			}
		}
		return fmt.Sprint(v)
	}
	item := func() string {
		step := func() string { return fmt.Sprintf("/%d", 1+rng.IntN(min(f.max, 20))) }
		switch rng.IntN(6) {
		case 0:
			return "*"
		case 1:
			return "*" + step()
		case 2:
			return value()
		case 3:
			return value() + step()
		default:
			a, b := value(), value()
			if lookup(f, a) > lookup(f, b) {
				a, b = b, a
			}
			if rng.IntN(2) == 0 {
				return a + "-" + b + step()
			}
			return a + "-" + b
		}
	}
	n := 1 + rng.IntN(3)
	items := make([]string, n)
	for i := range items {
		items[i] = item()
	}
	return strings.Join(items, ",")
}

func randomCron(rng *rand.Rand) string {
	fields := make([]string, 5)
	for i, f := range cronFields {
		fields[i] = randomCronField(rng, f)
		// Keep most expressions frequent enough to match within the window.
		if (i == 3 && rng.IntN(4) != 0) || (i == 0 && rng.IntN(3) == 0) {
			fields[i] = "*"
		}
	}
	return strings.Join(fields, " ")
}

// TestCronNextMatchesBruteForce checks, for random expressions, that chaining Next from a
// random start yields exactly the minutes a minute-by-minute evaluation of the definition
// finds over three weeks, strictly increasing.
func TestCronNextMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(20240229, 4)) //nolint:gosec // G404: a reproducible test sequence, not a secret
	const window = 21 * 24 * time.Hour
	checked, occurrences := 0, 0
	for range 100 {
		expr := randomCron(rng)
		c, err := parseCron(expr)
		if err != nil {
			if !strings.Contains(err.Error(), "never matches") {
				t.Fatalf("generated %q: %v", expr, err)
			}
			continue
		}
		checked++
		s := Schedule{Type: TypeCron, Cron: expr}
		start := time.Date(2020+rng.IntN(12), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60), 0, time.UTC)
		end := start.Add(window)
		brute := bruteCron(expr)
		var want []time.Time
		for m := start.Truncate(time.Minute).Add(time.Minute); !m.After(end); m = m.Add(time.Minute) {
			if brute(m) {
				want = append(want, m)
			}
		}
		var got []time.Time
		after := start
		for {
			n, ok := s.Next(after)
			if !ok {
				t.Fatalf("%q: Next(%v) found nothing", expr, after)
			}
			if !n.After(after) {
				t.Fatalf("%q: Next(%v) = %v is not later", expr, after, n)
			}
			if n.After(end) {
				break
			}
			got = append(got, n)
			after = n
		}
		if !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Fatalf("%q from %v: Next found %d occurrences, brute force %d\nfirst got %v\nfirst want %v",
				expr, start, len(got), len(want), head(got), head(want))
		}
		occurrences += len(got)
		// The compiled matcher agrees with the independent one on a sample.
		for range 50 {
			m := start.Add(time.Duration(rng.IntN(int(window/time.Minute))) * time.Minute).Truncate(time.Minute)
			if c.matches(m) != brute(m) {
				t.Fatalf("%q at %v: matchers disagree", expr, m)
			}
		}
	}
	if checked < 90 || occurrences < 10000 {
		t.Fatalf("only %d satisfiable expressions generated, %d occurrences compared", checked, occurrences)
	}
	t.Logf("%d expressions, %d occurrences compared", checked, occurrences)
}

func head(ts []time.Time) []time.Time { return ts[:min(len(ts), 5)] }

// bruteCron returns a matcher for a 5-field expression built straight from the textual
// definition, independently of parseCron's bit sets and search.
func bruteCron(expr string) func(time.Time) bool {
	fields := strings.Fields(expr)
	var allowed [5][8 * 8]bool
	for i, f := range cronFields {
		for item := range strings.SplitSeq(fields[i], ",") {
			rng, stepText, hasStep := strings.Cut(item, "/")
			step := 1
			if hasStep {
				step, _ = strconv.Atoi(stepText)
			}
			var lo, hi int
			switch {
			case rng == "*":
				lo, hi = f.min, f.max
			case strings.Contains(rng, "-"):
				a, b, _ := strings.Cut(rng, "-")
				lo, hi = lookup(f, a), lookup(f, b)
			default:
				lo, hi = lookup(f, rng), lookup(f, rng)
				if hasStep {
					hi = f.max
				}
			}
			for x := lo; x <= hi; x += step {
				allowed[i][x] = true
				if i == 4 && x == 7 {
					allowed[i][0] = true // 7 is Sunday
				}
			}
		}
	}
	either := !strings.HasPrefix(fields[2], "*") && !strings.HasPrefix(fields[4], "*")
	return func(m time.Time) bool {
		dom, dow := allowed[2][m.Day()], allowed[4][int(m.Weekday())]
		day := dom && dow
		if either {
			day = dom || dow
		}
		return allowed[0][m.Minute()] && allowed[1][m.Hour()] && allowed[3][int(m.Month())] && day
	}
}

func lookup(f cronField, s string) int {
	if v, ok := f.names[strings.ToLower(s)]; ok {
		return v
	}
	n, _ := strconv.Atoi(s)
	return n
}

// TestIntervalAndRecurrenceMatchBruteForce does the same for anchored intervals and
// recurrences, against their definitions.
func TestIntervalAndRecurrenceMatchBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 1)) //nolint:gosec // G404: a reproducible test sequence, not a secret
	divisors := []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 20 * time.Minute, 45 * time.Minute, time.Hour, 90 * time.Minute, 3 * time.Hour, 8 * time.Hour, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 72 * time.Hour}
	const window = 14 * 24 * time.Hour
	for i := range 60 {
		var s Schedule
		var match func(time.Time) bool
		if i%2 == 0 {
			every := divisors[rng.IntN(len(divisors))]
			at := rng.IntN(24 * 60)
			s = Schedule{Type: TypeInterval, Every: FormatEvery(every), At: formatTimeOfDay(at)}
			ref := time.Date(1970, 1, 1, 0, at, 0, 0, time.UTC)
			match = func(m time.Time) bool { return m.Sub(ref)%every == 0 }
		} else {
			type dt struct {
				day time.Weekday
				min int
			}
			set := map[dt]bool{}
			for range 1 + rng.IntN(3) {
				var rule Rule
				days := rng.Perm(7)[:1+rng.IntN(7)]
				times := map[int]bool{}
				for range 1 + rng.IntN(4) {
					times[rng.IntN(24*60)] = true
				}
				for _, d := range days {
					rule.Days = append(rule.Days, dayNames[d])
					for m := range times {
						set[dt{time.Weekday(d), m}] = true
					}
				}
				for m := range times {
					rule.Times = append(rule.Times, formatTimeOfDay(m))
				}
				s.Rules = append(s.Rules, rule)
			}
			s.Type = TypeRecurrence
			match = func(m time.Time) bool { return set[dt{m.Weekday(), m.Hour()*60 + m.Minute()}] }
		}
		if err := Validate(s, false); err != nil {
			t.Fatalf("%+v: %v", s, err)
		}
		start := time.Date(2020+rng.IntN(12), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60), rng.IntN(1e9), time.UTC)
		end := start.Add(window)
		var want, got []time.Time
		for m := start.Truncate(time.Minute).Add(time.Minute); !m.After(end); m = m.Add(time.Minute) {
			if match(m) {
				want = append(want, m)
			}
		}
		for after := start; ; {
			n, ok := s.Next(after)
			if !ok || !n.After(after) {
				t.Fatalf("%s: Next(%v) = %v, %v", s.Describe(), after, n, ok)
			}
			if n.After(end) {
				break
			}
			got = append(got, n)
			after = n
		}
		if !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Fatalf("%s from %v: Next found %d, brute force %d\nfirst got %v\nfirst want %v", s.Describe(), start, len(got), len(want), head(got), head(want))
		}
	}
}

func BenchmarkCronNextRare(b *testing.B) {
	s := Schedule{Type: TypeCron, Cron: "0 0 29 2 */7"} // a Sunday 29 February: decades apart
	after := time.Date(2033, 1, 1, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		if _, ok := s.Next(after); !ok {
			b.Fatal("none")
		}
	}
}
