package voicemail

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/email"
	"switchboard/runtime/audio"
	"switchboard/runtime/events"
	"switchboard/runtime/line"
)

// deposit runs Deposit for caller into box; feed runs once recording has
// started (the beep is over), and queues the caller's audio and keys.
func (e *testEnv) deposit(l *fakeLine, box string, c Caller, feed func()) error {
	e.t.Helper()
	started := make(chan struct{}, 1)
	e.s.onRecord = func() { started <- struct{}{} }
	errc := make(chan error, 1)
	go func() { errc <- e.s.Deposit(context.Background(), l, box, c) }()
	select {
	case <-started:
		feed()
	case err := <-errc:
		return err
	case <-time.After(10 * time.Second):
		e.t.Fatal("recording never started")
	}
	select {
	case err := <-errc:
		return err
	case <-time.After(10 * time.Second):
		e.t.Fatal("Deposit did not return")
	}
	return nil
}

func readMessageWAV(t *testing.T, e *testEnv, box string, m Message) *audio.WAV {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(e.dir, box, m.Name()+".wav"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := audio.ReadWAV(data)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// A message is recorded in the caller's codec, byte for byte, with the
// length of the audio sent, and ends on '#'.
func TestDepositRecordsCodecAsIs(t *testing.T) {
	for _, codec := range []audio.Codec{audio.PCMU, audio.PCMA} {
		t.Run(codec.String(), func(t *testing.T) {
			e := newEnv(t)
			l := newFakeLine(codec, e.clk)
			var sent []int16
			err := e.deposit(l, "mary", gate, func() {
				l.speak(3, 697, 1000)
				for len(sent) < 3*audio.Rate {
					sent = append(sent, audio.Tone(make([]int16, audio.FrameSamples), 697, 8000, 1000+len(sent))...)
				}
				l.keys("#")
			})
			if err != nil {
				t.Fatal(err)
			}
			ms := e.messages("mary")
			if len(ms) != 1 {
				t.Fatalf("%d messages, want 1", len(ms))
			}
			m := ms[0]
			want := Message{ID: 1, Box: "mary", Folder: FolderNew, Time: epoch, DurationMS: 3000, Codec: codec.String(),
				From: From{Account: "device.front-gate", Display: "Front gate", Number: "front-gate"}, Call: "call-gate", Reason: "no answer"}
			if d := cmp.Diff(want, m); d != "" {
				t.Errorf("message (-want +got):\n%s", d)
			}
			w := readMessageWAV(t, e, "mary", m)
			if w.Format != audio.FormatOf(codec) {
				t.Errorf("WAV format %d, want %d", w.Format, audio.FormatOf(codec))
			}
			if got := w.Seconds(); got != 3 {
				t.Errorf("WAV holds %.3f s, want 3", got)
			}
			if lvl := audio.ToneLevel(w.Samples, 697); lvl < 7000 {
				t.Errorf("697 Hz level %.0f: the recording is not the caller's audio", lvl)
			}
			if !slicesEqual(w.Raw, codec.Encode(nil, sent)) {
				t.Error("stored bytes are not the codec's bytes as received")
			}
			if got := l.Played(); !contains(got, "vm-greeting") || !contains(got, "beep") || got[len(got)-1] != "vm-goodbye" {
				t.Errorf("played %v", got)
			}
			if !strings.Contains(l.Cause(), "#") {
				t.Errorf("hang-up cause %q", l.Cause())
			}
			if files := e.boxFiles("mary"); !cmp.Equal(files, []string{"msg-000001.json", "msg-000001.wav"}) {
				t.Errorf("box files %v", files)
			}
			evs := e.events(events.VoicemailDeposited)
			if len(evs) != 1 || evs[0].Target != "mailbox.mary" || evs[0].Account != "device.front-gate" || evs[0].Origin.Object == "" {
				t.Errorf("deposit events %+v", evs)
			}
		})
	}
}

func slicesEqual(a, b []byte) bool { return string(a) == string(b) }

func TestDepositEnds(t *testing.T) {
	tests := []struct {
		name    string
		cfg     func(*Config)
		feed    func(e *testEnv, l *fakeLine)
		wantMS  int64 // 0: no message
		wantEnd string
	}{
		{"max length cuts off", func(c *Config) { c.MaxMessage = 2 * time.Second },
			func(e *testEnv, l *fakeLine) { l.speak(3, 440, 0) }, 2000, endMax},
		{"hang-up keeps the message", nil,
			func(e *testEnv, l *fakeLine) { l.speak(2.5, 440, 0); l.Hangup("caller hung up") }, 2500, ""},
		{"silence on the network ends it", nil,
			func(e *testEnv, l *fakeLine) {
				l.speak(1.5, 440, 0)
				// The clock runs on, a second whenever the recording waits
				// on it, until the silence ends the call.
				go func() {
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					go func() { <-l.done; cancel() }()
					for e.clk.WaitPending(ctx, 1) == nil {
						e.clk.Advance(time.Second)
					}
				}()
			}, 1500, endSilence},
		{"too short is dropped", nil,
			func(e *testEnv, l *fakeLine) { l.speak(0.5, 440, 0); l.keys("#") }, 0, endHash},
		{"lost packets count as time", nil,
			func(e *testEnv, l *fakeLine) {
				ts := l.speak(1, 440, 5000)
				ts = l.speak(0, 440, ts) + 25*audio.FrameSamples // half a second lost
				l.speak(1, 440, ts)
				l.keys("#")
			}, 2500, endHash},
		{"repeated and late packets are dropped", nil,
			func(e *testEnv, l *fakeLine) {
				ts := l.speak(1, 440, 0)
				l.speak(0.2, 440, ts-10*audio.FrameSamples) // replayed
				l.speak(1, 440, ts)
				l.keys("#")
			}, 2000, endHash},
		{"a restarted stream carries on", nil,
			func(e *testEnv, l *fakeLine) {
				l.speak(1, 440, 4_000_000_000)
				l.speak(1, 440, 77)
				l.keys("#")
			}, 2000, endHash},
		{"other keys are ignored", nil,
			func(e *testEnv, l *fakeLine) { l.speak(1, 440, 0); l.keys("1*9"); l.speak(0, 440, 0); l.keys("#") }, 1000, endHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var edits []func(*Config)
			if tt.cfg != nil {
				edits = append(edits, tt.cfg)
			}
			e := newEnv(t, edits...)
			l := newFakeLine(audio.PCMA, e.clk)
			if err := e.deposit(l, "john", mary, func() { tt.feed(e, l) }); err != nil {
				t.Fatal(err)
			}
			ms := e.messages("john")
			switch {
			case tt.wantMS == 0 && len(ms) != 0:
				t.Fatalf("kept %+v", ms)
			case tt.wantMS == 0:
			case len(ms) != 1:
				t.Fatalf("%d messages", len(ms))
			case ms[0].DurationMS != tt.wantMS:
				t.Errorf("duration %d ms, want %d", ms[0].DurationMS, tt.wantMS)
			default:
				if got := readMessageWAV(t, e, "john", ms[0]); int64(len(got.Samples)) != tt.wantMS*8 {
					t.Errorf("WAV holds %d samples, want %d", len(got.Samples), tt.wantMS*8)
				}
			}
			if tt.wantEnd != "" && l.Cause() != "voicemail: "+tt.wantEnd {
				t.Errorf("hang-up cause %q, want %q", l.Cause(), "voicemail: "+tt.wantEnd)
			}
			for _, f := range e.boxFiles("john") {
				if strings.HasPrefix(f, ".") {
					t.Errorf("left behind %s", f)
				}
			}
		})
	}
}

// Audio that arrived during the greeting and the beep is not part of the
// message.
func TestDepositDiscardsAudioBeforeTheBeep(t *testing.T) {
	e := newEnv(t)
	l := newFakeLine(audio.PCMU, e.clk)
	l.speak(4, 1000, 0) // over the greeting
	if err := e.deposit(l, "mary", gate, func() { l.speak(1.2, 440, 32000); l.keys("#") }); err != nil {
		t.Fatal(err)
	}
	ms := e.messages("mary")
	if len(ms) != 1 || ms[0].DurationMS != 1200 {
		t.Fatalf("messages %+v", ms)
	}
	if w := readMessageWAV(t, e, "mary", ms[0]); audio.ToneLevel(w.Samples, 1000) > 500 {
		t.Error("the message holds audio from before the beep")
	}
}

// What the caller says from the end of the beep is the message, also
// what arrives while the message's files are being opened (a disk sync
// that can take seconds on a busy machine), and a # pressed then ends
// it. Dropped as said over the beep, such a start could leave less than
// the minimum length: no message at all.
func TestDepositKeepsAudioFromTheBeepOn(t *testing.T) {
	e := newEnv(t)
	l := newFakeLine(audio.PCMA, e.clk)
	said := false
	e.s.onOpen = func() { // the beep is over, the files not open yet
		said = len(e.events(events.VoicemailRecording)) == 1
		l.speak(1.2, 440, 0)
		l.keys("#")
	}
	if err := e.deposit(l, "mary", gate, func() {}); err != nil {
		t.Fatal(err)
	}
	if ms := e.messages("mary"); len(ms) != 1 || ms[0].DurationMS != 1200 {
		t.Fatalf("messages %+v, want one of 1.2 s", ms)
	}
	if l.Cause() != "voicemail: #" {
		t.Errorf("hang-up cause %q, want the # pressed as the files opened", l.Cause())
	}
	// Said before the files open: the simulator speaks once it is, and a
	// slow disk kept the in-memory network quiet long enough for it to
	// give up ("the server stopped playing before recording").
	if !said {
		t.Error("voicemail_recording not published before the message's files were opened")
	}
	if evs := e.events(events.VoicemailDiscarded); len(evs) != 0 {
		t.Errorf("discarded events %+v for a message kept", evs)
	}
}

// A recording too short to keep is said to be dropped (an event and a
// log line), not dropped without a word.
func TestDepositTooShortIsSaid(t *testing.T) {
	e := newEnv(t)
	l := newFakeLine(audio.PCMA, e.clk)
	if err := e.deposit(l, "mary", gate, func() { l.speak(0.5, 440, 0); l.keys("#") }); err != nil {
		t.Fatal(err)
	}
	if ms := e.messages("mary"); len(ms) != 0 {
		t.Fatalf("kept %+v", ms)
	}
	evs := e.events(events.VoicemailDiscarded)
	if len(evs) != 1 || evs[0].Target != "mailbox.mary" || evs[0].Account != "device.front-gate" || !strings.Contains(evs[0].Cause, "500ms of audio") || !strings.HasSuffix(evs[0].Cause, "ended by #") {
		t.Errorf("discarded events %+v, want one for mary's box, 500ms ended by #", evs)
	}
	if evs := e.events(events.VoicemailDeposited); len(evs) != 0 {
		t.Errorf("deposited events %+v for a recording not kept", evs)
	}
}

// A key during the greeting skips to the beep; a recorded greeting
// replaces the default one.
func TestDepositGreeting(t *testing.T) {
	e := newEnv(t)
	b, _ := e.s.box("mary")
	r, _ := e.s.startGreeting(b, audio.PCMU)
	r.add(line.Frame{Samples: audio.Tone(make([]int16, 2*audio.Rate), 300, 8000, 0)})
	if ok, err := r.finishGreeting(e.s.minSamples()); !ok || err != nil {
		t.Fatalf("finishGreeting: %v %v", ok, err)
	}
	l := newFakeLine(audio.PCMU, e.clk)
	l.keys("#")
	if err := e.deposit(l, "mary", gate, func() { l.speak(1, 440, 0); l.keys("#") }); err != nil {
		t.Fatal(err)
	}
	played := l.Played()
	if contains(played, "vm-greeting") || contains(played, "audio(2.00s)") {
		t.Errorf("played %v: the greeting was not skipped", played)
	}
	l = newFakeLine(audio.PCMU, e.clk)
	if err := e.deposit(l, "mary", gate, func() { l.speak(1, 440, 0); l.keys("#") }); err != nil {
		t.Fatal(err)
	}
	if played := l.Played(); !contains(played, "audio(2.00s)") || contains(played, "vm-greeting") {
		t.Errorf("played %v, want the recorded greeting", played)
	}
}

// A key stops a prompt that is playing; so does hanging up.
func TestDepositInterruptsPlayingPrompts(t *testing.T) {
	e := newEnv(t)
	l := newFakeLine(audio.PCMU, e.clk)
	l.block = map[string]bool{"vm-greeting": true}
	go func() {
		<-l.started
		l.keys("5") // while the greeting plays
	}()
	if err := e.deposit(l, "mary", gate, func() { l.speak(1, 440, 0); l.keys("#") }); err != nil {
		t.Fatal(err)
	}
	if got := l.interrupted; !cmp.Equal(got, []string{"vm-greeting"}) || len(e.messages("mary")) != 1 {
		t.Errorf("interrupted %v, %d messages", got, len(e.messages("mary")))
	}

	l = newFakeLine(audio.PCMU, e.clk)
	l.block = map[string]bool{"vm-greeting": true}
	go func() {
		<-l.started
		l.Hangup("caller gone")
	}()
	if err := e.s.Deposit(context.Background(), l, "mary", gate); err != nil {
		t.Fatal(err)
	}
	if got := l.Played(); !cmp.Equal(got, []string{"vm-greeting"}) || len(e.messages("mary")) != 1 {
		t.Errorf("after hang-up during the greeting: played %v, %d messages", got, len(e.messages("mary")))
	}

	// The context ending (the server shutting down) stops it too.
	ctx, cancel := context.WithCancel(context.Background())
	l = newFakeLine(audio.PCMU, e.clk)
	l.block = map[string]bool{"vm-greeting": true}
	go func() {
		<-l.started
		cancel()
	}()
	if err := e.s.Deposit(ctx, l, "mary", gate); err != nil || l.Cause() == "" {
		t.Errorf("cancelled: %v, hung up %q", err, l.Cause())
	}
}

func TestDepositRefuses(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxMessages = 2 })
	l := newFakeLine(audio.PCMU, e.clk)
	if err := e.s.Deposit(context.Background(), l, "aoife", gate); !errors.Is(err, ErrNoBox) {
		t.Errorf("box the program lacks: %v", err)
	}
	if err := e.s.Deposit(context.Background(), newFakeLine(audio.PCMU, e.clk), "../mary", gate); !errors.Is(err, ErrNoBox) {
		t.Errorf("path in a box name: %v", err)
	}
	e.addMessage("mary", FolderNew, epoch, 2, 440)
	e.addMessage("mary", FolderSaved, epoch, 2, 440)
	l = newFakeLine(audio.PCMU, e.clk)
	if err := e.s.Deposit(context.Background(), l, "mary", gate); !errors.Is(err, ErrBoxFull) {
		t.Errorf("full box: %v", err)
	}
	if got := l.Played(); !cmp.Equal(got, []string{"vm-mailbox-full", "vm-goodbye"}) || l.Cause() != "mailbox full" {
		t.Errorf("full box: played %v, hung up %q", got, l.Cause())
	}
	// A caller who hangs up during the greeting leaves nothing.
	e2 := newEnv(t)
	l = newFakeLine(audio.PCMU, e2.clk)
	l.Hangup("gone")
	if err := e2.s.Deposit(context.Background(), l, "mary", gate); err != nil {
		t.Errorf("hang-up during greeting: %v", err)
	}
	if ms := e2.messages("mary"); len(ms) != 0 {
		t.Errorf("hang-up during greeting left %v", ms)
	}
}

// Concurrent deposits into one box get their own numbers.
func TestDepositConcurrent(t *testing.T) {
	e := newEnv(t)
	const n = 8
	errc := make(chan error, n)
	for i := range n {
		go func() {
			l := newFakeLine(audio.PCMU, e.clk)
			l.Hangup("after speaking") // the queued audio is kept
			b, _ := e.s.box("mary")
			r, err := e.s.startMessage(b, audio.PCMU, Message{Time: epoch.Add(time.Duration(i) * time.Second)})
			if err != nil {
				errc <- err
				return
			}
			r.add(line.Frame{Samples: make([]int16, 2*audio.Rate)})
			_, err = r.finishMessage(e.s.minSamples())
			errc <- err
		}()
	}
	for range n {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	ms := e.messages("mary")
	seen := map[int]bool{}
	for _, m := range ms {
		seen[m.ID] = true
	}
	if len(ms) != n || len(seen) != n {
		t.Errorf("%d messages with %d numbers, want %d", len(ms), len(seen), n)
	}
}

// Watchers hear of every change, after it is on disk.
func TestWatch(t *testing.T) {
	e := newEnv(t)
	var got []string
	stop := e.s.Watch(func(box string) {
		got = append(got, box+":"+string(e.s.MessageSummary(box)))
	})
	l := newFakeLine(audio.PCMU, e.clk)
	if err := e.deposit(l, "mary", gate, func() { l.speak(1, 440, 0); l.keys("#") }); err != nil {
		t.Fatal(err)
	}
	stop()
	l = newFakeLine(audio.PCMU, e.clk)
	if err := e.deposit(l, "mary", gate, func() { l.speak(1, 440, 0); l.keys("#") }); err != nil {
		t.Fatal(err)
	}
	want := []string{"mary:Messages-Waiting: yes\r\nMessage-Account: sip:*97@harbour-view.example.net\r\nVoice-Message: 1/0 (0/0)\r\n"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("watch (-want +got):\n%s", d)
	}
}

// The crash case: a recording whose process died. What was synced
// becomes a message when the service opens again.
func TestRecoverKilledRecording(t *testing.T) {
	e := newEnv(t)
	b, _ := e.s.box("mary")
	r, err := e.s.startMessage(b, audio.PCMA, Message{Time: epoch, From: From{Account: "device.front-gate", Display: "Front gate"}, Call: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 125 { // 2.5 s: synced at 1 s and 2 s
		tone := audio.Tone(make([]int16, audio.FrameSamples), 697, 8000, i*audio.FrameSamples)
		if _, err := r.add(line.Frame{Timestamp: uint32(i * audio.FrameSamples), Samples: tone}); err != nil {
			t.Fatal(err)
		}
	}
	r.f.Close() // killed: no finish
	// Debris of other crashes.
	dir := filepath.Join(e.dir, "mary")
	os.WriteFile(filepath.Join(dir, ".tmp-msg-000009.json-123"), []byte("{"), 0o640)
	os.WriteFile(filepath.Join(dir, ".rec-greeting-55.wav"), []byte("RIFF"), 0o640)
	os.WriteFile(filepath.Join(dir, "msg-000007.json"), []byte("{}"), 0o640)  // audio deleted
	os.WriteFile(filepath.Join(dir, ".rec-000008.json"), []byte("{}"), 0o640) // never started

	var mailed []email.Message
	e.open(Config{Dir: e.dir, Clock: e.clk, Events: e.bus, Logger: discardLogger(),
		Mailer: mailerFunc(func(m email.Message) error { mailed = append(mailed, m); return nil })})
	e.s.Close()

	ms := e.messages("mary")
	if len(ms) != 1 {
		t.Fatalf("%d messages after recovery: %+v", len(ms), ms)
	}
	want := Message{ID: 1, Box: "mary", Folder: FolderNew, Time: epoch, DurationMS: 2000, Codec: "PCMA",
		From: From{Account: "device.front-gate", Display: "Front gate"}, Call: "c1", Recovered: true, Mailed: true}
	if d := cmp.Diff(want, ms[0]); d != "" {
		t.Errorf("recovered (-want +got):\n%s", d)
	}
	w := readMessageWAV(t, e, "mary", ms[0])
	if w.Format != audio.FormatALaw || len(w.Samples) != 2*audio.Rate || audio.ToneLevel(w.Samples, 697) < 7000 {
		t.Errorf("recovered WAV: format %d, %d samples", w.Format, len(w.Samples))
	}
	if files := e.boxFiles("mary"); !cmp.Equal(files, []string{"msg-000001.json", "msg-000001.wav"}) {
		t.Errorf("box files after recovery %v", files)
	}
	if evs := e.events(events.VoicemailRecovered); len(evs) != 1 {
		t.Errorf("recovered events %+v", evs)
	}
	if len(mailed) != 1 || !strings.Contains(string(mailed[0].Data), "cut off") {
		t.Errorf("recovered message mailed %d times", len(mailed))
	}
	// A new message takes the next number.
	l := newFakeLine(audio.PCMU, e.clk)
	if err := e.deposit(l, "mary", gate, func() { l.speak(1, 440, 0); l.keys("#") }); err != nil {
		t.Fatal(err)
	}
	if ms := e.messages("mary"); len(ms) != 2 || ms[1].ID != 2 {
		t.Errorf("after recovery: %+v", ms)
	}
}

// A crash between writing the metadata and renaming the audio, and one
// before anything was synced.
func TestRecoverCommitEdges(t *testing.T) {
	e := newEnv(t)
	b, _ := e.s.box("john")
	r, _ := e.s.startMessage(b, audio.PCMU, Message{Time: epoch, Call: "c2"})
	r.add(line.Frame{Samples: make([]int16, 3*audio.Rate)})
	r.close()
	m := r.meta
	m.DurationMS = 3000
	writeFileAtomic(b.files(), b.dir, msgName(r.id)+".json", marshalMeta(&m)) // then the crash

	r2, _ := e.s.startMessage(b, audio.PCMU, Message{Time: epoch})
	r2.add(line.Frame{Samples: make([]int16, audio.Rate/2)}) // under a second: never synced
	r2.f.Close()

	e.open(Config{Dir: e.dir, Clock: e.clk, Logger: discardLogger()})
	ms := e.messages("john")
	if len(ms) != 1 || ms[0].ID != 1 || ms[0].DurationMS != 3000 || !ms[0].Recovered || ms[0].Call != "c2" {
		t.Fatalf("messages %+v", ms)
	}
	if files := e.boxFiles("john"); !cmp.Equal(files, []string{"msg-000001.json", "msg-000001.wav"}) {
		t.Errorf("box files %v", files)
	}
}

type mailerFunc func(email.Message) error

func (f mailerFunc) Send(_ context.Context, m email.Message) error { return f(m) }

func FuzzRecordFrames(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 0, 2, 255, 255, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		s := &Service{cfg: Config{Dir: dir, MaxMessage: 3 * time.Second, SyncEvery: time.Second}}
		bx := &box{name: "x", dir: dir, loaded: true, msgs: map[int]*Message{}, next: 1}
		fh, _ := os.Create(filepath.Join(dir, "r.wav"))
		r, err := s.newRecording(bx, fh, audio.PCMU, s.cfg.MaxMessage)
		if err != nil {
			t.Fatal(err)
		}
		defer r.f.Close()
		// Each 3 bytes: a timestamp step (signed, in frames) and a length.
		var ts uint32
		for len(b) >= 3 {
			ts += uint32(int32(int8(b[0]))*audio.FrameSamples + int32(b[1])*audio.Rate)
			n := int(b[2])
			b = b[3:]
			if _, err := r.add(line.Frame{Timestamp: ts, Samples: make([]int16, n)}); err != nil {
				t.Fatal(err)
			}
			if r.n > r.max {
				t.Fatalf("%d samples written, maximum %d", r.n, r.max)
			}
		}
	})
}
