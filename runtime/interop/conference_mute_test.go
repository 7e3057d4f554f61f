package interop

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"switchboard/runtime/audio"
	"switchboard/runtime/events"
)

// TestBaresipConferenceMute: alice (697 Hz) and bob (1209 Hz), each a
// baresip with a sine as its microphone, are in alice's room 8101. Alice
// keys *6 (ctrl_tcp "sndcode": RFC 2833 telephone-events): bob stops
// hearing her while she still hears him; *6 again and he hears her
// again. Each phase is measured on the phones' own recordings of what
// they decoded, over a window that starts confSkip (of decoded audio)
// after the bridge announced the mute: what was in the bridge's and the
// phones' jitter buffers then has played out well before it. Levels are
// measured over the frames that delivered the tone (hearing), so a
// machine too busy to deliver every frame in time does not fail it.
func TestBaresipConferenceMute(t *testing.T) {
	baresipPath(t)
	s := startServer(t, serverConfig{services: true})
	type party struct {
		account string
		freq    float64
		b       *baresip
	}
	alice := &party{account: "app.alice", freq: 697}
	bob := &party{account: "app.bob", freq: 1209}
	parties := []*party{alice, bob}
	for _, p := range parties {
		p.b = s.baresipWith(t, p.account, "manual", baresipConfig{templates: "conference",
			subs: map[string]string{"FREQ": fmt.Sprint(p.freq), "CODEC": "pcmu"}})
	}
	for _, p := range parties {
		p.b.command(t, "dial", "8101")
		p.b.waitEvent(t, "CALL_ESTABLISHED")
		s.waitEvent(p.account+" joined", func(e events.Event) bool {
			return e.Kind == events.ConferenceJoined && e.Account == p.account
		})
	}

	// phase marks where each phone's window starts: confSkip, in samples
	// it decoded, after the bridge took alice's keys (its mute event).
	type phase struct {
		name  string
		keys  string      // alice keys these as the phase begins
		event events.Kind // the bridge's answer to them
		muted bool
		from  map[*party]int
	}
	phases := []*phase{
		{name: "before *6"},
		{name: "after *6", keys: "*6", event: events.ConferenceMuted, muted: true},
		{name: "after *6 again", keys: "*6", event: events.ConferenceUnmuted},
	}
	n := int(confWindow * audio.Rate)
	for _, ph := range phases {
		for _, k := range ph.keys {
			alice.b.command(t, "sndcode", string(k))
		}
		if ph.event != "" {
			// Counted so the second *6 is not answered by the first's event.
			want := len(s.find(kind(ph.event))) + 1
			s.waitEvent(string(ph.event), func(e events.Event) bool {
				return e.Kind == ph.event && e.Account == alice.account && len(s.find(kind(ph.event))) >= want
			})
		}
		ph.from = map[*party]int{}
		for _, p := range parties {
			ph.from[p] = p.b.decoded(t) + int(confSkip*audio.Rate)
		}
		deadline := time.NewTimer(eventTimeout)
		for _, p := range parties {
			p.b.waitDecoded(t, ph.from[p]+n, deadline.C)
		}
		deadline.Stop()
	}
	for _, p := range parties {
		p.b.command(t, "hangup", "")
	}
	for _, p := range parties {
		p.b.waitEvent(t, "CALL_CLOSED")
		s.waitEvent(p.account+" left", func(e events.Event) bool {
			return e.Kind == events.ConferenceLeft && e.Account == p.account
		})
		p.b.command(t, "quit", "") // sndfile finishes its files when the call is freed
		if code := p.b.p.wait(); code != 0 {
			t.Errorf("baresip %s exited with status %d", p.account, code)
		}
	}

	sent := map[*party]float64{}
	heardBy := map[*party][]int16{}
	for _, p := range parties {
		enc := p.b.recording(t, "enc")
		if len(enc) < n {
			t.Fatalf("baresip %s recorded %d samples sent, want %d", p.account, len(enc), n)
		}
		sent[p] = sentLevel(enc[len(enc)-n:], p.freq)
		heardBy[p] = p.b.recording(t, "dec")
	}
	var table strings.Builder
	fmt.Fprintf(&table, "tone levels over %.1fs windows, median of the 20 ms frames that carry the tone (how many of them; muted: over the window) (alice sends %.0f, bob %.0f):\n", confWindow, sent[alice], sent[bob])
	for _, ph := range phases {
		dec := func(p *party) []int16 {
			from := ph.from[p]
			if len(heardBy[p]) < from+n {
				t.Fatalf("%s: baresip %s recorded %d samples heard, want %d", ph.name, p.account, len(heardBy[p]), from+n)
			}
			return heardBy[p][from : from+n]
		}
		bobHeard := hearing(dec(alice), bob.freq, sent[bob]) // alice hears bob
		if ph.muted {
			// Absence: measured over the whole window, which only
			// scheduling's gaps could lower, never raise.
			aliceHeard := audio.ToneLevel(dec(bob), alice.freq)
			fmt.Fprintf(&table, "  %-15s bob hears alice %6.0f        alice hears bob %6.0f (%2d)\n", ph.name, aliceHeard, bobHeard.level, bobHeard.frames)
			if aliceHeard > 0.02*sent[alice] {
				t.Errorf("%s: bob hears muted alice at %.0f, more than 2%% of the %.0f she sends", ph.name, aliceHeard, sent[alice])
			}
		} else {
			aliceHeard := hearing(dec(bob), alice.freq, sent[alice])
			fmt.Fprintf(&table, "  %-15s bob hears alice %6.0f (%2d)   alice hears bob %6.0f (%2d)\n", ph.name, aliceHeard.level, aliceHeard.frames, bobHeard.level, bobHeard.frames)
			if err := aliceHeard.check(0.8); err != "" {
				t.Errorf("%s: bob hears alice %s", ph.name, err)
			}
		}
		if err := bobHeard.check(0.8); err != "" {
			t.Errorf("%s: alice hears bob %s", ph.name, err)
		}
	}
	t.Log(strings.TrimSuffix(table.String(), "\n"))
}
