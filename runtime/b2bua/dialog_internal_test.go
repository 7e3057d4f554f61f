package b2bua

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"
)

// A caller's INVITE that came through record-routing proxies: our requests
// in its dialog go through them in the INVITE's order (RFC 3261 §12.1.1),
// to where the INVITE came from; the callee's 2xx gives the route set in
// reverse (§12.1.2), and requests go to its first entry.
func TestRouteSets(t *testing.T) {
	raw := "INVITE sip:1A@pbx.example SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK1\r\n" +
		"Record-Route: <sip:edge-near-us.example;lr>\r\n" +
		"Record-Route: <sip:edge-near-door.example;lr>, <sip:[2001:db8::1]:5070;lr>\r\n" +
		"From: <sip:device.gate@pbx.example>;tag=door\r\n" +
		"To: <sip:1A@pbx.example>\r\n" +
		"Call-ID: rr-test\r\n" +
		"CSeq: 1 INVITE\r\n" +
		"Contact: <sip:gate@10.0.0.9:5060>\r\n" +
		"Content-Length: 0\r\n\r\n"
	msg, err := sip.NewParser().ParseSIP([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	inv := msg.(*sip.Request)
	inv.SetSource("192.0.2.7:5060")
	inv.SetTransport("UDP")

	routes := func(r *sip.Request) []string {
		var out []string
		for _, h := range r.GetHeaders("Route") {
			out = append(out, h.Value())
		}
		return out
	}
	c := &call{inv: inv, toTag: "ours"}
	bye := c.toCaller(sip.BYE)
	want := []string{"<sip:edge-near-us.example;lr>", "<sip:edge-near-door.example;lr>", "<sip:[2001:db8::1]:5070;lr>"}
	if diff := cmp.Diff(want, routes(bye)); diff != "" {
		t.Errorf("BYE to the caller: Route (-want +got):\n%s", diff)
	}
	if bye.Destination() != "192.0.2.7:5060" || !strings.HasPrefix(bye.StartLine(), "BYE sip:gate@10.0.0.9:5060 ") {
		t.Errorf("BYE to the caller: %q to %s", bye.StartLine(), bye.Destination())
	}

	// The same headers as a callee's 2xx: reversed, and the first one
	// is the next hop.
	res := sip.NewResponseFromRequest(inv, 200, "OK", nil)
	res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "phone", Host: "10.0.0.5", Port: 5062}})
	b := &branch{req: inv, res: res}
	ack := c.toCallee(b, sip.ACK, 1)
	if diff := cmp.Diff([]string{want[2], want[1], want[0]}, routes(ack)); diff != "" {
		t.Errorf("ACK to the callee: Route (-want +got):\n%s", diff)
	}
	if ack.Destination() != "[2001:db8::1]:5070" || !strings.HasPrefix(ack.StartLine(), "ACK sip:phone@10.0.0.5:5062 ") {
		t.Errorf("ACK to the callee: %q to %s", ack.StartLine(), ack.Destination())
	}
}
