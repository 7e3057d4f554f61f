package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/report"
)

// Cases are placed by the object of their origin: door stations are
// doors, a monitor is its residence's, users are people, scenarios (and
// their steps) and the rest are site-wide.
func TestCaseGroups(t *testing.T) {
	p := &ir.Program{
		Devices: []ir.Device{
			{Name: "gate", Kind: ir.DoorStation},
			{Name: "hall-monitor", Kind: ir.Monitor},
		},
		Residences: []ir.Residence{{Name: "home", Monitors: []string{"hall-monitor"}}},
	}
	groups := caseGroups(p)
	for _, tc := range []struct {
		object string
		want   report.Group
	}{
		{`device "gate"`, report.Group{Kind: report.Door, Name: "gate"}},
		{`device "hall-monitor"`, report.Group{Kind: report.Residence, Name: "home"}},
		{`residence "home"`, report.Group{Kind: report.Residence, Name: "home"}},
		{`user "sarah"`, report.Group{Kind: report.Person, Name: "sarah"}},
		{`scenario "nobody home"`, report.Group{Kind: report.Site, Name: "scenarios"}},
		{`rings_only step of scenario "the gate rings only Sarah"`, report.Group{Kind: report.Site, Name: "scenarios"}},
		{`site "whitfield-home"`, report.Group{Kind: report.Site, Name: `site "whitfield-home"`}},
	} {
		if diff := cmp.Diff(tc.want, groups(tc.object)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.object, diff)
		}
	}
}

func TestOriginLine(t *testing.T) {
	for _, tc := range []struct {
		o    ir.Origin
		want string
	}{
		{ir.Origin{File: "devices.pbx.hcl", Line: 9, Column: 3, Object: `device "gate"`}, `devices.pbx.hcl:9 (device "gate")`},
		{ir.Origin{File: "devices.pbx.hcl", Line: 9}, "devices.pbx.hcl:9"},
		{ir.Origin{Object: `site "x"`}, `(site "x")`},
		{ir.Origin{}, ""},
	} {
		if diff := cmp.Diff(tc.want, originLine(tc.o)); diff != "" {
			t.Errorf("%+v (-want +got):\n%s", tc.o, diff)
		}
	}
}
