package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"

	"switchboard/atomicfile"
	"switchboard/compiler/ir"
	"switchboard/report"
	"switchboard/simulate"
)

// writeTestHTML writes the run as the report page (test -html FILE).
func writeTestHTML(path string, p *ir.Program, rep *simulate.Report) error {
	page := testPage(p, rep)
	return atomicfile.WriteFrom(path, 0o644, func(w *os.File) error {
		return report.WriteHTML(w, page)
	})
}

// writeCommissionHTML writes a commissioning run as the same page
// (commission -html FILE): its checklist is a simulate.Report whose open
// cases are skipped ones saying why, and whose failures carry the SIP
// messages the server kept of their call (GET /admin/calls/{id}/sip).
func writeCommissionHTML(path string, p *ir.Program, rep *simulate.Report) error {
	page := testPage(p, rep)
	page.Title = strings.TrimSuffix(page.Title, " — switchboard test") + " — switchboard commission"
	return atomicfile.WriteFrom(path, 0o644, func(w *os.File) error {
		return report.WriteHTML(w, page)
	})
}

// testPage turns the simulator's results into the report's cases, each in
// the group of the door, residence or person its origin declares.
func testPage(p *ir.Program, rep *simulate.Report) *report.Page {
	title := p.Site.DisplayName
	if title == "" {
		title = p.Site.Name
	}
	page := &report.Page{Title: title + " — switchboard test"}
	groups := caseGroups(p)
	for _, res := range rep.Results {
		c := report.Case{Name: res.Name, Status: report.Status(res.Status), Reason: res.Message, Step: res.Step,
			Group: groups(res.Origin.Object), Origin: originLine(res.Origin)}
		for _, m := range res.SIP {
			c.Messages = append(c.Messages, report.Message{From: m.From, To: m.To, Summary: cseqNumber.ReplaceAllString(m.Summary, "$1")})
		}
		c.MoreMessages = res.MoreSIP
		page.Cases = append(page.Cases, c)
	}
	return page
}

// cseqNumber matches a response summary's CSeq number, `180 Ringing (20168
// INVITE; …)`: the devices pick it at random, and the page keeps only the
// method, so that the same run gives the same page.
var cseqNumber = regexp.MustCompile(`^([1-6][0-9][0-9] [^(]*\()[0-9]+ `)

// originLine is `devices.pbx.hcl:9 (device "gate")`: the line, without the
// column a person does not need.
func originLine(o ir.Origin) string {
	s := o.File
	if o.File != "" {
		s += ":" + strconv.Itoa(o.Line)
	}
	if o.Object != "" {
		if s != "" {
			s += " "
		}
		s += "(" + o.Object + ")"
	}
	return s
}

// caseGroups returns what places a case by the object of its origin
// (`device "gate"`, `user "mary"`): door stations are doors, a monitor
// belongs to its residence, users are people; anything else (scenarios,
// the site, trunks) is site-wide, grouped by its kind of object.
func caseGroups(p *ir.Program) func(object string) report.Group {
	doors := map[string]bool{}
	for _, d := range p.Devices {
		if d.Kind == ir.DoorStation {
			doors[d.Name] = true
		}
	}
	monitorOf := map[string]string{}
	for _, r := range p.Residences {
		for _, m := range r.Monitors {
			monitorOf[m] = r.Name
		}
	}
	return func(object string) report.Group {
		kind, name, _ := strings.Cut(object, " ")
		name = strings.Trim(name, `"`)
		switch {
		case kind == "device" && doors[name]:
			return report.Group{Kind: report.Door, Name: name}
		case kind == "device" && monitorOf[name] != "":
			return report.Group{Kind: report.Residence, Name: monitorOf[name]}
		case kind == "residence":
			return report.Group{Kind: report.Residence, Name: name}
		case kind == "user":
			return report.Group{Kind: report.Person, Name: name}
		case kind == "scenario", strings.Contains(object, ` of scenario "`):
			// The scenario itself, or the step of one that failed.
			return report.Group{Kind: report.Site, Name: "scenarios"}
		}
		return report.Group{Kind: report.Site, Name: object}
	}
}
