package b2bua

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/ir"
	"switchboard/runtime/carrier"
	"switchboard/runtime/clock"
	"switchboard/runtime/events"
	"switchboard/runtime/line"
	"switchboard/runtime/media"
	"switchboard/runtime/routing"
)

// MediaSession anchors the media of one call. SetOffer takes the caller's
// offer; each callee branch gets a leg of its own, with its own sockets, so
// that a losing branch's packets (a phone behind NAT that answered a
// moment too late) never reach the call; the winning leg's Answer gives the
// SDP returned to the caller. Both take the IPs the party's signalling
// comes from: its media is accepted from those and its SDP's address
// only, so a stranger cannot take the call's audio (media.Relay).
// media.ErrNoPorts from either refuses the call with 503.
type MediaSession interface {
	SetOffer(sdp []byte, from ...netip.Addr) error
	NewLeg(at ...netip.Addr) (MediaLeg, []byte, error)
	Close() error
}

// MediaLeg is the callee side of one branch.
type MediaLeg interface {
	Answer(sdp []byte) ([]byte, error)
	Close() error
}

// MediaFactory opens a media session; onDigit is called for each RFC 4733
// digit the relay observes, with fromCallee telling which side sent it.
type MediaFactory func(onDigit func(fromCallee bool, digit rune)) (MediaSession, error)

// call is one call through the B2BUA.
type call struct {
	s      *Server
	st     *siteState
	id     string // the caller's Call-ID
	inv    *sip.Request
	tx     sip.ServerTransaction
	caller string
	dec    routing.Decision
	// shown is presented(), kept by presentedFrom for the call's legs.
	shown struct {
		name, user string
		known      bool
	}
	toTag string
	media MediaSession
	offer []byte // what callees are offered when the media is not anchored
	// callerSDP is the SDP of the caller's INVITE (nil: none, a delayed
	// offer), taken out of a multipart body if it came in one.
	callerSDP []byte
	local     *localLine // set when the server answered the call itself
	out       *outbound  // set for a call out over a trunk
	hop       *Hop       // set for another node's call through this one (nodehop.go)

	// final: the caller has its final response, ours (respond) or
	// sipgo's 487 to its CANCEL (callerCancelled).
	final atomic.Bool

	mu         sync.Mutex
	branches   []*branch
	winner     *branch
	ended      bool
	ringing    bool    // 180 or 183 sent to the caller
	earlyFrom  *branch // the branch whose early media the caller hears
	reinviting bool    // a re-INVITE is being relayed
	cseq       uint32
	digits     [2][]rune // per side: caller 0, callee 1
	noPorts    bool      // a branch got no media ports (media.ErrNoPorts)
	// acked: the caller's ACK of our 2xx has arrived; resend is the
	// timer that sends our 2xx again until then (accept).
	acked  bool
	resend *time.Timer

	events chan any // branch results and timers, for the ring loop
}

// branch is one INVITE to one registered contact of one account.
type branch struct {
	leg     int
	account string
	contact Contact
	req     *sip.Request
	tx      sip.ClientTransaction
	res     *sip.Response // the final response
	early   bool          // a provisional response arrived: CANCEL is allowed
	rung    bool          // the ring loop has reported it ringing
	done    bool          // a final response arrived, or the transaction died
	cancel  string        // Reason text when a CANCEL is wanted
	// cancelSent: the CANCEL went out. Whoever sees both "wanted" and
	// "allowed" first sends it — the branch's reader when the 1xx comes
	// after the decision (the ring loop may be gone by then), the ring
	// loop otherwise.
	cancelSent bool
	authed     bool     // a carrier's challenge was answered (once only)
	seq        uint32   // CSeq of the server's last request in the answered branch's dialog
	media      MediaLeg // this branch's side of the relay, when anchored
}

// callSide maps a Call-ID to the call and the side it belongs to: br is nil
// for the caller's dialog.
type callSide struct {
	call *call
	br   *branch
}

type (
	evResponse struct {
		br  *branch
		res *sip.Response
	}
	evDead struct {
		br  *branch
		err error
	}
	evLegTimeout   struct{ leg int }
	evTotalTimeout struct{}
	evCallerCancel struct{}
)

// Reason texts for CANCEL (RFC 3326), as phones display them.
const (
	reasonElsewhere = `SIP;cause=200;text="Call completed elsewhere"`
	reasonTimeout   = `SIP;cause=480;text="No answer"`
	reasonCaller    = `SIP;cause=487;text="Caller cancelled"`
	reasonDeclined  = `SIP;cause=603;text="Declined"`
)

func (s *Server) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if s.closing.Load() {
		respond(tx, req, 503, "Service Unavailable")
		return
	}
	if to := req.To(); to != nil {
		if _, ok := to.Params.Get("tag"); ok {
			s.onReinvite(req, tx)
			return
		}
	}
	// A new call: admitted while the server keeps up (over UDP screen has
	// admitted it already, and this finds it admitted), refused with 503
	// and Retry-After otherwise. Its set-up ends when onInvite returns:
	// the caller has its final response then.
	setup := callIDOf(req)
	if !s.admission.Admit(setup) {
		_ = tx.Respond(s.admission.Refusal(req))
		return
	}
	defer s.admission.Done(setup)
	st := s.st()
	number, ok := dialled(req)
	if !ok {
		respond(tx, req, 416, "Unsupported URI Scheme")
		return
	}
	src := sourceAddr(req)
	var account string
	var dec routing.Decision
	var hop *Hop
	if h, ok := s.hop(req); ok {
		// Another node's call for a device on this node's flow: its
		// token is its credential (nodehop.go).
		if h.Status != 0 {
			s.refuseHop(req, tx, h)
			return
		}
		hop = &h
		account, dec = hopCaller(req), hopDecision(st.program, hop)
	} else if trunks, ok := st.trunks[src]; ok {
		// Carriers authenticate by address, as they do with every PBX.
		var trunk string
		trunk, dec = routeFromCarrier(st.router, trunks, req)
		account = ir.AccountName(ir.AccountTrunk, trunk)
	} else {
		acct, res := st.auth.Check(req, req.Source(), true)
		if res != nil {
			_ = tx.Respond(res)
			return
		}
		account = acct
		dec = st.router.Route(account, number)
	}
	callID := ""
	if h := req.CallID(); h != nil {
		callID = h.Value()
	}
	offer, err := sdpOf(req)
	if err != nil {
		refuseBody(tx, req)
		return
	}
	if dec.Kind == routing.Voicemail || dec.Kind == routing.Conference {
		c := &call{s: s, st: st, id: callID, inv: req, tx: tx, caller: account, dec: dec, callerSDP: offer, toTag: sip.GenerateTagN(16)}
		s.publish(events.Event{Kind: events.CallStarted, Call: callID, From: account, To: number, Target: dec.Target.String(), Origin: dec.Origin})
		s.serveDecision(c)
		return
	}
	var out *outbound
	if dec.Kind == routing.Outbound {
		out, dec = s.outbound(st, account, dec)
	}
	if dec.Kind != routing.Ring {
		s.rejectCall(req, tx, account, callID, dec)
		return
	}
	if maxForwards(req) == 0 {
		// Nothing more may be forwarded (RFC 3261 §16.3): a loop.
		respond(tx, req, 483, "Too Many Hops")
		return
	}

	c := &call{
		s: s, st: st, id: callID, inv: req, tx: tx, caller: account, dec: dec, callerSDP: offer,
		toTag: sip.GenerateTagN(16), events: make(chan any, 64), out: out,
	}
	if hop != nil {
		c.throughHop(hop)
	}
	if s.cfg.Media != nil && len(offer) > 0 {
		m, err := s.cfg.Media(c.onDigit)
		if err != nil {
			s.log.Error("media relay", "error", err)
			respond(tx, req, 500, "Server Internal Error")
			return
		}
		c.media = m
		if err = m.SetOffer(offer, hostIP(req.Source())); err != nil {
			m.Close()
			if errors.Is(err, media.ErrNoPorts) {
				s.log.Warn("media relay", "error", err)
				respond(tx, req, 503, "Service Unavailable")
				return
			}
			// Why stays here (see respond): the caller hears only 488.
			s.log.Debug("call refused: unusable SDP offer", "call", callID, "from", account, "error", err)
			respond(tx, req, 488, "Not Acceptable Here")
			return
		}
	} else {
		c.offer = offer
	}
	if _, loaded := s.calls.LoadOrStore(callID, &callSide{call: c}); loaded {
		// A retransmitted INVITE is absorbed by the transaction layer;
		// this is a second INVITE with a Call-ID in use.
		respond(tx, req, 482, "Loop Detected")
		return
	}
	s.publish(events.Event{Kind: events.CallStarted, Call: callID, From: account, To: number, Target: dec.Target.String(), Origin: dec.Origin, Device: doorDevice(dec)})
	c.respond(100, "Trying", nil)
	if s.work.add() {
		defer s.work.done()
	}
	c.ring()
}

func doorDevice(d routing.Decision) string {
	if d.Door != nil {
		return d.Door.Device
	}
	return ""
}

func (s *Server) rejectCall(req *sip.Request, tx sip.ServerTransaction, account, callID string, dec routing.Decision) {
	status, reason := dec.Status, dec.Reason
	text := statusText(status)
	switch dec.Kind {
	case routing.Conference, routing.Voicemail:
		status, text, reason = 480, "Temporarily Unavailable", fmt.Sprintf("%s is not available on this server yet", dec.Kind)
	case routing.Outbound:
		// Only a trunk missing from the running program gets here.
		status, text, reason = 503, "Service Unavailable", fmt.Sprintf("trunk %q is not in the running configuration", dec.Trunk)
	}
	if status == 0 {
		status, text = 500, "Server Internal Error"
	}
	number, _ := dialled(req)
	s.publish(events.Event{Kind: events.CallRejected, Call: callID, From: account, To: number, Status: status, Cause: reason, Origin: dec.Origin})
	s.log.Info("call refused", "call", callID, "from", account, "to", number, "status", status, "reason", reason)
	respond(tx, req, status, text)
}

// respond answers the caller inside its dialog (our To tag), and returns
// the response.
func (c *call) respond(status int, reason string, body []byte) *sip.Response {
	res := sip.NewResponseFromRequest(c.inv, status, reason, body)
	if status < 200 && c.final.Load() {
		// Nothing provisional after the final (RFC 3261 §17.2.1): the
		// ring loop's 180 for a callee's ringing it took from its queue
		// after sipgo's 487 to the caller's CANCEL. sipgo's server
		// transaction would not send it, but would keep it as its last
		// response and send it again for a retransmitted INVITE and at
		// Timer G, where the 487 was due. (The check and the
		// transaction's own are not one step: a CANCEL handled whole
		// between the two still lets it in. What closes that is sipgo's
		// to do: not to keep a response its state ignores.)
		return res
	}
	if status >= 200 {
		c.final.Store(true)
	}
	if status > 100 {
		if to := res.To(); to != nil {
			// Our tag, always: sipgo has put a random one there, and
			// the dialog's later requests (our BYE, re-INVITEs) carry
			// c.toTag, which a strict client (baresip) must recognise.
			to.Params.Add("tag", c.toTag)
		}
		res.AppendHeader(c.s.contactHeader(c.inv.Source(), c.inv.Transport()))
	}
	if body != nil {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	if status >= 200 {
		// A final response ends the set-up (onInvite's Done would come
		// only once the ring loop has tidied up).
		c.s.admission.Done(c.id)
	}
	_ = c.tx.Respond(res)
	return res
}

// accept sends the caller our 2xx and, over UDP, sends it again until its
// ACK arrives (RFC 3261 §13.3.1.4): the server transaction never
// retransmits a 2xx (RFC 6026 leaves that to the core), and a client that
// had our 100 Trying has stopped retransmitting its INVITE, so a lost 200
// was never recovered — the caller waited for it until it gave up, while
// the callee talked to no one. Retransmissions go at T1, doubling up to T2,
// for as long as the transaction lasts (sipgo's Timer L, which the server
// sets to 5 s, package sipstack: TuneServe; the RFC's 64·T1 at most).
func (c *call) accept(body []byte) {
	res := c.respond(200, "OK", body)
	if !strings.EqualFold(c.inv.Transport(), "UDP") {
		return
	}
	// A timer, not a goroutine waiting on one: the ACK comes within
	// milliseconds nearly always, and a goroutine and its stack per call
	// cost more than the timer alone (issue 19).
	r := &resend2xx{c: c, res: res, interval: sip.T1, total: sip.T1}
	c.mu.Lock()
	if !c.acked {
		c.resend = time.AfterFunc(r.interval, r.fire)
	}
	c.mu.Unlock()
}

// resend2xx sends a call's 2xx again (accept).
type resend2xx struct {
	c        *call
	res      *sip.Response
	interval time.Duration // until this sending
	total    time.Duration // since the first, at this sending
}

// fire sends the 2xx again unless the ACK came, the call ended or the
// transaction is over, and sets the timer for the next time while the
// total stays within 64·T1.
func (r *resend2xx) fire() {
	c := r.c
	c.mu.Lock()
	stop := c.acked || c.ended
	c.mu.Unlock()
	if stop || c.tx.Respond(r.res) != nil {
		return // acknowledged, hung up, or the transaction is over
	}
	r.interval = min(2*r.interval, sip.T2)
	if r.total += r.interval; r.total > 64*sip.T1 {
		return
	}
	c.mu.Lock()
	if !c.acked {
		c.resend.Reset(r.interval)
	}
	c.mu.Unlock()
}

// gotAck records the caller's ACK of our 2xx.
func (c *call) gotAck() {
	c.mu.Lock()
	c.acked = true
	if c.resend != nil {
		c.resend.Stop()
	}
	c.mu.Unlock()
}

func (c *call) post(ev any) {
	select {
	case c.events <- ev:
	default:
		// The ring loop has ended; late results are irrelevant.
		go func() {
			select {
			case c.events <- ev:
			case <-time.After(time.Second):
			}
		}()
	}
}

// callerCancelled is told of the caller's CANCEL by sipgo, which sends
// the caller its 487 after this returns.
func (c *call) callerCancelled(*sip.Request) {
	c.final.Store(true) // before the 487: see respond
	c.s.admission.Done(c.id)
	c.post(evCallerCancel{})
}

// ring executes the ring plan and answers the caller. It returns when the
// caller has a final response.
func (c *call) ring() {
	ring := c.dec.Ring
	var timers []clock.Timer
	defer func() {
		for _, t := range timers {
			t.Stop()
		}
	}()
	clk := c.s.clk
	timers = append(timers, clk.AfterFunc(ring.Timeout.Std(), func() { c.post(evTotalTimeout{}) }))
	// The caller's CANCEL ends the set-up (sipgo sends the 487 after
	// this callback): its place in the budget is free before the caller
	// hears of it, not once the callees' cancellations are done.
	if !c.tx.OnCancel(c.callerCancelled) {
		c.finish("caller cancelled")
		return
	}

	next := 0 // next leg to start
	startLeg := func() bool {
		for next < len(ring.Legs) {
			i := next
			next++
			// The timer starts before the INVITEs leave: a callee (or a
			// virtual clock) must never see a ring whose timeout is not
			// yet running.
			leg := ring.Legs[i]
			if leg.Timeout > 0 {
				timers = append(timers, clk.AfterFunc(leg.Timeout.Std(), func() { c.post(evLegTimeout{leg: i}) }))
			}
			if n := c.startLeg(i); n > 0 {
				return true
			}
		}
		return false
	}
	if ring.Strategy == ir.Sequential {
		startLeg()
	} else {
		for next < len(ring.Legs) {
			startLeg()
		}
	}

	busy, declined := false, false
	for {
		if c.allDone() {
			if ring.Strategy == ir.Sequential && !declined && next < len(ring.Legs) && startLeg() {
				continue
			}
			c.fallback(busy, declined)
			return
		}
		switch ev := (<-c.events).(type) {
		case evResponse:
			b, res := ev.br, ev.res
			switch {
			case res.IsProvisional():
				if res.StatusCode == 100 {
					continue
				}
				c.mu.Lock()
				first := !b.rung
				b.rung = true
				c.mu.Unlock()
				if first {
					c.s.publish(events.Event{Kind: events.LegRinging, Call: c.id, Leg: b.account, From: c.caller, Target: c.dec.Target.String(), Status: res.StatusCode, Origin: c.dec.Origin})
				}
				if c.earlyMedia(b, res) {
					continue
				}
				c.mu.Lock()
				sendRinging := !c.ringing && c.winner == nil && b.cancel == ""
				c.ringing = c.ringing || sendRinging
				c.mu.Unlock()
				if sendRinging {
					c.respond(180, "Ringing", nil)
				}
			case res.IsSuccess():
				c.mu.Lock()
				b.done, b.res = true, res
				won := c.winner == nil
				if won {
					c.winner = b
				}
				c.mu.Unlock()
				c.ack(b)
				if !won {
					// Two callees answered at once: the later one is
					// hung up straight away.
					c.bye(b, "answered elsewhere")
					continue
				}
				c.s.calls.Store(callIDOf(b.req), &callSide{call: c, br: b})
				c.cancelOthers(b, reasonElsewhere)
				c.answer(b)
				return
			default:
				c.mu.Lock()
				b.done, b.res = true, res
				cancelled := b.cancel != ""
				c.mu.Unlock()
				if cancelled && res.StatusCode == 487 {
					continue
				}
				c.s.publish(events.Event{Kind: events.LegFailed, Call: c.id, Leg: b.account, Status: res.StatusCode, Cause: res.Reason, Origin: c.dec.Origin})
				if res.StatusCode == 486 || res.StatusCode == 600 {
					busy = true
				}
				if res.StatusCode >= 600 {
					// A 6xx ends the whole fork (RFC 3261 §16.7).
					declined = true
					c.cancelOthers(b, reasonDeclined)
				}
			}
		case evDead:
			c.mu.Lock()
			ev.br.done = true
			c.mu.Unlock()
		case evLegTimeout:
			c.cancelLeg(ev.leg, reasonTimeout)
		case evTotalTimeout:
			next = len(ring.Legs)
			c.cancelOthers(nil, reasonTimeout)
		case evCallerCancel:
			next = len(ring.Legs)
			c.cancelOthers(nil, reasonCaller)
			c.waitCancels()
			c.finish("caller cancelled")
			return
		}
	}
}

// earlyMedia lets the caller hear a callee before it answers — a
// carrier's ringback or its "this number is not in service" — when the
// callee's provisional response carries SDP and it is the only branch
// ringing: the relay is bound to it and the caller gets 183 Session
// Progress with the SDP. While several branches ring the caller gets a
// plain 180: whose early media would it hear? It reports whether the 183
// was sent.
func (c *call) earlyMedia(b *branch, res *sip.Response) bool {
	early, err := sdpOf(res)
	if b.media == nil || len(early) == 0 || err != nil {
		return false
	}
	c.mu.Lock()
	ringing := 0
	for _, o := range c.branches {
		if !o.done && o.cancel == "" {
			ringing++
		}
	}
	ok := ringing == 1 && !b.done && b.cancel == "" && c.winner == nil && c.earlyFrom != b
	c.mu.Unlock()
	if !ok {
		return false
	}
	body, err := b.media.Answer(early)
	if err != nil {
		c.s.log.Warn("unusable SDP in a provisional response", "account", b.account, "status", res.StatusCode, "error", err)
		return false
	}
	c.mu.Lock()
	c.earlyFrom, c.ringing = b, true
	c.mu.Unlock()
	c.respond(183, "Session Progress", body)
	return true
}

// dialled is what the caller dialled: the user part of a SIP or SIPS
// Request-URI, or the number of a tel URI (RFC 3966: phones set to "use
// tel URI" send them), its visual separators dropped. ok is false for any
// other scheme (416, RFC 3261 §8.2.2.1).
func dialled(req *sip.Request) (number string, ok bool) {
	switch strings.ToLower(req.Recipient.Scheme) {
	case "sip", "sips", "":
		return req.Recipient.User, true
	case "tel":
		_, num, _ := strings.Cut(req.Recipient.String(), ":")
		num, _, _ = strings.Cut(num, ";")
		num = strings.Map(func(r rune) rune {
			if strings.ContainsRune("-.()", r) {
				return -1
			}
			return r
		}, num)
		return num, num != ""
	}
	return "", false
}

// maxForwards is req's Max-Forwards, 70 when it has none (RFC 3261
// §8.1.1.6's default).
func maxForwards(req *sip.Request) uint32 {
	if mf := req.MaxForwards(); mf != nil {
		return mf.Val()
	}
	return 70
}

func callIDOf(r *sip.Request) string {
	if h := r.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

// startLeg sends an INVITE to every registered contact of every account of
// leg i; it returns how many branches it started.
func (c *call) startLeg(i int) int {
	leg := c.dec.Ring.Legs[i]
	n := 0
	for _, acct := range leg.Accounts {
		if acct == c.caller {
			continue // never ring the caller's own account
		}
		for _, ct := range c.contacts(acct) {
			b := &branch{leg: i, account: acct, contact: ct}
			if err := c.invite(b); err != nil {
				c.s.log.Warn("invite failed", "account", acct, "contact", ct.URI.String(), "error", err)
				continue
			}
			c.mu.Lock()
			c.branches = append(c.branches, b)
			c.mu.Unlock()
			n++
		}
	}
	return n
}

func (c *call) invite(b *branch) error {
	s := c.s
	domain := c.st.program.Site.Domain
	req := sip.NewRequest(sip.INVITE, b.contact.URI)
	from := c.presentedFrom(domain)
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: b.account, Host: domain}, Params: sip.NewParams()}
	if c.isTrunk(b) {
		c.out.address(req, from, to)
	}
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(s.contactHeader(b.contact.dest(), b.contact.Transport))
	// Each leg carries the caller's Max-Forwards less one, as a proxy's
	// would (RFC 3261 §16.6): two PBXs whose routes point at each other
	// then end the loop with 483 instead of ringing each other for ever.
	mf := sip.MaxForwardsHeader(max(maxForwards(c.inv), 1) - 1)
	req.AppendHeader(&mf)
	for _, p := range b.contact.Path {
		req.AppendHeader(sip.NewHeader("Route", p))
	}
	offer := c.offer
	if c.media != nil {
		leg, legOffer, err := c.media.NewLeg(c.signalling(b)...)
		if err != nil {
			if errors.Is(err, media.ErrNoPorts) {
				c.mu.Lock()
				c.noPorts = true
				c.mu.Unlock()
			}
			return fmt.Errorf("media relay: %w", err)
		}
		b.media, offer = leg, legOffer
	}
	if len(offer) > 0 {
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(offer)
	}
	if b.contact.Dest != "" {
		req.SetDestination(b.contact.Dest)
	}
	if b.contact.Transport != "" {
		req.SetTransport(b.contact.Transport)
	}
	if s.cfg.Trace != nil {
		// The leg's Call-ID is chosen here, not by sipgo as it sends,
		// so that the trace knows it before the INVITE leaves.
		id := sip.CallIDHeader(sip.GenerateTagN(32))
		req.AppendHeader(&id)
		s.cfg.Trace.Leg(c.id, string(id), b.account)
	}
	b.req = req
	// The wait for a carrier's first response starts before the INVITE
	// leaves, so that whoever watches it arrive finds the timer running.
	silent, stopSilence := c.silence(b)
	tx, err := s.oversize.Request(context.Background(), s.client(), req, !c.isTrunk(b) && b.contact.direct(), c.build(b))
	for err != nil && c.isTrunk(b) {
		// A carrier's server that cannot be reached at all (a TCP
		// connection refused) is a failure as RFC 3263 §4.3 means it.
		next, ok := c.nextServer(b, err.Error())
		if !ok {
			break
		}
		stopSilence()
		req.RemoveHeader("Via")
		req.SetDestination(next)
		silent, stopSilence = c.silence(b)
		tx, err = s.oversize.Request(context.Background(), s.client(), req, false, c.build(b))
	}
	if err != nil {
		stopSilence()
		if b.media != nil {
			b.media.Close()
		}
		return err
	}
	b.tx = tx
	c.reack(b, tx)
	go func() {
		defer func() { stopSilence() }()
		next := func(a attempt) {
			tx, silent, stopSilence = a.tx, a.silent, a.stop
			c.reack(b, tx)
		}
		for {
			select {
			case <-silent:
				// The carrier's server sent nothing, not even 100
				// Trying: the next one is tried, and this transaction
				// forgotten.
				silent = nil
				if a, ok := c.tryNext(b, "no response within "+carrier.TryNext.String()); ok {
					tx.Terminate()
					next(a)
				}
				continue
			case res := <-tx.Responses():
				stopSilence()
				silent = nil
				if res.StatusCode == sip.StatusServiceUnavailable {
					if a, ok := c.tryNext(b, "503 Service Unavailable"); ok {
						next(a)
						continue
					}
				}
				if carrier.IsChallenge(res) {
					if retry := c.reauth(b, res); retry != nil {
						tx = retry
						c.reack(b, tx)
						continue
					}
				}
				if res.StatusCode > 100 && res.StatusCode < 200 {
					c.mu.Lock()
					b.early = true
					reason, send := b.cancel, b.cancel != "" && !b.cancelSent
					b.cancelSent = b.cancelSent || send
					c.mu.Unlock()
					if send {
						c.sendCancel(b, reason)
					}
				}
				c.post(evResponse{br: b, res: res})
				if !res.IsProvisional() {
					return
				}
			case <-tx.Done():
				if err := tx.Err(); err != nil {
					stopSilence()
					if a, ok := c.tryNext(b, err.Error()); ok {
						next(a)
						continue
					}
				}
				c.post(evDead{br: b, err: tx.Err()})
				return
			}
		}
	}()
	return nil
}

// reack acknowledges each retransmission of the 2xx a callee answered
// with (RFC 3261 §13.2.2.4): it retransmits its 200 until our ACK arrives,
// and sipgo's client transaction hands those retransmissions to this hook,
// not to Responses. Without it, one lost ACK left the phone resending its
// 200 for 32 s (64·T1) and then, as the RFC tells it, hanging up a call
// the door station was still in.
func (c *call) reack(b *branch, tx sip.ClientTransaction) {
	tx.OnRetransmission(func(res *sip.Response) {
		if !res.IsSuccess() {
			return
		}
		c.mu.Lock()
		answered := b.res != nil && b.res.IsSuccess()
		c.mu.Unlock()
		if answered {
			c.ack(b)
		}
	})
}

func (c *call) allDone() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range c.branches {
		if !b.done {
			return false
		}
	}
	return true
}

// cancelLeg cancels the unanswered branches of leg i.
func (c *call) cancelLeg(i int, reason string) {
	c.cancelWhere(reason, func(b *branch) bool { return b.leg == i })
}

// cancelOthers cancels every unanswered branch except keep.
func (c *call) cancelOthers(keep *branch, reason string) {
	c.cancelWhere(reason, func(b *branch) bool { return b != keep })
}

// cancelWhere cancels the unanswered branches that match: those that have
// had a provisional response at once, the others when one arrives.
func (c *call) cancelWhere(reason string, match func(*branch) bool) {
	c.mu.Lock()
	var todo []*branch
	for _, b := range c.branches {
		if match(b) && !b.done && b.cancel == "" {
			b.cancel = reason
			if b.early && !b.cancelSent {
				b.cancelSent = true
				todo = append(todo, b)
			}
		}
	}
	c.mu.Unlock()
	for _, b := range todo {
		c.sendCancel(b, reason)
	}
}

// sendCancel cancels a branch that has had a provisional response (RFC
// 3261 §9.1 forbids cancelling earlier; the branch's reader sends it when
// one arrives).
func (c *call) sendCancel(b *branch, reason string) {
	c.mu.Lock()
	inv := b.req // a carrier's challenge may have replaced it
	c.mu.Unlock()
	cancel := sip.NewRequest(sip.CANCEL, inv.Recipient)
	cancel.AppendHeader(sip.HeaderClone(inv.Via()))
	cancel.AppendHeader(sip.HeaderClone(inv.From()))
	cancel.AppendHeader(sip.HeaderClone(inv.To()))
	cancel.AppendHeader(sip.HeaderClone(inv.CallID()))
	cancel.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	mf := sip.MaxForwardsHeader(70)
	cancel.AppendHeader(&mf)
	cancel.AppendHeader(sip.NewHeader("Reason", reason))
	cancel.SetDestination(inv.Destination())
	cancel.SetTransport(inv.Transport())
	// From the INVITE's socket (RFC 3261 §9.1: the CANCEL follows the
	// INVITE); without it sipgo looks the peer up by address and, when
	// the peer answered from another port, opens a socket for it.
	cancel.Laddr = inv.Laddr
	cancel.SetBody(nil)
	c.s.publish(events.Event{Kind: events.LegCancelled, Call: c.id, Leg: b.account, Cause: reasonCause(reason), Origin: c.dec.Origin})
	go func() {
		ctx, done := context.WithTimeout(context.Background(), 32*time.Second)
		defer done()
		if _, err := c.s.client().Do(ctx, cancel, func(*sipgo.Client, *sip.Request) error { return nil }); err != nil {
			c.s.log.Debug("cancel failed", "account", b.account, "error", err)
		}
	}()
}

func reasonCause(reason string) string {
	_, text, _ := strings.Cut(reason, `text="`)
	return strings.TrimSuffix(text, `"`)
}

// waitCancels waits a little for cancelled branches to end, so that their
// late 200s (a callee answering as the CANCEL crosses) are ACKed and hung up.
func (c *call) waitCancels() {
	deadline := time.After(2 * time.Second)
	for !c.allDone() {
		select {
		case ev := <-c.events:
			switch ev := ev.(type) {
			case evResponse:
				c.mu.Lock()
				if !ev.res.IsProvisional() {
					ev.br.done, ev.br.res = true, ev.res
				}
				c.mu.Unlock()
				if ev.res.IsSuccess() {
					c.ack(ev.br)
					c.bye(ev.br, "cancelled")
				}
			case evDead:
				c.mu.Lock()
				ev.br.done = true
				c.mu.Unlock()
			}
		case <-deadline:
			return
		}
	}
}

// ack acknowledges a 2xx (RFC 3261 §13.2.2.4): a new transaction in the
// callee's dialog, with the INVITE's CSeq number.
func (c *call) ack(b *branch) {
	ack := c.toCallee(b, sip.ACK, b.req.CSeq().SeqNo)
	mf := sip.MaxForwardsHeader(70)
	ack.AppendHeader(&mf)
	if err := c.s.client().WriteRequest(ack, c.build(b)); err != nil {
		c.s.log.Warn("ack failed", "account", b.account, "error", err)
	}
}

// bye hangs up an answered branch.
func (c *call) bye(b *branch, cause string) {
	if b.res == nil {
		return
	}
	bye := c.toCallee(b, sip.BYE, c.nextSeq(b))
	c.s.calls.Delete(callIDOf(b.req))
	tracked := c.s.work.add()
	go func() {
		if tracked {
			defer c.s.work.done()
		}
		ctx, done := context.WithTimeout(context.Background(), 32*time.Second)
		defer done()
		if _, err := c.s.client().Do(ctx, bye, c.build(b)); err != nil {
			c.s.log.Debug("bye failed", "account", b.account, "cause", cause, "error", err)
		}
	}()
}

// answer connects the caller to the winning branch.
func (c *call) answer(b *branch) {
	body, err := sdpOf(b.res)
	if err == nil && b.media != nil && len(body) > 0 {
		body, err = b.media.Answer(body)
	}
	if err != nil {
		c.s.log.Warn("unusable SDP answer", "account", b.account, "error", err)
		c.bye(b, "unusable SDP answer")
		c.respond(488, "Not Acceptable Here", nil)
		c.finish("unusable SDP answer")
		return
	}
	// The losers' sockets go now; their late packets must not linger.
	c.mu.Lock()
	for _, o := range c.branches {
		if o != b && o.media != nil {
			o.media.Close()
		}
	}
	c.mu.Unlock()
	c.s.publish(events.Event{Kind: events.LegAnswered, Call: c.id, Leg: b.account, From: c.caller, Target: c.dec.Target.String(), Device: doorDevice(c.dec), Origin: c.dec.Origin})
	c.accept(body)
}

// fallback ends an unanswered ring as the IR says.
func (c *call) fallback(busy, declined bool) {
	c.mu.Lock()
	noPorts := c.noPorts && len(c.branches) == 0
	c.mu.Unlock()
	if noPorts {
		// No branch could be offered media: the server is full, which
		// is neither the callee's no-answer nor a reason for voicemail,
		// itself short of ports.
		c.respond(503, "Service Unavailable", nil)
		c.finish("no free media ports")
		return
	}
	f, status, text, cause := c.dec.Ring.NoAnswer, 480, "Temporarily Unavailable", "no answer"
	switch {
	case declined:
		f, status, text, cause = c.dec.Ring.Decline, 603, "Decline", "declined"
	case busy:
		f, status, text, cause = c.dec.Ring.Busy, 486, "Busy Here", "busy"
	}
	if c.out != nil {
		// A call out: the caller hears what the carrier said (a number
		// that does not exist is 404, not "no answer").
		if res := c.bestResponse(); res != nil {
			status, text, cause = res.StatusCode, res.Reason, fmt.Sprintf("the carrier answered %d %s", res.StatusCode, res.Reason)
			if status == 401 || status == 407 {
				// The carrier's challenge is not the caller's to answer.
				status, text = 403, "Forbidden"
			}
		}
	}
	c.s.publish(events.Event{Kind: events.Fallback, Call: c.id, From: c.caller, Target: c.dec.Target.String(), Cause: cause + " → " + f.String(), Status: status, Origin: c.dec.Origin})
	if deposit := c.s.cfg.Services.Deposit; f.Kind == ir.FallbackVoicemail && deposit != nil {
		caller := c.callerOf()
		caller.Reason = cause
		if c.serveLocally("voicemail "+f.Mailbox, func(ctx context.Context, l line.Line) { deposit(ctx, l, f.Mailbox, caller) }) {
			return
		}
	}
	// Without voicemail on this server (or a caller without audio), the
	// fallback ends the call as hangup does; the event says which it was.
	c.respond(status, text, nil)
	c.finish(cause)
}

// bestResponse picks the final response to pass upstream from the
// branches' failures (RFC 3261 §16.7): a 6xx, else the lowest status.
func (c *call) bestResponse() *sip.Response {
	c.mu.Lock()
	defer c.mu.Unlock()
	var best *sip.Response
	for _, b := range c.branches {
		r := b.res
		if r == nil || r.StatusCode < 300 {
			continue
		}
		switch {
		case best == nil:
			best = r
		case r.StatusCode >= 600 && best.StatusCode < 600:
			best = r
		case best.StatusCode < 600 && r.StatusCode < best.StatusCode:
			best = r
		}
	}
	return best
}

// finish ends a call that never connected, or one that was hung up.
func (c *call) finish(cause string) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	c.mu.Unlock()
	c.s.calls.Delete(c.id)
	if c.winner != nil {
		c.s.calls.Delete(callIDOf(c.winner.req))
	}
	if c.media != nil {
		c.media.Close()
	}
	if c.local != nil {
		c.local.end()
	}
	c.s.publish(events.Event{Kind: events.CallEnded, Call: c.id, From: c.caller, Target: c.dec.Target.String(), Cause: cause, Origin: c.dec.Origin})
}

// hangup ends an answered call from the server's side.
func (c *call) hangup(cause string) {
	c.mu.Lock()
	w, ended, local := c.winner, c.ended, c.local
	c.mu.Unlock()
	if ended {
		return
	}
	if local != nil {
		local.Hangup(cause)
		return
	}
	if w != nil {
		c.bye(w, cause)
		c.byeCaller(cause)
	}
	c.finish(cause)
}

// byeCaller hangs up the caller's dialog.
func (c *call) byeCaller(cause string) {
	bye := c.toCaller(sip.BYE)
	tracked := c.s.work.add()
	go func() {
		if tracked {
			defer c.s.work.done()
		}
		ctx, done := context.WithTimeout(context.Background(), 32*time.Second)
		defer done()
		if _, err := c.s.client().Do(ctx, bye, sipgo.ClientRequestBuild); err != nil {
			c.s.log.Debug("bye to caller failed", "cause", cause, "error", err)
		}
	}()
}

func (s *Server) onAck(req *sip.Request, tx sip.ServerTransaction) {
	// The ACK for our 2xx stops its retransmissions (accept); media
	// already flows.
	if v, ok := s.calls.Load(callIDOf(req)); ok {
		if cs := v.(*callSide); cs.br == nil {
			cs.call.gotAck()
		}
	}
}

// dialogOf finds the call an in-dialog request belongs to, answering 481
// when there is none.
func (s *Server) dialogOf(req *sip.Request, tx sip.ServerTransaction) (*callSide, bool) {
	v, ok := s.calls.Load(callIDOf(req))
	if !ok {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return nil, false
	}
	return v.(*callSide), true
}

func (s *Server) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if s.ringTestBye(req, tx) {
		return
	}
	side, ok := s.dialogOf(req, tx)
	if !ok {
		return
	}
	c := side.call
	respond(tx, req, 200, "OK")
	c.mu.Lock()
	w := c.winner
	c.mu.Unlock()
	if side.br == nil {
		if w != nil {
			c.bye(w, "caller hung up")
		}
		c.finish("caller hung up")
		return
	}
	c.byeCaller("callee hung up")
	c.finish("callee hung up")
}

// onDigit handles a DTMF digit observed in the media.
func (c *call) onDigit(fromCallee bool, digit rune) {
	c.mu.Lock()
	w := c.winner
	c.mu.Unlock()
	who := c.caller
	if fromCallee && w != nil {
		who = w.account
	}
	c.s.publish(events.Event{Kind: events.DTMF, Call: c.id, Account: who, Digits: string(digit), Origin: c.dec.Origin})
	door := c.dec.Door
	if door == nil || w == nil {
		return
	}
	// In a door call the answering party opens the door; in a monitoring
	// call (to the door station) the caller does. Digits from the other
	// side — a visitor keying at the panel — are checked too: a relay code
	// from there is a refused attempt, worth recording.
	opener := fromCallee != door.Monitoring
	if door.Monitoring {
		who = c.caller
		if fromCallee {
			who = w.account
		}
	}
	c.mu.Lock()
	side := 0
	if fromCallee {
		side = 1
	}
	c.digits[side] = append(c.digits[side], digit)
	if len(c.digits[side]) > 32 {
		c.digits[side] = c.digits[side][len(c.digits[side])-32:]
	}
	typed := string(c.digits[side])
	var relay *ir.Relay
	// The longest code that the digits end with wins: "#" must not fire
	// when "12#" was meant.
	for i := range door.Relays {
		r := &door.Relays[i]
		if strings.HasSuffix(typed, r.DTMF) && (relay == nil || len(r.DTMF) > len(relay.DTMF)) {
			relay = r
		}
	}
	if relay != nil {
		c.digits[side] = c.digits[side][:0]
	}
	c.mu.Unlock()
	if relay == nil {
		return
	}
	kind := events.DoorOpened
	cause := ""
	switch {
	case !opener:
		kind, cause = events.DoorRefused, fmt.Sprintf("%s keyed the code of relay %q from the door station's side; only the party it calls may open it", who, relay.Name)
	case !door.MayOpen(who, relay):
		kind, cause = events.DoorRefused, fmt.Sprintf("%s may not open %s", who, door.Device)
	}
	c.s.publish(events.Event{Kind: kind, Call: c.id, Account: who, Device: door.Device, Relay: relay.Name, Digits: relay.DTMF, Cause: cause, Origin: relay.Origin})
}

// statusText is the reason phrase of the statuses routing produces.
func statusText(status int) string {
	switch status {
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 480:
		return "Temporarily Unavailable"
	case 486:
		return "Busy Here"
	case 500:
		return "Server Internal Error"
	case 503:
		return "Service Unavailable"
	case 603:
		return "Decline"
	}
	return "Error"
}
