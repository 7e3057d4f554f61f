package runtime

import (
	"net"
	"net/netip"
	"strconv"

	"github.com/emiago/sipgo/sip"
)

// contactHeader is our Contact toward the peer at host:port: the address
// we listen on or, serving on every interface (0.0.0.0, ::), the address
// of ours that the peer's packets reach — the one the kernel sends from
// toward it. The peer sends its ACK, BYE and re-INVITEs there; 0.0.0.0
// would make it send them to itself.
func (s *Server) contactHeader(peer string) *sip.ContactHeader {
	host, port := s.hostPort()
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		host = s.localToward(peer).String()
	}
	return &sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: host, Port: port}}
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

// contactPeer is where req goes: its destination, else its Request-URI.
func contactPeer(req *sip.Request) string {
	return req.Destination()
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
	return net.JoinHostPort(ct.URI.Host, strconv.Itoa(port))
}

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
