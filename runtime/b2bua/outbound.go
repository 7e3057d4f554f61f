package b2bua

import (
	"context"
	"net/netip"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/ir"
	"switchboard/runtime/carrier"
	"switchboard/runtime/routing"
)

// How long a call out may ring before the server gives up on it. The
// called party's network usually ends an unanswered call first; an
// emergency call is never cut short by our timer.
const (
	outboundTimeout  = 3 * time.Minute
	emergencyTimeout = time.Hour
)

// outbound is a call out over a carrier trunk. The call is rung like any
// other — media anchored, events, cancel and hang-up — with a ring plan of
// one leg, the trunk's account, whose one contact is the carrier.
type outbound struct {
	trunk   ir.Trunk
	account string // trunk.<name>: the leg, as events name it
	number  string // what the caller dialled
	caller  string // the number presented to the carrier (callerID)
	name    string // the display name presented with it (callerName)
	cred    carrier.Credentials
	hasCred bool
	// next are the carrier's servers after the one the INVITE goes to
	// first, in the order DNS gave (package sipdns), for failover.
	next []string
}

// outbound turns a routing.Outbound decision into the ring of the carrier.
// It returns nil when the trunk is not in the running program. The call
// goes out whether or not the registration at the carrier is up (an
// emergency call must never wait for it), and with credentials when the
// trunk has them, for the carrier's challenge.
func (s *Server) outbound(st *siteState, caller string, dec routing.Decision) (*outbound, routing.Decision) {
	t := st.program.Trunk(dec.Trunk)
	if t == nil {
		return nil, dec
	}
	cred, ok, err := carrier.Resolve(t, trunkSecrets(st.secrets))
	if err != nil {
		s.log.Warn("call out without trunk credentials", "trunk", t.Name, "error", err)
	}
	o := &outbound{trunk: *t, account: ir.AccountName(ir.AccountTrunk, t.Name), number: dec.Number, cred: cred, hasCred: ok}
	o.caller = callerID(st.program, caller, t, cred.Username())
	o.name = callerName(st.program, caller)
	timeout := outboundTimeout
	if dec.Emergency {
		timeout = emergencyTimeout
	}
	hangup := ir.Fallback{Kind: ir.FallbackHangup}
	dec.Kind = routing.Ring
	dec.Target = ir.Ref{Kind: ir.RefTrunk, Name: t.Name}
	dec.Ring = ir.Ring{
		Strategy: ir.Simultaneous,
		Legs:     []ir.Leg{{Label: o.account, Accounts: []string{o.account}, Timeout: ir.Duration(timeout)}},
		Timeout:  ir.Duration(timeout),
		NoAnswer: hangup, Busy: hangup, Decline: hangup,
	}
	return o, dec
}

// contacts returns where to ring an account of the call's ring plan: the
// carrier for the trunk leg of a call out, the registered contacts for
// everyone else.
func (c *call) contacts(account string) []Contact {
	if c.hop != nil && account == c.hop.Account {
		return []Contact{c.hop.Contact}
	}
	if o := c.out; o != nil && account == o.account {
		ctx, cancel := context.WithTimeout(context.Background(), locateTimeout)
		defer cancel()
		servers, err := carrier.Servers(ctx, c.s.locator, &o.trunk)
		if err != nil {
			c.s.log.Warn("call out: cannot locate the carrier", "trunk", o.trunk.Name, "carrier", carrier.HostPort(&o.trunk), "error", err)
			return nil
		}
		c.mu.Lock()
		o.next = servers[1:]
		c.mu.Unlock()
		return []Contact{{URI: carrier.URI(&o.trunk, o.number), Dest: servers[0], Transport: carrier.Transport(&o.trunk)}}
	}
	return c.st.reg.Contacts(account)
}

// locateTimeout bounds finding a carrier's servers for a call out: a few
// DNS lookups, each bounded by package sipdns.
const locateTimeout = 10 * time.Second

// attempt is an INVITE to one of a carrier's servers: its transaction,
// and the wait for its first response (silence).
type attempt struct {
	tx     sip.ClientTransaction
	silent <-chan struct{}
	stop   func()
}

// tryNext sends b's INVITE to the carrier's next server, when b is the
// carrier leg, the server it went to failed before any provisional
// response — a 503 or no response (RFC 3263 §4.3) — and there is another
// to try: the same request in a new transaction (a new Via branch). ok is
// false when the failure stands.
func (c *call) tryNext(b *branch, why string) (a attempt, ok bool) {
	if !c.isTrunk(b) {
		return attempt{}, false
	}
	o := c.out
	c.mu.Lock()
	if b.early || b.cancel != "" {
		c.mu.Unlock()
		return attempt{}, false
	}
	c.mu.Unlock()
	next, ok := c.nextServer(b, why)
	if !ok {
		return attempt{}, false
	}
	c.mu.Lock()
	req := b.req.Clone()
	c.mu.Unlock()
	req.RemoveHeader("Via")
	req.SetDestination(next)
	c.mu.Lock()
	b.req = req
	c.mu.Unlock()
	a.silent, a.stop = c.silence(b) // armed before the INVITE leaves
	tx, err := c.s.client().TransactionRequest(context.Background(), req, c.s.trunkResend)
	if err != nil {
		a.stop()
		c.s.log.Warn("call out: INVITE to the next carrier server failed", "trunk", o.trunk.Name, "server", next, "error", err)
		return attempt{}, false
	}
	c.mu.Lock()
	b.tx = tx
	c.mu.Unlock()
	a.tx = tx
	return a, true
}

// nextServer moves b, the carrier leg, to the carrier's next server, if
// any, saying why the last one failed.
func (c *call) nextServer(b *branch, why string) (string, bool) {
	o := c.out
	c.mu.Lock()
	if len(o.next) == 0 {
		c.mu.Unlock()
		return "", false
	}
	next := o.next[0]
	o.next = o.next[1:]
	failed := b.contact.Dest
	b.contact.Dest = next
	b.authed = false // the next server's challenge is answered afresh
	c.mu.Unlock()
	c.s.log.Warn("call out: carrier server failed; trying the next", "trunk", o.trunk.Name, "server", failed, "error", why, "next", next)
	return next, true
}

// signalling are the IPs b's party may signal from, whose media the
// relay accepts beside its SDP's: the contact's, and for the carrier leg
// every server a failover may move it to.
func (c *call) signalling(b *branch) []netip.Addr {
	ips := []netip.Addr{hostIP(b.contact.dest())}
	if c.isTrunk(b) {
		c.mu.Lock()
		for _, s := range c.out.next {
			ips = append(ips, hostIP(s))
		}
		c.mu.Unlock()
	}
	return ips
}

// silence is a channel that receives once when b's INVITE has had no
// response at all for carrier.TryNext on the runtime clock, and the
// carrier has another server to try; stop ends the wait.
func (c *call) silence(b *branch) (fired <-chan struct{}, stop func()) {
	if !c.isTrunk(b) {
		return nil, func() {}
	}
	c.mu.Lock()
	more := len(c.out.next) > 0
	c.mu.Unlock()
	if !more {
		return nil, func() {}
	}
	ch := make(chan struct{}, 1)
	t := c.s.clk.AfterFunc(carrier.TryNext, func() { ch <- struct{}{} })
	return ch, func() { t.Stop() }
}

// isTrunk reports whether b is the carrier leg of a call out.
func (c *call) isTrunk(b *branch) bool { return c.out != nil && b.account == c.out.account }

// build is how requests of branch b are completed: requests to a carrier
// pick their socket by the trunk's transport (trunkBuild).
func (c *call) build(b *branch) sipgo.ClientRequestOption {
	if c.isTrunk(b) {
		return c.s.trunkBuild
	}
	return sipgo.ClientRequestBuild
}

// address makes an INVITE to the carrier say who calls whom: From and
// P-Asserted-Identity (RFC 3325; carriers trust it from a PBX they
// authenticate) carry the number and name presented, To the number
// dialled, all at the carrier's domain. The name replaces whatever the
// site's own legs would show (a device's location).
func (o *outbound) address(req *sip.Request, from *sip.FromHeader, to *sip.ToHeader) {
	from.DisplayName = o.name
	from.Address = sip.Uri{Scheme: "sip", User: o.caller, Host: o.trunk.Host}
	to.Address = sip.Uri{Scheme: "sip", User: o.number, Host: o.trunk.Host}
	pai := &sip.FromHeader{DisplayName: from.DisplayName, Address: from.Address}
	req.AppendHeader(sip.NewHeader("P-Asserted-Identity", pai.Value()))
}

// reauth answers a carrier's 401 or 407 on the trunk leg, once: the same
// INVITE (Call-ID, From tag, offer) with credentials and CSeq+1, in a new
// transaction (RFC 3261 §22.2). It returns the new transaction, or nil when
// the challenge stands as the leg's final answer: not the trunk leg, no
// credentials, already answered once (a second challenge means they were
// refused), or the leg is being cancelled.
func (c *call) reauth(b *branch, res *sip.Response) sip.ClientTransaction {
	o := c.out
	if !c.isTrunk(b) || !o.hasCred || !carrier.IsChallenge(res) {
		return nil
	}
	c.mu.Lock()
	if b.authed || b.cancel != "" {
		c.mu.Unlock()
		return nil
	}
	b.authed = true
	// A provisional response the carrier sent before its challenge was
	// the first transaction's: the new INVITE may be cancelled only once
	// it has one of its own (RFC 3261 §9.1). Until then no CANCEL reads
	// b.req, which the new transaction is completing below.
	b.early = false
	req := b.req.Clone()
	c.mu.Unlock()
	req.RemoveHeader("Via")
	if cs := req.CSeq(); cs != nil {
		cs.SeqNo++
	}
	if err := carrier.Authorize(req, res, o.cred); err != nil {
		c.s.log.Warn("call out: cannot answer the carrier's challenge", "trunk", o.trunk.Name, "error", err)
		return nil
	}
	c.mu.Lock()
	b.req = req
	c.mu.Unlock()
	tx, err := c.s.client().TransactionRequest(context.Background(), req, c.s.trunkResend)
	if err != nil {
		c.s.log.Warn("call out: INVITE with credentials failed", "trunk", o.trunk.Name, "error", err)
		return nil
	}
	c.mu.Lock()
	b.tx = tx
	c.mu.Unlock()
	return tx
}
