package b2bua_test

import (
	"context"
	"testing"
	"time"

	"switchboard/runtime/site"
	"switchboard/simulate/device"
)

// Overload (issue 19): once the budget of calls being set up is reached, a
// new call is refused at once with 503 and Retry-After — over real UDP, on
// loopback — while everything belonging to calls already admitted goes on:
// the retransmission of a ringing call's INVITE, the BYE of an answered
// call, the CANCEL of the ringing one. The refusal follows the count, not
// the clock: the fake clock never moves, and the next call is admitted as
// soon as the ringing one ends.
func TestOverloadRefusesNewCallsOnly(t *testing.T) {
	h := startSite(t, e2eSite, func(o *site.Options) { o.CallSetups = 1 })
	h.device("app.mary")
	h.device("app.tom")
	mary := h.devices["app.mary"]
	ann := h.device("app.ann")
	ann.SetAnswer(device.Pickup, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// An answered call: its set-up is over, it holds no place.
	answered, err := mary.Dial(ctx, "201")
	if err != nil {
		t.Fatalf("mary calls ann with nothing else in progress: %v", err)
	}

	// A ringing call takes the only place.
	gate := newRawCaller(t, h, "device.gate")
	const flat = "sip:1A@e2e.example"
	res, invite := gate.place(flat, "overload-ringing", 70)
	if res.StatusCode != 180 {
		t.Fatalf("the gate's call to 1A: %d %s, want 180", res.StatusCode, res.Reason)
	}

	// A new call is refused at once, before any challenge.
	other := newRawCaller(t, h, "app.bob")
	refused := parseResponse(t, other.p.exchange(other.invite("sip:101@e2e.example", "overload-new", 1, 70, "")))
	if refused.StatusCode != 503 {
		t.Errorf("a new call while one is being set up with a budget of one: %d %s, want 503", refused.StatusCode, refused.Reason)
	}
	if ra := refused.GetHeader("Retry-After"); ra == nil || ra.Value() == "" {
		t.Errorf("the 503 has no Retry-After:\n%s", refused)
	}

	// The ringing call's INVITE again (a retransmission) is not refused.
	if again := parseResponse(t, gate.p.exchange(invite)); again.StatusCode == 503 {
		t.Errorf("a retransmission of the admitted INVITE was refused: %d %s", again.StatusCode, again.Reason)
	}

	// The answered call's BYE goes through.
	if err := answered.Hangup(ctx); err != nil {
		t.Errorf("BYE of an answered call while the budget is full: %v", err)
	}

	// The ringing call's CANCEL goes through: 200, then 487 to the INVITE.
	gate.cancel(flat, "overload-ringing")
	for got := map[string]int{}; got["CANCEL"] == 0 || got["INVITE"] == 0; {
		r := parseResponse(t, gate.p.read())
		if r.StatusCode == 503 {
			t.Fatalf("a request of the admitted call was refused: %d to %s", r.StatusCode, r.CSeq().MethodName)
		}
		if r.StatusCode >= 200 {
			got[string(r.CSeq().MethodName)] = r.StatusCode
		}
		if got["INVITE"] != 0 && got["INVITE"] != 487 {
			t.Fatalf("the cancelled INVITE ended with %d, want 487", got["INVITE"])
		}
	}

	// Its place is free again: the next new call is challenged, not
	// refused (the fake clock has not moved).
	if res := parseResponse(t, other.p.exchange(other.invite("sip:101@e2e.example", "overload-after", 1, 70, ""))); res.StatusCode != 407 {
		t.Errorf("a new call once the ringing one ended: %d %s, want 407", res.StatusCode, res.Reason)
	}
}

// read returns the next datagram the peer receives (10 s at most).
func (p *udpPeer) read() []byte {
	p.t.Helper()
	_ = p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, _, err := p.conn.ReadFrom(buf)
	if err != nil {
		p.t.Fatalf("nothing received: %v", err)
	}
	return buf[:n]
}
