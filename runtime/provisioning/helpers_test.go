package provisioning

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icholy/digest"

	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/runtime/events"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// secrets gives every account the password "pw-<account>".
type secrets struct{}

func (secrets) SIPPassword(account string) (string, bool) {
	if account == "" {
		return "", false
	}
	return "pw-" + account, true
}

func password(device string) string { return "pw-device." + device }

// testFile is one file of a test bundle.
type testFile struct {
	path, device, vendor, data string
	secret                     bool
}

// harbourFiles is a bundle for irtest.HarbourView, shaped as the renderers
// shape it (contents are placeholders: this package never parses them).
func harbourFiles() []testFile {
	return []testFile{
		{"0c1105123456.cfg", "front-gate", "akuvox", "Config.Account1.GENERAL.Pwd = front-secret\n", true},
		{"0c1105aabbcc.cfg", "lobby", "akuvox", "Config.Account1.GENERAL.Pwd = lobby-secret\n", true},
		{"0c1105abcdef.cfg", "monitor-1a", "akuvox", "Config.Account1.GENERAL.Pwd = monitor-secret\n", true},
		{"805ec0112233-directory.xml", "desk-101", "yealink", "<YealinkIPPhoneDirectory/>\n", false},
		{"805ec0112233.boot", "desk-101", "yealink", "#!version:1.0.0.1\ninclude:config \"805ec0112233.cfg\"\n", false},
		{"805ec0112233.cfg", "desk-101", "yealink", "#!version:1.0.0.1\naccount.1.password = desk-101-secret\n", true},
		{"805ec0445566.boot", "desk-102", "yealink", "#!version:1.0.0.1\ninclude:config \"805ec0445566.cfg\"\n", false},
		{"805ec0445566.cfg", "desk-102", "yealink", "#!version:1.0.0.1\naccount.1.password = desk-102-secret\n", true},
		{"cfg000b82445566.xml", "side-gate", "grandstream", "<gs_provision version=\"1\"><config version=\"1\"><P34>side-secret</P34></config></gs_provision>\n", true},
		{"cfgc074ad010203.xml", "desk-103", "grandstream", "<gs_provision version=\"1\"><config version=\"1\"><P34>desk-103-secret</P34></config></gs_provision>\n", true},
		{"y000000000000.boot", "", "yealink", "#!version:1.0.0.1\ninclude:config \"y000000000096.cfg\"\n", false},
		{"y000000000096.cfg", "", "yealink", "#!version:1.0.0.1\nlocal_time.ntp_server1 = pool.ntp.org\n", false},
		{"y000000000108.cfg", "", "yealink", "#!version:1.0.0.1\nlocal_time.ntp_server1 = pool.ntp.org\n", false},
	}
}

// writeBundle writes files (and a manifest unless withManifest is false)
// to dir/provision, plus a decoy dialplan.json beside it, and returns the
// provision directory.
func writeBundle(t testing.TB, dir string, files []testFile, withManifest bool) string {
	t.Helper()
	prov := filepath.Join(dir, "provision")
	if err := os.MkdirAll(prov, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dialplan.json"), []byte(`{"decoy": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var m Manifest
	for _, f := range files {
		mode := os.FileMode(0o644)
		if f.secret {
			mode = 0o600
		}
		target := filepath.Join(prov, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(target, []byte(f.data), mode); err != nil {
			t.Fatal(err)
		}
		m.Add(f.path, f.device, f.vendor, []byte(f.data), f.secret)
	}
	if withManifest {
		if err := WriteManifest(prov, &m); err != nil {
			t.Fatal(err)
		}
	}
	return prov
}

// fixture is a running server over HarbourView on loopback.
type fixture struct {
	t     *testing.T
	srv   *Server
	http  *httptest.Server
	clock *fakeClock
	sub   *events.Subscription
	prog  *ir.Program
	dir   string        // the provision directory
	log   *bytes.Buffer // what the server logged (not safe while requests run)
}

func newFixture(t *testing.T, opts ...Option) *fixture {
	t.Helper()
	return newFixtureWith(t, secrets{}, opts...)
}

// newFixtureWith is newFixture with the server's passwords from sec.
func newFixtureWith(t *testing.T, sec Secrets, opts ...Option) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: newFakeClock(), prog: irtest.HarbourView()}
	f.dir = writeBundle(t, t.TempDir(), harbourFiles(), true)
	bus := events.NewBus(f.clock.Now)
	f.sub = bus.Subscribe(256)
	t.Cleanup(f.sub.Close)
	f.log = &bytes.Buffer{}
	logger := slog.New(slog.NewTextHandler(f.log, nil))
	opts = append([]Option{WithClock(f.clock), WithEvents(bus), WithLogger(logger)}, opts...)
	srv, err := New(f.prog, f.dir, sec, opts...)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	f.http = httptest.NewServer(srv)
	t.Cleanup(f.http.Close)
	return f
}

// event waits for the next event (published after the response may have
// reached the client, so never assume it is already there).
func (f *fixture) event() events.Event {
	f.t.Helper()
	select {
	case e := <-f.sub.C:
		return e
	case <-time.After(5 * time.Second):
		f.t.Fatal("no event published")
	}
	return events.Event{}
}

// noEvent checks that nothing is queued. Use it only after a request whose
// handler must have finished (a later request on the same client has been
// answered).
func (f *fixture) noEvent() {
	f.t.Helper()
	select {
	case e := <-f.sub.C:
		f.t.Errorf("unexpected event %+v", e)
	default:
	}
}

// client is a small digest client with full control over what it sends.
type client struct {
	t        testing.TB
	base     string
	user     string
	password string
	alg      string // challenge to answer; "" for the first offered
	header   http.Header
}

func (f *fixture) client(device string) *client {
	return &client{t: f.t, base: f.http.URL, user: device, password: password(device)}
}

// do sends method path without credentials, and when challenged, once
// more with a digest answer. It returns the final response, body read.
func (c *client) do(method, path string) (*http.Response, string) {
	c.t.Helper()
	res, body := c.send(method, path, "")
	if res.StatusCode != http.StatusUnauthorized {
		return res, body
	}
	chal := c.pick(res)
	auth := c.authorization(chal, method, path, 1)
	return c.send(method, path, auth)
}

func (c *client) get(path string) (*http.Response, string) { return c.do(http.MethodGet, path) }

// pick returns the challenge c answers.
func (c *client) pick(res *http.Response) *digest.Challenge {
	c.t.Helper()
	for _, h := range res.Header.Values("WWW-Authenticate") {
		chal, err := digest.ParseChallenge(h)
		if err != nil {
			c.t.Fatalf("bad challenge %q: %v", h, err)
		}
		if c.alg == "" || strings.EqualFold(chal.Algorithm, c.alg) {
			return chal
		}
	}
	c.t.Fatalf("no %s challenge in %q", c.alg, res.Header.Values("WWW-Authenticate"))
	return nil
}

func (c *client) authorization(chal *digest.Challenge, method, path string, nc int) string {
	c.t.Helper()
	cred, err := digest.Digest(chal, digest.Options{Method: method, URI: path, Username: c.user, Password: c.password, Count: nc})
	if err != nil {
		c.t.Fatal(err)
	}
	return cred.String()
}

func (c *client) send(method, path, auth string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	for k, vs := range c.header {
		req.Header[k] = vs
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return res, string(body)
}

// fileData returns the content of a harbourFiles file.
func fileData(path string) string {
	for _, f := range harbourFiles() {
		if f.path == path {
			return f.data
		}
	}
	panic("no test file " + path)
}
