package provisioning

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/icholy/digest"

	"switchboard/compiler/ir/irtest"
	"switchboard/runtime/events"
	"switchboard/tlstest"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestFetchOwnFile(t *testing.T) {
	for _, alg := range []string{SHA256, MD5} {
		t.Run(alg, func(t *testing.T) {
			f := newFixture(t)
			c := f.client("front-gate")
			c.alg = alg
			res, body := c.get("/0c1105123456.cfg")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200: %s", res.StatusCode, body)
			}
			if want := fileData("0c1105123456.cfg"); body != want {
				t.Errorf("body %q, want %q", body, want)
			}
			want := map[string]string{
				"Content-Type":  "text/plain; charset=utf-8",
				"Etag":          `"` + sha(body) + `"`,
				"Cache-Control": "private, no-cache",
			}
			for k, v := range want {
				if got := res.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if res.Header.Get("Last-Modified") == "" {
				t.Error("no Last-Modified")
			}
			e := f.event()
			wantEvent := events.Event{
				Time: f.clock.Now(), Kind: events.ProvisionFetch, Device: "front-gate", Account: "device.front-gate",
				Path: "0c1105123456.cfg", Source: "127.0.0.1", Status: 200, Origin: f.prog.Device("front-gate").Origin,
			}
			if d := cmp.Diff(wantEvent, e); d != "" {
				t.Errorf("event (-want +got):\n%s", d)
			}
		})
	}
}

func TestXMLContentType(t *testing.T) {
	f := newFixture(t)
	res, body := f.client("side-gate").get("/cfg000b82445566.xml")
	if res.StatusCode != 200 || body != fileData("cfg000b82445566.xml") {
		t.Fatalf("status %d body %q", res.StatusCode, body)
	}
	if got := res.Header.Get("Content-Type"); got != "application/xml" {
		t.Errorf("Content-Type %q, want application/xml", got)
	}
}

func TestHead(t *testing.T) {
	f := newFixture(t)
	res, body := f.client("desk-101").do(http.MethodHead, "/805ec0112233.cfg")
	if res.StatusCode != 200 || body != "" {
		t.Fatalf("HEAD: status %d body %q", res.StatusCode, body)
	}
	if res.Header.Get("Etag") != `"`+sha(fileData("805ec0112233.cfg"))+`"` {
		t.Errorf("HEAD ETag %q", res.Header.Get("Etag"))
	}
}

func TestCaseInsensitiveMAC(t *testing.T) {
	f := newFixture(t)
	res, body := f.client("front-gate").get("/0C1105123456.cfg")
	if res.StatusCode != 200 || body != fileData("0c1105123456.cfg") {
		t.Fatalf("status %d body %q", res.StatusCode, body)
	}
	if e := f.event(); e.Path != "0c1105123456.cfg" {
		t.Errorf("event path %q, want the bundle's name", e.Path)
	}
}

func TestCommonFile(t *testing.T) {
	f := newFixture(t)
	// Common Yealink files go to any authenticated device, even a non-Yealink one.
	for _, dev := range []string{"desk-101", "front-gate"} {
		for _, p := range []string{"/y000000000000.boot", "/y000000000096.cfg"} {
			res, body := f.client(dev).get(p)
			if res.StatusCode != 200 || body != fileData(p[1:]) {
				t.Errorf("%s %s: status %d body %q", dev, p, res.StatusCode, body)
			}
		}
	}
	// But not without credentials.
	res, _ := f.client("desk-101").send(http.MethodGet, "/y000000000000.boot", "")
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("no credentials: status %d, want 401", res.StatusCode)
	}
}

// An authenticated device asking for another device's file gets exactly
// what it gets for a file that does not exist.
func TestOtherDevicesFile(t *testing.T) {
	f := newFixture(t)
	c := f.client("desk-101")
	other, otherBody := c.get("/0c1105123456.cfg")
	missing, missingBody := c.get("/0c1105999999.cfg")
	manifest, manifestBody := c.get("/manifest.json")
	for _, r := range []*http.Response{other, missing, manifest} {
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", r.Request.URL.Path, r.StatusCode)
		}
	}
	if otherBody != missingBody || manifestBody != missingBody {
		t.Errorf("bodies differ: %q, %q, %q", otherBody, missingBody, manifestBody)
	}
	if d := cmp.Diff(headerShape(missing.Header), headerShape(other.Header)); d != "" {
		t.Errorf("headers differ (-missing +other):\n%s", d)
	}
	e := f.event()
	if e.Kind != events.ProvisionDenied || e.Status != 404 || e.Device != "desk-101" || e.Path != "0c1105123456.cfg" ||
		e.Origin != f.prog.Device("desk-101").Origin || !strings.Contains(e.Cause, "front-gate") {
		t.Errorf("event %+v", e)
	}
}

// headerShape drops the headers that legitimately differ per response.
func headerShape(h http.Header) http.Header {
	h = h.Clone()
	h.Del("Date")
	if vs := h.Values("WWW-Authenticate"); vs != nil {
		h.Del("WWW-Authenticate")
		for _, v := range vs {
			chal, err := digest.ParseChallenge(v)
			if err != nil {
				h.Add("WWW-Authenticate", "unparsable: "+v)
				continue
			}
			chal.Nonce = "NONCE"
			h.Add("WWW-Authenticate", chal.String())
		}
	}
	return h
}

func TestWrongPasswordLikeUnknownUser(t *testing.T) {
	f := newFixture(t)
	wrong := f.client("front-gate")
	wrong.password = "guess"
	unknown := f.client("nobody")
	app := f.client("mary") // an app account: not a device, not served
	app.password = "pw-app.mary"

	wr, wbody := wrong.get("/0c1105123456.cfg")
	ur, ubody := unknown.get("/0c1105123456.cfg")
	ar, abody := app.get("/0c1105123456.cfg")
	for _, r := range []*http.Response{wr, ur, ar} {
		if r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", r.StatusCode)
		}
	}
	if wbody != ubody || abody != ubody {
		t.Errorf("bodies differ: %q, %q, %q", wbody, ubody, abody)
	}
	if d := cmp.Diff(headerShape(wr.Header), headerShape(ur.Header)); d != "" {
		t.Errorf("headers differ (-wrong password +unknown user):\n%s", d)
	}
	if d := cmp.Diff(headerShape(wr.Header), headerShape(ar.Header)); d != "" {
		t.Errorf("headers differ (-wrong password +app account):\n%s", d)
	}
	if got := len(wr.Header.Values("WWW-Authenticate")); got != 2 {
		t.Errorf("%d challenges, want SHA-256 and MD5", got)
	}

	e := f.event()
	if e.Kind != events.ProvisionDenied || e.Status != 401 || e.Device != "front-gate" || e.Cause != "wrong password" {
		t.Errorf("wrong password event %+v", e)
	}
	e = f.event()
	if e.Kind != events.ProvisionDenied || e.Status != 401 || e.Device != "" || e.Cause != "unknown user" {
		t.Errorf("unknown user event %+v", e)
	}
}

func TestChallenge(t *testing.T) {
	f := newFixture(t)
	res, _ := f.client("desk-101").send(http.MethodGet, "/805ec0112233.cfg", "")
	vs := res.Header.Values("WWW-Authenticate")
	if len(vs) != 2 {
		t.Fatalf("challenges %q", vs)
	}
	var algs []string
	for _, v := range vs {
		chal, err := digest.ParseChallenge(v)
		if err != nil {
			t.Fatal(err)
		}
		algs = append(algs, chal.Algorithm)
		if chal.Realm != "harbour-view.example.net" || !chal.SupportsQOP("auth") || chal.Stale || chal.Nonce == "" {
			t.Errorf("challenge %+v", chal)
		}
	}
	if d := cmp.Diff([]string{"SHA-256", "MD5"}, algs); d != "" {
		t.Errorf("algorithms (-want +got):\n%s", d)
	}
	f.noEvent() // an unauthenticated first request is the normal start of a fetch
}

func TestMD5Only(t *testing.T) {
	f := newFixture(t, WithAlgorithms("md5"))
	c := f.client("front-gate")
	res, _ := c.send(http.MethodGet, "/0c1105123456.cfg", "")
	if vs := res.Header.Values("WWW-Authenticate"); len(vs) != 1 || !strings.Contains(vs[0], "algorithm=MD5") {
		t.Fatalf("challenges %q", vs)
	}
	if res, _ := c.get("/0c1105123456.cfg"); res.StatusCode != 200 {
		t.Errorf("status %d", res.StatusCode)
	}
	// A SHA-256 answer to an MD5-only server is refused.
	nonce := f.srv.nonces.Issue(f.clock.Now())
	auth := c.authorization(&digest.Challenge{Realm: "harbour-view.example.net", Nonce: nonce, Algorithm: SHA256, QOP: []string{"auth"}}, "GET", "/0c1105123456.cfg", 1)
	if res, _ := c.send(http.MethodGet, "/0c1105123456.cfg", auth); res.StatusCode != 401 {
		t.Errorf("SHA-256 answer: status %d, want 401", res.StatusCode)
	}
}

func TestNotModified(t *testing.T) {
	f := newFixture(t)
	c := f.client("desk-101")
	res, _ := c.get("/805ec0112233.cfg")
	etag, lastMod := res.Header.Get("Etag"), res.Header.Get("Last-Modified")
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		c.header = http.Header{"If-None-Match": {inm}}
		res, body := c.get("/805ec0112233.cfg")
		if res.StatusCode != http.StatusNotModified || body != "" {
			t.Errorf("If-None-Match %s: status %d body %q, want 304", inm, res.StatusCode, body)
		}
	}
	c.header = http.Header{"If-None-Match": {`"stale"`}}
	if res, _ := c.get("/805ec0112233.cfg"); res.StatusCode != 200 {
		t.Errorf("other ETag: status %d, want 200", res.StatusCode)
	}
	c.header = http.Header{"If-Modified-Since": {lastMod}}
	if res, _ := c.get("/805ec0112233.cfg"); res.StatusCode != http.StatusNotModified {
		t.Errorf("If-Modified-Since: status %d, want 304", res.StatusCode)
	}
	// Another device's ETag does not reveal that the file exists.
	c.header = http.Header{"If-None-Match": {`"` + sha(fileData("0c1105123456.cfg")) + `"`}}
	if res, _ := c.get("/0c1105123456.cfg"); res.StatusCode != 404 {
		t.Errorf("other device's file with its ETag: status %d, want 404", res.StatusCode)
	}
	for range 5 {
		e := f.event()
		if e.Kind != events.ProvisionFetch {
			t.Errorf("event %+v", e)
		}
	}
}

func TestMethods(t *testing.T) {
	f := newFixture(t)
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, "PROPFIND"} {
		res, _ := f.client("desk-101").send(m, "/805ec0112233.cfg", "")
		if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: status %d Allow %q", m, res.StatusCode, res.Header.Get("Allow"))
		}
	}
}

// rawRequest sends a request line as given, so that no client library
// cleans the path first.
func rawRequest(t *testing.T, addr, target string, header ...string) int {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := "GET " + target + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
	for _, h := range header {
		req += h + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

var traversals = []string{
	"/../dialplan.json",
	"/..%2fdialplan.json",
	"/%2e%2e/dialplan.json",
	"/%2e%2e%2fdialplan.json",
	"/./0c1105123456.cfg",
	"//0c1105123456.cfg",
	"/a/../0c1105123456.cfg",
	"/..\\dialplan.json",
	"/..%5cdialplan.json",
	"/0c1105123456.cfg%00",
	"/0c1105123456.cfg%00.txt",
	"/%c0%ae%c0%ae/dialplan.json",
	"/.manifest.json.tmp123",
	"/",
	"/" + strings.Repeat("a", 600),
	"/%0d%0aX-Injected:%201",
	"/etc/passwd",
	"/provision/0c1105123456.cfg",
	"/0c1105123456.cfg/",
}

func TestTraversal(t *testing.T) {
	f := newFixture(t, WithThrottle(0, 0))
	addr := strings.TrimPrefix(f.http.URL, "http://")
	// Unauthenticated: refused as malformed, or challenged; never served.
	for _, target := range traversals {
		got := rawRequest(t, addr, target)
		if got != 400 && got != 401 {
			t.Errorf("%s: status %d, want 400 or 401", target, got)
		}
	}
	// Authenticated: 400 or 404, never a file.
	c := f.client("front-gate")
	for _, target := range traversals {
		nonce := f.srv.nonces.Issue(f.clock.Now())
		auth := c.authorization(&digest.Challenge{Realm: "harbour-view.example.net", Nonce: nonce, Algorithm: SHA256, QOP: []string{"auth"}}, "GET", target, 1)
		got := rawRequest(t, addr, target, "Authorization: "+auth)
		if got != 400 && got != 404 {
			t.Errorf("authenticated %s: status %d, want 400 or 404", target, got)
		}
	}
}

func TestRequestName(t *testing.T) {
	s := &Server{cfg: config{basePath: "/"}}
	tests := []struct {
		path string
		name string
		ok   bool
	}{
		{"/0c1105123456.cfg", "0c1105123456.cfg", true},
		{"/sub/dir/file.cfg", "sub/dir/file.cfg", true},
		{"/manifest.json", "manifest.json", true}, // well formed; 404 later
		{"/", "", false},
		{"", "", false},
		{"0c1105123456.cfg", "", false},
		{"/../x", "", false},
		{"/a/../x", "", false},
		{"/a//x", "", false},
		{"/./x", "", false},
		{"/x/", "", false},
		{"/.hidden", "", false},
		{"/a\\b", "", false},
		{"/a\x00b", "", false},
		{"/a\nb", "", false},
		{"/\xff", "", false},
	}
	for _, tt := range tests {
		name, ok := s.requestName(tt.path)
		if ok != tt.ok || (ok && name != tt.name) {
			t.Errorf("requestName(%q) = %q, %v; want %q, %v", tt.path, name, ok, tt.name, tt.ok)
		}
	}
}

func TestBasePath(t *testing.T) {
	f := newFixture(t, WithBasePath("/provision/"))
	c := f.client("front-gate")
	if res, body := c.get("/provision/0c1105123456.cfg"); res.StatusCode != 200 || body != fileData("0c1105123456.cfg") {
		t.Errorf("under base path: status %d", res.StatusCode)
	}
	if res, _ := c.get("/0c1105123456.cfg"); res.StatusCode != 400 {
		t.Errorf("outside base path: status %d, want 400", res.StatusCode)
	}
}

func TestThrottle(t *testing.T) {
	f := newFixture(t, WithThrottle(3, time.Minute))
	wrong := f.client("front-gate")
	wrong.password = "guess"
	for i := range 3 {
		if res, _ := wrong.get("/0c1105123456.cfg"); res.StatusCode != 401 {
			t.Fatalf("attempt %d: status %d, want 401", i+1, res.StatusCode)
		}
	}
	// Now the device is refused from this address, right password or
	// not, before any check.
	right := f.client("front-gate")
	res, _ := right.get("/0c1105123456.cfg")
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "60" {
		t.Fatalf("throttled: status %d Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	var kinds []events.Kind
	for range 5 { // 3 × denied 401, throttled, denied 429
		kinds = append(kinds, f.event().Kind)
	}
	want := []events.Kind{events.ProvisionDenied, events.ProvisionDenied, events.Throttled, events.ProvisionDenied, events.ProvisionDenied}
	if d := cmp.Diff(want, kinds); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}

	f.clock.Advance(30 * time.Second)
	if res, _ := right.get("/0c1105123456.cfg"); res.Header.Get("Retry-After") != "30" {
		t.Errorf("Retry-After %q after 30s, want 30", res.Header.Get("Retry-After"))
	}
	f.clock.Advance(30 * time.Second)
	if res, _ := right.get("/0c1105123456.cfg"); res.StatusCode != 200 {
		t.Errorf("after the window: status %d, want 200", res.StatusCode)
	}
	// Unauthenticated first requests are no failures.
	for range 10 {
		if res, _ := right.send(http.MethodGet, "/0c1105123456.cfg", ""); res.StatusCode != 401 {
			t.Fatalf("challenge: status %d", res.StatusCode)
		}
	}
	if res, _ := right.get("/0c1105123456.cfg"); res.StatusCode != 200 {
		t.Errorf("after plain challenges: status %d, want 200", res.StatusCode)
	}
}

func TestThrottleUnit(t *testing.T) {
	th := newThrottle(2, time.Minute, 2)
	now := time.Unix(0, 0)
	a, b, c := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("203.0.113.3")
	if th.fail(a, "gate", now) || !th.fail(a, "gate", now) {
		t.Fatal("gate from a should be blocked at the second failure")
	}
	if _, blocked := th.blocked(a, "gate", now.Add(59*time.Second)); !blocked {
		t.Error("gate from a unblocked early")
	}
	if _, blocked := th.blocked(a, "lobby", now.Add(59*time.Second)); blocked {
		t.Error("another device behind a blocked by gate's failures")
	}
	if _, blocked := th.blocked(a, "gate", now.Add(time.Minute)); blocked {
		t.Error("gate from a still blocked after the window")
	}
	// Failures spread over more than a window do not add up.
	th.fail(b, "gate", now)
	if th.fail(b, "gate", now.Add(2*time.Minute)) {
		t.Error("b blocked by failures in different windows")
	}
	// A table that overflows makes the throttle stricter: a newcomer is
	// refused, not let through uncounted.
	th = newThrottle(5, time.Minute, 2)
	th.fail(a, "gate", now)
	th.fail(b, "gate", now)
	th.fail(c, "gate", now)
	if _, blocked := th.blocked(netip.MustParseAddr("192.0.2.200"), "lobby", now); !blocked {
		t.Error("a newcomer let through after the tables overflowed")
	}
	if _, blocked := th.blocked(c, "gate", now.Add(2*time.Minute)); blocked {
		t.Error("still strict once the window after the overflow passed")
	}
}

// Finding 8 of issue 13: one device's wrong password locked every device
// behind the same address out for the window (a building behind one NAT).
// Now it locks out that device only, up to a ceiling for the address.
func TestThrottleNATKeepsOtherDevices(t *testing.T) {
	f := newFixture(t, WithThrottle(10, 5*time.Minute))
	wrong := f.client("front-gate")
	wrong.password = "guess"
	for i := range 10 {
		if res, _ := wrong.get("/0c1105123456.cfg"); res.StatusCode != 401 {
			t.Fatalf("attempt %d: status %d, want 401", i+1, res.StatusCode)
		}
	}
	if res, _ := wrong.send(http.MethodGet, "/0c1105123456.cfg", ""); res.StatusCode != 401 {
		t.Errorf("front-gate without credentials: status %d, want 401", res.StatusCode)
	}
	if res, _ := f.client("front-gate").get("/0c1105123456.cfg"); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("front-gate, past its limit: status %d, want 429", res.StatusCode)
	}
	if res, _ := f.client("lobby").get("/0c1105aabbcc.cfg"); res.StatusCode != 200 {
		t.Errorf("lobby from the same address: status %d, want 200", res.StatusCode)
	}
}

func TestStaleNonce(t *testing.T) {
	f := newFixture(t, WithNonceLifetime(time.Minute))
	c := f.client("front-gate")
	res, _ := c.send(http.MethodGet, "/0c1105123456.cfg", "")
	chal := c.pick(res)
	f.clock.Advance(time.Minute)

	auth := c.authorization(chal, "GET", "/0c1105123456.cfg", 1)
	res, _ = c.send(http.MethodGet, "/0c1105123456.cfg", auth)
	if res.StatusCode != 401 || !c.pick(res).Stale {
		t.Errorf("right password, old nonce: status %d, stale %v; want 401 stale", res.StatusCode, c.pick(res).Stale)
	}
	c.password = "guess"
	auth = c.authorization(chal, "GET", "/0c1105123456.cfg", 2)
	res, _ = c.send(http.MethodGet, "/0c1105123456.cfg", auth)
	if res.StatusCode != 401 || c.pick(res).Stale {
		t.Errorf("wrong password, old nonce: status %d, stale %v; want 401 not stale", res.StatusCode, c.pick(res).Stale)
	}
	// A nonce from the future (clock stepped back) is stale too.
	c.password = password("front-gate")
	res, _ = c.send(http.MethodGet, "/0c1105123456.cfg", "")
	chal = c.pick(res)
	f.clock.Advance(-time.Hour)
	res, _ = c.send(http.MethodGet, "/0c1105123456.cfg", c.authorization(chal, "GET", "/0c1105123456.cfg", 1))
	if res.StatusCode != 401 || !c.pick(res).Stale {
		t.Errorf("nonce from the future: status %d", res.StatusCode)
	}
}

func TestForgedNonce(t *testing.T) {
	f := newFixture(t)
	c := f.client("front-gate")
	other, err := New(f.prog, f.dir, secrets{}) // another server: another key
	if err != nil {
		t.Fatal(err)
	}
	for _, nonce := range []string{other.nonces.Issue(f.clock.Now()), "abc", strings.Repeat("A", 43)} {
		auth := c.authorization(&digest.Challenge{Realm: "harbour-view.example.net", Nonce: nonce, Algorithm: SHA256, QOP: []string{"auth"}}, "GET", "/0c1105123456.cfg", 1)
		if res, _ := c.send(http.MethodGet, "/0c1105123456.cfg", auth); res.StatusCode != 401 {
			t.Errorf("nonce %q: status %d, want 401", nonce, res.StatusCode)
		}
		if e := f.event(); e.Cause != "nonce not issued by this server" {
			t.Errorf("cause %q", e.Cause)
		}
	}
}

func TestReplay(t *testing.T) {
	f := newFixture(t)
	c := f.client("front-gate")
	res, _ := c.send(http.MethodGet, "/0c1105123456.cfg", "")
	chal := c.pick(res)
	send := func(nc int) int {
		res, _ := c.send(http.MethodGet, "/0c1105123456.cfg", c.authorization(chal, "GET", "/0c1105123456.cfg", nc))
		return res.StatusCode
	}
	auth := c.authorization(chal, "GET", "/0c1105123456.cfg", 1)
	if res, _ := c.send(http.MethodGet, "/0c1105123456.cfg", auth); res.StatusCode != 200 {
		t.Fatalf("first use: %d", res.StatusCode)
	}
	if res, _ := c.send(http.MethodGet, "/0c1105123456.cfg", auth); res.StatusCode != 401 {
		t.Errorf("replayed Authorization: status %d, want 401", res.StatusCode)
	}
	// Counts may arrive out of order, but each is accepted once.
	for _, tt := range []struct{ nc, want int }{{3, 200}, {2, 200}, {2, 401}, {3, 401}, {100, 200}, {36, 401}, {37, 200}, {37, 401}} {
		if got := send(tt.nc); got != tt.want {
			t.Errorf("nc %d: status %d, want %d", tt.nc, got, tt.want)
		}
	}
	// The same nonce for another path with a fresh count is fine.
	res, _ = c.send(http.MethodGet, "/y000000000000.boot", c.authorization(chal, "GET", "/y000000000000.boot", 101))
	if res.StatusCode != 200 {
		t.Errorf("nonce reuse with a new count: status %d", res.StatusCode)
	}
}

// The nonce-count window and the ring of nonces are runtime/digest's,
// tested there (TestWindowReorder, TestNonces); TestReplay above checks this
// server's use of them.

func TestURIMismatch(t *testing.T) {
	f := newFixture(t)
	c := f.client("front-gate")
	res, _ := c.send(http.MethodGet, "/0c1105123456.cfg", "")
	auth := c.authorization(c.pick(res), "GET", "/y000000000000.boot", 1)
	if res, _ := c.send(http.MethodGet, "/0c1105123456.cfg", auth); res.StatusCode != 401 {
		t.Errorf("uri of another file: status %d, want 401", res.StatusCode)
	}
	if e := f.event(); e.Cause != "uri does not match the request" {
		t.Errorf("cause %q", e.Cause)
	}
	// The absolute form names the same resource.
	res, _ = c.send(http.MethodGet, "/0c1105123456.cfg", "")
	auth = c.authorization(c.pick(res), "GET", f.http.URL+"/0c1105123456.cfg", 1)
	if res, _ := c.send(http.MethodGet, "/0c1105123456.cfg", auth); res.StatusCode != 200 {
		t.Errorf("absolute uri: status %d, want 200", res.StatusCode)
	}
}

func TestMalformedAuthorization(t *testing.T) {
	f := newFixture(t, WithThrottle(0, 0))
	c := f.client("front-gate")
	res, _ := c.send(http.MethodGet, "/0c1105123456.cfg", "")
	nonce := c.pick(res).Nonce
	good := c.authorization(c.pick(res), "GET", "/0c1105123456.cfg", 1)
	for _, auth := range []string{
		`Digest`,
		`Digest username=`,
		`Digest username="front-gate", realm="harbour-view.example.net", nonce="` + nonce + `", uri="/0c1105123456.cfg", response="00"`,
		strings.Replace(good, "qop=auth", "qop=auth-int", 1),
		strings.Replace(good, `realm="harbour-view.example.net"`, `realm="other"`, 1),
		strings.Replace(good, "algorithm=SHA-256", "algorithm=SHA-512", 1),
		strings.Replace(good, "nc=00000001", "nc=00000000", 1),
		strings.Replace(good, "nc=00000001", "nc=zz", 1),
		good + `, userhash=true`,
		"Digest " + strings.Repeat("x", 5000),
	} {
		if res, _ := c.send(http.MethodGet, "/0c1105123456.cfg", auth); res.StatusCode != 401 {
			t.Errorf("%q: status %d, want 401", auth, res.StatusCode)
		}
	}
	// Basic is not digest: challenged again, reported, not counted.
	if res, _ := c.send(http.MethodGet, "/0c1105123456.cfg", "Basic ZnJvbnQtZ2F0ZTpwdw=="); res.StatusCode != 401 {
		t.Errorf("basic: status %d", res.StatusCode)
	}
}

func TestAllowedNetworks(t *testing.T) {
	f := newFixture(t, WithAllowedNetworks(netip.MustParsePrefix("10.0.0.0/8")))
	res, _ := f.client("front-gate").get("/0c1105123456.cfg")
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("from loopback: status %d, want 403", res.StatusCode)
	}
	if e := f.event(); e.Kind != events.ProvisionDenied || e.Status != 403 || e.Source != "127.0.0.1" {
		t.Errorf("event %+v", e)
	}

	f = newFixture(t, WithAllowedNetworks(netip.MustParsePrefix("127.0.0.0/8")))
	if res, _ := f.client("front-gate").get("/0c1105123456.cfg"); res.StatusCode != 200 {
		t.Errorf("allowed: status %d, want 200", res.StatusCode)
	}
}

func TestTrustedProxy(t *testing.T) {
	f := newFixture(t,
		WithTrustedProxies(netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("172.16.0.0/12")),
		WithAllowedNetworks(netip.MustParsePrefix("192.168.1.0/24")))
	tests := []struct {
		xff  []string
		want int
		src  string
	}{
		{nil, 403, "127.0.0.1"},
		{[]string{"192.168.1.20"}, 200, "192.168.1.20"},
		{[]string{"192.168.1.20, 172.16.0.5"}, 200, "192.168.1.20"},
		{[]string{"192.168.1.20", "172.16.0.5"}, 200, "192.168.1.20"},
		{[]string{"192.168.1.20, 203.0.113.9"}, 403, "203.0.113.9"}, // the client cannot pick its address
		{[]string{"[::ffff:192.168.1.21]:5555"}, 200, "192.168.1.21"},
		{[]string{"garbage"}, 400, ""},
	}
	for _, tt := range tests {
		c := f.client("front-gate")
		c.header = http.Header{"X-Forwarded-For": tt.xff}
		res, _ := c.get("/0c1105123456.cfg")
		if res.StatusCode != tt.want {
			t.Errorf("X-Forwarded-For %q: status %d, want %d", tt.xff, res.StatusCode, tt.want)
		}
		if e := f.event(); e.Source != tt.src {
			t.Errorf("X-Forwarded-For %q: source %q, want %q", tt.xff, e.Source, tt.src)
		}
	}
}

func TestClientAddrUntrustedPeer(t *testing.T) {
	r, _ := http.NewRequest("GET", "/", nil)
	r.RemoteAddr = "198.51.100.7:40000"
	r.Header.Set("X-Forwarded-For", "192.168.1.20")
	a, ok := clientAddr(r, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")})
	if !ok || a != netip.MustParseAddr("198.51.100.7") {
		t.Errorf("clientAddr = %v, %v; want the peer", a, ok)
	}
}

func TestSwap(t *testing.T) {
	f := newFixture(t)
	c := f.client("desk-101")
	res, _ := c.get("/805ec0112233.cfg")
	oldETag := res.Header.Get("Etag")
	res, _ = c.get("/805ec0445566.cfg")
	if res.StatusCode != 404 {
		t.Fatalf("other phone's file: %d", res.StatusCode)
	}
	res, _ = f.client("front-gate").get("/0c1105123456.cfg")
	frontLastMod := res.Header.Get("Last-Modified")
	oldManifest := f.srv.Manifest()

	// The new build: desk-101's file changes, the rest is written again
	// unchanged (new mtimes).
	files := harbourFiles()
	for i := range files {
		if files[i].path == "805ec0112233.cfg" {
			files[i].data = "#!version:1.0.0.1\naccount.1.password = rotated\n"
		}
	}
	newDir := writeBundle(t, t.TempDir(), files, true)
	future := time.Now().Add(time.Hour)
	filepath.Walk(newDir, func(p string, _ os.FileInfo, _ error) error { return os.Chtimes(p, future, future) })
	if err := f.srv.Swap(f.prog, newDir); err != nil {
		t.Fatal(err)
	}
	res, body := c.get("/805ec0112233.cfg")
	if res.StatusCode != 200 || !strings.Contains(body, "rotated") || res.Header.Get("Etag") == oldETag {
		t.Errorf("after swap: status %d body %q ETag %s", res.StatusCode, body, res.Header.Get("Etag"))
	}
	res, _ = f.client("front-gate").get("/0c1105123456.cfg")
	if got := res.Header.Get("Last-Modified"); got != frontLastMod {
		t.Errorf("unchanged file: Last-Modified %q, want %q kept", got, frontLastMod)
	}
	if d := cmp.Diff([]string{"desk-101"}, Changed(oldManifest, f.srv.Manifest())); d != "" {
		t.Errorf("Changed (-want +got):\n%s", d)
	}

	// A broken bundle is refused; the current one keeps serving.
	broken := writeBundle(t, t.TempDir(), harbourFiles(), true)
	os.WriteFile(filepath.Join(broken, "0c1105123456.cfg"), []byte("tampered"), 0o600)
	if err := f.srv.Swap(f.prog, broken); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("Swap(broken) = %v, want a checksum error", err)
	}
	if err := f.srv.Swap(f.prog, filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Swap(missing dir) succeeded")
	}
	if res, body := c.get("/805ec0112233.cfg"); res.StatusCode != 200 || !strings.Contains(body, "rotated") {
		t.Errorf("after failed swaps: status %d body %q", res.StatusCode, body)
	}

	// A program without desk-101 but a manifest still naming it: refused.
	p := irtest.HarbourView()
	for i, d := range p.Devices {
		if d.Name == "desk-101" {
			p.Devices = append(p.Devices[:i], p.Devices[i+1:]...)
			break
		}
	}
	if err := f.srv.Swap(p, newDir); err == nil || !strings.Contains(err.Error(), "desk-101") {
		t.Errorf("Swap(program without desk-101) = %v", err)
	}
}

// Requests keep being served while bundles are swapped under them.
func TestSwapConcurrent(t *testing.T) {
	f := newFixture(t)
	dirs := []string{f.dir, writeBundle(t, t.TempDir(), harbourFiles(), true)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 50 {
			if err := f.srv.Swap(f.prog, dirs[i%2]); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	c := f.client("front-gate")
	for range 20 {
		if res, _ := c.get("/0c1105123456.cfg"); res.StatusCode != 200 {
			t.Errorf("status %d during swaps", res.StatusCode)
		}
	}
	<-done
}

// The icholy/digest client transport (the one sipgo uses) talks to the
// server, reusing one challenge with increasing counts.
func TestDigestTransport(t *testing.T) {
	f := newFixture(t)
	hc := &http.Client{Transport: &digest.Transport{Username: "desk-101", Password: password("desk-101")}}
	for _, p := range []string{"/y000000000000.boot", "/805ec0112233.boot", "/805ec0112233.cfg", "/805ec0112233-directory.xml"} {
		res, err := hc.Get(f.http.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(body) != fileData(p[1:]) {
			t.Errorf("%s: status %d body %q", p, res.StatusCode, body)
		}
	}
}

func TestNew(t *testing.T) {
	dir := writeBundle(t, t.TempDir(), harbourFiles(), true)
	p := irtest.HarbourView()
	for _, tt := range []struct {
		name string
		opts []Option
	}{
		{"unknown algorithm", []Option{WithAlgorithms("SHA-1")}},
		{"no algorithm", []Option{WithAlgorithms()}},
		{"bad base path", []Option{WithBasePath("provision")}},
		{"unclean base path", []Option{WithBasePath("/a/../")}},
		{"zero nonce lifetime", []Option{WithNonceLifetime(0)}},
		{"zero throttle window", []Option{WithThrottle(3, 0)}},
		{"invalid prefix", []Option{WithAllowedNetworks(netip.Prefix{})}},
	} {
		if _, err := New(p, dir, secrets{}, tt.opts...); err == nil {
			t.Errorf("%s: New succeeded", tt.name)
		}
	}
	if _, err := New(p, dir, nil); err == nil {
		t.Error("New without secrets succeeded")
	}
	if _, err := New(nil, dir, secrets{}); err == nil {
		t.Error("New without program succeeded")
	}
}

func TestServeTLS(t *testing.T) {
	f := newFixture(t)
	cert := tlstest.Loopback(t)
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	l, err := net.Listen("tcp", "127.0.0.1:0") // listening: ready before Serve runs
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- f.srv.ServeTLS(ctx, l, &tls.Config{Certificates: []tls.Certificate{cert}}) }()

	hc := &http.Client{Transport: &digest.Transport{
		Username: "front-gate", Password: password("front-gate"),
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS12}},
	}}
	res, err := hc.Get("https://" + l.Addr().String() + "/0c1105123456.cfg")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != fileData("0c1105123456.cfg") || res.TLS == nil {
		t.Errorf("over TLS: status %d body %q", res.StatusCode, body)
	}
	// TLS 1.1 is refused.
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}}}
	if _, err := old.Get("https://" + l.Addr().String() + "/0c1105123456.cfg"); err == nil {
		t.Error("TLS 1.1 accepted")
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("ServeTLS after cancel: %v", err)
	}
}

func TestServe(t *testing.T) {
	f := newFixture(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- f.srv.Serve(ctx, l) }()
	c := f.client("front-gate")
	c.base = "http://" + l.Addr().String()
	if res, _ := c.get("/0c1105123456.cfg"); res.StatusCode != 200 {
		t.Errorf("status %d", res.StatusCode)
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
}

// A reload that changes the site's domain changes the realm: an answer to
// the old challenge is stale, not a failure.
func TestRealmChange(t *testing.T) {
	f := newFixture(t, WithThrottle(1, time.Minute))
	c := f.client("front-gate")
	res, _ := c.send(http.MethodGet, "/0c1105123456.cfg", "")
	old := c.pick(res)
	p := irtest.HarbourView()
	p.Site.Domain = "new.example.net"
	if err := f.srv.Swap(p, f.dir); err != nil {
		t.Fatal(err)
	}
	res, _ = c.send(http.MethodGet, "/0c1105123456.cfg", c.authorization(old, "GET", "/0c1105123456.cfg", 1))
	if res.StatusCode != 401 {
		t.Fatalf("old realm: status %d, want 401", res.StatusCode)
	}
	chal := c.pick(res)
	if !chal.Stale || chal.Realm != "new.example.net" {
		t.Errorf("old realm: challenge %+v, want stale in the new realm", chal)
	}
	if res, _ := c.send(http.MethodGet, "/0c1105123456.cfg", c.authorization(chal, "GET", "/0c1105123456.cfg", 1)); res.StatusCode != 200 {
		t.Errorf("new realm: status %d, want 200 (not throttled)", res.StatusCode)
	}
}

// rotated are secrets right after a rotation of the front gate's
// password: the new one, and the old one while the grace lasts.
type rotated struct{ grace bool }

func (rotated) SIPPassword(account string) (string, bool) {
	if account == "device.front-gate" {
		return "new-password", true
	}
	return secrets{}.SIPPassword(account)
}

func (r rotated) PreviousSIPPassword(account string) (string, bool) {
	if account == "device.front-gate" && r.grace {
		return password("front-gate"), true
	}
	return "", false
}

// A device whose password was just rotated still fetches its files with
// the old one while the grace lasts — the file that gives it the new one
// — and says so in the event; after the grace, or for a wrong password,
// it is refused as always. The new password works throughout.
func TestPreviousPasswordDuringGrace(t *testing.T) {
	f := newFixtureWith(t, rotated{grace: true})
	res, _ := f.client("front-gate").get("/0c1105123456.cfg") // the old password
	if res.StatusCode != http.StatusOK {
		t.Fatalf("old password during the grace: %d, want 200", res.StatusCode)
	}
	if e := f.event(); e.Kind != events.ProvisionFetch || e.Cause != causePrevious {
		t.Errorf("event %+v, want provision_fetch saying the previous password was used", e)
	}
	c := f.client("front-gate")
	c.password = "new-password"
	if res, _ := c.get("/0c1105123456.cfg"); res.StatusCode != http.StatusOK {
		t.Errorf("new password: %d, want 200", res.StatusCode)
	}
	if e := f.event(); e.Cause != "" {
		t.Errorf("fetch with the new password: cause %q", e.Cause)
	}
	c.password = "guess"
	if res, _ := c.get("/0c1105123456.cfg"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong password: %d, want 401", res.StatusCode)
	}

	after := newFixtureWith(t, rotated{grace: false})
	if res, _ := after.client("front-gate").get("/0c1105123456.cfg"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("old password after the grace: %d, want 401", res.StatusCode)
	}
}
