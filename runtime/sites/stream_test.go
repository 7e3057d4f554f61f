package sites_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"switchboard/compiler/credentials"
	"switchboard/runtime/b2bua"
	"switchboard/runtime/site"
	"switchboard/runtime/sites"
	"switchboard/tlstest"
)

var realmRE = regexp.MustCompile(`(?i)^WWW-Authenticate:.*realm="([^"]+)"`)

// streamRegister sends a REGISTER of account at domain over c and returns
// the response's status and the realm of its challenge.
func streamRegister(t *testing.T, c net.Conn, prefix, account, domain string) (status int, realm string) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	local := c.LocalAddr().String()
	transport := "TCP"
	if _, ok := c.(*tls.Conn); ok {
		transport = "TLS"
	}
	msg := fmt.Sprintf("%sREGISTER sip:%s SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=z9hG4bK-%d\r\nMax-Forwards: 70\r\n"+
		"From: <sip:%s@%s>;tag=1\r\nTo: <sip:%s@%s>\r\nCall-ID: %d@test\r\nCSeq: 1 REGISTER\r\nContact: <sip:%s@%s;transport=%s>\r\nExpires: 60\r\nContent-Length: 0\r\n\r\n",
		prefix, domain, transport, local, time.Now().UnixNano(), account, domain, account, domain, time.Now().UnixNano(), account, local, strings.ToLower(transport))
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the answer to %s at %s: %v", account, domain, err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if status == 0 {
				continue // a keep-alive's CRLF
			}
			return status, realm
		}
		if status == 0 {
			if _, err := fmt.Sscanf(line, "SIP/2.0 %d", &status); err != nil {
				t.Fatalf("status line %q", line)
			}
			continue
		}
		if m := realmRE.FindStringSubmatch(line); m != nil {
			realm = m[1]
		}
	}
}

// SIP over TCP and TLS: each connection goes to the site its first
// request names, which challenges with its own realm; a domain no site
// serves gets 404; a connection whose header does not come in time is
// closed before it is routed.
func TestStreams(t *testing.T) {
	srv := sites.New(quiet)
	for i := range 3 {
		p := compile(t, siteSource(i, 201))
		s, err := site.New(site.Config{Program: p, Secrets: credentials.NewLookup(keyFor(t, i), p)}, site.Options{Logger: quiet, Services: &b2bua.Services{}, NonceSlots: sites.NonceSlots})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := srv.Add(fmt.Sprint(i), s); err != nil {
			t.Fatal(err)
		}
	}
	l := serveOnLoopback(t, srv, site.Limits{Handshake: 500 * time.Millisecond}, false)
	dial := func(t *testing.T, tls_ bool) net.Conn {
		t.Helper()
		var c net.Conn
		var err error
		if tls_ {
			c, err = tls.Dial("tcp", l.tls.Addr().String(), &tls.Config{InsecureSkipVerify: true})
		} else {
			c, err = net.Dial("tcp", l.tcp.Addr().String())
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	tests := []struct {
		name      string
		tls       bool
		prefix    string // sent before the REGISTER
		domain    string
		wantCode  int
		wantRealm string
	}{
		{"TCP, site 1", false, "", "s1.example", 401, "s1.example"},
		{"TCP, site 2 after a keep-alive", false, "\r\n\r\n", "s2.example", 401, "s2.example"},
		{"TCP, no such site", false, "", "nowhere.example", 404, ""},
		{"TLS, site 0", true, "", "s0.example", 401, "s0.example"},
		{"TLS, site 2", true, "", "s2.example", 401, "s2.example"},
		{"TLS, no such site", true, "", "nowhere.example", 404, ""},
	}
	for _, tt := range tests {
		code, realm := streamRegister(t, dial(t, tt.tls), tt.prefix, "app.ann", tt.domain)
		if code != tt.wantCode || realm != tt.wantRealm {
			t.Errorf("%s: %d realm %q, want %d realm %q", tt.name, code, realm, tt.wantCode, tt.wantRealm)
		}
	}

	// A client that sends half a header and waits is cut off once the
	// handshake time is up, though it sent bytes (which ends the
	// listener's own first-bytes deadline).
	for _, tls_ := range []bool{false, true} {
		c := dial(t, tls_)
		if _, err := io.WriteString(c, "REGISTER sip:s1.example SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1\r\n"); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := c.Read(make([]byte, 1))
		// Closed: EOF (or a reset); not still open at the client's deadline.
		if ne, ok := err.(net.Error); err == nil || (ok && ne.Timeout()) {
			t.Errorf("TLS %v: a half-sent header held its connection past the handshake time: %v", tls_, err)
		}
	}
}

// listening is what serveOnLoopback listens on.
type listening struct {
	udp      net.PacketConn // nil unless asked for
	tcp, tls net.Listener
}

// serveOnLoopback serves srv's SIP over TCP and TLS (and UDP when udp is
// set) on loopback until the test ends, with lim on the stream listeners.
func serveOnLoopback(t *testing.T, srv *sites.Server, lim site.Limits, udp bool) listening {
	t.Helper()
	conf := &tls.Config{Certificates: []tls.Certificate{tlstest.Loopback(t)}, MinVersion: tls.VersionTLS12}
	var l listening
	var err error
	if udp {
		if l.udp, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	if l.tcp, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if l.tls, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 3)
	n := 2
	if udp {
		n++
		go func() { done <- srv.ServeUDP(ctx, l.udp) }()
	}
	go func() { done <- srv.ServeTCP(ctx, l.tcp, lim) }()
	go func() { done <- srv.ServeTLS(ctx, l.tls, conf, lim) }()
	t.Cleanup(func() {
		cancel()
		for range n {
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	})
	return l
}
