package b2bua_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"switchboard/runtime/events"
	"switchboard/simulate/device"
)

// A person who answers a ring test and hangs up without keying a digit
// ends it at once, said so, and their BYE is answered 200 — not 481, and
// not after the confirmation wait runs out.
func TestRingTestCalleeHangsUp(t *testing.T) {
	h := start(t)
	mary := h.device("app.mary")
	mary.SetAnswer(device.Pickup, 0)

	type outcome struct {
		reason    string
		confirmed bool
		err       error
	}
	done := make(chan outcome, 1)
	go func() {
		// The confirmation wait is the virtual clock's, which the test
		// never advances: only the hang-up can end the ring test.
		res, err := h.site.RingTest(context.Background(), "mary", 20*time.Second, time.Hour)
		done <- outcome{res.Reason, res.Confirmed, err}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in, err := mary.WaitIncoming(ctx, func(in []device.Incoming) bool { return len(in) == 1 && in[0].Answered })
	if err != nil {
		t.Fatal(err)
	}
	h.waitEvent("leg_answered", func(e events.Event) bool { return e.Kind == events.LegAnswered && e.Cause == "" && e.Leg == "app.mary" })
	call := mary.Answered(in[0].CallID)
	if call == nil {
		t.Fatal("mary has no established call")
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatalf("mary's BYE: %v (the server answered it with an error)", err)
	}
	select {
	case o := <-done:
		if o.err != nil || o.confirmed || !strings.Contains(o.reason, "hung up") {
			t.Errorf("ring test: confirmed %v, reason %q, err %v; want ended by the hang-up", o.confirmed, o.reason, o.err)
		}
	case <-ctx.Done():
		t.Fatal("the ring test did not end when the callee hung up")
	}
	h.waitEvent("call_ended", func(e events.Event) bool { return e.Kind == events.CallEnded && e.Cause == "callee hung up" })
}
