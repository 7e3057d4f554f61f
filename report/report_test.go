package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func samplePage() *Page {
	call := []Message{
		{From: "device.gate", To: "server", Summary: "INVITE (device.gate → 1A)"},
		{From: "server", To: "device.gate", Summary: "100 Trying (INVITE; device.gate → 1A)"},
		{From: "server", To: "app.mary", Summary: "INVITE (device.gate → app.mary)"},
		{From: "app.mary", To: "server", Summary: "486 Busy Here (INVITE; device.gate → app.mary)"},
		{From: "server", To: "device.gate", Summary: "480 Temporarily Unavailable (INVITE; device.gate → 1A)"},
	}
	return &Page{Title: "Harbour View <test>", Cases: []Case{
		{Name: "gate button 1 rings 1A", Group: Group{Door, "gate"}, Status: Pass, Origin: "devices.pbx.hcl:9"},
		{Name: "gate button 1 → mary answers", Group: Group{Door, "gate"}, Status: Fail, Step: "answer by app.mary",
			Reason: "app.mary was busy", Origin: `devices.pbx.hcl:9 (device "gate")`, Messages: call},
		{Name: "mary is reached on 101", Group: Group{Person, "mary"}, Status: Open, Reason: "not walked yet"},
		{Name: "1A monitor unlocks", Group: Group{Residence, "apt-1a"}, Status: Skip, Reason: "no monitor"},
		{Name: "room 8101 mixes", Group: Group{"conference", "mary"}, Status: Pass},
	}}
}

func render(t *testing.T, p *Page) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, p); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The page's sections come in kind order whatever the order of the cases,
// an unknown kind is site-wide, and the tallies count each status.
func TestSectionsAndTallies(t *testing.T) {
	v := view(samplePage())
	type group struct{ Section, Name, Tally string }
	var got []group
	for _, s := range v.Sections {
		for _, g := range s.Groups {
			got = append(got, group{s.Title, g.Name, g.Tally})
		}
	}
	want := []group{
		{"Doors", "gate", "1 failed, 1 passed"},
		{"Residences", "apt-1a", "1 skipped"},
		{"People", "mary", "1 open"},
		{"Site", "mary", "1 passed"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("2 passed, 1 failed, 1 skipped, 1 open", v.Summary); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
}

// A failure's ladder has a lane per party in order of appearance and an
// arrow per message, pointing the way the message went.
func TestLadderLayout(t *testing.T) {
	msgs := samplePage().Cases[1].Messages
	l := newLadder(msgs, false)
	var lanes []string
	for _, ln := range l.Lanes {
		lanes = append(lanes, ln.Name)
	}
	if diff := cmp.Diff([]string{"device.gate", "server", "app.mary"}, lanes); diff != "" {
		t.Errorf("lanes (-want +got):\n%s", diff)
	}
	if len(l.Arrows) != len(msgs) {
		t.Fatalf("%d arrows for %d messages", len(l.Arrows), len(msgs))
	}
	x := map[string]int{}
	for _, ln := range l.Lanes {
		x[ln.Name] = ln.X
	}
	var classes []string
	for i, a := range l.Arrows {
		m := msgs[i]
		if a.X1 != x[m.From] || a.X2 != x[m.To] {
			t.Errorf("arrow %d runs %d→%d, want %s (%d) → %s (%d)", i+1, a.X1, a.X2, m.From, x[m.From], m.To, x[m.To])
		}
		if a.LabelX < 0 || a.X1 < 0 || a.X2 > l.Width || a.Y > l.Height {
			t.Errorf("arrow %d lies outside the %d×%d diagram: %+v", i+1, l.Width, l.Height, a)
		}
		classes = append(classes, a.Class)
	}
	if diff := cmp.Diff([]string{"request", "provisional", "request", "failure", "failure"}, classes); diff != "" {
		t.Errorf("classes (-want +got):\n%s", diff)
	}
	if newLadder(nil, false) != nil {
		t.Error("a case without messages has a ladder")
	}
}

// The page escapes what it is given, draws an arrow per message, collapses
// the passed cases, loads nothing, and is the same bytes every time.
func TestWriteHTML(t *testing.T) {
	page := render(t, samplePage())
	if again := render(t, samplePage()); again != page {
		t.Error("the same page rendered twice differs")
	}
	for _, want := range []string{
		"<title>Harbour View &lt;test&gt;</title>",
		`<code class="proves">devices.pbx.hcl:9 (device &#34;gate&#34;)</code>`,
		`<details class="passed">`,
		`aria-label="SIP ladder: 5 messages"`,
		`<a href="#case-1">gate button 1 → mary answers</a>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if n := strings.Count(page, `<g class="msg `); n != 5 {
		t.Errorf("the page draws %d arrows, want 5", n)
	}
	// Self-contained: no src, no href but in-page anchors, no url(), no
	// @import. The SVG namespace is a name, not a request.
	for _, re := range []string{`\ssrc=`, `href="[^#]`, `url\(`, `@import`, `<link`} {
		if m := regexp.MustCompile(re).FindString(page); m != "" {
			t.Errorf("the page refers to an outside resource: %q", m)
		}
	}
}

func TestWriteHTMLRejectsUnknownStatus(t *testing.T) {
	err := WriteHTML(&bytes.Buffer{}, &Page{Cases: []Case{{Name: "x", Status: "maybe"}}})
	if err == nil || !strings.Contains(err.Error(), `status "maybe"`) {
		t.Errorf("got %v, want an error naming the status", err)
	}
}

// A call cut short in the recording says so under its ladder.
func TestLadderMore(t *testing.T) {
	p := samplePage()
	p.Cases[1].MoreMessages = true
	page := render(t, p)
	if !strings.Contains(page, `<text class="more" x="8" y="`) || !strings.Contains(page, "… more messages not shown") {
		t.Error("the ladder of a truncated call does not say more messages were not shown")
	}
	if strings.Contains(render(t, samplePage()), "more messages not shown") {
		t.Error("a whole call's ladder says messages were not shown")
	}
}
