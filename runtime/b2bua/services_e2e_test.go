package b2bua_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"switchboard/runtime/audio"
	"switchboard/runtime/b2bua"
	"switchboard/runtime/events"
	"switchboard/runtime/line"
	"switchboard/runtime/site"
	"switchboard/simulate/device"
)

// servicesSite is the e2e building with a personal bridge for mary.
var servicesSite = strings.Replace(e2eSite, "  extension = 101\n", "  extension = 101\n  conference = 8101\n", 1)

// heard is what a test service got from its caller.
type heard struct {
	mailbox string
	room    string
	caller  b2bua.Caller
	level   float64 // strongest 1 kHz level in a frame
	frames  int
}

// services answers like voicemail and a bridge would, simply: the deposit
// plays a 440 Hz greeting and listens until the caller hangs up; the
// bridge echoes the caller back until it has heard enough, then hangs up.
// spoke, when not nil, gets a value for every frame of the caller's 1 kHz
// voice the deposit hears (a test's signal that its words have arrived).
func testServices(got chan<- heard, spoke chan<- struct{}) *b2bua.Services {
	listen := func(ctx context.Context, l line.Line, h *heard, until func() bool) {
		for {
			select {
			case f := <-l.Frames():
				h.frames++
				lvl := audio.ToneLevel(f.Samples, 1000)
				h.level = max(h.level, lvl)
				if spoke != nil && lvl > 1000 {
					spoke <- struct{}{}
				}
				if until != nil && until() {
					return
				}
			case <-ctx.Done():
				// The hang-up and the last frames arrive together; what
				// was said before it still counts, as a deposit keeps it.
				for {
					select {
					case f := <-l.Frames():
						h.frames++
						h.level = max(h.level, audio.ToneLevel(f.Samples, 1000))
					default:
						return
					}
				}
			}
		}
	}
	return &b2bua.Services{
		Deposit: func(ctx context.Context, l line.Line, mailbox string, caller b2bua.Caller) {
			h := heard{mailbox: mailbox, caller: caller}
			greeting := audio.Tone(make([]int16, 5*audio.FrameSamples), 440, 8000, 0)
			_ = l.Play(ctx, greeting) // a caller may speak (and hang up) before it ends
			listen(ctx, l, &h, nil)
			got <- h
		},
		Conference: func(ctx context.Context, l line.Line, room string, caller b2bua.Caller) {
			h := heard{room: room, caller: caller}
			go func() {
				for f := range l.Frames() {
					l.Send(f.Samples)
				}
			}()
			<-l.Digits() // the caller's "leave" key
			got <- h
		},
		MessageSummary: func(mailbox string) []byte {
			return []byte("Messages-Waiting: yes\r\nMessage-Account: sip:*97@e2e.example\r\nVoice-Message: 1/0 (0/0)\r\n")
		},
	}
}

// A door call nobody answers reaches the residence's mailbox: the server
// answers the door station itself and hands the call to the deposit
// service, which hears the visitor.
func TestVoicemailFallbackIsAnsweredLocally(t *testing.T) {
	got := make(chan heard, 1)
	const words = 10                      // frames the visitor speaks
	spoke := make(chan struct{}, words+5) // room for them all: the deposit never blocks on it
	h := startSite(t, servicesSite, func(o *site.Options) { o.Services = testServices(got, spoke) })
	gate := h.device("device.gate")
	mary := h.device("app.mary")
	h.device("app.tom")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type dialed struct {
		c   *device.Call
		err error
	}
	dc := make(chan dialed, 1)
	go func() { c, err := gate.Dial(ctx, "1A"); dc <- dialed{c, err} }()
	if _, err := mary.WaitIncoming(ctx, ringing); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(20 * time.Second) // the residence's ring timeout
	d := <-dc
	if d.err != nil {
		t.Fatalf("the door call was not answered by voicemail: %v", d.err)
	}
	h.waitEvent("voicemail leg answered", func(e events.Event) bool {
		return e.Kind == events.LegAnswered && strings.HasPrefix(e.Leg, "voicemail ")
	})
	// The greeting is paced by the runtime clock: each frame arrives, then
	// the clock moves on to the next.
	for i := 1; i <= 5; i++ {
		if err := d.c.WaitAudio(ctx, i*audio.FrameSamples); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(20 * time.Millisecond)
	}
	if lvl := audio.ToneLevel(d.c.Audio(), 440); lvl < 7000 {
		t.Errorf("the caller heard the greeting at level %.0f, want about 8000", lvl)
	}
	if err := d.c.SendTone(1000, 8000, words); err != nil {
		t.Fatal(err)
	}
	// The BYE only once the deposit has heard them (a BYE can overtake
	// RTP: they travel on different sockets).
	for i := range words {
		select {
		case <-spoke:
		case <-ctx.Done():
			t.Fatalf("the deposit heard %d of the visitor's %d frames", i, words)
		}
	}
	if err := d.c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if r.mailbox == "" || r.caller.Account != "device.gate" || r.caller.Reason != "no answer" {
			t.Errorf("deposit for mailbox %q from %q because %q, want the gate's, because \"no answer\"", r.mailbox, r.caller.Account, r.caller.Reason)
		}
		// The message is from the door and its button, as callees see it.
		if r.caller.DisplayName != "gate, button 1" || r.caller.Number != "device.gate" {
			t.Errorf("deposit from %q <%s>, want \"gate, button 1\" <device.gate>", r.caller.DisplayName, r.caller.Number)
		}
		if r.frames < 5 || r.level < 6000 {
			t.Errorf("the deposit heard %d frames, 1 kHz level %.0f: the visitor's voice did not arrive", r.frames, r.level)
		}
	case <-ctx.Done():
		t.Fatal("the deposit service never ended after the caller hung up")
	}
	h.waitEvent("call ended", func(e events.Event) bool { return e.Kind == events.CallEnded && e.From == "device.gate" })
}

// A conference number is answered by the bridge service; when the service
// is done the server hangs up.
func TestConferenceNumberIsAnsweredLocally(t *testing.T) {
	got := make(chan heard, 1)
	h := startSite(t, servicesSite, func(o *site.Options) { o.Services = testServices(got, nil) })
	mary := h.device("app.mary")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := mary.Dial(ctx, "8101")
	if err != nil {
		t.Fatal(err)
	}
	c.SendTone(1000, 8000, 5)
	// A frame of silence went first (the device's hello to the relay).
	if err := c.WaitAudio(ctx, 6*audio.FrameSamples); err != nil {
		t.Fatal(err)
	}
	if lvl := audio.ToneLevel(c.Audio()[audio.FrameSamples:], 1000); lvl < 7000 {
		t.Errorf("echo level %.0f", lvl)
	}
	c.SendDTMF("#")
	r := <-got
	if r.room == "" || r.caller.Account != "app.mary" || r.caller.Number != "101" || r.caller.DisplayName != "mary" {
		t.Errorf("bridge for room %q from %q, %q <%s>; want app.mary, \"mary\" <101>", r.room, r.caller.Account, r.caller.DisplayName, r.caller.Number)
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("the server did not hang up when the service ended")
	}
}

// Without services the same numbers are refused, as before.
func TestServicesAbsentRefuse(t *testing.T) {
	h := startSite(t, servicesSite, nil)
	mary := h.device("app.mary")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := mary.Dial(ctx, "8101")
	if se, ok := err.(*device.StatusError); !ok || se.Status != 480 {
		t.Fatalf("conference without a bridge: %v, want 480", err)
	}
}

// Message-waiting: a subscriber gets a NOTIFY at once and on every change;
// a device of the box's owner that never subscribed gets it unsolicited.
func TestMessageWaiting(t *testing.T) {
	got := make(chan heard, 1)
	h := startSite(t, servicesSite, func(o *site.Options) { o.Services = testServices(got, nil) })
	mary := h.device("app.mary")
	monitor := h.device("device.monitor-1a")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	status, err := mary.Subscribe(ctx, "message-summary", time.Hour)
	if err != nil || status != 200 {
		t.Fatalf("subscribe: %d, %v", status, err)
	}
	yes := func(b string) bool { return strings.Contains(b, "Messages-Waiting: yes") }
	n, err := mary.WaitNotification(ctx, "message-summary", yes)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(n.State, "active") {
		t.Errorf("Subscription-State %q", n.State)
	}
	box := ""
	for _, u := range h.site.Program().Users {
		if u.Name == "mary" {
			box = u.Mailbox
		}
	}
	h.site.MessageWaiting(box)
	// The change's NOTIFY, on the same subscription as the first.
	if _, err := mary.WaitNotification(ctx, "message-summary", func(string) bool { return len(mary.Notifications()) >= 2 }); err != nil {
		t.Fatal(err)
	}
	if _, err := monitor.WaitNotification(ctx, "message-summary", yes); err != nil {
		t.Errorf("the flat's monitor got no unsolicited MWI: %v", err)
	}
	if status, _ := mary.Subscribe(ctx, "presence", time.Hour); status != 489 {
		t.Errorf("SUBSCRIBE to presence: %d, want 489 Bad Event", status)
	}
}
