package simulate

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"switchboard/runtime/media"
	"switchboard/simulate/device"
)

const isolationSite = `site "tower" {
  name     = "Tower"
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "tower.example.net"
  installer {
    company = "Dublin Door Systems"
    email   = "support@dds.example"
  }
}

residence "flat-1" {
  label = "1"
}

user "u1" {
  first_name = "Resident"
  last_name  = "One"
  email      = "u1@tower.example"
  residence  = residence.flat-1
  role       = "owner"
  extension  = 20001
  app        = true
}

user "u2" {
  first_name = "Resident"
  last_name  = "Two"
  email      = "u2@tower.example"
  residence  = residence.flat-1
  role       = "user"
  extension  = 20002
  app        = true
}
`

// An INVITE the server sent during an earlier case can be taken in by its
// device only once a later case has begun: the SIP stack hands each
// request to a goroutine of its own, which on a loaded machine runs late.
// Such a ring is not the case's: "u1 calls u15 on extension 20015" failed
// with "app.u17 rang too" when a ring of flat-9 in an earlier case reached
// u17's app late. Here the late INVITE is one the server never sent in the
// case, reaching app.u2 between the case's reset and its check that only
// app.u1 rang.
func TestLateInviteOfAnotherCaseIsNotARing(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "site.pbx.hcl"), []byte(isolationSite), 0o644); err != nil {
		t.Fatal(err)
	}
	p, secrets := compileDir(t, dir)
	ip := netip.MustParseAddr("192.0.2.1")
	w, err := newWorker(p, secrets, Options{Wait: 5 * time.Second, IP: ip, Transport: TransportMemory})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.close)

	// The case's own call: u2 calls u1, who answers and hangs up.
	steps := []Step{
		Dial{From: "app.u2", To: "20001", Answer: "app.u1"},
		ExpectRing{Accounts: []string{"app.u1"}},
		ExpectAnswered{By: "app.u1"},
		Hangup{},
	}
	if res := w.run(context.Background(), Case{Name: "u2 calls u1", Steps: steps}); res.Status != Pass {
		t.Fatalf("the case's own call: %s: %s", res.Step, res.Message)
	}

	// The late INVITE: from a sender other than the server, to app.u2's
	// device, after the case has begun (as run begins one) and before its
	// check.
	w.ladder.reset()
	w.mu.Lock()
	clear(w.reached)
	w.mu.Unlock()
	conn, err := w.net.Listen(netip.AddrPortFrom(ip, 0))
	if err != nil {
		t.Fatal(err)
	}
	late, err := device.NewHub(device.HubConfig{Domain: p.Site.Domain, Server: w.hub.Addr(), IP: ip, Conn: conn,
		ListenMedia: func(laddr netip.AddrPort) (media.PacketConn, error) { return w.net.Listen(laddr) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { late.Close() })
	// app.u2 refuses it: the refusal comes back once the device has taken
	// the INVITE in (OnIncoming is called before it answers).
	w.device("app.u2").SetAnswer(device.Busy, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var se *device.StatusError
	if _, err := late.Add("earlier-case", "").Dial(ctx, "app.u2"); !errors.As(err, &se) || se.Status != 486 {
		t.Fatalf("the late INVITE: got %v, want app.u2 to refuse it with 486", err)
	}
	if err := w.step(context.Background(), &caseState{}, ExpectOnlyRung{Accounts: []string{"app.u1"}}); err != nil {
		t.Errorf("a ring of another case's call was taken for the case's: %v", err)
	}
}
