package interop

import (
	"strings"
	"testing"
	"time"

	"switchboard/runtime/auth"
)

// TestDigestAlgorithms records which digest challenges Debian's peers can
// answer, for `serve -digest`: SIPp 3.6 reads only the first challenge and
// knows only MD5 ("createAuthHeader: authentication must use MD5 or
// AKAv1-MD5"); baresip 1.0 (libre 1.1) walks every challenge and gives up
// at the first one that is not MD5 ("Register: Function not implemented").
// So the default, SHA-256 then MD5 (RFC 8760), registers neither, and only
// -digest md5 registers both.
func TestDigestAlgorithms(t *testing.T) {
	tests := []struct {
		name          string
		algs          []auth.Algorithm
		sipp, baresip bool // whether each registers
	}{
		{"sha-256,md5 (the default)", []auth.Algorithm{}, false, false},
		{"md5,sha-256", []auth.Algorithm{auth.MD5, auth.SHA256}, true, false},
		{"md5", []auth.Algorithm{auth.MD5}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Run("sipp", func(t *testing.T) {
				sippPath(t)
				s := startServer(t, serverConfig{algs: tt.algs})
				p := s.sipp(t, "register app.alice", sippOptions{scenario: "register.xml",
					args: []string{"-s", "app.alice", "-au", "app.alice", "-ap", s.password("app.alice")}})
				if ok := p.wait() == 0; ok != tt.sipp {
					t.Errorf("SIPp registered: %v, want %v\n%s", ok, tt.sipp, p.report())
				}
			})
			t.Run("baresip", func(t *testing.T) {
				baresipPath(t)
				s := startServer(t, serverConfig{algs: tt.algs})
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
