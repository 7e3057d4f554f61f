package sites

import (
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
