package sipstack

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ReadyConn is a UDP listener as sipgo reads it.
//
// serve answers what the server handles itself, without sipgo: it reports
// true for a datagram it consumed (REGISTER, see Register; challenges,
// see Stateless).
//
// Every datagram is given CRLF line ends (CRLF), or dropped when its
// header has a lone CR, before serve or sipgo sees it (lineend.go) —
// by the socket itself when it says so (CRLFReader).
//
// It closes Ready the first time sipgo reads: by then sipgo has the socket
// in its connection pool, and requests that must leave from it (to
// carriers) find it there instead of making sipgo open a socket of its
// own.
//
// Once closing is set it hands sipgo responses only. sipgo answers every
// request it reads — an ACK too — through a connection looked up in its
// pool by the request's source, and opens a new socket when the lookup
// fails, as it does once its transport layer is closed and the pool
// emptied. A request read during shutdown (say the ACK of a 404 that
// crossed the Close) would make sipgo open a socket for nothing; the
// responses to the server's hang-ups and un-REGISTERs are still wanted.
type ReadyConn struct {
	net.PacketConn
	once    sync.Once
	ready   chan struct{}
	onReady func()
	closing *atomic.Bool
	serve   func(conn net.PacketConn, data []byte, src net.Addr) bool
	// received and waited, when set, measure how long each datagram
	// waited in the socket, before serve sees it (MeasureWait).
	received func() time.Time
	waited   func(time.Duration)
	// q, when the socket can be read without waiting, is the priority
	// path (priority.go).
	q *queues
	// checked is the socket's local address as listed for StrictReads'
	// filter (checkedAddrs); nil when it is not.
	checked  *net.UDPAddr
	unlisted sync.Once
	// crlf is whether every datagram pc returns has been given CRLF
	// line ends already (CRLFReader): not walked again.
	crlf bool
}

// CRLFReader is a socket each of whose reads returns a datagram already
// given CRLF line ends (CRLF), the refused ones counted and not
// returned: package sites' router reads the shared socket and sees to
// every datagram before its scan (its 404 echoes the header), so the
// site's ReadyConn over what it routes has nothing to do but walk the
// header again. A wrapper (a trace) answers for the socket it wraps.
type CRLFReader interface {
	ReadsCRLF() bool
}

// readsCRLF reports whether pc's reads are given CRLF line ends already.
func readsCRLF(pc net.PacketConn) bool {
	r, ok := pc.(CRLFReader)
	return ok && r.ReadsCRLF()
}

// MeasureWait has waited told how long datagrams waited before the read
// loop took them: how far behind it is (Admission.Waited). On the
// priority path (priority.go) that is every new request, from its arrival
// to when it leaves the read loop's queue; otherwise every datagram, in
// the socket's receive buffer. received is when the datagram read last
// arrived, by the kernel's stamp (package udp's Conn.Received, after
// Stamp): asked of the socket itself, so that a wrapper between it and
// this (a trace) hides nothing. Call it before serving; with received
// nil nothing is measured.
func (c *ReadyConn) MeasureWait(received func() time.Time, waited func(time.Duration)) {
	c.received, c.waited = received, waited
}

// NewReadyConn wraps pc for sipgo's ServeUDP; closing says the server is
// shutting down; serve, when not nil, may consume datagrams first. When
// pc can be read without waiting (package udp's Conn, traced or not), it
// is read in priority order (priority.go).
func NewReadyConn(pc net.PacketConn, closing *atomic.Bool, serve func(conn net.PacketConn, data []byte, src net.Addr) bool) *ReadyConn {
	c := &ReadyConn{PacketConn: pc, ready: make(chan struct{}), closing: closing, serve: serve, crlf: readsCRLF(pc)}
	if now, ok := pc.(nowReader); ok {
		c.q = newQueues(now)
	}
	if a, ok := pc.LocalAddr().(*net.UDPAddr); ok && a != nil {
		c.checked = a
		markChecked(a, 1)
	}
	return c
}

// Every datagram sipgo reads through a ReadyConn has had its line ends
// seen to (CRLF); StrictReads' filter, which knows the socket it reads
// only by its addresses, would walk the header again. So the sockets
// ReadyConns read are listed by their local address: the *net.UDPAddr a
// socket reports is made once for it and returned by every LocalAddr
// (the net package keeps it in the socket's descriptor; package udp's
// Conn and a trace return the same), so its pointer names the socket,
// and no other socket's can be equal to it while the list holds it. A
// socket sipgo opens itself is not listed, and is walked by the filter.
// A ReadyConn leaves the list when its reads end (the socket closed) or
// it is closed.
var checkedAddrs struct {
	mu    sync.Mutex
	count map[*net.UDPAddr]int // ReadyConns reading each socket
	// list is count's keys, read without a lock on the path of every
	// datagram; replaced whole under mu.
	list atomic.Pointer[map[*net.UDPAddr]struct{}]
}

// markChecked adds delta to the ReadyConns reading the socket whose
// local address is a.
func markChecked(a *net.UDPAddr, delta int) {
	checkedAddrs.mu.Lock()
	defer checkedAddrs.mu.Unlock()
	if checkedAddrs.count == nil {
		checkedAddrs.count = map[*net.UDPAddr]int{}
	}
	if checkedAddrs.count[a] += delta; checkedAddrs.count[a] <= 0 {
		delete(checkedAddrs.count, a)
	}
	list := make(map[*net.UDPAddr]struct{}, len(checkedAddrs.count))
	for k := range checkedAddrs.count {
		list[k] = struct{}{}
	}
	checkedAddrs.list.Store(&list)
}

// lineEndsChecked reports whether the datagrams sipgo reads on the
// socket whose local address is laddr come through a ReadyConn.
func lineEndsChecked(laddr net.Addr) bool {
	a, ok := laddr.(*net.UDPAddr)
	if !ok || a == nil {
		return false
	}
	list := checkedAddrs.list.Load()
	if list == nil {
		return false
	}
	_, ok = (*list)[a]
	return ok
}

// unlist takes c's socket off the checked list, once.
func (c *ReadyConn) unlist() {
	c.unlisted.Do(func() {
		if c.checked != nil {
			markChecked(c.checked, -1)
		}
	})
}

// Close closes the socket, and takes it off the checked list.
func (c *ReadyConn) Close() error {
	c.unlist()
	return c.PacketConn.Close()
}

// Overflowed is how many new requests the priority path took up out of
// their turn, from its full queue.
func (c *ReadyConn) Overflowed() int64 {
	if c.q == nil {
		return 0
	}
	return c.q.overflowed.Load()
}

// Ready is closed once sipgo reads from the socket.
func (c *ReadyConn) Ready() <-chan struct{} { return c.ready }

// OnReady has f called when sipgo first reads, in the reading goroutine,
// before Ready closes and before any datagram is handed on: what f
// records is in place for the first request handled. A goroutine waiting
// on Ready is not: it may run only after the reader has handled several
// datagrams (a call out then found no listener to leave from). f must not
// wait for anything the read loop does. Call it before serving.
func (c *ReadyConn) OnReady(f func()) { c.onReady = f }

func (c *ReadyConn) ReadFrom(b []byte) (int, net.Addr, error) {
	c.once.Do(func() {
		if c.onReady != nil {
			c.onReady()
		}
		close(c.ready)
	})
	for {
		n, addr, err := c.read(b)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				c.unlist() // no more reads: the address may name another socket
			}
			return n, addr, err
		}
		// Every datagram the read loop takes, from the socket or from
		// the priority path's queues, is given CRLF line ends or
		// dropped here, unanswered, before serve's scans or sipgo's
		// parser read it (lineend.go) — unless the socket did that
		// (CRLFReader). The CRs go into b itself, up to its length (a
		// longer datagram is dropped).
		if !c.crlf {
			msg, ok := CRLF(b[:n:len(b)])
			if !ok || len(msg) > len(b) {
				noteRefused("UDP", addr)
				continue
			}
			n = len(msg)
		}
		if c.closing.Load() {
			if bytes.HasPrefix(b[:n], []byte("SIP/2.0 ")) {
				return n, addr, nil
			}
			continue
		}
		if c.serve == nil || !c.serve(c.PacketConn, b[:n], addr) {
			return n, addr, nil
		}
	}
}

// read reads the datagram to handle next into b, and measures its wait.
func (c *ReadyConn) read(b []byte) (int, net.Addr, error) {
	if c.q != nil {
		n, addr, fresh, at, err := c.q.next(c, b)
		if fresh {
			c.measure(at)
		}
		return n, addr, err
	}
	n, addr, err := c.PacketConn.ReadFrom(b)
	if err == nil {
		c.measure(c.stamp())
	}
	return n, addr, err
}

// measure tells waited how long a datagram that arrived at at waited.
func (c *ReadyConn) measure(at time.Time) {
	if c.waited != nil && !at.IsZero() {
		// The kernel stamps with the wall clock; a clock stepped back
		// reads as no wait.
		c.waited(max(time.Since(at), 0))
	}
}

// stamp is when the datagram read last arrived; zero when unknown.
func (c *ReadyConn) stamp() time.Time {
	if c.received == nil {
		return time.Time{}
	}
	return c.received()
}
