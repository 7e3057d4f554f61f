package b2bua

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"switchboard/compiler/ir"
	"switchboard/runtime/routing"
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

// trunkCredentials are a trunk's digest credentials at its carrier.
type trunkCredentials struct {
	username, password string
}

// String keeps the password out of any log line or error that formats
// the credentials by mistake.
func (c trunkCredentials) String() string { return "trunk credentials (not shown)" }

// resolveTrunkCredentials returns the credentials of t. ok is false and err
// nil for a trunk without credentials: the carrier knows the server by its
// address (IP authentication). err says which reference could not be read,
// never a value.
func resolveTrunkCredentials(t *ir.Trunk, secrets Secrets) (cred trunkCredentials, ok bool, err error) {
	if t.Username == "" && t.Password == "" {
		return trunkCredentials{}, false, nil
	}
	if t.Username == "" || t.Password == "" {
		return trunkCredentials{}, false, fmt.Errorf("trunk %q has a username or a password but not both", t.Name)
	}
	ts, _ := secrets.(TrunkSecrets)
	if ts == nil {
		return trunkCredentials{}, false, fmt.Errorf("the server was given no values for trunk credentials (%s, %s)", t.Username, t.Password)
	}
	user, uok := ts.TrunkSecret(t.Username)
	pass, pok := ts.TrunkSecret(t.Password)
	var missing []string
	if !uok {
		missing = append(missing, string(t.Username))
	}
	if !pok {
		missing = append(missing, string(t.Password))
	}
	if len(missing) > 0 {
		return trunkCredentials{}, false, fmt.Errorf("no value for %s: set it with -var, -var-file or SWITCHBOARD_VAR_<name>", strings.Join(missing, " and "))
	}
	return trunkCredentials{username: user, password: pass}, true, nil
}

// trunkTransport is t's transport as sipgo names it: UDP, TCP or TLS.
func trunkTransport(t *ir.Trunk) string {
	switch strings.ToLower(t.Transport) {
	case "tcp":
		return "TCP"
	case "tls":
		return "TLS"
	}
	return "UDP"
}

// trunkHostPort is where requests to t are sent.
func trunkHostPort(t *ir.Trunk) string {
	port := t.Port
	if port == 0 {
		port = sip.DefaultPort(sip.NetworkToLower(trunkTransport(t)))
	}
	return net.JoinHostPort(t.Host, strconv.Itoa(port))
}

// trunkURI is sip:user@host:port at the carrier, with the transport
// parameter when it is not UDP (RFC 3263: the URI says how to reach it).
func trunkURI(t *ir.Trunk, user string) sip.Uri {
	port := t.Port
	if port == 0 {
		port = sip.DefaultPort(sip.NetworkToLower(trunkTransport(t)))
	}
	u := sip.Uri{Scheme: "sip", User: user, Host: t.Host, Port: port}
	if tr := trunkTransport(t); tr != "UDP" {
		u.UriParams = sip.NewParams()
		u.UriParams.Add("transport", sip.NetworkToLower(tr))
	}
	return u
}

// trunkBuild completes a request to a carrier as sipgo's ClientRequestBuild
// does, then chooses the socket it leaves from: over UDP the listening
// socket, so that the carrier's responses and its calls to us come back
// through the binding (NAT, firewall pinhole) that our REGISTER opened;
// over TCP and TLS a connection of sipgo's own (the client's address is
// the UDP listener's, which TCP must not bind). Via asks for rport (RFC
// 3581) in case we are behind NAT.
func (s *Server) trunkBuild(c *sipgo.Client, r *sip.Request) error {
	if err := sipgo.ClientRequestBuild(c, r); err != nil {
		return err
	}
	return s.trunkSocket(r)
}

// trunkResend is trunkBuild for a request that already has its headers: a
// retry answering a challenge gets a new Via (a new transaction) and keeps
// the rest.
func (s *Server) trunkResend(c *sipgo.Client, r *sip.Request) error {
	if err := sipgo.ClientRequestAddVia(c, r); err != nil {
		return err
	}
	return s.trunkSocket(r)
}

// errNoUDPListener: without it a UDP request would leave from a socket
// sipgo opens for it, which the carrier's answers and calls never reach.
var errNoUDPListener = errors.New("the SIP UDP listener is not open")

func (s *Server) trunkSocket(r *sip.Request) error {
	r.Laddr = sip.Addr{}
	if v := r.Via(); v != nil && !v.Params.Has("rport") {
		v.Params.Add("rport", "")
	}
	tr := r.Transport()
	if tr == "UDP" {
		a, ok := s.listenerAddr("UDP")
		if !ok {
			return errNoUDPListener
		}
		r.Laddr = sip.Addr{IP: a.Addr().AsSlice(), Port: int(a.Port()), Hostname: a.Addr().String()}
		return nil
	}
	if _, ok := s.listenerAddr(tr); ok {
		return nil
	}
	// Over TCP or TLS without a listener of our own the carrier can reach
	// us only through the connection we open (as RFC 5626 flows do): the
	// Contact names that connection's address. sipgo opens it now and
	// keeps it in its pool, where the request will find it.
	ctx, cancel := context.WithTimeout(context.Background(), trunkDialTimeout)
	defer cancel()
	conn, err := s.ua.TransportLayer().ClientRequestConnection(ctx, r)
	if err != nil {
		return err
	}
	defer conn.TryClose()
	ap, err := netip.ParseAddrPort(conn.LocalAddr().String())
	if err != nil {
		return err
	}
	if ct := r.Contact(); ct != nil {
		ct.Address.Host, ct.Address.Port = ap.Addr().Unmap().String(), int(ap.Port())
		ct.Address.UriParams = sip.NewParams()
		ct.Address.UriParams.Add("transport", sip.NetworkToLower(tr))
	}
	return nil
}

// trunkDialTimeout bounds opening a TCP or TLS connection to a carrier.
const trunkDialTimeout = 10 * time.Second

// trunkContact is our address for a carrier reaching us over transport:
// contactURI's, but always naming the trunk's transport, even when we do
// not listen on it: the carrier then reaches us over the connection our
// REGISTER opened (TCP, TLS), and a TLS trunk stays encrypted.
func (s *Server) trunkContact(user, transport, remote string) sip.Uri {
	u := s.contactURI(user, transport, remote)
	u.UriParams = nil
	if t := strings.ToUpper(transport); t != "" && t != "UDP" {
		u.UriParams = sip.NewParams()
		u.UriParams.Add("transport", strings.ToLower(t))
	}
	return u
}

// errNoChallenge is a 401/407 without a digest challenge we can answer.
var errNoChallenge = errors.New("no digest challenge that can be answered (algorithm or qop not supported)")

// authorize adds to req the credentials answering res, a 401 or 407. A
// carrier may offer several challenges, most preferred first (RFC 8760
// §2.4: SHA-256 before MD5); the first one we can answer is taken, where
// sipgo's DoDigestAuth would read only the first. The hashing is
// icholy/digest's, which sipgo uses too.
func authorize(req *sip.Request, res *sip.Response, cred trunkCredentials) error {
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

// isChallenge reports whether res asks for digest credentials.
func isChallenge(res *sip.Response) bool {
	return res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired
}

// routeFromCarrier routes a call from a carrier's address: to the DDI it
// names, on whichever of the trunks at that address holds it (a site may
// have two accounts at one carrier). The number is the Request-URI's
// user, or the To's when the carrier addresses the INVITE to our contact
// (as a registered trunk may). It returns the trunk the call came in on:
// the one holding the number, else the first at the address.
func routeFromCarrier(r *routing.Router, trunks []string, req *sip.Request) (string, routing.Decision) {
	var first routing.Decision
	number, _ := dialled(req)
	for i, trunk := range trunks {
		dec := r.RouteDDI(trunk, number)
		if to := req.To(); dec.Kind == routing.Reject && to != nil && to.Address.User != "" && to.Address.User != number {
			if d := r.RouteDDI(trunk, to.Address.User); d.Kind != routing.Reject {
				dec = d
			}
		}
		if dec.Kind != routing.Reject {
			return trunk, dec
		}
		if i == 0 {
			first = dec
		}
	}
	return trunks[0], first
}

// callerID is the number a call out over trunk t presents for caller (an
// IR account): the DDI the caller's user has on that trunk, else the
// trunk's first number (its main number), else the trunk's account name at
// the carrier (username; empty for an IP-authenticated trunk), else the
// caller's own account name.
func callerID(p *ir.Program, caller string, t *ir.Trunk, username string) string {
	if a := p.Account(caller); a != nil && a.Owner.Kind == ir.RefUser {
		for _, d := range p.DDIs { // sorted: the user's lowest number
			if d.Trunk == t.Name && d.Target == a.Owner {
				return d.Number
			}
		}
	}
	if len(t.DDIs) > 0 {
		return t.DDIs[0]
	}
	if username != "" {
		return username
	}
	return caller
}
