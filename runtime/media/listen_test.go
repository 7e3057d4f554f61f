package media

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// fakeNet is a minimal in-memory datagram network for Config.Listen: the
// relay must work over any PacketConn, as the simulator runs it in memory.
type fakeNet struct {
	mu     sync.Mutex
	conns  map[netip.AddrPort]*fakeConn
	next   uint16
	listen []netip.AddrPort // every address asked for
}

type fakePacket struct {
	b    []byte
	from netip.AddrPort
}

type fakeConn struct {
	n      *fakeNet
	addr   netip.AddrPort
	in     chan fakePacket
	closed chan struct{}
	once   sync.Once
}

func newFakeNet() *fakeNet { return &fakeNet{conns: map[netip.AddrPort]*fakeConn{}, next: 20000} }

func (n *fakeNet) Listen(laddr netip.AddrPort) (PacketConn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.listen = append(n.listen, laddr)
	if laddr.Port() == 0 {
		n.next++
		laddr = netip.AddrPortFrom(laddr.Addr(), n.next)
	}
	if _, used := n.conns[laddr]; used {
		return nil, fmt.Errorf("fake: %v in use", laddr)
	}
	c := &fakeConn{n: n, addr: laddr, in: make(chan fakePacket, 64), closed: make(chan struct{})}
	n.conns[laddr] = c
	return c, nil
}

func (n *fakeNet) open() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.conns)
}

func (c *fakeConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	select {
	case p := <-c.in:
		return copy(b, p.b), p.from, nil
	case <-c.closed:
		return 0, netip.AddrPort{}, net.ErrClosed
	}
}

func (c *fakeConn) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	c.n.mu.Lock()
	dst := c.n.conns[to]
	c.n.mu.Unlock()
	if dst != nil {
		select {
		case dst.in <- fakePacket{b: bytes.Clone(b), from: c.addr}:
		default:
		}
	}
	return len(b), nil
}

func (c *fakeConn) LocalAddr() net.Addr { return net.UDPAddrFromAddrPort(c.addr) }

func (c *fakeConn) Close() error {
	err := net.ErrClosed
	c.once.Do(func() {
		err = nil
		close(c.closed)
		c.n.mu.Lock()
		delete(c.n.conns, c.addr)
		c.n.mu.Unlock()
	})
	return err
}

func (c *fakeConn) recv(t *testing.T) ([]byte, netip.AddrPort) {
	t.Helper()
	buf := make([]byte, 2048)
	select {
	case p := <-c.in:
		return buf[:copy(buf, p.b)], p.from
	case <-time.After(5 * time.Second):
		t.Fatalf("%v: no packet", c.addr)
	}
	return nil, netip.AddrPort{}
}

// The relay opens every socket through Config.Listen, relays and reads
// DTMF over whatever it returns, and closes them all.
func TestRelayListen(t *testing.T) {
	n := newFakeNet()
	var mu sync.Mutex
	var digits []rune
	r, err := NewRelay(Config{
		IP: loopback, Listen: n.Listen,
		OnDigit: func(_ Side, d rune, _ time.Time) { mu.Lock(); digits = append(digits, d); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	pc, _ := n.Listen(netip.AddrPortFrom(loopback, 0))
	qc, _ := n.Listen(netip.AddrPortFrom(loopback, 0))
	caller, callee := pc.(*fakeConn), qc.(*fakeConn)
	if err := r.SetOffer(sdpFor(caller.addr, netip.AddrPort{})); err != nil {
		t.Fatal(err)
	}
	leg, offer, err := r.NewLeg()
	if err != nil {
		t.Fatal(err)
	}
	answer, err := leg.Answer(sdpFor(callee.addr, netip.AddrPort{}))
	if err != nil {
		t.Fatal(err)
	}
	toCaller, toCallee := relayAddrs(t, answer)[0].rtp, relayAddrs(t, offer)[0].rtp

	audio := rtpPacket(t, 8, 1, bytes.Repeat([]byte{0xd5}, 160))
	caller.WriteToUDPAddrPort(audio, toCaller)
	if got, from := callee.recv(t); !bytes.Equal(got, audio) || from != toCallee {
		t.Errorf("callee got %x from %v, want the audio from %v", got, from, toCallee)
	}
	// "#" from the callee, relayed to the door station and heard.
	for _, p := range keyPress(t, 10, 8000, 11) {
		callee.WriteToUDPAddrPort(p, toCallee)
		caller.recv(t)
	}
	mu.Lock()
	got := string(digits)
	mu.Unlock()
	if got != "#" {
		t.Errorf("digits %q, want %q", got, "#")
	}

	if len(n.listen) < 2+4 { // the endpoints, then RTP and RTCP for each side
		t.Errorf("Listen was asked for %v; want the relay's sockets too", n.listen)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if open := n.open(); open != 2 {
		t.Errorf("%d sockets open after Close; want only the two endpoints'", open)
	}
}

// A port range is asked of Listen port by port, and its errors are
// skipped like a port in use.
func TestRelayListenPortRange(t *testing.T) {
	n := newFakeNet()
	busy := netip.AddrPortFrom(loopback, 30002)
	if _, err := n.Listen(busy); err != nil { // the first pair's RTP port is taken
		t.Fatal(err)
	}
	n.listen = nil
	// Three pairs, the first one's RTP port busy: a caller and a callee
	// pair fit in the other two.
	r, err := NewRelay(Config{IP: loopback, Listen: n.Listen, PortMin: 30002, PortMax: 30007})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	offer, err := r.Offer(sdpFor(netip.AddrPortFrom(loopback, 9), netip.AddrPort{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range n.listen {
		if a.Port() < 30002 || a.Port() > 30007 {
			t.Errorf("Listen asked for %v, outside the range", a)
		}
	}
	if d := relayAddrs(t, offer)[0]; d.rtp.Port() == 30002 || d.rtp.Port()%2 != 0 || d.rtcp.Port() != d.rtp.Port()+1 {
		t.Errorf("callee side on ports %d/%d; want a free even/odd pair", d.rtp.Port(), d.rtcp.Port())
	}
	third, err := NewRelay(Config{IP: loopback, Listen: n.Listen, PortMin: 30002, PortMax: 30007})
	if err != nil {
		t.Fatal(err)
	}
	if err := third.SetOffer(sdpFor(netip.AddrPortFrom(loopback, 9), netip.AddrPort{})); !errors.Is(err, ErrNoPorts) {
		t.Errorf("SetOffer with the range taken: %v, want ErrNoPorts", err)
	}
}
