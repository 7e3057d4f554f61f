package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// idle opens l.Idle TCP connections from one address to the SIP TCP port
// and sends nothing on them. The server must keep answering a legitimate
// request, and must not hold all of them after l.IdleWait: it refuses or
// closes what is beyond its limit per source (by default 256, below the
// probe's 300), or times idle connections out. A server that holds every
// one lets a single address take its descriptors, which is how a flood of
// idle connections ends it.
func (p *prober) idle(ctx context.Context) Result {
	if !p.t.TCP.IsValid() {
		return skip("no SIP TCP address to probe (-tcp)")
	}
	d := &net.Dialer{Timeout: p.l.Timeout}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	refused := 0
	var refusal error
	for i := 0; i < p.l.Idle && ctx.Err() == nil; i++ {
		c, err := d.DialContext(ctx, "tcp", p.t.TCP.String())
		if err != nil {
			refused++
			refusal = err
			continue
		}
		conns = append(conns, c)
	}
	var ev []string
	ev = append(ev, fmt.Sprintf("opened %d idle connections to %s, %d refused", len(conns), p.t.TCP, refused))
	if refusal != nil {
		ev = append(ev, fmt.Sprintf("a refusal: %v", refusal))
	}
	if len(conns) == 0 && ctx.Err() == nil {
		// Not a limit: a server limiting connections per source takes the
		// first ones. Nothing serves SIP over TCP at the address given, so
		// nothing was audited there.
		return Result{Status: Fail, Summary: fmt.Sprintf("no connection to %s could be opened: is it serve's -tcp address?", p.t.TCP), Evidence: ev}
	}

	// Does the server still answer? Over UDP when the probe has the
	// address (a server that limits connections per source may rightly
	// refuse this one's next TCP connection).
	answered := false
	if p.t.SIP.IsValid() {
		c, err := p.dial()
		if err == nil {
			r := newRequest("OPTIONS", p.registerURI(), "probe-"+token(3), "probe")
			res, _, _ := c.final(r, p.l.Timeout)
			c.Close()
			answered = res != nil
			ev = append(ev, "a legitimate OPTIONS over UDP meanwhile: "+status(res))
		}
	} else {
		answered = refused < p.l.Idle
	}

	// Which of them does the server close within l.IdleWait?
	deadline := time.Now().Add(p.l.IdleWait)
	var mu sync.Mutex
	closed := 0
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetReadDeadline(deadline)
			buf := make([]byte, 512)
			for {
				_, err := c.Read(buf)
				if err == nil {
					continue // keep-alives and the like
				}
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					mu.Lock()
					closed++
					mu.Unlock()
				}
				return
			}
		}()
	}
	wg.Wait()
	held := len(conns) - closed
	ev = append(ev, fmt.Sprintf("the server closed %d of %d within %s: it holds %d idle connections from this address", closed, len(conns), p.l.IdleWait, held))
	failed := !answered || held >= p.l.Idle
	return result(failed, fmt.Sprintf("the server kept answering and held %d of %d idle connections from one address", held, p.l.Idle),
		"the server held every idle connection from one address, or stopped answering", ev)
}

// tls tries TLS 1.0 and 1.1, which must be refused, and every TLS 1.2
// cipher suite Go knows, insecure ones included: none of those Go calls
// insecure may be accepted.
func (p *prober) tls(ctx context.Context) Result {
	if !p.t.TLS.IsValid() {
		return skip("no SIP TLS address to probe (-tls)")
	}
	handshake := func(cfg *tls.Config) (uint16, error) {
		cfg.InsecureSkipVerify = true // the probe audits versions and ciphers, not the certificate
		d := &net.Dialer{Timeout: p.l.Timeout}
		c, err := tls.DialWithDialer(d, "tcp", p.t.TLS.String(), cfg)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.ConnectionState().CipherSuite, nil
	}
	var ev []string
	failed := false
	for _, v := range []struct {
		name string
		id   uint16
	}{{"TLS 1.0", tls.VersionTLS10}, {"TLS 1.1", tls.VersionTLS11}} {
		_, err := handshake(&tls.Config{MinVersion: v.id, MaxVersion: v.id})
		if err == nil {
			failed = true
			ev = append(ev, v.name+": accepted, want refused")
		} else {
			ev = append(ev, v.name+": refused")
		}
	}
	var accepted, weak []string
	try := func(s *tls.CipherSuite, insecure bool) {
		supports12 := false
		for _, v := range s.SupportedVersions {
			supports12 = supports12 || v == tls.VersionTLS12
		}
		if !supports12 {
			return
		}
		if _, err := handshake(&tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{s.ID}}); err != nil {
			return
		}
		accepted = append(accepted, s.Name)
		if insecure {
			weak = append(weak, s.Name)
		}
	}
	for _, s := range tls.CipherSuites() {
		try(s, false)
	}
	for _, s := range tls.InsecureCipherSuites() {
		try(s, true)
	}
	ev = append(ev, fmt.Sprintf("TLS 1.2 cipher suites accepted: %v", accepted))
	if len(weak) > 0 {
		failed = true
		ev = append(ev, fmt.Sprintf("weak cipher suites accepted: %v", weak))
	}
	if _, err := handshake(&tls.Config{MinVersion: tls.VersionTLS13}); err != nil {
		ev = append(ev, fmt.Sprintf("TLS 1.3: %v", err))
	} else {
		ev = append(ev, "TLS 1.3: accepted")
	}
	return result(failed, "only TLS 1.2 and later, with no weak cipher suite",
		"an old TLS version or a weak cipher suite was accepted", ev)
}
