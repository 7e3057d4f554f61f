package b2bua

import (
	"bytes"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/ir/irtest"
	"switchboard/runtime/routing"
)

// requestSeeds are messages as the call core receives them: a door
// station's INVITE, a carrier's SIP-I INVITE, a tel: URI from a phone set
// to use them, a re-INVITE putting the call on hold, and the malformed
// kinds of the security review.
var requestSeeds = []string{
	"INVITE sip:R1@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-1;rport\r\nMax-Forwards: 70\r\nFrom: <sip:device.door@bench.example>;tag=1\r\nTo: <sip:R1@bench.example>\r\nCall-ID: 1-1@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:device.door@127.0.0.1:5071>\r\nContent-Type: application/sdp\r\nContent-Length: 134\r\n\r\n" + sdpText + "a=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n",
	"INVITE sip:+35315550101@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKc\r\nMax-Forwards: 12\r\nFrom: <sip:+15550100@carrier.example>;tag=c\r\nTo: <sip:harbour@carrier.example>\r\nCall-ID: c@carrier\r\nCSeq: 7 INVITE\r\nContact: <sip:198.51.100.1:5060;transport=tcp>\r\nContent-Type: multipart/mixed;boundary=b\r\n\r\n--b\r\nContent-Type: application/sdp\r\n\r\n" + sdpText + "\r\n--b\r\nContent-Type: application/ISUP;version=itu-t92+\r\n\r\n\x01\x00\r\n--b--\r\n",
	"INVITE tel:+353-1-555-0101;phone-context=+353 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKt\r\nFrom: <sip:app.mary@x>;tag=t\r\nTo: <tel:+353-1-555-0101>\r\nCall-ID: t\r\nCSeq: 1 INVITE\r\nMax-Forwards: 0\r\n\r\n",
	"INVITE sip:1A@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKr\r\nFrom: <sip:app.mary@x>;tag=a\r\nTo: <sip:1A@x>;tag=b\r\nCall-ID: r\r\nCSeq: 2 INVITE\r\nContact: <sips:[2001:db8::1]>\r\nContent-Type: application/sdp\r\n\r\nv=0\r\na=sendrecv\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\nm=video 4002 RTP/AVP 96\r\na=inactive\r\n",
	"INVITE mailto:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK1\r\nCall-ID: m\r\nCSeq: 1 INVITE\r\nMax-Forwards: 99999999999\r\n\r\n",
	"INVITE tel:-.() SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK2\r\nContent-Type: multipart/mixed;boundary=\r\nContent-Length: 4\r\n\r\n--\r\n",
	"INVITE sip:R1@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK3\r\nContent-Type: application/sdp\r\nContent-Length: 20\r\n\r\nv=0\r\nm=audio x RTP\r\n",
	"SIP/2.0 183 Session Progress\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK4\r\nContact: <sip:callee@10.0.0.7>\r\nContent-Type: application/sdp\r\n\r\n" + sdpText,
}

// FuzzRequest feeds messages as sipgo parses them off the network through
// what the call core reads of them before any socket: the number dialled,
// Max-Forwards, the Call-ID, the SDP of the body, the audio direction of a
// re-INVITE, the route of a carrier's call, and the address a Contact is
// sent to. Each is checked against what it promises.
func FuzzRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	router := routing.New(irtest.HarbourView())
	trunks := []string{"carrier", "fax"}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := sip.NewParser().ParseSIP(data)
		if err != nil {
			return
		}
		if m, ok := msg.(interface {
			Body() []byte
			GetHeader(string) sip.Header
		}); ok {
			checkSDPOf(t, m)
		}
		if ct := contactOf(msg); ct != nil {
			dest := Contact{URI: ct.Address}.dest()
			if _, port, err := net.SplitHostPort(dest); err != nil {
				t.Fatalf("contact %s: destination %q: %v", ct.Address.String(), dest, err)
			} else if _, err := strconv.Atoi(port); err != nil {
				t.Fatalf("contact %s: destination port %q", ct.Address.String(), port)
			}
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			return
		}

		number, ok := dialled(req)
		switch scheme := strings.ToLower(req.Recipient.Scheme); scheme {
		case "sip", "sips", "":
			if !ok || number != req.Recipient.User {
				t.Fatalf("dialled %q, %v from %s URI user %q", number, ok, scheme, req.Recipient.User)
			}
		case "tel":
			if ok != (number != "") || strings.ContainsAny(number, "-.();") {
				t.Fatalf("dialled %q, %v from %q", number, ok, req.Recipient.String())
			}
		default:
			if ok {
				t.Fatalf("dialled %q from a %s URI", number, scheme)
			}
		}

		want := uint32(70)
		if h := req.MaxForwards(); h != nil {
			want = h.Val()
		}
		if got := maxForwards(req); got != want {
			t.Fatalf("Max-Forwards %d, header says %d", got, want)
		}
		if id := callIDOf(req); req.CallID() != nil && id != req.CallID().Value() {
			t.Fatalf("Call-ID %q, header %q", id, req.CallID().Value())
		}

		if dir := direction(req.Body()); !slices.Contains([]string{"sendrecv", "sendonly", "recvonly", "inactive"}, dir) {
			t.Fatalf("direction %q", dir)
		}

		trunk, dec := routeFromCarrier(router, trunks, req)
		if !slices.Contains(trunks, trunk) {
			t.Fatalf("routed from trunk %q, not one of %q", trunk, trunks)
		}
		if dec.Kind == routing.Reject && dec.Status < 400 {
			t.Fatalf("rejected with status %d", dec.Status)
		}
	})
}

// checkSDPOf checks sdpOf on m: nothing for no body, else SDP found in the
// body or errNotSDP.
func checkSDPOf(t *testing.T, m interface {
	Body() []byte
	GetHeader(string) sip.Header
}) {
	t.Helper()
	got, err := sdpOf(m)
	if err != nil && !errors.Is(err, errNotSDP) {
		t.Fatalf("sdpOf: %v", err)
	}
	body := m.Body()
	switch {
	case len(body) == 0 && (got != nil || err != nil):
		t.Fatalf("no body gave %q, %v", got, err)
	case err == nil && len(body) > 0 && (len(got) == 0 || !bytes.Contains(body, got)):
		t.Fatalf("SDP %q is not part of the body %q", got, body)
	}
}

func contactOf(m sip.Message) *sip.ContactHeader {
	switch m := m.(type) {
	case *sip.Request:
		return m.Contact()
	case *sip.Response:
		return m.Contact()
	}
	return nil
}
