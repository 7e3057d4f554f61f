package grandstream_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
)

// TestNodes checks that a site's second node is the secondary SIP server
// (P2312 on phones, P2412 on GDS door systems), written as the primary is
// (the port only when not 5060), and that a third node is not written.
func TestNodes(t *testing.T) {
	for _, tc := range []struct {
		name                       string
		device                     string
		primary, secondary         int
		backup                     []ir.SIPServer
		wantPrimary, wantSecondary string
	}{
		{"phone, one server", "desk-103", 47, 2312, nil, "harbour-view.example.net", ""},
		{"phone, two nodes", "desk-103", 47, 2312, []ir.SIPServer{{Server: "sip2.example.net", Port: 5060}}, "harbour-view.example.net", "sip2.example.net"},
		{"phone, three nodes", "desk-103", 47, 2312, []ir.SIPServer{{Server: "sip2.example.net", Port: 5080}, {Server: "sip3.example.net", Port: 5060}}, "harbour-view.example.net", "sip2.example.net:5080"},
		{"door, one server", "side-gate", 402, 2412, nil, "harbour-view.example.net", ""},
		{"door, two nodes", "side-gate", 402, 2412, []ir.SIPServer{{Server: "10.0.0.2", Port: 5070}}, "harbour-view.example.net", "10.0.0.2:5070"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := irtest.HarbourView()
			p.Device(tc.device).SIP.Backup = tc.backup
			s, _ := render(t, p, tc.device)
			want := map[int]string{tc.primary: tc.wantPrimary, tc.secondary: tc.wantSecondary}
			got := map[int]string{tc.primary: s.P[tc.primary], tc.secondary: s.P[tc.secondary]}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("P-values (-want +got):\n%s", diff)
			}
			if _, ok := s.P[tc.secondary]; ok != (tc.wantSecondary != "") {
				t.Errorf("P%d present = %v", tc.secondary, ok)
			}
		})
	}
}
