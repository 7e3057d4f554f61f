package akuvox_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
)

// TestNodes checks that a site's second node is the device's backup
// server (SIP.Server2/Port2) and that a third, which has no field, is not
// written.
func TestNodes(t *testing.T) {
	keys := []string{"Config.Account1.SIP.Server", "Config.Account1.SIP.Port", "Config.Account1.SIP.Server2", "Config.Account1.SIP.Port2"}
	for _, tc := range []struct {
		name   string
		backup []ir.SIPServer
		want   []string // values of keys; "" = absent
	}{
		{"one server", nil, []string{"harbour-view.example.net", "5060", "", ""}},
		{"two nodes", []ir.SIPServer{{Server: "sip2.example.net", Port: 5080}}, []string{"harbour-view.example.net", "5060", "sip2.example.net", "5080"}},
		{"three nodes", []ir.SIPServer{{Server: "10.0.0.2", Port: 5060}, {Server: "10.0.0.3", Port: 5060}}, []string{"harbour-view.example.net", "5060", "10.0.0.2", "5060"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := irtest.HarbourView()
			p.Device("front-gate").SIP.Backup = tc.backup
			files, _ := render(t, p, "front-gate")
			m := files["front-gate"]
			var got []string
			for _, k := range keys {
				got = append(got, m[k])
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%v (-want +got):\n%s", keys, diff)
			}
			for k := range m {
				if k == "Config.Account1.SIP.Server3" || k == "Config.Account1.SIP.Port3" {
					t.Errorf("%s written: there is no third server key", k)
				}
			}
		})
	}
}
