package compiler

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
)

func TestParseNode(t *testing.T) {
	tests := []struct {
		in      string
		host    string
		port    int
		problem bool
	}{
		{"sip1.example.net", "sip1.example.net", 0, false},
		{"SIP1.Example.NET:5080", "sip1.example.net", 5080, false},
		{"192.0.2.10", "192.0.2.10", 0, false},
		{"192.0.2.10:5070", "192.0.2.10", 5070, false},
		{"2001:db8::1", "2001:db8::1", 0, false},
		{"[2001:db8::1]:5060", "2001:db8::1", 5060, false},
		{"sip1.example.net.", "sip1.example.net.", 0, false},
		{"", "", 0, true},
		{"sip1", "", 0, true}, // one label: not a DNS name a device resolves
		{"sip1.example.net:", "", 0, true},
		{"sip1.example.net:0", "", 0, true},
		{"sip1.example.net:65536", "", 0, true},
		{"sip1.example.net:05060", "", 0, true},
		{"sip1.example.net:+5060", "", 0, true},
		{"[2001:db8::1]", "", 0, true},
		{"sip://sip1.example.net", "", 0, true},
		{"sip_1.example.net", "", 0, true},
		{"sip1.example.net:5060:5060", "", 0, true},
	}
	for _, tt := range tests {
		host, port, problem := parseNode(tt.in)
		type result struct {
			Host    string
			Port    int
			Problem bool
		}
		if d := cmp.Diff(result{tt.host, tt.port, tt.problem}, result{host, port, problem != ""}); d != "" {
			t.Errorf("parseNode(%q) (-want +got):\n%s (problem %q)", tt.in, d, problem)
		}
	}
}

// FuzzParseNode: whatever a site writes, parseNode does not panic, and
// what it accepts is a host and port that render back to something it
// accepts as the same node.
func FuzzParseNode(f *testing.F) {
	for _, s := range []string{"sip1.example.net", "sip1.example.net:5080", "[2001:db8::1]:5060", "2001:db8::1", "a:b:c", "[", "]:", ":5060"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		host, port, problem := parseNode(s)
		if problem != "" {
			return
		}
		if port < 0 || port > 65535 || host == "" {
			t.Fatalf("parseNode(%q) = %q, %d", s, host, port)
		}
		h2, p2, problem := parseNode(hostPort(host, port))
		if problem != "" || h2 != host || p2 != port {
			t.Fatalf("parseNode(%q) = %q, %d; again = %q, %d, %q", s, host, port, h2, p2, problem)
		}
	})
}

// TestLowerNodes: the site's first node is every device's server, the
// others its backups, a node without a port takes the serving side's;
// -server replaces the nodes; a site without nodes keeps its domain.
func TestLowerNodes(t *testing.T) {
	site := func(nodes string) map[string]string {
		return map[string]string{"site.pbx.hcl": `
site "s" {
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "s.example.net"
  ` + nodes + `
  installer {
    company = "I"
    email   = "i@i.example"
  }
}
residence "home" { label = "1" }
user "a" {
  email     = "a@example.com"
  role      = "owner"
  residence = residence.home
  app       = true
}
device "door" {
  model = "akuvox-r20a"
  mac   = "0C:11:05:00:00:01"
  button "1" { calls = residence.home }
}
`}
	}
	tests := []struct {
		name, attr string
		opts       LowerOptions
		want       ir.SIP
	}{
		{"no nodes", "", LowerOptions{}, ir.SIP{Server: "s.example.net", Port: 5060}},
		{"one node", `nodes = ["sip1.s.example.net:5080"]`, LowerOptions{}, ir.SIP{Server: "sip1.s.example.net", Port: 5080}},
		{"two nodes", `nodes = ["sip1.s.example.net", "192.0.2.2:5070"]`, LowerOptions{},
			ir.SIP{Server: "sip1.s.example.net", Port: 5060, Backup: []ir.SIPServer{{Server: "192.0.2.2", Port: 5070}}}},
		{"nodes without port take -port", `nodes = ["sip1.s.example.net", "sip2.s.example.net"]`, LowerOptions{Port: 5090},
			ir.SIP{Server: "sip1.s.example.net", Port: 5090, Backup: []ir.SIPServer{{Server: "sip2.s.example.net", Port: 5090}}}},
		{"-server replaces nodes", `nodes = ["sip1.s.example.net", "sip2.s.example.net"]`, LowerOptions{Server: "127.0.0.1", Port: 5062},
			ir.SIP{Server: "127.0.0.1", Port: 5062}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checked, diags := checkSources(t, site(tt.attr), "")
			if diags.HasErrors() {
				t.Fatalf("check:\n%s", describe(diags))
			}
			p, diags := Lower(checked, tt.opts)
			if diags.HasErrors() {
				t.Fatalf("lower:\n%s", describe(diags))
			}
			if err := p.Validate(); err != nil {
				t.Fatalf("validate: %v", err)
			}
			got := p.Device("door").SIP
			got.Transport, got.Expiry = "", 0
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("door's SIP (-want +got):\n%s", d)
			}
		})
	}
}
