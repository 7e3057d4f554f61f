package probe

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/ir"
)

// publicNumber is what the toll-fraud check dials: in the United
// Kingdom's range for drama (Ofcom), never assigned to anyone, so a server
// that wrongly lets a call out rings no one.
const publicNumber = "+447700900999"

// timingFloor is the least difference of medians the enumeration check
// calls a difference.
const timingFloor = 10 * time.Millisecond

// noTarget is the reason a SIP check is skipped without -target.
const noTarget = "no SIP address to probe"

func (p *prober) dial() (*sipConn, error) {
	return dialSIP(p.t.SIP.String(), p.site.Program.Site.Domain)
}

func (p *prober) registerURI() string { return "sip:" + p.site.Program.Site.Domain }

func (p *prober) callURI(number string) string {
	return "sip:" + number + "@" + p.site.Program.Site.Domain
}

// sipAccounts are the accounts a device or app logs in with, sorted by
// name (trunks are the carriers').
func (p *prober) sipAccounts() []ir.Account {
	var out []ir.Account
	for _, a := range p.site.Program.Accounts {
		if a.Kind != ir.AccountTrunk {
			out = append(out, a)
		}
	}
	return out
}

var (
	secretParams = regexp.MustCompile(`(?i)\b(nonce|opaque|cnonce|tag|branch|received|rport)=("[^"]*"|[^;,\s]*)`)
	toUser       = regexp.MustCompile(`sip:[^@>;]*@`)
	perMessage   = map[string]bool{"via": true, "call-id": true, "cseq": true, "from": true, "contact": true, "date": true, "timestamp": true}
)

// shape is a response with what differs between any two of them taken
// out (tags, nonces, the echoed Via, From, Call-ID and CSeq): two
// responses with the same shape tell an attacker nothing apart.
func shape(res *sip.Response) string {
	if res == nil {
		return "no answer"
	}
	var lines []string
	for _, h := range res.Headers() {
		name := strings.ToLower(h.Name())
		if perMessage[name] {
			lines = append(lines, name)
			continue
		}
		v := secretParams.ReplaceAllString(h.Value(), "$1=…")
		if name == "to" {
			// The echo of the user asked about: the same for both.
			v = toUser.ReplaceAllString(v, "sip:…@")
		}
		lines = append(lines, name+": "+v)
	}
	sort.Strings(lines)
	return fmt.Sprintf("%d %s | %s | body %d bytes", res.StatusCode, res.Reason, strings.Join(lines, " | "), len(res.Body()))
}

// enumeration compares what an existing and a made-up user get: for
// REGISTER without credentials and with a wrong password, and for INVITE
// with a wrong password. The answers must have the same shape and the
// wrong-password REGISTERs comparable timing (medians of l.Samples each).
func (p *prober) enumeration(ctx context.Context) Result {
	if !p.t.SIP.IsValid() {
		return skip(noTarget)
	}
	accts := p.sipAccounts()
	if len(accts) == 0 {
		return skip("the site has no SIP accounts")
	}
	known := accts[0]
	unknown := "probe-nobody-" + token(3)
	c, err := p.dial()
	if err != nil {
		return errResult("socket", err)
	}
	defer c.Close()

	var ev []string
	failed := false
	compare := func(what string, a, b *sip.Response) {
		sa, sb := shape(a), shape(b)
		if sa != sb {
			failed = true
			ev = append(ev, fmt.Sprintf("%s: existing %s answered %q, made-up user %q", what, known.Name, sa, sb))
			return
		}
		ev = append(ev, fmt.Sprintf("%s: both answered %s", what, status(a)))
	}
	times := map[bool][]time.Duration{}
	var first [2][2]*sip.Response // [existing, made-up][challenge, wrong password]
	for i := 0; i < p.l.Samples && ctx.Err() == nil; i++ {
		for side, user := range []string{known.Username, unknown} {
			authName := user
			if side == 0 {
				authName = known.AuthName
			}
			r := newRequest("REGISTER", p.registerURI(), user, user)
			res, _, err := c.final(r, p.l.Timeout)
			if err != nil {
				return errResult("REGISTER", err)
			}
			if res == nil || (res.StatusCode != 401 && res.StatusCode != 407) {
				failed = true
				ev = append(ev, fmt.Sprintf("REGISTER without credentials for %s: %s, want a challenge", user, status(res)))
				break
			}
			n := r.next()
			if err := authorize(n, res, authName, "probe-wrong-"+token(4)); err != nil {
				return errResult("challenge", err)
			}
			wrong, d, err := c.final(n, p.l.Timeout)
			if err != nil {
				return errResult("REGISTER", err)
			}
			if i == 0 {
				first[side] = [2]*sip.Response{res, wrong}
			}
			if wrong != nil {
				times[side == 0] = append(times[side == 0], d)
			}
		}
	}
	compare("REGISTER without credentials", first[0][0], first[1][0])
	compare("REGISTER with a wrong password", first[0][1], first[1][1])

	// INVITE from each, with a wrong password, to an extension.
	to := p.someExtension()
	var inv [2]*sip.Response
	for side, user := range []string{known.Username, unknown} {
		authName := user
		if side == 0 {
			authName = known.AuthName
		}
		r := newRequest("INVITE", p.callURI(to), user, to)
		r.body = sdpOffer(c.local().IP.String(), 9)
		res, _, err := c.final(r, p.l.Timeout)
		if err != nil {
			return errResult("INVITE", err)
		}
		if res == nil || (res.StatusCode != 401 && res.StatusCode != 407) {
			inv[side] = res
			continue
		}
		n := r.next()
		n.body = r.body
		if err := authorize(n, res, authName, "probe-wrong-"+token(4)); err != nil {
			return errResult("challenge", err)
		}
		inv[side], _, err = c.final(n, p.l.Timeout)
		if err != nil {
			return errResult("INVITE", err)
		}
		if inv[side] != nil && inv[side].StatusCode < 200 {
			c.cancel(n)
		}
	}
	compare("INVITE to "+to+" with a wrong password", inv[0], inv[1])

	mk, mu := median(times[true]), median(times[false])
	line := fmt.Sprintf("timing of a wrong-password REGISTER, median of %d: existing %s, made-up %s", len(times[true]), mk, mu)
	lo, hi := min(mk, mu), max(mk, mu)
	// Generous on purpose: a few samples on a shared machine measure
	// gross differences (a lookup, a delay), not a hash's microseconds.
	if hi-lo > timingFloor && float64(hi) > p.l.TimingSpread*float64(max(lo, time.Microsecond)) {
		failed = true
		line += fmt.Sprintf(" (more than %g× apart)", p.l.TimingSpread)
	}
	ev = append(ev, line)
	return result(failed, "an existing and a made-up user get the same answers in comparable time",
		"an existing user can be told from a made-up one", ev)
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// someExtension is the first user's extension, else the first internal
// number, else "100".
func (p *prober) someExtension() string {
	for _, u := range p.site.Program.Users {
		if u.Extension != "" {
			return u.Extension
		}
	}
	if len(p.site.Program.Numbers) > 0 {
		return p.site.Program.Numbers[0].Number
	}
	return "100"
}

// cancel cancels INVITE r (same branch, RFC 3261 §9.1) and takes the
// answers, so a call the server wrongly let through rings no longer.
func (c *sipConn) cancel(r *request) {
	x := *r
	x.method, x.body, x.extra = "CANCEL", "", nil
	_ = c.send(&x)
	deadline := time.Now().Add(time.Second)
	for {
		res, err := c.read(r.callID, deadline)
		if err != nil || res == nil {
			return
		}
		if res.CSeq() != nil && res.CSeq().MethodName == sip.INVITE && res.StatusCode >= 300 {
			c.ack(r, res)
			return
		}
		if res.StatusCode >= 200 && res.StatusCode < 300 && res.CSeq() != nil && res.CSeq().MethodName == sip.INVITE {
			c.bye(r, res)
			return
		}
	}
}

// ack2xx acknowledges a 2xx answer to INVITE r (a new transaction, RFC
// 3261 §13.2.2.4) and returns the dialog's request for what follows.
func (c *sipConn) ack2xx(r *request, res *sip.Response) *request {
	a := *r
	a.method, a.body, a.extra, a.branch = "ACK", "", nil, "z9hG4bK"+token(8)
	if to := res.To(); to != nil {
		a.toTag, _ = to.Params.Get("tag")
	}
	_ = c.send(&a)
	return &a
}

// hangup sends BYE in the dialog of an acknowledged call.
func (c *sipConn) hangup(acked *request) {
	b := *acked
	b.method, b.branch = "BYE", "z9hG4bK"+token(8)
	b.cseq++
	_, _, _ = c.final(&b, time.Second)
}

// bye ends a call the server answered with res.
func (c *sipConn) bye(r *request, res *sip.Response) { c.hangup(c.ack2xx(r, res)) }

// sdpOffer is a minimal G.711 offer with media at ip:port.
func sdpOffer(ip string, port int) string {
	return fmt.Sprintf("v=0\r\no=probe 1 1 IN IP4 %s\r\ns=probe\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n", ip, ip, port)
}

// unauthInvite sends INVITEs without credentials to an extension, a
// public number and an emergency number, never ACKs the answers, and
// counts what comes back within l.Retransmit: one challenge each, nothing
// that rings. More than one challenge is amplification towards an address
// anyone can forge.
func (p *prober) unauthInvite(ctx context.Context) Result {
	if !p.t.SIP.IsValid() {
		return skip(noTarget)
	}
	targets := []string{p.someExtension(), publicNumber}
	var ev []string
	if len(p.site.Program.Trunks) > 0 {
		ev = append(ev, "emergency number not dialled: the site has a trunk, and a server that let the call through would reach the emergency services")
	} else if len(p.site.Program.Site.Emergency) > 0 {
		targets = append(targets, p.site.Program.Site.Emergency[0])
	}
	from := "probe-" + token(3)
	if a := p.sipAccounts(); len(a) > 0 {
		from = a[0].Username // an attacker forges a real account's name
	}
	type outcome struct {
		to         string
		challenges int
		bytes      int
		other      []string
		err        error
	}
	results := make([]outcome, len(targets))
	done := make(chan struct{})
	for i, to := range targets {
		go func() {
			defer func() { done <- struct{}{} }()
			o := &results[i]
			o.to = to
			c, err := p.dial()
			if err != nil {
				o.err = err
				return
			}
			defer c.Close()
			r := newRequest("INVITE", p.callURI(to), from, to)
			r.body = sdpOffer(c.local().IP.String(), 9)
			if err := c.send(r); err != nil {
				o.err = err
				return
			}
			deadline := time.Now().Add(p.l.Retransmit)
			for {
				res, err := c.read(r.callID, deadline)
				if err != nil {
					o.err = err
					return
				}
				if res == nil {
					return
				}
				switch {
				case res.StatusCode == 401 || res.StatusCode == 407:
					o.challenges++
					o.bytes += len(res.String())
				case res.StatusCode == 100:
				default:
					o.other = append(o.other, status(res))
					if res.StatusCode < 300 {
						c.cancel(r)
						return
					}
				}
			}
		}()
	}
	for range targets {
		<-done
	}
	failed := false
	for _, o := range results {
		line := fmt.Sprintf("INVITE to %s without credentials: %d challenge(s), %d bytes, in %s", o.to, o.challenges, o.bytes, p.l.Retransmit)
		switch {
		case o.err != nil:
			failed = true
			line += fmt.Sprintf("; error: %v", o.err)
		case len(o.other) > 0:
			failed = true
			line += "; also " + strings.Join(o.other, ", ")
		case o.challenges != 1:
			failed = true
			line += ", want exactly 1"
		}
		ev = append(ev, line)
	}
	return result(failed, "each unauthenticated INVITE got one challenge and nothing else",
		"an unauthenticated INVITE got more than one challenge, or got further", ev)
}

// tollFraud places calls to a public number with each kind of account's
// real credentials. Door stations must be refused (403/404); so must
// everyone on a site without a trunk; no refusal may say why (Warning). On a site with a trunk, the users'
// calls would be real calls out, so the probe does not place them.
func (p *prober) tollFraud(ctx context.Context) Result {
	if !p.t.SIP.IsValid() {
		return skip(noTarget)
	}
	c, err := p.dial()
	if err != nil {
		return errResult("socket", err)
	}
	defer c.Close()
	byKind := p.accountsByKind()
	var ev []string
	failed := false
	trunked := len(p.site.Program.Trunks) > 0
	for _, kind := range []string{string(ir.DoorStation), string(ir.Monitor), string(ir.Phone), "app"} {
		accts := byKind[kind]
		if len(accts) == 0 {
			ev = append(ev, fmt.Sprintf("%s: the site has none", kind))
			continue
		}
		door := kind == string(ir.DoorStation)
		if !door && trunked {
			ev = append(ev, fmt.Sprintf("%s: skipped: the site has a trunk, so a call out would be a real call over the carrier", kind))
			continue
		}
		numbers := []string{publicNumber}
		if door && !trunked && len(p.site.Program.Site.Emergency) > 0 {
			numbers = append(numbers, p.site.Program.Site.Emergency[0])
		}
		a := accts[0]
		pw, ok := p.site.Password(a.Name)
		if !ok {
			ev = append(ev, fmt.Sprintf("%s %s: no password known", kind, a.Name))
			continue
		}
		for _, n := range numbers {
			r := newRequest("INVITE", p.callURI(n), a.Username, n)
			r.body = sdpOffer(c.local().IP.String(), 9)
			res, last, err := c.authenticated(r, a.AuthName, pw, p.l.Timeout)
			if err != nil {
				return errResult(a.Name, err)
			}
			line := fmt.Sprintf("%s %s → %s: %s", kind, a.Name, n, status(res))
			if ws := res.GetHeaders("Warning"); len(ws) > 0 {
				// Why a call was refused is for the site's own log: to
				// whoever holds a device's password it maps the site's
				// rules (which entries a door station has, which trunks).
				failed = true
				for _, w := range ws {
					line += fmt.Sprintf(" (Warning: %s)", w.Value())
				}
				line += ", want no refusal reason"
			}
			switch {
			case res.StatusCode < 300:
				failed = true
				line += ", want a refusal"
				c.cancel(last)
			case res.StatusCode == 401 || res.StatusCode == 407:
				failed = true
				line += " (the account's own password was refused)"
			case door && res.StatusCode != 403 && res.StatusCode != 404:
				failed = true
				line += ", want 403 or 404"
			}
			ev = append(ev, line)
		}
	}
	return result(failed, "no account got a call out that the site does not allow, nor a reason",
		"an account got further towards a public number than the site allows, or was told why not", ev)
}

// bruteForce guesses one account's password l.Guesses times from the
// probe's address and expects the server to start refusing (403, or any
// answer but another challenge) before the last guess.
func (p *prober) bruteForce(ctx context.Context) Result {
	if !p.t.SIP.IsValid() {
		return skip(noTarget)
	}
	accts := p.sipAccounts()
	if len(accts) == 0 {
		return skip("the site has no SIP accounts")
	}
	a := accts[len(accts)-1] // not the one the enumeration check tried
	c, err := p.dial()
	if err != nil {
		return errResult("socket", err)
	}
	defer c.Close()
	counts := map[string]int{}
	for i := 1; i <= p.l.Guesses && ctx.Err() == nil; i++ {
		r := newRequest("REGISTER", p.registerURI(), a.Username, a.Username)
		res, _, err := c.final(r, p.l.Timeout)
		if err != nil {
			return errResult("REGISTER", err)
		}
		if res != nil && (res.StatusCode == 401 || res.StatusCode == 407) {
			n := r.next()
			if err := authorize(n, res, a.AuthName, fmt.Sprintf("probe-guess-%d-%s", i, token(3))); err != nil {
				return errResult("challenge", err)
			}
			res, _, err = c.final(n, p.l.Timeout)
			if err != nil {
				return errResult("REGISTER", err)
			}
		}
		counts[status(res)]++
		if res == nil || res.StatusCode != 401 && res.StatusCode != 407 {
			return Result{Status: Pass, Summary: fmt.Sprintf("guessing stopped after %d wrong password(s)", i-1),
				Evidence: []string{
					fmt.Sprintf("%s: guess %d answered %s; the probe's address is now throttled for this account", a.Name, i, status(res)),
					"(the enumeration check's wrong passwords for another account came from this address too; they count only towards a limit per address)",
				}}
		}
	}
	return Result{Status: Fail, Summary: fmt.Sprintf("%d wrong passwords for one account, none refused", p.l.Guesses),
		Evidence: []string{fmt.Sprintf("%s: %d guesses answered %v", a.Name, p.l.Guesses, counts)}}
}
