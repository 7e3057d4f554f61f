package main

import (
	"context"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"switchboard/runtime/audio"
	"switchboard/runtime/events"
	"switchboard/runtime/site"
	"switchboard/simulate/device"
)

// hasEvent reports whether entries hold an event of kind on call.
func hasEvent(entries []site.Entry, kind events.Kind, call string) bool {
	for _, e := range entries {
		if e.Kind == kind && e.Call == call {
			return true
		}
	}
	return false
}

// TestClusterVoicemailDrill runs three `switchboard serve` nodes of one
// site, as TestClusterDrill does. David's app, on node 1, calls Sarah,
// whose app (registered on node 2, node 1 holding her binding) is busy on
// another call: her voicemail, on node 1, takes his message. Sarah's app,
// subscribed to her message-waiting state on node 2, is told a message
// waits (node 1, which shares her binding, may tell it first).
// Node 1 is killed (SIGKILL); Sarah's app, subscribing again on node 3,
// is told by node 3 of the one new message: node 3 read its mailboxes at
// its start, before the message, and learnt of it by following the store
// (without that it says 0/0 and the test fails). Sarah then calls her
// voicemail on node 2 and hears David's message.
func TestClusterVoicemailDrill(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dr := startDrill(t, ctx)
	creds, nodes, domain := dr.creds, dr.nodes, dr.domain
	const voicemailAccess = "*97" // the language's default; family-home keeps it

	newApp := func(account, server string) *device.Device {
		t.Helper()
		d, err := device.New(device.Config{Account: account, Password: creds[account], Domain: domain, Server: server, IP: netip.MustParseAddr("127.0.0.1")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	within := func(d time.Duration) (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, d) }
	waiting := func(want string) func(string) bool {
		return func(body string) bool { return strings.Contains(body, want) }
	}
	// subscribe registers Sarah's app on n and subscribes it to her
	// message-waiting state there.
	subscribe := func(n *clusterNode) *device.Device {
		t.Helper()
		sarah := newApp("app.sarah", n.sip)
		var status int
		var err error
		eventually(t, "Sarah's app registers and subscribes on "+n.name, func() bool {
			rctx, rcancel := within(10 * time.Second)
			defer rcancel()
			if status, err = sarah.Register(rctx, time.Hour); err != nil || status != 200 {
				return false
			}
			status, err = sarah.Subscribe(rctx, "message-summary", time.Hour)
			return err == nil && status/100 == 2
		})
		return sarah
	}

	sarah := subscribe(nodes[1])
	nctx, ncancel := within(clusterWait)
	if _, err := sarah.WaitNotification(nctx, "message-summary", waiting("Messages-Waiting: no")); err != nil {
		t.Fatalf("node 2, before any message: %v", err)
	}
	ncancel()
	// Node 1 rings Sarah's app (through node 2, which holds its flow),
	// and she is on another call: busy, so her voicemail answers at once.
	// Without her binding on node 1 yet, node 1 went straight to her
	// voicemail; with it and her app ringing, the voicemail answered only
	// after her 30 s ring, past the caller's wait (both seen under load).
	sarah.SetAnswer(device.Busy, 0)
	eventually(t, "node 1 holds Sarah's binding made on node 2", func() bool {
		return len(nodes[0].bindings("app.sarah")) == 1
	})

	// David leaves Sarah a message through node 1: a key skips her
	// greeting; once the beep is over (the server says it records), two
	// seconds of voice, then "#".
	david := newApp("app.david", nodes[0].sip)
	dctx, dcancel := within(serveTimeout)
	call, err := david.Dial(dctx, "201")
	dcancel()
	if err != nil {
		t.Fatalf("David calls Sarah on node 1: %v", err)
	}
	if in := sarah.Incoming(); len(in) != 1 || in[0].Status != 486 {
		t.Errorf("Sarah's app on node 2, busy, got %+v; want David's call, answered 486", in)
	}
	if err := call.SendDTMF("1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node 1 records David's message", func() bool {
		// The media keeps flowing while the beep plays.
		if err := call.SendSilence(5); err != nil {
			t.Fatal(err)
		}
		return hasEvent(nodes[0].journal(), events.VoicemailRecording, call.ID())
	})
	if err := call.SendTonePacked(697, 6000, 2*50, 4); err != nil {
		t.Fatal(err)
	}
	if err := call.SendDTMF("#"); err != nil {
		t.Fatal(err)
	}
	nodes[0].waitJournal("node 1 keeps David's message", func(all []site.Entry) bool {
		return hasEvent(all, events.VoicemailDeposited, call.ID())
	})

	// Sarah's app is told.
	nctx, ncancel = within(clusterWait)
	if _, err := sarah.WaitNotification(nctx, "message-summary", waiting("Voice-Message: 1/0")); err != nil {
		t.Fatalf("node 2 after the message left on node 1: %v", err)
	}
	ncancel()

	// kill -9 node 1: the message is in the survivors' store.
	if err := nodes[0].s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	again := subscribe(nodes[2])
	nctx, ncancel = within(clusterWait)
	defer ncancel()
	if _, err := again.WaitNotification(nctx, "message-summary", waiting("Voice-Message: 1/0")); err != nil {
		t.Fatalf("node 3 after node 1's death: %v", err)
	}

	// Sarah plays it through node 2: her own box from her own app (no
	// PIN); "1", once the announcement has begun, plays the new message,
	// read from the survivors' copies of the store.
	pctx, pcancel := within(serveTimeout)
	play, err := sarah.Dial(pctx, voicemailAccess)
	pcancel()
	if err != nil {
		t.Fatalf("Sarah calls her voicemail on node 2: %v", err)
	}
	wctx, wcancel := within(clusterWait)
	defer wcancel()
	if err := play.WaitAudio(wctx, audio.Rate/2); err != nil {
		t.Fatal(err)
	}
	if err := play.SendDTMF("1"); err != nil {
		t.Fatal(err)
	}
	// The message is 2 s of 697 Hz among spoken prompts: wait for the
	// samples up to its end, then look for it.
	for n := audio.Rate; !carries(play.Audio(), 697, 3000); n += audio.Rate / 2 {
		if err := play.WaitAudio(wctx, n); err != nil {
			t.Fatalf("node 2 never played David's voice: %v", err)
		}
	}
	hctx, hcancel := within(serveTimeout)
	defer hcancel()
	play.Hangup(hctx)
}

// carries reports whether a second of s, anywhere, holds freq at level or
// more: a message's voice among the prompts around it.
func carries(s []int16, freq, level float64) bool {
	const window, step = audio.Rate, audio.Rate / 10
	for i := 0; i+window <= len(s); i += step {
		if audio.ToneLevel(s[i:i+window], freq) >= level {
			return true
		}
	}
	return false
}
