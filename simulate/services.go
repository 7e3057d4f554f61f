package simulate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"switchboard/runtime/audio"
	"switchboard/runtime/events"
	"switchboard/simulate/device"
)

// Steps for the calls the server answers itself: conference bridges and
// voicemail.
type (
	// ExpectConference has each account dial a conference number and
	// speak (a tone of its own), and checks that everyone hears every
	// other participant and not themselves: the mix is measured, not
	// just counted.
	ExpectConference struct {
		Number   string
		Accounts []string
	}
	// ExpectVoicemail waits for the call to be answered by voicemail for
	// Mailbox.
	ExpectVoicemail struct{ Mailbox string }
	// LeaveMessage skips the greeting with a key, speaks (a 440 Hz tone)
	// for Seconds after the beep and ends the message with #.
	LeaveMessage struct{ Seconds int }
	// ExpectMessage waits for the message to be stored in Mailbox, and
	// reads its file: at least Seconds long, carrying the caller's voice.
	ExpectMessage struct {
		Mailbox string
		Seconds int
	}
	// ExpectMWI waits until each account's device has been told, by a
	// message-summary NOTIFY, that messages are waiting.
	ExpectMWI struct{ Accounts []string }
	// ExpectHears waits until the caller has heard a second of the
	// server's audio (a prompt, a menu), advancing the clock that paces it.
	ExpectHears struct{ What string }
)

func (s ExpectConference) describe() string {
	return fmt.Sprintf("%s join %s and each hears the others", strings.Join(s.Accounts, ", "), s.Number)
}
func (s ExpectVoicemail) describe() string { return "answered by voicemail " + s.Mailbox }
func (s LeaveMessage) describe() string {
	return fmt.Sprintf("caller leaves a %d s message", s.Seconds)
}
func (s ExpectMessage) describe() string {
	return fmt.Sprintf("a message of %d s arrives in %s", s.Seconds, s.Mailbox)
}
func (s ExpectMWI) describe() string {
	return "message waiting shown on " + strings.Join(s.Accounts, ", ")
}
func (s ExpectHears) describe() string { return "caller hears " + s.What }

// The caller's voice in a message: apart from the beep (1 kHz).
const messageVoice = 440

func (w *worker) serviceStep(ctx context.Context, st *caseState, s Step) error {
	switch s := s.(type) {
	case ExpectConference:
		return w.expectConference(ctx, st, s)
	case ExpectVoicemail:
		if err := w.dialResult(st); err != nil {
			return err
		}
		leg := strings.TrimSpace("voicemail " + s.Mailbox)
		if _, ok := w.waitEvent(st, func(e events.Event) bool { return e.Kind == events.LegAnswered && e.Leg == leg }); !ok {
			return fmt.Errorf("the call was answered, but not by %s; saw %s", leg, w.seen(st))
		}
		return nil
	case LeaveMessage:
		return w.leaveMessage(ctx, st, s)
	case ExpectMessage:
		return w.expectMessage(st, s)
	case ExpectMWI:
		for _, a := range s.Accounts {
			d := w.device(a)
			if d == nil {
				return fmt.Errorf("no simulated device for %q", a)
			}
			wctx, cancel := context.WithTimeout(ctx, w.o.Wait)
			_, err := d.WaitNotification(wctx, "message-summary", func(b string) bool { return strings.Contains(b, "Messages-Waiting: yes") })
			cancel()
			if err != nil {
				return fmt.Errorf("%s: %w", a, err)
			}
		}
		return nil
	case ExpectHears:
		if err := w.dialResult(st); err != nil {
			return err
		}
		return w.hear(ctx, st.call, audio.Rate)
	}
	return fmt.Errorf("unknown step %T", s)
}

// hear advances the clock a frame at a time until the call has received
// n samples of non-silent audio. The caller streams a frame of silence a
// tick, as a phone sends RTP all through a call: a server answering a
// caller behind NAT learns where to send from those packets (symmetric
// RTP), and until then its frames go to the SDP's private address.
func (w *worker) hear(ctx context.Context, c *device.Call, n int) error {
	heard := func() bool { got := c.Audio(); return len(got) >= n && audio.RMS(got) > 100 }
	for range 20 * n / audio.FrameSamples {
		if err := c.SendSilence(1); err != nil {
			return err
		}
		if !w.nextFrame(heard, c.AudioArrived()) {
			break
		}
	}
	if heard() {
		return nil
	}
	got := c.Audio()
	return fmt.Errorf("heard %d samples (level %.0f) of the %d wanted", len(got), audio.RMS(got), n)
}

// delivered waits until the bridge has taken in the frames of the calls'
// devices: sent, frames each since it joined. A real network delivers a
// packet well within its 20 ms; the virtual clock does not wait for the
// network, so the simulator waits for the bridge's own word before it
// moves the room's clock on (over memory and UDP alike).
func (w *worker) delivered(ctx context.Context, calls []*device.Call, sent int) error {
	wctx, cancel := context.WithTimeout(ctx, w.o.Wait)
	defer cancel()
	for _, c := range calls {
		if err := w.site.WaitConferenceFrames(wctx, c.ID(), sent); err != nil {
			return fmt.Errorf("the bridge did not take in %s's audio: %w", c.ID(), err)
		}
	}
	return nil
}

// nextFrame moves the clock on by one frame of the server's paced audio:
// it waits until the server has scheduled its next frame (or done holds),
// then advances. It reports false when done holds, or when the server
// schedules nothing within the expectation wait.
func (w *worker) nextFrame(done func() bool, arrived <-chan struct{}) bool {
	var limit <-chan struct{}
	for {
		if done() {
			return false
		}
		if w.clock.dueWithin(20 * time.Millisecond) {
			w.clock.Advance(20 * time.Millisecond)
			return true
		}
		if limit == nil {
			ctx, cancel := w.waitCtx(context.Background())
			defer cancel()
			limit = ctx.Done()
		}
		select {
		case <-w.clock.scheduled:
		case <-w.notify:
		case <-arrived:
		case <-limit:
			return false
		}
	}
}

func (w *worker) leaveMessage(ctx context.Context, st *caseState, s LeaveMessage) error {
	if err := w.dialResult(st); err != nil {
		return err
	}
	c := st.call
	// Any key skips the greeting; the beep that follows is paced by the
	// clock, which moves a frame at a time until the server says it is
	// recording. The caller says nothing over the beep: a phone would
	// still send its frames, but the server throws away what arrives
	// before recording starts and no step could tell them apart, so they
	// would cost packets and prove nothing.
	if err := c.SendDTMF("1"); err != nil {
		return err
	}
	recording := w.seenOnCall(events.VoicemailRecording, c.ID())
	for i := 0; !recording(); i++ {
		if i == 3000 { // a minute of the server's audio
			return fmt.Errorf("the beep never ended in recording; saw %s", w.seen(st))
		}
		if !w.nextFrame(recording, nil) && !recording() {
			return fmt.Errorf("the server stopped playing before recording; saw %s", w.seen(st))
		}
	}
	// Recording follows the audio's RTP time, not the clock, so the
	// message goes out at once (over UDP the media sockets have the
	// receive buffer for it), in 80 ms packets: the recording's length
	// and voice are the samples', and a quarter of the packets of a
	// 20 ms stream carry them (the most the server's endpoint takes in
	// one, so its limit is exercised too).
	if err := c.SendTonePacked(messageVoice, voiceLevel, s.Seconds*50, 4); err != nil {
		return err
	}
	return c.SendDTMF("#")
}

func (w *worker) expectMessage(st *caseState, s ExpectMessage) error {
	id := ""
	if st.call != nil {
		id = st.call.ID()
	}
	e, ok := w.waitWorkEvent(st, func(e events.Event) bool {
		return e.Kind == events.VoicemailDeposited && e.Target == "mailbox."+s.Mailbox && (id == "" || e.Call == id)
	})
	if !ok {
		return fmt.Errorf("no message arrived in %s; saw %s", s.Mailbox, w.seen(st))
	}
	path := filepath.Join(w.dataDir, "voicemail", filepath.FromSlash(e.Path))
	read := os.ReadFile
	if w.vmFiles != nil {
		read = w.vmFiles.ReadFile
	}
	b, err := read(path)
	if err != nil {
		return fmt.Errorf("the message is not stored: %w", err)
	}
	wav, err := audio.ReadWAV(b)
	if err != nil {
		return fmt.Errorf("the message %s: %w", e.Path, err)
	}
	if wav.Seconds() < float64(s.Seconds)-0.1 {
		return fmt.Errorf("the message %s is %.2f s long, want %d s", e.Path, wav.Seconds(), s.Seconds)
	}
	if lvl := audio.ToneLevel(wav.Samples, messageVoice); lvl < voiceLevel/2 {
		return fmt.Errorf("the message %s does not carry the caller's voice (level %.0f of %d)", e.Path, lvl, voiceLevel)
	}
	return nil
}

// Voices of the participants: far enough apart (and from the join tones)
// that each is measured on its own.
var voices = []float64{697, 1209, 1633, 941, 1477}

// Conference ticks run: long enough for join tones to finish, then the
// measured stretch.
const (
	confTicks    = 100
	confMeasured = 40
	voiceLevel   = 6000
)

func (w *worker) expectConference(ctx context.Context, st *caseState, s ExpectConference) error {
	if len(s.Accounts) > len(voices) {
		return fmt.Errorf("at most %d participants can be told apart", len(voices))
	}
	calls := make([]*device.Call, len(s.Accounts))
	defer func() {
		for _, c := range calls {
			if c != nil && !c.Ended() {
				hctx, cancel := context.WithTimeout(context.Background(), w.o.Wait)
				c.Hangup(hctx)
				cancel()
			}
		}
	}()
	for i, a := range s.Accounts {
		d := w.device(a)
		if d == nil {
			return fmt.Errorf("no simulated device for %q", a)
		}
		dctx, cancel := context.WithTimeout(ctx, w.o.Wait)
		c, err := d.Dial(dctx, s.Number)
		cancel()
		if err != nil {
			return fmt.Errorf("%s could not join %s: %w", a, s.Number, err)
		}
		calls[i] = c
		if pin := w.roomPIN(s.Number, a); pin != "" {
			// Keyed over the prompt, which the key cuts short.
			if err := c.SendDTMF(pin + "#"); err != nil {
				return err
			}
			// The clock stands still until the join: the first key cuts
			// the prompt short and the rest need no time, while a clock
			// moved on as the server plays could pass the PIN's timeout
			// with keys still in flight and split them between two tries.
		}
		if _, ok := w.waitEvent(st, func(e events.Event) bool {
			return e.Kind == events.ConferenceJoined && e.Call == c.ID()
		}); !ok {
			return fmt.Errorf("%s was answered but never joined the room; saw %s", a, w.seen(st))
		}
	}
	// Everyone speaks a frame, then the bridge's clock ticks: the mixer
	// takes one frame from each and sends each participant a mix.
	for _, c := range calls {
		c.ClearAudio()
	}
	for tick := range confTicks {
		var wg sync.WaitGroup
		errs := make([]error, len(calls))
		for i, c := range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = c.SendTone(voices[i], voiceLevel, 1)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		// The frames must reach the bridge before its tick. The devices
		// have sent no audio before this loop (dialling, and keying a
		// PIN, are signalling and telephone-events).
		if err := w.delivered(ctx, calls, tick+1); err != nil {
			return err
		}
		w.clock.Advance(20 * time.Millisecond)
		for _, c := range calls {
			wctx, cancel := context.WithTimeout(ctx, w.o.Wait)
			err := c.WaitAudio(wctx, (tick+1)*audio.FrameSamples)
			cancel()
			if err != nil {
				return fmt.Errorf("the bridge stopped sending audio: %w", err)
			}
		}
	}
	// Measured over the last frames each device received. A device's
	// reader can lag behind its socket on a busy machine, and frames sent
	// before ClearAudio then count towards WaitAudio: so wait, woken by
	// each frame, until the last ones carry every other voice (the
	// expectation wait bounds a bridge that never mixes them), then check.
	last := func(c *device.Call) []int16 {
		heard := c.Audio()
		return heard[max(0, len(heard)-confMeasured*audio.FrameSamples):]
	}
	hearsOthers := func(i int) bool {
		heard := last(calls[i])
		for j := range calls {
			if j != i && audio.ToneLevel(heard, voices[j]) < voiceLevel/3 {
				return false
			}
		}
		return true
	}
	limit := time.NewTimer(w.o.Wait)
	defer limit.Stop()
	expired := false
	for i, c := range calls {
		for !expired && !hearsOthers(i) {
			select {
			case <-c.AudioArrived():
			case <-limit.C:
				expired = true
			}
		}
	}
	var problems []string
	for i, c := range calls {
		heard := last(c)
		if own := audio.ToneLevel(heard, voices[i]); own > voiceLevel/10 {
			problems = append(problems, fmt.Sprintf("%s hears itself (level %.0f)", s.Accounts[i], own))
		}
		for j := range calls {
			if j == i {
				continue
			}
			if lvl := audio.ToneLevel(heard, voices[j]); lvl < voiceLevel/3 {
				problems = append(problems, fmt.Sprintf("%s does not hear %s (level %.0f of %d)", s.Accounts[i], s.Accounts[j], lvl, voiceLevel))
			}
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// roomPIN is the PIN account keys to join the room on number: none for a
// room without one, or for its owner calling from their own phone or app.
func (w *worker) roomPIN(number, account string) string {
	n := w.p.Number(number)
	if n == nil {
		return ""
	}
	room := w.p.Conference(n.Action.Target.Name)
	if room == nil || !room.PIN || w.roomPINs == nil {
		return ""
	}
	if a := w.p.Account(account); a != nil && a.Owner == room.Owner {
		return ""
	}
	member, _, _ := w.roomPINs.ConferencePINs(room.Name)
	return member
}

// seenOnCall returns a check of whether an event of kind has been seen on
// the call with Call-ID id, for nextFrame and the like to poll.
func (w *worker) seenOnCall(kind events.Kind, id string) func() bool {
	return func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, e := range w.events {
			if e.Kind == kind && e.Call == id {
				return true
			}
		}
		return false
	}
}
