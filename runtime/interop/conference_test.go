package interop

import (
	"fmt"
	"os"
	"path/filepath"
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
	deadline := talk.Add(eventTimeout)
	for _, p := range parties {
		for p.b.decoded(t) < p.mark+int(confTalk*audio.Rate) {
			if time.Now().After(deadline) {
				t.Fatalf("baresip %s decoded %d samples in %s, want %d", p.account, p.b.decoded(t)-p.mark, eventTimeout, int(confTalk*audio.Rate))
			}
			time.Sleep(20 * time.Millisecond)
		}
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
		sent[p.account] = audio.ToneLevel(enc[len(enc)-n:], p.freq)
		heard[p.account] = dec[from : from+n]
	}
	var table strings.Builder
	fmt.Fprintf(&table, "tone levels over %.1fs of each leg (sent: the phone's own encoded microphone):\n", confWindow)
	fmt.Fprintf(&table, "  %-10s %-5s %6s", "leg", "codec", "sent")
	for _, q := range parties {
		fmt.Fprintf(&table, " %8.0fHz", q.freq)
	}
	table.WriteByte('\n')
	for _, p := range parties {
		fmt.Fprintf(&table, "  %-10s %-5s %6.0f", p.account, p.codec, sent[p.account])
		for _, q := range parties {
			lvl := audio.ToneLevel(heard[p.account], q.freq)
			fmt.Fprintf(&table, " %10.0f", lvl)
			switch {
			case q == p && lvl > 0.02*sent[q.account]:
				t.Errorf("%s hears its own %v Hz at %.0f, more than 2%% of the %.0f it sent", p.account, q.freq, lvl, sent[q.account])
			case q != p && lvl < 0.8*sent[q.account]:
				t.Errorf("%s hears %s's %v Hz at %.0f, less than 80%% of the %.0f %s sent", p.account, q.account, q.freq, lvl, sent[q.account], q.account)
			}
		}
		table.WriteByte('\n')
	}
	t.Log(strings.TrimSuffix(table.String(), "\n"))
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
