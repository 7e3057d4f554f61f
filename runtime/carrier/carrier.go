package carrier

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"switchboard/compiler/ir"
	"switchboard/runtime/sipdns"
)

// TrunkSecrets resolves trunk credentials. The IR names them
// (ir.SecretRef, "var.<name>") and never holds their values; the command
// that starts the server reads the values from the inputs the compiler
// read (-var, -var-file, SWITCHBOARD_VAR_<name>). Secrets may implement
// it; when they do not, a trunk with credentials is not registered and a
// trunk_registration_failed event says why.
type TrunkSecrets interface {
	TrunkSecret(ref ir.SecretRef) (value string, ok bool)
}

// TrunkValues are trunk credentials by reference (ir.SecretRef
// "var.<name>"), as serve reads them from the site's variables: the
// TrunkSecrets of a map. Never printed.
type TrunkValues map[ir.SecretRef]string

// TrunkSecret implements TrunkSecrets.
func (t TrunkValues) TrunkSecret(ref ir.SecretRef) (string, bool) {
	v, ok := t[ref]
	return v, ok
}

// String keeps the values out of any output that formats the map.
func (t TrunkValues) String() string { return fmt.Sprintf("%d trunk secrets (not shown)", len(t)) }

// Credentials are a trunk's digest credentials at its carrier. The
// password never leaves this package: Authorize answers challenges with it.
type Credentials struct {
	username, password string
}

// Username is the trunk's account name at the carrier.
func (c Credentials) Username() string { return c.username }

// String keeps the password out of any log line or error that formats
// the credentials by mistake.
func (c Credentials) String() string { return "trunk credentials (not shown)" }

// Resolve returns the credentials of t, with their values from secrets
// (nil: the server was given none). ok is false and err nil for a trunk
// without credentials: the carrier knows the server by its address (IP
// authentication). err says which reference could not be read, never a
// value.
func Resolve(t *ir.Trunk, secrets TrunkSecrets) (cred Credentials, ok bool, err error) {
	if t.Username == "" && t.Login == "" && t.Password == "" {
		return Credentials{}, false, nil
	}
	if (t.Username == "" && t.Login == "") || t.Password == "" {
		return Credentials{}, false, fmt.Errorf("trunk %q has a username or a password but not both", t.Name)
	}
	if secrets == nil {
		return Credentials{}, false, fmt.Errorf("the server was given no values for trunk credentials (%s, %s)", t.Username, t.Password)
	}
	user, uok := t.Login, true // a username written as text in the site
	if t.Login == "" {
		user, uok = secrets.TrunkSecret(t.Username)
	}
	pass, pok := secrets.TrunkSecret(t.Password)
	var missing []string
	if !uok {
		missing = append(missing, string(t.Username))
	}
	if !pok {
		missing = append(missing, string(t.Password))
	}
	if len(missing) > 0 {
		return Credentials{}, false, fmt.Errorf("no value for %s: set it with -var, -var-file or SWITCHBOARD_VAR_<name>", strings.Join(missing, " and "))
	}
	return Credentials{username: user, password: pass}, true, nil
}

// Transport is t's transport as sipgo names it: UDP, TCP or TLS.
func Transport(t *ir.Trunk) string {
	switch strings.ToLower(t.Transport) {
	case "tcp":
		return "TCP"
	case "tls":
		return "TLS"
	}
	return "UDP"
}

// HostPort is the carrier as the site names it, for logs: host:port, or
// the host alone when no port is written (DNS SRV decides, Target).
func HostPort(t *ir.Trunk) string {
	if t.Port == 0 {
		return t.Host
	}
	return net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
}

// Target is t's address as package sipdns locates it: the servers to try,
// in order (RFC 3263 §4).
func Target(t *ir.Trunk) sipdns.Target {
	return sipdns.Target{Host: t.Host, Port: t.Port, Transport: Transport(t)}
}

// Servers returns where requests to t go, best first: the addresses
// package sipdns locates (RFC 3263 §4), as host:port. Over TLS it is the
// carrier's name as written, at its port (5061 when none is written), and
// nothing else: sipgo checks the server's certificate against the name it
// is given to connect to, and RFC 5922 §4 has that be the carrier's
// domain — not an address, nor an SRV target's name, that DNS could have
// been made to give. So a TLS trunk is neither looked up by SRV nor failed
// over (sipgo resolves its name).
func Servers(ctx context.Context, loc sipdns.Locator, t *ir.Trunk) ([]string, error) {
	if Transport(t) == "TLS" {
		port := t.Port
		if port == 0 {
			port = sip.DefaultPort("tls")
		}
		return []string{net.JoinHostPort(t.Host, strconv.Itoa(port))}, nil
	}
	found, err := loc.Locate(ctx, Target(t))
	if err != nil {
		return nil, err
	}
	out := make([]string, len(found))
	for i, ap := range found {
		out[i] = ap.String()
	}
	return out, nil
}

// TryNext is how long a request to one of a carrier's servers waits for
// any response before the next server is tried (RFC 3263 §4.3 fails over
// on a transaction timeout, which is 32 s: a caller would hear silence
// that long). A carrier answers INVITE with 100 Trying within 200 ms (RFC
// 3261 §16.2), so 4 s of silence means the server is gone. The last server
// gets the whole transaction time.
const TryNext = 4 * time.Second

// URI is sip:user@host:port at the carrier, with the transport
// parameter when it is not UDP (RFC 3263: the URI says how to reach it).
// Without a port written the URI carries none: the carrier's name stands
// for the service its SRV records describe.
func URI(t *ir.Trunk, user string) sip.Uri {
	u := sip.Uri{Scheme: "sip", User: user, Host: t.Host, Port: t.Port}
	if tr := Transport(t); tr != "UDP" {
		u.UriParams = sip.NewParams()
		u.UriParams.Add("transport", sip.NetworkToLower(tr))
	}
	return u
}

// errNoChallenge is a 401/407 without a digest challenge we can answer.
var errNoChallenge = errors.New("no digest challenge that can be answered (algorithm or qop not supported)")

// Authorize adds to req the credentials answering res, a 401 or 407. A
// carrier may offer several challenges, most preferred first (RFC 8760
// §2.4: SHA-256 before MD5); the first one we can answer is taken, where
// sipgo's DoDigestAuth would read only the first. The hashing is
// icholy/digest's, which sipgo uses too.
func Authorize(req *sip.Request, res *sip.Response, cred Credentials) error {
	chName, crName := "WWW-Authenticate", "Authorization"
	if res.StatusCode == sip.StatusProxyAuthRequired {
		chName, crName = "Proxy-Authenticate", "Proxy-Authorization"
	}
	for _, h := range res.GetHeaders(chName) {
		chal, err := digest.ParseChallenge(h.Value())
		if err != nil {
			continue
		}
		chal.Algorithm = strings.ToUpper(chal.Algorithm)
		if !digest.CanDigest(chal) {
			continue
		}
		c, err := digest.Digest(chal, digest.Options{
			Method: string(req.Method), URI: req.Recipient.Addr(),
			Username: cred.username, Password: cred.password, Count: 1,
		})
		if err != nil {
			continue
		}
		for req.RemoveHeader(crName) {
		}
		req.AppendHeader(sip.NewHeader(crName, c.String()))
		return nil
	}
	return errNoChallenge
}

// challengeStale reports whether a challenge says the nonce answered was
// stale (RFC 7616 §3.3): the credentials were right.
func challengeStale(res *sip.Response) bool {
	name := "WWW-Authenticate"
	if res.StatusCode == sip.StatusProxyAuthRequired {
		name = "Proxy-Authenticate"
	}
	for _, h := range res.GetHeaders(name) {
		if chal, err := digest.ParseChallenge(h.Value()); err == nil && chal.Stale {
			return true
		}
	}
	return false
}

// IsChallenge reports whether res asks for digest credentials.
func IsChallenge(res *sip.Response) bool {
	return res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired
}
