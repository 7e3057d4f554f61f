package routing

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
)

// outcome is the part of a Decision a table can state.
type outcome struct {
	Kind   Kind
	Status int
	Target string
	Legs   []string // ring legs' labels, in order
	Trunk  string
	Door   string // door station of a door or monitoring call
	Allow  []string
}

func summarise(d Decision) outcome {
	o := outcome{Kind: d.Kind, Status: d.Status, Target: d.Target.String(), Trunk: d.Trunk}
	for _, l := range d.Ring.Legs {
		o.Legs = append(o.Legs, l.Label)
	}
	if d.Door != nil {
		o.Door, o.Allow = d.Door.Device, d.Door.Allowed
	}
	return o
}

func TestRoute(t *testing.T) {
	r := New(irtest.HarbourView())
	apt1a := []string{"device.monitor-1a", "user.mary", "user.john"}
	tests := []struct {
		name, from, dialled string
		want                outcome
	}{
		{"extension", "app.john", "101", outcome{Kind: Ring, Target: "user.mary", Legs: []string{"user.mary"}}},
		{"gate button", "device.front-gate", "1A", outcome{Kind: Ring, Target: "residence.apt-1a", Legs: apt1a, Door: "front-gate",
			Allow: []string{"app.john", "app.mary", "device.desk-101", "device.desk-102", "device.monitor-1a"}}},
		{"keypad to a user", "device.lobby", "101", outcome{Kind: Ring, Target: "user.mary", Legs: []string{"user.mary"}, Door: "lobby",
			Allow: []string{"app.mary", "device.desk-101"}}},
		{"sequential residence", "device.lobby", "1B", outcome{Kind: Ring, Target: "residence.apt-1b", Legs: []string{"user.aoife", "user.aoife"}, Door: "lobby",
			Allow: []string{"app.aoife", "device.desk-103"}}},
		{"code the door does not have", "device.front-gate", "1B", outcome{Kind: Reject, Status: 404}},
		{"door station never reaches the trunk", "device.front-gate", "+35316000000", outcome{Kind: Reject, Status: 404}},
		{"door station cannot dial extensions", "device.front-gate", "101", outcome{Kind: Reject, Status: 404}},
		{"unknown number", "app.mary", "555", outcome{Kind: Reject, Status: 404}},
		{"unknown account", "app.nobody", "101", outcome{Kind: Reject, Status: 403}},
		{"emergency goes out", "app.mary", "112", outcome{Kind: Outbound, Trunk: "carrier"}},
		{"public number goes out", "app.mary", "+35316000000", outcome{Kind: Outbound, Trunk: "carrier"}},
		{"voicemail access", "app.mary", "*97", outcome{Kind: Voicemail}},
		{"conference room", "app.john", "8101", outcome{Kind: Conference, Target: "conference.mary"}},
		{"monitoring the gate", "app.aoife", "device.front-gate", outcome{Kind: Ring, Target: "device.front-gate", Legs: []string{"device.front-gate"}, Door: "front-gate",
			Allow: []string{"app.john", "app.mary", "device.desk-101", "device.desk-102", "device.monitor-1a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, summarise(r.Route(tt.from, tt.dialled))); diff != "" {
				t.Errorf("Route(%s, %s) (-want +got):\n%s", tt.from, tt.dialled, diff)
			}
		})
	}
}

func TestRouteDDI(t *testing.T) {
	r := New(irtest.HarbourView())
	for _, tt := range []struct {
		trunk, number string
		want          outcome
	}{
		{"carrier", "+35315550101", outcome{Kind: Ring, Target: "user.mary", Legs: []string{"user.mary"}}},
		{"carrier", "35315550101", outcome{Kind: Ring, Target: "user.mary", Legs: []string{"user.mary"}}},
		{"carrier", "0035315550101", outcome{Kind: Ring, Target: "user.mary", Legs: []string{"user.mary"}}},
		{"carrier", "015550101", outcome{Kind: Ring, Target: "user.mary", Legs: []string{"user.mary"}}}, // national, trunk prefix 0
		{"carrier", "15550101", outcome{Kind: Reject, Status: 404}},                                     // neither
		{"carrier", "055501", outcome{Kind: Reject, Status: 404}},                                       // a country code too long
		{"carrier", "+015550101", outcome{Kind: Reject, Status: 404}},
		{"carrier", "+35315550100", outcome{Kind: Reject, Status: 404}}, // in the pool, nobody's
		{"other", "+35315550101", outcome{Kind: Reject, Status: 404}},
	} {
		if diff := cmp.Diff(tt.want, summarise(r.RouteDDI(tt.trunk, tt.number))); diff != "" {
			t.Errorf("RouteDDI(%s, %s) (-want +got):\n%s", tt.trunk, tt.number, diff)
		}
	}
}

func TestMayOpen(t *testing.T) {
	p := irtest.HarbourView()
	r := New(p)
	d := r.Route("device.front-gate", "1A").Door
	relay := &d.Relays[0]
	if !d.MayOpen("app.mary", relay) || d.MayOpen("app.aoife", relay) {
		t.Errorf("default trigger: mary may open, aoife may not")
	}
	relay.Trigger.Policy, relay.Trigger.Accounts = "accounts", []string{"app.aoife"}
	if d.MayOpen("app.mary", relay) || !d.MayOpen("app.aoife", relay) {
		t.Errorf("trigger listing aoife: only aoife may open")
	}
	if got := d.RelayFor(d.Relays[0].DTMF); got == nil || d.RelayFor("0000") != nil {
		t.Errorf("RelayFor: %v", got)
	}
}

// With two trunks a call out goes over the trunk of the caller's own
// number, so the number presented is that carrier's; a caller without one
// uses the first trunk.
func TestOutboundTrunkOfTheCallersNumber(t *testing.T) {
	p := irtest.HarbourView()
	p.Trunks = append([]ir.Trunk{{Name: "backup", Host: "sip.backup.example", DDIs: []string{"+35319990000"}}}, p.Trunks...)
	p.DDIs = append(p.DDIs, ir.DDI{Number: "+35319990000", Trunk: "backup", Target: ir.Ref{Kind: ir.RefUser, Name: "aoife"}})
	slices.SortFunc(p.DDIs, func(a, b ir.DDI) int { return strings.Compare(a.Number, b.Number) })
	r := New(p)
	for _, tt := range []struct{ from, want string }{
		{"app.mary", "carrier"}, // her DDI is on carrier
		{"app.aoife", "backup"}, // hers is on backup
		{"app.john", "backup"},  // none: the first trunk by name
	} {
		for _, number := range []string{"+35316000000", "112"} {
			if got := r.Route(tt.from, number); got.Kind != Outbound || got.Trunk != tt.want {
				t.Errorf("Route(%s, %s) = %s over %q, want out over %q", tt.from, number, got.Kind, got.Trunk, tt.want)
			}
		}
	}
}

// A spare number of the pool (one no user holds) goes where the trunk's
// unassigned says, in any format the carrier delivers it; with nothing set
// it is refused with 404, saying the number is spare.
func TestRouteSpareDDI(t *testing.T) {
	mary := ir.Ref{Kind: ir.RefUser, Name: "mary"}
	for _, tt := range []struct {
		name       string
		unassigned ir.Ref
		mailbox    string
		number     string
		want       outcome
		fallback   string
	}{
		{"default refuses", ir.Ref{}, "", "+35315550100", outcome{Kind: Reject, Status: 404}, ""},
		{"to a residence", ir.Ref{Kind: ir.RefResidence, Name: "apt-1b"}, "", "+35315550100",
			outcome{Kind: Ring, Target: "residence.apt-1b", Legs: []string{"user.aoife", "user.aoife"}}, "hangup"},
		{"to a user, national format", mary, "", "015550100", outcome{Kind: Ring, Target: "user.mary", Legs: []string{"user.mary"}}, "voicemail mary"},
		{"straight to voicemail", mary, "mary", "+35315550100", outcome{Kind: Ring, Target: "user.mary"}, "voicemail mary"},
		{"an assigned number is not spare", mary, "mary", "+35315550101", outcome{Kind: Ring, Target: "user.mary", Legs: []string{"user.mary"}}, "voicemail mary"},
		{"not in the pool at all", mary, "", "+35315559999", outcome{Kind: Reject, Status: 404}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := irtest.HarbourView()
			p.Trunks[0].Unassigned, p.Trunks[0].UnassignedMailbox = tt.unassigned, tt.mailbox
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			dec := New(p).RouteDDI("carrier", tt.number)
			if diff := cmp.Diff(tt.want, summarise(dec)); diff != "" {
				t.Errorf("RouteDDI(carrier, %s) (-want +got):\n%s", tt.number, diff)
			}
			if dec.Kind == Ring && dec.Ring.NoAnswer.String() != tt.fallback {
				t.Errorf("fallback %q, want %q", dec.Ring.NoAnswer, tt.fallback)
			}
			if dec.Kind == Reject && tt.unassigned.IsZero() && tt.number == "+35315550100" && !strings.Contains(dec.Reason, "spare") {
				t.Errorf("reason %q does not say the number is spare", dec.Reason)
			}
		})
	}
}
