package b2bua

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/ir"
	"switchboard/runtime/carrier"
	"switchboard/runtime/routing"
	"switchboard/runtime/sipstack"
)

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
// the carrier (username; empty for an IP-authenticated trunk), else
// "anonymous" (RFC 3323): never the caller's account name, which is the
// site's own business.
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
	return "anonymous"
}

// callerName is the display name a call out presents for caller (an IR
// account): its user's name when the account is a person's (their app,
// their desk phone), else the site's name (empty when it has none). Never
// the account's own display name — a device's is where it hangs ("Studio,
// bench 1"), which is nobody's business outside the site — and never what
// the caller's From said.
func callerName(p *ir.Program, caller string) string {
	if a := p.Account(caller); a != nil && a.Owner.Kind == ir.RefUser {
		if u := p.User(a.Owner.Name); u != nil {
			return u.DisplayName
		}
	}
	return p.Site.DisplayName
}

// carrierStack is the server as carrier registrations use it.
type carrierStack struct{ s *Server }

func (c carrierStack) Send(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	return sipstack.Do(ctx, c.s.client(), req, c.s.trunkBuild)
}

func (c carrierStack) Contact(user, transport, remote string) sip.Uri {
	return c.s.trunkContact(user, transport, remote)
}

// Ready reports whether requests to a carrier over transport can be
// sent: over UDP once sipgo reads from the UDP listener (they must leave
// from it), over TCP and TLS once the client exists.
func (c carrierStack) Ready(transport string) bool {
	s := c.s
	if transport == "UDP" {
		_, ok := s.listenerAddr("UDP")
		return ok
	}
	s.hostMu.Lock()
	defer s.hostMu.Unlock()
	return s.client() != nil
}

// syncTrunks makes the registrations at carriers match the running
// configuration.
func (s *Server) syncTrunks() {
	st := s.st()
	s.trunks.Sync(st.program, trunkSecrets(st.secrets))
}

// trunkSecrets are the trunks' credentials among secrets, if any.
func trunkSecrets(secrets Secrets) carrier.TrunkSecrets {
	ts, _ := secrets.(carrier.TrunkSecrets)
	return ts
}
