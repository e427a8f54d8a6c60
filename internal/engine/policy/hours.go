package policy

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // allowed hours name IANA time zones; the binary must not depend on the host's zoneinfo
)

// Hours is a weekly schedule of allowed times, parsed from a spec such as
// "Mon-Fri 08:00-18:00 UTC" or "Mon-Thu 08:00-18:00 Europe/Paris; Fri 08:00-12:00 Europe/Paris".
// The zero value (from an empty spec) allows every time.
type Hours struct {
	windows []window
}

type window struct {
	days       [7]bool // by time.Weekday
	start, end int     // minutes since midnight, end exclusive
	loc        *time.Location
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

// ParseHours reads an allowed-hours spec: windows separated by ";", each
// "DAYS HH:MM-HH:MM [ZONE]". DAYS is a day ("Mon"), a range ("Mon-Fri",
// which may wrap: "Fri-Mon"), a comma-separated list of those, or "*" for
// every day; the time range starts at the first time and ends before the
// second (24:00 for midnight), so it cannot cross midnight: write two
// windows instead. ZONE is an IANA time zone name, UTC by default. An empty
// spec allows every time.
func ParseHours(spec string) (Hours, error) {
	var h Hours
	if strings.TrimSpace(spec) == "" {
		return h, nil
	}
	for part := range strings.SplitSeq(spec, ";") {
		w, err := parseWindow(strings.Fields(part))
		if err != nil {
			return Hours{}, fmt.Errorf("%q: %w", strings.TrimSpace(part), err)
		}
		h.windows = append(h.windows, w)
	}
	return h, nil
}

func parseWindow(f []string) (window, error) {
	w := window{loc: time.UTC}
	if len(f) < 2 || len(f) > 3 {
		return w, fmt.Errorf(`want "DAYS HH:MM-HH:MM [ZONE]", like "Mon-Fri 08:00-18:00 UTC"`)
	}
	if err := parseDays(f[0], &w.days); err != nil {
		return w, err
	}
	from, to, ok := strings.Cut(f[1], "-")
	if !ok {
		return w, fmt.Errorf("%q is not a time range HH:MM-HH:MM", f[1])
	}
	var err error
	if w.start, err = parseClock(from); err != nil {
		return w, err
	}
	if w.end, err = parseClock(to); err != nil {
		return w, err
	}
	if w.start >= w.end {
		return w, fmt.Errorf("%s ends before it starts: a window cannot cross midnight, write two", f[1])
	}
	if len(f) == 3 {
		if w.loc, err = time.LoadLocation(f[2]); err != nil {
			return w, fmt.Errorf("time zone %q: %w", f[2], err)
		}
	}
	return w, nil
}

func parseDays(s string, days *[7]bool) error {
	if s == "*" {
		*days = [7]bool{true, true, true, true, true, true, true}
		return nil
	}
	for item := range strings.SplitSeq(s, ",") {
		from, to, isRange := strings.Cut(item, "-")
		a, ok := dayNames[strings.ToLower(from)]
		if !ok {
			return fmt.Errorf("%q is not a day (Mon, Tue, … or Monday, …)", from)
		}
		b := a
		if isRange {
			if b, ok = dayNames[strings.ToLower(to)]; !ok {
				return fmt.Errorf("%q is not a day (Mon, Tue, … or Monday, …)", to)
			}
		}
		for d := a; ; d = (d + 1) % 7 {
			days[d] = true
			if d == b {
				break
			}
		}
	}
	return nil
}

// parseClock reads HH:MM (00:00 to 24:00) as minutes since midnight.
func parseClock(s string) (int, error) {
	hh, mm, ok := strings.Cut(s, ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if !ok || err1 != nil || err2 != nil || len(mm) != 2 || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("%q is not a time HH:MM between 00:00 and 24:00", s)
	}
	return h*60 + m, nil
}

// Contains reports whether t falls in one of the windows (always true for
// the zero Hours).
func (h Hours) Contains(t time.Time) bool {
	if len(h.windows) == 0 {
		return true
	}
	for _, w := range h.windows {
		lt := t.In(w.loc)
		m := lt.Hour()*60 + lt.Minute()
		if w.days[lt.Weekday()] && m >= w.start && m < w.end {
			return true
		}
	}
	return false
}
