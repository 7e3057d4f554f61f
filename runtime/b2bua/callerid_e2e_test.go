package b2bua_test

import (
	"context"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/events"
	"switchboard/simulate/device"
)

// callerNameSite is trunkSite with a name, mary's desk phone in the studio
// and the flat's monitor in its hall: devices whose locations are the
// site's business.
var callerNameSite = strings.Replace(trunkSite, `site "trunks" {`, `site "trunks" {
  name = "Trunk Towers"`, 1) + `
device "studio-phone" {
  model    = "yealink-t54w"
  mac      = "80:5E:C0:00:00:09"
  user     = user.mary
  location = "Studio, bench 1"
}
device "hall-monitor" {
  model     = "akuvox-c315"
  mac       = "0C:11:05:00:00:02"
  residence = residence.apt-1a
  location  = "Hall, flat 1A"
}
`

// A call out presents a public name only (issue 13: a device's location,
// "Studio, bench 1", went to the carrier as the caller's display name):
// a person's phone presents its user's name, a flat's monitor the site's,
// in From and in P-Asserted-Identity alike, over real SIP to a carrier.
func TestCallOutPresentsNoLocation(t *testing.T) {
	car, addr := startCarrierHub(t, trunkPassword, false)
	h := startTrunkServer(t, addr, serverOptions{vars: siteTrunkVars, src: callerNameSite})
	h.next("trunk_registered", kindOf(events.TrunkRegistered))
	mary := h.p.User("mary").DisplayName
	// The phone's account carries its user's name (issue 16), the monitor's
	// its location: the runtime must still send neither location out.
	if mary == "" || h.p.Site.DisplayName != "Trunk Towers" || h.p.Device("studio-phone").Location != "Studio, bench 1" || h.p.Account("device.hall-monitor").DisplayName != "Hall, flat 1A" {
		t.Fatalf("the site does not set up the case: mary %q, site %q, phone at %q, monitor %q", mary, h.p.Site.DisplayName, h.p.Device("studio-phone").Location, h.p.Account("device.hall-monitor").DisplayName)
	}
	tests := []struct {
		account, number, want string
	}{
		{"device.studio-phone", "+15550101", mary},
		{"device.hall-monitor", "+15550102", "Trunk Towers"},
		{"app.mary", "+15550103", mary},
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	for _, tt := range tests {
		d := h.device(tt.account)
		call, err := d.Dial(ctx, tt.number)
		if err != nil {
			t.Errorf("%s calls %s: %v", tt.account, tt.number, err)
			continue
		}
		var inv *sip.Request
		for _, r := range car.received() {
			if r.Recipient.User == tt.number && r.GetHeader("Proxy-Authorization") != nil {
				inv = r
			}
		}
		if inv == nil {
			t.Fatalf("%s: the carrier got no INVITE to %s", tt.account, tt.number)
		}
		pai := inv.GetHeader("P-Asserted-Identity")
		if got := inv.From().DisplayName; got != tt.want {
			t.Errorf("%s: From display name %q, want %q", tt.account, got, tt.want)
		}
		if pai == nil || !strings.Contains(pai.Value(), `"`+tt.want+`"`) {
			t.Errorf("%s: P-Asserted-Identity %v, want the name %q", tt.account, pai, tt.want)
		}
		for _, hdr := range inv.Headers() {
			if v := hdr.Value(); strings.Contains(v, "Studio") || strings.Contains(v, "Hall") {
				t.Errorf("%s: the carrier's INVITE says where the device is: %s: %s", tt.account, hdr.Name(), v)
			}
		}
		if err := call.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// callerIDSite is e2eSite with a named person and a door station with a
// location: what internal callees are shown.
var callerIDSite = strings.NewReplacer(
	`user "mary" {`, `user "mary" {
  first_name = "Mary"
  last_name  = "Byrne"`,
	`device "gate" {`, `device "gate" {
  location = "Front gate"`,
).Replace(e2eSite)

// Internal calls present the caller as "Name" <sip:number@domain> (issue
// 16): a person by their name and extension, so that the callee can call
// back the number shown; a door station by its location and the button
// pressed; a device of nobody by its name and account. The From is the
// one each callee saw over real SIP.
func TestInternalCallerID(t *testing.T) {
	h := startSite(t, callerIDSite, nil)
	tests := []struct {
		name, caller, dial, callee string
		wantName, wantUser         string
	}{
		{"person to person", "app.mary", "102", "app.tom", "Mary Byrne", "101"},
		{"door to residence", "device.gate", "1A", "app.tom", "Front gate, button 1", "device.gate"},
		{"monitor to person", "device.monitor-1a", "201", "app.ann", "monitor-1a", "device.monitor-1a"},
	}
	devices := map[string]*device.Device{}
	for _, a := range []string{"app.mary", "app.tom", "app.ann", "device.gate", "device.monitor-1a"} {
		devices[a] = h.device(a)
		devices[a].SetAnswer(device.Pickup, 0)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			callee := devices[tt.callee]
			before := len(callee.Incoming())
			call, err := devices[tt.caller].Dial(ctx, tt.dial)
			if err != nil {
				t.Fatalf("%s dials %s: %v", tt.caller, tt.dial, err)
			}
			in, err := callee.WaitIncoming(ctx, func(in []device.Incoming) bool { return len(in) > before })
			if err != nil {
				t.Fatal(err)
			}
			got := [2]string{in[before].FromName, in[before].From}
			if diff := cmp.Diff([2]string{tt.wantName, tt.wantUser}, got); diff != "" {
				t.Errorf("%s saw From (-want +got):\n%s", tt.callee, diff)
			}
			if err := call.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}
