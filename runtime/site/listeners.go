package site

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"switchboard/runtime/listener"
)

// Limits bound what a client can hold of the site's stream listeners: SIP
// over TCP and TLS, and HTTP. The connection counts are shared by all of
// them (descriptors are the process's). A zero field takes its default.
type Limits struct {
	// Connections open at once, over every stream listener; at most half
	// the process's descriptor limit, the rest left for media sockets and
	// files. Default DefaultConnections.
	Connections int
	// PerSource is how many of them one address (an IPv6 /64) may hold.
	// Default DefaultPerSource.
	PerSource int
	// SIPIdle closes a SIP TCP or TLS connection nothing was read from
	// for this long; any read resets it, CRLF keep-alives (RFC 5626) too.
	// Default DefaultSIPIdle.
	SIPIdle time.Duration
	// Handshake is how long a new SIP connection has to complete its TLS
	// handshake or, over TCP, to send its first bytes; for HTTP, the
	// request header (and TLS handshake) must arrive within it too.
	// Default DefaultHandshake.
	Handshake time.Duration
	// HTTPRead is how long an HTTP request may take to arrive, body
	// included. Default DefaultHTTPRead.
	HTTPRead time.Duration
}

// The defaults of Limits.
const (
	// A site's devices behind one NAT each hold a connection when they
	// register over TCP; 256 is a large building's worth, and a guard
	// against one address taking the whole budget.
	DefaultPerSource   = 256
	DefaultConnections = 4096
	// The registrar grants at most an hour (package registrar), so a
	// device registered over TCP sends at least its re-REGISTER within
	// that, keep-alives or not; five minutes more for its retries.
	DefaultSIPIdle   = 65 * time.Minute
	DefaultHandshake = 20 * time.Second
	DefaultHTTPRead  = 30 * time.Second
)

// HTTP settings that need no flag: how long a response may take to write,
// how long a keep-alive connection may wait for its next request, the
// largest request header and body. The site's requests are GETs of
// provisioning files and bodiless admin POSTs.
const (
	httpWriteTimeout = time.Minute
	httpIdleTimeout  = 2 * time.Minute
	httpMaxHeader    = 32 << 10
	httpMaxBody      = 64 << 10
	// sipWriteTimeout fails a SIP write to a peer that stopped reading.
	sipWriteTimeout = 30 * time.Second
)

func (l Limits) withDefaults() Limits {
	if l.Connections <= 0 {
		l.Connections = DefaultConnections
	}
	if l.PerSource <= 0 {
		l.PerSource = DefaultPerSource
	}
	if l.SIPIdle <= 0 {
		l.SIPIdle = DefaultSIPIdle
	}
	if l.Handshake <= 0 {
		l.Handshake = DefaultHandshake
	}
	if l.HTTPRead <= 0 {
		l.HTTPRead = DefaultHTTPRead
	}
	return l
}

// Limits are the site's Limits (Options.Limits), defaults filled in.
func (s *Site) Limits() Limits { return s.o.Limits.withDefaults() }

// limits are the site's Limits, with the connection budget fitted to the
// descriptor limit.
func (s *Site) limits() (Limits, *listener.Budget) {
	lim := s.o.Limits.withDefaults()
	s.budgetOnce.Do(func() {
		total, fitted := listener.FitTotal(lim.Connections)
		if fitted {
			s.log.Info("connection limit lowered to half the open-file limit", "asked", lim.Connections, "limit", total)
		}
		s.budget = listener.NewBudget(lim.PerSource, total)
	})
	return lim, s.budget
}

// ServeTCP serves SIP over TCP on l until ctx ends or Close, within the
// site's Limits.
func (s *Site) ServeTCP(ctx context.Context, l net.Listener) error {
	s.auth.AddServerAddress(l.Addr().String())
	lim, b := s.limits()
	return s.server.ServeTCP(ctx, listener.New(l, listener.Options{
		Budget: b, Idle: lim.SIPIdle, Handshake: lim.Handshake, Write: sipWriteTimeout, Logger: s.log,
	}))
}

// ServeTLS serves SIP over TLS with conf on l (a TCP listener) until ctx
// ends or Close, within the site's Limits.
func (s *Site) ServeTLS(ctx context.Context, l net.Listener, conf *tls.Config) error {
	if conf == nil {
		return errors.New("site: SIP over TLS needs a TLS configuration")
	}
	s.auth.AddServerAddress(l.Addr().String())
	lim, b := s.limits()
	return s.server.ServeTLS(ctx, listener.New(l, listener.Options{
		Budget: b, Idle: lim.SIPIdle, Handshake: lim.Handshake, Write: sipWriteTimeout, TLS: conf, Logger: s.log,
	}))
}

// ServeTLSAccepted serves SIP over TLS on l, whose connections have made
// their TLS handshake already (a server of several sites, package sites,
// makes it before it knows the site), within the site's Limits.
func (s *Site) ServeTLSAccepted(ctx context.Context, l net.Listener) error {
	s.auth.AddServerAddress(l.Addr().String())
	lim, b := s.limits()
	return s.server.ServeTLS(ctx, listener.New(l, listener.Options{
		Budget: b, Idle: lim.SIPIdle, Handshake: lim.Handshake, Write: sipWriteTimeout, Logger: s.log,
	}))
}

// ServeWeb serves the site's HTTP — the devices' provisioning files and
// the portal (Handler) — on l, over TLS when conf is set, until ctx ends.
// Its connections count against the site's Limits; a request header
// must arrive within Handshake, the whole request within HTTPRead, and a
// body may hold httpMaxBody bytes (the portal's, what each of its forms
// takes).
func (s *Site) ServeWeb(ctx context.Context, l net.Listener, conf *tls.Config) error {
	return s.ServeWebHandler(ctx, l, conf, s.Handler())
}

// ServeWebHandler is ServeWeb serving h instead of the site's Handler:
// a server of several sites (package sites) serves theirs on one
// listener, within this site's Limits.
func (s *Site) ServeWebHandler(ctx context.Context, l net.Listener, conf *tls.Config, h http.Handler) error {
	lim, _ := s.limits()
	return s.serveHTTP(ctx, l, conf, &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(lim.Handshake, lim.HTTPRead),
		ReadTimeout:       lim.HTTPRead,
		WriteTimeout:      httpWriteTimeout,
		IdleTimeout:       httpIdleTimeout,
		MaxHeaderBytes:    httpMaxHeader,
	})
}

// ServeAdmin serves the operator's endpoints (AdminHandler) on l, a
// loopback listener of their own, until ctx ends, within the same
// connection limits as every other listener. It has no write timeout: a
// reload of a large site takes a while, and the peer holds the token.
func (s *Site) ServeAdmin(ctx context.Context, l net.Listener) error {
	return s.ServeAdminHandler(ctx, l, s.AdminHandler())
}

// ServeAdminHandler is ServeAdmin serving h instead of the site's
// AdminHandler (package sites: several sites' on one listener).
func (s *Site) ServeAdminHandler(ctx context.Context, l net.Listener, h http.Handler) error {
	lim, _ := s.limits()
	return s.serveHTTP(ctx, l, nil, &http.Server{
		Handler:           http.MaxBytesHandler(h, httpMaxBody),
		ReadHeaderTimeout: min(lim.Handshake, lim.HTTPRead),
		ReadTimeout:       lim.HTTPRead,
		IdleTimeout:       httpIdleTimeout,
		MaxHeaderBytes:    httpMaxHeader,
	})
}

// serveHTTP runs hs on l (with TLS when conf is set) within the site's
// connection budget until ctx ends.
func (s *Site) serveHTTP(ctx context.Context, l net.Listener, conf *tls.Config, hs *http.Server) error {
	_, b := s.limits()
	// net/http reports failed TLS handshakes and the like here, through
	// the site's log (which bounds what a client can make it write).
	hs.ErrorLog = slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)
	var bl net.Listener = listener.New(l, listener.Options{Budget: b, Logger: s.log})
	if conf != nil {
		bl = tls.NewListener(bl, conf)
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			hs.Close()
		case <-done:
		}
	}()
	err := hs.Serve(bl)
	close(done)
	if errors.Is(err, http.ErrServerClosed) || ctx.Err() != nil {
		return nil
	}
	return err
}
