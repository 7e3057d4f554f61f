package b2bua

import (
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// contactHeader is our Contact toward the peer at host:port reaching us
// over transport (UDP when empty).
func (s *Server) contactHeader(peer, transport string) *sip.ContactHeader {
	return &sip.ContactHeader{Address: s.contactURI("", transport, peer)}
}

// contactURI is our address for the peer at remote reaching us over
// transport: the listener of that transport (else the UDP one, else any),
// with ;transport= when it is not UDP. Served on every interface (0.0.0.0,
// ::), the host is the address of ours the peer's packets reach — the one
// the kernel sends from toward it: the peer sends its ACK, BYE and
// re-INVITEs there, and 0.0.0.0 would make it send them to itself.
func (s *Server) contactURI(user, transport, remote string) sip.Uri {
	transport = strings.ToUpper(transport)
	if transport == "" {
		transport = "UDP"
	}
	host, port, listened := s.hostPort(transport)
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip = ip.Unmap(); ip.IsUnspecified() {
			ip = s.localToward(remote)
		}
		host = ip.String()
	}
	u := sip.Uri{Scheme: "sip", User: user, Host: host, Port: port}
	if listened != "UDP" {
		u.UriParams = sip.NewParams()
		u.UriParams.Add("transport", strings.ToLower(listened))
	}
	return u
}

// localToward is localIPToward, remembered per peer address: a route
// lookup is a socket and a connect, and a peer is answered many times.
func (s *Server) localToward(peer string) netip.Addr {
	ap, err := netip.ParseAddrPort(peer)
	if err != nil {
		return localIPToward(peer)
	}
	ip := ap.Addr().Unmap()
	if v, ok := s.toward.Load(ip); ok {
		return v.(netip.Addr)
	}
	local := localIPToward(peer)
	if s.towardN.Add(1) > maxToward {
		// Sources are the site's devices and carriers; many more than
		// that is somebody spraying requests: start over rather than grow.
		s.toward.Clear()
		s.towardN.Store(1)
	}
	s.toward.Store(ip, local)
	return local
}

// maxToward bounds the addresses localToward remembers.
const maxToward = 4096

// hostIP is the IP of a host:port (a request's source, a contact's
// destination); invalid for a host name, which then tells the media relay
// nothing and leaves it the SDP's address.
func hostIP(hostport string) netip.Addr {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// dest is where requests to the contact go: the address its registration
// came from, else its URI's host and port.
func (ct Contact) dest() string {
	if ct.Dest != "" {
		return ct.Dest
	}
	port := ct.URI.Port
	if port == 0 {
		port = 5060
	}
	// sipgo keeps an IPv6 host in its brackets; JoinHostPort adds them.
	host := strings.TrimSuffix(strings.TrimPrefix(ct.URI.Host, "["), "]")
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// direct reports whether requests to the contact reach the address its
// URI names: no NAT or edge proxy between (its registration came from
// that address, or from nowhere recorded, and no Path). Only then may a
// large request try TCP (package sipstack's Oversize); otherwise the
// only way in is the flow the registration came through.
func (ct Contact) direct() bool {
	if len(ct.Path) > 0 {
		return false
	}
	if ct.Dest == "" {
		return true
	}
	a, err := netip.ParseAddrPort(ct.Dest)
	if err != nil {
		return false
	}
	port := ct.URI.Port
	if port == 0 {
		port = 5060
	}
	host := strings.TrimSuffix(strings.TrimPrefix(ct.URI.Host, "["), "]")
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap() == a.Addr().Unmap() && port == int(a.Port())
}

// defaultRouteProbe is an address the routing table sends by the default
// route (TEST-NET-3; a connected UDP socket sends nothing to it).
const defaultRouteProbe = "203.0.113.1:9"

// localIPToward is the address this host sends from to reach remote
// (host:port): a connected UDP socket learns it from the routing table
// without sending anything.
func localIPToward(remote string) netip.Addr {
	c, err := net.Dial("udp", remote)
	if err != nil {
		return netip.IPv4Unspecified()
	}
	defer c.Close()
	if ap, err := netip.ParseAddrPort(c.LocalAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.IPv4Unspecified()
}
