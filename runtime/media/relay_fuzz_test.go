package media

import (
	"bytes"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// memConn is an in-memory relay socket: reads block until Close, writes
// are kept. The fuzz target hands packets to the relay's ports itself.
type memConn struct {
	addr   netip.AddrPort
	mu     sync.Mutex
	sent   []sentPacket
	closed chan struct{}
	once   sync.Once
}

type sentPacket struct {
	data []byte
	to   netip.AddrPort
}

func (c *memConn) ReadFromUDPAddrPort([]byte) (int, netip.AddrPort, error) {
	<-c.closed
	return 0, netip.AddrPort{}, net.ErrClosed
}

func (c *memConn) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, sentPacket{bytes.Clone(b), to})
	return len(b), nil
}

func (c *memConn) LocalAddr() net.Addr { return net.UDPAddrFromAddrPort(c.addr) }
func (c *memConn) Close() error        { c.once.Do(func() { close(c.closed) }); return nil }

func (c *memConn) take() []sentPacket {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sent
	c.sent = nil
	return s
}

// FuzzRelayPacket sends fuzzed datagrams from fuzzed sources to the four
// sockets of an established call (caller and callee side, RTP and RTCP):
// RTP, RTCP, RFC 4733 events and junk alike. Each packet is counted once,
// forwarded or dropped; a forwarded one leaves unchanged by the socket of
// the same kind facing the other party, to an address that party's SDP
// gave or it sent from; a packet from an IP other than its party's (the
// SDP's here: the call has no signalling addresses) is never forwarded,
// while the party's IP from any port is (a NAT picks ports) and takes the
// latch; and only real digits are reported.
func FuzzRelayPacket(f *testing.F) {
	// Each packet: one byte choosing the port (bits 0-1) and the source
	// (bits 2-3), one byte of length, then the datagram.
	rec := func(sel byte, pkt []byte) []byte { return append([]byte{sel, byte(len(pkt))}, pkt...) }
	event := []byte{0x80, 101, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 11, 0x8a, 0x03, 0x20}
	audio := append([]byte{0x80, 8, 0, 2, 0, 0, 0, 160, 0, 0, 0, 1}, bytes.Repeat([]byte{0xd5}, 20)...)
	rtcp := []byte{0x81, 201, 0, 7, 0, 0, 0, 1}
	f.Add(bytes.Join([][]byte{rec(0, audio), rec(2, audio), rec(0, event), rec(2, event)}, nil))
	f.Add(bytes.Join([][]byte{rec(0b1000, audio), rec(0, audio), rec(0b1100, audio)}, nil)) // a stranger first
	f.Add(bytes.Join([][]byte{rec(1, rtcp), rec(3, []byte{0x81, 201, 0xff, 0xff}), rec(0, nil), rec(0, []byte{0x80})}, nil))
	f.Add(bytes.Join([][]byte{rec(2, event), rec(2, event), rec(2, append(event[:15:15], 0xa0))}, nil))

	callerAddr := netip.MustParseAddrPort("192.0.2.10:4000")
	calleeAddr := netip.MustParseAddrPort("192.0.2.20:5000")
	// A stranger, and the caller's IP from another port (a NAT's new
	// mapping: the caller's own at the caller's ports, a stranger at the
	// callee's).
	strangers := []netip.AddrPort{netip.MustParseAddrPort("198.51.100.66:6666"), netip.MustParseAddrPort("192.0.2.10:4002")}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 2048 {
			return // a call's worth of packets is enough to tell
		}
		var conns sync.Map // netip.AddrPort -> *memConn
		next := uint16(40000)
		var mu sync.Mutex
		var digits []rune
		r, err := NewRelay(Config{IP: loopback,
			Listen: func(netip.AddrPort) (PacketConn, error) {
				mu.Lock()
				defer mu.Unlock()
				c := &memConn{addr: netip.AddrPortFrom(loopback, next), closed: make(chan struct{})}
				next++
				conns.Store(c.addr, c)
				return c, nil
			},
			OnDigit: func(_ Side, d rune, _ time.Time) {
				mu.Lock()
				digits = append(digits, d)
				mu.Unlock()
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if err := r.SetOffer(sdpFor(callerAddr, netip.AddrPort{})); err != nil {
			t.Fatal(err)
		}
		leg, _, err := r.NewLeg()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := leg.Answer(sdpFor(calleeAddr, netip.AddrPort{})); err != nil {
			t.Fatal(err)
		}
		cg, eg := r.caller.group(0), leg.group(0)
		if cg == nil || eg == nil || cg.rtcp == nil || eg.rtcp == nil {
			t.Fatal("the call has no audio sockets")
		}
		// ports[i] faces party[i]; a packet to it leaves by ports[i^2].
		ports := []*port{cg.rtp, cg.rtcp, eg.rtp, eg.rtcp}
		sdpOf := []netip.AddrPort{callerAddr, callerAddr, calleeAddr, calleeAddr}
		sdpOf[1] = netip.AddrPortFrom(callerAddr.Addr(), callerAddr.Port()+1)
		sdpOf[3] = netip.AddrPortFrom(calleeAddr.Addr(), calleeAddr.Port()+1)
		latched := make([]netip.AddrPort, len(ports)) // the model of each port's latch
		for len(data) >= 2 {
			sel, n := data[0], int(data[1])
			data = data[2:]
			pkt := data[:min(n, len(data))]
			data = data[len(pkt):]
			i := int(sel & 3)
			var src netip.AddrPort
			switch (sel >> 2) & 3 {
			case 0, 1:
				src = sdpOf[i] // the party itself
			case 2:
				src = strangers[0]
			case 3:
				src = strangers[1]
			}
			before := r.Stats()
			ports[i].handle(pkt, src)
			after := r.Stats()
			if after.Forwarded+after.Dropped != before.Forwarded+before.Dropped+1 {
				t.Fatalf("one packet counted as %+v after %+v", after, before)
			}
			// The model: the party's IP, from any port, is accepted and
			// takes the latch; any other IP is refused.
			accepted := src.Addr() == sdpOf[i].Addr()
			if accepted {
				latched[i] = src
			}
			out := ports[i^2].conn.(*memConn).take()
			for _, p := range ports {
				if p != ports[i^2] {
					if s := p.conn.(*memConn).take(); len(s) > 0 {
						t.Fatalf("port %d sent %d packets for a packet to port %d", p.num, len(s), ports[i].num)
					}
				}
			}
			if after.Forwarded == before.Forwarded {
				if len(out) != 0 {
					t.Fatalf("a dropped packet was sent")
				}
				continue
			}
			if !accepted {
				t.Fatalf("packet %x to port %d from %v (latched %v) forwarded", pkt, ports[i].num, src, latched[i])
			}
			if len(out) != 1 || !bytes.Equal(out[0].data, pkt) {
				t.Fatalf("forwarded %v, want %x once", out, pkt)
			}
			if to := out[0].to; to != sdpOf[i^2] && to != latched[i^2] {
				t.Fatalf("forwarded to %v, neither the other party's SDP address %v nor its latched %v", to, sdpOf[i^2], latched[i^2])
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for _, d := range digits {
			if !bytes.ContainsRune([]byte("0123456789*#ABCD"), d) {
				t.Fatalf("digit %q", d)
			}
		}
	})
}
