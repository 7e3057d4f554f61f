// Package events is the runtime's structured event stream: registrations,
// call legs, DTMF, door openings and refusals, provisioning fetches and
// reloads. Every event names the IR object it concerns, so an operator (or
// the simulator) can tie it back to a line of the site files.
//
// A Bus fans events out to subscribers (the simulator, a JSON-lines file);
// publishing never blocks the SIP hot path: a subscriber that falls behind
// loses events and is told how many.
package events

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"switchboard/compiler/ir"
)

// Kind names an event.
type Kind string

const (
	Registered      Kind = "registered"      // a binding was added or refreshed
	Unregistered    Kind = "unregistered"    // a binding was removed or expired
	AuthFailed      Kind = "auth_failed"     // digest authentication failed
	Throttled       Kind = "throttled"       // a source was refused for too many failures
	Suppressed      Kind = "suppressed"      // more events of a kind than a window allows were counted, not sent; Cause has the counts
	CallStarted     Kind = "call_started"    // an authenticated INVITE was routed
	CallRejected    Kind = "call_rejected"   // routing refused the call
	LegRinging      Kind = "leg_ringing"     // a forked leg reached a device that rings
	LegAnswered     Kind = "leg_answered"    // a leg answered; the call is connected
	LegCancelled    Kind = "leg_cancelled"   // a leg was cancelled (answered elsewhere, timeout, caller gave up)
	LegFailed       Kind = "leg_failed"      // a leg answered with an error (busy, decline, …)
	CallEnded       Kind = "call_ended"      // the call is over, with its cause
	CallUpdated     Kind = "call_updated"    // a re-INVITE (hold, resume, new codec) was relayed; Cause says who and which direction
	Fallback        Kind = "fallback"        // the ring ended unanswered; the IR's fallback applies
	DTMF            Kind = "dtmf"            // a complete RFC 4733 event was observed in the media
	DoorOpened      Kind = "door_opened"     // an allowed party sent a relay's code
	DoorRefused     Kind = "door_refused"    // someone not allowed sent a relay's code
	ProvisionFetch  Kind = "provision_fetch" // a device fetched a provisioning file
	ProvisionDenied Kind = "provision_denied"
	CheckSync       Kind = "check_sync"    // a NOTIFY check-sync was sent to a device
	Reloaded        Kind = "reloaded"      // a new configuration is running
	ReloadFailed    Kind = "reload_failed" // a new configuration was rejected; the old one runs

	// Presence (runtime/presence): Account is the subscriber, Target
	// "user.<name>" the person watched, Cause how it ended.
	Subscribed   Kind = "subscribed"   // a dialog-event (BLF) subscription was accepted
	Unsubscribed Kind = "unsubscribed" // it ended: unsubscribed, expired, refused a NOTIFY or removed by a reload

	// Conference bridges (runtime/conference). Each names the room's IR
	// origin; To is the room's number, Target "conference.<name>".
	ConferenceJoined    Kind = "conference_joined"     // a caller entered a room; Cause "owner" or "member"
	ConferenceLeft      Kind = "conference_left"       // a participant left a room; Cause says why
	ConferencePINFailed Kind = "conference_pin_failed" // a caller keyed a wrong room PIN (never the digits)
	ConferenceRefused   Kind = "conference_refused"    // a caller was turned away: room full or locked, too many wrong PINs
	ConferenceMuted     Kind = "conference_muted"      // a participant muted themselves (*6): the others stop hearing them
	ConferenceUnmuted   Kind = "conference_unmuted"    // a muted participant keyed *6 again

	// The server's own registrations at its carriers (Account is
	// trunk.<name>, Origin the trunk block).
	TrunkRegistered         Kind = "trunk_registered"          // the carrier accepted or refreshed the registration
	TrunkRegistrationFailed Kind = "trunk_registration_failed" // registering failed; Cause says why and when it is retried
	TrunkUnregistered       Kind = "trunk_unregistered"        // the registration was withdrawn (shutdown, trunk changed or removed)

	// Voicemail (runtime/voicemail). Target is "mailbox.<name>", Origin
	// the mailbox's; Account the caller's account, Source its address.
	VoicemailRecording  Kind = "voicemail_recording"   // the beep has played: the caller is being recorded
	VoicemailDeposited  Kind = "voicemail_deposited"   // a caller left a message; Path is its file, Cause its length
	VoicemailDiscarded  Kind = "voicemail_discarded"   // a recording too short to keep (voicemail's MinMessage); Cause its length and end
	VoicemailRecovered  Kind = "voicemail_recovered"   // a recording cut short by a crash or restart was kept
	VoicemailLogin      Kind = "voicemail_login"       // a box was opened; Cause "own device" or "PIN"
	VoicemailPINFailed  Kind = "voicemail_pin_failed"  // a wrong PIN (never the digits), or a try while locked out
	VoicemailLocked     Kind = "voicemail_locked"      // a box or a source reached the wrong-PIN limit
	VoicemailPINChanged Kind = "voicemail_pin_changed" // the owner set a new PIN
	VoicemailGreeting   Kind = "voicemail_greeting"    // the owner recorded a greeting
	VoicemailDeleted    Kind = "voicemail_deleted"     // a message was deleted (from the menu, or after its e-mail)
	VoicemailMailed     Kind = "voicemail_mailed"      // a new message was e-mailed to the box's owner
	VoicemailMailFailed Kind = "voicemail_mail_failed" // e-mailing it failed; the message is kept
)

// Event is one thing that happened. Fields that do not apply are empty.
type Event struct {
	Time time.Time `json:"time"`
	Kind Kind      `json:"kind"`

	// Call identifies a call across its legs (the caller's Call-ID).
	Call string `json:"call,omitempty"`
	// Leg is the account a forked leg rings, for Leg* events.
	Leg string `json:"leg,omitempty"`

	Account string `json:"account,omitempty"` // who acted: the registering or calling account
	From    string `json:"from,omitempty"`    // caller account
	To      string `json:"to,omitempty"`      // what was dialled
	Target  string `json:"target,omitempty"`  // the IR object called: user.x, residence.x
	Device  string `json:"device,omitempty"`  // door station, for door events
	Relay   string `json:"relay,omitempty"`
	Digits  string `json:"digits,omitempty"`

	Status int    `json:"status,omitempty"` // SIP status involved
	Cause  string `json:"cause,omitempty"`  // why: "answered elsewhere", "no answer", "busy", …
	Source string `json:"source,omitempty"` // network source address
	// UserAgent is what a registering device says it is (its User-Agent
	// header), for registered events: how an operator tells which device
	// holds an account.
	UserAgent string `json:"user_agent,omitempty"`
	Path      string `json:"path,omitempty"` // provisioning file

	// Origin is the IR node (and so the HCL) the event concerns.
	Origin ir.Origin `json:"origin,omitzero"`
}

// Bus distributes events to subscribers.
type Bus struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
	now  func() time.Time
}

// NewBus returns a bus that stamps events with now (time.Now when nil), so
// a virtual clock gives deterministic timestamps.
func NewBus(now func() time.Time) *Bus {
	if now == nil {
		now = time.Now
	}
	return &Bus{subs: map[*Subscription]struct{}{}, now: now}
}

// Subscription receives events on C until Close.
type Subscription struct {
	C       <-chan Event
	c       chan Event
	bus     *Bus
	mu      sync.Mutex
	dropped int
}

// Subscribe registers a subscriber with a buffer of n events.
func (b *Bus) Subscribe(n int) *Subscription {
	c := make(chan Event, n)
	s := &Subscription{C: c, c: c, bus: b}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Close unsubscribes and closes C.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	if _, ok := s.bus.subs[s]; ok {
		delete(s.bus.subs, s)
		close(s.c)
	}
	s.bus.mu.Unlock()
}

// Dropped reports how many events were lost because C was full.
func (s *Subscription) Dropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Publish stamps e (when its Time is zero) and hands it to every subscriber
// without blocking.
func (b *Bus) Publish(e Event) {
	if b == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = b.now()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		select {
		case s.c <- e:
		default:
			s.mu.Lock()
			s.dropped++
			s.mu.Unlock()
		}
	}
}

// WriteJSONLines copies events from s to w, one JSON object per line, until
// s is closed. It returns the first write error.
func WriteJSONLines(w io.Writer, s *Subscription) error {
	enc := json.NewEncoder(w)
	for e := range s.C {
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	return nil
}
