package sites

import (
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync/atomic"
	"testing"

	"switchboard/compiler/ir"
	"switchboard/runtime/b2bua"
	"switchboard/runtime/sipstack"
	"switchboard/runtime/site"
)

type noPasswords struct{}

func (noPasswords) SIPPassword(string) (string, bool) { return "", false }

func program(domain string, trunkHosts ...string) *ir.Program {
	p := &ir.Program{Site: ir.Site{Name: domain, Domain: domain}}
	for _, h := range trunkHosts {
		p.Trunks = append(p.Trunks, ir.Trunk{Name: "carrier-" + h, Host: h, Port: 5060, Transport: "udp"})
	}
	return p
}

// TestSiteOf: which site each message goes to, as a table.
func TestSiteOf(t *testing.T) {
	srv := New(slog.New(slog.DiscardHandler))
	names := map[*entry]string{}
	for _, p := range []*ir.Program{program("a.example", "192.0.2.1", "192.0.2.9"), program("b.example", "192.0.2.2", "192.0.2.9")} {
		s, err := site.New(site.Config{Program: p, Secrets: noPasswords{}}, site.Options{Logger: srv.log, Services: &b2bua.Services{}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := srv.Add(p.Site.Domain, s); err != nil {
			t.Fatal(err)
		}
		names[srv.byName[p.Site.Domain]] = p.Site.Domain
	}
	srv.owners.set("sent-by-b", srv.byName["b.example"])
	device := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5062}
	carrier := func(ip string) net.Addr { return &net.UDPAddr{IP: net.ParseIP(ip), Port: 5060} }

	tests := []struct {
		name string
		h    head
		src  net.Addr
		want string // "" for none
	}{
		{"REGISTER by its To", head{method: "REGISTER", uri: "sip:b.example", to: "<sip:ann@a.example>", callID: "1"}, device, "a.example"},
		{"REGISTER to our IP, by its To", head{method: "REGISTER", uri: "sip:127.0.0.1", to: "<sip:ann@b.example>", callID: "2"}, device, "b.example"},
		{"REGISTER with an IP in To, by its Request-URI", head{method: "REGISTER", uri: "sip:a.example", to: "<sip:ann@127.0.0.1>", callID: "3"}, device, "a.example"},
		{"INVITE by its Request-URI", head{method: "INVITE", uri: "sip:101@B.Example", to: "<sip:101@a.example>", callID: "4"}, device, "b.example"},
		{"INVITE to our IP, by its To", head{method: "INVITE", uri: "sip:101@127.0.0.1", to: "<sip:101@a.example>", callID: "5"}, device, "a.example"},
		{"a carrier's call, by its source", head{method: "INVITE", uri: "sip:+3531@127.0.0.1", to: "<sip:+3531@127.0.0.1>", from: "<sip:+4420@b.example>", callID: "6"}, carrier("192.0.2.1"), "a.example"},
		{"a carrier two sites share, by From", head{method: "INVITE", uri: "sip:+3531@127.0.0.1", to: "<sip:+3531@127.0.0.1>", from: "<sip:+4420@b.example>", callID: "7"}, carrier("192.0.2.9"), "b.example"},
		{"BYE in a dialog a site began, by Call-ID", head{method: "BYE", uri: "sip:127.0.0.1", to: "<sip:101@a.example>", callID: "sent-by-b"}, device, "b.example"},
		{"an answer to a site's request", head{response: true, callID: "sent-by-b"}, device, "b.example"},
		{"an answer to nobody's request", head{response: true, to: "<sip:101@a.example>", callID: "9"}, device, ""},
		{"no site's domain", head{method: "OPTIONS", uri: "sip:c.example", to: "<sip:c.example>", from: "<sip:x@c.example>", callID: "10"}, device, ""},
		{"a call to our IP from no site", head{method: "INVITE", uri: "sip:101@127.0.0.1", to: "<sip:101@127.0.0.1>", from: "<sip:x@c.example>", callID: "12"}, device, ""},
		{"OPTIONS to our IP, a keep-alive", head{method: "OPTIONS", uri: "sip:127.0.0.1:5060", to: "<sip:127.0.0.1:5060>", from: "<sip:x@127.0.0.1>", callID: "13"}, device, "a.example"},
		{"OPTIONS to our IPv6 address", head{method: "OPTIONS", uri: "sip:[::1]:5060", to: "<sip:[::1]>", callID: "14"}, device, "a.example"},
	}
	for _, tt := range tests {
		if got := names[srv.siteOf(tt.h, tt.src)]; got != tt.want {
			t.Errorf("%s: routed to %q, want %q", tt.name, got, tt.want)
		}
	}

	// A reload that moves a's carrier to b moves its calls: the index
	// follows the running programs.
	b, _ := srv.Site("b.example")
	if err := b.Swap(site.Config{Program: program("b.example", "192.0.2.1"), Secrets: noPasswords{}}); err != nil {
		t.Fatal(err)
	}
	a, _ := srv.Site("a.example")
	if err := a.Swap(site.Config{Program: program("a.example"), Secrets: noPasswords{}}); err != nil {
		t.Fatal(err)
	}
	h := head{method: "INVITE", uri: "sip:+3531@127.0.0.1", to: "<sip:+3531@127.0.0.1>", callID: "11"}
	if got := names[srv.siteOf(h, carrier("192.0.2.1"))]; got != "b.example" {
		t.Errorf("a carrier's call after its trunk moved to b: routed to %q", got)
	}
}

// BenchmarkRoute: what the demultiplexer does per datagram before the
// site parses it, among 200 sites: a REGISTER routed by domain, and a
// response routed by the Call-ID its site sent.
func BenchmarkRoute(b *testing.B) {
	srv := New(slog.New(slog.DiscardHandler))
	for i := range 200 {
		d := fmt.Sprintf("s%d.example", i)
		s, err := site.New(site.Config{Program: program(d), Secrets: noPasswords{}}, site.Options{Logger: srv.log, Services: &b2bua.Services{}, NonceSlots: NonceSlots})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		if err := srv.Add(d, s); err != nil {
			b.Fatal(err)
		}
	}
	srv.owners.set("c0ffee@s7", srv.byName["s7.example"])
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5062}
	for _, tt := range []struct{ name, msg, want string }{
		{"REGISTER", "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n" +
			"From: <sip:app.ann@s123.example>;tag=1\r\nTo: <sip:app.ann@s123.example>\r\nCall-ID: 1@x\r\nCSeq: 1 REGISTER\r\n" +
			"Contact: <sip:app.ann@127.0.0.1:5062>\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n", "s123.example"},
		{"response", "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK2\r\nFrom: <sip:door@s7.example>;tag=2\r\n" +
			"To: <sip:app.ann@s7.example>;tag=3\r\nCall-ID: c0ffee@s7\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", "s7.example"},
	} {
		b.Run(tt.name, func(b *testing.B) {
			msg := []byte(tt.msg)
			for b.Loop() {
				h, _ := scan(msg)
				if e := srv.siteOf(h, src); e == nil || e.name != tt.want {
					b.Fatalf("routed to %v", e)
				}
			}
		})
	}
}

// written is a socket that keeps what is written to it.
type written struct {
	net.PacketConn
	sent [][]byte
}

func (w *written) WriteTo(b []byte, _ net.Addr) (int, error) {
	w.sent = append(w.sent, append([]byte(nil), b...))
	return len(b), nil
}

var writtenAddr = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060}

func (w *written) LocalAddr() net.Addr { return writtenAddr }

// BenchmarkRouteAndRead: what a datagram costs from the router's read to
// the site's ReadyConn handing it to sipgo, a REGISTER of 442 bytes whose
// lines end at CRLF — the router's line-end walk, scan, routing and copy,
// the queue, and the ReadyConn's own walk when it makes one.
func BenchmarkRouteAndRead(b *testing.B) {
	srv := New(slog.New(slog.DiscardHandler))
	s, err := site.New(site.Config{Program: program("a.example"), Secrets: noPasswords{}}, site.Options{Logger: srv.log, Services: &b2bua.Services{}, NonceSlots: NonceSlots})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := srv.Add("a.example", s); err != nil {
		b.Fatal(err)
	}
	m := &udpMux{srv: srv, conn: &written{}, conns: map[*entry]*siteConn{}}
	e := srv.byName["a.example"]
	sc := &siteConn{mux: m, e: e, in: make(chan packet, 1), closed: make(chan struct{}), reading: func() {}}
	m.conns[e] = sc
	var closing atomic.Bool
	rc := sipstack.NewReadyConn(sc, &closing, nil)
	b.Cleanup(func() { rc.Close() })
	msg := []byte("REGISTER sip:a.example SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK5e3a1c;rport\r\nMax-Forwards: 70\r\n" +
		"From: \"Desk\" <sip:app.ann@a.example>;tag=8a1f\r\nTo: <sip:app.ann@a.example>\r\nCall-ID: 5e3a1c-7c1e-4f0a-9a55-0b6c0d1e2f30\r\nCSeq: 12 REGISTER\r\n" +
		"Contact: <sip:app.ann@192.168.1.20:5060;transport=udp>\r\nExpires: 300\r\nAllow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, OPTIONS\r\n" +
		"User-Agent: Yealink SIP-T54W 96.86.0.70\r\nContent-Length: 0\r\n\r\n")
	src := &net.UDPAddr{IP: net.IPv4(192, 168, 1, 20), Port: 5060}
	in, out := make([]byte, 65535), make([]byte, 65535)
	for b.Loop() {
		m.route(in[:copy(in, msg)], src)
		if n, _, err := rc.ReadFrom(out); err != nil || n != len(msg) {
			b.Fatalf("read %d, %v", n, err)
		}
	}
}

// FuzzRoute: the router reads outside input and gives it its CRs before
// anything reads it. What it hands a site (whose ReadyConn trusts it,
// siteConn.ReadsCRLF) and what it answers (404) has every header line at
// CRLF; a datagram with a lone CR in its header goes nowhere; a lone LF
// costs a datagram nothing.
func FuzzRoute(f *testing.F) {
	f.Add([]byte("OPTIONS sip:a.example SIP/2.0\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\nFrom: <sip:x@a.example>;tag=1\nTo: <sip:a.example>\nCall-ID: 1\nCSeq: 1 OPTIONS\n\n"))
	f.Add([]byte("INVITE sip:1@b.example SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\nFrom: <sip:x@b.example>;tag=1\r\nTo: <sip:1@b.example>\nCall-ID: 2\r\nCSeq: 1 INVITE\n\r\nv=0\nbody\r\n"))
	f.Add([]byte("INVITE sip:1@b.example SIP/2.0\r\nCall-ID: 3\rX: 1\r\n\r\n"))
	f.Add([]byte("SIP/2.0 200 OK\ni: 4\n\n"))
	srv := New(slog.New(slog.DiscardHandler))
	s, err := site.New(site.Config{Program: program("a.example"), Secrets: noPasswords{}}, site.Options{Logger: srv.log, Services: &b2bua.Services{}, NonceSlots: NonceSlots})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	if err := srv.Add("a.example", s); err != nil {
		f.Fatal(err)
	}
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5062}
	f.Fuzz(func(t *testing.T, data []byte) {
		w := &written{}
		m := &udpMux{srv: srv, conn: w, conns: map[*entry]*siteConn{}}
		e := srv.byName["a.example"]
		sc := &siteConn{mux: m, e: e, in: make(chan packet, 1), closed: make(chan struct{})}
		m.conns[e] = sc
		buf := make([]byte, 65535)
		m.route(buf[:copy(buf, data)], src)
		var out [][]byte
		select {
		case p := <-sc.in:
			out = append(out, p.data)
		default:
		}
		if len(out) > 0 && len(w.sent) > 0 {
			t.Fatalf("%q both routed and answered", data)
		}
		crlf, ok := sipstack.CRLF(append([]byte(nil), data...))
		if len(out) > 0 && !slices.Equal(out[0], crlf) {
			t.Fatalf("%q routed as %q, want %q", data, out[0], crlf)
		}
		out = append(out, w.sent...)
		if !ok && len(out) > 0 {
			t.Fatalf("%q has a lone CR and went on: %q", data, out)
		}
		for _, o := range out {
			if sipstack.BareLineEnd(o) {
				t.Fatalf("%q went on with a line not at CRLF: %q", data, o)
			}
		}
	})
}
