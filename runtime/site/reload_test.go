package site

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/b2bua"
	"switchboard/runtime/events"
)

// quiet drops the site's log: the tests read events and responses.
var quiet = slog.New(slog.DiscardHandler)

// Reload swaps in what Recompile reads; when Recompile or the new
// configuration fails, the running one stays and reload_failed says why.
func TestReload(t *testing.T) {
	a, b := swapConfig(t, "a", "alice", "password-a"), swapConfig(t, "b", "alice-b", "password-b")
	broken := b
	broken.Bundle = t.TempDir() + "/missing"
	var next Config
	var nextErr error
	bus := events.NewBus(nil)
	sub := bus.Subscribe(16)
	defer sub.Close()
	s, err := New(a, Options{Events: bus, Services: &b2bua.Services{}, Logger: quiet,
		Recompile: func() (Config, error) { return next, nextErr }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	kinds := func() []events.Kind {
		var out []events.Kind
		for {
			select {
			case e := <-sub.C:
				out = append(out, e.Kind)
			default:
				return out
			}
		}
	}

	tests := []struct {
		name      string
		next      Config
		err       error
		wantErr   string // "" for success
		wantUser  string // app.alice's address after the reload
		wantKinds []events.Kind
	}{
		{"the new configuration", b, nil, "", "alice-b", []events.Kind{events.Reloaded}},
		{"the compiler refuses", a, errors.New("the new configuration has errors"),
			"the new configuration has errors; the old one keeps running", "alice-b", []events.Kind{events.ReloadFailed}},
		{"its files cannot be read", broken, nil, "provisioning files", "alice-b", []events.Kind{events.ReloadFailed}},
		{"back again", a, nil, "", "alice", []events.Kind{events.Reloaded}},
	}
	for _, tt := range tests {
		next, nextErr = tt.next, tt.err
		err := s.Reload("test")
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.wantErr)
		}
		if got := s.Program().Account("app.alice").Username; got != tt.wantUser {
			t.Errorf("%s: running alice's address %q, want %q", tt.name, got, tt.wantUser)
		}
		if diff := cmp.Diff(tt.wantKinds, kinds()); diff != "" {
			t.Errorf("%s: events (-want +got):\n%s", tt.name, diff)
		}
	}
}

// testAdminToken is the admin token of the tests' sites.
const testAdminToken = "0123456789abcdef0123456789abcdef-test"

// The admin endpoints answer loopback clients that present the token, each
// endpoint to its own method, on their own handler; the provisioning
// handler serves none of them.
func TestAdminHandler(t *testing.T) {
	a := swapConfig(t, "a", "alice", "password-a")
	s, err := New(a, Options{Services: &b2bua.Services{}, Logger: quiet, AdminToken: testAdminToken,
		Recompile: func() (Config, error) { return a, nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	admin, prov := s.AdminHandler(), s.Handler()
	const bearer = "Bearer " + testAdminToken
	tests := []struct {
		h                          http.Handler
		method, path, remote, auth string
		status                     int
		body                       string // a part of it
	}{
		{admin, "GET", "/admin/status", "127.0.0.1:4000", bearer, 200, `"site":"swap"`},
		{admin, "HEAD", "/admin/status", "[::1]:4000", bearer, 200, ""},
		{admin, "POST", "/admin/status", "127.0.0.1:4000", bearer, 405, "use GET"},
		{admin, "GET", "/admin/status", "192.0.2.7:4000", bearer, 403, "loopback only"},
		{admin, "GET", "/admin/status", "127.0.0.1:4000", "", 401, "need the admin token"},
		{admin, "GET", "/admin/status", "127.0.0.1:4000", "Basic YWRtaW46YWRtaW4=", 401, "need the admin token"},
		{admin, "POST", "/admin/reload", "127.0.0.1:4000", bearer, 200, "reloaded"},
		{admin, "POST", "/admin/reload", "127.0.0.1:4000", "bearer  " + testAdminToken, 200, "reloaded"},
		{admin, "GET", "/admin/reload", "127.0.0.1:4000", bearer, 405, "use POST"},
		{admin, "POST", "/admin/reload", "192.0.2.7:4000", bearer, 403, "loopback only"},
		{admin, "POST", "/admin/reload", "127.0.0.1:4000", "", 401, "need the admin token"},
		{admin, "POST", "/admin/check-sync?device=phone", "127.0.0.1:4000", bearer, 409, "not registered"},
		{admin, "POST", "/admin/check-sync?device=nobody", "127.0.0.1:4000", bearer, 409, `no device "nobody"`},
		{admin, "POST", "/admin/other", "127.0.0.1:4000", bearer, 404, ""},
		{prov, "GET", "/" + phoneMAC + ".cfg", "192.0.2.7:4000", "", 401, ""}, // provisioning, for everyone
		{prov, "POST", "/admin/reload", "127.0.0.1:4000", bearer, 404, "use serve's -admin address"},
		{prov, "GET", "/admin/status", "127.0.0.1:4000", bearer, 404, "use serve's -admin address"},
		{admin, "GET", "/" + phoneMAC + ".cfg", "127.0.0.1:4000", "", 404, ""},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, tt.path, nil)
		req.RemoteAddr = tt.remote
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		w := httptest.NewRecorder()
		tt.h.ServeHTTP(w, req)
		if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.body) {
			t.Errorf("%s %s from %s: %d %q, want %d with %q", tt.method, tt.path, tt.remote, w.Code, w.Body.String(), tt.status, tt.body)
		}
	}
}

// A site started without an admin token serves no admin endpoint.
func TestAdminHandlerWithoutToken(t *testing.T) {
	a := swapConfig(t, "a", "alice", "password-a")
	s, err := New(a, Options{Services: &b2bua.Services{}, Logger: quiet, Recompile: func() (Config, error) { return a, nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, auth := range []string{"", "Bearer ", "Bearer x"} {
		req := httptest.NewRequest("POST", "/admin/reload", nil)
		req.RemoteAddr = "127.0.0.1:4000"
		req.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		s.AdminHandler().ServeHTTP(w, req)
		if w.Code != 403 || !strings.Contains(w.Body.String(), "without an admin token") {
			t.Errorf("Authorization %q: %d %q, want 403 saying the endpoints are off", auth, w.Code, w.Body.String())
		}
	}
}
