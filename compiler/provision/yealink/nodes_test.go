package yealink_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
)

// TestNodes checks that a site's nodes reach the phone as server 1 and its
// backup, server 2, and that a third node, which has no field, is not
// written.
func TestNodes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		backup []ir.SIPServer
		want   map[string]string // sip_server.* keys; "" = absent
	}{
		{"one server", nil, map[string]string{
			"account.1.sip_server.1.address": "harbour-view.example.net", "account.1.sip_server.1.port": "5060",
			"account.1.sip_server.2.address": "", "account.1.sip_server.2.port": "",
			"account.1.sip_server.2.transport_type": "", "account.1.sip_server.2.expires": "",
		}},
		{"two nodes", []ir.SIPServer{{Server: "sip2.example.net", Port: 5080}}, map[string]string{
			"account.1.sip_server.1.address": "harbour-view.example.net", "account.1.sip_server.1.port": "5060",
			"account.1.sip_server.2.address": "sip2.example.net", "account.1.sip_server.2.port": "5080",
			"account.1.sip_server.2.transport_type": "1", "account.1.sip_server.2.expires": "300",
		}},
		{"three nodes", []ir.SIPServer{{Server: "sip2.example.net", Port: 5060}, {Server: "sip3.example.net", Port: 5060}}, map[string]string{
			"account.1.sip_server.2.address": "sip2.example.net", "account.1.sip_server.2.port": "5060",
			"account.1.sip_server.3.address": "", "account.1.sip_server.3.port": "",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := irtest.HarbourView()
			d := p.Device("desk-101")
			d.SIP.Transport = "tcp"
			d.SIP.Backup = tc.backup
			files, warns := renderAll(t, p, "desk-101")
			if len(warns) != 0 {
				t.Errorf("warnings: %v", warns)
			}
			_, m := settings(t, files["805ec0112233.cfg"])
			got := map[string]string{}
			for k := range tc.want {
				got[k] = m[k]
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("server keys (-want +got):\n%s", diff)
			}
		})
	}
}
