// Package auth is the server side of SIP digest authentication (RFC 3261
// §22, RFC 7616 for qop=auth, RFC 8760 for SHA-256): it challenges requests,
// verifies their credentials and throttles sources that keep failing.
//
// The digest itself — algorithms, challenges, credentials, nonces and the
// nonce-count window — is runtime/digest's, shared with HTTP provisioning;
// this package adds SIP's framing (401 or 407, Authorization or
// Proxy-Authorization, 403 for a throttled source) and its policy. A
// request's nc must exceed the last one seen for its nonce (SIP requests on
// one nonce are sequential). A nonce that is too old, whose ring slot was
// reused, or that a previous process signed is stale; when the digest is
// otherwise right the client is told so (stale=true) and retries without
// asking its user.
//
// An unknown user and a wrong password get the same answer by the same
// path: a dummy password stands in for the missing one and the digest is
// computed all the same.
package auth

import (
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/ir"
	"switchboard/runtime/clock"
	"switchboard/runtime/digest"
	"switchboard/runtime/events"
	"switchboard/runtime/throttle"
)

// Secrets supplies digest passwords. It has the shape of the runtime's
// Secrets: SIPPassword returns the password of an IR account (ir.Account.Name,
// which is also the digest user name), ok=false for unknown accounts.
type Secrets interface {
	SIPPassword(account string) (password string, ok bool)
}

// Algorithm is a digest hash algorithm (digest.Algorithm).
type Algorithm = digest.Algorithm

const (
	SHA256 = digest.SHA256
	MD5    = digest.MD5
)

// Throttle limits authentication failures: a throttle.Guard, which says
// how the limits fit together. A source that reaches a limit within Window is
// refused with 403 Forbidden, without any digest being computed, until the
// window that started with its first failure ends. A zero limit is off.
type Throttle struct {
	// Failures is how many failures one source address may have for one
	// user name. Counting per user name keeps one misconfigured device from
	// locking out the others behind the same NAT.
	Failures int
	// SourceFailures is how many failures one source address may have
	// across all user names; it stops a scan of user names. It is a
	// ceiling well above Failures: the devices behind a NAT share it.
	SourceFailures int
	// PrefixFailures is how many failures the addresses of one /24 (IPv4)
	// or /64 (IPv6) may have together; a source that authenticated
	// successfully within the last two hours is exempt.
	PrefixFailures int
	// GlobalFailures is how many failures all sources may have together;
	// past it, until the window closes, only sources that authenticated
	// successfully within the last two hours are heard.
	GlobalFailures int
	// Window is the counting period.
	Window time.Duration
	// Tracked bounds each table of counts (0: 65 536 keys). A table that
	// overflows makes the server strict, like GlobalFailures.
	Tracked int
	// Events is how many authentication events are published per Window
	// (0: 100); the rest are counted in one events.Suppressed.
	Events int
}

// DefaultThrottle is the throttle of New.
var DefaultThrottle = Throttle{Failures: 10, SourceFailures: 200, PrefixFailures: 1000, GlobalFailures: 5000, Window: time.Minute}

const (
	// DefaultNonceLifetime is how long a nonce stays fresh.
	DefaultNonceLifetime = digest.DefaultLifetime
	// defaultEvents is how many events a Window publishes by default.
	defaultEvents = 100
)

// Authenticator challenges and verifies SIP requests for one realm. It is
// safe for concurrent use. Keep one for the life of the server (across
// reloads): a new one draws a new key, which makes every nonce stale.
type Authenticator struct {
	realm   string
	secrets Secrets
	clk     clock.Clock
	algs    []Algorithm
	nonceCf digest.Config
	limit   Throttle
	bus     *events.Bus
	sampler *events.Sampler
	program func() *ir.Program

	nonces *digest.Nonces
	dummy  string // the password of unknown users, so they cost the same

	guard *throttle.Guard
}

// Option configures an Authenticator.
type Option func(*Authenticator)

// WithAlgorithms sets the algorithms offered, one challenge each, in order
// of preference; the default is SHA-256 then MD5, as RFC 8760 asks. Clients
// that read only the first challenge and know only MD5 (SIPp before 3.7,
// PJSIP before 2.10) need MD5 first.
func WithAlgorithms(algs ...Algorithm) Option {
	return func(a *Authenticator) {
		a.algs = nil
		for _, alg := range algs {
			if alg == SHA256 || alg == MD5 {
				a.algs = append(a.algs, alg)
			}
		}
	}
}

// WithNonceLifetime sets how long a nonce stays fresh (default 5 minutes).
func WithNonceLifetime(d time.Duration) Option {
	return func(a *Authenticator) { a.nonceCf.Lifetime = d }
}

// WithNonceSlots sets the size of the nonce-count ring (default
// digest.DefaultSlots): a nonce becomes stale once n newer ones were issued.
func WithNonceSlots(n int) Option {
	return func(a *Authenticator) { a.nonceCf.Slots = n }
}

// WithThrottle sets the failure limits; a zero limit disables that check.
func WithThrottle(t Throttle) Option {
	return func(a *Authenticator) { a.limit = t }
}

// WithEvents publishes AuthFailed and Throttled events on bus. program
// returns the running program (it may change on reload); it names the
// origin of an event: the account's when the user name is one, else the
// site's.
func WithEvents(bus *events.Bus, program func() *ir.Program) Option {
	return func(a *Authenticator) { a.bus, a.program = bus, program }
}

// New returns an Authenticator for realm (the site domain) that reads
// passwords from secrets and time from clk.
func New(realm string, secrets Secrets, clk clock.Clock, opts ...Option) *Authenticator {
	a := &Authenticator{
		realm:   realm,
		secrets: secrets,
		clk:     clk,
		algs:    []Algorithm{SHA256, MD5},
		limit:   DefaultThrottle,
	}
	for _, o := range opts {
		o(a)
	}
	if len(a.algs) == 0 {
		a.algs = []Algorithm{SHA256, MD5}
	}
	// SIP requests on one nonce are sequential: counts strictly increase.
	a.nonceCf.Reorder = 0
	a.nonces = digest.NewNonces(a.nonceCf)
	a.dummy = digest.DummyPassword()
	a.guard = a.limit.guard()
	if a.limit.Events <= 0 {
		a.limit.Events = defaultEvents
	}
	window := a.limit.Window
	if window <= 0 {
		window = time.Minute
	}
	a.sampler = events.NewSampler(a.bus, a.limit.Events, window, clk)
	return a
}

// Realm returns the realm the Authenticator challenges for.
func (a *Authenticator) Realm() string { return a.realm }

// Check authenticates req, which arrived from source (host:port; empty for
// req.Source()). proxy selects Proxy-Authorization and 407 instead of
// Authorization and 401: a registrar challenges with 401, a proxy routing
// an INVITE with 407.
//
// It returns the authenticated account, or the response to send instead:
//
//   - 401/407 with a fresh challenge per algorithm when the request has no
//     credentials for this realm, or wrong ones (wrong password and unknown
//     user alike), or credentials of an algorithm not offered;
//   - the same with stale=true when the digest is right but its nonce is
//     expired, from another process or replayed (nc not increasing);
//   - 400 when the credentials cannot be parsed or their uri is not the
//     Request-URI;
//   - 403 Forbidden with Retry-After when the source is throttled.
func (a *Authenticator) Check(req *sip.Request, source string, proxy bool) (account string, res *sip.Response) {
	return a.CheckWith(a.secrets, req, source, proxy)
}

// CheckWith is Check with the passwords of secrets instead of the ones
// New was given. A reload's new passwords take effect with the rest of its
// configuration (package runtime/site reads one configuration per
// request), while the nonces, their counts and the throttles, which
// outlive reloads, stay shared.
func (a *Authenticator) CheckWith(secrets Secrets, req *sip.Request, source string, proxy bool) (account string, res *sip.Response) {
	now := a.clk.Now()
	if source == "" {
		source = req.Source()
	}
	host := hostOf(source)
	cred, res := a.screen(secrets, req, source, host, proxy, now)
	if res != nil {
		return "", res
	}
	nonce, _ := a.nonces.Open(cred.Nonce) // screen opened it
	nc := uint32(1)                       // without qop a nonce is good for one request
	if cred.QOP != "" {
		nc = cred.NCValue
	}
	if !a.nonces.Count(nonce, nc) {
		a.publish(events.Event{Kind: events.AuthFailed, Account: cred.Username, Source: source,
			Call: callID(req), Status: challengeStatus(proxy), Cause: "replayed nonce count"}, cred.Username)
		return "", a.challenge(req, proxy, true)
	}
	a.succeed(host, cred.Username, now)
	return cred.Username, nil
}

// Screen is ScreenWith with the passwords New was given.
func (a *Authenticator) Screen(req *sip.Request, source string, proxy bool) *sip.Response {
	return a.ScreenWith(a.secrets, req, source, proxy)
}

// ScreenWith is the part of CheckWith that spends nothing: it returns the
// response to req when it has no credentials, wrong ones, a stale nonce, or
// comes from a throttled source (counting the failure as CheckWith would),
// and nil when only the nonce count is left to check — when CheckWith would
// accept it unless it is a replay. A server answers what ScreenWith answers
// statelessly, before it keeps any transaction state for req.
func (a *Authenticator) ScreenWith(secrets Secrets, req *sip.Request, source string, proxy bool) *sip.Response {
	now := a.clk.Now()
	if source == "" {
		source = req.Source()
	}
	_, res := a.screen(secrets, req, source, hostOf(source), proxy, now)
	return res
}

// screen checks everything of req but its nonce count; it returns its
// credentials, or the response instead.
func (a *Authenticator) screen(secrets Secrets, req *sip.Request, source, host string, proxy bool, now time.Time) (digest.Credentials, *sip.Response) {
	cred, found, malformed := a.credentials(req, proxy)
	if malformed {
		return cred, a.reply(req, sip.StatusBadRequest, "Malformed Credentials")
	}
	if !found {
		if wait, ok := a.throttled(host, "", now); ok {
			return cred, a.refuse(req, wait)
		}
		return cred, a.challenge(req, proxy, false)
	}
	if wait, ok := a.throttled(host, cred.Username, now); ok {
		return cred, a.refuse(req, wait)
	}

	alg := digest.ParseAlgorithm(cred.Algorithm)
	if !digest.Offers(a.algs, alg) || (cred.QOP != "" && cred.QOP != "auth") || (cred.QOP == "auth" && (cred.NCValue == 0 || cred.Cnonce == "")) {
		// Not an answer to any challenge of ours; ask again.
		return cred, a.challenge(req, proxy, false)
	}

	password, known := secrets.SIPPassword(cred.Username)
	if !known {
		password = a.dummy
	}
	good := digest.Verify(alg, &cred, a.realm, string(req.Method), password)
	if !good || !known {
		cause := "wrong password"
		if !known {
			cause = "unknown user"
		}
		a.fail(req, source, host, cred.Username, cause, proxy, now)
		return cred, a.challenge(req, proxy, false)
	}

	// A nonce another process signed (a restart) is stale, like an old
	// one: the password was right, so the client retries on its own.
	nonce, ok := a.nonces.Open(cred.Nonce)
	if !ok || !a.nonces.Fresh(nonce, now) {
		return cred, a.challenge(req, proxy, true)
	}
	if !sameResource(cred.URI, &req.Recipient) {
		return cred, a.reply(req, sip.StatusBadRequest, "Credentials For Another URI")
	}
	return cred, nil
}

// credentials returns the first digest credentials of req for this realm;
// malformed reports one that could not be parsed. Credentials for other
// realms are some other server's business and are ignored.
func (a *Authenticator) credentials(req *sip.Request, proxy bool) (cred digest.Credentials, found, malformed bool) {
	name := "Authorization"
	if proxy {
		name = "Proxy-Authorization"
	}
	// One pass with EqualFold: sipgo's GetHeaders lower-cases (allocating)
	// the name of every header it passes.
	for _, h := range req.Headers() {
		if !strings.EqualFold(h.Name(), name) {
			continue
		}
		v := h.Value()
		if len(v) < 6 || !strings.EqualFold(v[:6], "Digest") {
			continue
		}
		c, err := digest.ParseCredentials(v)
		if err != nil {
			malformed = true
			continue
		}
		if c.Realm != a.realm {
			continue
		}
		return c, true, false
	}
	return digest.Credentials{}, false, malformed
}

func challengeStatus(proxy bool) int {
	if proxy {
		return sip.StatusProxyAuthRequired
	}
	return sip.StatusUnauthorized
}

// challenge builds a 401 (407 for a proxy) with one challenge per
// algorithm, all with the same nonce.
func (a *Authenticator) challenge(req *sip.Request, proxy, stale bool) *sip.Response {
	res := sip.NewResponseFromRequest(req, sip.StatusUnauthorized, "Unauthorized", nil)
	name := "WWW-Authenticate"
	if proxy {
		res = sip.NewResponseFromRequest(req, sip.StatusProxyAuthRequired, "Proxy Authentication Required", nil)
		name = "Proxy-Authenticate"
	}
	nonce := a.nonces.Issue(a.clk.Now())
	for _, alg := range a.algs {
		res.AppendHeader(sip.NewHeader(name, digest.Challenge(a.realm, nonce, alg, stale)))
	}
	return res
}

func (a *Authenticator) reply(req *sip.Request, code int, reason string) *sip.Response {
	return sip.NewResponseFromRequest(req, code, reason, nil)
}

// refuse answers a throttled source: 403 Forbidden, because authorization
// will not help (RFC 3261 §21.4.4) and the client should stop rather than
// guess again, with Retry-After for the end of the window. Not 503, which
// tells a client the server is overloaded and sends it to another server
// (RFC 3263), nor 429, which SIP does not define.
func (a *Authenticator) refuse(req *sip.Request, wait time.Duration) *sip.Response {
	res := sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden", nil)
	secs := int((wait + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	res.AppendHeader(sip.NewHeader("Retry-After", strconv.Itoa(secs)))
	return res
}

// sameResource reports whether the digest uri names the Request-URI
// (RFC 7616 §3.4.6). The comparison is of scheme, user, host and port only:
// clients differ in whether they copy URI parameters (sipgo's client drops
// them) and an absent port matches any.
func sameResource(uri string, ruri *sip.Uri) bool {
	var u sip.Uri
	if err := sip.ParseUri(uri, &u); err != nil {
		return false
	}
	scheme := func(s string) string {
		if s == "" {
			return "sip"
		}
		return strings.ToLower(s)
	}
	if scheme(u.Scheme) != scheme(ruri.Scheme) || u.User != ruri.User || !strings.EqualFold(u.Host, ruri.Host) {
		return false
	}
	return u.Port == ruri.Port || u.Port == 0 || ruri.Port == 0
}

func hostOf(source string) string {
	if h, _, err := net.SplitHostPort(source); err == nil {
		return h
	}
	return source
}

func callID(req *sip.Request) string {
	if h := req.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

// publish stamps e with the origin of account (or the site) and sends it
// through the sampler: a flood of failures reports the first
// Throttle.Events of each window and counts the rest.
func (a *Authenticator) publish(e events.Event, account string) {
	if a.bus == nil {
		return
	}
	if a.program != nil {
		if p := a.program(); p != nil {
			e.Origin = p.Site.Origin
			if acct := p.Account(account); account != "" && acct != nil {
				e.Origin = acct.Origin
			}
		}
	}
	a.sampler.Publish(e)
}
