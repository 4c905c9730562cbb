package provider

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

var dayPrefix = regexp.MustCompile(`^(\d+)d(.*)$`)

// parseEvery parses an interval schedule's duration: Go duration syntax ("15m", "1h30m") plus a
// leading day count ("1d", "2d12h"), since daily syncs are the most common schedule.
func parseEvery(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("the duration is empty")
	}
	var days time.Duration
	rest := s
	if m := dayPrefix.FindStringSubmatch(s); m != nil {
		n, err := strconv.ParseInt(m[1], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("duration %q: day count out of range", s)
		}
		days = time.Duration(n) * 24 * time.Hour
		rest = m[2]
		if rest == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(rest)
	if err != nil {
		return 0, fmt.Errorf("duration %q: use a number with a unit, such as 15m, 1h, 1h30m or 1d: %w", s, err)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	return days + d, nil
}

// formatEvery writes a duration in the shortest form parseEvery reads back: whole days as
// "Nd", whole hours as "Nh", whole minutes as "Nm", anything else in Go syntax.
func formatEvery(d time.Duration) string {
	switch {
	case d > 0 && d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d > 0 && d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d > 0 && d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}
