package voicemail

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"switchboard/runtime/audio"
	"switchboard/runtime/events"
)

// What the owner does from outside a call (the web portal): the same
// changes the menu makes, with the same effects — the box's watchers (the
// message-waiting lights) are told at once, and the same events are
// published. Who may ask is the caller's decision; these only check that
// the box and message exist.

// ErrNoMessage is returned for a message the box does not hold.
var ErrNoMessage = errors.New("voicemail: no such message")

// MaxGreetingFile is the largest greeting file SetGreeting takes: a
// minute of 16-bit audio at 8 kHz and its header.
const MaxGreetingFile = 60*audio.Rate*2 + 1024

// PCM returns a message's audio as a 16-bit linear PCM WAV: what every
// browser plays (the stored µ-law or A-law is not played by all).
func (s *Service) PCM(boxName string, id int) ([]byte, error) {
	b, err := s.box(boxName)
	if err != nil {
		return nil, err
	}
	if _, ok := b.get(id); !ok {
		return nil, ErrNoMessage
	}
	data, err := b.wav(id)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoMessage
	}
	if err != nil {
		return nil, fmt.Errorf("voicemail: %w", err)
	}
	return toPCM(data)
}

// GreetingPCM returns the recorded greeting as a 16-bit PCM WAV; ok is
// false when there is none.
func (s *Service) GreetingPCM(boxName string) (wav []byte, ok bool, err error) {
	b, err := s.box(boxName)
	if err != nil {
		return nil, false, err
	}
	data, err := b.sh.read(b.name, greetingFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("voicemail: %w", err)
	}
	wav, err = toPCM(data)
	return wav, err == nil, err
}

func toPCM(data []byte) ([]byte, error) {
	w, err := audio.ReadWAV(data)
	if err != nil {
		return nil, fmt.Errorf("voicemail: %w", err)
	}
	var buf seekBuffer
	ww, err := audio.NewWAVWriter(&buf, audio.FormatPCM)
	if err == nil {
		err = ww.WritePCM(w.Samples)
	}
	if err == nil {
		err = ww.Close()
	}
	if err != nil {
		return nil, err
	}
	return buf.b, nil
}

// seekBuffer is an in-memory io.WriteSeeker for WAVWriter.
type seekBuffer struct {
	b   []byte
	pos int
}

func (s *seekBuffer) Write(p []byte) (int, error) {
	if need := s.pos + len(p); need > len(s.b) {
		s.b = append(s.b, make([]byte, need-len(s.b))...)
	}
	copy(s.b[s.pos:], p)
	s.pos += len(p)
	return len(p), nil
}

func (s *seekBuffer) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case 0:
		s.pos = int(off)
	case 1:
		s.pos += int(off)
	case 2:
		s.pos = len(s.b) + int(off)
	}
	if s.pos < 0 {
		s.pos = 0
		return 0, errors.New("seek before start")
	}
	return int64(s.pos), nil
}

// Delete deletes a message, as the menu's 7 does, and tells the box's
// watchers. by names who asked, for the event.
func (s *Service) Delete(boxName string, id int, by string) error {
	b, err := s.box(boxName)
	if err != nil {
		return err
	}
	m, ok := b.get(id)
	if !ok {
		return ErrNoMessage
	}
	if gone, err := b.remove(id); err != nil {
		return err
	} else if !gone {
		return ErrNoMessage
	}
	s.publish(events.Event{Kind: events.VoicemailDeleted, Account: by, Cause: m.Name()}, boxName)
	s.changed(boxName)
	return nil
}

// MarkHeard files a new message as saved, as playing it in the menu does,
// and tells the box's watchers when that changed its folder.
func (s *Service) MarkHeard(boxName string, id int) error {
	b, err := s.box(boxName)
	if err != nil {
		return err
	}
	before, ok := b.get(id)
	if !ok {
		return ErrNoMessage
	}
	if found, err := b.update(id, func(m *Message) { m.Folder = FolderSaved }); err != nil {
		return err
	} else if !found {
		return ErrNoMessage
	}
	if before.Folder != FolderSaved {
		s.changed(boxName)
	}
	return nil
}

// SetPIN sets the box's PIN, with the menu's rule (ValidPIN), hashed as
// the menu stores it.
func (s *Service) SetPIN(boxName, pin, by string) error {
	b, err := s.box(boxName)
	if err != nil {
		return err
	}
	if err := b.setPIN(pin); err != nil {
		return err
	}
	s.publish(events.Event{Kind: events.VoicemailPINChanged, Account: by}, boxName)
	return nil
}

// MaxGreeting is the longest greeting SetGreeting takes: the portal's
// recorder stops there.
func (s *Service) MaxGreeting() time.Duration { return s.cfg.MaxGreeting }

// SetGreeting makes wav the box's greeting. It must be a WAV the service
// plays (8 kHz mono, 16-bit PCM, A-law or µ-law; audio.ReadWAV), at most
// MaxGreetingFile bytes, and between the service's shortest message and
// its longest greeting.
func (s *Service) SetGreeting(boxName string, wav []byte, by string) error {
	b, err := s.box(boxName)
	if err != nil {
		return err
	}
	if len(wav) > MaxGreetingFile {
		return fmt.Errorf("a greeting file may hold %d bytes; this one has %d", MaxGreetingFile, len(wav))
	}
	w, err := audio.ReadWAV(wav)
	if err != nil {
		return fmt.Errorf("not a greeting this service can play (8 kHz mono WAV: 16-bit PCM, A-law or µ-law): %w", err)
	}
	n := int64(len(w.Samples))
	if n < max(s.minSamples(), 1) {
		return fmt.Errorf("the greeting is %s long; it must last at least %s", samplesText(n), s.cfg.MinMessage)
	}
	if limit := int64(s.cfg.MaxGreeting * audio.Rate / time.Second); n > limit {
		return fmt.Errorf("the greeting is %s long; it may last %s", samplesText(n), s.cfg.MaxGreeting)
	}
	if err := b.sh.write(b.name, greetingFile, wav); err != nil {
		return err
	}
	s.publish(events.Event{Kind: events.VoicemailGreeting, Account: by, Cause: samplesText(n) + ", uploaded"}, boxName)
	return nil
}

func samplesText(n int64) string {
	return (time.Duration(n) * time.Second / audio.Rate).Round(100 * time.Millisecond).String()
}
