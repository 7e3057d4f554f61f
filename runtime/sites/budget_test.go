package sites_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"switchboard/compiler/credentials"
	"switchboard/runtime/b2bua"
	"switchboard/runtime/site"
	"switchboard/runtime/sites"
)

// One connection budget for every listener of a server of several sites,
// as a server of one site has (issue 13: connection limits per source and
// overall): the SIP over TCP, SIP over TLS and HTTP listeners each had
// their own, so one address held the limit on each (and, under a low
// descriptor limit, half of it on each: more descriptors than the process
// has, with nothing left for media). With 4 per source, 4 idle TCP
// connections leave a TLS or HTTP connection from that address nothing.
func TestOneConnectionBudget(t *testing.T) {
	lim := site.Limits{PerSource: 4, Handshake: 10 * time.Second, HTTPRead: 10 * time.Second}
	srv := sites.New(quiet)
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
	}
	conf := &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}, MinVersion: tls.VersionTLS12}
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
	// closed reports whether the server closes c within two seconds,
	// well before the 10-second handshake time: only a refused
	// connection is closed that soon.
	closed := func(c net.Conn) bool {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err := c.Read(make([]byte, 1))
		return !errors.Is(err, os.ErrDeadlineExceeded)
	}
	held := make([]net.Conn, 4)
	for i := range held {
		held[i] = dial(tcpL)
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
