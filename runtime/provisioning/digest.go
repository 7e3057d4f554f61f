package provisioning

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/icholy/digest"
)

// Digest algorithms the server can offer (RFC 7616 §3.3, RFC 8760 names).
const (
	SHA256 = "SHA-256"
	MD5    = "MD5"
)

var algorithms = map[string]func() hash.Hash{
	SHA256: sha256.New,
	MD5:    md5.New,
}

// authResult is the outcome of checking a request's credentials.
type authResult int

const (
	authNone   authResult = iota // no digest credentials: challenge
	authOK                       // authenticated
	authStale                    // right password, expired nonce: challenge with stale=true
	authFailed                   // wrong in any way: challenge, count a failure
)

// nonces issues and checks server nonces. A nonce is stateless until it is
// first used successfully: base64url(issued time ‖ 8 random bytes ‖
// HMAC-SHA-256 of both, truncated to 16 bytes) under a key made at start.
// So a flood of unauthenticated requests costs no memory; only nonces that
// carried a valid response get an entry, which tracks the nonce counts seen
// (replay protection) until the nonce expires.
type nonces struct {
	key      [32]byte
	lifetime time.Duration
	maxUsed  int

	mu        sync.Mutex
	used      map[string]*ncWindow
	floor     time.Time // nonces issued before floor without an entry are stale
	nextSweep int
}

const nonceRaw = 8 + 8 + 16

func newNonces(lifetime time.Duration, maxUsed int) *nonces {
	n := &nonces{lifetime: lifetime, maxUsed: maxUsed, used: map[string]*ncWindow{}, nextSweep: 1024}
	rand.Read(n.key[:])
	return n
}

func (n *nonces) mac(b []byte) []byte {
	h := hmac.New(sha256.New, n.key[:])
	h.Write(b[:16])
	return h.Sum(nil)[:16]
}

// issue returns a fresh nonce stamped now.
func (n *nonces) issue(now time.Time) string {
	var b [nonceRaw]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixNano()))
	rand.Read(b[8:16])
	copy(b[16:], n.mac(b[:]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// verify reports whether s is a nonce this server issued, and when.
func (n *nonces) verify(s string) (issued time.Time, ok bool) {
	if len(s) != base64.RawURLEncoding.EncodedLen(nonceRaw) {
		return time.Time{}, false
	}
	var b [nonceRaw]byte
	if k, err := base64.RawURLEncoding.Decode(b[:], []byte(s)); err != nil || k != nonceRaw {
		return time.Time{}, false
	}
	if !hmac.Equal(b[16:], n.mac(b[:])) {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b[:8]))), true
}

// fresh reports whether a nonce issued at issued may still be used at now.
// A nonce from the future (the clock was stepped back) is not fresh either.
func (n *nonces) fresh(issued, now time.Time) bool {
	return !issued.After(now) && now.Sub(issued) < n.lifetime
}

// use records nonce count nc of an authenticated request. It reports
// replay (the count was seen, or is too old to tell) and stale (the nonce
// was issued before the state was last reset).
func (n *nonces) use(nonce string, issued time.Time, nc uint32, now time.Time) (replay, stale bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	w := n.used[nonce]
	if w == nil {
		if issued.Before(n.floor) {
			return false, true
		}
		if len(n.used) >= n.nextSweep {
			n.sweep(now)
		}
		if len(n.used) >= n.maxUsed {
			// Too many live nonces (an authenticated client making a new
			// one per request, fast): forget them all. Every nonce issued
			// so far becomes stale, so no count can be replayed; clients
			// get a fresh nonce and carry on.
			clear(n.used)
			n.floor = now
			return false, true
		}
		w = &ncWindow{expires: issued.Add(n.lifetime)}
		n.used[nonce] = w
	}
	return !w.accept(nc), false
}

// sweep drops entries of expired nonces; the next sweep happens when the
// map has doubled from what is left.
func (n *nonces) sweep(now time.Time) {
	for k, w := range n.used {
		if !now.Before(w.expires) {
			delete(n.used, k)
		}
	}
	n.nextSweep = max(1024, 2*len(n.used))
}

// ncWindow is the anti-replay window of one nonce, as IPsec keeps one: the
// highest count seen and a bitmap of the 64 counts below it, so requests
// sent in parallel may arrive out of order but none is accepted twice.
type ncWindow struct {
	expires time.Time
	max     uint32
	seen    uint64 // bit i: count max-i was seen
}

func (w *ncWindow) accept(nc uint32) bool {
	switch {
	case nc == 0:
		return false
	case nc > w.max:
		if shift := nc - w.max; shift < 64 {
			w.seen <<= shift
		} else {
			w.seen = 0
		}
		w.seen |= 1
		w.max = nc
		return true
	case w.max-nc >= 64:
		return false
	}
	bit := uint64(1) << (w.max - nc)
	if w.seen&bit != 0 {
		return false
	}
	w.seen |= bit
	return true
}

// challenge is the WWW-Authenticate value offering algorithm alg.
func challenge(realm, nonce, alg string, stale bool) string {
	c := digest.Challenge{Realm: realm, Nonce: nonce, Algorithm: alg, QOP: []string{"auth"}, Stale: stale}
	return c.String()
}

// credentials are the checked parts of an Authorization header.
type credentials struct {
	*digest.Credentials
	hash   func() hash.Hash
	issued time.Time
}

// parseCredentials parses and checks the form of a digest Authorization
// header against the request; cause says what was wrong. It does not look
// at the user or the password.
//
// The realm is not checked here: the response covers it, and a client
// answering a challenge of the realm before a reload proves its password
// just as well (authenticate then answers stale=true).
func (s *Server) parseCredentials(hdr string, r *http.Request) (c credentials, cause string) {
	if len(hdr) > 4096 {
		return c, "authorization header too long"
	}
	dc, err := digest.ParseCredentials(hdr)
	if err != nil {
		return c, "malformed authorization header"
	}
	c.Credentials = dc
	alg := strings.ToUpper(dc.Algorithm)
	if alg == "" {
		alg = MD5 // RFC 7616 §3.4: absent means MD5
	}
	if !s.offers(alg) {
		return c, fmt.Sprintf("algorithm %.20q not offered", dc.Algorithm)
	}
	c.hash = algorithms[alg]
	switch {
	case dc.QOP != "auth":
		return c, fmt.Sprintf("qop %.20q not offered", dc.QOP)
	case dc.Userhash:
		return c, "userhash not offered"
	case dc.Nc <= 0 || dc.Cnonce == "":
		return c, "missing nonce count or client nonce"
	case !sameURI(dc.URI, r):
		return c, "uri does not match the request"
	}
	issued, ok := s.nonces.verify(dc.Nonce)
	if !ok {
		return c, "nonce not issued by this server"
	}
	c.issued = issued
	return c, ""
}

func (s *Server) offers(alg string) bool {
	for _, a := range s.cfg.algorithms {
		if a == alg {
			return true
		}
	}
	return false
}

// sameURI reports whether the digest uri parameter names the request
// target: the same request-target text, or (absolute form) the same path
// and query.
func sameURI(uri string, r *http.Request) bool {
	if uri == "" {
		return false
	}
	if uri == r.RequestURI {
		return true
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return false
	}
	return u.EscapedPath() == r.URL.EscapedPath() && u.RawQuery == r.URL.RawQuery
}

// response computes the RFC 7616 request-digest for qop=auth.
func response(newHash func() hash.Hash, c *digest.Credentials, password, method string) string {
	h := newHash()
	hx := func(parts ...string) string {
		h.Reset()
		for i, p := range parts {
			if i > 0 {
				h.Write([]byte{':'})
			}
			h.Write([]byte(p))
		}
		return hex.EncodeToString(h.Sum(nil))
	}
	ha1 := hx(c.Username, c.Realm, password)
	ha2 := hx(method, c.URI)
	return hx(ha1, c.Nonce, fmt.Sprintf("%08x", c.Nc), c.Cnonce, c.QOP, ha2)
}

// authenticate checks r's credentials against b. For authFailed, cause
// says why (for the event, never for the client), and dev is the claimed
// device when the user name was known.
func (s *Server) authenticate(b *bundle, r *http.Request, now time.Time) (dev *device, res authResult, cause string) {
	hdrs := r.Header.Values("Authorization")
	if len(hdrs) == 0 {
		return nil, authNone, ""
	}
	if len(hdrs) > 1 {
		return nil, authFailed, "several authorization headers"
	}
	if !digest.IsDigest(hdrs[0]) {
		return nil, authNone, "not digest authorization"
	}
	c, cause := s.parseCredentials(hdrs[0], r)
	if cause != "" {
		return nil, authFailed, cause
	}

	// Compute a response whether or not the user exists, so that unknown
	// users and wrong passwords take the same path.
	dev = b.byUser[c.Username]
	password, known := s.dummyPassword, false
	if dev != nil {
		if pw, ok := b.secrets.SIPPassword(dev.account); ok {
			password, known = pw, true
		} else {
			s.cfg.logger.Warn("provisioning: no SIP password for device account", "device", dev.name, "account", dev.account)
		}
	}
	want := response(c.hash, c.Credentials, password, r.Method)
	match := subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(c.Response))) == 1
	previous := false
	if ps, ok := b.secrets.(PreviousSecrets); ok && known && !match {
		if old, ok := ps.PreviousSIPPassword(dev.account); ok {
			want := response(c.hash, c.Credentials, old, r.Method)
			previous = subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(c.Response))) == 1
			match = previous
		}
	}
	switch {
	case dev == nil:
		return nil, authFailed, "unknown user"
	case !known:
		return dev, authFailed, "no password for the device's account"
	case !match:
		return dev, authFailed, "wrong password"
	case !s.nonces.fresh(c.issued, now) || c.Realm != b.realm:
		return dev, authStale, "stale nonce"
	}
	replay, stale := s.nonces.use(c.Nonce, c.issued, uint32(c.Nc), now)
	switch {
	case stale:
		return dev, authStale, "stale nonce"
	case replay:
		return dev, authFailed, "nonce count replayed"
	}
	if previous {
		return dev, authOK, causePrevious
	}
	return dev, authOK, ""
}
