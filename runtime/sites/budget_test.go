package sites_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"switchboard/compiler/credentials"
	"switchboard/runtime/b2bua"
	"switchboard/runtime/site"
	"switchboard/runtime/sites"
	"switchboard/tlstest"
)

// One connection budget for every listener of a server of several sites,
// as a server of one site has (issue 13: connection limits per source and
// overall): the SIP over TCP, SIP over TLS and HTTP listeners each had
// their own, so one address held the limit on each (and, under a low
// descriptor limit, half of it on each: more descriptors than the process
// has, with nothing left for media). With 4 per source, 4 idle TCP
// connections leave a TLS or HTTP connection from that address nothing.
func TestOneConnectionBudget(t *testing.T) {
	lim := site.Limits{PerSource: 4, Handshake: time.Minute, HTTPRead: time.Minute}
	srv, _ := twoSites(t, lim)
	conf := &tls.Config{Certificates: []tls.Certificate{tlstest.Loopback(t)}, MinVersion: tls.VersionTLS12}
	listen := func() net.Listener {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	tcpL, tlsL, webL := listen(), listen(), listen()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 3)
	go func() { done <- srv.ServeTCP(ctx, tcpL, lim) }()
	go func() { done <- srv.ServeTLS(ctx, tlsL, conf, lim) }()
	go func() { done <- srv.ServeWeb(ctx, webL, nil) }()
	t.Cleanup(func() {
		cancel()
		for range 3 {
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	})
	dial := func(l net.Listener) net.Conn {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// closed reports whether the server closes c within five seconds,
	// well before the minute's handshake time: only a refused connection
	// is closed that soon.
	closed := func(c net.Conn) bool {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := c.Read(make([]byte, 1))
		return !errors.Is(err, os.ErrDeadlineExceeded)
	}
	held := make([]net.Conn, 4)
	for i := range held {
		held[i] = dial(tcpL)
	}
	// A dial returns once the kernel has the connection, before the server
	// has accepted and counted it; the listener accepts in order, so a
	// fifth refused means the four are counted (without this wait a loaded
	// machine could let the TLS dial below be counted first).
	if !closed(dial(tcpL)) {
		t.Fatal("a fifth TCP connection from one address was accepted under a limit of 4")
	}
	for name, l := range map[string]net.Listener{"SIP over TLS": tlsL, "HTTP": webL} {
		if !closed(dial(l)) {
			t.Errorf("a %s connection from an address holding its 4 over TCP was accepted", name)
		}
	}
	// Together, within the handshake time.
	stillOpen := make(chan bool, len(held))
	for _, c := range held {
		go func() { stillOpen <- !closed(c) }()
	}
	for range held {
		if !<-stillOpen {
			t.Error("an idle TCP connection within the limit was closed")
		}
	}
}

// A site that stopped serving its streams (closed, or its SIP stack
// failed to start) leaves nothing held: the connections routed to it are
// closed at once, their places in the server's budget given back, so that
// they cannot fill the budget of every other site. Before, they waited
// for an Accept that never came, open, each holding its place.
func TestStreamToAStoppedSite(t *testing.T) {
	lim := site.Limits{PerSource: 2, Handshake: time.Minute}
	srv, s1 := twoSites(t, lim)
	s1.Close() // its ServeTCP returns at once
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeTCP(ctx, l, lim) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	dial := func() net.Conn {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	for i := range lim.PerSource {
		c := dial()
		msg := fmt.Sprintf("REGISTER sip:s1.example SIP/2.0\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bK-%d\r\nFrom: <sip:app.ann@s1.example>;tag=1\r\n"+
			"To: <sip:app.ann@s1.example>\r\nCall-ID: stopped-%d\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n", c.LocalAddr(), i, i)
		if _, err := io.WriteString(c, msg); err != nil {
			t.Fatal(err)
		}
		// Well within the minute's handshake time.
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, c); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("connection %d to the stopped site is held open", i+1)
		}
	}
	// Their places are free: the other site is reached from that address.
	if status, realm := streamRegister(t, dial(), "", "app.ann", "s0.example"); status != 401 || realm != "s0.example" {
		t.Errorf("REGISTER at s0.example after two to the stopped site: %d, realm %q; want 401 from s0.example", status, realm)
	}
}

// twoSites is a server of two sites, s0.example and s1.example, under
// the limits lim; it returns the second site too.
func twoSites(t *testing.T, lim site.Limits) (*sites.Server, *site.Site) {
	t.Helper()
	srv := sites.New(quiet)
	var last *site.Site
	for i := range 2 {
		p := compile(t, siteSource(i, 201))
		s, err := site.New(site.Config{Program: p, Secrets: credentials.NewLookup(keyFor(t, i), p)},
			site.Options{Logger: quiet, Services: &b2bua.Services{}, NonceSlots: sites.NonceSlots, Limits: lim})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := srv.Add(fmt.Sprint(i), s); err != nil {
			t.Fatal(err)
		}
		last = s
	}
	return srv, last
}
