package b2bua

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/ir"
	"switchboard/runtime/notify"
	"switchboard/runtime/routing"
	"switchboard/runtime/sipstack"
)

// A cluster's nodes share the registrations, but a device behind NAT is
// reached only over the flow its REGISTER came over, which one node holds.
// That node put itself first in the binding's Path with a flow token
// (package runtime/registrar, WithFlowPath), so another node's INVITE or
// NOTIFY for the device comes to it with that element as its top Route.
// The holding node is then a B2BUA hop: it rings the device over the flow
// with the call machinery of any call (CANCEL, BYE either way, media
// relayed), and relays a NOTIFY. Nothing but a valid token makes such a
// request trusted; one without is any other request (authenticated, or
// refused), one with a bad token is refused.

// NodeHops recognise the requests another node of the site sends through
// this one (Config.Nodes; package runtime/site makes it).
type NodeHops interface {
	// Hop reads req's top Route. ok is false when it does not name this
	// node: req is then handled as any other. Otherwise the Hop says
	// where the device is, or why req is refused.
	Hop(req *sip.Request) (h Hop, ok bool)
}

// Hop is a request another node sent to a device over this node's flow.
type Hop struct {
	// Account is the device's account; Contact is where it is reached:
	// its registered URI, over the flow (Dest, Transport), through what
	// remains of its Path after this node's element.
	Account string
	Contact Contact
	// Status refuses the request when not 0: 403 for a token that is not
	// one of the site's nodes' (forged, altered, another site's), 430
	// Flow Failed (RFC 5626 §5.3) for one whose flow no binding of the
	// account holds any longer. Cause says why, for the log.
	Status int
	Cause  string
}

// hopRing bounds how long a hop rings the device: the node that placed the
// call cancels it when its own ring plan ends; this ends a ring whose
// CANCEL never came (that node died).
const hopRing = 10 * time.Minute

// hopNotifyRelays bounds the NOTIFYs this node relays at once: each holds
// a goroutine and a client transaction for up to 30 s when the device does
// not answer, and a NOTIFY is no call for the admission budget to bound.
// The nodes send a few a device (message waiting, check-sync); more at
// once are refused 503 with Retry-After (the sending node does not send
// that NOTIFY again: the device has the state at its next change, or its
// own SUBSCRIBE).
const hopNotifyRelays = 64

// hop is the Hop req is, when it is one.
func (s *Server) hop(req *sip.Request) (Hop, bool) {
	if s.cfg.Nodes == nil {
		return Hop{}, false
	}
	return s.cfg.Nodes.Hop(req)
}

// refuseHop answers a hop that names this node with a token it refuses.
// Anyone can send one (a Route naming the node with any user part), and
// unchallenged: the log says the first, then at most one a minute with
// how many were refused since, so that a flood of them is not one line
// each.
func (s *Server) refuseHop(req *sip.Request, tx sip.ServerTransaction, h Hop) {
	if n, ok := s.hopRefusals.count(s.clk.Now()); ok {
		s.log.Info("request through this node refused", "method", req.Method, "source", req.Source(), "status", h.Status, "reason", h.Cause, "refused_unlogged", n)
	}
	reason := "Forbidden"
	if h.Status == 430 {
		reason = "Flow Failed"
	}
	respond(tx, req, h.Status, reason)
}

// hopRefusals counts the refused hops refuseHop has not logged.
type hopRefusals struct {
	mu     sync.Mutex
	logged time.Time // when the last was logged
	quiet  int       // refused since, not logged
}

// hopRefusalLog is how often refuseHop logs at most.
const hopRefusalLog = time.Minute

// count counts a refusal at now, and reports whether to log it, with how
// many before it went unlogged.
func (r *hopRefusals) count(now time.Time) (unlogged int, log bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.logged.IsZero() && now.Sub(r.logged) < hopRefusalLog {
		r.quiet++
		return 0, false
	}
	unlogged, r.logged, r.quiet = r.quiet, now, 0
	return unlogged, true
}

// hopCaller is the caller a hop's call names in its events: the node that
// sent it.
func hopCaller(req *sip.Request) string { return "node:" + req.Source() }

// hopDecision rings the one contact of the hop, with no fallback of its
// own: the node that placed the call hears 480, 486 or 603 and applies its
// ring plan's. It has no target: the call is the placing node's, whose
// events name who was called; the hop's (their From the node) say only
// that the leg crossed this node, so that a person's call history read
// from the nodes' events lists the call once. Presence follows its legs
// all the same, by account.
func hopDecision(p *ir.Program, h *Hop) routing.Decision {
	d := routing.Decision{
		Kind: routing.Ring,
		Ring: ir.Ring{
			Legs:    []ir.Leg{{Label: h.Account, Accounts: []string{h.Account}}},
			Timeout: ir.Duration(hopRing),
		},
	}
	if a := p.Account(h.Account); a != nil {
		d.Origin = a.Origin
	}
	return d
}

// throughHop makes c a hop's call: it rings the hop's contact, presenting
// the caller the node that placed the call presents.
func (c *call) throughHop(h *Hop) {
	c.hop = h
	if f := c.inv.From(); f != nil {
		c.shown.name, c.shown.user = f.DisplayName, f.Address.User
	}
	c.shown.known = true
}

// onNotifyHop relays a NOTIFY another node sends a device through this
// node (message waiting, check-sync): the same NOTIFY over the device's
// flow, its final response back. Any other NOTIFY is refused as before,
// 405.
func (s *Server) onNotifyHop(req *sip.Request, tx sip.ServerTransaction) {
	h, ok := s.hop(req)
	if !ok {
		res := sip.NewResponseFromRequest(req, 405, "Method Not Allowed", nil)
		res.AppendHeader(sip.NewHeader("Allow", allowed))
		_ = tx.Respond(res)
		return
	}
	if h.Status != 0 {
		s.refuseHop(req, tx, h)
		return
	}
	c := s.client()
	if c == nil {
		respond(tx, req, 503, "Service Unavailable")
		return
	}
	if maxForwards(req) == 0 {
		respond(tx, req, 483, "Too Many Hops")
		return
	}
	if ev := req.GetHeader("Event"); ev == nil || !hopEvent(ev.Value()) {
		respond(tx, req, 489, "Bad Event")
		return
	}
	select {
	case s.hopNotifies <- struct{}{}:
	default:
		respond(tx, req, 503, "Service Unavailable", sip.NewHeader("Retry-After", "5"))
		return
	}
	out := sip.NewRequest(sip.NOTIFY, h.Contact.URI)
	for _, name := range []string{"From", "To", "Call-ID", "CSeq", "Event", "Subscription-State", "Content-Type"} {
		if v := req.GetHeader(name); v != nil {
			out.AppendHeader(sip.HeaderClone(v))
		}
	}
	out.AppendHeader(s.contactHeader(h.Contact.dest(), h.Contact.Transport))
	mf := sip.MaxForwardsHeader(max(maxForwards(req), 1) - 1)
	out.AppendHeader(&mf)
	for _, p := range h.Contact.Path {
		out.AppendHeader(sip.NewHeader("Route", p))
	}
	out.SetBody(req.Body())
	out.SetDestination(h.Contact.dest())
	if h.Contact.Transport != "" {
		out.SetTransport(h.Contact.Transport)
	}
	s.goTracked(func() {
		defer func() { <-s.hopNotifies }()
		// Within the sender's transaction (64·T1), so that its answer
		// is ours to give.
		ctx, done := context.WithTimeout(context.Background(), 30*time.Second)
		defer done()
		res, err := sipstack.Do(ctx, c, out, sipgo.ClientRequestBuild)
		if err != nil {
			respond(tx, req, 408, "Request Timeout")
			return
		}
		respond(tx, req, res.StatusCode, res.Reason)
	})
}

// hopEvent reports whether a NOTIFY another node sends through this one
// has an Event the nodes send devices: message waiting, and check-sync
// without a reboot (package notify). The token proves only that the
// sender saw it; a reboot of every phone is not for whoever did.
func hopEvent(v string) bool {
	switch strings.ToLower(notify.EventPackage(v)) {
	case notify.Event:
		return true
	case "check-sync":
		return strings.EqualFold(strings.Join(strings.Fields(v), ""), "check-sync;reboot=false")
	}
	return false
}

// namesNode reports whether req is a hop through this node, its token
// valid or not: it is not challenged (onInvite accepts or refuses it).
func (s *Server) namesNode(req *sip.Request) bool {
	_, ok := s.hop(req)
	return ok
}
