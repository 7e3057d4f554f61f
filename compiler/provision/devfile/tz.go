package devfile

import (
	"fmt"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // a zone database even where the system has none
)

// RuleYear is the year whose transitions define a zone's daylight-saving
// rule. It is fixed, not the current year, so that a build is reproducible;
// rules are written in the recurring form ("last Sunday of March") that
// devices apply to every year.
const RuleYear = 2026

// Zone is an IANA time zone reduced to what device firmware understands: a
// standard offset and at most one yearly daylight-saving rule.
type Zone struct {
	Name      string
	StdOffset int    // seconds east of UTC outside daylight saving
	StdAbbrev string // e.g. "GMT", "CET", "+0530"
	DST       *DST   // nil without daylight saving
	// Irregular is set when RuleYear has transitions that are not one
	// start and one end; the zone is then reduced to its smallest offset.
	Irregular bool
}

// DST is a yearly daylight-saving rule. Daylight saving is the period with
// the larger offset; a zone like Europe/Dublin, whose tz database entry calls
// winter time the exception, is described the conventional way (GMT in
// winter, IST in summer).
type DST struct {
	Offset int // seconds east of UTC during daylight saving
	Abbrev string
	Start  Transition // into daylight saving
	End    Transition // back to standard time
}

// Transition is a change of offset, as a recurring rule.
type Transition struct {
	Month   time.Month
	Week    int          // 1…4, or 5 for the last such weekday of the month
	Weekday time.Weekday // Sunday = 0
	// Time is seconds after midnight in the local time in force before the
	// change (standard time for Start, daylight time for End), as POSIX
	// rules count it.
	Time int
}

// Save is the daylight-saving shift in seconds.
func (d *DST) Save(std int) int { return d.Offset - std }

var zoneCache sync.Map // name → zoneResult

type zoneResult struct {
	z   Zone
	err error
}

// LoadZone reduces the IANA zone name to a Zone, from its transitions in
// RuleYear. Results are cached.
func LoadZone(name string) (Zone, error) {
	if r, ok := zoneCache.Load(name); ok {
		r := r.(zoneResult)
		return r.z, r.err
	}
	z, err := loadZone(name)
	zoneCache.Store(name, zoneResult{z, err})
	return z, err
}

type change struct {
	at       time.Time // first instant of the new offset
	from, to int
	fromAbbr string
	toAbbr   string
}

func loadZone(name string) (Zone, error) {
	if name == "" {
		return Zone{}, fmt.Errorf("no time zone")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return Zone{}, fmt.Errorf("unknown time zone %q", name)
	}
	start := time.Date(RuleYear, time.January, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(RuleYear+1, time.January, 1, 0, 0, 0, 0, time.UTC)
	var changes []change
	prevAbbr, prev := start.In(loc).Zone()
	for t := start.Add(time.Hour); !t.After(end); t = t.Add(time.Hour) {
		abbr, off := t.In(loc).Zone()
		if off == prev {
			prevAbbr = abbr
			continue
		}
		// Find the exact second within the hour.
		lo, hi := t.Add(-time.Hour), t
		for hi.Sub(lo) > time.Second {
			mid := lo.Add(hi.Sub(lo) / 2)
			if _, o := mid.In(loc).Zone(); o == prev {
				lo = mid
			} else {
				hi = mid
			}
		}
		changes = append(changes, change{at: hi, from: prev, to: off, fromAbbr: prevAbbr, toAbbr: abbr})
		prev, prevAbbr = off, abbr
	}
	z := Zone{Name: name}
	switch {
	case len(changes) == 0:
		z.StdAbbrev, z.StdOffset = start.In(loc).Zone()
	case len(changes) == 2 && changes[0].to == changes[1].from && changes[0].from == changes[1].to:
		in, out := changes[0], changes[1]
		if in.to < in.from {
			in, out = out, in
		}
		z.StdOffset, z.StdAbbrev = in.from, in.fromAbbr
		z.DST = &DST{
			Offset: in.to, Abbrev: in.toAbbr,
			Start: rule(in.at, in.from),
			End:   rule(out.at, out.from),
		}
	default:
		z.Irregular = true
		z.StdOffset, z.StdAbbrev = changes[0].from, changes[0].fromAbbr
		for _, c := range changes {
			if c.to < z.StdOffset {
				z.StdOffset, z.StdAbbrev = c.to, c.toAbbr
			}
		}
	}
	return z, nil
}

// rule describes the instant at (UTC) as a recurring rule in the local time
// with offset before.
func rule(at time.Time, before int) Transition {
	local := at.Add(time.Duration(before) * time.Second).UTC()
	day := local.Day()
	dim := time.Date(local.Year(), local.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
	week := (day-1)/7 + 1
	if day+7 > dim {
		week = 5
	}
	return Transition{
		Month:   local.Month(),
		Week:    week,
		Weekday: local.Weekday(),
		Time:    local.Hour()*3600 + local.Minute()*60 + local.Second(),
	}
}

// GMTOffset writes an offset as "+1:00", "-5:00", "+5:30", "+0:00".
func GMTOffset(sec int) string {
	sign := "+"
	if sec < 0 {
		sign, sec = "-", -sec
	}
	return fmt.Sprintf("%s%d:%02d", sign, sec/3600, sec%3600/60)
}

// POSIX renders the zone as a POSIX TZ string with explicit offsets and
// times, e.g. "CET-1CEST-2,M3.5.0/02:00:00,M10.5.0/03:00:00" for
// Europe/Paris (POSIX offsets are west of UTC, hence the inverted signs).
func (z Zone) POSIX() string {
	var b strings.Builder
	b.WriteString(posixAbbrev(z.StdAbbrev))
	b.WriteString(posixOffset(z.StdOffset))
	if z.DST != nil {
		b.WriteString(posixAbbrev(z.DST.Abbrev))
		b.WriteString(posixOffset(z.DST.Offset))
		for _, t := range []Transition{z.DST.Start, z.DST.End} {
			fmt.Fprintf(&b, ",M%d.%d.%d/%02d:%02d:%02d", int(t.Month), t.Week, int(t.Weekday), t.Time/3600, t.Time%3600/60, t.Time%60)
		}
	}
	return b.String()
}

func posixAbbrev(a string) string {
	alpha := len(a) >= 3
	for i := 0; i < len(a); i++ {
		c := a[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			alpha = false
		}
	}
	if alpha {
		return a
	}
	if a == "" {
		a = "UNK"
	}
	return "<" + a + ">"
}

func posixOffset(east int) string {
	west := -east
	sign := ""
	if west < 0 {
		sign, west = "-", -west
	}
	h, m, s := west/3600, west%3600/60, west%60
	switch {
	case s != 0:
		return fmt.Sprintf("%s%d:%02d:%02d", sign, h, m, s)
	case m != 0:
		return fmt.Sprintf("%s%d:%02d", sign, h, m)
	}
	return fmt.Sprintf("%s%d", sign, h)
}

// ZoneCity is the last element of an IANA zone name, as is:
// "America/New_York" → "New_York".
func ZoneCity(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	return name
}
