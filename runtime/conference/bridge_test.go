package conference

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/runtime/audio"
	"switchboard/runtime/clock"
	"switchboard/runtime/events"
	"switchboard/runtime/line"
)

var maryOrigin = ir.Origin{File: "site.pbx.hcl", Line: 31, Column: 3, Object: `user "mary"`}

// testRoom is Mary's personal room with the given PINs and limit.
func testRoom(member, owner string, limit int) RoomConfig {
	return RoomConfig{
		Conference: ir.Conference{Name: "mary", Number: "8101", Owner: ir.UserRef("mary"), Origin: maryOrigin},
		MemberPIN:  member, OwnerPIN: owner, Limit: limit,
	}
}

// join dials the room and waits until the caller is in.
func (h *harness) join(c Call, keys string) *call {
	h.t.Helper()
	cl := h.dial(c)
	if keys != "" {
		cl.ln.key(h.t, keys)
	}
	h.event(events.ConferenceJoined)
	return cl
}

// talk runs n ticks with each caller sending its tone (0: nothing).
func (h *harness) talk(calls []*call, freqs []float64, n int) {
	h.t.Helper()
	for range n {
		for i, c := range calls {
			if freqs[i] != 0 {
				c.ln.sendTone(h.t, freqs[i], 8000)
			}
		}
		for _, c := range calls {
			c.ln.sync(h.t)
		}
		h.clk.Advance(tick)
	}
}

// leave ends calls from the caller's side.
func (h *harness) leave(calls ...*call) {
	h.t.Helper()
	for _, c := range calls {
		c.ln.callerHangsUp()
		if err := c.wait(h.t); err != nil {
			h.t.Errorf("Serve: %v, want nil after the caller hung up", err)
		}
	}
}

// hangUp ends every call from the caller's side and checks that the room
// is gone, timers and all.
func (h *harness) hangUp(calls ...*call) {
	h.t.Helper()
	h.leave(calls...)
	if n := h.b.Participants("8101"); n != 0 {
		h.t.Errorf("%d participants after all hung up", n)
	}
	if n := h.clk.Pending(); n != 0 {
		h.t.Errorf("%d timers pending after the room emptied", n)
	}
}

// checkHears checks what each call heard over its last second: the others'
// tones at about 8000, its own not at all.
func checkHears(t *testing.T, calls []*call, freqs []float64, muted ...int) {
	t.Helper()
	for i, c := range calls {
		s := c.ln.heard(c.ln.nsent() - 50)
		for j, f := range freqs {
			if f == 0 {
				continue
			}
			lvl := audio.ToneLevel(s, f)
			if i == j || slices.Contains(muted, j) {
				if lvl > 100 {
					t.Errorf("caller %d hears %v Hz (caller %d) at %.0f, want nothing", i, f, j, lvl)
				}
			} else if lvl < 7500 || lvl > 8500 {
				t.Errorf("caller %d hears %v Hz (caller %d) at %.0f, want about 8000", i, f, j, lvl)
			}
		}
	}
}

// Three callers through Serve: each hears the other two, not itself.
func TestServeMixesThreeCallers(t *testing.T) {
	h := newHarness(t)
	freqs := []float64{440, 660, 880}
	var calls []*call
	for i := range freqs {
		calls = append(calls, h.join(Call{Room: testRoom("", "", 0), ID: fmt.Sprint("call-", i)}, ""))
	}
	h.talk(calls, freqs, 100)
	checkHears(t, calls, freqs)
	h.hangUp(calls...)
}

// Packets delayed by up to 50 ms, reordered and sometimes sent twice are
// mixed as cleanly as a perfect network's.
func TestServeJitteryCallers(t *testing.T) {
	h := newHarness(t)
	freqs := []float64{440, 660, 880}
	var calls []*call
	for i := range freqs {
		calls = append(calls, h.join(Call{Room: testRoom("", "", 0)}, ""))
		_ = i
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	type delayed struct {
		due int
		f   line.Frame
	}
	queues := make([][]delayed, len(calls))
	for tk := range 150 {
		for i, c := range calls {
			s := audio.Tone(make([]int16, audio.FrameSamples), freqs[i], 8000, c.ln.off)
			f := line.Frame{Seq: c.ln.seq, Timestamp: c.ln.ts, Samples: s}
			c.ln.off, c.ln.seq, c.ln.ts = c.ln.off+len(s), c.ln.seq+1, c.ln.ts+audio.FrameSamples
			queues[i] = append(queues[i], delayed{tk + rnd.IntN(3), f})
			if rnd.IntN(10) == 0 {
				queues[i] = append(queues[i], delayed{tk + rnd.IntN(3), f})
			}
			var due []delayed
			queues[i] = slices.DeleteFunc(queues[i], func(d delayed) bool {
				if d.due <= tk {
					due = append(due, d)
					return true
				}
				return false
			})
			rnd.Shuffle(len(due), func(a, b int) { due[a], due[b] = due[b], due[a] })
			for _, d := range due {
				c.ln.sendFrame(t, d.f)
			}
		}
		for _, c := range calls {
			c.ln.sync(t)
		}
		h.clk.Advance(tick)
	}
	checkHears(t, calls, freqs)
	h.hangUp(calls...)
}

// *6 mutes: the others stop hearing the caller, who still hears them; *6
// again unmutes.
func TestServeMute(t *testing.T) {
	h := newHarness(t)
	freqs := []float64{440, 1200}
	a := h.join(Call{Room: testRoom("", "", 0)}, "")
	b := h.join(Call{Room: testRoom("", "", 0)}, "")
	calls := []*call{a, b}
	h.talk(calls, freqs, 50)
	checkHears(t, calls, freqs)

	a.ln.key(t, "*6")
	h.talk(calls, freqs, 60)
	checkHears(t, calls, freqs, 0)

	a.ln.key(t, "*6")
	h.talk(calls, freqs, 60)
	checkHears(t, calls, freqs)

	// 6 without *, or * too long before it, does nothing.
	a.ln.key(t, "6*")
	a.ln.sync(t)
	h.clk.Advance(commandWindow + time.Second)
	a.ln.key(t, "6")
	h.talk(calls, freqs, 60)
	checkHears(t, calls, freqs)
	h.hangUp(calls...)
}

// toneOrder reports the levels at lo and hi Hz over the first and second
// 120 ms of s.
func checkTwoTone(t *testing.T, what string, s []int16, first, second float64) {
	t.Helper()
	half := 120 * audio.Rate / 1000
	if len(s) < 2*half {
		t.Fatalf("%s: only %d samples", what, len(s))
	}
	a, b := s[:half], s[half:2*half]
	if audio.ToneLevel(a, first) < 3000 || audio.ToneLevel(a, second) > 500 ||
		audio.ToneLevel(b, second) < 3000 || audio.ToneLevel(b, first) > 500 {
		t.Errorf("%s: want %v Hz then %v Hz; got %.0f/%.0f then %.0f/%.0f", what, first, second,
			audio.ToneLevel(a, first), audio.ToneLevel(a, second), audio.ToneLevel(b, first), audio.ToneLevel(b, second))
	}
}

// Everyone hears a rising two-tone when someone joins and a falling one
// when someone leaves; the first caller hears the rising one alone.
func TestServeJoinLeaveTones(t *testing.T) {
	h := newHarness(t)
	a := h.join(Call{Room: testRoom("", "", 0)}, "")
	h.clk.Advance(40 * tick)
	checkTwoTone(t, "first caller", a.ln.heard(0), joinLow, joinHigh)

	n := a.ln.nsent()
	b := h.join(Call{Room: testRoom("", "", 0)}, "")
	h.clk.Advance(40 * tick)
	checkTwoTone(t, "join", a.ln.heard(n), joinLow, joinHigh)
	checkTwoTone(t, "the joiner", b.ln.heard(0), joinLow, joinHigh)

	n = a.ln.nsent()
	b.ln.callerHangsUp()
	h.event(events.ConferenceLeft)
	h.clk.Advance(40 * tick)
	checkTwoTone(t, "leave", a.ln.heard(n), joinHigh, joinLow)
	if err := b.wait(t); err != nil {
		t.Error(err)
	}
	h.hangUp(a)
}

// Every way in that a PIN allows, and the role it gives.
func TestServePIN(t *testing.T) {
	tests := []struct {
		name          string
		member, owner string
		authenticated bool
		keys          string
		want          string // the join event's cause
	}{
		{"no PINs", "", "", false, "", "member"},
		{"member PIN", "1234", "", false, "1234#", "member"},
		{"star starts again", "1234", "", false, "98*1234#", "member"},
		{"owner PIN", "1234", "4321", false, "4321#", "owner"},
		{"member PIN with an owner PIN", "1234", "4321", false, "1234#", "member"},
		{"owner PIN only: hash alone", "", "4321", false, "#", "member"},
		{"owner PIN only: owner", "", "4321", false, "4321#", "owner"},
		{"authenticated owner", "1234", "4321", true, "", "owner"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			c := Call{Room: testRoom(tt.member, tt.owner, 0), ID: "abc@host", Account: "user.tom", Source: "10.0.0.5:5060", Owner: tt.authenticated}
			cl := h.dial(c)
			cl.ln.key(t, tt.keys)
			got := h.event(events.ConferenceJoined)
			want := events.Event{Time: epoch, Kind: events.ConferenceJoined, Call: "abc@host", Account: "user.tom",
				Source: "10.0.0.5", To: "8101", Target: "conference.mary", Cause: tt.want, Origin: maryOrigin}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("join event (-want +got):\n%s", diff)
			}
			asked := cl.ln.nplayed() > 0
			if wantAsked := c.Room.needsPIN() && !tt.authenticated; asked != wantAsked {
				t.Errorf("asked for a PIN: %v, want %v", asked, wantAsked)
			}
			h.hangUp(cl)
			if e := h.event(events.ConferenceLeft); e.Cause != "hung up" {
				t.Errorf("leave cause %q", e.Cause)
			}
		})
	}
}

// Three wrong PINs: three failure events, a refusal, a hang-up; the digits
// appear in no event.
func TestServeWrongPIN(t *testing.T) {
	h := newHarness(t)
	cl := h.dial(Call{Room: testRoom("1234", "4321", 0), ID: "abc@host", Account: "user.tom", Source: "10.0.0.5"})
	for range MaxTries {
		cl.ln.key(t, "1111#")
	}
	if err := cl.wait(t); err != ErrWrongPIN {
		t.Fatalf("Serve: %v, want ErrWrongPIN", err)
	}
	if c := cl.ln.hangupCause(); c != "wrong PIN" {
		t.Errorf("hang-up cause %q", c)
	}
	var got []string
	for _, e := range h.drain() {
		b, _ := json.Marshal(e)
		if strings.Contains(string(b), "1111") {
			t.Errorf("an event gives the digits away: %s", b)
		}
		if e.Origin != maryOrigin {
			t.Errorf("%s: origin %v", e.Kind, e.Origin)
		}
		got = append(got, string(e.Kind)+": "+e.Cause)
	}
	want := []string{
		"conference_pin_failed: wrong PIN, try 1 of 3",
		"conference_pin_failed: wrong PIN, try 2 of 3",
		"conference_pin_failed: wrong PIN, try 3 of 3",
		"conference_refused: wrong PIN",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	// The prompts: enter, wrong, enter, wrong, enter, wrong.
	cl.ln.mu.Lock()
	defer cl.ln.mu.Unlock()
	if n := len(cl.ln.played); n != 2*MaxTries {
		t.Fatalf("%d prompts played, want %d", n, 2*MaxTries)
	}
	for i, p := range cl.ln.played {
		want := fallbackTones[PromptEnterPIN]
		if i%2 == 1 {
			want = fallbackTones[PromptWrongPIN]
		}
		if !slices.Equal(p, want) {
			t.Errorf("prompt %d is not the expected tone", i)
		}
	}
}

// A caller who keys nothing is asked MaxTries times, then hung up; one who
// keys digits and stops has them taken as the PIN.
func TestServePINTimeout(t *testing.T) {
	h := newHarness(t)
	cl := h.dial(Call{Room: testRoom("1234", "", 0)})
	for range MaxTries {
		h.waitPending(1)
		h.clk.Advance(DefaultPINTimeout)
	}
	if err := cl.wait(t); err != ErrNoPIN {
		t.Fatalf("Serve: %v, want ErrNoPIN", err)
	}
	if c := cl.ln.hangupCause(); c != "no PIN entered" {
		t.Errorf("hang-up cause %q", c)
	}
	if n := len(h.drain()); n != 1 {
		t.Errorf("%d events, want only the refusal", n) // no PIN failures: nothing was guessed
	}

	cl = h.dial(Call{Room: testRoom("1234", "", 0)})
	h.waitPending(1)
	h.keyPIN(cl, "1234") // the timeout re-armed after the 4, not just the 4 taken
	h.clk.Advance(DefaultPINTimeout)
	h.event(events.ConferenceJoined)
	h.hangUp(cl)
}

// Wrong PINs count across calls, per account and per source; past the
// limit a caller is refused even before keying, until the window closes.
func TestServePINThrottle(t *testing.T) {
	h := newHarness(t, WithThrottle(Throttle{Failures: 5, Window: 10 * time.Minute}))
	room := testRoom("1234", "", 0)
	tom := func(source string) Call { return Call{Room: room, Account: "user.tom", Source: source} }

	// Two calls of three wrong PINs: the account reaches its limit on the
	// fifth, so the second call is refused before its third try.
	cl := h.dial(tom("10.0.0.5:5060"))
	cl.ln.key(t, "1#2#3#")
	if err := cl.wait(t); err != ErrWrongPIN {
		t.Fatalf("first call: %v", err)
	}
	h.clk.Advance(time.Minute)
	cl = h.dial(tom("10.0.0.6:5060"))
	cl.ln.key(t, "4#5#")
	if err := cl.wait(t); err != ErrThrottled {
		t.Fatalf("second call: %v, want ErrThrottled", err)
	}
	if c := cl.ln.hangupCause(); c != "too many wrong PINs" {
		t.Errorf("hang-up cause %q", c)
	}
	if !slices.Equal(cl.ln.lastPlayed(), busyTone) {
		t.Error("the throttled caller did not hear the try-later tone")
	}
	th := h.event(events.Throttled)
	if th.Account != "user.tom" || th.Origin != maryOrigin {
		t.Errorf("throttled event: %+v", th)
	}

	// Now even the right PIN, from anywhere, does not get tom in.
	if err := h.b.Admit(tom("10.9.9.9")); err != ErrThrottled {
		t.Errorf("Admit: %v, want ErrThrottled", err)
	}
	cl = h.dial(tom("10.9.9.9"))
	if err := cl.wait(t); err != ErrThrottled {
		t.Fatalf("third call: %v, want ErrThrottled", err)
	}
	// An authenticated owner, and a room without PINs, are not guessing.
	if err := h.b.Admit(Call{Room: room, Account: "user.tom", Owner: true}); err != nil {
		t.Errorf("Admit owner: %v", err)
	}
	if err := h.b.Admit(Call{Room: testRoom("", "", 0), Account: "user.tom"}); err != nil {
		t.Errorf("Admit to a room without PIN: %v", err)
	}

	// Another account from the first source: 3 failures there so far, so
	// it has two tries before the source is blocked too.
	cl = h.dial(Call{Room: room, Account: "user.ann", Source: "10.0.0.5"})
	cl.ln.key(t, "7#8#")
	if err := cl.wait(t); err != ErrThrottled {
		t.Fatalf("ann: %v, want ErrThrottled", err)
	}
	if th := h.event(events.Throttled); th.Source != "10.0.0.5" || th.Account != "" {
		t.Errorf("throttled event: %+v", th)
	}

	// When tom's window closes (ten minutes after his first failure), he
	// is let in with the right PIN.
	h.clk.Advance(9 * time.Minute)
	if err := h.b.Admit(tom("10.9.9.9")); err != nil {
		t.Fatalf("Admit after the window: %v", err)
	}
	cl = h.dial(tom("10.9.9.9"))
	cl.ln.key(t, "1234#")
	h.event(events.ConferenceJoined)
	h.hangUp(cl)
}

// The participant limit: Admit says ErrFull (the server answers 486), and
// a caller who gets as far as Serve hears the busy tone and is hung up.
func TestServeLimit(t *testing.T) {
	h := newHarness(t)
	room := testRoom("", "", 2)
	a := h.join(Call{Room: room}, "")
	b := h.join(Call{Room: room}, "")
	if err := h.b.Admit(Call{Room: room}); err != ErrFull {
		t.Errorf("Admit: %v, want ErrFull", err)
	}
	c := h.dial(Call{Room: room, ID: "third"})
	if err := c.wait(t); err != ErrFull {
		t.Fatalf("Serve: %v, want ErrFull", err)
	}
	if cause := c.ln.hangupCause(); cause != "conference full" {
		t.Errorf("hang-up cause %q", cause)
	}
	if !slices.Equal(c.ln.lastPlayed(), busyTone) {
		t.Error("no busy tone")
	}
	if e := h.event(events.ConferenceRefused); e.Cause != "conference full" || e.Call != "third" || e.Origin != maryOrigin {
		t.Errorf("refused event: %+v", e)
	}
	// The room filling while a caller keys the PIN: refused after it.
	h.leave(b)
	pinned := testRoom("1234", "", 2)
	d := h.dial(Call{Room: pinned})
	d.ln.key(t, "12")
	e := h.join(Call{Room: room}, "")
	d.ln.key(t, "34#")
	if err := d.wait(t); err != ErrFull {
		t.Errorf("Serve after the PIN: %v, want ErrFull", err)
	}
	h.hangUp(a, e)
}

// An owner's *7 locks the room to new members (not to owners), a member's
// does nothing, and the lock goes when the last owner does.
func TestServeLock(t *testing.T) {
	h := newHarness(t)
	room := testRoom("1234", "4321", 0)
	owner := h.join(Call{Room: room}, "4321#")
	member := h.join(Call{Room: room}, "1234#")

	member.ln.key(t, "*7")
	member.ln.sync(t)
	other := h.join(Call{Room: room}, "1234#") // not locked by a member
	h.clk.Advance(50 * tick)                   // past the join tones

	owner.ln.key(t, "*7")
	owner.ln.sync(t)
	n := owner.ln.nsent()
	if err := h.b.Admit(Call{Room: room}); err != nil {
		t.Errorf("Admit: %v; a caller may yet key the owner PIN", err)
	}
	if err := h.b.Admit(Call{Room: testRoom("", "", 0)}); err != ErrLocked {
		t.Errorf("Admit to a locked room without owner PIN: %v, want ErrLocked", err)
	}
	refused := h.dial(Call{Room: room})
	refused.ln.key(t, "1234#")
	if err := refused.wait(t); err != ErrLocked {
		t.Fatalf("member of a locked room: %v, want ErrLocked", err)
	}
	if c := refused.ln.hangupCause(); c != "conference locked" {
		t.Errorf("hang-up cause %q", c)
	}
	owner2 := h.join(Call{Room: room}, "4321#")

	// The owner hears the lock confirmed (three short 1400 Hz beeps, 360
	// ms), the others do not.
	h.clk.Advance(50 * tick)
	if lvl := audio.ToneLevel(owner.ln.heard(n)[:2880], 1400); lvl < 1000 {
		t.Errorf("the owner hears no lock confirmation (1400 Hz at %.0f)", lvl)
	}
	if lvl := audio.ToneLevel(member.ln.heard(n)[:2880], 1400); lvl > 100 {
		t.Errorf("a member hears the lock confirmation (1400 Hz at %.0f)", lvl)
	}

	h.leave(owner, owner2)
	late := h.join(Call{Room: room}, "1234#") // unlocked with no owner left
	h.hangUp(member, other, late)
}

// Server shutdown: cancelling ctx hangs up and empties the room.
func TestServeCancel(t *testing.T) {
	h := newHarness(t)
	a := h.join(Call{Room: testRoom("", "", 0)}, "")
	h.clk.Advance(5 * tick)
	a.cancel()
	if err := a.wait(t); !errors.Is(err, context.Canceled) {
		t.Errorf("Serve: %v, want context.Canceled", err)
	}
	if c := a.ln.hangupCause(); c != "conference closed" {
		t.Errorf("hang-up cause %q", c)
	}
	if e := h.event(events.ConferenceLeft); e.Cause != "conference closed" {
		t.Errorf("leave cause %q", e.Cause)
	}
	if n := h.clk.Pending(); n != 0 {
		t.Errorf("%d timers pending", n)
	}
}

// A caller hanging up while asked for a PIN ends Serve quietly.
func TestServeHangupDuringPIN(t *testing.T) {
	h := newHarness(t)
	cl := h.dial(Call{Room: testRoom("1234", "", 0)})
	h.waitPending(1)
	cl.ln.key(t, "12")
	cl.ln.callerHangsUp()
	if err := cl.wait(t); err != nil {
		t.Errorf("Serve: %v", err)
	}
	if es := h.drain(); len(es) != 0 {
		t.Errorf("events: %v", es)
	}
	if c := cl.ln.hangupCause(); c != "" {
		t.Errorf("the bridge hung up too (%q)", c)
	}
}

// Recorded prompts replace the tones; a missing one falls back to its
// tone. The empty room's greeting goes to the first caller only.
func TestServePrompts(t *testing.T) {
	recorded := map[string][]int16{
		PromptEnterPIN: audio.Tone(make([]int16, 800), 300, 5000, 0),
		PromptAlone:    audio.Tone(make([]int16, 4000), 1500, 5000, 0),
	}
	h := newHarness(t, WithPrompts(PromptFunc(func(name string) []int16 { return recorded[name] })))
	room := testRoom("1234", "", 0)
	a := h.dial(Call{Room: room})
	a.ln.key(t, "1#")
	a.ln.key(t, "1234#")
	h.event(events.ConferenceJoined)
	a.ln.mu.Lock()
	played := slices.Clone(a.ln.played)
	a.ln.mu.Unlock()
	if len(played) != 3 || !slices.Equal(played[0], recorded[PromptEnterPIN]) ||
		!slices.Equal(played[1], fallbackTones[PromptWrongPIN]) || !slices.Equal(played[2], recorded[PromptEnterPIN]) {
		t.Errorf("prompts: want the recording, the wrong-PIN tone, the recording")
	}
	b := h.join(Call{Room: room}, "1234#")
	h.clk.Advance(50 * tick)
	// After the join tone (240 ms), the greeting (500 ms).
	if lvl := audio.ToneLevel(a.ln.heard(12)[:4000], 1500); lvl < 4500 {
		t.Errorf("the first caller hears the greeting at %.0f", lvl)
	}
	if lvl := audio.ToneLevel(b.ln.heard(0), 1500); lvl > 100 {
		t.Errorf("the second caller hears the greeting at %.0f", lvl)
	}
	h.hangUp(a, b)
}

// With the real clock, the room paces itself (the AfterFunc chain runs
// without the test driving it), and empties on shutdown.
func TestServeRealClock(t *testing.T) {
	b := NewBridge(clock.Real)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lines := []*fakeLine{newFakeLine(clock.Real), newFakeLine(clock.Real)}
	results := make(chan error, len(lines))
	for _, ln := range lines {
		go func() { results <- b.Serve(ctx, ln, Call{Room: testRoom("", "", 0)}) }()
	}
	for _, ln := range lines {
		ln.waitSent(t, 10)
	}
	cancel()
	for range lines {
		if err := <-results; !errors.Is(err, context.Canceled) {
			t.Errorf("Serve: %v", err)
		}
	}
	if b.Participants("8101") != 0 {
		t.Error("room not empty")
	}
}

// WaitReceived returns once the participant's frames are in its jitter
// buffer, and ErrNotInRoom for a call in no room or one that leaves while
// it waits.
func TestWaitReceived(t *testing.T) {
	h := newHarness(t)
	a := h.join(Call{Room: testRoom("", "", 0), ID: "call-a"}, "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	waited := make(chan error, 1)
	go func() { waited <- h.b.WaitReceived(ctx, "call-a", 2) }()
	a.ln.sendTone(t, 440, 8000)
	a.ln.sync(t) // the frame is pushed; an empty one does not count
	select {
	case err := <-waited:
		t.Fatalf("WaitReceived returned %v after one frame of two", err)
	default:
	}
	a.ln.sendTone(t, 440, 8000)
	if err := <-waited; err != nil {
		t.Fatalf("WaitReceived after two frames: %v", err)
	}

	if err := h.b.WaitReceived(ctx, "no-such-call", 1); !errors.Is(err, ErrNotInRoom) {
		t.Errorf("WaitReceived for a call in no room: %v, want ErrNotInRoom", err)
	}
	go func() { waited <- h.b.WaitReceived(ctx, "call-a", 100) }()
	h.leave(a)
	if err := <-waited; !errors.Is(err, ErrNotInRoom) {
		t.Errorf("WaitReceived for a call that left: %v, want ErrNotInRoom", err)
	}
}

// *6 publishes conference_muted, and *6 again conference_unmuted, once
// the mix takes the change.
func TestMuteEvents(t *testing.T) {
	h := newHarness(t)
	a := h.join(Call{Room: testRoom("", "", 0), ID: "call-a", Account: "app.mary"}, "")
	a.ln.key(t, "*6")
	if e := h.event(events.ConferenceMuted); e.Call != "call-a" || e.Account != "app.mary" || e.To != "8101" {
		t.Errorf("conference_muted = %+v, want call-a's, app.mary's, in 8101", e)
	}
	a.ln.key(t, "*6")
	if e := h.event(events.ConferenceUnmuted); e.Call != "call-a" {
		t.Errorf("conference_unmuted = %+v, want call-a's", e)
	}
	h.hangUp(a)
}
