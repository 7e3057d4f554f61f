package b2bua_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"switchboard/runtime/events"
	"switchboard/simulate/device"
)

// A request that requires an extension the server does not implement gets
// 420 Bad Extension naming it (RFC 3261 §8.2.2.3); one it implements, or
// one merely Supported, goes on as usual (here: to the digest challenge).
func TestRequireUnknownExtension(t *testing.T) {
	h := start(t)
	p := newUDPPeer(t, h.addr)
	port := p.conn.LocalAddr().(*net.UDPAddr).Port
	request := func(method, branch, extra string) []byte {
		var b strings.Builder
		fmt.Fprintf(&b, "%s sip:1A@e2e.example SIP/2.0\r\n", method)
		fmt.Fprintf(&b, "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%s;rport\r\nMax-Forwards: 70\r\n", port, branch)
		b.WriteString("From: <sip:device.gate@e2e.example>;tag=g1\r\nTo: <sip:1A@e2e.example>\r\n")
		fmt.Fprintf(&b, "Call-ID: require-%s\r\nCSeq: 1 %s\r\n", branch, method)
		fmt.Fprintf(&b, "Contact: <sip:device.gate@127.0.0.1:%d>\r\n%sContent-Length: 0\r\n\r\n", port, extra)
		return []byte(b.String())
	}
	tests := []struct {
		name, method, headers string
		status                int
		unsupported           string
	}{
		{"100rel and timer", "INVITE", "Require: 100rel, timer\r\nRequire: 100REL\r\n", 420, "100rel, timer"},
		{"path only", "REGISTER", "Require: path\r\n", 401, ""},
		{"supported, not required", "INVITE", "Supported: 100rel, timer\r\n", 407, ""},
		{"on SUBSCRIBE", "SUBSCRIBE", "Event: message-summary\r\nRequire: foo\r\n", 420, "foo"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := parseResponse(t, p.exchange(request(tt.method, fmt.Sprint(i), tt.headers)))
			if res.StatusCode != tt.status {
				t.Fatalf("%s: %d %s, want %d", tt.method, res.StatusCode, res.Reason, tt.status)
			}
			got := ""
			if u := res.GetHeader("Unsupported"); u != nil {
				got = u.Value()
			}
			if got != tt.unsupported {
				t.Errorf("Unsupported: %q, want %q", got, tt.unsupported)
			}
		})
	}
}

// OPTIONS (a device's keep-alive, or a peer asking) names the methods,
// body type, extensions and event packages the server serves.
func TestOptionsSaysWhatWeServe(t *testing.T) {
	h := start(t)
	p := newUDPPeer(t, h.addr)
	port := p.conn.LocalAddr().(*net.UDPAddr).Port
	msg := fmt.Sprintf("OPTIONS sip:e2e.example SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-options;rport\r\nMax-Forwards: 70\r\n"+
		"From: <sip:probe@e2e.example>;tag=o1\r\nTo: <sip:e2e.example>\r\nCall-ID: options-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", port)
	res := parseResponse(t, p.exchange([]byte(msg)))
	if res.StatusCode != 200 {
		t.Fatalf("OPTIONS: %d %s", res.StatusCode, res.Reason)
	}
	for name, want := range map[string]string{
		"Allow":        "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, SUBSCRIBE",
		"Accept":       "application/sdp",
		"Supported":    "path",
		"Allow-Events": "message-summary, dialog",
	} {
		if h := res.GetHeader(name); h == nil || h.Value() != want {
			t.Errorf("%s: %v, want %q", name, h, want)
		}
	}
}

// rawCaller places INVITEs by hand from a UDP peer as account, answering
// the server's digest challenge.
type rawCaller struct {
	t        *testing.T
	p        *udpPeer
	port     int
	account  string
	password string
	sdp      string // the INVITEs' offer; none when empty
}

func newRawCaller(t *testing.T, h *harness, account string) *rawCaller {
	p := newUDPPeer(t, h.addr)
	password, _ := h.secrets.SIPPassword(account)
	return &rawCaller{t: t, p: p, port: p.conn.LocalAddr().(*net.UDPAddr).Port, account: account, password: password}
}

func (rc *rawCaller) invite(ruri, callID string, cseq, maxForwards int, auth string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "INVITE %s SIP/2.0\r\n", ruri)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%s-%d;rport\r\nMax-Forwards: %d\r\n", rc.port, callID, cseq, maxForwards)
	fmt.Fprintf(&b, "From: <sip:%s@e2e.example>;tag=g-%s\r\nTo: <%s>\r\n", rc.account, callID, ruri)
	fmt.Fprintf(&b, "Call-ID: %s\r\nCSeq: %d INVITE\r\nContact: <sip:%s@127.0.0.1:%d>\r\n", callID, cseq, rc.account, rc.port)
	if auth != "" {
		fmt.Fprintf(&b, "Proxy-Authorization: %s\r\n", auth)
	}
	if rc.sdp != "" {
		fmt.Fprintf(&b, "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", len(rc.sdp), rc.sdp)
		return []byte(b.String())
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return []byte(b.String())
}

// call sends an INVITE to ruri, answers the 407 (acknowledging it) and
// returns the server's first answer past 100 to the INVITE with
// credentials.
func (rc *rawCaller) call(ruri, callID string, maxForwards int) *sip.Response {
	rc.t.Helper()
	res, _ := rc.place(ruri, callID, maxForwards)
	return res
}

// place is call, and returns the INVITE with credentials too, for a test
// to send again as a retransmission.
func (rc *rawCaller) place(ruri, callID string, maxForwards int) (*sip.Response, []byte) {
	t := rc.t
	t.Helper()
	chal := parseResponse(t, rc.p.exchange(rc.invite(ruri, callID, 1, maxForwards, "")))
	if chal.StatusCode != 407 {
		t.Fatalf("INVITE %s without credentials: %d, want 407", ruri, chal.StatusCode)
	}
	ack := fmt.Sprintf("ACK %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%s-1;rport\r\nMax-Forwards: 70\r\n"+
		"From: <sip:%s@e2e.example>;tag=g-%s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
		ruri, rc.port, callID, rc.account, callID, chal.To().Value(), callID)
	if _, err := rc.p.conn.WriteTo([]byte(ack), rc.p.srv); err != nil {
		t.Fatal(err)
	}
	c, err := digest.ParseChallenge(chal.GetHeader("Proxy-Authenticate").Value())
	if err != nil {
		t.Fatal(err)
	}
	cred, err := digest.Digest(c, digest.Options{Method: "INVITE", URI: ruri, Username: rc.account, Password: rc.password})
	if err != nil {
		t.Fatal(err)
	}
	invite := rc.invite(ruri, callID, 2, maxForwards, cred.String())
	for {
		res := parseResponse(t, rc.p.exchange(invite))
		if res.CSeq().SeqNo == 2 && res.StatusCode >= 180 {
			return res, invite
		}
	}
}

// cancel gives up the call callID placed.
func (rc *rawCaller) cancel(ruri, callID string) {
	msg := fmt.Sprintf("CANCEL %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%s-2;rport\r\nMax-Forwards: 70\r\n"+
		"From: <sip:%s@e2e.example>;tag=g-%s\r\nTo: <%s>\r\nCall-ID: %s\r\nCSeq: 2 CANCEL\r\nContent-Length: 0\r\n\r\n",
		ruri, rc.port, callID, rc.account, callID, ruri, callID)
	if _, err := rc.p.conn.WriteTo([]byte(msg), rc.p.srv); err != nil {
		rc.t.Fatal(err)
	}
}

// An authenticated INVITE with Max-Forwards 0 is a loop: 483, nothing
// rings. Otherwise each leg carries one less than the caller's.
func TestMaxForwards(t *testing.T) {
	h := start(t)
	mary := h.device("app.mary")
	h.device("app.tom")
	h.device("device.monitor-1a")
	gate := newRawCaller(t, h, "device.gate")
	const flat = "sip:1A@e2e.example"
	authorized := func(callID string, maxForwards int) *sip.Response { return gate.call(flat, callID, maxForwards) }
	if res := authorized("loop", 0); res.StatusCode != 483 {
		t.Errorf("Max-Forwards 0: %d %s, want 483", res.StatusCode, res.Reason)
	}
	if in := mary.Incoming(); len(in) != 0 {
		t.Errorf("mary rang for a looping call: %+v", in)
	}
	authorized("hops", 5) // 180 from the ring
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	in, err := mary.WaitIncoming(ctx, func(in []device.Incoming) bool { return len(in) == 1 })
	if err != nil {
		t.Fatal(err)
	}
	if in[0].MaxForwards != 4 {
		t.Errorf("mary's INVITE has Max-Forwards %d, want 4 (the caller's 5, less one)", in[0].MaxForwards)
	}
	// The gate gives up: CANCEL, and the server ends the ring.
	gate.cancel(flat, "hops")
	h.waitEvent("call_ended", func(e events.Event) bool { return e.Kind == events.CallEnded })
}

// A phone set to "use tel URI" dials tel:101;phone-context=…: the number
// is routed like a SIP URI's user part. A scheme the server has nothing
// to do with gets 416 (RFC 3261 §8.2.2.1).
func TestTelURI(t *testing.T) {
	h := start(t)
	mary := h.device("app.mary")
	tom := newRawCaller(t, h, "app.tom")
	const tel = "tel:1-01;phone-context=e2e.example"
	if res := tom.call(tel, "tel", 70); res.StatusCode != 180 {
		t.Fatalf("INVITE %s: %d %s, want 180 (mary ringing)", tel, res.StatusCode, res.Reason)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := mary.WaitIncoming(ctx, func(in []device.Incoming) bool { return len(in) == 1 }); err != nil {
		t.Fatal(err)
	}
	tom.cancel(tel, "tel")
	h.waitEvent("call_ended", func(e events.Event) bool { return e.Kind == events.CallEnded })

	other := newRawCaller(t, h, "app.tom") // a socket without the last call's answers
	res := parseResponse(t, other.p.exchange(other.invite("mailto:mary@e2e.example", "mailto", 1, 70, "")))
	if res.StatusCode != 416 {
		t.Errorf("INVITE mailto: %d %s, want 416", res.StatusCode, res.Reason)
	}
}

// A video door station's offer is long (videoOffer); the INVITEs forked
// to the flat then pass 1 300 bytes, where sipgo would refuse to send them
// over UDP. The simulated app takes no TCP connection, so its INVITE goes
// over UDP after the refused attempt (TestLargeInviteTransport): the flat
// must ring, as with Kamailio or Asterisk.
func TestLargeInviteReachesDevices(t *testing.T) {
	h := start(t)
	mary := h.device("app.mary")
	gate := newRawCaller(t, h, "device.gate")
	gate.sdp = videoOffer()
	if len(gate.sdp) < 1100 { // with the headers, well over 1 300
		t.Fatalf("the test's offer is only %d bytes", len(gate.sdp))
	}
	if res := gate.call("sip:1A@e2e.example", "big", 70); res.StatusCode != 180 {
		t.Fatalf("a door call with a %d-byte offer: %d %s, want 180", len(gate.sdp), res.StatusCode, res.Reason)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := mary.WaitIncoming(ctx, func(in []device.Incoming) bool { return len(in) == 1 }); err != nil {
		t.Fatalf("mary: %v", err)
	}
	gate.cancel("sip:1A@e2e.example", "big")
	h.waitEvent("call_ended", func(e events.Event) bool { return e.Kind == events.CallEnded })
}

// A body the server cannot use — neither SDP nor holding any — gets 415
// naming what it accepts (RFC 3261 §8.2.3); nothing rings.
func TestBodyWithoutSDP(t *testing.T) {
	h := start(t)
	mary := h.device("app.mary")
	gate := newRawCaller(t, h, "device.gate")
	p := gate.p
	msg := fmt.Sprintf("INVITE sip:1A@e2e.example SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-text;rport\r\nMax-Forwards: 70\r\n"+
		"From: <sip:device.gate@e2e.example>;tag=g-text\r\nTo: <sip:1A@e2e.example>\r\nCall-ID: text\r\nCSeq: 1 INVITE\r\n"+
		"Contact: <sip:device.gate@127.0.0.1:%d>\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello", gate.port, gate.port)
	// The 407 comes first: the body is looked at only for a caller who
	// proved who it is.
	chal := parseResponse(t, p.exchange([]byte(msg)))
	if chal.StatusCode != 407 {
		t.Fatalf("first answer %d, want 407", chal.StatusCode)
	}
	c, err := digest.ParseChallenge(chal.GetHeader("Proxy-Authenticate").Value())
	if err != nil {
		t.Fatal(err)
	}
	cred, err := digest.Digest(c, digest.Options{Method: "INVITE", URI: "sip:1A@e2e.example", Username: "device.gate", Password: gate.password})
	if err != nil {
		t.Fatal(err)
	}
	authed := strings.Replace(strings.Replace(msg, "CSeq: 1 INVITE", "CSeq: 2 INVITE\r\nProxy-Authorization: "+cred.String(), 1), "branch=z9hG4bK-text", "branch=z9hG4bK-text2", 1)
	for {
		res := parseResponse(t, p.exchange([]byte(authed)))
		if res.CSeq().SeqNo != 2 {
			continue // the 407's retransmission
		}
		if res.StatusCode != 415 {
			t.Fatalf("a text/plain body: %d %s, want 415", res.StatusCode, res.Reason)
		}
		if a := res.GetHeader("Accept"); a == nil || a.Value() != "application/sdp" {
			t.Errorf("415 with Accept %v, want application/sdp", a)
		}
		break
	}
	if in := mary.Incoming(); len(in) != 0 {
		t.Errorf("mary rang: %+v", in)
	}
}
