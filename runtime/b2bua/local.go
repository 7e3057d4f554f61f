package b2bua

import (
	"context"
	"errors"
	"sync"

	"switchboard/runtime/events"
	"switchboard/runtime/line"
	"switchboard/runtime/media"
	"switchboard/runtime/routing"
)

// Services are the calls the server answers itself. Each runs in its own
// goroutine with the call's Line and returns when it is done with it; the
// server hangs up then if the caller has not. A nil function leaves that
// service out: its calls are refused with 480, as a PBX without it would.
type Services struct {
	// Deposit records a message in mailbox for a caller whose call went
	// unanswered (the IR's voicemail fallback).
	Deposit func(ctx context.Context, l line.Line, mailbox string, caller Caller)
	// Access is the voicemail menu, reached by the feature code; caller
	// is the authenticated account, whose own box it opens.
	Access func(ctx context.Context, l line.Line, caller Caller)
	// AdmitConference, when set, is asked before a conference call is
	// answered; a non-zero status (486 full, 403 throttled) refuses it.
	AdmitConference func(room string, caller Caller) (status int, reason string)
	// Conference joins the caller to the room (an IR conference name).
	Conference func(ctx context.Context, l line.Line, room string, caller Caller)
	// MessageSummary is the RFC 3842 message-summary body of a mailbox,
	// for message-waiting indication; nil: SUBSCRIBEs to it get 404.
	MessageSummary func(mailbox string) []byte
}

// Caller is who placed a call the server answers itself.
type Caller struct {
	Account     string // the authenticated IR account, or trunk.<name>
	DisplayName string
	Number      string // the caller's user part (a carrier's caller ID)
	Source      string // network address, for throttling
	Call        string // Call-ID, for events
	// Reason is why an unanswered call came to voicemail: "no answer",
	// "busy" or "declined"; empty for the other services.
	Reason string
}

// localLine is a Line over the server's own RTP endpoint, tied to the SIP
// dialog it was answered in.
type localLine struct {
	*media.Endpoint
	c    *call
	done chan struct{}
	once sync.Once // closes done
	bye  sync.Once // ends the call once, whoever asks
}

var _ line.Line = (*localLine)(nil)

func (l *localLine) Done() <-chan struct{} { return l.done }

// Hangup ends the call from the server's side.
func (l *localLine) Hangup(cause string) {
	l.bye.Do(func() {
		c := l.c
		c.mu.Lock()
		ended := c.ended
		c.mu.Unlock()
		if !ended {
			c.byeCaller(cause)
		}
		c.finish(cause)
	})
}

// end closes the line once: the caller hung up, or the server did.
func (l *localLine) end() {
	l.once.Do(func() {
		close(l.done)
		l.Endpoint.Close()
	})
}

// callerOf describes the caller of c for a service.
func (c *call) callerOf() Caller {
	cl := Caller{Account: c.caller, Source: c.inv.Source(), Call: c.id}
	// The caller as the site's callees see it (presented): a message's
	// e-mail names "Mary Byrne (101)", a carrier's caller by number.
	cl.DisplayName, cl.Number = c.presented()
	return cl
}

// serveLocally answers c with the server's own media endpoint and runs
// svc with it. what names the service for events ("voicemail 101",
// "conference sales"). It reports false, having answered nothing, when
// the call cannot be answered locally (no endpoint, no usable offer).
func (c *call) serveLocally(what string, svc func(ctx context.Context, l line.Line)) bool {
	s := c.s
	if s.cfg.LocalMedia == nil || len(c.callerSDP) == 0 {
		return false
	}
	ep := s.cfg.LocalMedia()
	answer, err := ep.Answer(c.callerSDP, hostIP(c.inv.Source()))
	if err != nil {
		ep.Close()
		if errors.Is(err, media.ErrSDP) {
			c.respond(488, "Not Acceptable Here", nil)
			c.finish("unusable SDP offer: " + err.Error())
			return true
		}
		if errors.Is(err, media.ErrNoPorts) {
			s.log.Warn("local media", "error", err)
			c.respond(503, "Service Unavailable", nil)
			c.finish("no free media ports")
			return true
		}
		s.log.Error("local media", "error", err)
		return false
	}
	if c.media != nil {
		// The relay anchored the offer for callees that never answered;
		// the endpoint replaces it.
		c.media.Close()
		c.media = nil
	}
	l := &localLine{Endpoint: ep, c: c, done: make(chan struct{})}
	c.mu.Lock()
	c.local = l
	c.mu.Unlock()
	// BYE from the caller finds the call by its Call-ID.
	s.calls.Store(c.id, &callSide{call: c})
	s.publish(events.Event{Kind: events.LegAnswered, Call: c.id, Leg: what, From: c.caller, Target: c.dec.Target.String(), Origin: c.dec.Origin})
	c.accept(answer)

	ctx, cancel := context.WithCancel(context.Background())
	tracked := s.work.add()
	go func() {
		if tracked {
			defer s.work.done()
		}
		defer cancel()
		go func() {
			<-l.done
			cancel()
		}()
		svc(ctx, l)
		l.Hangup("service finished")
	}()
	return true
}

// serveDecision runs the service a routing decision names, or refuses the
// call when the server does not offer it.
func (s *Server) serveDecision(c *call) {
	svcs := s.cfg.Services
	var ok bool
	switch c.dec.Kind {
	case routing.Voicemail:
		if svcs.Access != nil {
			ok = c.serveLocally("voicemail", func(ctx context.Context, l line.Line) { svcs.Access(ctx, l, c.callerOf()) })
		}
	case routing.Conference:
		if svcs.Conference != nil {
			room := c.dec.Target.Name
			if svcs.AdmitConference != nil {
				if status, reason := svcs.AdmitConference(room, c.callerOf()); status != 0 {
					s.calls.Delete(c.id)
					s.rejectCall(c.inv, c.tx, c.caller, c.id, routing.Decision{Kind: routing.Reject, Status: status, Reason: reason, Target: c.dec.Target, Origin: c.dec.Origin})
					return
				}
			}
			ok = c.serveLocally("conference "+room, func(ctx context.Context, l line.Line) { svcs.Conference(ctx, l, room, c.callerOf()) })
		}
	}
	if !ok {
		s.calls.Delete(c.id)
		s.rejectCall(c.inv, c.tx, c.caller, c.id, c.dec)
	}
}
