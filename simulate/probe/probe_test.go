package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/tlstest"
)

// The checks that pass against today's server (TestProbe in
// cmd/switchboard) are shown here to fail against servers with the flaw
// they look for: loopback listeners that accept an old TLS version, answer
// admin requests, keep idle connections, serve files to anyone.

var testLimits = Limits{Guesses: 5, Samples: 3, Idle: 20, Retransmit: time.Second, IdleWait: 300 * time.Millisecond,
	Timeout: 2 * time.Second, TimingSpread: 3}

func addrOf(t *testing.T, l net.Listener) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

// serveTLS accepts TLS connections with cfg and completes each handshake.
func serveTLS(t *testing.T, cfg *tls.Config) netip.AddrPort {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
			}()
		}
	}()
	return addrOf(t, l)
}

func TestTLS(t *testing.T) {
	t.Parallel()
	cert := tlstest.Loopback(t)
	weak := tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 // in tls.InsecureCipherSuites
	tests := []struct {
		name string
		cfg  *tls.Config
		want Status
	}{
		{"TLS 1.2 and later, default suites", &tls.Config{MinVersion: tls.VersionTLS12}, Pass},
		{"TLS 1.0 accepted", &tls.Config{MinVersion: tls.VersionTLS10}, Fail},
		{"a weak suite accepted", &tls.Config{MinVersion: tls.VersionTLS12, CipherSuites: []uint16{weak, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, Fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Certificates = []tls.Certificate{cert}
			p := &prober{t: Targets{TLS: serveTLS(t, tt.cfg)}, l: testLimits}
			r := p.tls(context.Background())
			if r.Status != tt.want {
				t.Errorf("status %s, want %s; evidence %q", r.Status, tt.want, r.Evidence)
			}
		})
	}
}

func serveHTTP(t *testing.T, h http.Handler) netip.AddrPort {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return addrOf(t, l)
}

func TestAdmin(t *testing.T) {
	t.Parallel()
	tokenRequired := func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer secret" {
			http.Error(w, "no", http.StatusUnauthorized)
		}
	}
	notHere := func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }
	tests := []struct {
		name        string
		admin, http http.HandlerFunc // the admin listener's handler and the provisioning one's
		want        Status
	}{
		{"token required, admin only on its listener", tokenRequired, notHere, Pass},
		{"loopback trusted", func(w http.ResponseWriter, r *http.Request) {}, notHere, Fail},
		{"forwarded header believed", func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Forwarded-For") == "" {
				http.Error(w, "no", http.StatusForbidden)
			}
		}, notHere, Fail},
		{"any token accepted", func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
				http.Error(w, "no", http.StatusUnauthorized)
			}
		}, notHere, Fail},
		{"admin served on the provisioning address too", tokenRequired, func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/admin/") {
				tokenRequired(w, r) // refused, but served: the network reaches it
				return
			}
			http.NotFound(w, r)
		}, Fail},
		// A server of several sites (serve DIR DIR) has each site's admin
		// endpoints under /sites/DOMAIN/admin/ and no /admin/.
		{"several sites, token required", func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasPrefix(r.URL.Path, "/sites/probe.example/admin/") {
				http.NotFound(w, r)
				return
			}
			tokenRequired(w, r)
		}, notHere, Pass},
		{"several sites, loopback trusted", func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasPrefix(r.URL.Path, "/sites/probe.example/admin/") {
				http.NotFound(w, r)
			}
		}, notHere, Fail},
	}
	site := Site{Program: &ir.Program{Site: ir.Site{Domain: "probe.example"}}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &prober{site: site, t: Targets{Admin: serveHTTP(t, tt.admin), HTTP: serveHTTP(t, tt.http)}, l: testLimits}
			if r := p.admin(context.Background()); r.Status != tt.want {
				t.Errorf("status %s, want %s; evidence %q", r.Status, tt.want, r.Evidence)
			}
		})
	}
}

func TestProvisioningServedToAnyone(t *testing.T) {
	t.Parallel()
	prog := &ir.Program{
		Accounts: []ir.Account{{Name: "device.a", AuthName: "device.a"}, {Name: "device.b", AuthName: "device.b"}},
		Devices:  []ir.Device{{Name: "a", Account: "device.a"}, {Name: "b", Account: "device.b"}},
	}
	site := Site{Program: prog, Password: func(string) (string, bool) { return "pw", true },
		Files: []File{{Path: "a.cfg", Device: "a"}, {Path: "b.cfg", Device: "b"}}}
	open := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("secret")) }))
	p := &prober{site: site, t: Targets{HTTP: open}, l: testLimits}
	if r := p.provisioning(context.Background()); r.Status != Fail {
		t.Errorf("a server that serves every path: %s, want fail; evidence %q", r.Status, r.Evidence)
	}
	closed := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Digest realm="x", nonce="n", algorithm=MD5, qop="auth"`)
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	p.t.HTTP = closed
	if r := p.provisioning(context.Background()); r.Status != Fail {
		// The other device's credentials get 401, not 403/404: the
		// probe cannot tell that its baseline works.
		t.Errorf("a server that refuses every password: %s, want fail; evidence %q", r.Status, r.Evidence)
	}
}

// A server of several sites routes HTTP by Host: the probe names the
// site's domain, as a device's provisioning URL does, not the address it
// connects to (which no site claims: every request got 404, and the check
// failed against a server that refused everything).
func TestProvisioningHostIsTheSiteDomain(t *testing.T) {
	t.Parallel()
	prog := &ir.Program{
		Site:     ir.Site{Domain: "probe.example"},
		Accounts: []ir.Account{{Name: "device.a", AuthName: "device.a"}},
		Devices:  []ir.Device{{Name: "a", Account: "device.a"}},
	}
	site := Site{Program: prog, Password: func(string) (string, bool) { return "pw", true }, Files: []File{{Path: "a.cfg", Device: "a"}}}
	hosts := make(chan string, 100)
	addr := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts <- r.Host
		http.NotFound(w, r)
	}))
	p := &prober{site: site, t: Targets{HTTP: addr}, l: testLimits}
	p.provisioning(context.Background())
	close(hosts)
	want := fmt.Sprintf("probe.example:%d", addr.Port())
	n := 0
	for h := range hosts {
		n++
		if h != want {
			t.Errorf("Host %q, want %q", h, want)
			break
		}
	}
	if n == 0 {
		t.Error("no request reached the server")
	}
}

// serveTCP accepts connections and holds the first keep of them (every
// one when keep is 0), closing the rest at once, as a limit per source
// does.
func serveTCP(t *testing.T, keep int) netip.AddrPort {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if keep > 0 && len(conns) >= keep {
				c.Close()
				continue
			}
			conns = append(conns, c)
		}
	}()
	return addrOf(t, l)
}

func TestIdle(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		keep int
		want Status
	}{
		{"holds every one", 0, Fail},
		{"holds five per source", 5, Pass},
		// A limit the probe does not reach shows no bound.
		{"limit at what the probe opens", testLimits.Idle, Fail},
	} {
		p := &prober{t: Targets{TCP: serveTCP(t, tt.keep)}, l: testLimits}
		if r := p.idle(context.Background()); r.Status != tt.want {
			t.Errorf("%s: status %s, want %s; evidence %q", tt.name, r.Status, tt.want, r.Evidence)
		}
	}
	// Every connection refused is no limit shown: nothing serves SIP over
	// TCP there (a wrong -tcp), while the server answers over UDP; the
	// check passed on nothing.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nothing := addrOf(t, l)
	l.Close()
	udp := fakeSIP(t, func(req *sip.Request) *sip.Response { return sip.NewResponseFromRequest(req, 200, "OK", nil) })
	p := &prober{site: fakeSite, t: Targets{SIP: udp, TCP: nothing}, l: testLimits}
	if r := p.idle(context.Background()); r.Status != Fail {
		t.Errorf("nothing listening: status %s, want %s; evidence %q", r.Status, Fail, r.Evidence)
	}
}

func TestShape(t *testing.T) {
	sprintf := fmt.Sprintf
	parse := func(s string) *sip.Response {
		t.Helper()
		m, err := sip.ParseMessage([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return m.(*sip.Response)
	}
	const tmpl = "SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP 127.0.0.1:5;branch=z9hG4bK%s;received=127.0.0.1\r\n" +
		"From: <sip:%s@x>;tag=%s\r\nTo: <sip:%s@x>;tag=%s\r\nCall-ID: %s\r\nCSeq: 1 REGISTER\r\n" +
		"WWW-Authenticate: Digest realm=\"x\", nonce=\"%s\", algorithm=MD5, qop=\"auth\"\r\n%sContent-Length: 0\r\n\r\n"
	res := func(user, nonce, extra string) *sip.Response {
		return parse(sprintf(tmpl, token(2), user, token(2), user, token(2), token(4), nonce, extra))
	}
	a, b := shape(res("app.mary", "n1", "")), shape(res("nobody", "n2", ""))
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("an existing and a made-up user differ only in tags, nonces and names (-want +got):\n%s", diff)
	}
	if shape(res("app.mary", "n1", "Warning: 399 x \"unknown user\"\r\n")) == a {
		t.Error("a Warning header left the shape unchanged")
	}
}

func TestSDPAudio(t *testing.T) {
	tests := []struct {
		body string
		want string
	}{
		{"v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n", "127.0.0.1:4000"},
		{"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 127.0.0.9\r\nm=video 5000 RTP/AVP 96\r\n", "10.0.0.1:4000"},
		{"v=0\r\nm=audio 4000 RTP/AVP 0\r\n", ""},
	}
	for _, tt := range tests {
		got, err := sdpAudio(tt.body)
		s := ""
		if err == nil {
			s = got.String()
		}
		if diff := cmp.Diff(tt.want, s); diff != "" {
			t.Errorf("sdpAudio(%q) (-want +got):\n%s", tt.body, diff)
		}
	}
}

// fakeSIP answers each request on a loopback UDP socket with what answer
// returns for it (nothing for nil).
func fakeSIP(t *testing.T, answer func(req *sip.Request) *sip.Response) netip.AddrPort {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			m, err := sip.ParseMessage(append([]byte(nil), buf[:n]...))
			if err != nil {
				continue
			}
			req, ok := m.(*sip.Request)
			if !ok || req.Method == sip.ACK {
				continue
			}
			if res := answer(req); res != nil {
				conn.WriteTo([]byte(res.String()), from)
			}
		}
	}()
	ap, err := netip.ParseAddrPort(conn.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

func challenge(req *sip.Request) *sip.Response {
	res := sip.NewResponseFromRequest(req, 401, "Unauthorized", nil)
	res.AppendHeader(sip.NewHeader("WWW-Authenticate", `Digest realm="x", nonce="`+token(4)+`", algorithm=MD5, qop="auth"`))
	return res
}

var fakeSite = Site{
	Program: &ir.Program{Site: ir.Site{Domain: "x"}, Accounts: []ir.Account{{Name: "app.mary", Kind: ir.AccountApp, Username: "app.mary", AuthName: "app.mary"}},
		Users: []ir.User{{Name: "mary", Extension: "101"}}},
	Password: func(string) (string, bool) { return "pw", true },
}

func TestEnumerationTold(t *testing.T) {
	t.Parallel()
	addr := fakeSIP(t, func(req *sip.Request) *sip.Response {
		if req.From().Address.User != "app.mary" {
			return sip.NewResponseFromRequest(req, 404, "Not Found", nil)
		}
		return challenge(req)
	})
	p := &prober{site: fakeSite, t: Targets{SIP: addr}, l: testLimits}
	if r := p.enumeration(context.Background()); r.Status != Fail {
		t.Errorf("a server that answers 404 for made-up users: %s, want fail; evidence %q", r.Status, r.Evidence)
	}
}

func TestBruteForce(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		limit int // wrong passwords before 403; 0: never
		want  Status
	}{{"never throttled", 0, Fail}, {"throttled after 3", 3, Pass}} {
		failures := 0
		addr := fakeSIP(t, func(req *sip.Request) *sip.Response {
			if req.GetHeader("Authorization") == nil {
				return challenge(req)
			}
			failures++
			if tt.limit > 0 && failures > tt.limit {
				return sip.NewResponseFromRequest(req, 403, "Forbidden", nil)
			}
			return challenge(req)
		})
		p := &prober{site: fakeSite, t: Targets{SIP: addr}, l: testLimits}
		if r := p.bruteForce(context.Background()); r.Status != tt.want {
			t.Errorf("%s: %s, want %s; evidence %q", tt.name, r.Status, tt.want, r.Evidence)
		}
	}
}

func TestTollFraudReason(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		warning string // on the refusal; "" for none
		want    Status
	}{
		{"refused without a reason", "", Pass},
		{"refused with a Warning", `399 x "no trunk can carry a call to '+447700900999'"`, Fail},
	} {
		addr := fakeSIP(t, func(req *sip.Request) *sip.Response {
			if req.Method != sip.INVITE {
				return nil
			}
			if req.GetHeader("Authorization") == nil {
				return challenge(req)
			}
			res := sip.NewResponseFromRequest(req, 503, "Service Unavailable", nil)
			if tt.warning != "" {
				res.AppendHeader(sip.NewHeader("Warning", tt.warning))
			}
			return res
		})
		p := &prober{site: fakeSite, t: Targets{SIP: addr}, l: testLimits}
		if r := p.tollFraud(context.Background()); r.Status != tt.want {
			t.Errorf("%s: %s, want %s; evidence %q", tt.name, r.Status, tt.want, r.Evidence)
		}
	}
}
