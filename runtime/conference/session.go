package conference

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"switchboard/runtime/clock"
	"switchboard/runtime/events"
	"switchboard/runtime/line"
)

// PIN entry and in-room keys.
const (
	// MaxTries is how many PINs one call may key before it is hung up.
	MaxTries = 3
	// maxPIN is the longest PIN, in keys; a longer entry is always wrong.
	maxPIN = 32
	// KeyMute (after *) mutes and unmutes oneself; KeyLock (after *), for
	// owners, locks and unlocks the room.
	KeyMute = '6'
	KeyLock = '7'
	// commandWindow is how long after * its second key counts.
	commandWindow = 3 * time.Second
)

// errCallerGone means the caller hung up.
var errCallerGone = errors.New("conference: caller hung up")

// Serve runs one answered call to a conference room until it ends, and
// hangs up itself whenever the caller did not.
//
// It asks for a PIN when the room has one and c.Owner is false (a member
// PIN, or an owner PIN; MaxTries tries, each ended by # or by a pause of
// the PIN timeout; * starts the entry again), then joins the room and mixes
// the caller in until the call ends.
//
// It returns nil when the caller hung up; ctx.Err() when ctx ended (the
// call is hung up with cause "conference closed"); or, having played the
// matching prompt and hung up, ErrFull, ErrLocked, ErrThrottled,
// ErrWrongPIN or ErrNoPIN.
func (b *Bridge) Serve(ctx context.Context, ln line.Line, c Call) error {
	c.Source = hostOnly(c.Source)
	s := &session{b: b, ln: ln, c: c, clk: b.clk, keys: throttleKeys(c.Account, c.Source)}
	err := s.run(ctx)
	switch {
	case err == nil, errors.Is(err, errCallerGone):
		return nil
	case ctx.Err() != nil:
		ln.Hangup("conference closed")
		return ctx.Err()
	}
	cause, prompt := refusal(err)
	b.publish(events.ConferenceRefused, c, cause)
	if prompt != "" {
		_ = ln.Play(ctx, b.prompt(prompt))
	}
	ln.Hangup(cause)
	return err
}

// refusal is the hang-up cause and the prompt for a reason to turn a
// caller away.
func refusal(err error) (cause, prompt string) {
	switch err {
	case ErrFull:
		return "conference full", PromptFull
	case ErrLocked:
		return "conference locked", PromptLocked
	case ErrThrottled:
		return "too many wrong PINs", PromptTryLater
	case ErrWrongPIN:
		return "wrong PIN", "" // PromptWrongPIN has just played
	case ErrNoPIN:
		return "no PIN entered", ""
	}
	return err.Error(), ""
}

// session is one caller's way through a room.
type session struct {
	b    *Bridge
	ln   line.Line
	c    Call
	clk  clock.Clock
	keys []string
}

func (s *session) run(ctx context.Context) error {
	if err := s.b.Admit(s.c); err != nil {
		return err
	}
	role := Member
	if s.c.Owner {
		role = Owner
	} else if s.c.Room.needsPIN() {
		var err error
		if role, err = s.enterPIN(ctx); err != nil {
			return err
		}
	}
	p := &participant{ln: s.ln, id: s.c.ID}
	r, err := s.b.join(s.c, role, p)
	if err != nil {
		return err
	}
	s.b.publish(events.ConferenceJoined, s.c, role.String())
	err = s.pump(ctx, r, p)
	s.b.leave(r, p)
	cause := "hung up"
	if ctx.Err() != nil {
		cause = "conference closed"
	}
	s.b.publish(events.ConferenceLeft, s.c, cause)
	return err
}

// pump feeds the caller's audio to the room and acts on its keys until
// the call ends.
func (s *session) pump(ctx context.Context, r *room, p *participant) error {
	frames, digits := s.ln.Frames(), s.ln.Digits()
	var star time.Time // when * was pressed; zero when no command is pending
	for {
		select {
		case f, ok := <-frames:
			if !ok {
				frames = nil
				continue
			}
			r.push(p, f)
		case d, ok := <-digits:
			if !ok {
				digits = nil
				continue
			}
			now := s.clk.Now()
			pending := !star.IsZero() && now.Sub(star) <= commandWindow
			star = time.Time{}
			switch {
			case d == '*':
				star = now
			case pending && d == KeyMute:
				// Published once the mix no longer (or again) takes the
				// caller's audio: a handshake for whoever measures it.
				if r.toggleMute(p) {
					s.b.publish(events.ConferenceMuted, s.c, "")
				} else {
					s.b.publish(events.ConferenceUnmuted, s.c, "")
				}
			case pending && d == KeyLock && p.role == Owner:
				r.toggleLock(p)
			}
		case <-s.ln.Done():
			return errCallerGone
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// enterPIN asks for a PIN until one is right, MaxTries are used, or the
// caller is throttled.
func (s *session) enterPIN(ctx context.Context) (Role, error) {
	for try := 1; ; try++ {
		if blocked := s.b.throttle.blocked(s.keys, s.clk.Now()); blocked && try > 1 {
			return 0, ErrThrottled // reached the limit, here or in another call
		}
		pin, keyed, err := s.collect(ctx)
		if err != nil {
			return 0, err
		}
		if !keyed {
			if try == MaxTries {
				return 0, ErrNoPIN
			}
			continue
		}
		var role Role
		ok, blocked, reached := s.b.throttle.attempt(s.keys, s.clk.Now(), func() bool {
			var ok bool
			role, ok = s.c.Room.match(pin)
			return ok
		})
		if blocked {
			return 0, ErrThrottled
		}
		if ok {
			return role, nil
		}
		s.b.publish(events.ConferencePINFailed, s.c, fmt.Sprintf("wrong PIN, try %d of %d", try, MaxTries))
		for _, k := range reached {
			s.b.publishThrottled(s.c, k)
		}
		if err := s.play(ctx, PromptWrongPIN); err != nil {
			return 0, err
		}
		if try == MaxTries {
			return 0, ErrWrongPIN
		}
	}
}

// match says what pin makes its keyer, if anything. An empty pin is a
// member's when the room has only an owner PIN.
func (rc RoomConfig) match(pin string) (Role, bool) {
	if len(pin) > maxPIN {
		return 0, false
	}
	if rc.OwnerPIN != "" && equal(pin, rc.OwnerPIN) {
		return Owner, true
	}
	if rc.MemberPIN != "" && equal(pin, rc.MemberPIN) || rc.MemberPIN == "" && pin == "" {
		return Member, true
	}
	return 0, false
}

// equal compares PINs in time that does not depend on where they differ.
func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// collect plays PromptEnterPIN and gathers one entry. keyed is false when
// the caller let the timeout pass without keying anything. A key pressed
// during the prompt cuts it short.
func (s *session) collect(ctx context.Context) (pin string, keyed bool, err error) {
	playing, stop := s.start(ctx, s.b.prompt(PromptEnterPIN))
	defer func() {
		stop()
		if playing != nil {
			<-playing // the prompt must end before anything else plays
		}
	}()
	var buf []byte
	var timeout chan struct{}
	var timer clock.Timer
	arm := func() {
		if timer != nil {
			timer.Stop()
		}
		c := make(chan struct{})
		timer, timeout = s.clk.AfterFunc(s.b.pinTimeout, func() { close(c) }), c
	}
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	digits := s.ln.Digits()
	for {
		select {
		case <-playing:
			playing = nil
			arm()
		case d, ok := <-digits:
			if !ok {
				digits = nil
				continue
			}
			keyed = true
			if playing != nil {
				stop() // barge in; the timer is armed when the prompt has stopped
			} else {
				arm()
			}
			switch {
			case d == '#':
				return string(buf), true, nil
			case d == '*':
				buf, keyed = buf[:0], false
			case len(buf) <= maxPIN: // one more than maxPIN: too long to match
				buf = append(buf, byte(d))
			}
		case <-timeout:
			return string(buf), keyed, nil
		case <-s.ln.Done():
			return "", false, errCallerGone
		case <-ctx.Done():
			return "", false, ctx.Err()
		}
	}
}

// start plays samples in the background; done is closed when the prompt
// has finished or been stopped.
func (s *session) start(ctx context.Context, samples []int16) (done chan struct{}, stop func()) {
	pctx, cancel := context.WithCancel(ctx)
	done = make(chan struct{})
	go func() {
		defer close(done)
		if len(samples) > 0 {
			_ = s.ln.Play(pctx, samples)
		}
	}()
	return done, cancel
}

// play plays a prompt to the end.
func (s *session) play(ctx context.Context, name string) error {
	err := s.ln.Play(ctx, s.b.prompt(name))
	switch {
	case errors.Is(err, line.ErrHungUp):
		return errCallerGone
	case ctx.Err() != nil:
		return ctx.Err()
	}
	select {
	case <-s.ln.Done():
		return errCallerGone
	default:
		return nil
	}
}
