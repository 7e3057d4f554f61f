package sites_test

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/credentials"
	"switchboard/runtime/b2bua"
	"switchboard/runtime/events"
	"switchboard/runtime/site"
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
