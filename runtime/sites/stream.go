package sites

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"switchboard/runtime/listener"
	"switchboard/runtime/sipstack"
	"switchboard/runtime/site"
)

// maxHead is how much of a connection's first bytes are read to find its
// first message's header: sipgo's limit on a whole message.
const maxHead = 65535

// sipWriteTimeout fails a write blocked this long (runtime/site's figure).
const sipWriteTimeout = 30 * time.Second

// ServeTCP serves SIP over TCP on l for every site added so far, until
// ctx ends. A connection goes, whole, to the site its first request names
// (routed as a datagram is, see the package doc): a device's connection
// carries its own site's requests, and a request for another site on it
// meets a site that does not know its account. lim bounds the connections
// before they are routed; each site's own Limits bound them after.
func (srv *Server) ServeTCP(ctx context.Context, l net.Listener, lim site.Limits) error {
	return srv.serveStream(ctx, l, lim, nil, func(e *entry, vl net.Listener) error { return e.site.ServeTCP(ctx, vl) })
}

// ServeTLS is ServeTCP over TLS with conf: the handshake is made here, and
// the site serves the connection as TLS.
func (srv *Server) ServeTLS(ctx context.Context, l net.Listener, conf *tls.Config, lim site.Limits) error {
	if conf == nil {
		return errors.New("sites: SIP over TLS needs a TLS configuration")
	}
	return srv.serveStream(ctx, l, lim, conf, func(e *entry, vl net.Listener) error { return e.site.ServeTLSAccepted(ctx, vl) })
}

// withDefaults is lim with site's defaults for the zero fields.
func withDefaults(lim site.Limits) site.Limits {
	if lim.Connections <= 0 {
		lim.Connections = site.DefaultConnections
	}
	if lim.PerSource <= 0 {
		lim.PerSource = site.DefaultPerSource
	}
	if lim.SIPIdle <= 0 {
		lim.SIPIdle = site.DefaultSIPIdle
	}
	if lim.Handshake <= 0 {
		lim.Handshake = site.DefaultHandshake
	}
	return lim
}

func (srv *Server) serveStream(ctx context.Context, l net.Listener, lim site.Limits, conf *tls.Config, serve func(*entry, net.Listener) error) error {
	lim = withDefaults(lim)
	bl := listener.New(l, listener.Options{
		Budget: srv.connBudget(lim), Idle: lim.SIPIdle, Handshake: lim.Handshake,
		Write: sipWriteTimeout, TLS: conf, Logger: srv.log,
	})
	sm := &streamMux{srv: srv, addr: l.Addr(), serve: serve, vls: map[*entry]*streamListener{}}
	srv.mu.Lock()
	for _, e := range srv.order {
		sm.attach(e)
	}
	srv.running[sm] = struct{}{}
	srv.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { bl.Close() })
	defer stop()
	var err error
	for {
		var c net.Conn
		if c, err = bl.Accept(); err != nil {
			break
		}
		go srv.routeStream(c, sm, lim.Handshake)
	}
	srv.mu.Lock()
	delete(srv.running, sm)
	srv.mu.Unlock()
	sm.mu.Lock()
	for _, vl := range sm.vls {
		vl.Close()
	}
	sm.mu.Unlock()
	sm.wg.Wait()
	if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// streamMux is one shared stream listener's sites: each accepts from a
// streamListener of its own.
type streamMux struct {
	srv   *Server
	addr  net.Addr
	serve func(*entry, net.Listener) error
	wg    sync.WaitGroup

	mu  sync.Mutex
	vls map[*entry]*streamListener
}

// attach serves e on a streamListener of its own, at the start or when
// the site is added while the listener runs.
func (sm *streamMux) attach(e *entry) {
	vl := &streamListener{addr: sm.addr, conns: make(chan net.Conn, 64), closed: make(chan struct{})}
	sm.mu.Lock()
	sm.vls[e] = vl
	sm.mu.Unlock()
	sm.wg.Add(1)
	go func() {
		defer sm.wg.Done()
		err := sm.serve(e, vl)
		// Nobody accepts from vl any more (the site closed, or its
		// SIP stack did not start): what is routed to it is closed,
		// not held open, each with its place in the budget that
		// every site shares.
		vl.Close()
		if err != nil {
			sm.srv.log.Error("site stopped serving SIP over a stream", "site", e.name, "listener", sm.addr.String(), "error", err)
		}
	}()
}

// detach stops handing connections to a removed site.
func (sm *streamMux) detach(e *entry) {
	sm.mu.Lock()
	vl := sm.vls[e]
	delete(sm.vls, e)
	sm.mu.Unlock()
	if vl != nil {
		vl.Close()
	}
}

func (sm *streamMux) listener(e *entry) *streamListener {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return sm.vls[e]
}

// routeStream reads the first message's header of c, within handshake,
// and hands c to its site; a request no site claims is answered 404 and
// the connection closed.
func (srv *Server) routeStream(c net.Conn, sm *streamMux, handshake time.Duration) {
	// The listener's own deadline covers only the first bytes (or the TLS
	// handshake); the whole header must come within handshake too.
	timer := time.AfterFunc(handshake, func() { c.Close() })
	buf, err := readHead(c)
	if !timer.Stop() || err != nil {
		c.Close()
		return
	}
	if sipstack.RefuseBareLineEnd(buf, "accepted stream", c.RemoteAddr()) {
		// A CR or LF outside a CRLF in the first header: the 404
		// would echo it, and the site's stack refuses it anyway
		// (sipstack.StrictListener).
		c.Close()
		return
	}
	h, ok := scan(bytes.TrimLeft(buf, "\r\n"))
	var vl *streamListener
	if ok {
		if e := srv.siteOf(h, c.RemoteAddr()); e != nil {
			vl = sm.listener(e)
		}
	}
	if vl == nil {
		if ok && !h.response && h.method != "ACK" {
			_, _ = c.Write(notFound(bytes.TrimLeft(buf, "\r\n")))
		}
		c.Close()
		return
	}
	vl.push(&prefixConn{Conn: c, prefix: buf})
}

// readHead reads c until the end of a message header (after any CRLF
// keep-alives), and returns all it read.
func readHead(c net.Conn) ([]byte, error) {
	buf := make([]byte, 0, 4096)
	for {
		if len(buf) == cap(buf) {
			if cap(buf) >= maxHead {
				return nil, errors.New("no message header within the size limit")
			}
			buf = append(make([]byte, 0, min(2*cap(buf), maxHead)), buf...)
		}
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if msg := bytes.TrimLeft(buf, "\r\n"); bytes.Contains(msg, []byte("\r\n\r\n")) || bytes.Contains(msg, []byte("\n\n")) {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// prefixConn is a connection whose first bytes were read already.
type prefixConn struct {
	net.Conn
	prefix []byte
	mu     sync.Mutex
}

func (c *prefixConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()
	return c.Conn.Read(b)
}

// streamListener is one site's view of a shared stream listener: the
// connections routed to it.
type streamListener struct {
	addr   net.Addr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
	mu     sync.Mutex // push against Close's drain
}

// push hands c to the site, or closes it when the site stopped
// accepting. It holds mu so that Close, which takes it after closed is
// closed, finds in conns every connection pushed before: none is left
// there unclosed.
func (l *streamListener) push(c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.closed:
		c.Close()
		return
	default:
	}
	select {
	case l.conns <- c:
	case <-l.closed:
		c.Close()
	}
}

func (l *streamListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close stops this site's accepts, and closes the connections routed to
// it that it never accepted; the shared listener stays open for the
// others.
func (l *streamListener) Close() error {
	l.once.Do(func() {
		close(l.closed) // a push waiting for room gives up, and lets go of mu
		l.mu.Lock()
		defer l.mu.Unlock()
		for {
			select {
			case c := <-l.conns:
				c.Close()
			default:
				return
			}
		}
	})
	return nil
}

func (l *streamListener) Addr() net.Addr { return l.addr }

// notFound is the 404 to the request whose header is head: its Via,
// From, To, Call-ID and CSeq headers as they came, a tag added to To
// (RFC 3261 §8.2.6.2).
func notFound(head []byte) []byte {
	var out bytes.Buffer
	out.WriteString("SIP/2.0 404 Not Found\r\n")
	_, rest, _ := bytes.Cut(head, []byte("\n"))
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			break
		}
		name, _, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		name = bytes.TrimSpace(name)
		for _, h := range []string{"Via", "v", "From", "f", "To", "t", "Call-ID", "i", "CSeq"} {
			if bytes.EqualFold(name, []byte(h)) {
				out.Write(line)
				if (h == "To" || h == "t") && !bytes.Contains(bytes.ToLower(line), []byte(";tag=")) {
					out.WriteString(";tag=" + strconv.FormatUint(rand.Uint64(), 36))
				}
				out.WriteString("\r\n")
				break
			}
		}
	}
	out.WriteString("Server: switchboard\r\nContent-Length: 0\r\n\r\n")
	return out.Bytes()
}
