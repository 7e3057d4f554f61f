package portal

import (
	"bufio"
	"bytes"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/runtime/clock/clocktest"
	"switchboard/runtime/events"
	"switchboard/runtime/registrar"
	"switchboard/runtime/voicemail"
)

// FuzzRequest feeds whole HTTP requests, as a client writes them and
// net/http reads them, to the portal (the -http listener serves it to the
// network: issue 13, point 3, HTTP requests). Without a session, which
// the fuzzer cannot forge, nothing is a server error and nothing but the
// login page and the static files answers 2xx: every other page and form
// redirects to the login or is refused.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{
		"GET /portal/ HTTP/1.1\r\nHost: p\r\n\r\n",
		"GET /portal/login HTTP/1.1\r\nHost: p\r\n\r\n",
		"GET /portal/static/portal.css HTTP/1.1\r\nHost: p\r\n\r\n",
		"POST /portal/login HTTP/1.1\r\nHost: p\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 42\r\n\r\nemail=mary%40example.com&password=guessed1",
		"GET /portal/u/mary/voicemail HTTP/1.1\r\nHost: p\r\nCookie: session=AAAAAAAAAAAAAAAAAAAAAAAA\r\n\r\n",
		"GET /portal/u/mary/voicemail/../../site/handover HTTP/1.1\r\nHost: p\r\n\r\n",
		"POST /portal/u/mary/greeting HTTP/1.1\r\nHost: p\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 10\r\n\r\n--x--\r\n\r\n",
		"POST /portal/site/people/mary/ring HTTP/1.1\r\nHost: p\r\nOrigin: http://evil.example\r\nSec-Fetch-Site: cross-site\r\n\r\n",
		"GET /portal/operator/events HTTP/1.1\r\nHost: p\r\nAccept: text/event-stream\r\n\r\n",
		"GET /portal/site/handover HTTP/1.1\r\nHost: p\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	prog := irtest.HarbourView()
	clk := clocktest.New(epoch)
	bus := events.NewBus(clk.Now)
	dir := f.TempDir()
	vm, err := voicemail.Open(voicemail.Config{Program: func() *ir.Program { return prog }, Dir: filepath.Join(dir, "voicemail"), Clock: clk, Events: bus})
	if err != nil {
		f.Fatal(err)
	}
	site := &fakeSite{invites: map[string]string{}}
	p, err := New(Config{
		Program: func() *ir.Program { return prog }, Passwords: func() Passwords { return derived },
		Voicemail: vm, Bindings: func(string) []registrar.Binding { return nil },
		Events: bus, Dir: filepath.Join(dir, "portal"), Clock: clk,
		Site: site, RingTest: site.ringTest, Trunks: func() []Trunk { return nil },
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { p.Close(); vm.Close() })
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return
		}
		r.RemoteAddr = "127.0.0.1:40000"
		w := httptest.NewRecorder()
		p.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %s: %d, want no server error\n%q", r.Method, r.URL.Path, w.Code, raw)
		}
		public := r.URL.Path == "/portal/login" || strings.HasPrefix(r.URL.Path, "/portal/static/")
		if w.Code/100 == 2 && !public {
			t.Fatalf("%s %s without a session: %d, want a redirect to the login or a refusal\n%q", r.Method, r.URL.Path, w.Code, raw)
		}
		if len(site.ringTests()) > 0 || len(site.resends()) > 0 {
			t.Fatalf("%s %s without a session rang someone or sent an invitation\n%q", r.Method, r.URL.Path, raw)
		}
	})
}
