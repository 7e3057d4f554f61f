package b2bua_test

import (
	"context"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"switchboard/runtime/events"
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
