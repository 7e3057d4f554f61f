package sipstack

import (
	"net"
	"testing"
)

// sourceOf names a datagram's source exactly as its String does.
func TestSourceOf(t *testing.T) {
	for _, a := range []net.Addr{
		&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060},
		&net.UDPAddr{IP: net.IP{10, 0, 0, 5}, Port: 1},
		&net.UDPAddr{IP: net.ParseIP("::1"), Port: 65535},
		&net.UDPAddr{IP: net.ParseIP("2001:db8::5:0:0:1"), Port: 0},
		&net.UDPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 5070},
		&net.UDPAddr{IP: net.ParseIP("fe80::1"), Port: 5060, Zone: "eth0"},
		&net.UDPAddr{IP: net.ParseIP("::"), Port: 5060},
		&net.UDPAddr{Port: 5060},
		&net.UDPAddr{IP: net.IP{1, 2, 3}, Port: 5060},
		&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 70000},
		&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060},
	} {
		if got, want := sourceOf(a), a.String(); got != want {
			t.Errorf("sourceOf(%#v) = %q, want %q", a, got, want)
		}
	}
}

// FuzzSourceOf: any UDP address, as the udp package or the net package
// makes them, is named as its String names it.
func FuzzSourceOf(f *testing.F) {
	f.Add([]byte{127, 0, 0, 1}, 5060, "")
	f.Add([]byte(net.ParseIP("::ffff:10.0.0.1")), 0, "")
	f.Add([]byte(net.ParseIP("2001:db8::1")), 65535, "")
	f.Add([]byte(net.ParseIP("fe80::1")), 5060, "eth0")
	f.Fuzz(func(t *testing.T, ip []byte, port int, zone string) {
		a := &net.UDPAddr{IP: ip, Port: port, Zone: zone}
		if got, want := sourceOf(a), a.String(); got != want {
			t.Errorf("sourceOf(%#v) = %q, want %q", a, got, want)
		}
	})
}
