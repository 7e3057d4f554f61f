package voicemail

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"switchboard/compiler/ir"
	"switchboard/runtime/audio"
	"switchboard/runtime/events"
	"switchboard/runtime/line"
	"switchboard/runtime/prompts"
)

// Which box Access opens.
const (
	// Own opens the caller's own box (no PIN from the owner's devices
	// unless Config.PINOwnDevices), and asks like Ask when the calling
	// account's owner has none.
	Own = ""
	// Ask asks for a mailbox number (the owner's extension) and its PIN.
	Ask = "?"
)

// Tries per call.
const (
	loginTries = 3 // mailbox number and PIN
	menuTries  = 3 // a menu unanswered this often ends the call
	maxNumber  = 10
)

// errExit is the caller pressing # to leave.
var errExit = errors.New("voicemail: caller left")

// Access is the voicemail menu: box is Own, Ask or a mailbox name (which
// then needs its PIN unless it is the caller's own). It hangs up when
// done. It returns nil when the caller left or hung up, ErrLogin or
// ErrLocked when they never got in.
func (s *Service) Access(ctx context.Context, l line.Line, box string, c Caller) error {
	err := s.access(ctx, l, box, c)
	cause := "voicemail: done"
	switch {
	case errors.Is(err, ErrLocked):
		cause = "voicemail: locked out"
	case errors.Is(err, ErrLogin):
		cause = "voicemail: login failed"
	case err != nil && !errors.Is(err, errExit) && !errors.Is(err, line.ErrHungUp) && !errors.Is(err, errTimeout) && ctx.Err() == nil:
		s.log.Error("voicemail: access", "box", box, "account", c.Account, "error", err)
		cause = "voicemail: failed"
	}
	l.Hangup(cause)
	switch {
	case errors.Is(err, ErrLocked), errors.Is(err, ErrLogin):
		return err
	case errors.Is(err, errExit), errors.Is(err, line.ErrHungUp), errors.Is(err, errTimeout), ctx.Err() != nil:
		return nil
	}
	return err
}

func (s *Service) access(ctx context.Context, l line.Line, want string, c Caller) error {
	ss := s.newSession(ctx, l)
	p := s.cfg.Program()
	if p == nil {
		return ErrNoProgram
	}
	own := ownBox(p, c.Account)
	name, err := s.login(ss, p, want, own, c)
	if err != nil {
		return err
	}
	b, err := s.box(name)
	if err != nil {
		return err
	}
	a := &menu{s: s, ss: ss, b: b, c: c}
	return a.main()
}

// login settles which box the caller opens, asking for a number and a
// PIN as needed.
func (s *Service) login(ss *session, p *ir.Program, want, own string, c Caller) (string, error) {
	switch {
	case want == Own && own != "" && !s.cfg.PINOwnDevices:
		s.publish(events.Event{Kind: events.VoicemailLogin, Call: c.Call, Account: c.Account, Source: c.Source, Cause: "own device"}, own)
		return own, nil
	case want != Own && want != Ask && want == own && !s.cfg.PINOwnDevices:
		s.publish(events.Event{Kind: events.VoicemailLogin, Call: c.Call, Account: c.Account, Source: c.Source, Cause: "own device"}, own)
		return own, nil
	}
	ask := want == Ask || (want == Own && own == "")
	name := want
	if want == Own {
		name = own
	}
	for range loginTries {
		if ask {
			if err := ss.say(true, "vm-enter-mailbox"); err != nil {
				return "", err
			}
			num, err := ss.entry(maxNumber)
			if errors.Is(err, errTimeout) {
				continue // nothing keyed: ask again
			}
			if err != nil {
				return "", err
			}
			name = boxByNumber(p, num)
			if name == own && own != "" && !s.cfg.PINOwnDevices {
				s.publish(events.Event{Kind: events.VoicemailLogin, Call: c.Call, Account: c.Account, Source: c.Source, Cause: "own device"}, own)
				return own, nil
			}
		}
		if left, locked := s.locked(name, c.Source); locked {
			s.publish(events.Event{Kind: events.VoicemailPINFailed, Call: c.Call, Account: c.Account, Source: c.Source,
				Cause: fmt.Sprintf("locked out for another %s", left.Round(1e9))}, name)
			ss.say(false, "vm-locked")
			return "", ErrLocked
		}
		if err := ss.say(true, "vm-enter-pin"); err != nil {
			return "", err
		}
		pin, err := ss.entry(MaxPIN)
		if errors.Is(err, errTimeout) {
			continue // nothing keyed: not a wrong PIN
		}
		if err != nil {
			return "", err
		}
		var b *box
		if s.HasBox(name) {
			b, _ = s.box(name)
		}
		// An unknown mailbox asks for a PIN all the same and fails like a
		// wrong one: the menu does not tell which mailboxes exist.
		if b != nil && s.checkPIN(b, pin) {
			s.forgive(name)
			s.publish(events.Event{Kind: events.VoicemailLogin, Call: c.Call, Account: c.Account, Source: c.Source, Cause: "PIN"}, name)
			return name, nil
		}
		cause := "wrong PIN"
		if b == nil {
			cause = "no such mailbox"
		}
		s.publish(events.Event{Kind: events.VoicemailPINFailed, Call: c.Call, Account: c.Account, Source: c.Source, Cause: cause}, name)
		switch s.fail(name, c.Source) {
		case "box":
			s.publish(events.Event{Kind: events.VoicemailLocked, Call: c.Call, Account: c.Account, Source: c.Source,
				Cause: fmt.Sprintf("%d wrong PINs for the box within %s", s.cfg.Throttle.BoxFailures, s.cfg.Throttle.Window)}, name)
		case "source":
			s.publish(events.Event{Kind: events.VoicemailLocked, Call: c.Call, Account: c.Account, Source: c.Source,
				Cause: fmt.Sprintf("%d wrong PINs from %s within %s", s.cfg.Throttle.SourceFailures, c.Source, s.cfg.Throttle.Window)}, "")
		}
		if err := ss.say(false, "vm-wrong-pin"); err != nil {
			return "", err
		}
	}
	ss.say(false, "vm-goodbye")
	return "", ErrLogin
}

// menu is an open box.
type menu struct {
	s  *Service
	ss *session
	b  *box
	c  Caller
}

// main is the main menu.
func (a *menu) main() error {
	if err := a.announce(); err != nil {
		return err
	}
	for {
		d, err := a.choose("vm-main-menu")
		if errors.Is(err, errTimeout) {
			a.ss.say(false, "vm-goodbye")
			return errTimeout
		}
		if err != nil {
			return err
		}
		switch d {
		case '1':
			err = a.listen()
		case '0':
			err = a.options()
		case '#':
			a.ss.say(false, "vm-goodbye")
			return errExit
		}
		if err != nil {
			return err
		}
	}
}

// choose says a menu's prompt and waits for a key, saying it again after
// each silence; after menuTries silences it gives up with errTimeout.
func (a *menu) choose(prompt string) (rune, error) {
	for range menuTries {
		if err := a.ss.say(true, prompt); err != nil {
			return 0, err
		}
		d, err := a.ss.digit(a.s.cfg.DigitTimeout)
		if !errors.Is(err, errTimeout) {
			return d, err
		}
	}
	return 0, errTimeout
}

// announce says how many new messages there are.
func (a *menu) announce() error {
	n := min(a.b.summary().New, prompts.MaxNumber)
	names := append([]string{"vm-you-have"}, prompts.NumberNames(n)...)
	if n == 1 {
		names = append(names, "vm-new-message")
	} else {
		names = append(names, "vm-new-messages")
	}
	return a.ss.say(true, names...)
}

// listen plays the messages, new first, and takes the keys for each.
// Messages keep their numbers for the whole listening, deleted ones too.
func (a *menu) listen() error {
	msgs := a.b.list()
	gone := make([]bool, len(msgs))
	previous := func(i int) int {
		for i--; i >= 0 && gone[i]; i-- {
		}
		return i
	}
	i := 0
	for {
		for i < len(msgs) && gone[i] {
			i++
		}
		if i >= len(msgs) {
			return a.ss.say(true, "vm-no-more")
		}
		next, err := a.message(msgs[i], i+1, previous(i) >= 0)
		if err != nil {
			return err
		}
		switch next {
		case stepNext:
			i++
		case stepPrev:
			i = previous(i)
		case stepGone:
			gone[i] = true
			i++
		}
	}
}

// Where to go after a message.
type step int

const (
	stepNext step = iota // the next message
	stepPrev             // the previous one
	stepGone             // it is gone: the next one
)

// message plays message m (number n in this listening) and acts on the
// caller's keys until they move on; hasPrev says whether 4 can go back.
func (a *menu) message(m Message, n int, hasPrev bool) (step, error) {
	ss := a.ss
	replay := true
	silences := 0
	for {
		if replay {
			replay = false
			if err := ss.say(true, append([]string{"vm-message"}, prompts.NumberNames(min(n, prompts.MaxNumber))...)...); err != nil {
				return 0, err
			}
			samples, ok := a.audio(m.ID)
			if !ok {
				// Deleted from another call meanwhile.
				return stepGone, nil
			}
			// Heard once it starts playing: not when a key typed ahead
			// skips it, nor after the caller hung up.
			ss.collect()
			starts := len(ss.pending) == 0 && ss.ended() == nil
			err := ss.play(samples, true)
			if starts {
				a.heard(m)
			}
			if err != nil {
				return 0, err
			}
		}
		d, err := ss.digit(a.s.cfg.DigitTimeout)
		if errors.Is(err, errTimeout) {
			if silences++; silences >= menuTries {
				ss.say(false, "vm-goodbye")
				return 0, errTimeout
			}
			if err := ss.say(true, "vm-message-menu"); err != nil {
				return 0, err
			}
			continue
		}
		if err != nil {
			return 0, err
		}
		silences = 0
		switch d {
		case '5':
			replay = true
		case '4':
			if !hasPrev {
				replay = true // no previous: this one again
				continue
			}
			return stepPrev, nil
		case '6':
			return stepNext, nil
		case '7':
			if _, err := a.b.remove(m.ID); err != nil {
				return 0, err
			}
			a.s.publish(events.Event{Kind: events.VoicemailDeleted, Call: a.c.Call, Account: a.c.Account, Cause: m.Name()}, a.b.name)
			a.s.changed(a.b.name)
			if err := ss.say(true, "vm-deleted"); err != nil {
				return 0, err
			}
			return stepGone, nil
		case '9':
			if err := a.setFolder(m.ID, FolderSaved); err != nil {
				return 0, err
			}
			if err := ss.say(true, "vm-saved"); err != nil {
				return 0, err
			}
			return stepNext, nil
		case '*':
			if err := ss.say(true, "vm-message-menu"); err != nil {
				return 0, err
			}
		case '#':
			ss.say(false, "vm-goodbye")
			return 0, errExit
		}
	}
}

// audio reads a message's samples.
func (a *menu) audio(id int) ([]int16, bool) {
	data, err := a.b.wav(id)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			// Not gone: unreadable (a store that does not answer).
			a.s.log.Error("voicemail: message not read", "box", a.b.name, "message", id, "error", err)
		}
		return nil, false
	}
	w, err := audio.ReadWAV(data)
	if err != nil {
		a.s.log.Error("voicemail: unreadable message", "box", a.b.name, "message", id, "error", err)
		return nil, true
	}
	return w.Samples, true
}

// heard files a new message as saved once it has been played.
func (a *menu) heard(m Message) {
	if m.Folder == FolderNew {
		if err := a.setFolder(m.ID, FolderSaved); err != nil {
			a.s.log.Error("voicemail: filing a heard message", "box", a.b.name, "message", m.ID, "error", err)
		}
	}
}

func (a *menu) setFolder(id int, f Folder) error {
	before, ok := a.b.get(id)
	if !ok {
		return nil
	}
	if _, err := a.b.update(id, func(m *Message) { m.Folder = f }); err != nil {
		return err
	}
	if before.Folder != f {
		a.s.changed(a.b.name)
	}
	return nil
}

// options is the mailbox options menu.
func (a *menu) options() error {
	ss := a.ss
	for {
		d, err := a.choose("vm-options-menu")
		if errors.Is(err, errTimeout) {
			return nil // back to the main menu, which counts its own
		}
		if err != nil {
			return err
		}
		switch d {
		case '1':
			err = a.recordGreeting()
		case '5':
			err = a.changePIN()
		case '*':
			return nil
		case '#':
			ss.say(false, "vm-goodbye")
			return errExit
		}
		if err != nil {
			return err
		}
	}
}

func (a *menu) recordGreeting() error {
	ss := a.ss
	if err := ss.say(false, "vm-record-greeting", prompts.Beep); err != nil {
		return err
	}
	ss.fromNow()
	r, err := a.s.startGreeting(a.b, ss.l.Codec())
	if err != nil {
		return err
	}
	why, rerr := ss.record(r)
	if rerr != nil {
		r.abort()
		return rerr
	}
	ok, err := r.finishGreeting(a.s.minSamples())
	if err != nil {
		return err
	}
	if ok {
		a.s.publish(events.Event{Kind: events.VoicemailGreeting, Call: a.c.Call, Account: a.c.Account, Cause: fmt.Sprintf("%s, ended by %s", clockText(r.duration()), why)}, a.b.name)
	}
	if why == endHungUp {
		return line.ErrHungUp
	}
	if ok {
		return ss.say(true, "vm-greeting-saved")
	}
	return nil
}

func (a *menu) changePIN() error {
	ss := a.ss
	if err := ss.say(true, "vm-new-pin"); err != nil {
		return err
	}
	first, err := ss.entry(MaxPIN)
	if err != nil && !errors.Is(err, errTimeout) {
		return err
	}
	if !ValidPIN(first) {
		return ss.say(true, "vm-pin-not-changed")
	}
	if err := ss.say(true, "vm-repeat-pin"); err != nil {
		return err
	}
	again, err := ss.entry(MaxPIN)
	if err != nil && !errors.Is(err, errTimeout) {
		return err
	}
	if again != first {
		return ss.say(true, "vm-pin-not-changed")
	}
	if err := a.b.setPIN(first); err != nil {
		a.s.log.Error("voicemail: storing a PIN", "box", a.b.name, "error", err)
		return ss.say(true, "vm-pin-not-changed")
	}
	a.s.publish(events.Event{Kind: events.VoicemailPINChanged, Call: a.c.Call, Account: a.c.Account, Source: a.c.Source}, a.b.name)
	return ss.say(true, "vm-pin-changed")
}
