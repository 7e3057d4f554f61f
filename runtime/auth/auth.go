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
	"context"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
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
//
// A Secrets that is also an Offers says which algorithms each user name is
// offered, from the same configuration as its passwords; one that is not
// takes them from the program WithEvents gave, else MD5 alone.
type Secrets interface {
	SIPPassword(account string) (password string, ok bool)
}

// Offers says which digest algorithms a user name is offered, in order:
// what its client answers (ir.Program.DigestOf). A name that is no
// account must get what an account whose client is unknown gets, so a
// challenge does not tell which names exist.
type Offers interface {
	DigestAlgorithms(user string) []Algorithm
}

// Algorithms converts the IR's algorithm names (ir.Program.DigestOf) for
// Offers, dropping any it does not implement; MD5 when none is left. The
// result is shared: callers must not change it. The lists sites use are
// made once, so that a challenge costs no allocation for them.
func Algorithms(names []string) []Algorithm {
	for _, common := range commonLists {
		if slices.Equal(names, common.names) {
			return common.algs
		}
	}
	out := make([]Algorithm, 0, len(names))
	for _, n := range names {
		if alg := digest.ParseAlgorithm(n); alg != "" && n != "" && !digest.Offers(out, alg) {
			out = append(out, alg)
		}
	}
	if len(out) == 0 {
		return md5Only
	}
	return out
}

var md5Only = []Algorithm{MD5}

var commonLists = []struct {
	names []string
	algs  []Algorithm
}{
	{[]string{string(MD5)}, md5Only},
	{[]string{string(SHA256), string(MD5)}, []Algorithm{SHA256, MD5}},
	{[]string{string(SHA256)}, []Algorithm{SHA256}},
	{[]string{string(MD5), string(SHA256)}, []Algorithm{MD5, SHA256}},
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
	log     *slog.Logger // nil: failures are not logged

	// servers are the addresses the server listens on (host:port), which
	// a digest uri may name instead of the Request-URI.
	servers atomic.Pointer[[]string]

	nonces *digest.Nonces
	dummy  string // the password of unknown users, so they cost the same

	guard *throttle.Guard
}

// Option configures an Authenticator.
type Option func(*Authenticator)

// WithAlgorithms sets the algorithms offered to every user name, one
// challenge each, in order of preference, overriding what each account's
// client answers (Offers): `serve -digest`. Clients that read only the
// first challenge and know only MD5 (SIPp before 3.7, PJSIP before 2.10)
// need MD5 first; baresip 1.0 gives up at the first challenge that is not
// MD5, wherever it is.
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

// WithLogger logs why each authentication failed (unknown user, wrong
// password, stale nonce, wrong realm, uri mismatch, algorithm not
// offered), never a password or a response, to l. The caller bounds it
// (package loglimit): the failures are the network's to make.
func WithLogger(l *slog.Logger) Option {
	return func(a *Authenticator) { a.log = l }
}

// New returns an Authenticator for realm (the site domain) that reads
// passwords from secrets and time from clk.
func New(realm string, secrets Secrets, clk clock.Clock, opts ...Option) *Authenticator {
	a := &Authenticator{
		realm:   realm,
		secrets: secrets,
		clk:     clk,
		limit:   DefaultThrottle,
	}
	for _, o := range opts {
		o(a)
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
//   - 401/407 with a fresh challenge per algorithm offered to the user
//     name (Offers; -digest's WithAlgorithms) when the request has no
//     credentials for this realm, or wrong ones (wrong password and unknown
//     user alike), or credentials of an algorithm not offered;
//   - the same with stale=true when the digest is right but its nonce is
//     expired, from another process or replayed (nc not increasing);
//   - 400 when the credentials cannot be parsed or their uri names
//     neither the Request-URI nor this server (its domain or a listening
//     address, AddServerAddress);
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
		a.logFailure(slog.LevelInfo, "replayed nonce count", req, source, cred.Username)
		return "", a.challenge(req, proxy, true, a.offered(secrets, cred.Username))
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
	cred, found, malformed, otherRealm := a.credentials(req, proxy)
	if malformed {
		a.logFailure(slog.LevelWarn, "malformed credentials", req, source, "")
		return cred, a.reply(req, sip.StatusBadRequest, "Malformed Credentials")
	}
	if !found {
		if wait, ok := a.throttled(host, "", now); ok {
			return cred, a.refuse(req, wait)
		}
		user := challengedUser(req)
		if otherRealm != "" {
			// Credentials computed for some other server's realm: a
			// device provisioned for another site, or a wrong domain.
			a.logFailure(slog.LevelWarn, "wrong realm", req, source, user, "realm", otherRealm, "want", a.realm)
		}
		return cred, a.challenge(req, proxy, false, a.offered(secrets, user))
	}
	if wait, ok := a.throttled(host, cred.Username, now); ok {
		return cred, a.refuse(req, wait)
	}

	offered := a.offered(secrets, cred.Username)
	alg := digest.ParseAlgorithm(cred.Algorithm)
	if !digest.Offers(offered, alg) {
		// Not an answer to any challenge of ours; ask again.
		a.logFailure(slog.LevelWarn, "algorithm not offered", req, source, cred.Username, "algorithm", cred.Algorithm, "offered", algorithmList(offered))
		return cred, a.challenge(req, proxy, false, offered)
	}
	if (cred.QOP != "" && cred.QOP != "auth") || (cred.QOP == "auth" && (cred.NCValue == 0 || cred.Cnonce == "")) {
		a.logFailure(slog.LevelWarn, "qop not offered", req, source, cred.Username, "qop", cred.QOP)
		return cred, a.challenge(req, proxy, false, offered)
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
		a.logFailure(slog.LevelWarn, cause, req, source, cred.Username)
		return cred, a.challenge(req, proxy, false, offered)
	}

	// A nonce another process signed (a restart) is stale, like an old
	// one: the password was right, so the client retries on its own.
	nonce, ok := a.nonces.Open(cred.Nonce)
	if !ok || !a.nonces.Fresh(nonce, now) {
		a.logFailure(slog.LevelInfo, "stale nonce", req, source, cred.Username)
		return cred, a.challenge(req, proxy, true, offered)
	}
	if !sameResource(cred.URI, &req.Recipient) && !a.namesServer(cred.URI) {
		a.logFailure(slog.LevelWarn, "uri mismatch", req, source, cred.Username, "uri", cred.URI, "request_uri", req.Recipient.String())
		return cred, a.reply(req, sip.StatusBadRequest, "Credentials For Another URI")
	}
	return cred, nil
}

// offered returns the algorithms offered to user: -digest's when given,
// else what secrets says (one configuration's), else the program's.
func (a *Authenticator) offered(secrets Secrets, user string) []Algorithm {
	if a.algs != nil {
		return a.algs
	}
	if o, ok := secrets.(Offers); ok {
		if algs := o.DigestAlgorithms(user); len(algs) > 0 {
			return algs
		}
		return md5Only
	}
	if a.program != nil {
		if p := a.program(); p != nil {
			return Algorithms(p.DigestOf(user))
		}
	}
	return md5Only
}

// challengedUser is the user name a request without credentials is
// challenged for: the account a REGISTER registers (To), the caller of any
// other request (From). Its algorithms are offered; a name that is no
// account gets what an unknown client gets.
func challengedUser(req *sip.Request) string {
	if req.Method == sip.REGISTER {
		if to := req.To(); to != nil {
			return to.Address.User
		}
		return ""
	}
	if from := req.From(); from != nil {
		return from.Address.User
	}
	return ""
}

func algorithmList(algs []Algorithm) string {
	names := make([]string, len(algs))
	for i, a := range algs {
		names[i] = string(a)
	}
	return strings.Join(names, ",")
}

// logFailure logs why req failed to authenticate: one message per cause,
// so that the log's limit (package loglimit) counts a flood of one cause
// apart from the others. It logs the user name, the source and the
// request, never a password, a response or a nonce.
func (a *Authenticator) logFailure(level slog.Level, cause string, req *sip.Request, source, user string, attrs ...any) {
	if a.log == nil {
		return
	}
	args := append([]any{"user", user, "source", source, "method", string(req.Method), "call", callID(req)}, attrs...)
	a.log.Log(context.Background(), level, "authentication failed: "+cause, args...)
}

// AddServerAddress records an address the server listens on (host:port),
// which a digest uri may name instead of the Request-URI: SIPp's REGISTER
// scenarios put the server's address there, and Kamailio accepts any uri
// that names itself. An unspecified host (0.0.0.0, ::) stands for every
// address of the machine's interfaces, with the port.
func (a *Authenticator) AddServerAddress(addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return
	}
	add := []string{addr}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		add = nil
		if ifs, err := net.InterfaceAddrs(); err == nil {
			for _, ia := range ifs {
				if pfx, err := netip.ParsePrefix(ia.String()); err == nil {
					add = append(add, net.JoinHostPort(pfx.Addr().String(), port))
				}
			}
		}
	}
	for {
		old := a.servers.Load()
		var next []string
		if old != nil {
			next = slices.Clone(*old)
		}
		next = append(next, add...)
		if a.servers.CompareAndSwap(old, &next) {
			return
		}
	}
}

// namesServer reports whether uri names this server rather than a
// resource on it: the site's domain (any port), or a listening address,
// with or without a sip: or sips: scheme and URI parameters, and without
// a user part. An address without a port names any listener on its host.
func (a *Authenticator) namesServer(uri string) bool {
	s := uri
	if i := strings.IndexByte(s, ':'); i >= 0 && (strings.EqualFold(s[:i], "sip") || strings.EqualFold(s[:i], "sips")) {
		s = s[i+1:]
	}
	if i := strings.IndexAny(s, ";?"); i >= 0 {
		s = s[:i]
	}
	if s == "" || strings.Contains(s, "@") {
		return false
	}
	host, port := s, ""
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	}
	if strings.EqualFold(host, a.realm) {
		return true
	}
	servers := a.servers.Load()
	if servers == nil {
		return false
	}
	for _, srv := range *servers {
		sh, sp, err := net.SplitHostPort(srv)
		if err != nil || (port != "" && port != sp) {
			continue
		}
		if strings.EqualFold(sh, host) {
			return true
		}
		x, errX := netip.ParseAddr(sh)
		y, errY := netip.ParseAddr(host)
		if errX == nil && errY == nil && x.Unmap() == y.Unmap() {
			return true
		}
	}
	return false
}

// credentials returns the first digest credentials of req for this realm;
// malformed reports one that could not be parsed, and otherRealm the realm
// of credentials for another realm when there are none for this one.
// Credentials for other realms are some other server's business.
func (a *Authenticator) credentials(req *sip.Request, proxy bool) (cred digest.Credentials, found, malformed bool, otherRealm string) {
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
			otherRealm = c.Realm
			continue
		}
		return c, true, false, ""
	}
	return digest.Credentials{}, false, malformed, otherRealm
}

func challengeStatus(proxy bool) int {
	if proxy {
		return sip.StatusProxyAuthRequired
	}
	return sip.StatusUnauthorized
}

// challenge builds a 401 (407 for a proxy) with one challenge per
// algorithm of algs, all with the same nonce.
func (a *Authenticator) challenge(req *sip.Request, proxy, stale bool, algs []Algorithm) *sip.Response {
	res := sip.NewResponseFromRequest(req, sip.StatusUnauthorized, "Unauthorized", nil)
	name := "WWW-Authenticate"
	if proxy {
		res = sip.NewResponseFromRequest(req, sip.StatusProxyAuthRequired, "Proxy Authentication Required", nil)
		name = "Proxy-Authenticate"
	}
	for _, c := range a.challenges(stale, algs) {
		res.AppendHeader(sip.NewHeader(name, c))
	}
	return res
}

// challenges are the challenges of a 401 or 407, one per algorithm of
// algs, all with one new nonce.
func (a *Authenticator) challenges(stale bool, algs []Algorithm) []string {
	nonce := a.nonces.Issue(a.clk.Now())
	out := make([]string, len(algs))
	for i, alg := range algs {
		out[i] = digest.Challenge(a.realm, nonce, alg, stale)
	}
	return out
}

// RegisterChallengeWith is what CheckWith answers a REGISTER that carries
// no credentials at all (no Authorization line), from source, registering
// user (its To's user name): the values of its 401's WWW-Authenticate,
// one per algorithm offered to user, with a new nonce. It returns nil
// when source is throttled (CheckWith refuses it with 403). A server
// answers REGISTERs from a scan of their header lines with it, without
// parsing them (package sipstack, Register.Challenge).
func (a *Authenticator) RegisterChallengeWith(secrets Secrets, user, source string) []string {
	if _, ok := a.throttled(hostOf(source), "", a.clk.Now()); ok {
		return nil
	}
	return a.challenges(false, a.offered(secrets, user))
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

// Verified is a REGISTER's digest credentials that ScreenRegister found
// right: all that is left is to spend their nonce count (CommitRegister).
type Verified struct {
	// User is the authenticated user name (the account).
	User  string
	host  string
	nonce digest.Nonce
	nc    uint32
}

// ScreenRegister is ScreenRegisterWith with the passwords New was given.
func (a *Authenticator) ScreenRegister(authorization string, recipient *sip.Uri, source string) (Verified, bool) {
	return a.ScreenRegisterWith(a.secrets, authorization, recipient, source)
}

// ScreenRegisterWith checks the credentials of a REGISTER that was not
// parsed (package sipstack, ScannedRegister): authorization, the value of
// its one Authorization line, for its Request-URI recipient, from source
// (host:port). It reports true when CheckWith would take them but for
// their nonce count: for this realm, from a source not throttled, of an
// algorithm offered to the user name, with qop=auth, the right password
// of a known user, a fresh nonce of ours and a uri naming the
// Request-URI or this server.
//
// Unlike CheckWith it changes nothing and answers nothing: on false,
// nothing was counted, logged or published, and the request is left to
// CheckWith, which decides the same and gives the answer (a challenge, a
// refusal, a failure counted). A flood of wrong passwords on this path
// costs two digests each, until the throttle stops it.
func (a *Authenticator) ScreenRegisterWith(secrets Secrets, authorization string, recipient *sip.Uri, source string) (Verified, bool) {
	now := a.clk.Now()
	cred, err := digest.ParseCredentials(authorization)
	if err != nil || cred.Realm != a.realm || cred.QOP != "auth" || cred.NCValue == 0 || cred.Cnonce == "" {
		return Verified{}, false
	}
	host := hostOf(source)
	if _, ok := a.throttled(host, cred.Username, now); ok {
		return Verified{}, false
	}
	alg := digest.ParseAlgorithm(cred.Algorithm)
	if !digest.Offers(a.offered(secrets, cred.Username), alg) {
		return Verified{}, false
	}
	password, known := secrets.SIPPassword(cred.Username)
	if !known || !digest.Verify(alg, &cred, a.realm, string(sip.REGISTER), password) {
		return Verified{}, false
	}
	nonce, ok := a.nonces.Open(cred.Nonce)
	if !ok || !a.nonces.Fresh(nonce, now) {
		return Verified{}, false
	}
	if !sameResource(cred.URI, recipient) && !a.namesServer(cred.URI) {
		return Verified{}, false
	}
	return Verified{User: cred.Username, host: host, nonce: nonce, nc: cred.NCValue}, true
}

// CommitRegister spends the nonce count of credentials ScreenRegister
// found right, and records the success as CheckWith does. It reports
// false, having changed nothing, for a count seen before (a replay, which
// CheckWith answers with a stale challenge).
func (a *Authenticator) CommitRegister(v Verified) bool {
	if !a.nonces.Count(v.nonce, v.nc) {
		return false
	}
	a.succeed(v.host, v.User, a.clk.Now())
	return true
}
