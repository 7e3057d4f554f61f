package interop

import (
	"strings"
	"testing"
	"time"

	"switchboard/compiler/ir"
	"switchboard/runtime/auth"
)

// TestDigestAlgorithms records which digest challenges Debian's peers can
// answer: SIPp 3.6 reads only the first challenge and knows only MD5
// ("createAuthHeader: authentication must use MD5 or AKAv1-MD5"); baresip
// 1.0 (libre 1.1) walks every challenge and gives up at the first one that
// is not MD5 ("Register: Function not implemented"). So the default — each
// account offered what its client answers, MD5 for an app unless the site
// asks for more — registers both, as `serve` without -digest does; a site
// or a -digest list that puts SHA-256 first registers neither.
func TestDigestAlgorithms(t *testing.T) {
	sha256First := func(p *ir.Program) {
		p.Site.Digest = []string{ir.DigestSHA256, ir.DigestMD5}
		for i := range p.Accounts {
			if p.Accounts[i].Kind == ir.AccountApp {
				p.Accounts[i].Digest = p.Site.Digest
			}
		}
	}
	tests := []struct {
		name          string
		algs          []auth.Algorithm // serve -digest; nil: none
		edit          func(*ir.Program)
		sipp, baresip bool // whether each registers
	}{
		{"default", nil, nil, true, true},
		{"site digest sha-256,md5", nil, sha256First, false, false},
		{"-digest sha-256,md5", []auth.Algorithm{auth.SHA256, auth.MD5}, nil, false, false},
		{"-digest md5,sha-256", []auth.Algorithm{auth.MD5, auth.SHA256}, nil, true, false},
		{"-digest md5", []auth.Algorithm{auth.MD5}, nil, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Run("sipp", func(t *testing.T) {
				sippPath(t)
				s := startServer(t, serverConfig{algs: tt.algs, edit: tt.edit})
				p := s.sipp(t, "register app.alice", sippOptions{scenario: "register.xml",
					args: []string{"-s", "app.alice", "-au", "app.alice", "-ap", s.password("app.alice")}})
				if ok := p.wait() == 0; ok != tt.sipp {
					t.Errorf("SIPp registered: %v, want %v\n%s", ok, tt.sipp, p.report())
				}
			})
			t.Run("baresip", func(t *testing.T) {
				baresipPath(t)
				s := startServer(t, serverConfig{algs: tt.algs, edit: tt.edit})
				b := s.startBaresip(t, "app.bob", "manual")
				// baresip registers as it starts, before ctrl_tcp has a
				// listener: the outcome is the server's registration, or
				// baresip's own complaint on its output.
				// Woken by either: an event, or a line of output.
				deadline := time.NewTimer(eventTimeout)
				defer deadline.Stop()
				for {
					written := b.p.out.next()
					ok := len(s.find(registered("app.bob"))) > 0
					failed := strings.Contains(b.p.out.String(), ": Register: ")
					if ok || failed {
						if ok != tt.baresip {
							t.Errorf("baresip registered: %v, want %v\n%s", ok, tt.baresip, b.p.out.String())
						}
						break
					}
					select {
					case <-s.cond:
					case <-written:
					case <-deadline.C:
						t.Fatalf("baresip neither registered nor gave up within %s\n%s", eventTimeout, b.p.out.String())
					}
				}
			})
		})
	}
}

// TestDigestSHA256Client: a client that answers SHA-256 (the simulated
// devices' digest, github.com/icholy/digest) registers when SHA-256 is
// all it is offered, by -digest or by the site's digest attribute.
func TestDigestSHA256Client(t *testing.T) {
	tests := []struct {
		name string
		sc   serverConfig
	}{
		{"-digest sha-256", serverConfig{algs: []auth.Algorithm{auth.SHA256}}},
		{"site digest sha-256", serverConfig{edit: func(p *ir.Program) {
			p.Site.Digest = []string{ir.DigestSHA256}
			for i := range p.Accounts {
				if p.Accounts[i].Kind == ir.AccountApp {
					p.Accounts[i].Digest = p.Site.Digest
				}
			}
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, tt.sc)
			s.device("app.alice") // fails the test unless it registers
		})
	}
}

// TestDigestURIServerAddress: SIPp puts the server's address
// (remote_ip:remote_port) in its digest uri whatever the Request-URI
// says. A REGISTER to sip:DOMAIN with that uri registers, as Kamailio
// accepts it; -auth_uri naming another address is refused.
func TestDigestURIServerAddress(t *testing.T) {
	tests := []struct {
		name string
		args []string
		ok   bool
	}{
		{"the server's address", nil, true},
		{"another address", []string{"-auth_uri", "192.0.2.1:5060"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sippPath(t)
			s := startServer(t, serverConfig{})
			args := append([]string{"-s", "app.alice", "-au", "app.alice", "-ap", s.password("app.alice")}, tt.args...)
			p := s.sipp(t, "register app.alice", sippOptions{scenario: "register_server_uri.xml", args: args})
			if ok := p.wait() == 0; ok != tt.ok {
				t.Errorf("SIPp registered: %v, want %v\n%s", ok, tt.ok, p.report())
			}
			if tt.ok {
				s.waitEvent("registered app.alice", registered("app.alice"))
			}
		})
	}
}
