package sites_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/compiler"
	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/lang"
	"switchboard/runtime/b2bua"
	"switchboard/runtime/events"
	"switchboard/runtime/site"
	"switchboard/runtime/sites"
	"switchboard/runtime/store"
	"switchboard/simulate/device"
)

var quiet = slog.New(slog.DiscardHandler)

// siteSource is site i of the generated many: a door that calls two flats,
// a resident with an app in each, a domain of its own.
func siteSource(i int, bobExtension int) string {
	return fmt.Sprintf(`
site "s%[1]d" {
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "s%[1]d.example"
  installer {
    company = "Doors Ltd"
    email   = "i@doors.example"
  }
}
residence "apt-1a" { label = "1A" }
residence "apt-2b" { label = "2B" }
user "ann" {
  email     = "ann@x.example"
  role      = "owner"
  residence = residence.apt-1a
  extension = 101
  app       = true
}
user "bob" {
  email     = "bob@x.example"
  residence = residence.apt-2b
  extension = %[2]d
  app       = true
}
device "door" {
  model = "akuvox-r29c"
  mac   = "0C:11:05:00:%02[3]X:%02[4]X"
  button "1" { calls = residence.apt-1a }
  button "2" { calls = residence.apt-2b }
}
`, i, bobExtension, i/256, i%256)
}

func compile(t testing.TB, src string) *ir.Program {
	t.Helper()
	cfg, diags := lang.LoadSources(t.TempDir(), map[string][]byte{"site.pbx.hcl": []byte(src)}, lang.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	checked, diags := compiler.Check(cfg)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p, diags := compiler.Lower(checked, compiler.LowerOptions{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return p
}

// generated is one site of the many, as the test knows it.
type generated struct {
	domain  string
	secrets *credentials.Lookup
	site    *site.Site
	next    func() (site.Config, error) // what its Recompile reads
	mu      sync.Mutex
}

func (g *generated) recompile() (site.Config, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.next == nil {
		return site.Config{}, fmt.Errorf("no new configuration")
	}
	return g.next()
}

func (g *generated) setNext(f func() (site.Config, error)) {
	g.mu.Lock()
	g.next = f
	g.mu.Unlock()
}

func keyFor(t testing.TB, i int) credentials.Key {
	t.Helper()
	k, err := credentials.KeyFromBytes([]byte(fmt.Sprintf("%032d", i)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// memory is the Go heap in use and the process's resident set, after a
// collection.
func memory(t testing.TB) (heap, rss uint64) {
	t.Helper()
	goruntime.GC()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	data, err := os.ReadFile("/proc/self/status")
	if err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				rss = kb << 10
			}
		}
	}
	return ms.HeapAlloc, rss
}

// manySites starts n generated sites behind one UDP socket and returns
// them with the socket's address.
func manySites(t *testing.T, n int) (*sites.Server, []*generated, string) {
	t.Helper()
	progs := make([]*ir.Program, n)
	compileStart := time.Now()
	for i := range progs {
		progs[i] = compile(t, siteSource(i, 201))
	}
	compiled := time.Since(compileStart)

	data := t.TempDir()
	heap0, rss0 := memory(t)
	start := time.Now()
	// One store for all, as serve -data keeps it: each site's event
	// stream (at the default limits, which JetStream once set aside
	// against 75 % of the free disk: some 18 sites on 49 GB) and its
	// registrations' bucket.
	db, err := store.Open(store.Options{Dir: data, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv := sites.New(quiet)
	gens := make([]*generated, n)
	for i, p := range progs {
		g := &generated{domain: p.Site.Domain, secrets: credentials.NewLookup(keyFor(t, i), p)}
		s, err := site.New(site.Config{Program: p, Secrets: g.secrets}, site.Options{
			Logger: quiet, MediaIP: netip.MustParseAddr("127.0.0.1"), Services: &b2bua.Services{}, NonceSlots: sites.NonceSlots,
			DataDir: filepath.Join(data, p.Site.Domain), Recompile: g.recompile, Store: db, Events: events.NewBus(nil),
		})
		if err != nil {
			t.Fatal(err)
		}
		g.site = s
		gens[i] = g
		if err := srv.Add(fmt.Sprintf("sites/s%d", i), s); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeUDP(ctx, conn) }()
	<-srv.UDPReady()
	started := time.Since(start)
	heap1, rss1 := memory(t)
	// Each site has its portal (a data directory) but no provisioning
	// files and no voicemail services; `serve` of 200 generated site
	// directories measured from outside costs a little more (README,
	// "Serving").
	t.Logf("%d sites: compile %v/site; start (site.New, Add, ServeUDP) %v/site; heap %.0f KiB/site, RSS %.0f KiB/site (heap %d MiB, RSS %d MiB before the sites, %d MiB after)",
		n, (compiled / time.Duration(n)).Round(time.Microsecond), (started / time.Duration(n)).Round(time.Microsecond),
		float64(heap1-heap0)/1024/float64(n), float64(int64(rss1)-int64(rss0))/1024/float64(n), heap1>>20, rss0>>20, rss1>>20)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeUDP: %v", err)
		}
		srv.Close()
		db.Close()
	})
	return srv, gens, conn.LocalAddr().String()
}

// register starts a device for account of g and registers it.
func register(t *testing.T, g *generated, addr, account string) *device.Device {
	t.Helper()
	pw, _ := g.secrets.SIPPassword(account)
	d, err := device.New(device.Config{Account: account, Password: pw, Domain: g.domain, Server: addr, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if status, err := d.Register(ctx, time.Hour); err != nil || status != 200 {
		t.Fatalf("%s of %s: REGISTER answered %d, %v", account, g.domain, status, err)
	}
	return d
}

// household is one sampled site's devices, registered.
type household struct {
	g              *generated
	door, ann, bob *device.Device
}

// doorCall has the door call flat 1A: ann answers, bob (flat 2B) does not
// ring, and the door hangs up.
func (h *household) doorCall(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	before := h.ann.IncomingCount()
	call, err := h.door.Dial(ctx, "1A")
	if err != nil {
		t.Fatalf("%s: the door's call to 1A: %v", h.g.domain, err)
	}
	if got := h.ann.IncomingCount(); got != before+1 {
		t.Errorf("%s: ann has %d calls, want %d", h.g.domain, got, before+1)
	}
	if in := h.bob.Incoming(); len(in) != 0 {
		t.Errorf("%s: bob (flat 2B) rang: %+v", h.g.domain, in)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Errorf("%s: hang-up: %v", h.g.domain, err)
	}
}

// sampleEvery picks the generated sites that get devices and calls:
// every one (each its three devices on sockets of their own; 200 sites'
// calls take about a second).
const sampleEvery = 1

func TestManySites(t *testing.T) {
	n := 200
	if testing.Short() {
		n = 20
	}
	srv, gens, addr := manySites(t, n)

	// Each sampled site's devices register and the door calls within its
	// own site, all sites at once.
	var homes []*household
	for i := 0; i < n; i += sampleEvery {
		g := gens[i]
		h := &household{g: g, door: register(t, g, addr, "device.door"), ann: register(t, g, addr, "app.ann"), bob: register(t, g, addr, "app.bob")}
		h.ann.SetAnswer(device.Pickup, 0)
		homes = append(homes, h)
	}
	t.Logf("%d sites' doors call their flats at once", len(homes))
	var wg sync.WaitGroup
	for _, h := range homes {
		wg.Add(1)
		go func() { defer wg.Done(); h.doorCall(t) }()
	}
	wg.Wait()

	t.Run("another site's domain", func(t *testing.T) {
		// Site 0's account and password, sent with site 1's domain: site 1
		// knows no such account.
		a, b := gens[0], gens[1]
		pw, _ := a.secrets.SIPPassword("app.ann")
		d, err := device.New(device.Config{Account: "app.ann", Password: pw, Domain: b.domain, Server: addr, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if status, err := d.Register(ctx, time.Hour); err != nil || status < 400 {
			t.Errorf("site 0's account registered at site 1's domain: %d, %v", status, err)
		}
	})

	t.Run("unknown domain", func(t *testing.T) {
		d, err := device.New(device.Config{Account: "app.ann", Password: "x", Domain: "nowhere.example", Server: addr, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if status, err := d.Register(ctx, time.Hour); err != nil || status != 404 {
			t.Errorf("a domain no site serves: %d, %v; want 404", status, err)
		}
	})

	t.Run("keep-alive to our address", func(t *testing.T) {
		// An OPTIONS to the server's IP names no site: any answers it.
		c, err := net.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		local := c.LocalAddr().String()
		msg := fmt.Sprintf("OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-ka1\r\nMax-Forwards: 70\r\n"+
			"From: <sip:monitor@%s>;tag=1\r\nTo: <sip:%s>\r\nCall-ID: ka1@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", addr, local, local, addr)
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 4096)
		n, err := c.Read(buf)
		if err != nil || !strings.HasPrefix(string(buf[:n]), "SIP/2.0 200 ") {
			t.Errorf("OPTIONS to %s: %q, %v; want 200", addr, buf[:n], err)
		}

		// An answer to a request no site sent goes nowhere, counted. The
		// OPTIONS after it, answered, says it was read.
		before := srv.Dropped()
		stray := "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP " + addr + ";branch=z9hG4bK-stray\r\nFrom: <sip:x@s1.example>;tag=1\r\n" +
			"To: <sip:y@s1.example>;tag=2\r\nCall-ID: stray@test\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
		if _, err := c.Write([]byte(stray)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte(strings.Replace(msg, "ka1", "ka2", 2))); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(buf); err != nil {
			t.Fatal(err)
		}
		if got := srv.Dropped() - before; got != 1 {
			t.Errorf("%d datagrams dropped, want the stray answer", got)
		}
	})

	t.Run("reload of one site", func(t *testing.T) {
		// The first sampled site gets a new configuration (bob's extension
		// changes); the others are not reloaded and keep their
		// registrations: their doors' calls reach the residents registered
		// before, who do not register again.
		changed := homes[0].g
		i := 0
		p := compile(t, siteSource(i, 202))
		changed.setNext(func() (site.Config, error) {
			return site.Config{Program: p, Secrets: credentials.NewLookup(keyFor(t, i), p)}, nil
		})
		if err := srv.Reload(changed.domain, "test"); err != nil {
			t.Fatal(err)
		}
		if got := changed.site.Program().Account("app.bob"); got == nil || !strings.Contains(fmt.Sprint(changed.site.Program().Users), "202") {
			t.Errorf("%s after its reload: bob's extension is not 202", changed.domain)
		}
		for _, h := range homes {
			h.doorCall(t)
		}

		// A reload that fails leaves that site as it was, and the others.
		changed.setNext(func() (site.Config, error) { return site.Config{}, fmt.Errorf("the new configuration has errors") })
		failed := srv.ReloadAll("test")
		if len(failed) != n {
			t.Errorf("%d sites failed to reload, want all %d (none has a new configuration)", len(failed), n)
		}
		for _, h := range homes[:2] {
			h.doorCall(t)
		}
	})
}

func TestDuplicateDomain(t *testing.T) {
	p := compile(t, siteSource(7, 201))
	newSite := func() *site.Site {
		s, err := site.New(site.Config{Program: p, Secrets: credentials.NewLookup(keyFor(t, 7), p)}, site.Options{Logger: quiet, Services: &b2bua.Services{}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	srv := sites.New(quiet)
	if err := srv.Add("first", newSite()); err != nil {
		t.Fatal(err)
	}
	err := srv.Add("second", newSite())
	if err == nil || !strings.Contains(err.Error(), `domain "s7.example" is already served by the site in first`) {
		t.Errorf("a second site with domain s7.example: %v; want an error naming the first one's directory", err)
	}
	if err := srv.Claim("s7.example", "s7.example"); err != nil {
		t.Errorf("a site claiming its own domain: %v", err)
	}
	if err := srv.Claim("other", "S7.example"); err == nil {
		t.Error("another site claimed s7.example")
	}
}

func TestWebHandlerRoutesByHost(t *testing.T) {
	srv := sites.New(quiet)
	for i := range 3 {
		p := compile(t, siteSource(i, 201))
		// Site 1's devices fetch from a host of its own; sites 0 and 2
		// from one they share, which therefore names neither.
		p.Site.ProvisionURL = []string{"http://prov.example/", "http://prov-1.example:8088/", "http://prov.example/"}[i]
		s, err := site.New(site.Config{Program: p, Secrets: credentials.NewLookup(keyFor(t, i), p)}, site.Options{Logger: quiet, Services: &b2bua.Services{}, AdminToken: strings.Repeat("t", 43)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := srv.Add(fmt.Sprint(i), s); err != nil {
			t.Fatal(err)
		}
	}
	// The site answers its own 404 for the admin endpoints on the web
	// listener; an unknown host gets net/http's.
	const siteSays = "the admin endpoints are not served here"
	tests := []struct {
		name, host, path string
		admin            bool
		want             int
		wantBody         string
	}{
		{"unknown host", "nowhere.example", "/admin/status", false, http.StatusNotFound, "404 page not found"},
		{"a site's domain", "s0.example:8088", "/admin/status", false, http.StatusNotFound, siteSays},
		{"a site's own provisioning host", "prov-1.example:8088", "/admin/status", false, http.StatusNotFound, siteSays},
		{"a provisioning host two sites share", "prov.example", "/admin/status", false, http.StatusNotFound, "404 page not found"},
		{"admin of a site, no token", "127.0.0.1", "/sites/s1.example/admin/status", true, http.StatusUnauthorized, ""},
		{"admin of no site", "127.0.0.1", "/sites/s9.example/admin/status", true, http.StatusNotFound, "404 page not found"},
		{"admin without a site, with several", "127.0.0.1", "/admin/status", true, http.StatusNotFound, "404 page not found"},
	}
	for _, tt := range tests {
		h := srv.WebHandler()
		if tt.admin {
			h = srv.AdminHandler()
		}
		r := httptest.NewRequest("GET", "http://"+tt.host+tt.path, nil)
		r.RemoteAddr = "127.0.0.1:5000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tt.want || !strings.Contains(w.Body.String(), tt.wantBody) {
			t.Errorf("%s: %d %q, want %d %q", tt.name, w.Code, w.Body, tt.want, tt.wantBody)
		}
	}
}
