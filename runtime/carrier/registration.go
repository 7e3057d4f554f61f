package carrier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/ir"
	"switchboard/runtime/clock"
	"switchboard/runtime/events"
	"switchboard/runtime/sipdns"
)

// Stack is what registrations need of the SIP server they register: the
// small contract between carrier registration and the call core.
type Stack interface {
	// Send sends req, a request to a carrier, from the socket the carrier
	// must answer to, and returns its final response.
	Send(ctx context.Context, req *sip.Request) (*sip.Response, error)
	// Contact is the server's address for a carrier at remote reaching
	// it over transport, with user as its user part.
	Contact(user, transport, remote string) sip.Uri
	// Ready reports whether requests over transport can be sent yet.
	Ready(transport string) bool
}

// Config is what a Set works with.
type Config struct {
	Stack   Stack
	Clock   clock.Clock
	Logger  *slog.Logger
	Publish func(events.Event)
	// Go runs an un-REGISTER on a goroutine the server's Close waits for,
	// with its hang-ups; nil: a plain goroutine.
	Go func(func())
	// Locator finds the carrier's servers (package sipdns); nil: the
	// system's DNS.
	Locator sipdns.Locator
}

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
	set     *Set
	trunk   ir.Trunk
	cred    Credentials
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

	// last is the carrier server that last answered (RFC 3263 §4.3):
	// refreshes and the un-REGISTER go to it first, where the binding is.
	last string

	mu         sync.Mutex
	registered bool      // the carrier holds our binding
	origin     ir.Origin // the trunk block now, which a reload may move
}

func (ts *Set) newTrunkRegistration(t ir.Trunk, cred Credentials) *trunkRegistration {
	ctx, cancel := context.WithCancel(context.Background())
	return &trunkRegistration{
		set: ts, trunk: t, cred: cred, account: ir.AccountName(ir.AccountTrunk, t.Name),
		callID: sip.GenerateTagN(24), fromTag: sip.GenerateTagN(16), expires: trunkExpires,
		ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1), done: make(chan struct{}), origin: t.Origin,
	}
}

// same reports whether r already registers what t and cred describe, so a
// reload that did not touch the trunk leaves its registration alone.
func (r *trunkRegistration) same(t *ir.Trunk, cred Credentials) bool {
	a := r.trunk
	return a.Host == t.Host && a.Port == t.Port && Transport(&a) == Transport(t) && r.cred == cred
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
		t := r.set.cfg.Clock.AfterFunc(wait, func() {
			select {
			case r.wake <- struct{}{}:
			default:
			}
		})
		r.setRegistered(err == nil)
		if err != nil {
			r.set.cfg.Logger.Warn("trunk registration failed", "trunk", r.trunk.Name, "carrier", HostPort(&r.trunk), "error", err, "retry", wait)
			r.publish(events.Event{Kind: events.TrunkRegistrationFailed, Status: statusOf(err),
				Cause: fmt.Sprintf("%v; retrying in %s", err, wait)})
		} else {
			r.set.cfg.Logger.Info("trunk registered", "trunk", r.trunk.Name, "carrier", HostPort(&r.trunk), "expires", granted)
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
		r.set.cfg.Logger.Warn("trunk un-registration failed", "trunk", r.trunk.Name, "error", err)
		cause += fmt.Sprintf(" (the carrier did not confirm: %v)", err)
	}
	r.publish(events.Event{Kind: events.TrunkUnregistered, Cause: cause})
}

func (r *trunkRegistration) publish(e events.Event) {
	r.mu.Lock()
	e.Account, e.Origin = r.account, r.origin
	r.mu.Unlock()
	r.set.cfg.Publish(e)
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

// register registers at the carrier's servers in the order DNS gives
// them (package sipdns), the one that last answered first, trying the
// next when one does not answer or answers 503 (RFC 3263 §4.3). It
// returns the time the carrier granted.
func (r *trunkRegistration) register(ctx context.Context, expires time.Duration) (time.Duration, error) {
	dests, err := Servers(ctx, r.set.locator(), &r.trunk)
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("cannot locate carrier %s: %w", HostPort(&r.trunk), err)
	}
	if i := slices.Index(dests, r.last); i > 0 {
		dests = slices.Insert(slices.Delete(slices.Clone(dests), i, i+1), 0, r.last)
	}
	for i, dest := range dests {
		granted, err := r.registerAt(ctx, expires, dest, i < len(dests)-1)
		if err == nil || !tryNext(err) || i == len(dests)-1 || ctx.Err() != nil {
			if err == nil || !tryNext(err) {
				r.last = dest
			}
			return granted, err
		}
		r.set.cfg.Logger.Warn("carrier server failed; trying the next", "trunk", r.trunk.Name, "server", dest, "error", err, "next", dests[i+1])
	}
	return 0, fmt.Errorf("carrier %s: no server to register at", HostPort(&r.trunk))
}

// errNoAnswer is a server that sent nothing within TryNext.
var errNoAnswer = errors.New("no response")

// tryNext reports whether err means the server failed, and the next one
// should be tried (RFC 3263 §4.3: a transaction timeout, a transport
// error, or 503).
func tryNext(err error) bool {
	var re *registerError
	if errors.As(err, &re) {
		return re.status == sip.StatusServiceUnavailable
	}
	return true
}

// registerAt sends one REGISTER to dest (expires 0 withdraws the binding)
// and answers the carrier's challenges — once, and once more when the
// carrier says the nonce went stale — and a 423 Interval Too Brief. With
// more servers to try, a server that sends nothing for TryNext is given
// up.
func (r *trunkRegistration) registerAt(ctx context.Context, expires time.Duration, dest string, more bool) (time.Duration, error) {
	var challenge *sip.Response
	answered, raised := 0, false
	for {
		req := r.request(expires, dest)
		if challenge != nil {
			if err := Authorize(req, challenge, r.cred); err != nil {
				return 0, &registerError{status: challenge.StatusCode, reason: challenge.Reason, why: err.Error()}
			}
		}
		res, err := r.send(ctx, req, more)
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			return 0, fmt.Errorf("no answer from %s (%s): %w", HostPort(&r.trunk), dest, err)
		}
		switch {
		case IsChallenge(res):
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

// send sends req; with more servers to try, it gives up when no response
// comes within TryNext on the runtime clock.
func (r *trunkRegistration) send(ctx context.Context, req *sip.Request, more bool) (*sip.Response, error) {
	if !more {
		return r.set.cfg.Stack.Send(ctx, req)
	}
	tctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	t := r.set.cfg.Clock.AfterFunc(TryNext, func() { cancel(errNoAnswer) })
	defer t.Stop()
	res, err := r.set.cfg.Stack.Send(tctx, req)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(tctx), errNoAnswer) {
		return nil, fmt.Errorf("%w within %s", errNoAnswer, TryNext)
	}
	return res, err
}

// contact is the address the carrier sends our calls to, as the server
// at dest sees us.
func (r *trunkRegistration) contact(dest string) sip.Uri {
	return r.set.cfg.Stack.Contact(r.cred.username, Transport(&r.trunk), dest)
}

// request builds the next REGISTER of the registration, to dest.
func (r *trunkRegistration) request(expires time.Duration, dest string) *sip.Request {
	t := &r.trunk
	ruri := URI(t, "")
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
	req.AppendHeader(&sip.ContactHeader{Address: r.contact(dest)})
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	req.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS"))
	req.SetDestination(dest)
	req.SetTransport(Transport(t))
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

// Set is the server's registrations at its carriers, one per trunk with
// credentials, kept in step with the running program.
type Set struct {
	cfg      Config
	mu       sync.Mutex
	regs     map[string]*trunkRegistration // by trunk name
	reported map[string]string             // trunk → the credential problem already reported
	closed   bool
}

// NewSet returns a Set with no registrations; Sync starts them.
func NewSet(cfg Config) *Set {
	if cfg.Locator == nil {
		cfg.Locator = sipdns.New(sipdns.Config{Clock: cfg.Clock})
	}
	return &Set{cfg: cfg}
}

func (ts *Set) locator() sipdns.Locator { return ts.cfg.Locator }

// Sync makes the registrations match p, with the credentials' values from
// secrets: a trunk with credentials registers once the socket its
// transport leaves from is ready; a reload that changes a trunk's address
// or credentials, or removes it, withdraws the old registration first.
// Trunks without credentials are IP-authenticated and never register.
func (ts *Set) Sync(p *ir.Program, secrets TrunkSecrets) {
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
		cred, ok, err := Resolve(t, secrets)
		if err != nil {
			if ts.reported[t.Name] != err.Error() {
				ts.reported[t.Name] = err.Error()
				ts.cfg.Logger.Error("trunk not registered", "trunk", t.Name, "error", err)
				ts.cfg.Publish(events.Event{Kind: events.TrunkRegistrationFailed, Account: ir.AccountName(ir.AccountTrunk, t.Name),
					Cause: "not registered: " + err.Error(), Origin: t.Origin})
			}
			continue
		}
		delete(ts.reported, t.Name)
		if !ok || !ts.cfg.Stack.Ready(Transport(t)) {
			continue
		}
		if r := ts.regs[t.Name]; r != nil {
			if r.same(t, cred) {
				keep[t.Name] = true
				r.setOrigin(t.Origin)
				continue
			}
			ts.stop(r, "trunk changed in the configuration")
			delete(ts.regs, t.Name)
		}
		keep[t.Name] = true
		r := ts.newTrunkRegistration(*t, cred)
		ts.regs[t.Name] = r
		go r.run()
	}
	for name, r := range ts.regs {
		if !keep[name] {
			cause := "trunk removed from the configuration"
			if p.Trunk(name) != nil {
				cause = "trunk changed in the configuration"
			}
			ts.stop(r, cause)
			delete(ts.regs, name)
		}
	}
}

// Stop withdraws every registration, for good: the server is closing.
func (ts *Set) Stop(cause string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.closed = true
	for name, r := range ts.regs {
		ts.stop(r, cause)
		delete(ts.regs, name)
	}
}

// stop withdraws r in the background, on cfg.Go.
func (ts *Set) stop(r *trunkRegistration, cause string) {
	run := ts.cfg.Go
	if run == nil {
		run = func(f func()) { go f() }
	}
	run(func() { r.stop(cause) })
}

// Registered reports, by trunk name, whether each registration's carrier
// holds our binding.
func (ts *Set) Registered() map[string]bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	out := make(map[string]bool, len(ts.regs))
	for name, r := range ts.regs {
		r.mu.Lock()
		out[name] = r.registered
		r.mu.Unlock()
	}
	return out
}
