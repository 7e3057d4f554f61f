package simulate

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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
	w.beginCase()
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
	// app.u2 refuses it as another case's call, 480 — not the 486 it was
	// told to answer this case's calls with: the refusal comes back once
	// the device has taken the INVITE in and the worker has judged it.
	w.device("app.u2").SetAnswer(device.Busy, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var se *device.StatusError
	if _, err := late.Add("earlier-case", "").Dial(ctx, "app.u2"); !errors.As(err, &se) || se.Status != 480 {
		t.Fatalf("the late INVITE: got %v, want app.u2 to refuse it with 480", err)
	}
	if err := w.step(context.Background(), &caseState{}, ExpectOnlyRung{Accounts: []string{"app.u1"}}); err != nil {
		t.Errorf("a ring of another case's call was taken for the case's: %v", err)
	}
}

// The leak the late INVITE opened: a case's INVITE to app.u1, held back
// until the case is over, must not be answered (or rung) — it would be the
// earlier case's call connecting in the next case, and could pass or fail
// it for the wrong reason. app.u1 refuses it with 480, a final response
// that ends the server's transaction without a dialog: once the next case
// has begun and told app.u1 to pick up, and already between the two cases,
// while app.u1 still has the earlier case's word to pick up.
func TestLateInviteOfAnEarlierCaseIsRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "site.pbx.hcl"), []byte(isolationSite), 0o644); err != nil {
		t.Fatal(err)
	}
	p, secrets := compileDir(t, dir)
	for _, tc := range []struct {
		name string
		dial Dial // the earlier case's call
		// then, before the INVITE reaches app.u1:
		then func(w *worker)
	}{
		{
			name: "next case told app.u1 to pick up",
			dial: Dial{From: "app.u2", To: "20001"},
			then: func(w *worker) {
				// As run begins a case, and Dial{Answer: "app.u1"} tells it.
				w.endCase()
				w.beginCase()
				w.hub.RingAll()
				w.device("app.u1").SetAnswer(device.Pickup, 0)
			},
		},
		{
			name: "between cases",
			dial: Dial{From: "app.u2", To: "20001", Answer: "app.u1"},
			then: func(w *worker) { w.endCase() },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := newWorker(p, secrets, Options{Wait: 5 * time.Second, IP: netip.MustParseAddr("192.0.2.1"), Transport: TransportMemory})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(w.close)
			late := holdInvites(w, "app.u1")

			// The earlier case: u2 calls u1, whose phone has not yet taken
			// the INVITE in. (Its cleanup is left for the end: waiting for
			// the server to give up on an INVITE never answered takes
			// Timer B, 32 real seconds, and the device cannot tell a call
			// the server still rings from one it gave up on — only whose
			// case it is.)
			w.beginCase()
			earlier := &caseState{}
			if err := w.step(context.Background(), earlier, tc.dial); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			select {
			case <-late.held:
			case <-ctx.Done():
				t.Fatal("the server never sent the earlier case's INVITE to app.u1")
			}
			tc.then(w)
			// Only now does the earlier INVITE reach app.u1, from the
			// server's address.
			late.mu.Lock()
			b, addr, id := late.invite, late.to, late.callID
			late.mu.Unlock()
			if _, err := w.ladder.PacketConn.WriteTo(b, addr); err != nil {
				t.Fatal(err)
			}
			var got string
			select {
			case got = <-late.final:
			case <-ctx.Done():
				t.Fatal("app.u1 never gave the late INVITE a final response")
			}
			u1 := w.device("app.u1")
			if got != "480 Temporarily Unavailable" {
				t.Errorf("app.u1 answered the earlier case's INVITE %q, want 480 Temporarily Unavailable", got)
			}
			if u1.Answered(id) != nil {
				t.Errorf("app.u1 has the earlier case's call connected after the case")
			}
			for _, in := range u1.Incoming() {
				if in.CallID == id {
					t.Errorf("app.u1 took the earlier case's call in: %+v", in)
				}
			}
			if err := w.step(context.Background(), &caseState{}, ExpectOnlyRung{}); err != nil {
				t.Errorf("the earlier case's INVITE rang after the case: %v", err)
			}
			w.cleanup(earlier)
		})
	}
}

// heldInvite is the first INVITE the server sent to an account, held back
// by holdInvites, and the status line of the account's final response to
// it once that crosses back.
type heldInvite struct {
	mu     sync.Mutex
	invite []byte
	to     net.Addr
	callID string
	held   chan struct{} // closed once invite is set
	final  chan string
}

// holdInvites holds back every INVITE the server sends to account
// (retransmissions too), keeping the first for the test to deliver.
func holdInvites(w *worker, account string) *heldInvite {
	h := &heldInvite{held: make(chan struct{}), final: make(chan string, 1)}
	prefix := []byte("INVITE sip:" + account + "@")
	w.ladder.setTap(func(dir string, peer net.Addr, b []byte) bool {
		head, _, _ := bytes.Cut(b, []byte("\r\n\r\n"))
		h.mu.Lock()
		defer h.mu.Unlock()
		switch {
		case dir == dirOut && bytes.HasPrefix(head, prefix):
			if h.invite == nil {
				h.invite, h.to, h.callID = slices.Clone(b), peer, callIDOf(head)
				close(h.held)
			}
			return true
		case dir == dirIn && h.invite != nil && callIDOf(head) == h.callID && bytes.HasPrefix(head, []byte("SIP/2.0 ")):
			status, _, _ := bytes.Cut(head, []byte("\r\n"))
			if code := strings.TrimPrefix(string(status), "SIP/2.0 "); code >= "2" {
				select {
				case h.final <- code:
				default:
				}
			}
		}
		return false
	})
	return h
}
