package b2bua

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/ir"
	"switchboard/runtime/events"
)

// Registration at a carrier: how long is asked for, how soon a failed
// registration is retried (doubling up to the maximum, as RFC 5626 §4.5
// recommends for flows), and how long shutdown waits for an un-REGISTER.
const (
	trunkExpires    = time.Hour
	trunkRetryFirst = 30 * time.Second
	trunkRetryMax   = 30 * time.Minute
	trunkUnregister = 2500 * time.Millisecond
)

// trunkRegistration keeps the server registered at one carrier: REGISTER
// with Expires 3600, digest credentials when challenged, a refresh at half
// the time granted, retries with backoff after a failure — all on the
// runtime clock — and an un-REGISTER when it is stopped.
type trunkRegistration struct {
	s       *Server
	trunk   ir.Trunk
	cred    trunkCredentials
	account string // trunk.<name>, for events

	// One Call-ID and From tag for the life of the registration, CSeq
	// rising (RFC 3261 §10.2.4: a refresh is the same registration).
	callID, fromTag string
	cseq            uint32
	expires         time.Duration // asked for; raised by a 423

	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}
	done   chan struct{}

	mu         sync.Mutex
	registered bool      // the carrier holds our binding
	origin     ir.Origin // the trunk block now, which a reload may move
}

func (s *Server) newTrunkRegistration(t ir.Trunk, cred trunkCredentials) *trunkRegistration {
	ctx, cancel := context.WithCancel(context.Background())
	return &trunkRegistration{
		s: s, trunk: t, cred: cred, account: ir.AccountName(ir.AccountTrunk, t.Name),
		callID: sip.GenerateTagN(24), fromTag: sip.GenerateTagN(16), expires: trunkExpires,
		ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1), done: make(chan struct{}), origin: t.Origin,
	}
}

// same reports whether r already registers what t and cred describe, so a
// reload that did not touch the trunk leaves its registration alone.
func (r *trunkRegistration) same(t *ir.Trunk, cred trunkCredentials) bool {
	a := r.trunk
	return a.Host == t.Host && a.Port == t.Port && trunkTransport(&a) == trunkTransport(t) && r.cred == cred
}

func (r *trunkRegistration) run() {
	defer close(r.done)
	failures := 0
	for {
		granted, err := r.register(r.ctx, r.expires)
		if r.ctx.Err() != nil {
			return
		}
		wait := refreshDelay(granted)
		if err != nil {
			failures++
			wait = retryDelay(failures)
		} else {
			failures = 0
		}
		// The next attempt is scheduled before anyone hears of this one:
		// whoever reacts to the event by moving a virtual clock must find
		// the timer running.
		t := r.s.clk.AfterFunc(wait, func() {
			select {
			case r.wake <- struct{}{}:
			default:
			}
		})
		r.setRegistered(err == nil)
		if err != nil {
			r.s.log.Warn("trunk registration failed", "trunk", r.trunk.Name, "carrier", trunkHostPort(&r.trunk), "error", err, "retry", wait)
			r.publish(events.Event{Kind: events.TrunkRegistrationFailed, Status: statusOf(err),
				Cause: fmt.Sprintf("%v; retrying in %s", err, wait)})
		} else {
			r.s.log.Info("trunk registered", "trunk", r.trunk.Name, "carrier", trunkHostPort(&r.trunk), "expires", granted)
			r.publish(events.Event{Kind: events.TrunkRegistered, Status: sip.StatusOK,
				Cause: fmt.Sprintf("registered for %s; refreshing in %s", granted, wait)})
		}
		select {
		case <-r.wake:
		case <-r.ctx.Done():
			t.Stop()
			return
		}
	}
}

func (r *trunkRegistration) setOrigin(o ir.Origin) {
	r.mu.Lock()
	r.origin = o
	r.mu.Unlock()
}

func (r *trunkRegistration) setRegistered(v bool) {
	r.mu.Lock()
	r.registered = v
	r.mu.Unlock()
}

// stop ends the registration loop and withdraws the binding the carrier
// holds, if any, answering one challenge; cause goes into the event.
func (r *trunkRegistration) stop(cause string) {
	r.cancel()
	<-r.done
	r.mu.Lock()
	was := r.registered
	r.registered = false
	r.mu.Unlock()
	if !was {
		return
	}
	ctx, done := context.WithTimeout(context.Background(), trunkUnregister)
	defer done()
	if _, err := r.register(ctx, 0); err != nil {
		r.s.log.Warn("trunk un-registration failed", "trunk", r.trunk.Name, "error", err)
		cause += fmt.Sprintf(" (the carrier did not confirm: %v)", err)
	}
	r.publish(events.Event{Kind: events.TrunkUnregistered, Cause: cause})
}

func (r *trunkRegistration) publish(e events.Event) {
	r.mu.Lock()
	e.Account, e.Origin = r.account, r.origin
	r.mu.Unlock()
	r.s.publish(e)
}

// registerError is a registration the carrier refused.
type registerError struct {
	status int
	reason string
	why    string
}

func (e *registerError) Error() string {
	s := fmt.Sprintf("%d %s", e.status, e.reason)
	if e.why != "" {
		s += ": " + e.why
	}
	return s
}

func statusOf(err error) int {
	var re *registerError
	if errors.As(err, &re) {
		return re.status
	}
	return 0
}

// register sends one REGISTER (expires 0 withdraws the binding) and
// answers the carrier's challenges — once, and once more when the carrier
// says the nonce went stale — and a 423 Interval Too Brief. It returns the
// time the carrier granted.
func (r *trunkRegistration) register(ctx context.Context, expires time.Duration) (time.Duration, error) {
	var challenge *sip.Response
	answered, raised := 0, false
	for {
		req := r.request(expires)
		if challenge != nil {
			if err := authorize(req, challenge, r.cred); err != nil {
				return 0, &registerError{status: challenge.StatusCode, reason: challenge.Reason, why: err.Error()}
			}
		}
		res, err := r.s.client().Do(ctx, req, r.s.trunkBuild)
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			return 0, fmt.Errorf("no answer from %s: %w", trunkHostPort(&r.trunk), err)
		}
		switch {
		case isChallenge(res):
			// A second challenge means the credentials were refused,
			// unless it says the nonce merely went stale.
			if answered >= 2 || (answered == 1 && !challengeStale(res)) {
				return 0, &registerError{status: res.StatusCode, reason: res.Reason, why: "the carrier refused the credentials"}
			}
			challenge = res
			answered++
		case res.StatusCode == sip.StatusIntervalToBrief:
			min := minExpires(res)
			if raised || min <= expires || expires == 0 {
				return 0, &registerError{status: res.StatusCode, reason: res.Reason}
			}
			expires, raised = min, true
			r.expires = min
		case res.IsSuccess():
			if expires == 0 {
				return 0, nil
			}
			// The Contact as sent: over TCP or TLS it names the
			// connection sipgo chose.
			granted := grantedExpiry(res, req.Contact().Address, expires)
			if granted <= 0 {
				return 0, &registerError{status: res.StatusCode, reason: res.Reason, why: "the carrier granted no time"}
			}
			return granted, nil
		default:
			return 0, &registerError{status: res.StatusCode, reason: res.Reason}
		}
	}
}

// contact is the address the carrier sends our calls to.
func (r *trunkRegistration) contact() sip.Uri {
	return r.s.trunkContact(r.cred.username, trunkTransport(&r.trunk), trunkHostPort(&r.trunk))
}

// request builds the next REGISTER of the registration.
func (r *trunkRegistration) request(expires time.Duration) *sip.Request {
	t := &r.trunk
	ruri := trunkURI(t, "")
	req := sip.NewRequest(sip.REGISTER, ruri)
	aor := sip.Uri{Scheme: "sip", User: r.cred.username, Host: t.Host}
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", r.fromTag)
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	cid := sip.CallIDHeader(r.callID)
	req.AppendHeader(&cid)
	r.cseq++
	req.AppendHeader(&sip.CSeqHeader{SeqNo: r.cseq, MethodName: sip.REGISTER})
	req.AppendHeader(&sip.ContactHeader{Address: r.contact()})
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	req.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS"))
	req.SetDestination(trunkHostPort(t))
	req.SetTransport(trunkTransport(t))
	return req
}

// grantedExpiry reads how long the carrier keeps our binding: the expires
// parameter of our Contact in the 200 (RFC 3261 §10.2.4), else its Expires
// header, else what was asked for.
func grantedExpiry(res *sip.Response, ours sip.Uri, asked time.Duration) time.Duration {
	for _, h := range res.GetHeaders("Contact") {
		ct, ok := h.(*sip.ContactHeader)
		if !ok {
			var parsed sip.ContactHeader
			if _, err := sip.ParseAddressValue(h.Value(), &parsed.Address, &parsed.Params); err != nil {
				continue
			}
			ct = &parsed
		}
		if ct.Address.User != ours.User || ct.Address.Host != ours.Host || ct.Address.Port != ours.Port {
			continue
		}
		if v, ok := ct.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				return time.Duration(n) * time.Second
			}
		}
	}
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(h.Value()); err == nil {
			return time.Duration(n) * time.Second
		}
	}
	return asked
}

func minExpires(res *sip.Response) time.Duration {
	if h := res.GetHeader("Min-Expires"); h != nil {
		if n, err := strconv.Atoi(h.Value()); err == nil {
			return time.Duration(n) * time.Second
		}
	}
	return 0
}

// refreshDelay is when a registration granted for d is renewed: at half
// its time, so that one lost REGISTER still leaves room for the next.
func refreshDelay(d time.Duration) time.Duration {
	return max(d/2, time.Second)
}

// retryDelay is the wait before the nth consecutive attempt after a
// failure: 30 s, doubling, at most 30 minutes.
func retryDelay(n int) time.Duration {
	d := trunkRetryFirst
	for i := 1; i < n && d < trunkRetryMax; i++ {
		d *= 2
	}
	return min(d, trunkRetryMax)
}

// trunkSet is the server's registrations at its carriers, one per trunk
// with credentials, kept in step with the running program.
type trunkSet struct {
	mu       sync.Mutex
	regs     map[string]*trunkRegistration // by trunk name
	reported map[string]string             // trunk → the credential problem already reported
	closed   bool
}

// syncTrunks makes the registrations match the running program: a trunk
// with credentials registers once the listener its transport leaves from
// is open; a reload that changes a trunk's address or credentials, or
// removes it, withdraws the old registration first. Trunks without
// credentials are IP-authenticated and never register.
func (s *Server) syncTrunks() {
	st := s.st()
	p := st.program
	ts := &s.trunks
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.closed {
		return
	}
	if ts.regs == nil {
		ts.regs, ts.reported = map[string]*trunkRegistration{}, map[string]string{}
	}
	keep := map[string]bool{}
	for i := range p.Trunks {
		t := &p.Trunks[i]
		cred, ok, err := resolveTrunkCredentials(t, st.secrets)
		if err != nil {
			if ts.reported[t.Name] != err.Error() {
				ts.reported[t.Name] = err.Error()
				s.log.Error("trunk not registered", "trunk", t.Name, "error", err)
				s.publish(events.Event{Kind: events.TrunkRegistrationFailed, Account: ir.AccountName(ir.AccountTrunk, t.Name),
					Cause: "not registered: " + err.Error(), Origin: t.Origin})
			}
			continue
		}
		delete(ts.reported, t.Name)
		if !ok || !s.trunkSocketReady(trunkTransport(t)) {
			continue
		}
		if r := ts.regs[t.Name]; r != nil {
			if r.same(t, cred) {
				keep[t.Name] = true
				r.setOrigin(t.Origin)
				continue
			}
			s.stopTrunk(r, "trunk changed in the configuration")
			delete(ts.regs, t.Name)
		}
		keep[t.Name] = true
		r := s.newTrunkRegistration(*t, cred)
		ts.regs[t.Name] = r
		go r.run()
	}
	for name, r := range ts.regs {
		if !keep[name] {
			cause := "trunk removed from the configuration"
			if p.Trunk(name) != nil {
				cause = "trunk changed in the configuration"
			}
			s.stopTrunk(r, cause)
			delete(ts.regs, name)
		}
	}
}

// stopTrunks withdraws every registration; the server is closing.
func (s *Server) stopTrunks(cause string) {
	ts := &s.trunks
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.closed = true
	for name, r := range ts.regs {
		s.stopTrunk(r, cause)
		delete(ts.regs, name)
	}
}

// stopTrunk withdraws r in the background; Close waits for it, briefly.
func (s *Server) stopTrunk(r *trunkRegistration, cause string) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		r.stop(cause)
	}()
}

// trunkSocketReady reports whether requests to a carrier over transport
// can be sent: over UDP once sipgo reads from the UDP listener (they must
// leave from it), over TCP and TLS once the client exists.
func (s *Server) trunkSocketReady(transport string) bool {
	if transport == "UDP" {
		_, ok := s.listenerAddr("UDP")
		return ok
	}
	s.hostMu.Lock()
	defer s.hostMu.Unlock()
	return s.client() != nil
}
