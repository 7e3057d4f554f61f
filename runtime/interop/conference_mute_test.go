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
// they decoded, over a window that starts confSkip after the keys were
// sent: the keys' way to the bridge and both jitter buffers are well
// inside that.
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

	// phase marks where each phone's window starts: confSkip after the
	// phase began, in samples it decoded.
	type phase struct {
		name  string
		keys  string // alice keys these as the phase begins
		muted bool
		from  map[*party]int
	}
	phases := []*phase{{name: "before *6"}, {name: "after *6", keys: "*6", muted: true}, {name: "after *6 again", keys: "*6"}}
	n := int(confWindow * audio.Rate)
	for _, ph := range phases {
		for _, k := range ph.keys {
			alice.b.command(t, "sndcode", string(k))
		}
		ph.from = map[*party]int{}
		for _, p := range parties {
			ph.from[p] = p.b.decoded(t) + int(confSkip*audio.Rate)
		}
		deadline := time.Now().Add(eventTimeout)
		for _, p := range parties {
			for p.b.decoded(t) < ph.from[p]+n {
				if time.Now().After(deadline) {
					t.Fatalf("%s: baresip %s decoded too little audio in %s", ph.name, p.account, eventTimeout)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
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
	heard := map[*party][]int16{}
	for _, p := range parties {
		enc := p.b.recording(t, "enc")
		if len(enc) < n {
			t.Fatalf("baresip %s recorded %d samples sent, want %d", p.account, len(enc), n)
		}
		sent[p] = audio.ToneLevel(enc[len(enc)-n:], p.freq)
		heard[p] = p.b.recording(t, "dec")
	}
	var table strings.Builder
	fmt.Fprintf(&table, "tone levels over %.1fs windows (alice sends %.0f, bob %.0f):\n", confWindow, sent[alice], sent[bob])
	for _, ph := range phases {
		dec := func(p *party) []int16 {
			from := ph.from[p]
			if len(heard[p]) < from+n {
				t.Fatalf("%s: baresip %s recorded %d samples heard, want %d", ph.name, p.account, len(heard[p]), from+n)
			}
			return heard[p][from : from+n]
		}
		aliceHeard := audio.ToneLevel(dec(bob), alice.freq) // bob hears alice
		bobHeard := audio.ToneLevel(dec(alice), bob.freq)   // alice hears bob
		fmt.Fprintf(&table, "  %-15s bob hears alice %6.0f   alice hears bob %6.0f\n", ph.name, aliceHeard, bobHeard)
		switch {
		case ph.muted && aliceHeard > 0.02*sent[alice]:
			t.Errorf("%s: bob hears muted alice at %.0f, more than 2%% of the %.0f she sends", ph.name, aliceHeard, sent[alice])
		case !ph.muted && aliceHeard < 0.8*sent[alice]:
			t.Errorf("%s: bob hears alice at %.0f, less than 80%% of the %.0f she sends", ph.name, aliceHeard, sent[alice])
		}
		if bobHeard < 0.8*sent[bob] {
			t.Errorf("%s: alice hears bob at %.0f, less than 80%% of the %.0f he sends", ph.name, bobHeard, sent[bob])
		}
	}
	t.Log(strings.TrimSuffix(table.String(), "\n"))
}
