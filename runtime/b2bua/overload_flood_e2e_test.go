package b2bua_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"switchboard/runtime/site"
	"switchboard/simulate/device"
)

// A flood of new calls (issue 19): a burst of INVITEs, all sent before
// any is answered, is more than the server reads at once, so the later
// ones wait in its socket; those that waited past the limit are refused
// at once with 503 and Retry-After, while the calls it admitted before
// carry on to their end: the ringing calls are cancelled (200, 487) and
// the answered one hangs up (BYE, 200).
//
// The limit is a millisecond, so that the burst is sure to pass it: sent
// while the server cannot run, the last INVITE waits for the server to
// read the two hundred before it, and a read costs more than the five
// microseconds that would take to add up to a millisecond. The test
// counts answers and never reads a clock.
func TestOverloadFloodRefusedCallsAdmittedFinish(t *testing.T) {
	h := startSite(t, e2eSite, func(o *site.Options) { o.CallSetups = 0; o.QueueDelay = time.Millisecond })
	h.device("app.mary")
	h.device("app.tom")
	mary := h.devices["app.mary"]
	ann := h.device("app.ann")
	ann.SetAnswer(device.Pickup, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	answered, err := mary.Dial(ctx, "201")
	if err != nil {
		t.Fatalf("mary calls ann before the flood: %v", err)
	}
	// Enough ringing calls for the queueing delay to refuse (sipstack's
	// delayFloor: with fewer, the server's own calls are not what keeps
	// it waiting).
	const flat = "sip:1A@e2e.example"
	const ringing = 8
	gates := make([]*rawCaller, ringing) // a socket each: a call's late answers stay on its own
	for i := range gates {
		gates[i] = newRawCaller(t, h, "device.gate")
		if res, _ := gates[i].place(flat, fmt.Sprintf("flood-ring-%d", i), 70); res.StatusCode != 180 {
			t.Fatalf("ringing call %d: %d %s, want 180", i, res.StatusCode, res.Reason)
		}
	}

	const burst = 200
	flood := newRawCaller(t, h, "app.bob")
	// Room for every answer, read only once the burst is sent.
	_ = flood.p.conn.(*net.UDPConn).SetReadBuffer(1 << 20)
	// One processor while the burst is sent: the server cannot read
	// until the sender has sent it all (it never blocks), so the burst
	// queues in the server's socket however fast the machine is.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for i := range burst {
		if _, err := flood.p.conn.WriteTo(flood.invite("sip:101@e2e.example", fmt.Sprintf("flood-%d", i), 1, 70, ""), flood.p.srv); err != nil {
			t.Fatal(err)
		}
	}
	// Every INVITE of the burst is answered once, unless the kernel
	// dropped it (UDP); the read deadline only ends the count.
	answers := map[int]int{}
	buf := make([]byte, 4096)
	for n := 0; n < burst; n++ {
		_ = flood.p.conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		m, _, err := flood.p.conn.ReadFrom(buf)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				break
			}
			t.Fatal(err)
		}
		res := parseResponse(t, buf[:m])
		if res.StatusCode == 100 {
			n--
			continue
		}
		answers[res.StatusCode]++
		if res.StatusCode == 503 {
			if ra := res.GetHeader("Retry-After"); ra == nil || ra.Value() == "" {
				t.Errorf("a 503 without Retry-After:\n%s", res)
			}
		}
	}
	if answers[503] == 0 {
		t.Errorf("no INVITE of a burst of %d was refused with 503: answers %v", burst, answers)
	}
	for code := range answers {
		if code != 407 && code != 503 {
			t.Errorf("a new INVITE answered %d: answers %v, want 407 (the challenge) or 503", code, answers)
		}
	}
	t.Logf("a burst of %d new INVITEs: %v", burst, answers)

	// The calls admitted before the flood finish: every ringing one is
	// cancelled (200 to the CANCEL, 487 to the INVITE), never refused.
	for i, gate := range gates {
		gate.cancel(flat, fmt.Sprintf("flood-ring-%d", i))
	}
	for i, gate := range gates {
		for got := map[string]int{}; got["CANCEL"] == 0 || got["INVITE"] == 0; {
			r := parseResponse(t, gate.p.read())
			if r.StatusCode == 503 {
				t.Fatalf("a request of admitted call %d was refused: %d to %s", i, r.StatusCode, r.CSeq().MethodName)
			}
			if r.StatusCode < 200 {
				continue
			}
			method := string(r.CSeq().MethodName)
			if want := map[string]int{"CANCEL": 200, "INVITE": 487}[method]; r.StatusCode != want {
				t.Fatalf("%s of ringing call %d: %d %s, want %d", method, i, r.StatusCode, r.Reason, want)
			}
			got[method] = r.StatusCode
		}
	}
	// The answered call hangs up.
	if err := answered.Hangup(ctx); err != nil {
		t.Errorf("BYE of the call answered before the flood: %v", err)
	}
}
