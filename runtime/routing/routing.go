// Package routing decides where a call goes. It reads only the IR: given
// the authenticated account that places a call and what it dialled, it
// returns a Decision — ring these legs, join a room, enter voicemail, go out
// over a trunk, or refuse with a SIP status — together with the IR origin
// that made the decision, so that a failure can point at the line of HCL
// responsible.
//
// It holds no state and does no I/O; the SIP server executes its decisions.
package routing

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"switchboard/compiler/ir"
)

// Kind is what the server must do with a call.
type Kind string

const (
	Ring       Kind = "ring"       // ring Decision.Ring
	Conference Kind = "conference" // join Decision.Target (a conference room)
	Voicemail  Kind = "voicemail"  // the caller's own voicemail box
	Outbound   Kind = "outbound"   // send Decision.Number out over Decision.Trunk
	Reject     Kind = "reject"     // answer Decision.Status
)

// Decision is the outcome of routing one call.
type Decision struct {
	Kind   Kind
	Status int    // for Reject: the SIP status
	Reason string // for Reject: why, for the log and the events (never sent to the caller)

	// Target is who or what is being called (user.x, residence.x, conference.x).
	Target ir.Ref
	Ring   ir.Ring

	// Door is set when a door station places the call: which relays the
	// answering party may open and which accounts may open them.
	Door *Door

	// Trunk and Number are set for Outbound.
	Trunk  string
	Number string
	// Emergency is true for calls to an emergency number.
	Emergency bool

	// Origin is the IR node that produced the decision.
	Origin ir.Origin
}

// Door describes a call from a door station.
type Door struct {
	Device string
	Code   string
	// Caller is who the call presents to callees (the entry's
	// CallerName, "Gate, button 1"); empty for a monitoring call.
	Caller string
	Relays []ir.Relay
	// Allowed are the accounts that may open the relays during this call,
	// sorted: the endpoints of the residence or user the door called.
	Allowed []string
	// Monitoring is set for a call placed to the door station (a resident
	// looking at the door from a monitor or app): the caller's digits open
	// it, not the callee's.
	Monitoring bool
}

// MayOpen reports whether account may trigger relay r of the door: the
// accounts the relay's trigger lists, or by default (trigger "called")
// the parties this call rang.
func (d *Door) MayOpen(account string, r *ir.Relay) bool {
	if r != nil && r.Trigger.Policy == ir.TriggerAccounts {
		return slices.Contains(r.Trigger.Accounts, account)
	}
	_, ok := slices.BinarySearch(d.Allowed, account)
	return ok
}

// RelayFor returns the relay opened by digits, or nil.
func (d *Door) RelayFor(digits string) *ir.Relay {
	for i := range d.Relays {
		if d.Relays[i].DTMF == digits {
			return &d.Relays[i]
		}
	}
	return nil
}

// Router routes calls for one program. It is safe for concurrent use; a
// reload builds a new Router.
type Router struct {
	p         *ir.Program
	emergency map[string]bool
	ddis      map[string]*ir.DDI
	ddisOf    map[string][]*ir.DDI // by trunk
	// spare marks the entries of ddis that are spare numbers of a trunk's
	// pool, assigned to nobody: their Target is the trunk's Unassigned.
	spare map[*ir.DDI]bool
	// targets lists, per door station, what its entries call: the people
	// who may open it from a monitoring call.
	targets map[string][]ir.Ref
}

// New builds a router. The program must be sorted (ir.Program.Sort), as
// every compiled or unmarshalled program is.
func New(p *ir.Program) *Router {
	r := &Router{p: p, emergency: map[string]bool{}, ddis: map[string]*ir.DDI{}, ddisOf: map[string][]*ir.DDI{}, spare: map[*ir.DDI]bool{}, targets: map[string][]ir.Ref{}}
	for _, e := range p.Entries {
		if t := r.targets[e.Device]; len(t) == 0 || t[len(t)-1] != e.Target {
			r.targets[e.Device] = append(t, e.Target)
		}
	}
	for _, e := range p.Site.Emergency {
		r.emergency[e] = true
	}
	for i := range p.DDIs {
		r.ddis[p.DDIs[i].Number] = &p.DDIs[i]
		r.ddisOf[p.DDIs[i].Trunk] = append(r.ddisOf[p.DDIs[i].Trunk], &p.DDIs[i])
	}
	// The pool's other numbers are spare: the carrier may still deliver
	// calls to them (a leaver's old number, one not yet handed out), and
	// they go where the trunk says, found by the same number matching.
	for _, t := range p.Trunks {
		for _, n := range t.DDIs {
			if r.ddis[n] != nil {
				continue
			}
			d := &ir.DDI{Number: n, Trunk: t.Name, Target: t.Unassigned, Origin: t.Origin}
			r.ddis[n] = d
			r.ddisOf[t.Name] = append(r.ddisOf[t.Name], d)
			r.spare[d] = true
		}
	}
	return r
}

// Program returns the program the router executes.
func (r *Router) Program() *ir.Program { return r.p }

func reject(status int, format string, args ...any) Decision {
	return Decision{Kind: Reject, Status: status, Reason: fmt.Sprintf(format, args...)}
}

// Route routes a call placed by an authenticated account. dialled is the
// user part of the Request-URI.
func (r *Router) Route(account, dialled string) Decision {
	acct := r.p.Account(account)
	if acct == nil {
		return reject(403, "account %q is not part of this site", account)
	}
	if acct.Kind == ir.AccountTrunk {
		return r.RouteDDI(acct.Owner.Name, dialled)
	}
	if acct.Kind == ir.AccountDevice {
		if dev := r.p.Device(acct.Device); dev != nil && dev.Kind == ir.DoorStation {
			return r.routeDoor(dev, dialled)
		}
	}
	if dec, ok := r.routeMonitoring(account, dialled); ok {
		return dec
	}
	if r.emergency[dialled] {
		return r.outbound(acct, dialled, true)
	}
	if n := r.p.Number(dialled); n != nil {
		return r.routeNumber(n)
	}
	if isExternal(dialled) {
		return r.outbound(acct, dialled, false)
	}
	return reject(404, "nothing on this site answers %q", dialled)
}

// RouteDDI routes a call arriving from a carrier trunk for number.
func (r *Router) RouteDDI(trunk, number string) Decision {
	d := r.ddi(trunk, number)
	if d == nil || d.Trunk != trunk {
		return reject(404, "%q is not a DDI of trunk %q", number, trunk)
	}
	if r.spare[d] {
		return r.routeSpare(d)
	}
	dec := r.ringTarget(d.Target)
	dec.Origin = d.Origin
	return dec
}

// routeSpare routes a call to a spare number of a trunk's pool: to the
// trunk's unassigned destination, straight to its voicemail box when the
// trunk says so, else a 404 that says the number is spare.
func (r *Router) routeSpare(d *ir.DDI) Decision {
	t := r.p.Trunk(d.Trunk)
	if t == nil || t.Unassigned.IsZero() {
		return reject(404, "%q is a spare number of trunk %q, assigned to nobody, and the trunk sets no unassigned destination", d.Number, d.Trunk)
	}
	if t.UnassignedMailbox != "" {
		vm := ir.Fallback{Kind: ir.FallbackVoicemail, Mailbox: t.UnassignedMailbox}
		// A ring with no legs ends at once in its fallback: the box.
		ring := ir.Ring{Strategy: ir.Simultaneous, NoAnswer: vm, Busy: vm, Decline: vm}
		return Decision{Kind: Ring, Target: t.Unassigned, Ring: ring, Origin: t.Origin}
	}
	dec := r.ringTarget(t.Unassigned)
	if dec.Kind != Reject {
		dec.Origin = t.Origin
	}
	return dec
}

// ddi finds the DDI of trunk a carrier means by number, in whichever
// format the carrier delivers it: E.164 ("+35315550101"), without its
// plus ("35315550101"), international with 00 ("0035315550101") or
// national with the trunk prefix 0 ("015550101") — the last matched as
// the DDI whose digits end in it after a country code of one to three
// digits, so no numbering-plan table is needed.
func (r *Router) ddi(trunk, number string) *ir.DDI {
	if d := r.ddis[number]; d != nil {
		return d
	}
	digits := strings.TrimPrefix(number, "+")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return nil
	}
	switch {
	case strings.HasPrefix(digits, "00"):
		return r.ddis["+"+digits[2:]]
	case strings.HasPrefix(digits, "0") && !strings.HasPrefix(number, "+"):
		national := digits[1:]
		var found *ir.DDI
		for _, d := range r.ddisOf[trunk] {
			cc, ok := strings.CutSuffix(strings.TrimPrefix(d.Number, "+"), national)
			if ok && len(cc) >= 1 && len(cc) <= 3 {
				if found != nil {
					return nil // two countries' numbers alike: refuse to guess
				}
				found = d
			}
		}
		return found
	}
	return r.ddis["+"+digits]
}

// routeDoor routes a door station's call: only its own entry points, never
// anything else (in particular never a trunk — a door panel must not be a
// free phone to the outside world).
func (r *Router) routeDoor(dev *ir.Device, code string) Decision {
	e := r.p.Entry(dev.Name, code)
	if e == nil {
		return reject(404, "door station %q has no entry %q", dev.Name, code)
	}
	dec := r.ringTarget(e.Target)
	if dec.Kind == Reject {
		return dec
	}
	dec.Origin = e.Origin
	door := &Door{Device: dev.Name, Code: code, Caller: e.CallerName, Relays: slices.Clone(dev.Relays)}
	for _, leg := range dec.Ring.Legs {
		door.Allowed = append(door.Allowed, leg.Accounts...)
	}
	slices.Sort(door.Allowed)
	door.Allowed = slices.Compact(door.Allowed)
	dec.Door = door
	return dec
}

// routeMonitoring routes a call to a door station itself, addressed by its
// account name (sip:device.gate@domain), as monitors and apps do to look
// at the door and open it. Everyone may call; only the parties the door
// would ring may open it, and anyone else's relay code is a refused
// attempt.
func (r *Router) routeMonitoring(caller, dialled string) (Decision, bool) {
	acct := r.p.Account(dialled)
	if acct == nil || acct.Kind != ir.AccountDevice {
		return Decision{}, false
	}
	dev := r.p.Device(acct.Device)
	if dev == nil || dev.Kind != ir.DoorStation {
		return Decision{}, false
	}
	door := &Door{Device: dev.Name, Code: dialled, Relays: slices.Clone(dev.Relays), Monitoring: true}
	for _, t := range r.targets[dev.Name] {
		if d := r.ringTarget(t); d.Kind == Ring {
			for _, leg := range d.Ring.Legs {
				door.Allowed = append(door.Allowed, leg.Accounts...)
			}
		}
	}
	slices.Sort(door.Allowed)
	door.Allowed = slices.Compact(door.Allowed)
	ring := ir.Ring{
		Strategy: ir.Simultaneous,
		Legs:     []ir.Leg{{Label: "device." + dev.Name, Accounts: []string{acct.Name}, Timeout: ir.Duration(monitorTimeout)}},
		Timeout:  ir.Duration(monitorTimeout),
		NoAnswer: ir.Fallback{Kind: ir.FallbackHangup}, Busy: ir.Fallback{Kind: ir.FallbackHangup}, Decline: ir.Fallback{Kind: ir.FallbackHangup},
	}
	return Decision{Kind: Ring, Target: ir.DeviceRef(dev.Name), Ring: ring, Door: door, Origin: dev.Origin}, true
}

// monitorTimeout bounds how long a door station may take to answer a
// monitoring call; door stations answer at once.
const monitorTimeout = 10 * time.Second

func (r *Router) routeNumber(n *ir.Number) Decision {
	var dec Decision
	switch n.Action.Kind {
	case ir.ActionRing:
		dec = r.ringTarget(n.Action.Target)
	case ir.ActionConference:
		dec = Decision{Kind: Conference, Target: n.Action.Target}
	case ir.ActionVoicemail:
		dec = Decision{Kind: Voicemail}
	default:
		return reject(500, "number %q has an unknown action %q", n.Number, n.Action.Kind)
	}
	if dec.Kind != Reject {
		dec.Origin = n.Origin
	}
	return dec
}

// ringTarget builds the ring of a user or residence.
func (r *Router) ringTarget(t ir.Ref) Decision {
	switch t.Kind {
	case ir.RefUser:
		if u := r.p.User(t.Name); u != nil {
			return Decision{Kind: Ring, Target: t, Ring: u.Ring, Origin: u.Origin}
		}
	case ir.RefResidence:
		if res := r.p.Residence(t.Name); res != nil {
			return Decision{Kind: Ring, Target: t, Ring: res.Ring, Origin: res.Origin}
		}
	}
	return reject(404, "%s does not exist", t)
}

func (r *Router) outbound(caller *ir.Account, number string, emergency bool) Decision {
	if len(r.p.Trunks) == 0 {
		// Nothing can carry the call. 503 tells a phone to show "network
		// unavailable" rather than "wrong number".
		return reject(503, "no trunk can carry a call to %q", number)
	}
	t := outboundTrunk(r.p, caller)
	return Decision{Kind: Outbound, Trunk: t.Name, Number: number, Emergency: emergency, Origin: t.Origin}
}

// outboundTrunk is the trunk that carries caller's calls out: the one
// holding the caller's own number (their lowest DDI), so that the number
// they present is the carrier's to vouch for; else the site's first trunk
// by name. p must have a trunk.
func outboundTrunk(p *ir.Program, caller *ir.Account) *ir.Trunk {
	if caller != nil && caller.Owner.Kind == ir.RefUser {
		for _, d := range p.DDIs { // sorted by number
			if d.Target == caller.Owner {
				if t := p.Trunk(d.Trunk); t != nil {
					return t
				}
			}
		}
	}
	return &p.Trunks[0]
}

// isExternal reports whether a dialled string is a number for the public
// network: E.164 with "+", or a national/international number starting 0.
func isExternal(s string) bool {
	if s == "" {
		return false
	}
	rest := s
	if rest[0] == '+' {
		rest = rest[1:]
	} else if rest[0] != '0' {
		return false
	}
	if len(rest) < 3 {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
