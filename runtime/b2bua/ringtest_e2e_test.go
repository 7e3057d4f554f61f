package b2bua_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/runtime/audio"
	"switchboard/runtime/audio/audiotest"
	"switchboard/runtime/b2bua"
	"switchboard/runtime/events"
	"switchboard/runtime/prompts"
	"switchboard/simulate/device"
)

// A person answering a ring test hears, from the start, the spoken prompt
// that says what the call is and to press a key, then the beep, then the
// prompt again; a key pressed while the prompt speaks confirms the test,
// and the server hangs up.
func TestRingTestSpeaksUntilAKey(t *testing.T) {
	h := start(t)
	mary := h.device("app.mary")
	mary.SetAnswer(device.Pickup, 0)

	type outcome struct {
		res b2bua.RingTestResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		// The virtual clock paces the prompt and never reaches the hour.
		res, err := h.site.RingTest(context.Background(), "mary", 20*time.Second, time.Hour)
		done <- outcome{res, err}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	in, err := mary.WaitIncoming(ctx, func(in []device.Incoming) bool { return len(in) == 1 && in[0].Answered })
	if err != nil {
		t.Fatal(err)
	}
	call := mary.Answered(in[0].CallID)
	if call == nil {
		t.Fatal("mary has no established call")
	}
	// hear lets the prompt play until mary has heard n samples: each frame
	// arrives, then the clock moves on to the next.
	heard := 0
	hear := func(n int) []int16 {
		t.Helper()
		for heard < n {
			heard += audio.FrameSamples
			if err := call.WaitAudio(ctx, heard); err != nil {
				t.Fatal(err)
			}
			h.clock.Advance(20 * time.Millisecond)
		}
		return call.Audio()
	}
	speech, _ := prompts.Get("ring-test")
	beep, _ := prompts.Get(prompts.Beep)
	opening := speech[:audio.Rate/2]

	got := hear(len(speech) + len(beep))
	if c := audiotest.BestCorrelation(got[:audio.Rate], opening); c < 0.9 {
		t.Errorf("mary's first second is not the ring test's prompt (best correlation %.2f)", c)
	}
	if lvl := audio.ToneLevel(got[len(speech):len(speech)+len(beep)], 1000); lvl < 7000 {
		t.Errorf("the beep after the prompt came at level %.0f, want about 8000", lvl)
	}
	// Two seconds on: past the pause and a second into the prompt again.
	got = hear(len(speech) + len(beep) + 2*audio.Rate)
	if c := audiotest.BestCorrelation(got[len(speech)+len(beep):], opening); c < 0.9 {
		t.Errorf("the prompt was not said again after the beep (best correlation %.2f)", c)
	}
	// The server confirms on the event's first packet and hangs up, which
	// may close mary's media before the rest of the event leaves: an error
	// sending only counts when the digit confirmed nothing.
	sendErr := call.SendDTMF("5")
	select {
	case o := <-done:
		if o.err != nil || !o.res.Confirmed || o.res.Digits != "5" || o.res.Answered != "app.mary" {
			t.Errorf("ring test: %+v, err %v (sending the key: %v); want confirmed by mary's 5", o.res, o.err, sendErr)
		}
	case <-ctx.Done():
		t.Fatal("the key pressed during the prompt did not confirm the ring test")
	}
	select {
	case <-call.Done():
	case <-ctx.Done():
		t.Fatal("the server did not hang up the confirmed ring test")
	}
}

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

// A callee may hang up as soon as the server's ACK reaches it (RFC 3261
// §15): the ring test must know its dialog by then. It used to learn it
// only after the ACK had left and the answer had been announced, and a
// BYE that came in that moment was answered 481 (TestRingTestCalleeHangsUp
// failed so under load). Here the server's ACK is held in its socket until
// the server has answered mary's BYE, which she sends on seeing the ACK
// leave: the moment, every time.
func TestRingTestCalleeHangsUpAtTheAck(t *testing.T) {
	sock := &ackHold{acked: make(chan struct{}), byeAnswered: make(chan struct{})}
	h := startSiteWrapped(t, e2eSite, "127.0.0.1:0", nil, func(c net.PacketConn) net.PacketConn { sock.PacketConn = c; return sock })
	mary := h.device("app.mary")
	mary.SetAnswer(device.Pickup, 0)
	type outcome struct {
		reason string
		err    error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := h.site.RingTest(context.Background(), "mary", 20*time.Second, time.Hour)
		done <- outcome{res.Reason, err}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case <-sock.acked:
	case <-ctx.Done():
		t.Fatal("the server never acknowledged mary's answer")
	}
	in, err := mary.WaitIncoming(ctx, func(in []device.Incoming) bool { return len(in) == 1 && in[0].Answered })
	if err != nil {
		t.Fatal(err)
	}
	call := mary.Answered(in[0].CallID)
	if call == nil {
		t.Fatal("mary has no established call")
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatalf("mary's BYE as the ACK left: %v", err)
	}
	select {
	case o := <-done:
		if o.err != nil || !strings.Contains(o.reason, "hung up") {
			t.Errorf("ring test: reason %q, err %v; want ended by the hang-up", o.reason, o.err)
		}
	case <-ctx.Done():
		t.Fatal("the ring test did not end when the callee hung up")
	}
}

// ackHold is the server's socket, holding the first ACK the server sends
// (after writing it) until the server has answered a BYE.
type ackHold struct {
	net.PacketConn
	ackOnce, byeOnce   sync.Once
	acked, byeAnswered chan struct{}
}

func (c *ackHold) WriteTo(b []byte, addr net.Addr) (int, error) {
	msg := string(b)
	if strings.HasPrefix(msg, "SIP/2.0 ") && strings.Contains(msg, " BYE\r\n") {
		c.byeOnce.Do(func() { close(c.byeAnswered) })
	}
	n, err := c.PacketConn.WriteTo(b, addr)
	if strings.HasPrefix(msg, "ACK ") {
		first := false
		c.ackOnce.Do(func() { first = true; close(c.acked) })
		if first {
			select {
			case <-c.byeAnswered:
			case <-time.After(10 * time.Second):
			}
		}
	}
	return n, err
}
