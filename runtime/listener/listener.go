// Package listener bounds what clients can hold of a server's stream
// listeners (SIP over TCP and TLS, HTTP): connections open at once from
// one source and over all listeners sharing a Budget, how long a new
// connection may stay silent or take over its TLS handshake, and how long
// an established one may go without a byte read. Accept errors (the
// process out of file descriptors, a connection reset before it was
// accepted) are retried with a back-off, as net/http does, never returned:
// a flood that exhausts descriptors must not end the server.
package listener

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Budget counts the connections open over every listener that shares it,
// in total and per source. A source is an IPv4 address or an IPv6 /64: an
// IPv6 host usually holds a whole /64, and counting its addresses one by
// one would let it open a limit's worth from each.
type Budget struct {
	perSource, total int

	mu     sync.Mutex
	open   int
	bySrc  map[netip.Addr]int
	refuse atomic.Int64 // connections refused, ever
	// freed is closed (and forgotten) when a place is given back, for
	// whoever waits for one (waitOpenAtMost).
	freed chan struct{}
}

// NewBudget returns a budget of total connections at once, perSource of
// them from one source; 0 is no limit.
func NewBudget(perSource, total int) *Budget {
	return &Budget{perSource: perSource, total: total, bySrc: map[netip.Addr]int{}}
}

// Refused is how many connections the budget refused so far.
func (b *Budget) Refused() int64 { return b.refuse.Load() }

// Open is how many connections are open now.
func (b *Budget) Open() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open
}

// source is the key a remote address is counted under.
func source(a net.Addr) netip.Addr {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// take reserves a connection from src, and reports false when a limit is
// reached.
func (b *Budget) take(src netip.Addr) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if (b.total > 0 && b.open >= b.total) || (b.perSource > 0 && b.bySrc[src] >= b.perSource) {
		b.refuse.Add(1)
		return false
	}
	b.open++
	b.bySrc[src]++
	return true
}

func (b *Budget) give(src netip.Addr) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.open--
	if n := b.bySrc[src] - 1; n > 0 {
		b.bySrc[src] = n
	} else {
		delete(b.bySrc, src)
	}
	if b.freed != nil {
		close(b.freed)
		b.freed = nil
	}
}

// waitOpenAtMost waits until at most n connections are open, or ctx ends.
func (b *Budget) waitOpenAtMost(ctx context.Context, n int) error {
	for {
		b.mu.Lock()
		if b.open <= n {
			b.mu.Unlock()
			return nil
		}
		if b.freed == nil {
			b.freed = make(chan struct{})
		}
		freed := b.freed
		b.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Options are a listener's deadlines. A zero duration is none.
type Options struct {
	// Budget counts the listener's connections; nil: no limit.
	Budget *Budget
	// Idle closes a connection nothing was read from for this long. Any
	// byte resets it, a CRLF keep-alive (RFC 5626 §3.5.1) too. Leave it
	// zero where the server sets its own deadlines (net/http).
	Idle time.Duration
	// Handshake is how long a new connection has to complete its TLS
	// handshake (with TLS) or to send its first bytes (without): a client
	// that connects and says nothing holds a descriptor for nothing.
	Handshake time.Duration
	// Write fails a write blocked for this long (a peer that stopped
	// reading). Zero: no deadline.
	Write time.Duration
	// TLS, when set, makes the listener's connections TLS server
	// connections; the handshake runs on the connection's first read or
	// write, in the reader's goroutine, never in Accept.
	TLS *tls.Config
	// Logger reports refused connections and accept errors, at most one
	// line per kind per LogEvery with the count suppressed since;
	// nil: slog.Default().
	Logger *slog.Logger
}

// LogEvery is how often the listener logs each kind of trouble at most.
const LogEvery = 10 * time.Second

// Listener is a net.Listener within Options' limits.
type Listener struct {
	net.Listener
	o      Options
	log    *slog.Logger
	closed chan struct{}
	once   sync.Once

	refusedLog, acceptLog rateLog
}

// New wraps l.
func New(l net.Listener, o Options) *Listener {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Listener{Listener: l, o: o, log: log, closed: make(chan struct{})}
}

// Close closes the listener and ends a back-off in progress.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// Back-off after a failed accept: from minBackoff, doubling, up to
// maxBackoff (net/http's figures).
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = time.Second
)

// Accept waits for a connection within the budget. Connections over it are
// closed at once; accept errors other than the listener being closed are
// logged and retried after a back-off.
func (l *Listener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			select {
			case <-l.closed:
				return nil, net.ErrClosed
			default:
			}
			delay = min(max(2*delay, minBackoff), maxBackoff)
			if n, ok := l.acceptLog.allow(time.Now()); ok {
				msg := "accept failed; retrying"
				if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
					msg = "accept failed: out of file descriptors; retrying (lower -max-connections or raise the limit, ulimit -n)"
				}
				l.log.Warn(msg, "listener", l.Addr().String(), "error", err, "backoff", delay, "suppressed", n)
			}
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-l.closed:
				t.Stop()
				return nil, net.ErrClosed
			}
			continue
		}
		delay = 0
		src := source(c.RemoteAddr())
		if b := l.o.Budget; b != nil && !b.take(src) {
			c.Close()
			if n, ok := l.refusedLog.allow(time.Now()); ok {
				l.log.Warn("connection refused: too many open", "listener", l.Addr().String(), "from", src.String(),
					"open", b.Open(), "suppressed", n)
			}
			continue
		}
		return l.wrap(c, src), nil
	}
}

func (l *Listener) wrap(c net.Conn, src netip.Addr) net.Conn {
	bc := &conn{Conn: c, o: &l.o, src: src}
	bc.fresh.Store(true)
	if l.o.Handshake > 0 {
		// The first bytes (or the handshake) must come by then,
		// whichever read or write is first.
		_ = c.SetDeadline(time.Now().Add(l.o.Handshake))
	}
	if l.o.TLS == nil {
		return bc
	}
	return &tlsConn{Conn: tls.Server(bc, l.o.TLS), raw: bc}
}

// conn is an accepted connection: its deadlines, and its place in the
// budget, given back once on Close.
type conn struct {
	net.Conn
	o      *Options
	src    netip.Addr
	fresh  atomic.Bool // nothing read yet: the handshake deadline holds
	closed atomic.Bool
	// inHandshake: a TLS handshake is in progress, and its deadline,
	// not the idle one, bounds the reads and writes.
	inHandshake atomic.Bool
}

func (c *conn) Read(b []byte) (int, error) {
	fresh := c.fresh.Load() && c.o.Handshake > 0
	handshake := c.inHandshake.Load()
	idle := !fresh && !handshake && c.o.Idle > 0
	if idle {
		if err := c.Conn.SetReadDeadline(time.Now().Add(c.o.Idle)); err != nil {
			return 0, err
		}
	}
	n, err := c.Conn.Read(b)
	if n > 0 && fresh && !handshake {
		c.fresh.Store(false)
		// The first bytes came: the handshake deadline no longer
		// applies; the idle one does, from the next read.
		_ = c.Conn.SetDeadline(time.Time{})
	}
	if isTimeout(err) && (fresh || handshake || idle) {
		// A silent peer: its connection ends like a closed one (sipgo
		// logs a read error, with the peer's address, at ERROR; a
		// close, at DEBUG). A deadline the server set itself is the
		// server's business: net/http ends its background read between
		// requests with one in the past, and the connection lives on.
		c.Close()
		return n, io.EOF
	}
	return n, err
}

func (c *conn) Write(b []byte) (int, error) {
	if c.o.Write > 0 && !c.inHandshake.Load() {
		if err := c.Conn.SetWriteDeadline(time.Now().Add(c.o.Write)); err != nil {
			return 0, err
		}
	}
	return c.Conn.Write(b)
}

func (c *conn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	err := c.Conn.Close()
	if c.o.Budget != nil {
		c.o.Budget.give(c.src)
	}
	return err
}

// tlsConn is an accepted TLS connection whose handshake is bounded by the
// handshake deadline set at accept, and its reads afterwards by the idle
// one.
type tlsConn struct {
	*tls.Conn
	raw  *conn
	once sync.Once
	err  error
}

func (c *tlsConn) handshake() error {
	c.once.Do(func() {
		c.raw.inHandshake.Store(true)
		c.err = c.Conn.Handshake()
		c.raw.inHandshake.Store(false)
		c.raw.fresh.Store(false)
		if c.err == nil {
			_ = c.raw.Conn.SetDeadline(time.Time{})
		}
	})
	return c.err
}

func (c *tlsConn) Read(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		c.raw.Close()
		return 0, io.EOF
	}
	n, err := c.Conn.Read(b)
	if isTimeout(err) && c.raw.o.Idle > 0 {
		// Past the handshake, only the idle deadline is the listener's
		// (see conn.Read).
		c.raw.Close()
		return n, io.EOF
	}
	return n, err
}

func (c *tlsConn) Write(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		c.raw.Close()
		return 0, err
	}
	return c.Conn.Write(b)
}

func (c *tlsConn) Close() error {
	err := c.Conn.Close()
	c.raw.Close()
	return err
}

// NetConn is the connection under TLS.
func (c *tlsConn) NetConn() net.Conn { return c.raw }

func isTimeout(err error) bool {
	return err != nil && errors.Is(err, os.ErrDeadlineExceeded)
}

// rateLog lets one line through per LogEvery and counts the rest.
type rateLog struct {
	mu         sync.Mutex
	next       time.Time
	suppressed int
}

// allow reports whether a line may be logged at now, and how many were
// suppressed since the last one.
func (r *rateLog) allow(now time.Time) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Before(r.next) {
		r.suppressed++
		return 0, false
	}
	n := r.suppressed
	r.suppressed, r.next = 0, now.Add(LogEvery)
	return n, true
}

// FitTotal returns total, or half the process's file-descriptor limit when
// that is lower (and fitted reports that): the other half stays for what
// else the server opens (media relay sockets, voicemail files, outgoing
// connections), so that a flood of connections meets the budget before it
// meets "too many open files".
func FitTotal(total int) (n int, fitted bool) {
	if lim := fdLimit(); lim > 0 && (total <= 0 || total > lim/2) {
		return max(lim/2, 1), true
	}
	return total, false
}
