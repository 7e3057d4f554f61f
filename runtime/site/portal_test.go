package site

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"switchboard/compiler/ir"
	"switchboard/runtime/b2bua"
)

// portalSecrets are SIP passwords and derived portal passwords, as
// credentials.Lookup has both.
type portalSecrets struct {
	passwordMap
	portal string // mary's
}

func (p portalSecrets) PortalPassword(user string) (string, bool) { return p.portal, user == "mary" }
func (p portalSecrets) InstallerPortalPassword() (string, bool)   { return "", false }

// TestPortalServed: the site's HTTP listener serves the portal under
// /portal/, which checks the running generation's portal passwords (a
// swap is seen at the next login) and limits its own bodies.
func TestPortalServed(t *testing.T) {
	cfg := func(pw string) Config {
		c := swapConfig(t, "a", "alice", "password-a")
		c.Program.Users = []ir.User{{Name: "mary", DisplayName: "Mary", Email: "mary@example.com", Role: "owner"}}
		c.Secrets = portalSecrets{c.Secrets.(passwordMap), pw}
		return c
	}
	s, err := New(cfg("MaryFirst23456789abc"), Options{Services: &b2bua.Services{}, Logger: quiet, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.ServeWeb(ctx, l, nil) }()
	defer func() { cancel(); <-served }()
	base := "http://" + l.Addr().String()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	status := func(method, path, contentType, body string) int {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	login := func(pw string) int {
		return status("POST", "/portal/login", "application/x-www-form-urlencoded", url.Values{"email": {"mary@example.com"}, "password": {pw}}.Encode())
	}
	if got := status("GET", "/portal/login", "", ""); got != http.StatusOK {
		t.Errorf("GET /portal/login: %d", got)
	}
	if got := login("MaryFirst23456789abc"); got != http.StatusSeeOther {
		t.Errorf("login with the derived password: %d, want 303", got)
	}
	if err := s.Swap(cfg("MarySecond3456789abc")); err != nil {
		t.Fatal(err)
	}
	if got := login("MarySecond3456789abc"); got != http.StatusSeeOther {
		t.Errorf("login with the new generation's password: %d, want 303", got)
	}
	if got := login("MaryFirst23456789abc"); got != http.StatusUnauthorized {
		t.Errorf("login with the old generation's password: %d, want 401", got)
	}
	big := strings.Repeat("x", httpMaxBody+1)
	if got := status("POST", "/portal/login", "application/x-www-form-urlencoded", "email="+big); got != http.StatusRequestEntityTooLarge {
		t.Errorf("an oversized login form: %d, want 413", got)
	}
}
