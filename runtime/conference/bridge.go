package conference

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"switchboard/compiler/ir"
	"switchboard/runtime/clock"
	"switchboard/runtime/events"
)

// DefaultLimit is a room's participant limit when its RoomConfig gives none.
const DefaultLimit = 20

// Why Admit or Serve turns a caller away. Serve has already played the
// matching prompt and hung up when it returns one of them.
var (
	ErrFull      = errors.New("conference: room is full")
	ErrLocked    = errors.New("conference: room is locked")
	ErrThrottled = errors.New("conference: too many wrong PINs; try later")
	ErrWrongPIN  = errors.New("conference: wrong PIN")
	ErrNoPIN     = errors.New("conference: no PIN entered")
)

// RoomConfig is what the server knows of a room when a call for it comes
// in. Each join brings the current one, so a reload's new limit applies to
// the next caller; PINs are checked against the caller's own.
type RoomConfig struct {
	Conference ir.Conference
	// MemberPIN, when set, is asked of everyone who is not the owner.
	MemberPIN string
	// OwnerPIN, when set, makes whoever keys it an owner, who may lock the
	// room (*7). If it equals MemberPIN, that PIN gives owners.
	OwnerPIN string
	// Limit is the most participants at once; 0 means DefaultLimit.
	Limit int
}

func (rc RoomConfig) limit() int {
	if rc.Limit > 0 {
		return rc.Limit
	}
	return DefaultLimit
}

// needsPIN reports whether callers are asked for a PIN.
func (rc RoomConfig) needsPIN() bool { return rc.MemberPIN != "" || rc.OwnerPIN != "" }

// key identifies the room among the bridge's.
func (rc RoomConfig) key() string {
	if rc.Conference.Number != "" {
		return rc.Conference.Number
	}
	return "conference." + rc.Conference.Name
}

// Call describes one caller to Admit and Serve.
type Call struct {
	Room RoomConfig
	// ID is the SIP Call-ID, for events.
	ID string
	// Account is the caller's authenticated account ("" for none). Wrong
	// PINs are throttled per account.
	Account string
	// Source is the caller's network address. Wrong PINs are throttled per
	// host; a port is ignored.
	Source string
	// Owner says the server authenticated the caller as the room's owner
	// (ir.Conference.Owner): the caller joins as owner without a PIN.
	Owner bool
}

// Role is a participant's standing in a room.
type Role uint8

const (
	Member Role = iota
	Owner
)

func (r Role) String() string {
	if r == Owner {
		return "owner"
	}
	return "member"
}

// Bridge holds a server's conference rooms. A room exists while someone is
// in it. A Bridge is safe for concurrent use.
type Bridge struct {
	clk        clock.Clock
	events     *events.Bus
	prompts    Prompts
	pinTimeout time.Duration
	throttle   *pinThrottle

	mu    sync.Mutex
	rooms map[string]*room
}

// Option configures a Bridge.
type Option func(*Bridge)

// WithEvents publishes joins, leaves, PIN failures and refusals on bus.
func WithEvents(bus *events.Bus) Option { return func(b *Bridge) { b.events = bus } }

// WithPrompts plays recorded prompts; without it (or for a prompt it
// lacks) the bridge plays tones.
func WithPrompts(p Prompts) Option { return func(b *Bridge) { b.prompts = p } }

// WithThrottle replaces DefaultThrottle.
func WithThrottle(t Throttle) Option { return func(b *Bridge) { b.throttle = newThrottle(t) } }

// DefaultPINTimeout is how long PIN entry waits for the first key after the
// prompt, and then between keys; after it, what was keyed counts as
// entered.
const DefaultPINTimeout = 10 * time.Second

// NewBridge returns a bridge timed by clk, which must be the clock of the
// lines it serves.
func NewBridge(clk clock.Clock, opts ...Option) *Bridge {
	b := &Bridge{clk: clk, pinTimeout: DefaultPINTimeout, rooms: map[string]*room{}}
	for _, o := range opts {
		o(b)
	}
	if b.throttle == nil {
		b.throttle = newThrottle(DefaultThrottle)
	}
	return b
}

// Admit reports whether c could enter now, before the server answers: nil,
// or ErrFull or ErrLocked (answer 486 Busy Here), or ErrThrottled (answer
// 403 Forbidden). It publishes no event; the server's own rejection does.
// Serve checks again, since the room can fill while a caller keys a PIN.
func (b *Bridge) Admit(c Call) error {
	if c.Room.needsPIN() && !c.Owner {
		if blocked := b.throttle.blocked(throttleKeys(c.Account, hostOnly(c.Source)), b.clk.Now()); blocked {
			return ErrThrottled
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.rooms[c.Room.key()]
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.parts) >= c.Room.limit() {
		return ErrFull
	}
	// A caller who may yet key the owner PIN is let through to try.
	if r.locked && !c.Owner && c.Room.OwnerPIN == "" {
		return ErrLocked
	}
	return nil
}

// Participants is how many are in the room numbered number now.
func (b *Bridge) Participants(number string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.rooms[number]
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.parts)
}

// ErrNotInRoom is WaitReceived's answer for a call that is in no room.
var ErrNotInRoom = errors.New("conference: the call is in no room")

// WaitReceived waits until the participant on the call with Call-ID id has
// had n frames of its audio placed in its jitter buffer since it joined:
// whatever it sent by then will be in the mix at the tick that is due to
// play it. It is the handshake a simulation on a virtual clock needs
// before advancing the room's clock, which a real network gives by taking
// less than a frame to deliver. It returns ErrNotInRoom when the call is
// in no room (or leaves), or ctx's error.
func (b *Bridge) WaitReceived(ctx context.Context, id string, n int) error {
	for {
		r, p := b.find(id)
		if p == nil {
			return ErrNotInRoom
		}
		r.mu.Lock()
		if p.received >= n {
			r.mu.Unlock()
			return nil
		}
		if !slices.Contains(r.parts, p) {
			r.mu.Unlock()
			return ErrNotInRoom
		}
		if r.pushed == nil {
			r.pushed = make(chan struct{})
		}
		pushed := r.pushed
		r.mu.Unlock()
		select {
		case <-pushed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// find returns the room and participant of the call with Call-ID id.
func (b *Bridge) find(id string) (*room, *participant) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.rooms {
		r.mu.Lock()
		for _, p := range r.parts {
			if p.id == id {
				r.mu.Unlock()
				return r, p
			}
		}
		r.mu.Unlock()
	}
	return nil, nil
}

// join puts a participant into the caller's room, creating it (and
// starting its clock) when it is empty.
func (b *Bridge) join(c Call, role Role, p *participant) (*room, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	key := c.Room.key()
	r := b.rooms[key]
	if r == nil {
		r = newRoom(b, key)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.parts) >= c.Room.limit() {
		return nil, ErrFull
	}
	if r.locked && role != Owner {
		return nil, ErrLocked
	}
	p.role = role
	if len(r.parts) == 0 {
		b.rooms[key] = r
		p.private.add(joinTone)
		p.private.add(b.prompt(PromptAlone))
		r.start, r.ticks = b.clk.Now(), 0
		r.schedule()
	} else {
		r.tones.add(joinTone)
	}
	r.parts = append(r.parts, p)
	return r, nil
}

// leave takes p out of r, closing r when it empties.
func (b *Bridge) leave(r *room, p *participant) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	owners := 0
	if i := slices.Index(r.parts, p); i >= 0 {
		r.parts = slices.Delete(r.parts, i, i+1)
	}
	r.wake()
	for _, q := range r.parts {
		if q.role == Owner {
			owners++
		}
	}
	if len(r.parts) == 0 {
		r.closed = true
		if r.timer != nil {
			r.timer.Stop()
		}
		if b.rooms[r.key] == r {
			delete(b.rooms, r.key)
		}
		return
	}
	if owners == 0 {
		r.locked = false // nobody left who could unlock it
	}
	r.tones.add(leaveTone)
}

// publish sends a conference event about c's room.
func (b *Bridge) publish(kind events.Kind, c Call, cause string) {
	if b.events == nil {
		return
	}
	b.events.Publish(events.Event{
		Time: b.clk.Now(), Kind: kind, Call: c.ID, Account: c.Account, Source: c.Source,
		To: c.Room.Conference.Number, Target: ir.ConferenceRef(c.Room.Conference.Name).String(),
		Cause: cause, Origin: c.Room.Conference.Origin,
	})
}

// publishThrottled announces that a counter reached the throttle's limit.
func (b *Bridge) publishThrottled(c Call, key string) {
	if b.events == nil {
		return
	}
	e := events.Event{Time: b.clk.Now(), Kind: events.Throttled, Call: c.ID,
		To: c.Room.Conference.Number, Target: ir.ConferenceRef(c.Room.Conference.Name).String(),
		Cause:  fmt.Sprintf("%d wrong conference PINs within %s", b.throttle.Failures, b.throttle.Window),
		Origin: c.Room.Conference.Origin}
	if key == "account:"+c.Account {
		e.Account = c.Account
	} else {
		e.Source = c.Source
	}
	b.events.Publish(e)
}

// hostOnly drops a port from addr.
func hostOnly(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
