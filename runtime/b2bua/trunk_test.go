package b2bua

import (
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/runtime/routing"
)

func TestCallerID(t *testing.T) {
	p := irtest.HarbourView()
	trunk := p.Trunks[0]
	noDDIs := trunk
	noDDIs.DDIs = nil
	tests := []struct {
		name, caller string
		trunk        ir.Trunk
		username     string
		want         string
	}{
		{"the user's own DDI, from the app", "app.mary", trunk, "harbour", "+35315550101"},
		{"the user's own DDI, from the desk phone", "device.desk-101", trunk, "harbour", "+35315550101"},
		{"a user without a DDI: the trunk's main number", "app.john", trunk, "harbour", "+35315550100"},
		{"a monitor (no user): the trunk's main number", "device.monitor-1a", trunk, "harbour", "+35315550100"},
		{"a trunk without numbers: its account name", "app.john", noDDIs, "harbour", "harbour"},
		{"and without credentials: anonymous, not the caller's account", "app.john", noDDIs, "", "anonymous"},
		{"a DDI on another trunk does not count", "app.mary", ir.Trunk{Name: "other", DDIs: []string{"+35319990000"}}, "", "+35319990000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := callerID(p, tt.caller, &tt.trunk, tt.username); got != tt.want {
				t.Errorf("callerID(%s) = %q, want %q", tt.caller, got, tt.want)
			}
		})
	}
}

// A call out presents its user's name or the site's, never the account's
// own display name (a device's location).
func TestCallerName(t *testing.T) {
	p := irtest.HarbourView()
	p.Accounts = append([]ir.Account(nil), p.Accounts...)
	for i := range p.Accounts {
		if p.Accounts[i].Kind == ir.AccountDevice {
			p.Accounts[i].DisplayName = "Studio, bench 1"
		}
	}
	tests := []struct{ caller, want string }{
		{"app.mary", "Mary Byrne"},
		{"device.desk-101", "Mary Byrne"},
		{"device.monitor-1a", "Harbour View Apartments"},
		{"device.front-gate", "Harbour View Apartments"},
		{"nobody", "Harbour View Apartments"},
	}
	var got []string
	var want []string
	for _, tt := range tests {
		got = append(got, tt.caller+": "+callerName(p, tt.caller))
		want = append(want, tt.caller+": "+tt.want)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("callerName (-want +got):\n%s", diff)
	}
}

func TestRouteFromCarrier(t *testing.T) {
	r := routing.New(irtest.HarbourView())
	invite := func(ruri, to string) *sip.Request {
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: ruri, Host: "192.0.2.1", Port: 5060})
		req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: to, Host: "carrier.example"}})
		return req
	}
	tests := []struct {
		name, ruri, to string
		target         string
		status         int
	}{
		{"the DDI in the Request-URI", "+35315550101", "+35315550101", "user.mary", 0},
		{"the registered contact, the DDI in To", "harbour", "+35315550101", "user.mary", 0},
		{"the DDI without its +, in To", "harbour", "35315550101", "user.mary", 0},
		{"neither is a DDI", "harbour", "+35319999999", "", 404},
		{"the Request-URI wins", "+35315550101", "+35319999999", "user.mary", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trunk, d := routeFromCarrier(r, []string{"carrier"}, invite(tt.ruri, tt.to))
			if d.Target.String() != tt.target || d.Status != tt.status || trunk != "carrier" {
				t.Errorf("routed to %q (status %d) from %q, want %q (%d) from carrier", d.Target, d.Status, trunk, tt.target, tt.status)
			}
		})
	}

	// Two accounts at one carrier, one address: a number is taken as
	// coming in on the trunk that holds it.
	p := irtest.HarbourView()
	p.Trunks = append(p.Trunks, ir.Trunk{Name: "fax", Host: "sip.carrier.example", DDIs: []string{"+35319990000"}})
	p.DDIs = append(p.DDIs, ir.DDI{Number: "+35319990000", Trunk: "fax", Target: ir.Ref{Kind: ir.RefUser, Name: "aoife"}})
	r = routing.New(p)
	for _, tt := range []struct{ number, trunk, target string }{
		{"+35315550101", "carrier", "user.mary"},
		{"+35319990000", "fax", "user.aoife"},
		{"+35310000000", "carrier", ""},
	} {
		trunk, d := routeFromCarrier(r, []string{"carrier", "fax"}, invite(tt.number, tt.number))
		if trunk != tt.trunk || d.Target.String() != tt.target {
			t.Errorf("%s: routed to %q from %q, want %q from %q", tt.number, d.Target, trunk, tt.target, tt.trunk)
		}
	}
}
