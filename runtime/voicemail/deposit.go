package voicemail

import (
	"context"
	"fmt"

	"switchboard/runtime/events"
	"switchboard/runtime/line"
	"switchboard/runtime/prompts"
)

// Deposit takes a message for box from a caller whose call went
// unanswered: greeting, beep, recording until '#', hang-up, silence or the
// maximum length. It hangs up when done. It returns ErrNoBox (the call
// hung up at once) for a box the running program does not have, and
// ErrBoxFull when the box holds Config.MaxMessages messages.
func (s *Service) Deposit(ctx context.Context, l line.Line, boxName string, c Caller) error {
	ss := s.newSession(ctx, l)
	if !s.HasBox(boxName) {
		l.Hangup("no such mailbox")
		return fmt.Errorf("%w: %q", ErrNoBox, boxName)
	}
	b, err := s.box(boxName)
	if err != nil {
		s.log.Error("voicemail: opening a box", "box", boxName, "error", err)
		l.Hangup("voicemail unavailable")
		return err
	}
	if b.count() >= s.cfg.MaxMessages {
		ss.say(false, "vm-mailbox-full", "vm-goodbye")
		l.Hangup("mailbox full")
		return ErrBoxFull
	}

	greeting := b.greeting()
	if greeting == nil {
		greeting, _ = prompts.Get("vm-greeting")
	}
	if err := ss.play(greeting, true); err != nil { // any key skips it
		l.Hangup("caller hung up")
		return nil
	}
	ss.clear()
	beep, _ := prompts.Get(prompts.Beep)
	if err := ss.play(beep, false); err != nil {
		l.Hangup("caller hung up")
		return nil
	}

	// The message starts here, before its files are opened (fromNow):
	// said now, a caller that waits for it (the simulator) speaks at
	// once, and a server slow to open them loses none of it.
	ss.fromNow()
	s.publish(events.Event{Kind: events.VoicemailRecording, Call: c.Call, Account: c.Account, From: c.Account, Source: c.Source}, boxName)
	r, err := s.startMessage(b, l.Codec(), Message{
		Time:   s.clk.Now().UTC(),
		From:   From{Account: c.Account, Display: c.DisplayName, Number: c.Number},
		Call:   c.Call,
		Reason: c.Reason,
	})
	if err != nil {
		s.log.Error("voicemail: starting a recording", "box", boxName, "error", err)
		l.Hangup("voicemail unavailable")
		return err
	}
	why, rerr := ss.record(r)
	m, ferr := r.finishMessage(s.minSamples())
	if rerr == nil {
		rerr = ferr
	}
	if rerr != nil {
		s.log.Error("voicemail: recording", "box", boxName, "error", rerr)
	}
	if m == nil && ferr == nil {
		// Too short to keep: said, so that a caller who left nothing
		// and a recording lost on the way can be told apart.
		cause := fmt.Sprintf("%s of audio, under the %s a message must last, ended by %s", r.duration(), s.cfg.MinMessage, why)
		s.log.Info("voicemail: recording too short, not kept", "box", boxName, "call", c.Call, "cause", cause)
		s.publish(events.Event{Kind: events.VoicemailDiscarded, Call: c.Call, Account: c.Account, From: c.Account,
			Source: c.Source, Cause: cause}, boxName)
	}
	if m != nil {
		// Path is the message's file under the voicemail directory (its
		// object's name in a store), so an operator (or the simulator)
		// can find what was left.
		s.publish(events.Event{Kind: events.VoicemailDeposited, Call: c.Call, Account: c.Account, From: c.Account,
			Source: c.Source, Path: boxName + "/" + m.Name() + ".wav", Cause: fmt.Sprintf("%s, %s, ended by %s", m.Name(), m.Duration(), why)}, boxName)
		s.changed(boxName)
		s.notify(boxName, m.ID)
	}
	if ss.ended() == nil {
		if m != nil {
			ss.say(false, "vm-saved")
		}
		ss.say(false, "vm-goodbye")
	}
	if ferr != nil {
		// Not saved, and not said to be: what was synced stays as a
		// recording, which the next Open recovers.
		l.Hangup("voicemail unavailable")
		return rerr
	}
	l.Hangup("voicemail: " + why)
	return rerr
}
