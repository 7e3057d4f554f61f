package presence

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"

	"switchboard/compiler/ir"
	"switchboard/runtime/events"
)

// State is a dialog's state as RFC 4235 §4.1.6.1 names it.
type State string

const (
	Trying     State = "trying"
	Early      State = "early"
	Confirmed  State = "confirmed"
	Terminated State = "terminated"
)

// Direction is the person's side of a dialog (RFC 4235 §4.1.6).
type Direction string

const (
	Initiator Direction = "initiator" // the person calls
	Recipient Direction = "recipient" // the person is called
)

// dialog is one person's side of one call.
type dialog struct {
	call      string // the caller's Call-ID, from which id is derived
	id        string // dialogID(call, person); "" until dialogsOf needs it
	direction Direction
	state     State
	ringing   map[string]bool // the person's accounts whose legs ring
}

// Dialog is a dialog as a NOTIFY reports it.
type Dialog struct {
	ID        string
	Direction Direction
	State     State
}

// call is the dialogs of one call through the server, per person.
type call struct {
	people map[string]*dialog
}

// maxCalls bounds the calls followed: a call whose end was never seen must
// not make the table grow for ever.
const maxCalls = 1 << 16

// Observe follows a call event of the b2bua (CallStarted, LegRinging,
// LegAnswered, LegCancelled, LegFailed, CallEnded) and notifies the
// watchers of each person whose dialogs it changes. p is the running
// configuration, for the accounts' people. It never blocks on the network.
func (s *Server) Observe(p *ir.Program, e events.Event) {
	switch e.Kind {
	case events.CallStarted, events.LegRinging, events.LegAnswered, events.LegCancelled, events.LegFailed, events.CallEnded:
	default:
		return
	}
	s.mu.Lock()
	if s.closed || e.Call == "" {
		s.mu.Unlock()
		return
	}
	changed := map[string]bool{}
	c := s.calls[e.Call]
	get := func(person string, dir Direction) *dialog {
		if person == "" {
			return nil
		}
		if c == nil {
			if len(s.calls) >= maxCalls {
				return nil
			}
			c = &call{people: map[string]*dialog{}}
			s.calls[e.Call] = c
		}
		d := c.people[person]
		if d == nil {
			// The id is hashed when a NOTIFY first reports the dialog
			// (dialogsOf): most dialogs are never watched.
			d = &dialog{call: e.Call, direction: dir, ringing: map[string]bool{}}
			c.people[person] = d
		}
		return d
	}
	set := func(d *dialog, person string, st State) {
		if d != nil && d.state != st {
			d.state = st
			changed[person] = true
		}
	}
	caller := personOf(p, e.From)
	switch e.Kind {
	case events.CallStarted:
		set(get(caller, Initiator), caller, Trying)
	case events.LegRinging:
		callee := personOf(p, e.Leg)
		if d := get(callee, Recipient); d != nil {
			d.ringing[e.Leg] = true
			if d.state != Confirmed {
				set(d, callee, Early)
			}
		}
		if d := c.person(caller); d != nil && d.state == Trying {
			set(d, caller, Early)
		}
	case events.LegAnswered:
		callee := personOf(p, e.Leg)
		set(get(callee, Recipient), callee, Confirmed)
		if d := c.person(caller); d != nil {
			set(d, caller, Confirmed)
		}
	case events.LegCancelled, events.LegFailed:
		callee := personOf(p, e.Leg)
		if d := c.person(callee); d != nil && d.direction == Recipient {
			delete(d.ringing, e.Leg)
			if len(d.ringing) == 0 && d.state != Confirmed {
				set(d, callee, Terminated)
			}
		}
	case events.CallEnded:
		if c != nil {
			for person, d := range c.people {
				set(d, person, Terminated)
			}
		}
	}
	// Each person's watchers get the state with the dialogs that ended
	// in it, once; later NOTIFYs no longer list them.
	type note struct {
		subs []*subscription
		body []Dialog
	}
	//
	// The body is built only for a person someone watches: it lists every
	// call of the person in progress, so building it for every event of
	// every call costs in proportion to the calls in progress, and a
	// server that falls behind (more calls in progress) paid more for
	// each (issue 19: a fifth of the server's CPU at twice its clean rate
	// of door calls, all to one residence, none of it watched).
	var notes []note
	for person := range changed {
		// Found through the index of watchers, not a walk of every
		// subscription: most people a call touches have none.
		w := s.watchers[person]
		if len(w) == 0 {
			continue
		}
		n := note{body: s.dialogsOf(person), subs: make([]*subscription, 0, len(w))}
		for sub := range w {
			n.subs = append(n.subs, sub)
		}
		notes = append(notes, n)
	}
	if c != nil {
		for person, d := range c.people {
			if d.state == Terminated {
				delete(c.people, person)
			}
		}
		if len(c.people) == 0 || e.Kind == events.CallEnded {
			delete(s.calls, e.Call)
		}
	}
	s.mu.Unlock()
	for _, n := range notes {
		for _, sub := range n.subs {
			sub.queue(n.body, "")
		}
	}
}

// person is the dialog of person in c, if any.
func (c *call) person(person string) *dialog {
	if c == nil || person == "" {
		return nil
	}
	return c.people[person]
}

// dialogsOf is the state of person's dialogs, sorted by id; s.mu held.
func (s *Server) dialogsOf(person string) []Dialog {
	var out []Dialog
	for _, c := range s.calls {
		if d := c.people[person]; d != nil && d.state != "" {
			if d.id == "" {
				d.id = dialogID(d.call, person)
			}
			out = append(out, Dialog{ID: d.id, Direction: d.direction, State: d.state})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// dialogID names a person's dialog of a call without giving away the
// call's Call-ID (a watcher learns the state of a call, not a handle on
// it).
func dialogID(callID, person string) string {
	h := sha256.Sum256([]byte(callID + "\x00" + person))
	return hex.EncodeToString(h[:8])
}
