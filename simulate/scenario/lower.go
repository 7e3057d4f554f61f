package scenario

import (
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"

	"switchboard/compiler/ir"
	"switchboard/simulate"
)

// lower turns the steps of a well-formed scenario into the runner's steps.
//
// Two things are not one-to-one. Who answers or declines must be known
// before the call is placed, so answer and decline are looked ahead for and
// set on the Dial (answer also checks, where it is written, that the call
// connected to that endpoint). And time is virtual: rings_in_order moves
// the clock through each endpoint's turn by the ring's own leg timeouts,
// nobody_answers to the end of the ring, within to the given moment after
// the call was placed. And rings_only is checked once the call is over.
func (d *decoder) lower(steps []*step, scenario string) ([]simulate.Step, []ir.Origin, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	call := firstCall(steps)
	dial := simulate.Dial{From: call.from, To: call.to}
	if call.toDoor != nil {
		dial.Answer = call.toDoor.Account // door stations answer at once
	}
	var answer *step
	for _, st := range steps {
		switch st.typ {
		case stepAnswer:
			answer = st
			dial.Answer = st.by
		case stepDecline:
			dial.Decline = st.by
		case stepBusy:
			dial.Busy = append(dial.Busy, st.by)
		}
	}
	ring := d.ring(call)

	var out, atEnd []simulate.Step
	var origins, atEndOrigins []ir.Origin
	var cur *step // the step being lowered: what the steps it adds came from
	stepOrigin := func() ir.Origin {
		if cur == nil {
			return ir.Origin{}
		}
		return origin(cur.block.DefRange, fmt.Sprintf("%s step of scenario %q", cur.typ, scenario))
	}
	add := func(ss ...simulate.Step) {
		for _, x := range ss {
			out = append(out, x)
			origins = append(origins, stepOrigin())
		}
	}
	var elapsed time.Duration // virtual time since the call was placed
	// ringing is whether an earlier step has seen the call ring. The
	// server starts a ring's timers just before its first INVITE leaves,
	// so a clock moved before anything rang could move before the timers
	// exist, and pass them by.
	ringing := false
	advance := func(dur time.Duration) {
		if dur <= 0 {
			return
		}
		if !ringing && ring != nil {
			if first := firstRung(ring, dial.From); first != nil {
				add(simulate.ExpectRing{Accounts: first})
			}
			ringing = true
		}
		add(simulate.Advance{D: dur})
		elapsed += dur
	}
	var sent *simulate.SendDTMF
	ended := false // a step waited for the call to be over
	for _, st := range steps {
		cur = st
		switch st.typ {
		case stepPress, stepKey, stepDial:
			add(dial)
		case stepAnswer:
			add(simulate.ExpectAnswered{By: st.by})
			ringing = true
		case stepDecline, stepBusy:
			// Set on the Dial: the endpoint declines, or answers busy,
			// when it rings.
		case stepWait:
			advance(st.d)
		case stepNobodyAnswers:
			if ring != nil {
				advance(ring.Timeout.Std() - elapsed)
			}
		case stepSendDTMF:
			by := st.by
			switch {
			case st.byUser != nil:
				by = endpointInCall(st.byUser, dial)
			case by != "":
			case call.fromDoor == nil:
				by = dial.From
			case answer != nil:
				by = dial.Answer
			default:
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Nobody to send the digits",
					Detail:   fmt.Sprintf("The call comes from door station %q and nobody answers it in this scenario, so no one is there to send %q. Add an answer step, or say who sends them: by = user.name.", call.fromDoor.Name, st.digits),
					Subject:  st.block.DefRange.Ptr(),
				})
				continue
			}
			s := simulate.SendDTMF{From: by, Digits: st.digits}
			add(s)
			sent = &s
		case stepHangUp:
			add(simulate.Hangup{})
		case stepRings, stepRingsOnly:
			advance(st.d - elapsed)
			accounts := flatten(st.groups)
			add(simulate.ExpectRing{Accounts: accounts})
			ringing = true
			if st.typ == stepRingsOnly {
				// Checked last, so that an endpoint ringing late is
				// caught as well.
				atEnd = append(atEnd, simulate.ExpectOnlyRung{Accounts: accounts})
				atEndOrigins = append(atEndOrigins, stepOrigin())
			}
		case stepRingsInOrder:
			for i, g := range st.groups {
				add(simulate.ExpectRing{Accounts: g.accounts})
				ringing = true
				if i+1 == len(st.groups) {
					break // the last one keeps ringing: it may be answered
				}
				add(simulate.ExpectNotRung{Accounts: st.groups[i+1].accounts})
				if leg := legOf(ring, g); leg != nil {
					advance(min(leg.Timeout.Std(), ring.Timeout.Std()-elapsed))
				}
			}
		case stepDoesNotRing:
			add(simulate.ExpectNotRung{Accounts: flatten(st.groups)})
		case stepDoorOpens, stepDoorStaysShut:
			if sent == nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "No code sent",
					Detail:   fmt.Sprintf("Door station %q opens, or refuses to, when someone in the call sends its relay code. Add a send_dtmf step before this one.", st.door.Name),
					Subject:  st.block.DefRange.Ptr(),
				})
				continue
			}
			if st.typ == stepDoorStaysShut {
				add(simulate.ExpectDoor{Open: false, Device: st.door.Name, By: sent.From})
				continue
			}
			add(
				simulate.ExpectDoor{Open: true, Device: st.door.Name, Relay: st.relay, By: sent.From},
				simulate.ExpectDigits{Account: st.door.Account, Digits: sent.Digits})
		case stepRefused:
			add(simulate.ExpectFailed{Status: st.status})
			ended = true
		case stepFallsBack:
			advance(st.d - elapsed)
			f := ir.Fallback{Kind: st.fallback}
			if f.Kind == ir.FallbackVoicemail {
				switch {
				case st.hasBox:
					f.Mailbox = st.mailbox
				case ring != nil:
					// The box the site sends this call to; whether it
					// gets there is what the run checks.
					configured := ring.NoAnswer
					switch {
					case dial.Decline != "":
						configured = ring.Decline
					case len(dial.Busy) > 0:
						configured = ring.Busy
					}
					if configured.Kind == ir.FallbackVoicemail {
						f.Mailbox = configured.Mailbox
					}
				}
			}
			add(simulate.ExpectFallback{Fallback: f})
			ended = true
		}
	}
	if len(atEnd) > 0 && !ended && dial.Answer == "" && ring != nil {
		// rings_only is about the whole call, and the INVITEs of a ring
		// leave together: one may still be on its way when the others
		// have arrived. Nobody answers this call, so let the ring end
		// as the site says it ends; then every INVITE has arrived.
		cur = nil
		f := ring.NoAnswer
		switch {
		case dial.Decline != "":
			f = ring.Decline
		case len(dial.Busy) > 0:
			f = ring.Busy
			advance(ring.Timeout.Std() - elapsed)
		default:
			advance(ring.Timeout.Std() - elapsed)
		}
		add(simulate.ExpectFallback{Fallback: f})
	}
	return append(out, atEnd...), append(origins, atEndOrigins...), diags
}

// ring is the ring plan the site gives the call, or nil when it rings
// nothing (a code no entry has, a number nobody has): then the call is
// refused, which is for the run to show.
func (d *decoder) ring(call *step) *ir.Ring {
	p := d.p
	var target ir.Ref
	switch {
	case call.fromDoor != nil:
		e := p.Entry(call.fromDoor.Name, call.to)
		if e == nil {
			return nil
		}
		target = e.Target
	case call.fromTrunk != "":
		for _, x := range p.DDIs {
			if x.Trunk == call.fromTrunk && (x.Number == call.to || x.Number == "+"+call.to) {
				target = x.Target
			}
		}
	default:
		if n := p.Number(call.to); n != nil && n.Action.Kind == ir.ActionRing {
			target = n.Action.Target
		}
	}
	switch target.Kind {
	case ir.RefUser:
		if u := p.User(target.Name); u != nil {
			return &u.Ring
		}
	case ir.RefResidence:
		if r := p.Residence(target.Name); r != nil {
			return &r.Ring
		}
	}
	return nil
}

// firstRung is what the site rings first for a call from caller: the
// first leg's accounts, less the caller's own, which is never rung.
func firstRung(ring *ir.Ring, caller string) []string {
	for _, l := range ring.Legs {
		var out []string
		for _, a := range l.Accounts {
			if a != caller {
				out = append(out, a)
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	return nil
}

// legOf finds the leg of ring that rings g: by its label (user.mary), or
// else by its accounts.
func legOf(ring *ir.Ring, g group) *ir.Leg {
	if ring == nil {
		return nil
	}
	for i, l := range ring.Legs {
		if l.Label == g.label {
			return &ring.Legs[i]
		}
	}
	for i, l := range ring.Legs {
		if slices.Equal(l.Accounts, g.accounts) {
			return &ring.Legs[i]
		}
	}
	return nil
}

// endpointInCall picks which of a user's endpoints acts: the one in the
// call if there is one, else the first.
func endpointInCall(u *ir.User, dial simulate.Dial) string {
	for _, a := range []string{dial.From, dial.Answer} {
		if a != "" && slices.Contains(u.Endpoints, a) {
			return a
		}
	}
	return u.Endpoints[0]
}

// flatten lists the accounts of groups once each, in order.
func flatten(groups []group) []string {
	var out []string
	for _, g := range groups {
		for _, a := range g.accounts {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}
