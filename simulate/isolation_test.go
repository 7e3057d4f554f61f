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
		then func(t *testing.T, w *worker, late *heldInvite)
	}{
		{
			name: "next case told app.u1 to pick up",
			dial: Dial{From: "app.u2", To: "20001"},
			then: func(_ *testing.T, w *worker, _ *heldInvite) {
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
			then: func(_ *testing.T, w *worker, _ *heldInvite) { w.endCase() },
		},
		{
			// The server sends the INVITE again once the next case has
			// begun (a retransmission: the first copy was never
			// answered), through the socket the ladder records: it is
			// still the earlier case's call, not one of the next case's
			// by being sent during it. The copy is held back too; the
			// one the test delivers is that copy.
			name: "retransmitted in the next case",
			dial: Dial{From: "app.u2", To: "20001"},
			then: func(t *testing.T, w *worker, late *heldInvite) {
				w.endCase()
				w.beginCase()
				w.hub.RingAll()
				w.device("app.u1").SetAnswer(device.Pickup, 0)
				late.mu.Lock()
				b, addr := late.invite, late.to
				late.mu.Unlock()
				if _, err := w.ladder.WriteTo(b, addr); err != nil {
					t.Fatal(err)
				}
			},
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
			tc.then(t, w, late)
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
			if got != "480 Temporarily Unavailable" {
				t.Errorf("app.u1 answered the earlier case's INVITE %q, want 480 Temporarily Unavailable", got)
			}
			leftAlone(t, w, id, earlier)
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
	// trying is closed at the account's first provisional response:
	// its stack has the INVITE's transaction.
	trying    chan struct{}
	triedOnce sync.Once
}

// holdInvites holds back every INVITE the server sends to account
// (retransmissions too), keeping the first for the test to deliver.
func holdInvites(w *worker, account string) *heldInvite {
	h := &heldInvite{held: make(chan struct{}), final: make(chan string, 1), trying: make(chan struct{})}
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
		case dir == dirIn && h.invite != nil && callIDOf(head) == h.callID && bytes.HasPrefix(head, []byte("SIP/2.0 ")) && answersInvite(head):
			status, _, _ := bytes.Cut(head, []byte("\r\n"))
			if code := strings.TrimPrefix(string(status), "SIP/2.0 "); code >= "2" {
				select {
				case h.final <- code:
				default:
				}
			} else {
				h.triedOnce.Do(func() { close(h.trying) })
			}
		}
		return false
	})
	return h
}

// answersInvite reports whether a response's header section answers an
// INVITE (its CSeq's method), not the CANCEL or ACK of the call.
func answersInvite(head []byte) bool {
	for line := range bytes.SplitSeq(head, []byte("\r\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("CSeq:")); ok {
			return bytes.HasSuffix(bytes.TrimSpace(v), []byte(" INVITE"))
		}
	}
	return false
}

// An earlier case's INVITE that reaches app.u1 late and is cancelled
// before app.u1 has judged it whose call it is: the stack has answered it
// 487 itself, and that stands — the call ends without a dialog, as a
// cancelled call does, and app.u1 does not ring, answer or list it.
// (Whether app.u1 then tries a 480 on top cannot be seen on the wire:
// sipgo drops a final response after its own 487.)
func TestLateInviteAlreadyCancelledIs487(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "site.pbx.hcl"), []byte(isolationSite), 0o644); err != nil {
		t.Fatal(err)
	}
	p, secrets := compileDir(t, dir)
	w, err := newWorker(p, secrets, Options{Wait: 5 * time.Second, IP: netip.MustParseAddr("192.0.2.1"), Transport: TransportMemory})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.close)
	late := holdInvites(w, "app.u1")
	w.beginCase()
	earlier := &caseState{}
	if err := w.step(context.Background(), earlier, Dial{From: "app.u2", To: "20001", Answer: "app.u1"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case <-late.held:
	case <-ctx.Done():
		t.Fatal("the server never sent the earlier case's INVITE to app.u1")
	}
	w.endCase()
	late.mu.Lock()
	b, addr, id := late.invite, late.to, late.callID
	late.mu.Unlock()
	// app.u1 judges the INVITE under w.mu (onIncoming): held here, its
	// judgement waits until the CANCEL has been handled.
	w.mu.Lock()
	locked := true
	defer func() {
		if locked {
			w.mu.Unlock()
		}
	}()
	// The CANCEL once app.u1's stack has the INVITE's transaction (its
	// 100 Trying): before, it would match nothing (481).
	if _, err := w.ladder.PacketConn.WriteTo(b, addr); err != nil {
		t.Fatal(err)
	}
	select {
	case <-late.trying:
	case <-ctx.Done():
		t.Fatal("app.u1's stack never took the INVITE in")
	}
	if _, err := w.ladder.PacketConn.WriteTo(cancelOf(t, b), addr); err != nil {
		t.Fatal(err)
	}
	var got string
	select {
	case got = <-late.final:
	case <-ctx.Done():
		t.Fatal("app.u1 never gave the cancelled INVITE a final response")
	}
	w.mu.Unlock()
	locked = false
	if got != "487 Request Terminated" {
		t.Errorf("app.u1 answered the cancelled INVITE %q, want the stack's 487 Request Terminated", got)
	}
	leftAlone(t, w, id, earlier)
}

// leftAlone checks that app.u1 neither connected nor took in the earlier
// case's call id, and that it rang nowhere after the case; then it
// cleans the earlier case up.
func leftAlone(t *testing.T, w *worker, id string, earlier *caseState) {
	t.Helper()
	u1 := w.device("app.u1")
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
}

// cancelOf is the CANCEL of invite (RFC 3261 §9.1): its Request-URI, top
// Via, From, To, Call-ID and CSeq number.
func cancelOf(t *testing.T, invite []byte) []byte {
	t.Helper()
	head, _, _ := bytes.Cut(invite, []byte("\r\n\r\n"))
	lines := bytes.Split(head, []byte("\r\n"))
	out := [][]byte{append([]byte("CANCEL "), bytes.TrimPrefix(lines[0], []byte("INVITE "))...)}
	via := false
	for _, l := range lines[1:] {
		switch {
		case bytes.HasPrefix(l, []byte("Via:")) && !via:
			via = true
			out = append(out, l)
		case bytes.HasPrefix(l, []byte("From:")), bytes.HasPrefix(l, []byte("To:")), bytes.HasPrefix(l, []byte("Call-ID:")):
			out = append(out, l)
		case bytes.HasPrefix(l, []byte("CSeq:")):
			out = append(out, bytes.Replace(l, []byte(" INVITE"), []byte(" CANCEL"), 1))
		}
	}
	if len(out) != 6 {
		t.Fatalf("the INVITE lacks a header a CANCEL copies:\n%s", head)
	}
	out = append(out, []byte("Max-Forwards: 70"), []byte("Content-Length: 0"))
	return append(bytes.Join(out, []byte("\r\n")), "\r\n\r\n"...)
}
