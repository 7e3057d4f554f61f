package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"switchboard/runtime/audio"
	"switchboard/runtime/events"
)

// Conference test timing, in seconds of each phone's recording after the
// last participant joined: the measured window skips the join tones (240
// ms) and the jitter buffers' start, and ends well before anyone hangs up.
const (
	confSkip   = 0.75 // from the last join to the window
	confWindow = 1.5  // the window measured
	confTalk   = confSkip + confWindow + 0.5
)

// TestBaresipConference: three baresips — alice, the room's owner, and
// bob and carol — dial alice's room 8101 at once, each with a sine of its
// own as the microphone (697, 1209 and 1633 Hz: no harmonics of each
// other, away from the 600/900 Hz join tones), bob in PCMA and the others
// in PCMU. Each phone records what it decodes (the sndfile filter). Every
// leg carries the other two participants at about the level they were
// sent, and its own caller only faintly: the bridge mixes everyone but
// oneself, across codecs, for real clients.
func TestBaresipConference(t *testing.T) {
	baresipPath(t)
	s := startServer(t, serverConfig{services: true})
	type party struct {
		account, codec, role string
		freq                 float64
		b                    *baresip
		mark                 int // samples decoded when the last one joined
	}
	parties := []*party{
		{account: "app.alice", codec: "pcmu", role: "owner", freq: 697},
		{account: "app.bob", codec: "pcma", role: "member", freq: 1209},
		{account: "app.carol", codec: "pcmu", role: "member", freq: 1633},
	}
	for _, p := range parties {
		p.b = s.baresipWith(t, p.account, "manual", baresipConfig{templates: "conference",
			subs: map[string]string{"FREQ": strconv.Itoa(int(p.freq)), "CODEC": p.codec}})
	}
	for _, p := range parties {
		p.b.command(t, "dial", "8101")
	}
	for _, p := range parties {
		p.b.waitEvent(t, "CALL_ESTABLISHED")
		joined := s.waitEvent(p.account+" joined", func(e events.Event) bool {
			return e.Kind == events.ConferenceJoined && e.Account == p.account
		})
		if joined.To != "8101" || joined.Target != "conference.alice" || joined.Cause != p.role {
			t.Errorf("%s joined room %q (%s) as %q, want 8101 (conference.alice) as %q", p.account, joined.To, joined.Target, joined.Cause, p.role)
		}
	}
	// They talk: wait until every phone has decoded confTalk seconds more.
	for _, p := range parties {
		p.mark = p.b.decoded(t)
	}
	talk := time.Now()
	deadline := time.NewTimer(eventTimeout)
	defer deadline.Stop()
	for _, p := range parties {
		p.b.waitDecoded(t, p.mark+int(confTalk*audio.Rate), deadline.C)
	}
	t.Logf("the phones decoded %.2fs of the room in %s", confTalk, time.Since(talk).Round(time.Millisecond))
	for _, p := range parties {
		p.b.command(t, "hangup", "")
	}
	for _, p := range parties {
		p.b.waitEvent(t, "CALL_CLOSED")
		s.waitEvent(p.account+" left", func(e events.Event) bool {
			return e.Kind == events.ConferenceLeft && e.Account == p.account
		})
		// sndfile finishes its files when the call is freed: quit.
		p.b.command(t, "quit", "")
		if code := p.b.p.wait(); code != 0 {
			t.Errorf("baresip %s exited with status %d", p.account, code)
		}
		if out := p.b.p.out.String(); !strings.Contains(out, "Set audio decoder: "+strings.ToUpper(p.codec)+" 8000Hz") {
			t.Errorf("baresip %s did not speak %s:\n%s", p.account, p.codec, out)
		}
	}

	// What each phone sent (its own recording of its microphone, as
	// encoded) and heard, over the window.
	sent := map[string]float64{}
	heard := map[string][]int16{}
	for _, p := range parties {
		n := int(confWindow * audio.Rate)
		enc, dec := p.b.recording(t, "enc"), p.b.recording(t, "dec")
		from := p.mark + int(confSkip*audio.Rate)
		if len(enc) < n || len(dec) < from+n {
			t.Fatalf("baresip %s recorded %d samples sent and %d heard, want %d and %d", p.account, len(enc), len(dec), n, from+n)
		}
		sent[p.account] = sentLevel(enc[len(enc)-n:], p.freq)
		heard[p.account] = dec[from : from+n]
	}
	var table strings.Builder
	fmt.Fprintf(&table, "tone levels over %.1fs of each leg, median of the 20 ms frames that carry the tone (how many of them):\n", confWindow)
	fmt.Fprintf(&table, "  %-10s %-5s %6s", "leg", "codec", "sent")
	for _, q := range parties {
		fmt.Fprintf(&table, " %13.0fHz", q.freq)
	}
	table.WriteByte('\n')
	for _, p := range parties {
		fmt.Fprintf(&table, "  %-10s %-5s %6.0f", p.account, p.codec, sent[p.account])
		for _, q := range parties {
			if q == p {
				own := audio.ToneLevel(heard[p.account], q.freq)
				fmt.Fprintf(&table, " %9.0f own", own)
				if own > 0.02*sent[q.account] {
					t.Errorf("%s hears its own %v Hz at %.0f, more than 2%% of the %.0f it sent", p.account, q.freq, own, sent[q.account])
				}
				continue
			}
			h := hearing(heard[p.account], q.freq, sent[q.account])
			fmt.Fprintf(&table, " %9.0f (%2d)", h.level, h.frames)
			if err := h.check(0.8); err != "" {
				t.Errorf("%s hears %s's %v Hz %s", p.account, q.account, q.freq, err)
			}
		}
		table.WriteByte('\n')
	}
	t.Log(strings.TrimSuffix(table.String(), "\n"))
}

// minHeardFrames is how many 20 ms frames of a window must carry a tone
// for its level to count as measured (200 ms).
const minHeardFrames = 10

// heard is a tone's level in what a phone decoded, measured over the
// frames that delivered it.
type heard struct {
	level      float64 // median tone level of the frames that carry it
	frames, of int     // how many frames carry it, of how many
	sent       float64 // the level it was sent at
}

// hearing measures freq in s frame by frame (20 ms). A frame carries the
// tone when its level there is at least a quarter of sent; the level is
// the median over those frames. Scheduling decides which frames arrive in
// time (a packet late for the bridge's or the phone's jitter buffer is
// played as silence, and one late burst makes the buffer drop audio);
// measured over the frames that did arrive, the level says what the mix
// does to a voice, not how busy the machine was. A level measured over
// the whole window at once would also lose to every phase jump a gap
// leaves in the sine.
func hearing(s []int16, freq, sent float64) heard {
	var levels []float64
	h := heard{sent: sent}
	for i := 0; i+audio.FrameSamples <= len(s); i += audio.FrameSamples {
		h.of++
		if l := audio.ToneLevel(s[i:i+audio.FrameSamples], freq); l >= sent/4 {
			levels = append(levels, l)
		}
	}
	h.frames = len(levels)
	if len(levels) > 0 {
		slices.Sort(levels)
		h.level = levels[len(levels)/2]
	}
	return h
}

// check says what is wrong when the tone was not heard in at least
// minHeardFrames frames, or at less than ratio of the level it was sent
// at; "" when it was heard.
func (h heard) check(ratio float64) string {
	switch {
	case h.frames < minHeardFrames:
		return fmt.Sprintf("in only %d of %d frames (want at least %d)", h.frames, h.of, minHeardFrames)
	case h.level < ratio*h.sent:
		return fmt.Sprintf("at %.0f, less than %.0f%% of the %.0f sent", h.level, 100*ratio, h.sent)
	}
	return ""
}

// sentLevel is the level of the sine a phone sent (or a recording of it
// holds): the median of its 20 ms frames' levels, as hearing measures
// them, so a gap or a phase jump the network left in it costs a frame,
// not the whole measure.
func sentLevel(s []int16, freq float64) float64 {
	var levels []float64
	for i := 0; i+audio.FrameSamples <= len(s); i += audio.FrameSamples {
		levels = append(levels, audio.ToneLevel(s[i:i+audio.FrameSamples], freq))
	}
	if len(levels) == 0 {
		return 0
	}
	slices.Sort(levels)
	return levels[len(levels)/2]
}

// decoded is how many samples baresip has decoded so far, from the size
// of sndfile's recording (a 44-byte header, then 16-bit samples; the
// header's lengths are written only when the file is closed).
func (b *baresip) decoded(t *testing.T) int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(b.p.dir, "dump-*-dec.wav"))
	if len(files) == 0 {
		return 0
	}
	fi, err := os.Stat(files[0])
	if err != nil {
		t.Fatal(err)
	}
	return max(int(fi.Size())-44, 0) / 2
}

// waitDecoded waits until baresip has decoded n samples, or fails the
// test when deadline fires first.
func (b *baresip) waitDecoded(t *testing.T, n int, deadline <-chan time.Time) {
	t.Helper()
	for b.decoded(t) < n {
		select {
		case <-b.files:
		case <-b.p.done:
			t.Fatalf("baresip %s ended having decoded %d samples, want %d\n%s", b.account, b.decoded(t), n, b.p.report())
		case <-deadline:
			t.Fatalf("baresip %s decoded %d samples within %s, want %d", b.account, b.decoded(t), eventTimeout, n)
		}
	}
}

// recording reads sndfile's finished recording of the call: "enc" what
// baresip sent, "dec" what it decoded.
func (b *baresip) recording(t *testing.T, which string) []int16 {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(b.p.dir, "dump-*-"+which+".wav"))
	if len(files) != 1 {
		t.Fatalf("baresip %s: recordings %q, want one dump-*-%s.wav", b.account, files, which)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	w, err := audio.ReadWAV(data)
	if err != nil {
		t.Fatalf("baresip %s: %s: %v", b.account, filepath.Base(files[0]), err)
	}
	return w.Samples
}
