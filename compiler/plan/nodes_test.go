package plan_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/compiler/plan"
)

// TestNodesChangeEveryDevice: adding a node to a site changes every
// device's server settings (its backup server, and the files that carry
// it), so apply re-provisions each one; nothing else changes.
func TestNodesChangeEveryDevice(t *testing.T) {
	k := testKey(t)
	st := applied(desired(t, irtest.HarbourView(), k, nil))

	p := irtest.HarbourView()
	var want []string
	for i := range p.Devices {
		p.Devices[i].SIP.Backup = []ir.SIPServer{{Server: "sip2.example.net", Port: 5060}}
		want = append(want, "update device."+p.Devices[i].Name)
	}
	pl := plan.Diff(desired(t, p, k, nil), st)
	got := actions(pl)
	if d := cmp.Diff(want, slices.Sorted(slices.Values(got))); d != "" {
		t.Errorf("actions (-want +got):\n%s", d)
	}
	for _, c := range pl.Changes {
		var names []string
		for _, a := range c.Attributes {
			if strings.HasPrefix(a.Name, "sip.") {
				names = append(names, a.Name+" = "+a.After)
			}
		}
		if d := cmp.Diff([]string{`sip.backup[0].port = 5060`, `sip.backup[0].server = "sip2.example.net"`}, names); d != "" {
			t.Errorf("%s: sip attributes (-want +got):\n%s", c.Address, d)
		}
	}
}
