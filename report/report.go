// Package report renders the results of call-path cases as one
// self-contained HTML page a person reads: the cases grouped by door,
// residence and person, each failure with its SIP ladder diagram drawn as
// inline SVG and the site-file line it proves, passed cases collapsed.
//
// It takes a plain list of cases, not a simulator's or a server's types,
// so `switchboard test -html` (the simulation) and `switchboard commission
// -html` (the live site) render the same page: each converts its results
// into Cases and calls WriteHTML. It imports nothing of ours.
//
// The page is deterministic: the same Page gives the same bytes (no clock,
// no map order); a time appears only when the caller puts it in Page.Note.
// It loads nothing: the CSS is embedded, the diagrams are inline SVG.
package report

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Status is a case's outcome.
type Status string

const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
	// Open is a case not yet proven, for a checklist worked through on a
	// live site (commission): neither passed nor failed so far.
	Open Status = "open"
)

// GroupKind is what a group of cases is about.
type GroupKind string

const (
	Door      GroupKind = "door"
	Residence GroupKind = "residence"
	Person    GroupKind = "person"
	// Site holds the cases about none of those: conference rooms, trunks,
	// voicemail access, scenarios.
	Site GroupKind = "site"
)

// kindOrder is the order of the page's sections.
var kindOrder = []GroupKind{Door, Residence, Person, Site}

var kindTitle = map[GroupKind]string{
	Door: "Doors", Residence: "Residences", Person: "People", Site: "Site",
}

// Group names what a case is about: the door station "gate", the
// residence "apt-1a", the person "mary".
type Group struct {
	Kind GroupKind
	Name string
}

// Message is one SIP message of a case's call: who sent it to whom and a
// one-line summary (`INVITE (gate → 1A)`). The ladder diagram has a lane
// per party, in the order they first appear.
type Message struct {
	From, To, Summary string
}

// Case is the result of one case.
type Case struct {
	Name   string
	Group  Group
	Status Status
	// Reason says why it failed, was skipped or is still open.
	Reason string
	// Step is the step that failed, when the case has steps.
	Step string
	// Origin is the site-file line the case proves, "devices.pbx.hcl:9",
	// with what is declared there (`device "gate"`) when known.
	Origin string
	// Messages are the SIP messages of the call, drawn for a failure;
	// MoreMessages says the call had more than these.
	Messages     []Message
	MoreMessages bool
}

// Page is what WriteHTML renders.
type Page struct {
	// Title heads the page: `Whitfield Home — switchboard test`.
	Title string
	// Note is a line under the title, such as when the site was walked;
	// the page has no other date.
	Note  string
	Cases []Case
}

// Counts returns how many cases passed, failed, were skipped and are open.
func (p *Page) Counts() (pass, fail, skip, open int) {
	for _, c := range p.Cases {
		switch c.Status {
		case Pass:
			pass++
		case Fail:
			fail++
		case Skip:
			skip++
		case Open:
			open++
		}
	}
	return
}

// WriteHTML writes the page.
func WriteHTML(w io.Writer, p *Page) error {
	for _, c := range p.Cases {
		switch c.Status {
		case Pass, Fail, Skip, Open:
		default:
			return fmt.Errorf("report: case %q has status %q; want pass, fail, skip or open", c.Name, c.Status)
		}
	}
	return pageTemplate.Execute(w, view(p))
}

// The view is the page laid out for the template: sections in kind order,
// groups in the order their first case came, and within a group failures
// first, then open and skipped cases, then the passed ones (collapsed).
type pageView struct {
	Title, Note string
	Summary     string
	Failed      bool
	// Failures link to each failed case, so a long page starts with what
	// needs looking at.
	Failures []caseView
	Sections []sectionView
}

type sectionView struct {
	Kind, Title string
	Groups      []groupView
}

type groupView struct {
	ID, Name, Tally string
	Failed          bool
	Fails, Others   []caseView
	Passed          []caseView
	PassedSummary   string
}

type caseView struct {
	Case
	ID     string
	Ladder *ladder
}

func view(p *Page) pageView {
	pass, fail, skip, open := p.Counts()
	parts := []string{fmt.Sprintf("%d passed", pass), fmt.Sprintf("%d failed", fail), fmt.Sprintf("%d skipped", skip)}
	if open > 0 {
		parts = append(parts, fmt.Sprintf("%d open", open))
	}
	v := pageView{Title: p.Title, Note: p.Note, Summary: strings.Join(parts, ", "), Failed: fail > 0}

	type key struct {
		kind GroupKind
		name string
	}
	groups := map[key]*groupView{}
	var order []key
	for i, c := range p.Cases {
		kind := c.Group.Kind
		if !slices.Contains(kindOrder, kind) {
			kind = Site
		}
		k := key{kind, c.Group.Name}
		g := groups[k]
		if g == nil {
			g = &groupView{Name: c.Group.Name, ID: fmt.Sprintf("%s-%d", kind, len(order))}
			if g.Name == "" {
				g.Name = "(site-wide)"
			}
			groups[k] = g
			order = append(order, k)
		}
		cv := caseView{Case: c, ID: fmt.Sprintf("case-%d", i)}
		switch c.Status {
		case Fail:
			cv.Ladder = newLadder(c.Messages, c.MoreMessages)
			g.Fails = append(g.Fails, cv)
			v.Failures = append(v.Failures, cv)
			g.Failed = true
		case Pass:
			g.Passed = append(g.Passed, cv)
		default:
			g.Others = append(g.Others, cv)
		}
	}
	for _, kind := range kindOrder {
		s := sectionView{Kind: string(kind), Title: kindTitle[kind]}
		for _, k := range order {
			if k.kind != kind {
				continue
			}
			g := groups[k]
			g.Tally = tally(len(g.Passed), len(g.Fails), g.Others)
			g.PassedSummary = plural(len(g.Passed), "passed case", "passed cases")
			s.Groups = append(s.Groups, *g)
		}
		if len(s.Groups) > 0 {
			v.Sections = append(v.Sections, s)
		}
	}
	return v
}

func tally(pass, fail int, others []caseView) string {
	var skip, open int
	for _, c := range others {
		if c.Status == Open {
			open++
		} else {
			skip++
		}
	}
	var parts []string
	for _, n := range []struct {
		n    int
		what string
	}{{fail, "failed"}, {open, "open"}, {skip, "skipped"}, {pass, "passed"}} {
		if n.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n.n, n.what))
		}
	}
	return strings.Join(parts, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
