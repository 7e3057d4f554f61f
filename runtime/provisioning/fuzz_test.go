package provisioning

import (
	"bufio"
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/icholy/digest"

	"switchboard/compiler/ir/irtest"
)

// fuzzServer is a server over HarbourView without throttling, so that every
// input is judged on its own.
func fuzzServer(f *testing.F) (*Server, *fakeClock) {
	dir := writeBundle(f, f.TempDir(), harbourFiles(), true)
	clk := newFakeClock()
	s, err := New(irtest.HarbourView(), dir, secrets{}, WithClock(clk), WithThrottle(0, 0))
	if err != nil {
		f.Fatal(err)
	}
	return s, clk
}

// rawGet builds a request as the HTTP server would hand it over, without
// the URL parsing a client or httptest.NewRequest would insist on.
func rawGet(target, auth string) *http.Request {
	r := &http.Request{
		Method:     http.MethodGet,
		URL:        &url.URL{Path: target},
		RequestURI: target,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:     http.Header{},
		Host:       "provision.test",
		RemoteAddr: "192.0.2.1:40000",
	}
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	return r
}

// FuzzServeHTTP fuzzes request paths and Authorization headers. With a
// valid digest answer for front-gate, a path may only ever yield one of
// front-gate's files or a common file; with an arbitrary header, nothing.
func FuzzServeHTTP(f *testing.F) {
	for _, p := range traversals {
		f.Add(p, "")
	}
	f.Add("/0c1105123456.cfg", `Digest username="front-gate", realm="harbour-view.example.net", nonce="x", uri="/0c1105123456.cfg", response="0", qop=auth, nc=00000001, cnonce="c"`)
	f.Add("/0C1105123456.CFG", `Digest username="front-gate"`)
	f.Add("/805ec0112233.cfg", "Basic Zm9vOmJhcg==")
	f.Add("/y000000000000.boot", `Digest username="\"", realm=""`)
	s, clk := fuzzServer(f)
	allowed := map[string]bool{}
	for _, tf := range harbourFiles() {
		if tf.device == "" || tf.device == "front-gate" {
			allowed[tf.path] = true
		}
	}
	f.Fuzz(func(t *testing.T, target, auth string) {
		// An arbitrary header never gets a file.
		w := httptest.NewRecorder()
		s.ServeHTTP(w, rawGet(target, auth))
		switch w.Code {
		case http.StatusBadRequest, http.StatusUnauthorized:
		default:
			t.Fatalf("path %q, Authorization %q: status %d", target, auth, w.Code)
		}

		// A valid answer gets front-gate's files and common files only.
		chal := &digest.Challenge{Realm: "harbour-view.example.net", Nonce: s.nonces.Issue(clk.Now()), Algorithm: SHA256, QOP: []string{"auth"}}
		cred, err := digest.Digest(chal, digest.Options{Method: "GET", URI: target, Username: "front-gate", Password: password("front-gate"), Count: 1})
		if err != nil {
			t.Fatal(err)
		}
		w = httptest.NewRecorder()
		s.ServeHTTP(w, rawGet(target, cred.String()))
		switch w.Code {
		case http.StatusOK:
			name := strings.TrimPrefix(target, "/")
			b := s.cur.Load().files[foldPath(name)]
			if b == nil || !allowed[b.Path] || w.Body.String() != string(b.data) {
				t.Fatalf("path %q served %q", target, w.Body.String())
			}
		case http.StatusBadRequest, http.StatusNotFound:
		case http.StatusUnauthorized:
			// The client library writes the uri with Go escapes (\n,
			// \xff, \u2028), which HTTP quoted-strings do not have: such a
			// target cannot be answered, by this client at least.
			if !goEscapes(target) {
				t.Fatalf("path %q: 401 for a valid answer", target)
			}
		default:
			t.Fatalf("path %q: status %d", target, w.Code)
		}
	})
}

// goEscapes reports whether strconv.Quote escapes more of s than quotes
// and backslashes.
func goEscapes(s string) bool {
	plain := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	return strconv.Quote(s) != plain
}

// FuzzRequestName checks that whatever requestName accepts is a plain
// relative path inside the bundle.
func FuzzRequestName(f *testing.F) {
	for _, p := range traversals {
		f.Add(p)
	}
	s := &Server{cfg: config{basePath: "/"}}
	f.Fuzz(func(t *testing.T, p string) {
		name, ok := s.requestName(p)
		if !ok {
			return
		}
		if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || strings.Contains(name, "\x00") {
			t.Fatalf("requestName(%q) = %q", p, name)
		}
		for elem := range strings.SplitSeq(name, "/") {
			if elem == "" || elem == "." || elem == ".." || strings.HasPrefix(elem, ".") {
				t.Fatalf("requestName(%q) = %q: element %q", p, name, elem)
			}
		}
		if "/"+name != p {
			t.Fatalf("requestName(%q) = %q: not the path without its base", p, name)
		}
	})
}

// FuzzParseManifest: no panics, and what parses survives a round trip.
func FuzzParseManifest(f *testing.F) {
	var m Manifest
	m.Add("0c1105123456.cfg", "front-gate", "akuvox", []byte("x"), true)
	m.Add("y000000000000.boot", "", "yealink", []byte("y"), false)
	data, _ := m.Marshal()
	f.Add(data)
	f.Add([]byte(`{"files":[{"path":"../x","sha256":""}]}`))
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			return
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed manifest: %v", err)
		}
		m2, err := ParseManifest(out)
		if err != nil {
			t.Fatalf("reparse: %v", err)
		}
		out2, _ := m2.Marshal()
		if string(out) != string(out2) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
	})
}

// FuzzServeHTTPRequest feeds whole HTTP requests as a client writes them —
// any method, path, headers and body, read by net/http's own request
// parser — to the provisioning server behind a trusted proxy, so that
// X-Forwarded-For is read too. Without credentials (which the fuzzer
// cannot forge) every request is refused with a 4xx, never a 5xx and
// never a file: no answer carries any device's secret.
func FuzzServeHTTPRequest(f *testing.F) {
	for _, s := range []string{
		"GET /0c1105123456.cfg HTTP/1.1\r\nHost: provision.test\r\nUser-Agent: Akuvox\r\n\r\n",
		"HEAD /y000000000000.boot HTTP/1.1\r\nHost: p\r\nAuthorization: Digest username=\"front-gate\", realm=\"harbour-view.example.net\", nonce=\"x\", uri=\"/y000000000000.boot\", response=\"0\"\r\n\r\n",
		"POST /admin/reload HTTP/1.1\r\nHost: p\r\nX-Forwarded-For: 203.0.113.5\r\nContent-Length: 0\r\n\r\n",
		"GET /../../etc/passwd HTTP/1.0\r\nX-Forwarded-For: 203.0.113.5, 10.0.0.1\r\n\r\n",
		"GET /%2e%2e/0c1105aabbcc.cfg HTTP/1.1\r\nHost: p\r\nX-Forwarded-For: garbage\r\n\r\n",
		"GET http://evil.example/0C1105123456.CFG HTTP/1.1\r\nHost: p\r\nContent-Length: 1000\r\n\r\nshort",
		"GET /805ec0112233.cfg HTTP/1.1\r\nHost: p\r\nAuthorization: Basic Zm9vOmJhcg==\r\nAuthorization: Digest\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: p\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	dir := writeBundle(f, f.TempDir(), harbourFiles(), true)
	s, err := New(irtest.HarbourView(), dir, secrets{}, WithClock(newFakeClock()), WithThrottle(0, 0),
		WithTrustedProxies(netip.MustParsePrefix("127.0.0.0/8")))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return
		}
		r.RemoteAddr = "127.0.0.1:40000"
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
			http.StatusMethodNotAllowed, http.StatusTooManyRequests:
		default:
			t.Fatalf("%s %s: status %d", r.Method, r.URL, w.Code)
		}
		if strings.Contains(w.Body.String(), "secret") {
			t.Fatalf("%s %s answered %q", r.Method, r.URL, w.Body.String())
		}
	})
}
