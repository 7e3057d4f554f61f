// Package memnet is an in-memory datagram network: packet connections
// that behave like UDP sockets — addresses are *net.UDPAddr, a datagram is
// delivered whole or not at all, a full receive queue drops, a read blocks
// until data, a deadline or Close — without the kernel. The simulator
// serves the runtime and its simulated devices over it, so a suite costs
// no ports and no system calls, yet every SIP and RTP byte goes through
// the same stack as on a real network.
//
//	n := memnet.New()
//	a, _ := n.Listen(netip.MustParseAddrPort("192.0.2.1:5060"))
//	b, _ := n.Listen(netip.MustParseAddrPort("192.0.2.2:0")) // a free port
//	b.WriteTo([]byte("hello"), a.LocalAddr())
//
// Any IP address can be listened on: there are no interfaces. Pick
// addresses no host interface has (192.0.2.0/24, TEST-NET-1) and a
// library that quietly falls back to a real socket for one of them fails
// to bind, loudly, instead of sending packets to the host.
package memnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultQueue is how many datagrams a connection holds unread before
// further ones are dropped, when Options.Queue is zero.
const DefaultQueue = 4096

// Options configure a Network.
type Options struct {
	// Queue is each connection's receive queue, in datagrams.
	Queue int
}

// Network is a set of connections that can reach one another.
type Network struct {
	queue int

	mu    sync.RWMutex
	conns map[netip.AddrPort]*Conn
	next  map[netip.Addr]uint16 // next ephemeral port to try, per IP

	delivered atomic.Uint64
	dropped   atomic.Uint64
	reads     atomic.Uint64 // datagrams taken by readers, for Quiet
}

// Stats counts a network's datagrams.
type Stats struct {
	Delivered uint64 // queued at their destination
	Dropped   uint64 // no one listening, or the destination's queue full
}

// New returns an empty network.
func New() *Network { return NewWithOptions(Options{}) }

// NewWithOptions returns an empty network configured by o.
func NewWithOptions(o Options) *Network {
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	return &Network{queue: o.Queue, conns: map[netip.AddrPort]*Conn{}, next: map[netip.Addr]uint16{}}
}

// Stats returns the network's datagram counts.
func (n *Network) Stats() Stats {
	return Stats{Delivered: n.delivered.Load(), Dropped: n.dropped.Load()}
}

// Ephemeral ports are handed out from this range, like the kernel's.
const (
	ephemeralMin = 32768
	ephemeralMax = 60999
)

// Listen opens a connection at addr; port 0 picks a free port.
func (n *Network) Listen(addr netip.AddrPort) (*Conn, error) {
	ip := addr.Addr().Unmap()
	if !ip.IsValid() || ip.IsUnspecified() {
		return nil, &net.OpError{Op: "listen", Net: "udp", Addr: net.UDPAddrFromAddrPort(addr), Err: errors.New("memnet: listen needs a specific IP address")}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	port := addr.Port()
	picked := port == 0
	if picked {
		next := n.next[ip]
		for range ephemeralMax - ephemeralMin + 1 {
			if next < ephemeralMin || next > ephemeralMax {
				next = ephemeralMin
			}
			if _, used := n.conns[netip.AddrPortFrom(ip, next)]; !used {
				port = next
				break
			}
			next++
		}
		if port == 0 {
			return nil, &net.OpError{Op: "listen", Net: "udp", Addr: net.UDPAddrFromAddrPort(addr), Err: errors.New("memnet: no free port")}
		}
		n.next[ip] = port + 1
	}
	local := netip.AddrPortFrom(ip, port)
	if !picked { // a picked port is free
		if _, used := n.conns[local]; used {
			return nil, &net.OpError{Op: "listen", Net: "udp", Addr: net.UDPAddrFromAddrPort(local), Err: errAddrInUse}
		}
	}
	c := &Conn{n: n, local: local, limit: n.queue}
	n.conns[local] = c
	return c, nil
}

// ListenPacket is net.ListenPacket on the network: network "udp", "udp4"
// or "udp6", address "ip:port".
func (n *Network) ListenPacket(network, address string) (net.PacketConn, error) {
	switch network {
	case "udp", "udp4", "udp6":
	default:
		return nil, &net.OpError{Op: "listen", Net: network, Err: net.UnknownNetworkError(network)}
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: fmt.Errorf("memnet: %w", err)}
	}
	return n.Listen(ap)
}

var errAddrInUse = errors.New("memnet: address already in use")

func (n *Network) lookup(to netip.AddrPort) *Conn {
	n.mu.RLock()
	c := n.conns[to]
	n.mu.RUnlock()
	return c
}

func (n *Network) remove(c *Conn) {
	n.mu.Lock()
	if n.conns[c.local] == c {
		delete(n.conns, c.local)
	}
	n.mu.Unlock()
}

// datagram is one packet in a queue; its buffer is reused.
type datagram struct {
	buf  []byte
	from *Conn
}

var datagrams = sync.Pool{New: func() any { return &datagram{buf: make([]byte, 0, 2048)} }}

// Conn is one endpoint of a Network; it implements net.PacketConn, with
// *net.UDPAddr addresses, and the AddrPort methods of *net.UDPConn.
type Conn struct {
	n     *Network
	local netip.AddrPort
	// addr is local as a *net.UDPAddr, made when first asked for (most
	// connections are media sockets that never are); shared: callers
	// must not modify addresses they get.
	addr atomic.Pointer[net.UDPAddr]

	// The receive queue grows as needed up to limit. ready is what a
	// reader waits on: signalled (wake) when the queue becomes non-empty,
	// when the connection closes and when the read deadline passes; the
	// reader then looks at all three. One channel, not a select over
	// three: media sockets read a packet or two each and park in between.
	// It is made, under qmu, by the first reader to park: a socket handed
	// to a handler (Handle) never has one. A suite opens a dozen sockets
	// a case, and their channels were a third of what opening one cost.
	qmu    sync.Mutex
	queue  []*datagram
	head   int
	limit  int
	ready  chan struct{}
	closed atomic.Bool
	// parked: a reader waits in ReadFrom with the queue empty, so every
	// datagram delivered so far has been read and dealt with (WaitRead);
	// parkedCh, made by the first WaitRead, is signalled when one parks.
	parked   bool
	parkedCh chan struct{}
	// busy: a reader took a datagram and has not come back for the next,
	// so it may still be acting on it (Quiet).
	busy bool

	// handler, when set (Handle), takes each datagram as it is sent, in
	// place of the queue. hcall makes the calls one at a time, as a read
	// loop takes datagrams; hmu guards the rest: calls under way
	// (inflight), no more calls (hclosed), and hdone, called once when
	// the connection is closed and no call is under way.
	handler  atomic.Pointer[func(b []byte, from netip.AddrPort)]
	hcall    sync.Mutex
	hmu      sync.Mutex
	inflight int
	hclosed  bool
	hdone    func()

	closeOnce sync.Once
	rd        deadline
	wdMu      sync.Mutex
	wd        time.Time // write deadline; writes never block, so only checked
}

// LocalAddr returns the connection's *net.UDPAddr.
func (c *Conn) LocalAddr() net.Addr { return c.udpAddr() }

// udpAddr returns the connection's address as a *net.UDPAddr, the same
// one every time.
func (c *Conn) udpAddr() *net.UDPAddr {
	if a := c.addr.Load(); a != nil {
		return a
	}
	c.addr.CompareAndSwap(nil, net.UDPAddrFromAddrPort(c.local))
	return c.addr.Load()
}

// AddrPort returns the connection's address.
func (c *Conn) AddrPort() netip.AddrPort { return c.local }

// ReadFrom reads the next datagram into b, truncating what does not fit,
// and returns the sender's *net.UDPAddr.
func (c *Conn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.read(b)
	if err != nil {
		return 0, nil, err
	}
	return n, from.udpAddr(), nil
}

// ReadFromUDPAddrPort is ReadFrom with the sender as a netip.AddrPort.
func (c *Conn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	n, from, err := c.read(b)
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	return n, from.local, nil
}

func (c *Conn) read(b []byte) (int, *Conn, error) {
	// A queued datagram is read even when the deadline has passed, as
	// with a socket; a closed connection reads nothing.
	if c.closed.Load() {
		return 0, nil, c.opError("read", net.ErrClosed)
	}
	var d *datagram
	for {
		var ready chan struct{}
		if d, ready = c.popOrPark(); d != nil {
			break
		}
		// Each waker changes the state, then signals: a reader that saw
		// no change before waiting is woken by the signal. A reader that
		// returns on close or the deadline passes the signal on to the
		// next.
		if c.closed.Load() {
			c.unpark()
			c.wake()
			return 0, nil, c.opError("read", net.ErrClosed)
		}
		if isClosed(c.rd.wait()) {
			c.unpark()
			c.wake()
			return 0, nil, c.opError("read", os.ErrDeadlineExceeded)
		}
		<-ready
	}
	n := copy(b, d.buf)
	from := d.from
	d.from = nil
	d.buf = d.buf[:0]
	datagrams.Put(d)
	return n, from, nil
}

// WriteTo sends a copy of b to addr, a *net.UDPAddr (or any address of
// the form ip:port). Like UDP, a datagram nobody is listening for, or that
// finds the receiver's queue full, is dropped without an error.
func (c *Conn) WriteTo(b []byte, addr net.Addr) (int, error) {
	var to netip.AddrPort
	switch a := addr.(type) {
	case *net.UDPAddr:
		to = a.AddrPort()
	case nil:
		return 0, c.opError("write", errors.New("memnet: no destination address"))
	default:
		var err error
		if to, err = netip.ParseAddrPort(a.String()); err != nil {
			return 0, c.opError("write", fmt.Errorf("memnet: %w", err))
		}
	}
	return c.WriteToUDPAddrPort(b, to)
}

// WriteToUDPAddrPort is WriteTo with a netip.AddrPort destination.
func (c *Conn) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	if c.closed.Load() {
		return 0, c.opError("write", net.ErrClosed)
	}
	if c.writeExpired() {
		return 0, c.opError("write", os.ErrDeadlineExceeded)
	}
	to = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
	dst := c.n.lookup(to)
	if dst == nil {
		c.n.dropped.Add(1)
		return len(b), nil
	}
	if h := dst.handler.Load(); h != nil {
		if !dst.deliver(*h, b, c.local) {
			c.n.dropped.Add(1)
		}
		return len(b), nil
	}
	d := datagrams.Get().(*datagram)
	d.buf = append(d.buf[:0], b...)
	d.from = c
	if !dst.push(d) {
		d.from = nil
		datagrams.Put(d)
		c.n.dropped.Add(1)
	}
	return len(b), nil
}

// Handle makes the connection hand each datagram sent to it to f, on the
// sender's goroutine, before the sender's write returns, instead of
// queueing it for a reader: a relay socket then needs no goroutine
// waiting on it, and a datagram relayed on costs no hand-over between
// goroutines. Calls come one at a time, as a read loop takes datagrams.
// f must not keep b, must not block, and must not send to c; it may send
// elsewhere. done, if not nil, is called once the connection is closed
// and no call of f is under way — where a read loop would have ended;
// none starts after Close. Datagrams queued before Handle stay queued
// for a reader.
func (c *Conn) Handle(f func(b []byte, from netip.AddrPort), done func()) {
	c.hmu.Lock()
	c.hdone = done
	c.handler.Store(&f)
	end := c.handlerEnded()
	c.hmu.Unlock()
	if end != nil {
		end()
	}
}

// handlerEnded returns hdone, once, when the connection is closed and no
// call is under way; c.hmu is held.
func (c *Conn) handlerEnded() func() {
	if !c.hclosed || c.inflight > 0 || c.hdone == nil {
		return nil
	}
	end := c.hdone
	c.hdone = nil
	return end
}

// deliver calls the handler f with b, counted as delivered and read, as a
// datagram queued and read at once would be; false when c is closed.
func (c *Conn) deliver(f func([]byte, netip.AddrPort), b []byte, from netip.AddrPort) bool {
	c.hmu.Lock()
	if c.hclosed {
		c.hmu.Unlock()
		return false
	}
	c.inflight++
	c.hmu.Unlock()
	c.n.delivered.Add(1)
	c.n.reads.Add(1)
	c.hcall.Lock()
	f(b, from)
	c.hcall.Unlock()
	c.hmu.Lock()
	c.inflight--
	end := c.handlerEnded()
	c.hmu.Unlock()
	if end != nil {
		end()
	}
	return true
}

// push queues d, counted as delivered before any reader can see it; it
// reports false when the queue is full or closed.
func (c *Conn) push(d *datagram) bool {
	c.qmu.Lock()
	if len(c.queue)-c.head >= c.limit {
		c.qmu.Unlock()
		return false
	}
	if c.head > 0 && len(c.queue) == cap(c.queue) {
		// Reuse the consumed front before growing.
		n := copy(c.queue, c.queue[c.head:])
		clear(c.queue[n:])
		c.queue, c.head = c.queue[:n], 0
	}
	c.queue = append(c.queue, d)
	c.n.delivered.Add(1)
	ready := c.ready
	c.qmu.Unlock()
	signal(ready)
	return true
}

// wake signals a waiting reader, if any.
func (c *Conn) wake() {
	c.qmu.Lock()
	ready := c.ready
	c.qmu.Unlock()
	signal(ready)
}

// signal signals ready without blocking; a nil channel (no reader ever
// parked) has nobody to wake.
func signal(ready chan struct{}) {
	if ready == nil {
		return
	}
	select {
	case ready <- struct{}{}:
	default:
	}
}

// popOrPark takes the oldest queued datagram for a reader; when there is
// none, the reader parks: it gets the channel to wait on instead.
func (c *Conn) popOrPark() (*datagram, chan struct{}) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.head == len(c.queue) {
		if c.ready == nil {
			c.ready = make(chan struct{}, 1)
		}
		c.busy = false
		if !c.parked {
			c.parked = true
			if c.parkedCh != nil {
				select {
				case c.parkedCh <- struct{}{}:
				default:
				}
			}
		}
		return nil, c.ready
	}
	c.parked = false
	d := c.popLocked()
	if d != nil {
		c.busy = true
		c.n.reads.Add(1)
	}
	return d, nil
}

func (c *Conn) unpark() {
	c.qmu.Lock()
	c.parked = false
	c.qmu.Unlock()
}

// WaitRead waits until the connection at addr has read every datagram
// delivered to it and its reader is back waiting for the next: whatever
// it did with them is done, as far as its read loop goes. It returns at
// once when nothing listens at addr. A simulation uses it where a real
// network's delay would have let the packets in before a timer fires.
func (n *Network) WaitRead(ctx context.Context, addr netip.AddrPort) error {
	c := n.lookup(netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port()))
	if c == nil {
		return nil
	}
	for {
		c.qmu.Lock()
		// A handler (Handle) deals with each datagram within its
		// sender's write.
		done := (c.parked || c.handler.Load() != nil) && c.head == len(c.queue)
		if c.parkedCh == nil {
			c.parkedCh = make(chan struct{}, 1)
		}
		parked := c.parkedCh
		c.qmu.Unlock()
		if done || c.closed.Load() {
			return nil
		}
		select {
		case <-parked: // or closed (Close signals it)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Quiet returns a channel that is closed once the network has been quiet
// for settle: no datagram sent or read in that time, and no reader still
// holding one it took (every reader that read is back waiting for the
// next). On a network whose parties act only on datagrams and on a clock
// that stands still, nothing more will then happen until someone outside
// acts: a simulation waiting for an event that has not come can stop
// waiting. settle covers what the read loops hand to other goroutines.
// The channel is never closed once ctx ends.
func (n *Network) Quiet(ctx context.Context, settle time.Duration) <-chan struct{} {
	quiet := make(chan struct{})
	n.WhenQuiet(ctx, settle, func() { close(quiet) })
	return quiet
}

// WhenQuiet calls f, once, when the network has been quiet for settle (as
// Quiet); never once ctx ends.
func (n *Network) WhenQuiet(ctx context.Context, settle time.Duration, f func()) {
	stop := n.AfterQuiet(settle, func() {
		if ctx.Err() == nil {
			f()
		}
	})
	context.AfterFunc(ctx, func() { stop() })
}

// AfterQuiet calls f, once, when the network has been quiet for settle (as
// Quiet), unless stop is called first. A simulation bounding each
// expectation passes the cancel of the expectation's context and calls
// stop when the expectation is met, which is almost always well within
// settle: the wait then costs one timer, never a goroutine.
func (n *Network) AfterQuiet(settle time.Duration, f func()) (stop func()) {
	return n.AfterQuietOr(settle, 0, f)
}

// AfterQuietOr is AfterQuiet that also calls f once limit has passed,
// quiet or not (no limit when zero): an expectation's bound in one timer.
func (n *Network) AfterQuietOr(settle, limit time.Duration, f func()) (stop func()) {
	q := &quietTimer{n: n, settle: settle, f: f}
	first := settle
	if limit > 0 {
		q.end = time.Now().Add(limit)
		first = min(settle, limit)
	}
	q.mu.Lock()
	q.last = n.activity()
	q.t = time.AfterFunc(first, q.check)
	q.mu.Unlock()
	return q.stop
}

// quietTimer is one AfterQuiet: a timer that looks at the network every
// settle until it finds it quiet or is stopped.
type quietTimer struct {
	n      *Network
	settle time.Duration
	f      func()

	end time.Time // the limit; zero: none

	mu      sync.Mutex
	t       *time.Timer
	last    uint64 // the network's activity at the last look
	stopped bool
}

func (q *quietTimer) check() {
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return
	}
	now := q.n.activity()
	left := time.Until(q.end)
	if (!q.end.IsZero() && left <= 0) || (now == q.last && !q.n.busy() && !working()) {
		q.stopped = true
		q.mu.Unlock()
		q.f()
		return
	}
	q.last = now
	next := q.settle
	if !q.end.IsZero() {
		next = min(next, left)
	}
	q.t.Reset(next)
	q.mu.Unlock()
}

func (q *quietTimer) stop() {
	q.mu.Lock()
	q.stopped = true
	q.t.Stop()
	q.mu.Unlock()
}

// working reports whether any goroutine of the process besides the
// caller is running or waiting for a CPU. A datagram read is handed to a
// goroutine of the SIP stack; on a starved machine that goroutine may wait
// longer than the settle time before it runs (runnable), or be preempted
// by the kernel halfway through its work (running, on a thread that is not
// getting a CPU), and the network would look quiet while work is pending.
// Other simulations of the process running in parallel count too: then
// the wait goes on (Options.Wait still bounds it), which costs a failing
// expectation time, never a wrong verdict. A passing suite never waits on
// Quiet: its expectations are met before the network goes quiet.
func working() bool {
	s := []metrics.Sample{
		{Name: "/sched/goroutines/runnable:goroutines"},
		{Name: "/sched/goroutines/running:goroutines"},
	}
	metrics.Read(s)
	count := func(i int) uint64 {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return s[i].Value.Uint64()
	}
	return count(0) > 0 || count(1) > 1 // the caller itself is running
}

// activity counts every datagram sent or read.
func (n *Network) activity() uint64 {
	return n.delivered.Load() + n.dropped.Load() + n.reads.Load()
}

// busy reports whether a reader holds a datagram it took.
func (n *Network) busy() bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	for _, c := range n.conns {
		c.qmu.Lock()
		b := c.busy
		c.qmu.Unlock()
		if b {
			return true
		}
	}
	return false
}

func (c *Conn) popLocked() *datagram {
	if c.head == len(c.queue) {
		return nil
	}
	d := c.queue[c.head]
	c.queue[c.head] = nil
	c.head++
	if c.head == len(c.queue) {
		c.queue, c.head = c.queue[:0], 0
	} else {
		signal(c.ready) // more left: make sure another reader is woken too
	}
	return d
}

func (c *Conn) writeExpired() bool {
	c.wdMu.Lock()
	wd := c.wd
	c.wdMu.Unlock()
	return !wd.IsZero() && !time.Now().Before(wd)
}

// Close closes the connection: blocked reads return net.ErrClosed, its
// address is free again and datagrams still queued are discarded.
func (c *Conn) Close() error {
	closed := false
	c.closeOnce.Do(func() {
		closed = true
		c.closed.Store(true)
		c.n.remove(c)
		c.rd.stop()
		c.qmu.Lock()
		for _, d := range c.queue[c.head:] {
			d.from = nil
			datagrams.Put(d)
		}
		c.queue, c.head, c.limit = nil, 0, -1 // pushes fail from now on
		// The reader parked in read, and whoever waits in WaitRead, look
		// again and find the connection closed.
		signal(c.ready)
		signal(c.parkedCh)
		c.qmu.Unlock()
		c.hmu.Lock()
		c.hclosed = true
		end := c.handlerEnded()
		c.hmu.Unlock()
		if end != nil {
			end()
		}
	})
	if !closed {
		return c.opError("close", net.ErrClosed)
	}
	return nil
}

// SetDeadline sets the read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// SetReadDeadline makes pending and future reads fail with
// os.ErrDeadlineExceeded once t has passed; zero means no deadline.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if c.closed.Load() {
		return c.opError("set", net.ErrClosed)
	}
	c.rd.set(t, c.wake)
	return nil
}

// SetWriteDeadline makes writes fail once t has passed. Writes never
// block, so it only matters after the fact.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	if c.closed.Load() {
		return c.opError("set", net.ErrClosed)
	}
	c.wdMu.Lock()
	c.wd = t
	c.wdMu.Unlock()
	return nil
}

func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "udp", Source: c.udpAddr(), Addr: c.udpAddr(), Err: err}
}

// deadline is a settable point in time whose passing closes a channel and
// calls the wake given with it. Most connections never have one (a media
// socket is read until closed): the channel is made when one is set.
type deadline struct {
	mu      sync.Mutex
	timer   *time.Timer
	expired chan struct{} // closed once the deadline has passed; nil: none set
}

// set moves the deadline to t; zero clears it. wake is called when it
// passes.
func (d *deadline) set(t time.Time, wake func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.expired // the timer fired: wait until it has closed the channel
	}
	d.timer = nil
	closed := d.expired != nil && isClosed(d.expired)
	if t.IsZero() {
		if closed {
			d.expired = nil
		}
		return
	}
	dur := time.Until(t)
	if d.expired == nil || (closed && dur > 0) {
		d.expired, closed = make(chan struct{}), false
	}
	if dur > 0 {
		ch := d.expired
		d.timer = time.AfterFunc(dur, func() { close(ch); wake() })
		return
	}
	if !closed {
		close(d.expired)
		wake()
	}
}

func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.expired
}

func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
