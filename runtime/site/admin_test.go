package site

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"switchboard/runtime/b2bua"
	"switchboard/runtime/clock"
	"switchboard/runtime/provisioning"
)

// setClock is the wall clock's timers with a time the test sets.
type setClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *setClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *setClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	return clock.Real.AfterFunc(d, f)
}

func (c *setClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// The attack of issue 13: serve behind the documented reverse proxy
// (-trusted-proxy 127.0.0.1), so every request reaches it from loopback,
// and a stranger's POST /admin/reload passed the loopback check and
// reloaded the site. Over real loopback sockets: the provisioning listener
// (where the proxy forwards) serves no admin endpoint, whatever the request
// carries; on the admin listener a request carrying any forwarding header
// is refused whatever token it has; without the token, or with a wrong one,
// nothing happens; wrong tokens are throttled, so that even the right one
// waits out the window; the token's holder reloads.
func TestAdminAttackThroughProxy(t *testing.T) {
	a := swapConfig(t, "a", "alice", "password-a")
	var reloads atomic.Int64
	clk := &setClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s, err := New(a, Options{
		Services: &b2bua.Services{}, Logger: quiet, Clock: clk, AdminToken: testAdminToken,
		Provisioning: []provisioning.Option{provisioning.WithTrustedProxies(netip.MustParsePrefix("127.0.0.1/32"))},
		Recompile:    func() (Config, error) { reloads.Add(1); return a, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	web := httptest.NewServer(s.Handler())
	defer web.Close()
	admin := httptest.NewServer(s.AdminHandler())
	defer admin.Close()
	// clientFrom sends from a loopback address of its own: a guesser on
	// this machine has all of 127.0.0.0/8 to spread its tries over.
	clientFrom := func(ip string) *http.Client {
		tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Timeout: 10 * time.Second, Transport: tr}
	}
	client := clientFrom("127.0.0.1")

	post := func(c *http.Client, base string, hdr map[string]string) int {
		t.Helper()
		req, err := http.NewRequest("POST", base+"/admin/reload", nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	right := "Bearer " + testAdminToken
	wrong := "Bearer " + strings.Repeat("0", len(testAdminToken))

	for _, hdr := range []map[string]string{
		{"X-Forwarded-For": "203.0.113.5"},
		{"X-Forwarded-For": "203.0.113.5", "Authorization": right},
		{"Authorization": right},
	} {
		if got := post(client, web.URL, hdr); got != 404 || reloads.Load() != 0 {
			t.Errorf("POST /admin/reload on the provisioning listener with %v: status %d, %d reloads; want 404 and none", hdr, got, reloads.Load())
		}
	}

	type step struct {
		name    string
		from    string // the client's address; 127.0.0.1 when empty
		hdr     map[string]string
		status  int
		reloads int64 // reloads so far
	}
	steps := []step{
		{"the reported attack: forwarded, no token", "", map[string]string{"X-Forwarded-For": "203.0.113.5"}, 403, 0},
		{"Forwarded (RFC 7239)", "", map[string]string{"Forwarded": "for=203.0.113.5"}, 403, 0},
		{"X-Real-IP", "", map[string]string{"X-Real-IP": "203.0.113.5"}, 403, 0},
		{"Via", "", map[string]string{"Via": "1.1 caddy"}, 403, 0},
		{"forwarded with the right token", "", map[string]string{"X-Forwarded-For": "203.0.113.5", "Authorization": right}, 403, 0},
		{"forwarded, claiming loopback", "", map[string]string{"X-Forwarded-For": "127.0.0.1", "Authorization": right}, 403, 0},
		{"no token", "", nil, 401, 0},
		{"the token holder", "", map[string]string{"Authorization": right}, 200, 1},
	}
	for i := range adminFailLimit {
		steps = append(steps, step{"wrong token " + string(rune('a'+i)), fmt.Sprintf("127.0.0.%d", 2+i), map[string]string{"Authorization": wrong}, 401, 1})
	}
	steps = append(steps,
		step{"a wrong token past the limit", "127.0.0.99", map[string]string{"Authorization": wrong}, 429, 1},
		step{"the right token while throttled", "", map[string]string{"Authorization": right}, 429, 1},
	)
	for _, st := range steps {
		from := st.from
		if from == "" {
			from = "127.0.0.1"
		}
		if got := post(clientFrom(from), admin.URL, st.hdr); got != st.status {
			t.Errorf("%s: status %d, want %d", st.name, got, st.status)
		}
		if got := reloads.Load(); got != st.reloads {
			t.Errorf("%s: %d reloads so far, want %d", st.name, got, st.reloads)
		}
	}
	clk.advance(adminFailWindow)
	if got := post(client, admin.URL, map[string]string{"Authorization": right}); got != 200 || reloads.Load() != 2 {
		t.Errorf("the token holder after the window: status %d, %d reloads; want 200 and 2", got, reloads.Load())
	}
}

// AdminToken makes a 256-bit token readable by its owner only, and hands
// back the same token afterwards; a token others may read, or a short one,
// is refused.
func TestAdminTokenFile(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/.switchboard/admin-token"
	tok, created, err := AdminToken(path)
	if err != nil || !created || len(tok) != 64 {
		t.Fatalf("first start: %q, created %v, %v; want a new 64-digit token", tok, created, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, %v; want mode 0600", fi.Mode(), err)
	}
	again, created, err := AdminToken(path)
	if err != nil || created || again != tok {
		t.Fatalf("second start: created %v, %v, same token %v; want the same token", created, err, again == tok)
	}

	tests := []struct {
		name, content string
		mode          os.FileMode
		err           string // a part of it
	}{
		{"readable by others", tok, 0o644, "may be read by others"},
		{"too short", "s3cr3t", 0o600, "at least 32"},
		{"with a space", strings.Repeat("x", 20) + " " + strings.Repeat("y", 20), 0o600, "printable ASCII"},
		{"the operator's own", strings.Repeat("k", 40) + "\n", 0o600, ""},
	}
	for _, tt := range tests {
		p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
		if err := os.WriteFile(p, []byte(tt.content), tt.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, tt.mode); err != nil {
			t.Fatal(err)
		}
		got, _, err := AdminToken(p)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.err == "" && got != strings.TrimSpace(tt.content):
			t.Errorf("%s: token %q, want the file's", tt.name, got)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.err)
		case tt.err != "" && strings.Contains(err.Error(), tt.content) && tt.content != "":
			t.Errorf("%s: the error %q shows the token", tt.name, err)
		}
	}
}
