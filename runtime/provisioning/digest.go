package provisioning

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"switchboard/runtime/digest"
)

// Digest algorithms the server can offer (RFC 7616 §3.3, RFC 8760 names).
const (
	SHA256 = string(digest.SHA256)
	MD5    = string(digest.MD5)
)

// authResult is the outcome of checking a request's credentials.
type authResult int

const (
	authNone   authResult = iota // no digest credentials: challenge
	authOK                       // authenticated
	authStale                    // right password, expired nonce: challenge with stale=true
	authFailed                   // wrong in any way: challenge, count a failure
)

// nonceSlots is the default size of the provisioning server's ring of
// nonce-count windows (1 MiB): every unauthenticated request is issued a
// nonce, and a nonce becomes stale once this many newer ones were issued.
const nonceSlots = 1 << 16

// newNonces returns the nonces of a provisioning server: the digest
// package's, with counts accepted out of order within 64 of the highest (a
// device fetches several files at once on one nonce); slots 0 is the
// default ring.
func newNonces(lifetime time.Duration, slots int) *digest.Nonces {
	if slots <= 0 {
		slots = nonceSlots
	}
	return digest.NewNonces(digest.Config{Lifetime: lifetime, Slots: slots, Reorder: 64})
}

// credentials are the checked parts of an Authorization header.
type credentials struct {
	digest.Credentials
	alg   digest.Algorithm
	nonce digest.Nonce
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
	c.alg = digest.ParseAlgorithm(dc.Algorithm)
	if c.alg == "" || !s.offers(c.alg) {
		return c, fmt.Sprintf("algorithm %.20q not offered", dc.Algorithm)
	}
	switch {
	case dc.QOP != "auth":
		return c, fmt.Sprintf("qop %.20q not offered", dc.QOP)
	case dc.Userhash:
		return c, "userhash not offered"
	case dc.NCValue == 0 || dc.Cnonce == "":
		return c, "missing nonce count or client nonce"
	case !sameURI(dc.URI, r):
		return c, "uri does not match the request"
	}
	nonce, ok := s.nonces.Open(dc.Nonce)
	if !ok {
		// Unlike SIP, which calls it stale, HTTP counts a nonce of another
		// key (or none at all) as a failure: provisioning clients fetch
		// again on their own schedule, not by retrying a stale challenge.
		return c, "nonce not issued by this server"
	}
	c.nonce = nonce
	return c, ""
}

func (s *Server) offers(alg digest.Algorithm) bool {
	for _, a := range s.cfg.algorithms {
		if a == string(alg) {
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

// challenge is the WWW-Authenticate value offering algorithm alg.
func challenge(realm, nonce, alg string, stale bool) string {
	return digest.Challenge(realm, nonce, digest.Algorithm(alg), stale)
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
	// users and wrong passwords take the same path. The response is
	// checked in the realm the client answered: one of before a reload
	// proves the password as well, and is then told its nonce is stale.
	dev = b.byUser[c.Username]
	password, known := s.dummyPassword, false
	if dev != nil {
		if pw, ok := b.secrets.SIPPassword(dev.account); ok {
			password, known = pw, true
		} else {
			s.cfg.logger.Warn("provisioning: no SIP password for device account", "device", dev.name, "account", dev.account)
		}
	}
	match := digest.Verify(c.alg, &c.Credentials, c.Realm, r.Method, password)
	previous := false
	if ps, ok := b.secrets.(PreviousSecrets); ok && known && !match {
		if old, ok := ps.PreviousSIPPassword(dev.account); ok {
			previous = digest.Verify(c.alg, &c.Credentials, c.Realm, r.Method, old)
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
	case !s.nonces.Fresh(c.nonce, now) || c.Realm != b.realm:
		return dev, authStale, "stale nonce"
	}
	if !s.nonces.Count(c.nonce, c.NCValue) {
		return dev, authFailed, "nonce count replayed"
	}
	if previous {
		return dev, authOK, causePrevious
	}
	return dev, authOK, ""
}
