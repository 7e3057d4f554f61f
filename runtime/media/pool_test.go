package media

import (
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"switchboard/runtime/clock/clocktest"
	"switchboard/runtime/media/mediatest"
)

// pooledCall is a call through a relay on pool: a caller and one callee
// leg, answered, its relay addresses.
type pooledCall struct {
	r                  *Relay
	caller, callee     *endpoint
	toCaller, toCallee netip.AddrPort // where each party sends
}

func newPooledCall(t *testing.T, cfg Config) *pooledCall {
	t.Helper()
	c := &pooledCall{r: newTestRelay(t, cfg), caller: newEndpoint(t), callee: newEndpoint(t)}
	if err := c.r.SetOffer(sdpFor(c.caller.addr(), netip.AddrPort{}), loopback); err != nil {
		t.Fatal(err)
	}
	leg, offer, err := c.r.NewLeg(loopback)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := leg.Answer(sdpFor(c.callee.addr(), netip.AddrPort{}))
	if err != nil {
		t.Fatal(err)
	}
	c.toCaller, c.toCallee = relayAddrs(t, answer)[0].rtp, relayAddrs(t, offer)[0].rtp
	return c
}

// talk checks that audio flows both ways, and nothing else arrives first.
func (c *pooledCall) talk(t *testing.T, seq uint16) {
	t.Helper()
	up := rtpPacket(t, 8, seq, []byte("from the caller"))
	c.caller.send(c.toCaller, up)
	c.callee.expect(up)
	down := rtpPacket(t, 8, seq+1, []byte("from the callee"))
	c.callee.send(c.toCallee, down)
	c.caller.expect(down)
}

func (c *pooledCall) ports() []uint16 {
	ps := []uint16{c.toCaller.Port(), c.toCallee.Port()}
	slices.Sort(ps)
	return ps
}

// free checks that nothing is bound to the ports any more.
func free(t *testing.T, ports ...uint16) {
	t.Helper()
	for _, p := range ports {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, p)))
		if err != nil {
			t.Errorf("port %d still taken: %v", p, err)
			continue
		}
		c.Close()
	}
}

// A call's sockets go back to the pool and serve a later call, and what
// the old call's party sent to them after the call ended reaches no one
// in the new call: not forwarded, and not latched (its IP is the new
// parties' too, as on one host or behind one NAT, so only the drain on
// taking the sockets keeps it out).
func TestPoolStaleDatagramReachesNoOne(t *testing.T) {
	clk := clocktest.New(time.Unix(1000, 0))
	pool := NewPool(PoolConfig{Clock: clk, Quarantine: time.Second})
	defer pool.Close()
	cfg := Config{IP: loopback, Pool: pool}

	old := newPooledCall(t, cfg)
	old.talk(t, 1)
	if err := old.r.Close(); err != nil {
		t.Fatal(err)
	}
	// The old parties, not having heard the BYE yet, send on.
	stale := rtpPacket(t, 8, 3, []byte("stale"))
	old.caller.send(old.toCaller, stale)
	old.callee.send(old.toCallee, stale)
	clk.Advance(time.Second)

	c := newPooledCall(t, cfg)
	if diff := slices.Compare(old.ports(), c.ports()); diff != 0 {
		t.Fatalf("new call on ports %v, the old one's %v: not taken from the pool", c.ports(), old.ports())
	}
	c.talk(t, 10)
	c.talk(t, 20)
	old.caller.expectNothing()
	old.callee.expectNothing()
	if s := c.r.Stats(); s.Forwarded != 4 {
		t.Errorf("new call's stats %+v, want its own 4 packets forwarded", s)
	}
}

// A pair given back rests out its quarantine before a call takes it, and
// the oldest goes first.
func TestPoolQuarantine(t *testing.T) {
	clk := clocktest.New(time.Unix(1000, 0))
	pool := NewPool(PoolConfig{Clock: clk, Quarantine: time.Second})
	defer pool.Close()
	cfg := Config{IP: loopback, Pool: pool}

	first := newPooledCall(t, cfg)
	first.r.Close()
	clk.Advance(500 * time.Millisecond)
	second := newPooledCall(t, cfg) // the first's pairs still rest
	for _, p := range first.ports() {
		if slices.Contains(second.ports(), p) {
			t.Errorf("port %d reused %v into its quarantine", p, 500*time.Millisecond)
		}
	}
	second.r.Close()
	if got := pool.Stats().Resting; got != 4 {
		t.Errorf("%d pairs resting, want 4", got)
	}
	clk.Advance(500 * time.Millisecond) // the first's are rested, the second's not
	third := newPooledCall(t, cfg)
	if diff := slices.Compare(first.ports(), third.ports()); diff != 0 {
		t.Errorf("third call on %v, want the first call's %v (rested, oldest)", third.ports(), first.ports())
	}
	third.talk(t, 1)
}

// The pool keeps at most Max pairs, closes what rests longer than Idle,
// and its timer goes once it holds nothing.
func TestPoolBoundedAndShrinks(t *testing.T) {
	clk := clocktest.New(time.Unix(1000, 0))
	pool := NewPool(PoolConfig{Clock: clk, Max: 3, Quarantine: time.Second, Idle: 10 * time.Second})
	defer pool.Close()
	cfg := Config{IP: loopback, Pool: pool}

	a, b := newPooledCall(t, cfg), newPooledCall(t, cfg)
	a.r.Close()
	b.r.Close()
	if got := pool.Stats().Resting; got != 3 {
		t.Fatalf("%d pairs resting after two calls, want Max 3", got)
	}
	var closed int // the fourth pair given back was closed
	for _, p := range append(a.ports(), b.ports()...) {
		if c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, p))); err == nil {
			closed++
			c.Close()
		}
	}
	if closed != 1 {
		t.Errorf("%d of the four pairs closed, want the one beyond Max", closed)
	}
	clk.Advance(6 * time.Second)
	c := newPooledCall(t, cfg) // takes two that rested 6 s
	clk.Advance(4 * time.Second)
	if got := pool.Stats().Resting; got != 0 {
		t.Errorf("%d pairs resting after 10 s idle, want 0", got)
	}
	for _, p := range append(a.ports(), b.ports()...) {
		if !slices.Contains(c.ports(), p) {
			free(t, p)
		}
	}
	c.r.Close()
	clk.Advance(9 * time.Second)
	if got := pool.Stats().Resting; got != 2 {
		t.Errorf("%d pairs resting 9 s after the last call, want its 2", got)
	}
	clk.Advance(time.Second)
	if got, pending := pool.Stats().Resting, clk.Pending(); got != 0 || pending != 0 {
		t.Errorf("%d pairs resting, %d timers pending once idle; want none", got, pending)
	}
	free(t, c.ports()...)
}

// Close closes every pair the pool holds, and those of relays still
// running when they end.
func TestPoolClose(t *testing.T) {
	clk := clocktest.New(time.Unix(1000, 0))
	pool := NewPool(PoolConfig{Clock: clk})
	cfg := Config{IP: loopback, Pool: pool}
	resting, running := newPooledCall(t, cfg), newPooledCall(t, cfg)
	resting.r.Close()
	if err := pool.Close(); err != nil {
		t.Fatal(err)
	}
	free(t, resting.ports()...)
	running.talk(t, 1) // the running call goes on
	if err := running.r.Close(); err != nil {
		t.Fatal(err)
	}
	free(t, running.ports()...)
	if got, pending := pool.Stats().Resting, clk.Pending(); got != 0 || pending != 0 {
		t.Errorf("%d pairs resting, %d timers pending after Close; want none", got, pending)
	}
	// A relay on a closed pool still works, on sockets of its own.
	after := newPooledCall(t, cfg)
	after.talk(t, 1)
	after.r.Close()
	free(t, after.ports()...)
}

// A pooled pair keeps to its relay's port range, and with the range used
// up a call takes a resting pair before its quarantine ends rather than
// being refused.
func TestPoolPortRange(t *testing.T) {
	base := mediatest.FreeUDPRange(t, "127.0.0.1", 6)
	// base+1 … base+5 holds two even/odd pairs whatever base's parity.
	clk := clocktest.New(time.Unix(1000, 0))
	pool := NewPool(PoolConfig{Clock: clk, Quarantine: time.Hour, Idle: time.Hour})
	defer pool.Close()
	cfg := Config{IP: loopback, Pool: pool, PortMin: base + 1, PortMax: base + 5}
	inRange := func(c *pooledCall) {
		t.Helper()
		for _, p := range c.ports() {
			if int(p) < base+1 || int(p) > base+5 || p%2 != 0 {
				t.Errorf("RTP on port %d, not an even port of %d-%d", p, base+1, base+5)
			}
		}
	}
	a := newPooledCall(t, cfg)
	inRange(a)
	a.r.Close()
	b := newPooledCall(t, cfg) // the range is all resting
	inRange(b)
	if diff := slices.Compare(a.ports(), b.ports()); diff != 0 {
		t.Errorf("call with the range used up on %v, want the resting %v", b.ports(), a.ports())
	}
	b.talk(t, 1)
	// A relay without the pool is refused as before.
	if err := newTestRelay(t, Config{IP: loopback, PortMin: base + 1, PortMax: base + 5}).SetOffer(sdpFor(b.caller.addr(), netip.AddrPort{})); err == nil {
		t.Error("a relay outside the pool found a free pair in a range the pool and a call hold")
	}
	// A relay of another range is not given this range's pairs.
	other := mediatest.FreeUDPRange(t, "127.0.0.1", 6)
	b.r.Close()
	c := newPooledCall(t, Config{IP: loopback, Pool: pool, PortMin: other + 1, PortMax: other + 5})
	for _, p := range c.ports() {
		if int(p) < other+1 || int(p) > other+5 {
			t.Errorf("relay of range %d-%d given port %d", other+1, other+5, p)
		}
	}
}
