// Package auth is the server side of SIP digest authentication (RFC 3261
// §22, RFC 7616 for qop=auth, RFC 8760 for SHA-256): it challenges requests,
// verifies their credentials and throttles sources that keep failing.
//
// Nonces are stateless: a nonce is a counter, a timestamp and an HMAC of
// both under a key drawn when the Authenticator is made, so issuing one
// costs no memory and any nonce can be checked without a table. Replays are
// refused with a fixed ring of nonce counts indexed by the counter (the
// Kamailio design): a request's nc must exceed the last one seen for its
// nonce. A nonce that is too old, whose ring slot was reused, or that a
// previous process signed is stale; when the digest is otherwise right the
// client is told so (stale=true) and retries without asking its user.
//
// An unknown user and a wrong password get the same answer by the same
// path: a dummy password stands in for the missing one and the digest is
// computed all the same.
package auth

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/ir"
	"switchboard/runtime/clock"
	"switchboard/runtime/events"
	"switchboard/runtime/throttle"
)

// Secrets supplies digest passwords. It has the shape of the runtime's
// Secrets: SIPPassword returns the password of an IR account (ir.Account.Name,
// which is also the digest user name), ok=false for unknown accounts.
type Secrets interface {
	SIPPassword(account string) (password string, ok bool)
}

// Algorithm is a digest hash algorithm, as written in the algorithm
// parameter.
type Algorithm string

const (
	SHA256 Algorithm = "SHA-256"
	MD5    Algorithm = "MD5"
)

// Throttle limits authentication failures. A source that reaches a limit
// within Window is refused with 403 Forbidden, without any digest being
// computed, until the window that started with its first failure ends.
type Throttle struct {
	// Failures is how many failures one source address may have for one
	// user name. Counting per user name keeps one misconfigured device from
	// locking out the others behind the same NAT.
	Failures int
	// SourceFailures is how many failures one source address may have
	// across all user names; it stops a scan of user names.
	SourceFailures int
	// Window is the counting period.
	Window time.Duration
}

// DefaultThrottle is the throttle of New.
var DefaultThrottle = Throttle{Failures: 10, SourceFailures: 50, Window: time.Minute}

const (
	// DefaultNonceLifetime is how long a nonce stays fresh.
	DefaultNonceLifetime = 5 * time.Minute
	// defaultNonceSlots is the size of the nonce-count ring: 1 MiB. A nonce
	// becomes stale once this many newer nonces were issued.
	defaultNonceSlots = 1 << 18
	// maxTracked bounds each failure table; past it new sources are not
	// tracked (failing open) rather than letting spoofed UDP grow memory.
	maxTracked = 1 << 16
)

// Authenticator challenges and verifies SIP requests for one realm. It is
// safe for concurrent use. Keep one for the life of the server (across
// reloads): a new one draws a new key, which makes every nonce stale.
type Authenticator struct {
	realm    string
	secrets  Secrets
	clk      clock.Clock
	algs     []Algorithm
	lifetime time.Duration
	limit    Throttle
	bus      *events.Bus
	program  func() *ir.Program

	ipad, opad [sha256.BlockSize]byte // the HMAC key of nonces, padded
	dummy      string                 // the password of unknown users, so they cost the same

	nid   atomic.Uint64   // last nonce id issued
	slots []atomic.Uint32 // highest nc seen, per nonce id modulo len

	mu       sync.Mutex
	sources  throttle.Table[string]
	accounts throttle.Table[userKey]
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
	return func(a *Authenticator) { a.lifetime = d }
}

// WithNonceSlots sets the size of the nonce-count ring (default 2^18, 1
// MiB): a nonce becomes stale once n newer ones were issued.
func WithNonceSlots(n int) Option {
	return func(a *Authenticator) {
		if n > 0 {
			a.slots = make([]atomic.Uint32, n)
		}
	}
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
		realm:    realm,
		secrets:  secrets,
		clk:      clk,
		algs:     []Algorithm{SHA256, MD5},
		lifetime: DefaultNonceLifetime,
		limit:    DefaultThrottle,
	}
	for _, o := range opts {
		o(a)
	}
	if len(a.algs) == 0 {
		a.algs = []Algorithm{SHA256, MD5}
	}
	if a.slots == nil {
		a.slots = make([]atomic.Uint32, defaultNonceSlots)
	}
	var key [32]byte
	rand.Read(key[:])
	for i := range a.ipad {
		a.ipad[i], a.opad[i] = 0x36, 0x5c
		if i < len(key) {
			a.ipad[i] ^= key[i]
			a.opad[i] ^= key[i]
		}
	}
	var d [16]byte
	rand.Read(d[:])
	a.dummy = hex.EncodeToString(d[:])
	a.sources = throttle.New[string](maxTracked)
	a.accounts = throttle.New[userKey](maxTracked)
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

	cred, found, malformed := a.credentials(req, proxy)
	if malformed {
		return "", a.reply(req, sip.StatusBadRequest, "Malformed Credentials")
	}
	if !found {
		if wait, ok := a.throttled(host, "", now); ok {
			return "", a.refuse(req, wait)
		}
		return "", a.challenge(req, proxy, false)
	}
	if wait, ok := a.throttled(host, cred.username, now); ok {
		return "", a.refuse(req, wait)
	}

	alg := algorithmOf(cred.algorithm)
	if !a.offers(alg) || (cred.qop != "" && cred.qop != "auth") || (cred.qop == "auth" && (cred.ncValue == 0 || cred.cnonce == "")) {
		// Not an answer to any challenge of ours; ask again.
		return "", a.challenge(req, proxy, false)
	}

	password, known := secrets.SIPPassword(cred.username)
	if !known {
		password = a.dummy
	}
	good := a.verify(alg, &cred, string(req.Method), password)
	if !good || !known {
		cause := "wrong password"
		if !known {
			cause = "unknown user"
		}
		a.fail(req, source, host, cred.username, cause, proxy, now)
		return "", a.challenge(req, proxy, false)
	}

	id, fresh := a.openNonce(cred.nonce, now)
	if !fresh {
		return "", a.challenge(req, proxy, true)
	}
	if !sameResource(cred.uri, &req.Recipient) {
		return "", a.reply(req, sip.StatusBadRequest, "Credentials For Another URI")
	}
	nc := uint32(1) // without qop a nonce is good for one request
	if cred.qop != "" {
		nc = cred.ncValue
	}
	if !a.count(id, nc) {
		a.publish(events.Event{Kind: events.AuthFailed, Account: cred.username, Source: source,
			Call: callID(req), Status: challengeStatus(proxy), Cause: "replayed nonce count"}, cred.username)
		return "", a.challenge(req, proxy, true)
	}
	a.forgive(host, cred.username)
	return cred.username, nil
}

// credentials returns the first digest credentials of req for this realm;
// malformed reports one that could not be parsed. Credentials for other
// realms are some other server's business and are ignored.
func (a *Authenticator) credentials(req *sip.Request, proxy bool) (cred credentials, found, malformed bool) {
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
		c, err := parseCredentials(v)
		if err != nil {
			malformed = true
			continue
		}
		if c.realm != a.realm {
			continue
		}
		return c, true, false
	}
	return credentials{}, false, malformed
}

func algorithmOf(s string) Algorithm {
	switch {
	case s == "" || strings.EqualFold(s, "MD5"):
		return MD5
	case strings.EqualFold(s, "SHA-256"):
		return SHA256
	}
	return ""
}

func (a *Authenticator) offers(alg Algorithm) bool {
	for _, x := range a.algs {
		if x == alg {
			return true
		}
	}
	return false
}

// verify computes the response of cred with password and compares it, in
// constant time, with the one sent. The hashed strings are assembled in a
// stack buffer and hashed with md5.Sum or sha256.Sum256: writing them
// through a hash.Hash would make every part escape to the heap.
func (a *Authenticator) verify(alg Algorithm, cred *credentials, method, password string) bool {
	var buf [512]byte
	var ha1, ha2, want [2 * sha256.Size]byte
	b := append(buf[:0], cred.username...)
	b = append(b, ':')
	b = append(b, a.realm...)
	b = append(b, ':')
	b = append(b, password...)
	n := hashHex(alg, ha1[:], b)
	b = append(buf[:0], method...)
	b = append(b, ':')
	b = append(b, cred.uri...)
	hashHex(alg, ha2[:], b)
	b = append(buf[:0], ha1[:n]...)
	b = append(b, ':')
	b = append(b, cred.nonce...)
	b = append(b, ':')
	if cred.qop != "" {
		b = append(b, cred.nc...)
		b = append(b, ':')
		b = append(b, cred.cnonce...)
		b = append(b, ':')
		b = append(b, cred.qop...)
		b = append(b, ':')
	}
	b = append(b, ha2[:n]...)
	hashHex(alg, want[:], b)
	got := cred.response
	if len(got) != n {
		return false
	}
	var lower [2 * sha256.Size]byte
	for i := 0; i < n; i++ {
		c := got[i]
		if 'A' <= c && c <= 'F' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	return subtle.ConstantTimeCompare(lower[:n], want[:n]) == 1
}

// hashHex hashes data with alg into dst as lower hex and returns the
// length written.
func hashHex(alg Algorithm, dst, data []byte) int {
	if alg == MD5 {
		sum := md5.Sum(data)
		return hex.Encode(dst, sum[:])
	}
	sum := sha256.Sum256(data)
	return hex.Encode(dst, sum[:])
}

// A nonce is id (8 bytes) | issued, Unix seconds (8 bytes) | the first 16
// bytes of HMAC-SHA256(key, id|issued), in unpadded base64url: 43 characters.
const (
	nonceRaw = 32
	nonceLen = 43
)

func (a *Authenticator) newNonce(now time.Time) string {
	id := a.nid.Add(1)
	a.slots[id%uint64(len(a.slots))].Store(0)
	var raw [nonceRaw]byte
	binary.BigEndian.PutUint64(raw[0:8], id)
	binary.BigEndian.PutUint64(raw[8:16], uint64(now.Unix()))
	a.sign(raw[16:32], raw[:16])
	var out [nonceLen]byte
	base64.RawURLEncoding.Encode(out[:], raw[:])
	return string(out[:])
}

// sign writes HMAC-SHA256(key, msg) (RFC 2104), truncated to len(dst),
// into dst. It is spelled out over sha256.Sum256 with the padded keys made
// in New, which keeps it free of allocations; msg is at most 64 bytes.
func (a *Authenticator) sign(dst, msg []byte) {
	var buf [2 * sha256.BlockSize]byte
	b := append(buf[:0], a.ipad[:]...)
	b = append(b, msg...)
	inner := sha256.Sum256(b)
	b = append(buf[:0], a.opad[:]...)
	b = append(b, inner[:]...)
	outer := sha256.Sum256(b)
	copy(dst, outer[:])
}

// openNonce checks a nonce's signature and age and returns its id.
// A nonce whose ring slot has since been reused is not fresh either.
func (a *Authenticator) openNonce(nonce string, now time.Time) (id uint64, fresh bool) {
	if len(nonce) != nonceLen {
		return 0, false
	}
	var raw [nonceRaw]byte
	if n, err := base64.RawURLEncoding.Decode(raw[:], []byte(nonce)); err != nil || n != nonceRaw {
		return 0, false
	}
	var mac [16]byte
	a.sign(mac[:], raw[:16])
	if !hmac.Equal(mac[:], raw[16:32]) {
		return 0, false
	}
	id = binary.BigEndian.Uint64(raw[0:8])
	issued := time.Unix(int64(binary.BigEndian.Uint64(raw[8:16])), 0)
	if age := now.Sub(issued); age < -time.Minute || age >= a.lifetime {
		return id, false
	}
	if last := a.nid.Load(); id > last || last-id >= uint64(len(a.slots)) {
		return id, false
	}
	return id, true
}

// count records nc for nonce id; it reports false for a replay (nc not
// above the last one seen).
func (a *Authenticator) count(id uint64, nc uint32) bool {
	slot := &a.slots[id%uint64(len(a.slots))]
	for {
		last := slot.Load()
		if nc <= last {
			return false
		}
		if slot.CompareAndSwap(last, nc) {
			return true
		}
	}
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
	nonce := a.newNonce(a.clk.Now())
	for _, alg := range a.algs {
		var b strings.Builder
		b.Grow(64 + len(a.realm) + nonceLen)
		b.WriteString(`Digest realm="`)
		b.WriteString(quote(a.realm))
		b.WriteString(`", nonce="`)
		b.WriteString(nonce)
		b.WriteString(`", algorithm=`)
		b.WriteString(string(alg))
		b.WriteString(`, qop="auth"`)
		if stale {
			b.WriteString(", stale=true")
		}
		res.AppendHeader(sip.NewHeader(name, b.String()))
	}
	return res
}

// quote escapes a quoted-string's content.
func quote(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
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

// publish stamps e with the origin of account (or the site) and sends it.
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
	a.bus.Publish(e)
}
