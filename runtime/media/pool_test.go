package media

import (
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// pooledCall is a relay from pool between a caller and one callee, with
// media flowing both ways; it returns the relay's ports, sorted, and the
// addresses each side sends to.
func pooledCall(t *testing.T, pool *SocketPool, caller, callee *endpoint) (r *Relay, ports []uint16, toCaller, toCallee netip.AddrPort) {
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
	for _, d := range append(relayAddrs(t, offer), relayAddrs(t, answer)...) {
		ports = append(ports, d.rtp.Port(), d.rtcp.Port())
	}
	slices.Sort(ports)
	// Media both ways: the sockets' readers run.
	caller.send(toCaller, []byte("from the caller"))
	callee.expect([]byte("from the caller"))
	callee.send(toCallee, []byte("from the callee"))
	caller.expect([]byte("from the callee"))
	return r, ports, toCaller, toCallee
}

// A pool keeps a closed relay's sockets open and gives them to the next
// relay once they rested its quarantine, emptied of what arrived for
// the call that ended; the next call's media flows through them. Within
// the quarantine the next relay opens sockets of its own.
func TestRelaySocketsPooled(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	pool := newSocketPool(time.Second, time.Minute, 16, func() time.Time { return now })
	t.Cleanup(func() { pool.Close() })
	caller, callee := newEndpoint(t), newEndpoint(t)

	first, ports, toCaller, _ := pooledCall(t, pool, caller, callee)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if got := pool.Len(); got != len(ports) {
		t.Fatalf("%d sockets at rest after the relay closed, want its %d", got, len(ports))
	}
	// A straggler of the call that ended, in the caller's old socket.
	caller.send(toCaller, []byte("late, for the old call"))

	// Within the quarantine: new sockets, the pool untouched.
	second, ports2, _, _ := pooledCall(t, pool, caller, callee)
	for _, p := range ports2 {
		if slices.Contains(ports, p) {
			t.Errorf("port %d of the closed relay used again within the quarantine", p)
		}
	}
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}

	now = now.Add(2 * time.Second)
	r := newTestRelay(t, Config{Pool: pool})
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
	var got []uint16
	for _, d := range append(relayAddrs(t, offer), relayAddrs(t, answer)...) {
		got = append(got, d.rtp.Port(), d.rtcp.Port())
	}
	slices.Sort(got)
	if diff := cmp.Diff(ports, got); diff != "" {
		t.Errorf("ports of the third relay (-the first's, oldest at rest +got):\n%s", diff)
	}
	// The straggler was dropped: the first packet the callee gets is
	// the new call's.
	to := relayAddrs(t, answer)[0].rtp
	caller.send(to, []byte("the new call"))
	callee.expect([]byte("the new call"))
	callee.send(relayAddrs(t, offer)[0].rtp, []byte("the new call, back"))
	caller.expect([]byte("the new call, back"))
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
	if _, _, ok := pool.get(false, false); ok {
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
