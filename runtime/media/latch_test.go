package media

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// The attack of issue 13: a stranger sends one packet to the caller-side
// port before the caller's first. Latching it would give the stranger the
// callee's audio and leave the caller, behind NAT, with none.
func TestRelayStrangerBeforeCaller(t *testing.T) {
	var w readers
	r := newTestRelay(t, Config{Listen: w.listen})
	caller, callee := newEndpoint(t), newEndpoint(t)
	stranger := newEndpointAt(t, strangerIP)
	if err := r.SetOffer(sdpFor(caller.addr(), netip.AddrPort{}), loopback); err != nil {
		t.Fatal(err)
	}
	leg, offer, err := r.NewLeg(loopback)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := leg.Answer(sdpFor(callee.addr(), netip.AddrPort{}))
	if err != nil {
		t.Fatal(err)
	}
	toCallee, toCaller := relayAddrs(t, offer)[0].rtp, relayAddrs(t, answer)[0].rtp

	stranger.send(toCaller, rtpPacket(t, 8, 1, []byte("let me in")))
	stranger.send(toCallee, rtpPacket(t, 8, 2, []byte("and here")))
	waitStats(t, &w, r, func(s Stats) bool { return s.Dropped == 2 })
	caller.send(toCaller, rtpPacket(t, 8, 3, []byte("hello")))
	callee.expect(rtpPacket(t, 8, 3, []byte("hello")))
	for i := range 10 {
		p := rtpPacket(t, 8, uint16(100+i), []byte(fmt.Sprintf("callee audio %d", i)))
		callee.send(toCallee, p)
		caller.expect(p)
	}
	stranger.expectNothing()
	if s := r.Stats(); s.Forwarded != 11 || s.Dropped != 2 {
		t.Errorf("Stats = %+v, want 11 forwarded, 2 dropped", s)
	}
}

// Devices behind NAT: the SDP names a private address (here one on
// loopback that nothing listens on), the packets come from the IP the
// signalling came from, on another port. The relay sends to where they
// come from.
func TestRelayNATParties(t *testing.T) {
	private := netip.MustParseAddr("127.255.0.1")
	tests := []struct {
		name string
		via  []netip.Addr // the caller's and callee's signalling IP
		want bool         // whether media flows
	}{
		{"signalling IP allowed", []netip.Addr{loopback}, true},
		{"mapped signalling IP allowed", []netip.Addr{netip.AddrFrom16(loopback.As16())}, true},
		{"no signalling IP: only the SDP's", nil, false},
		{"other signalling IP", []netip.Addr{strangerIP}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w readers
			r := newTestRelay(t, Config{Listen: w.listen})
			caller, callee := newEndpoint(t), newEndpoint(t)
			if err := r.SetOffer(sdpFor(netip.AddrPortFrom(private, 4000), netip.AddrPort{}), tt.via...); err != nil {
				t.Fatal(err)
			}
			leg, offer, err := r.NewLeg(tt.via...)
			if err != nil {
				t.Fatal(err)
			}
			answer, err := leg.Answer(sdpFor(netip.AddrPortFrom(private, 4002), netip.AddrPort{}))
			if err != nil {
				t.Fatal(err)
			}
			toCallee, toCaller := relayAddrs(t, offer)[0].rtp, relayAddrs(t, answer)[0].rtp
			// Both send first, as phones do; the relay learns from that.
			// The callee's packet goes to the caller's SDP address (lost:
			// the caller has not sent yet) and latches the callee, whose
			// socket then has the caller's.
			a, b := rtpPacket(t, 8, 1, []byte("caller")), rtpPacket(t, 8, 2, []byte("callee"))
			callee.send(toCallee, b)
			if !tt.want {
				caller.send(toCaller, a)
				waitStats(t, &w, r, func(s Stats) bool { return s.Dropped == 2 })
				caller.expectNothing()
				callee.expectNothing()
				return
			}
			waitStats(t, &w, r, func(s Stats) bool { return s.Forwarded == 1 })
			caller.send(toCaller, a)
			callee.expect(a)
			c := rtpPacket(t, 8, 3, []byte("callee again"))
			callee.send(toCallee, c)
			caller.expect(c)
		})
	}
}

// The server's own endpoint (voicemail, conferences) latches by the same
// rule: a stranger's packet before the caller's neither takes the
// greeting nor reaches the mailbox.
func TestEndpointStrangerBeforeCaller(t *testing.T) {
	caller := newEndpoint(t)
	stranger := newEndpointAt(t, strangerIP)
	natted := newEndpoint(t) // the caller's NAT: its IP, another port
	var w readers
	e := NewEndpoint(Config{IP: loopback, Listen: w.listen})
	t.Cleanup(func() { e.Close() })
	ans, err := e.Answer(sdpFor(netip.AddrPortFrom(netip.MustParseAddr("127.255.0.1"), 4000), netip.AddrPort{}), loopback)
	if err != nil {
		t.Fatal(err)
	}
	to := relayAddrs(t, ans)[0].rtp
	frame := make([]int16, 160)

	stranger.send(to, rtpPacket(t, 8, 1, bytes.Repeat([]byte{0x55}, 160)))
	w.until(t, func() bool { return e.Dropped() == 1 }, func() string { return fmt.Sprintf("Dropped = %d", e.Dropped()) })
	// The caller, behind NAT, sends from its signalling IP: the endpoint
	// hears it and answers there.
	caller.send(to, rtpPacket(t, 8, 2, bytes.Repeat([]byte{0xd5}, 160)))
	select {
	case f := <-e.Frames():
		if f.Seq != 2 {
			t.Errorf("the endpoint heard packet %d, want the caller's 2", f.Seq)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the caller's packet was not heard")
	}
	for range 3 {
		if err := e.Send(frame); err != nil {
			t.Fatal(err)
		}
		caller.recv()
	}
	stranger.expectNothing()
	natted.send(to, rtpPacket(t, 8, 3, bytes.Repeat([]byte{0xd5}, 160)))
	<-e.Frames()
	if err := e.Send(frame); err != nil {
		t.Fatal(err)
	}
	natted.recv() // a new port of the caller's IP: its NAT rebound
	if got := e.Dropped(); got != 1 {
		t.Errorf("Dropped = %d, want the stranger's 1", got)
	}
}
