package b2bua_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/simulate/device"
)

// testSDP is a plain audio offer.
const testSDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"

// A lost 200 reaches the caller all the same (issue 19, stragglers: RFC
// 3261 §13.3.1.4). Over UDP the 2xx to an INVITE is retransmitted by the
// core, not the transaction; the server never did, so a caller whose 200
// was lost — it had our 100 Trying and had stopped retransmitting its
// INVITE — waited until it gave up. Here the caller never ACKs: the 200
// must come again, within T1 doubled, and stop once the ACK arrives.
func TestAnswerRetransmittedUntilAcked(t *testing.T) {
	h := start(t)
	ann := h.device("app.ann")
	ann.SetAnswer(device.Pickup, 0)
	mary := newRawCaller(t, h, "app.mary")
	mary.sdp = testSDP
	const ruri = "sip:201@e2e.example"
	res, _ := mary.place(ruri, "lost-200", 70)
	for res.StatusCode < 200 {
		res = parseResponse(t, mary.p.read())
	}
	if res.StatusCode != 200 {
		t.Fatalf("mary calls ann, who answers: %d %s", res.StatusCode, res.Reason)
	}
	// The first 200 is "lost": not acknowledged. Another must come: the
	// first is due T1 (0.5 s) later, the next ones 1, 2 and 4 s apart, so
	// several are due within the 10 s waited here, however late a loaded
	// machine runs the server's timer (CI once saw none within 3 s).
	again := readResponse(t, mary.p, 10*time.Second)
	if again == nil {
		t.Fatal("the 200 was not retransmitted within 10 s while no ACK came (RFC 3261 §13.3.1.4)")
	}
	if again.StatusCode != 200 || again.CSeq().MethodName != sip.INVITE {
		t.Fatalf("after an unacknowledged 200: %d %s to %s, want the 200 again", again.StatusCode, again.Reason, again.CSeq().MethodName)
	}
	// The ACK stops them: after it, at most one retransmission already on
	// its way may cross it; the server keeps sending (every T2, 4 s, at
	// most) when the ACK did not stop them, so a quiet 5 s after the
	// crossing one ends the wait.
	ack := "ACK sip:201@" + h.addr + " SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:" + itoa(mary.port) + ";branch=z9hG4bK-lost-200-ack;rport\r\nMax-Forwards: 70\r\n" +
		"From: " + again.From().Value() + "\r\nTo: " + again.To().Value() + "\r\nCall-ID: lost-200\r\nCSeq: 2 ACK\r\nContent-Length: 0\r\n\r\n"
	if _, err := mary.p.conn.WriteTo([]byte(ack), mary.p.srv); err != nil {
		t.Fatal(err)
	}
	late := 0
	for readResponse(t, mary.p, 5*time.Second) != nil {
		if late++; late > 1 {
			t.Fatalf("the 200 still retransmitted %d times after its ACK", late)
		}
	}
}

// A callee's retransmitted 200 is acknowledged again (RFC 3261 §13.2.2.4):
// the callee retransmits it because our ACK was lost, and without a new
// ACK it would resend it for 32 s and then hang up (§13.3.1.4) a call the
// door station is still in.
func TestCalleeAnswerRetransmissionAcked(t *testing.T) {
	h := start(t)
	ann := newUDPPeer(t, h.addr)
	password, _ := h.secrets.SIPPassword("app.ann")
	if status := ann.login("app.ann", password, "reack-register"); status != 200 {
		t.Fatalf("ann registers: %d", status)
	}
	mary := h.device("app.mary")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dialled := make(chan error, 1)
	go func() {
		c, err := mary.Dial(ctx, "201")
		if err == nil {
			defer c.Hangup(context.Background())
			<-ctx.Done()
		}
		dialled <- err
	}()

	inv := readRequest(t, ann, sip.INVITE)
	ok := sip.NewResponseFromRequest(inv, 200, "OK", []byte(testSDP))
	ok.To().Params.Add("tag", "ann-1")
	ok.AppendHeader(sip.NewHeader("Contact", "<sip:app.ann@"+ann.conn.LocalAddr().String()+">"))
	ok.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	send := func() {
		if _, err := ann.conn.WriteTo([]byte(ok.String()), ann.srv); err != nil {
			t.Fatal(err)
		}
	}
	send()
	readRequest(t, ann, sip.ACK)
	// Our ACK "was lost": the 200 again, and it must be acknowledged again.
	send()
	if ack := readRequestWithin(t, ann, sip.ACK, 3*time.Second); ack == nil {
		t.Fatal("a retransmitted 200 from the callee was not acknowledged (RFC 3261 §13.2.2.4)")
	}
	cancel()
	if err := <-dialled; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("mary's call: %v", err)
	}
}

func itoa(n int) string { return (&net.UDPAddr{Port: n}).String()[1:] }

// readResponse returns the next response p receives within d, or nil.
func readResponse(t *testing.T, p *udpPeer, d time.Duration) *sip.Response {
	t.Helper()
	_ = p.conn.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 8192)
	for {
		n, _, err := p.conn.ReadFrom(buf)
		if err != nil {
			return nil
		}
		if m, err := sip.ParseMessage(buf[:n]); err == nil {
			if res, ok := m.(*sip.Response); ok {
				return res
			}
		}
	}
}

// readRequest returns the next request of method p receives (10 s at most).
func readRequest(t *testing.T, p *udpPeer, method sip.RequestMethod) *sip.Request {
	t.Helper()
	req := readRequestWithin(t, p, method, 10*time.Second)
	if req == nil {
		t.Fatalf("no %s within 10 s", method)
	}
	return req
}

// readRequestWithin returns the next request of method p receives within
// d, or nil; anything else is skipped.
func readRequestWithin(t *testing.T, p *udpPeer, method sip.RequestMethod, d time.Duration) *sip.Request {
	t.Helper()
	_ = p.conn.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 8192)
	for {
		n, _, err := p.conn.ReadFrom(buf)
		if err != nil {
			return nil
		}
		if m, err := sip.ParseMessage(buf[:n]); err == nil {
			if req, ok := m.(*sip.Request); ok && req.Method == method {
				return req
			}
		}
	}
}
