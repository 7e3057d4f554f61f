package sites_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/credentials"
	"switchboard/runtime/b2bua"
	"switchboard/runtime/events"
	"switchboard/runtime/site"
	"switchboard/runtime/sites"
	"switchboard/simulate/device"
)

// TestAddRemoveWhileServing adds a site to a server whose UDP socket is
// already read (serve's SIGHUP finding a new site directory) and removes
// another with a call in progress (its directory gone): the added one
// answers its devices at once, the removed one hangs up its call as at
// shutdown and its domain is then answered 404, and the third is not
// touched.
func TestAddRemoveWhileServing(t *testing.T) {
	srv, gens, addr := manySites(t, 2)

	p := compile(t, siteSource(2, 201))
	added := &generated{domain: p.Site.Domain, secrets: credentials.NewLookup(keyFor(t, 2), p)}
	s, err := site.New(site.Config{Program: p, Secrets: added.secrets}, site.Options{
		Logger: quiet, MediaIP: netip.MustParseAddr("127.0.0.1"), Services: &b2bua.Services{}, NonceSlots: 1 << 10,
		DataDir: filepath.Join(t.TempDir(), p.Site.Domain), Recompile: added.recompile, Events: events.NewBus(nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Add("sites/s2", s); err != nil {
		t.Fatal(err)
	}
	// REGISTER is challenged (401) and then accepted: the site's stack
	// reads the shared socket. Before, a site added after ServeUDP began
	// had its datagrams dropped and the REGISTER went unanswered.
	register(t, added, addr, "app.ann")

	h := &household{g: gens[0], door: register(t, gens[0], addr, "device.door"), ann: register(t, gens[0], addr, "app.ann")}
	h.ann.SetAnswer(device.Pickup, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	call, err := h.door.Dial(ctx, "1A")
	if err != nil {
		t.Fatalf("the door's call to 1A: %v", err)
	}
	if err := srv.Remove(gens[0].domain); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	select {
	case <-call.Done():
	case <-ctx.Done():
		t.Fatal("the removed site's call was not hung up")
	}
	late, err := device.New(device.Config{Account: "app.bob", Password: "x", Domain: gens[0].domain, Server: addr, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	if status, err := late.Register(ctx, time.Hour); err != nil || status != 404 {
		t.Errorf("REGISTER to the removed site's domain: %d, %v; want 404", status, err)
	}
	if _, ok := srv.Site(gens[0].domain); ok {
		t.Errorf("the removed site is still listed: %v", srv.Names())
	}
	register(t, gens[1], addr, "app.bob")
	if diff := cmp.Diff([]string{gens[1].domain, added.domain}, srv.Names()); diff != "" {
		t.Errorf("Names() (-want +got):\n%s", diff)
	}
}

// Over TCP and TLS too: a site added while the stream listeners run gets
// its connections (its REGISTER challenged with its realm), and a removed
// one's domain is answered 404.
func TestAddRemoveStreamsWhileServing(t *testing.T) {
	srv := sites.New(quiet)
	newSite := func(i int) *site.Site {
		p := compile(t, siteSource(i, 201))
		s, err := site.New(site.Config{Program: p, Secrets: credentials.NewLookup(keyFor(t, i), p)}, site.Options{Logger: quiet, Services: &b2bua.Services{}, NonceSlots: 1 << 10})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	if err := srv.Add("0", newSite(0)); err != nil {
		t.Fatal(err)
	}
	l := serveOnLoopback(t, srv, site.Limits{}, false)
	type answer struct {
		Code  int
		Realm string
	}
	register := func(domains ...string) []answer {
		var got []answer
		for _, tls_ := range []bool{false, true} {
			for _, domain := range domains {
				var c net.Conn
				var err error
				if tls_ {
					c, err = tls.Dial("tcp", l.tls.Addr().String(), &tls.Config{InsecureSkipVerify: true})
				} else {
					c, err = net.Dial("tcp", l.tcp.Addr().String())
				}
				if err != nil {
					t.Fatal(err)
				}
				code, realm := streamRegister(t, c, "", "app.ann", domain)
				c.Close()
				got = append(got, answer{code, realm})
			}
		}
		return got
	}
	// Both listeners serve (site 0 answers on each) before the changes.
	if diff := cmp.Diff([]answer{{401, "s0.example"}, {401, "s0.example"}}, register("s0.example")); diff != "" {
		t.Fatalf("TCP then TLS, before (-want +got):\n%s", diff)
	}
	if err := srv.Add("1", newSite(1)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Remove("s0.example"); err != nil {
		t.Fatal(err)
	}
	want := []answer{{401, "s1.example"}, {404, ""}, {401, "s1.example"}, {404, ""}}
	if diff := cmp.Diff(want, register("s1.example", "s0.example")); diff != "" {
		t.Errorf("TCP then TLS, the added site then the removed one (-want +got):\n%s", diff)
	}
}
