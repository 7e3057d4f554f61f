package voicemail

import (
	"context"
	"errors"
	"time"

	"switchboard/runtime/clock"
	"switchboard/runtime/line"
	"switchboard/runtime/prompts"
)

// errTimeout is a key that did not come in time.
var errTimeout = errors.New("voicemail: no key pressed")

// maxPending bounds the keys typed ahead.
const maxPending = 64

// session is one call's prompts and keys. Keys pressed while a prompt
// plays are kept (type-ahead); prompts that allow it stop at the first.
type session struct {
	s       *Service
	ctx     context.Context
	l       line.Line
	digits  <-chan rune
	pending []rune
}

func (s *Service) newSession(ctx context.Context, l line.Line) *session {
	return &session{s: s, ctx: ctx, l: l, digits: l.Digits()}
}

// ended reports why the call is over, or nil while it goes on.
func (ss *session) ended() error {
	select {
	case <-ss.l.Done():
		return line.ErrHungUp
	default:
	}
	return ss.ctx.Err()
}

// collect moves the keys already pressed into pending, without waiting.
func (ss *session) collect() {
	for ss.digits != nil {
		select {
		case d, ok := <-ss.digits:
			if !ok {
				ss.digits = nil
				return
			}
			ss.push(d)
		default:
			return
		}
	}
}

func (ss *session) push(d rune) {
	if len(ss.pending) < maxPending {
		ss.pending = append(ss.pending, d)
	}
}

// play plays samples. With interrupt, a key pressed before or during it
// stops it (the key stays pending); keys are kept either way.
func (ss *session) play(samples []int16, interrupt bool) error {
	ss.collect()
	if interrupt && len(ss.pending) > 0 {
		return nil
	}
	if err := ss.ended(); err != nil {
		return err
	}
	if len(samples) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ss.ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ss.l.Play(ctx, samples) }()
	stop := func(err error) error {
		cancel()
		<-done
		return err
	}
	for {
		select {
		case err := <-done:
			switch {
			case err == nil:
				return nil
			case errors.Is(err, line.ErrHungUp):
				return line.ErrHungUp
			case ss.ctx.Err() != nil:
				return ss.ctx.Err()
			}
			return err
		case d, ok := <-ss.digits:
			if !ok {
				ss.digits = nil
				continue
			}
			ss.push(d)
			if interrupt {
				return stop(nil)
			}
		case <-ss.l.Done():
			return stop(line.ErrHungUp)
		case <-ss.ctx.Done():
			return stop(ss.ctx.Err())
		}
	}
}

// say plays prompts by name, one after another, each interruptible when
// interrupt is set. Names without a prompt are skipped.
func (ss *session) say(interrupt bool, names ...string) error {
	for _, name := range names {
		s, ok := prompts.Get(name)
		if !ok {
			ss.s.log.Warn("voicemail: missing prompt", "prompt", name)
			continue
		}
		if err := ss.play(s, interrupt); err != nil {
			return err
		}
		if interrupt && len(ss.pending) > 0 {
			return nil
		}
	}
	return nil
}

// clear forgets the keys typed ahead.
func (ss *session) clear() {
	ss.collect()
	ss.pending = ss.pending[:0]
}

// digit waits up to timeout (on the clock) for the next key.
func (ss *session) digit(timeout time.Duration) (rune, error) {
	ss.collect()
	if len(ss.pending) > 0 {
		d := ss.pending[0]
		ss.pending = ss.pending[1:]
		return d, nil
	}
	if err := ss.ended(); err != nil {
		return 0, err
	}
	fired := make(chan struct{})
	t := ss.s.clk.AfterFunc(timeout, func() { close(fired) })
	defer t.Stop()
	for {
		select {
		case d, ok := <-ss.digits:
			if !ok {
				ss.digits = nil
				continue
			}
			return d, nil
		case <-fired:
			return 0, errTimeout
		case <-ss.l.Done():
			return 0, line.ErrHungUp
		case <-ss.ctx.Done():
			return 0, ss.ctx.Err()
		}
	}
}

// entry reads digits ended by '#' (or by a pause after at least one
// digit), at most maxLen of them: a mailbox number or a PIN. '*' starts
// the entry over. An entry longer than maxLen is read to its end and
// returned empty, so a stray key never becomes a menu choice.
func (ss *session) entry(maxLen int) (string, error) {
	var got []rune
	tooLong := false
	for {
		d, err := ss.digit(ss.s.cfg.DigitTimeout)
		switch {
		case errors.Is(err, errTimeout) && (len(got) > 0 || tooLong):
			d = '#'
		case err != nil:
			return "", err
		}
		switch {
		case d == '#':
			if tooLong {
				return "", nil
			}
			return string(got), nil
		case d == '*':
			got, tooLong = got[:0], false
		case d >= '0' && d <= '9':
			if len(got) < maxLen {
				got = append(got, d)
			} else {
				tooLong = true
			}
		}
	}
}

// fromNow throws away the audio and the keys that came before now —
// what the caller said over the greeting and the beep —, so that a
// recording starts at the end of the beep. It is called before the
// recording's files are opened, not once they are: opening them syncs
// the disk, which on a busy machine can take seconds, and what the
// caller says meanwhile is the start of the message (dropping it could
// leave less than Config.MinMessage: no message at all). A key pressed
// meanwhile ('#') counts too.
func (ss *session) fromNow() {
	ss.drainFrames(ss.l.Frames())
	ss.clear()
}

// drainFrames throws away the audio that arrived before now.
func (ss *session) drainFrames(frames <-chan line.Frame) {
	for {
		select {
		case _, ok := <-frames:
			if !ok {
				return
			}
		default:
			return
		}
	}
}

// Why a recording ended.
const (
	endHash    = "#"
	endHungUp  = "hung up"
	endMax     = "maximum length"
	endSilence = "no audio"
)

// record records the caller into r until '#', hang-up, the maximum
// length or NoAudioTimeout without audio. Audio already queued when it
// ends (the caller's last words before '#' or hanging up) is kept.
//
// The caller's audio counts from the last fromNow, which the caller of
// record calls before it opens r.
func (ss *session) record(r *recording) (string, error) {
	frames := ss.l.Frames()
	if ss.s.onRecord != nil {
		ss.s.onRecord()
	}
	clk := ss.s.clk
	timeout := ss.s.cfg.NoAudioTimeout
	last := clk.Now()
	check := make(chan struct{}, 1)
	arm := func(d time.Duration) clock.Timer {
		return clk.AfterFunc(d, func() {
			select {
			case check <- struct{}{}:
			default:
			}
		})
	}
	t := arm(timeout)
	defer func() { t.Stop() }()

	// rest keeps what is queued and ends with why.
	rest := func(why string) (string, error) {
		for {
			select {
			case fr, ok := <-frames:
				if !ok {
					return why, nil
				}
				full, err := r.add(fr)
				if err != nil {
					return why, err
				}
				if full {
					return endMax, nil
				}
			default:
				return why, nil
			}
		}
	}
	for {
		select {
		case fr, ok := <-frames:
			if !ok {
				frames = nil
				continue
			}
			last = clk.Now()
			full, err := r.add(fr)
			if err != nil {
				return "", err
			}
			if full {
				return endMax, nil
			}
		case d, ok := <-ss.digits:
			if !ok {
				ss.digits = nil
				continue
			}
			if d == '#' {
				return rest(endHash)
			}
		case <-ss.l.Done():
			return rest(endHungUp)
		case <-ss.ctx.Done():
			return rest(endHungUp)
		case <-check:
			idle := clk.Now().Sub(last)
			if idle >= timeout {
				return rest(endSilence)
			}
			t = arm(timeout - idle)
		}
	}
}
