package presence

import (
	"bytes"
	"context"
	"encoding/xml"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/ir"
	"switchboard/runtime/clock"
	"switchboard/runtime/events"
)

// subscription is one SUBSCRIBE dialog, the server being the notifier.
type subscription struct {
	s       *Server
	key     string // Call-ID + subscriber's tag
	account string // the subscriber
	person  string // whose calls it watches
	entity  string // the watched address, sip:<extension>@<domain>

	from   *sip.FromHeader // ours, with our tag
	to     *sip.ToHeader   // the subscriber, with its tag
	callID sip.CallIDHeader

	mu        sync.Mutex
	remote    sip.Uri  // the subscriber's Contact: where NOTIFYs go
	dest      string   // its source address (NAT)
	transport string   // the SUBSCRIBE's
	route     []string // the dialog's route set
	expires   time.Time
	timer     clock.Timer
	cseq      uint32
	version   int // of the dialog-info document, per subscription (RFC 4235 §4.1.2)
	pending   []notification
	sending   bool
	dead      bool // the subscriber refused a NOTIFY: nothing more is sent
	ended     bool // the final NOTIFY is queued: nothing follows it
	held      bool // Server.subs holds it (a fetch never is); Server.mu
}

// notification is one NOTIFY waiting to be sent, in order.
type notification struct {
	dialogs []Dialog
	state   string // Subscription-State; "" for active with the time left
}

// maxPending bounds the NOTIFYs waiting for a slow subscriber. Each one
// carries the full state, so dropping the oldest loses a transition, never
// the state.
const maxPending = 16

// queue sends a NOTIFY after those already queued.
func (sub *subscription) queue(dialogs []Dialog, state string) {
	sub.mu.Lock()
	if sub.dead || sub.ended {
		// An event that raced the end of the subscription: the final
		// NOTIFY is the last one (RFC 6665 §4.2.2).
		sub.mu.Unlock()
		return
	}
	sub.ended = state != ""
	if len(sub.pending) >= maxPending {
		sub.pending = sub.pending[1:]
	}
	sub.pending = append(sub.pending, notification{dialogs: dialogs, state: state})
	start := !sub.sending
	sub.sending = true
	sub.mu.Unlock()
	if start {
		sub.s.cfg.Go(sub.drain)
	}
}

// drain sends the queued NOTIFYs one after the other: a subscriber must
// see the states in the order they happened.
func (sub *subscription) drain() {
	for {
		sub.mu.Lock()
		if len(sub.pending) == 0 || sub.dead {
			sub.sending = false
			sub.pending = nil
			sub.mu.Unlock()
			return
		}
		n := sub.pending[0]
		sub.pending = sub.pending[1:]
		req, dest := sub.request(n)
		sub.mu.Unlock()
		sub.send(req, dest, n.state != "")
	}
}

// request builds the NOTIFY of n; sub.mu held.
func (sub *subscription) request(n notification) (*sip.Request, string) {
	s := sub.s
	sub.cseq++
	req := sip.NewRequest(sip.NOTIFY, sub.remote)
	for _, r := range sub.route {
		req.AppendHeader(sip.NewHeader("Route", r))
	}
	req.AppendHeader(sip.HeaderClone(sub.from))
	req.AppendHeader(sip.HeaderClone(sub.to))
	cid := sub.callID
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: sub.cseq, MethodName: sip.NOTIFY})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.AppendHeader(sip.NewHeader("Event", Event))
	state := n.state
	if state == "" {
		left := int(sub.expires.Sub(s.cfg.Clock.Now()) / time.Second)
		state = "active;expires=" + strconv.Itoa(max(left, 0))
	}
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	if sub.dest != "" {
		req.SetDestination(sub.dest)
	}
	if sub.transport != "" {
		req.SetTransport(sub.transport)
	}
	req.AppendHeader(s.cfg.Stack.Contact(req.Destination(), sub.transport))
	req.AppendHeader(sip.NewHeader("Content-Type", ContentType))
	req.SetBody(Body(sub.entity, sub.version, n.dialogs))
	sub.version++
	return req, sub.dest
}

// notifyTimeout bounds one NOTIFY's transaction: a subscriber that went
// away must not hold the queue for the whole of Timer F.
const notifyTimeout = 10 * time.Second

// send sends one NOTIFY; a subscriber that refuses it or does not answer
// has gone (RFC 6665 §4.2.2), and its subscription ends without another.
func (sub *subscription) send(req *sip.Request, dest string, final bool) {
	s := sub.s
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	res, err := s.cfg.Stack.Send(ctx, req)
	switch {
	case err != nil:
		s.cfg.Logger.Debug("dialog NOTIFY failed", "account", sub.account, "to", dest, "error", err)
	case res.StatusCode >= 300:
		s.cfg.Logger.Debug("dialog NOTIFY refused", "account", sub.account, "to", dest, "status", res.StatusCode)
	default:
		return
	}
	if final {
		return
	}
	sub.mu.Lock()
	sub.dead = true
	sub.mu.Unlock()
	s.mu.Lock()
	removed := s.remove(sub)
	s.mu.Unlock()
	if removed {
		s.cfg.Publish(events.Event{Kind: events.Unsubscribed, Account: sub.account, Target: ir.UserRef(sub.person).String(), Cause: "the subscriber refused a NOTIFY"})
	}
	sub.mu.Lock()
	if sub.timer != nil {
		sub.timer.Stop()
	}
	sub.mu.Unlock()
}

// Body is the dialog-info document of RFC 4235 §4 for entity, with the
// full state: every dialog listed.
func Body(entity string, version int, dialogs []Dialog) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="` + strconv.Itoa(version) + `" state="full" entity="`)
	_ = xml.EscapeText(&b, []byte(entity))
	b.WriteString("\">\n")
	for _, d := range dialogs {
		b.WriteString(`  <dialog id="` + d.ID + `" direction="` + string(d.Direction) + `"><state>` + string(d.State) + "</state></dialog>\n")
	}
	b.WriteString("</dialog-info>\n")
	return b.Bytes()
}
