package sipstack

import (
	"net"
	"net/netip"
)

// sourceOf is src.String(), the source of a datagram as the answers and
// the registrar name it (host:port), made in one allocation: a
// *net.UDPAddr's String makes three (the address, the port, the two
// joined), and every REGISTER and challenge needs it. Anything but a
// plain IPv4 or IPv6 UDP address (a zone, no address, a port out of
// range) is src.String() itself.
func sourceOf(src net.Addr) string {
	a, ok := src.(*net.UDPAddr)
	if !ok || a.Zone != "" || a.Port < 0 || a.Port > 0xffff {
		return src.String()
	}
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok {
		return src.String()
	}
	// net.IP writes an IPv4-mapped address as IPv4.
	var buf [len("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")]byte
	return string(netip.AddrPortFrom(ip.Unmap(), uint16(a.Port)).AppendTo(buf[:0]))
}
