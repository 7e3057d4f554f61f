package report

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// ladder is a SIP ladder diagram laid out for the template: a vertical
// lane per party, an arrow per message in the order they crossed the wire.
// Everything is computed here in whole pixels so the SVG is the same bytes
// for the same messages.
type ladder struct {
	Width, Height int
	Lanes         []lane
	Arrows        []arrow
	More          bool
	MoreY         int
}

type lane struct {
	Name        string
	X, Top, End int
}

type arrow struct {
	N                int    // 1-based, printed in the margin
	Class            string // request, provisional, success or failure
	X1, X2, Y        int
	Head             string // the arrowhead polygon's points
	Label            string
	LabelX, LabelY   int
	LabelAnchor      string
	Title            string // the whole summary, shown on hover
	NumberX, NumberY int
	From, To         string
}

const (
	ladderMargin  = 36  // left, for the message numbers
	ladderTop     = 18  // the lane names' baseline
	ladderFirst   = 52  // the first arrow's y
	ladderRow     = 26  // between arrows
	ladderMinGap  = 140 // between lanes
	ladderMaxGap  = 420
	ladderCharW   = 7 // an 11.5px monospace character, rounded up
	ladderLabelCh = 56
)

func newLadder(msgs []Message, more bool) *ladder {
	if len(msgs) == 0 {
		return nil
	}
	index := map[string]int{}
	var names []string
	laneOf := func(name string) int {
		if i, ok := index[name]; ok {
			return i
		}
		index[name] = len(names)
		names = append(names, name)
		return len(names) - 1
	}
	// Lanes are as far apart as their names need; a label may reach over
	// the lanes beyond its arrow (a halo keeps it legible), and never
	// meets another label, as each message has its own row.
	for _, m := range msgs {
		laneOf(m.From)
		laneOf(m.To)
	}
	gap := ladderMinGap
	for _, n := range names {
		gap = max(gap, utf8.RuneCountInString(n)*ladderCharW+24)
	}
	gap = min(gap, ladderMaxGap)

	l := &ladder{More: more}
	bottom := ladderFirst + (len(msgs)-1)*ladderRow + 18
	if more {
		l.MoreY = bottom + 8
		bottom += 22
	}
	for i, n := range names {
		l.Lanes = append(l.Lanes, lane{Name: n, X: i * gap, Top: ladderTop + 10, End: bottom})
	}
	// Lay out in lane coordinates, then shift right so the leftmost lane
	// name or label starts after the number margin.
	lo, hi := 0, 0
	extend := func(from, to int) { lo, hi = min(lo, from), max(hi, to) }
	for _, ln := range l.Lanes {
		half := utf8.RuneCountInString(ln.Name) * ladderCharW / 2
		extend(ln.X-half-4, ln.X+half+4)
	}
	for i, m := range msgs {
		x1, x2 := l.Lanes[index[m.From]].X, l.Lanes[index[m.To]].X
		y := ladderFirst + i*ladderRow
		label := shorten(m.Summary)
		w := utf8.RuneCountInString(label) * ladderCharW
		a := arrow{N: i + 1, Class: class(m.Summary), X1: x1, X2: x2, Y: y,
			Label: label, Title: m.Summary, LabelY: y - 5, From: m.From, To: m.To}
		// Every label starts just right of the arrow's left end, so the
		// labels of a call line up beside the lane they leave or reach.
		left := min(x1, x2)
		if x1 == x2 { // to itself: a short stub to the right
			a.X2 = x1 + 30
			left = x1 + 30
		}
		a.LabelX = left + 12
		extend(min(x1, x2), a.LabelX+w)
		l.Arrows = append(l.Arrows, a)
	}
	shift := ladderMargin - lo
	for i := range l.Lanes {
		l.Lanes[i].X += shift
	}
	for i := range l.Arrows {
		a := &l.Arrows[i]
		a.X1, a.X2, a.LabelX = a.X1+shift, a.X2+shift, a.LabelX+shift
		// The arrowhead: a triangle at X2 pointing away from X1.
		back := 9
		if a.X2 < a.X1 {
			back = -9
		}
		a.Head = fmt.Sprintf("%d,%d %d,%d %d,%d", a.X2, a.Y, a.X2-back, a.Y-4, a.X2-back, a.Y+4)
		a.NumberX, a.NumberY = ladderMargin-6, a.Y+4
	}
	l.Width = hi + shift + 8
	l.Height = bottom + 8
	return l
}

// shorten cuts a summary that would not fit between two lanes; the whole
// of it is the arrow's title.
func shorten(s string) string {
	if utf8.RuneCountInString(s) <= ladderLabelCh {
		return s
	}
	r := []rune(s)
	return string(r[:ladderLabelCh-1]) + "…"
}

// class colours an arrow: requests, provisional (1xx), success (2xx) and
// failure (3xx–6xx) responses.
func class(summary string) string {
	code, _, _ := strings.Cut(summary, " ")
	if len(code) != 3 || code[0] < '1' || code[0] > '6' || strings.Trim(code, "0123456789") != "" {
		return "request"
	}
	switch code[0] {
	case '1':
		return "provisional"
	case '2':
		return "success"
	}
	return "failure"
}
