// Package services assembles the calls the server answers itself —
// conference bridges (package conference) and voicemail (package
// voicemail) — into the b2bua.Services the SIP server runs, with the
// default spoken prompts (package prompts). Package site builds them for
// `switchboard serve` and the simulator alike, so a simulated site runs
// exactly the services a served one does.
package services

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"time"

	"switchboard/compiler/ir"
	"switchboard/email"
	"switchboard/runtime/b2bua"
	"switchboard/runtime/clock"
	"switchboard/runtime/conference"
	"switchboard/runtime/events"
	"switchboard/runtime/line"
	"switchboard/runtime/prompts"
	"switchboard/runtime/voicemail"
)

// Config is what the services need.
type Config struct {
	// Program returns the running program; it changes on reload, and
	// the services read it on every use.
	Program func() *ir.Program
	Clock   clock.Clock // nil: the wall clock
	Events  *events.Bus
	Logger  *slog.Logger

	// DataDir holds what the services keep: voicemail under
	// DataDir/voicemail. Empty: no voicemail (its calls are refused).
	DataDir string
	// VoicemailStore, when set, keeps the mailboxes in serve's store
	// (voicemail.Store: an object store and a key-value bucket of the
	// site); DataDir/voicemail then holds only the recordings in progress,
	// and the boxes an older version kept there are imported once.
	VoicemailStore voicemail.Store
	// PINs gives each mailbox's initial PIN (credentials.Lookup); when it
	// also has ConferencePINs, rooms with a PIN get theirs from it.
	PINs voicemail.PINSource
	// Mailer sends new-message e-mails; nil sends none.
	Mailer email.Mailer
	// MailFrom is their sender; voicemail@<domain> when empty.
	MailFrom string
	// DeleteAfterNotify deletes a message once its e-mail was accepted.
	DeleteAfterNotify bool
}

// ConferencePINs gives a room's member and owner PINs.
type ConferencePINs interface {
	ConferencePINs(room string) (member, owner string, ok bool)
}

// Services are a site's bridges and mailboxes.
type Services struct {
	cfg    Config
	log    *slog.Logger
	bridge *conference.Bridge
	vm     *voicemail.Service // nil without a data directory
}

// New assembles the services.
func New(cfg Config) (*Services, error) {
	if cfg.Program == nil {
		return nil, errors.New("services: no program")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real
	}
	s := &Services{cfg: cfg, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	opts := []conference.Option{conference.WithPrompts(conference.PromptFunc(prompt))}
	if cfg.Events != nil {
		opts = append(opts, conference.WithEvents(cfg.Events))
	}
	s.bridge = conference.NewBridge(cfg.Clock, opts...)
	if cfg.DataDir != "" {
		vm, err := voicemail.Open(voicemail.Config{
			Program: cfg.Program,
			Dir:     filepath.Join(cfg.DataDir, "voicemail"), Store: cfg.VoicemailStore, Clock: cfg.Clock, Events: cfg.Events, Logger: s.log,
			PINs: cfg.PINs, Mailer: cfg.Mailer, MailFrom: cfg.MailFrom, DeleteAfterNotify: cfg.DeleteAfterNotify,
		})
		if err != nil {
			return nil, err
		}
		s.vm = vm
	}
	return s, nil
}

// WatchMailboxes calls f whenever a mailbox's messages change: the server's
// MessageWaiting, which NOTIFYs the owner's devices.
func (s *Services) WatchMailboxes(f func(mailbox string)) (stop func()) {
	if s.vm == nil {
		return func() {}
	}
	return s.vm.Watch(f)
}

// Voicemail is the voicemail service, nil without a data directory: the
// portal manages boxes through it.
func (s *Services) Voicemail() *voicemail.Service { return s.vm }

// WaitConferenceFrames waits until the conference participant on the
// call with Call-ID id has had n of its frames taken in by the bridge
// (conference.Bridge.WaitReceived): a simulation's handshake before it
// moves a room's virtual clock on.
func (s *Services) WaitConferenceFrames(ctx context.Context, id string, n int) error {
	return s.bridge.WaitReceived(ctx, id, n)
}

// Retire archives or deletes the voicemail boxes of the people p says
// applies removed (voicemail.Service.Retire); the site calls it when it
// starts and at every reload.
func (s *Services) Retire(p *ir.Program) []voicemail.Retired {
	if s.vm == nil || p == nil {
		return nil
	}
	now := time.Now()
	if s.cfg.Clock != nil {
		now = s.cfg.Clock.Now()
	}
	return s.vm.Retire(p, now)
}

// Close waits for voicemail e-mails in flight; hang up calls first.
func (s *Services) Close() error {
	if s.vm != nil {
		return s.vm.Close()
	}
	return nil
}

// prompt is a default prompt by name, nil when there is none (the bridge
// then plays a tone).
func prompt(name string) []int16 {
	if s, ok := prompts.Get(name); ok {
		return s
	}
	return nil
}

// Runtime is what the SIP server runs.
func (s *Services) Runtime() b2bua.Services {
	rs := b2bua.Services{
		AdmitConference: s.admitConference,
		Conference:      s.conference,
	}
	if vm := s.vm; vm != nil {
		rs.Deposit = func(ctx context.Context, l line.Line, mailbox string, c b2bua.Caller) {
			if err := vm.Deposit(ctx, l, mailbox, voicemail.Caller(c)); err != nil {
				s.log.Debug("voicemail deposit ended", "mailbox", mailbox, "account", c.Account, "error", err)
			}
		}
		rs.Access = func(ctx context.Context, l line.Line, c b2bua.Caller) {
			if err := vm.Access(ctx, l, voicemail.Own, voicemail.Caller(c)); err != nil {
				s.log.Debug("voicemail access ended", "account", c.Account, "error", err)
			}
		}
		rs.MessageSummary = vm.MessageSummary
	}
	return rs
}

// roomCall describes a caller to a room, or reports that the room is not
// in the running program.
func (s *Services) roomCall(room string, caller b2bua.Caller) (conference.Call, bool) {
	p := s.cfg.Program()
	conf := p.Conference(room)
	if conf == nil {
		return conference.Call{}, false
	}
	rc := conference.RoomConfig{Conference: *conf}
	if pins, ok := s.cfg.PINs.(ConferencePINs); ok && conf.PIN {
		rc.MemberPIN, rc.OwnerPIN, _ = pins.ConferencePINs(conf.Name)
	}
	c := conference.Call{
		Room:    rc,
		ID:      caller.Call,
		Account: caller.Account,
		Source:  caller.Source,
	}
	// The owner of a personal room, calling from their own phone or app,
	// is who the room is for.
	if a := p.Account(caller.Account); a != nil && conf.Owner.Kind != "" && a.Owner == conf.Owner {
		c.Owner = true
	}
	return c, true
}

func (s *Services) admitConference(room string, caller b2bua.Caller) (int, string) {
	c, ok := s.roomCall(room, caller)
	if !ok {
		return 404, "no conference room " + room
	}
	switch err := s.bridge.Admit(c); {
	case errors.Is(err, conference.ErrFull):
		return 486, "the conference is full"
	case errors.Is(err, conference.ErrLocked):
		return 486, "the conference is locked"
	case errors.Is(err, conference.ErrThrottled):
		return 403, "too many wrong PINs from this caller; try later"
	case err != nil:
		return 500, err.Error()
	}
	return 0, ""
}

func (s *Services) conference(ctx context.Context, l line.Line, room string, caller b2bua.Caller) {
	c, ok := s.roomCall(room, caller)
	if !ok {
		l.Hangup("no such conference room")
		return
	}
	if err := s.bridge.Serve(ctx, l, c); err != nil && !errors.Is(err, context.Canceled) {
		s.log.Debug("conference call ended", "room", room, "account", caller.Account, "error", err)
	}
}
