package sites

import (
	"fmt"
	"log/slog"
	"net"
	"testing"

	"switchboard/compiler/ir"
	"switchboard/runtime/b2bua"
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
