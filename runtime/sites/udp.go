package sites

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"switchboard/runtime/sipstack"
	"switchboard/runtime/udp"
)

// siteQueue is how many datagrams wait for one site before more are
// dropped: a site that cannot keep up loses its own traffic, as a full
// socket buffer would, and holds up no other site.
const siteQueue = 512

// packet is one datagram for a site.
type packet struct {
	data []byte
	src  net.Addr
}

// udpMux reads the one SIP UDP socket and hands each datagram to its
// site's siteConn.
type udpMux struct {
	srv  *Server
	conn net.PacketConn
	ctx  context.Context
	wg   sync.WaitGroup // the sites' ServeUDP

	mu    sync.RWMutex
	conns map[*entry]*siteConn
}

// ServeUDP serves SIP over UDP on conn for every site added so far, and
// every site added while it runs, until ctx ends: each site reads from a
// siteConn of its own that this socket feeds (see the package doc). It
// returns once every site stopped reading.
func (srv *Server) ServeUDP(ctx context.Context, conn net.PacketConn) error {
	var pc net.PacketConn = conn
	if u, ok := conn.(*net.UDPConn); ok {
		if n := sipstack.SizeReceiveBuffer(u); n > 0 && n < sipstack.ReceiveBuffer {
			srv.log.Warn("the SIP UDP receive buffer is smaller than asked: bursts may be dropped (raise net.core.rmem_max)",
				"bytes", n, "asked", sipstack.ReceiveBuffer)
		}
		pc = udp.New(u)
	}
	m := &udpMux{srv: srv, conn: pc, ctx: ctx, conns: map[*entry]*siteConn{}}
	var reading sync.WaitGroup
	// The sites there are and the registration as running, at once: a
	// site Add makes meanwhile is attached either here or by Add.
	srv.mu.Lock()
	for _, e := range srv.order {
		reading.Add(1)
		m.start(e, reading.Done)
	}
	srv.running[m] = struct{}{}
	srv.mu.Unlock()
	go func() {
		reading.Wait()
		srv.udpReadyOnce.Do(func() { close(srv.udpReady) })
	}()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	err := m.read()
	srv.mu.Lock()
	delete(srv.running, m)
	srv.mu.Unlock()
	m.mu.Lock()
	for _, sc := range m.conns {
		sc.Close()
	}
	m.mu.Unlock()
	m.wg.Wait()
	if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// start serves e on a siteConn of its own; reading is called on its
// first read.
func (m *udpMux) start(e *entry, reading func()) {
	sc := &siteConn{mux: m, e: e, in: make(chan packet, siteQueue), closed: make(chan struct{}), reading: reading}
	m.mu.Lock()
	m.conns[e] = sc
	m.mu.Unlock()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := e.site.ServeUDP(m.ctx, sc); err != nil {
			m.srv.log.Error("site stopped serving SIP over UDP", "site", e.name, "error", err)
		}
	}()
}

// attach serves a site added while the socket is read: what is routed to
// it waits in its queue until its stack reads.
func (m *udpMux) attach(e *entry) { m.start(e, func() {}) }

// detach stops handing datagrams to a removed site (after it closed:
// the answers to its last requests, its BYEs, reached it until then).
func (m *udpMux) detach(e *entry) {
	m.mu.Lock()
	sc := m.conns[e]
	delete(m.conns, e)
	m.mu.Unlock()
	if sc != nil {
		sc.Close()
	}
}

// Dropped is how many datagrams no site took: answers to requests no site
// sent, datagrams for a site whose queue was full, and garbage.
func (srv *Server) Dropped() int64 { return srv.dropped.Load() }

// UDPReady is closed once every site ServeUDP serves reads from the
// socket.
func (srv *Server) UDPReady() <-chan struct{} { return srv.udpReady }

// read routes datagrams until the socket closes.
func (m *udpMux) read() error {
	buf := make([]byte, 65535)
	for {
		n, src, err := m.conn.ReadFrom(buf)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return err
		}
		m.route(buf[:n], src) // its capacity the whole buffer: room for CRs
	}
}

// route hands data to its site, answers 404 to a request no site claims,
// and drops the rest, and anything whose header has a lone CR.
func (m *udpMux) route(data []byte, src net.Addr) {
	// A lone LF ends its line, a CR put before it in data's array, and a
	// lone CR has the datagram dropped and counted, before the scan,
	// whose 404 echoes the header (sipstack.CRLF) — as a one-site
	// server's ReadyConn does, so that a site behind the router hears
	// what it would alone. The site's ReadyConn does not walk the header
	// again (siteConn.ReadsCRLF), nor does its stack's read filter (the
	// socket's local address is listed by that ReadyConn).
	data, ok := sipstack.CRLFOrRefuse(data, "UDP", src)
	if !ok {
		m.srv.dropped.Add(1)
		return
	}
	h, ok := scan(data)
	if !ok {
		m.srv.dropped.Add(1)
		return
	}
	e := m.srv.siteOf(h, src)
	if e == nil {
		if !h.response {
			m.notFound(h, data, src)
		} else {
			m.srv.dropped.Add(1)
		}
		return
	}
	m.mu.RLock()
	sc := m.conns[e]
	m.mu.RUnlock()
	if sc == nil {
		m.srv.dropped.Add(1) // a removed site's
		return
	}
	p := packet{data: append([]byte(nil), data...), src: src}
	select {
	case sc.in <- p:
	default:
		m.srv.dropped.Add(1)
	}
}

// siteOf is the site a datagram belongs to (see the package doc), nil
// when none.
func (srv *Server) siteOf(h head, src net.Addr) *entry {
	if e := srv.owners.get(h.callID); e != nil {
		return e
	}
	if h.response {
		return nil
	}
	if h.method == "REGISTER" {
		if e := srv.byDomain(hostOf(h.to)); e != nil {
			return e
		}
		return srv.byDomain(hostOf(h.uri))
	}
	if e := srv.byDomain(hostOf(h.uri)); e != nil {
		return e
	}
	if e := srv.byDomain(hostOf(h.to)); e != nil {
		return e
	}
	if ap, err := netip.ParseAddrPort(src.String()); err == nil {
		if e := srv.byTrunk(ap.Addr()); e != nil {
			return e
		}
	}
	if e := srv.byDomain(hostOf(h.from)); e != nil {
		return e
	}
	if h.method == "OPTIONS" {
		// A keep-alive or a health check sent to our address, not to a
		// domain: every site answers OPTIONS alike (200, what the server
		// supports), so any one does, and the answer tells nothing of
		// which sites are served.
		if _, err := netip.ParseAddr(strings.Trim(hostOf(h.uri), "[]")); err == nil {
			return srv.first()
		}
	}
	return nil
}

// notFound answers a request no site claims with 404, as a site answers
// an account it does not have; an ACK is answered by nothing.
func (m *udpMux) notFound(h head, data []byte, src net.Addr) {
	if h.method == "ACK" {
		m.srv.dropped.Add(1)
		return
	}
	_, _ = m.conn.WriteTo(notFound(data), src)
}

// siteConn is one site's view of the shared socket: it reads the
// datagrams routed to the site and writes to the socket, remembering the
// Call-ID of every request it sends so that the answers come back to it.
type siteConn struct {
	mux    *udpMux
	e      *entry
	in     chan packet
	closed chan struct{}
	once   sync.Once
	// reading is called on the first read (readOnce): the site's stack is
	// up.
	reading  func()
	readOnce sync.Once
}

func (c *siteConn) ReadFrom(b []byte) (int, net.Addr, error) {
	c.readOnce.Do(c.reading)
	for {
		select {
		case p := <-c.in:
			if len(p.data) > len(b) {
				// Cut, it would be another message: dropped, as a
				// ReadyConn drops one its CRs made too long.
				c.mux.srv.dropped.Add(1)
				continue
			}
			return copy(b, p.data), p.src, nil
		case <-c.closed:
			return 0, nil, net.ErrClosed
		}
	}
}

// ReadsCRLF tells the site's ReadyConn that every datagram read here has
// had its line ends seen to by the router (route): each header is walked
// once (sipstack.CRLFReader).
func (c *siteConn) ReadsCRLF() bool { return true }

func (c *siteConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	if !isResponse(b) {
		if id := callIDOf(b); id != "" {
			c.mux.srv.owners.set(id, c.e)
		}
	}
	return c.mux.conn.WriteTo(b, addr)
}

func isResponse(b []byte) bool {
	return len(b) >= len(responsePrefix) && string(b[:len(responsePrefix)]) == string(responsePrefix)
}

// Close stops this site's reads; the shared socket stays open for the
// others.
func (c *siteConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *siteConn) LocalAddr() net.Addr { return c.mux.conn.LocalAddr() }

// Deadlines are the shared socket's business: a site sets none on it
// (sipgo does not), and one site's must not stop another's reads.
func (c *siteConn) SetDeadline(time.Time) error      { return os.ErrNoDeadline }
func (c *siteConn) SetReadDeadline(time.Time) error  { return os.ErrNoDeadline }
func (c *siteConn) SetWriteDeadline(time.Time) error { return os.ErrNoDeadline }
