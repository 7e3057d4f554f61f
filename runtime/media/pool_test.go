package media

import (
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/media/mediatest"
)

// pooledCall is a relay from pool between a caller and one callee, with
// media flowing both ways; it returns the relay's ports, sorted, and the
// addresses each side sends to, and the ports of the callee-facing pair.
func pooledCall(t *testing.T, pool *SocketPool, caller, callee *endpoint) (r *Relay, ports []uint16, toCaller, toCallee netip.AddrPort, calleePair []uint16) {
	t.Helper()
	r = newTestRelay(t, Config{Pool: pool})
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
	toCallee, toCaller = relayAddrs(t, offer)[0].rtp, relayAddrs(t, answer)[0].rtp
	calleePair = []uint16{toCallee.Port(), relayAddrs(t, offer)[0].rtcp.Port()}
	slices.Sort(calleePair)
	for _, d := range append(relayAddrs(t, offer), relayAddrs(t, answer)...) {
		ports = append(ports, d.rtp.Port(), d.rtcp.Port())
	}
	slices.Sort(ports)
	// Media both ways: the sockets' readers run.
	caller.send(toCaller, []byte("from the caller"))
	callee.expect([]byte("from the caller"))
	callee.send(toCallee, []byte("from the callee"))
	caller.expect([]byte("from the callee"))
	return r, ports, toCaller, toCallee, calleePair
}

// A pool keeps a closed relay's sockets open and gives them to the next
// relay once they rested its quarantine; the next call's media flows
// through them. Within the quarantine the next relay opens sockets of
// its own; and a socket that received anything while it rested is
// closed, never handed out.
func TestRelaySocketsPooled(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	pool := newSocketPool(time.Second, time.Minute, 16, func() time.Time { return now })
	t.Cleanup(func() { pool.Close() })
	caller, callee := newEndpoint(t), newEndpoint(t)

	first, ports, toCaller, _, calleePair := pooledCall(t, pool, caller, callee)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if got := pool.Len(); got != len(ports) {
		t.Fatalf("%d sockets at rest after the relay closed, want its %d", got, len(ports))
	}
	// A straggler of the call that ended, in the caller's old socket.
	caller.send(toCaller, []byte("late, for the old call"))

	// Within the quarantine: new sockets, the pool untouched.
	second, ports2, _, _, _ := pooledCall(t, pool, caller, callee)
	for _, p := range ports2 {
		if slices.Contains(ports, p) {
			t.Errorf("port %d of the closed relay used again within the quarantine", p)
		}
	}
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}

	now = now.Add(2 * time.Second)
	third, got, _, _, _ := pooledCall(t, pool, caller, callee)
	defer third.Close()
	// The first relay's callee pair rested untouched and is used again;
	// its caller pair, which the straggler reached, is not.
	var reused []uint16
	for _, p := range got {
		if slices.Contains(ports, p) {
			reused = append(reused, p)
		}
	}
	if diff := cmp.Diff(calleePair, reused); diff != "" {
		t.Errorf("ports of the first relay the third uses (-its untouched pair +got):\n%s", diff)
	}
	if n := pool.Tainted(); n != 1 {
		t.Errorf("Tainted = %d, want 1", n)
	}
}

// The attack the first socket pool let through: a party of an ended call
// that keeps sending to its old relay port (it never heard the BYE) must
// not be latched into the next call on that socket, though it shares the
// new parties' IP (one NAT for a building, a carrier's media gateway).
// Every party here is on 127.0.0.1. With sockets emptied and handed out
// again, the old caller's stream reached the new call and took its latch
// (both ways); a socket that received anything during its rest must be
// closed instead.
func TestPooledSocketLateSenderNotLatched(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	pool := newSocketPool(time.Second, time.Minute, 16, func() time.Time { return now })
	t.Cleanup(func() { pool.Close() })
	oldCaller, oldCallee := newEndpoint(t), newEndpoint(t)
	first, _, oldToCaller, oldToCallee, _ := pooledCall(t, pool, oldCaller, oldCallee)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	// The old parties keep sending, every 20 ms, while the sockets rest.
	for i := range 5 {
		oldCaller.send(oldToCaller, rtpPacket(t, 8, uint16(i), []byte("old caller")))
		oldCallee.send(oldToCallee, rtpPacket(t, 8, uint16(i), []byte("old callee")))
		now = now.Add(20 * time.Millisecond)
	}
	now = now.Add(2 * time.Second)

	caller, callee := newEndpoint(t), newEndpoint(t)
	second, _, toCaller, toCallee, _ := pooledCall(t, pool, caller, callee)
	defer second.Close()
	for i := range 5 {
		// Still sending, now that the next call has its sockets.
		oldCaller.send(oldToCaller, rtpPacket(t, 8, uint16(100+i), []byte("old caller")))
		oldCallee.send(oldToCallee, rtpPacket(t, 8, uint16(100+i), []byte("old callee")))
		// The next call's audio arrives after the old party's on each
		// socket: a forwarded old packet would come first.
		fromCaller := rtpPacket(t, 8, uint16(200+i), []byte("new caller"))
		caller.send(toCaller, fromCaller)
		callee.expect(fromCaller)
		fromCallee := rtpPacket(t, 8, uint16(200+i), []byte("new callee"))
		callee.send(toCallee, fromCallee)
		caller.expect(fromCallee)
	}
	oldCaller.expectNothing()
	oldCallee.expectNothing()
}

// What a pool holds is bounded: a socket past its idle time, or put
// while the pool is full or closed, is closed, and its port free.
func TestSocketPoolBounded(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	pool := newSocketPool(0, time.Minute, 2, func() time.Time { return now })
	open := func() PacketConn {
		t.Helper()
		c, err := ListenUDP(netip.AddrPortFrom(loopback, 0))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	free := func(c PacketConn) bool {
		t.Helper()
		l, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(c.LocalAddr().(*net.UDPAddr).AddrPort()))
		if err != nil {
			return false
		}
		l.Close()
		return true
	}
	a, b, c := open(), open(), open()
	pool.put(a, nil)
	pool.put(b, nil)
	pool.put(c, nil) // full
	if free(a) || free(b) || !free(c) {
		t.Errorf("free after a full pool: %v %v %v, want false false true", free(a), free(b), free(c))
	}
	now = now.Add(2 * time.Minute)
	if _, _, ok := pool.get(false); ok {
		t.Error("a socket past its idle time handed out")
	}
	if !free(a) || !free(b) || pool.Len() != 0 {
		t.Errorf("after the idle time: free %v %v, %d at rest; want both free, none", free(a), free(b), pool.Len())
	}
	d := open()
	pool.put(d, nil)
	if err := pool.Close(); err != nil {
		t.Fatal(err)
	}
	e := open()
	pool.put(e, nil)
	if !free(d) || !free(e) {
		t.Errorf("after Close: free %v %v, want both", free(d), free(e))
	}
}

// With a port range, what rests in the pool is part of the range: a relay
// or an endpoint that finds the range used up has the pool's sockets
// closed and scans it again, rather than failing or taking a socket that
// has not rested its quarantine.
func TestPooledRangeUsedUp(t *testing.T) {
	base := mediatest.FreeUDPRange(t, "127.0.0.1", 7)
	// base+1 … base+6: two even/odd pairs, base+2 … base+5.
	now := time.Unix(1_800_000_000, 0)
	pool := newSocketPool(time.Second, time.Minute, 16, func() time.Time { return now })
	t.Cleanup(func() { pool.Close() })
	cfg := Config{IP: loopback, PortMin: base + 1, PortMax: base + 6, Pool: pool}
	caller := newEndpoint(t)
	fill := func() {
		t.Helper()
		r := newTestRelay(t, cfg)
		if _, err := r.Offer(sdpFor(caller.addr(), netip.AddrPort{})); err != nil { // both pairs
			t.Fatal(err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if got := pool.Len(); got != 4 {
			t.Fatalf("%d sockets at rest, want the range's 4", got)
		}
	}

	fill()
	r := newTestRelay(t, cfg)
	if err := r.SetOffer(sdpFor(caller.addr(), netip.AddrPort{})); err != nil {
		t.Fatalf("SetOffer with the range resting in the pool: %v", err)
	}
	if got := pool.Len(); got != 0 {
		t.Errorf("%d sockets still at rest, want none", got)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	pool.flush()

	fill()
	e := NewEndpoint(cfg)
	defer e.Close()
	if _, err := e.Offer(loopback); err != nil {
		t.Fatalf("endpoint Offer with the range resting in the pool: %v", err)
	}
	if got := pool.Len(); got != 0 {
		t.Errorf("%d sockets still at rest after the endpoint's, want none", got)
	}
}
