package b2bua

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/ir"
)

// When TCP starts listening before UDP (serve -listen and -tcp start
// together), UDP requests must still leave from the UDP listener, and a
// UDP peer be given the UDP listener as Contact, a TCP peer the TCP one.
func TestListenersInEitherOrder(t *testing.T) {
	cur := Prepare(State{Program: &ir.Program{Site: ir.Site{Domain: "order.example"}}})
	s, err := New(Config{Current: func() *Prepared { return cur }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// ServeTCP makes its client before sipgo accepts: the first Accept
	// says it is there.
	accepting := make(chan struct{})
	go s.ServeTCP(ctx, &firstAccept{Listener: l, first: func() { close(accepting) }})
	waitClosed(t, accepting, "ServeTCP never accepted")
	tcpClient := s.client()
	if tcpClient == nil {
		t.Fatal("ServeTCP made no client")
	}

	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Likewise ServeUDP makes its client before sipgo first reads.
	reading := make(chan struct{})
	go s.ServeUDP(ctx, &firstRead{PacketConn: conn, first: func() { close(reading) }})
	waitClosed(t, reading, "ServeUDP never read its socket")
	if s.client() == tcpClient {
		t.Fatal("ServeUDP kept the client made without the UDP listening socket")
	}

	peer := "127.0.0.1:5062"
	if got, want := uriString(s.contactURI("", "UDP", peer)), "sip:"+conn.LocalAddr().String(); got != want {
		t.Errorf("Contact for a UDP peer = %s, want %s", got, want)
	}
	tcp := netip.MustParseAddrPort(l.Addr().String())
	if got, want := uriString(s.contactURI("", "TCP", peer)), "sip:"+tcp.String()+";transport=tcp"; got != want {
		t.Errorf("Contact for a TCP peer = %s, want %s", got, want)
	}
	if got, want := uriString(s.contactURI("", "TLS", peer)), "sip:"+conn.LocalAddr().String(); got != want {
		t.Errorf("Contact for a transport we do not serve = %s, want the UDP listener %s", got, want)
	}
	// A trunk's Contact names the trunk's transport even without a
	// listener for it: the carrier answers over our REGISTER's connection.
	if got, want := uriString(s.trunkContact("pbx", "TLS", peer)), "sip:pbx@"+conn.LocalAddr().String()+";transport=tls"; got != want {
		t.Errorf("a TLS trunk's Contact = %s, want %s", got, want)
	}
}

func uriString(u sip.Uri) string { return u.String() }

// A contact without the address its registration came from is reached at
// its URI's host and port, an IPv6 host too (sipgo keeps its brackets).
func TestContactDest(t *testing.T) {
	tests := []struct {
		contact Contact
		want    string
	}{
		{Contact{URI: sip.Uri{Scheme: "sip", Host: "192.0.2.1", Port: 5062}, Dest: "198.51.100.1:40000"}, "198.51.100.1:40000"},
		{Contact{URI: sip.Uri{Scheme: "sip", Host: "192.0.2.1"}}, "192.0.2.1:5060"},
		{Contact{URI: sip.Uri{Scheme: "sip", Host: "phone.example", Port: 5070}}, "phone.example:5070"},
		{Contact{URI: sip.Uri{Scheme: "sips", Host: "[2001:db8::1]"}}, "[2001:db8::1]:5060"},
		{Contact{URI: sip.Uri{Scheme: "sip", Host: "[2001:db8::1]", Port: 5062}}, "[2001:db8::1]:5062"},
	}
	for _, tt := range tests {
		if got := tt.contact.dest(); got != tt.want {
			t.Errorf("dest of %s = %q, want %q", tt.contact.URI.String(), got, tt.want)
		}
	}
}

// The UDP listener is known by the time the server handles its first
// datagram: a call out must leave from it (trunkSocket), and one that came
// in the server's first moments — before a goroutine recording the
// listener had run — failed with 480 ("the SIP UDP listener is not open";
// TestCallOutRefusedCredentials and TestCallOutCancelled failed so under
// load). The check runs where the first datagram would be read.
func TestUDPListenerKnownAtFirstRead(t *testing.T) {
	cur := Prepare(State{Program: &ir.Program{Site: ir.Site{Domain: "first.example"}}})
	s, err := New(Config{Current: func() *Prepared { return cur }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// One processor: a goroutine woken when the reader first reads (as
	// the listener's recorder once was) cannot run before the check
	// below, which comes next in the reading goroutine. With two, it ran
	// first in ~1.5 % of runs under -race and the old code passed.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	known := make(chan bool, 1)
	go s.ServeUDP(ctx, &firstRead{PacketConn: conn, first: func() {
		_, ok := s.listenerAddr("UDP")
		known <- ok
	}})
	select {
	case ok := <-known:
		if !ok {
			t.Error("the first datagram is read before the UDP listener is recorded: a call out in it cannot leave")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server never read its UDP socket")
	}
}

// waitClosed waits for ch to be closed, failing with msg after 10 s.
func waitClosed(t *testing.T, ch <-chan struct{}, msg string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal(msg)
	}
}

// firstAccept calls first when its first Accept begins.
type firstAccept struct {
	net.Listener
	once  sync.Once
	first func()
}

func (f *firstAccept) Accept() (net.Conn, error) {
	f.once.Do(f.first)
	return f.Listener.Accept()
}

// firstRead calls first when its first read begins.
type firstRead struct {
	net.PacketConn
	once  sync.Once
	first func()
}

func (f *firstRead) ReadFrom(b []byte) (int, net.Addr, error) {
	f.once.Do(f.first)
	return f.PacketConn.ReadFrom(b)
}
