package b2bua_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/runtime/events"
)

// TestCallOutCancelledAfterChallenge: a carrier rings (180) before it
// challenges, then says nothing but 100 Trying to the INVITE with
// credentials; the caller gives up. The 180 was the first transaction's:
// the INVITE with credentials may be cancelled only once it has a
// provisional response of its own (RFC 3261 §9.1). The CANCEL used to go
// out at once, for a request the carrier may not even have seen yet, and
// could read the INVITE while the challenge's reader was still completing
// it (its Via, its socket).
func TestCallOutCancelledAfterChallenge(t *testing.T) {
	car := startRingingChallenger(t)
	h := startTrunkServer(t, car.addr, serverOptions{vars: siteTrunkVars})
	mary := h.device("app.mary")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dialled := make(chan error, 1)
	go func() { _, err := mary.Dial(ctx, "+15550100"); dialled <- err }()

	// The server has taken in the 180 (its reader marks the leg as
	// having had a provisional response before it posts it), and only
	// then does the carrier challenge.
	h.next("leg_ringing", kindOf(events.LegRinging))
	close(car.challenge)
	var held sip.ServerTransaction
	select {
	case held = <-car.retry:
	case <-time.After(waitFor):
		t.Fatalf("the carrier received no INVITE with credentials within %s; it saw:\n%s", waitFor, car.wire)
	}
	cancelled := make(chan struct{})
	held.OnCancel(func(*sip.Request) { close(cancelled) })

	cancel()
	<-dialled
	h.next("call_ended", kindOf(events.CallEnded))
	if strings.Contains(car.wire.String(), "CANCEL sip:") {
		t.Fatalf("the INVITE with credentials was cancelled before any provisional response to it:\n%s", car.wire)
	}

	// Now it rings: the CANCEL follows.
	if err := held.Respond(sip.NewResponseFromRequest(car.retried, 180, "Ringing", nil)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cancelled:
	case <-time.After(waitFor):
		t.Fatalf("no CANCEL within %s of the 180 to the INVITE with credentials:\n%s", waitFor, car.wire)
	}
}

// ringingChallenger is a carrier on sipgo at 127.0.0.2 that answers the
// first INVITE of a call with 180 and, once challenge is closed, 407; it
// hands the INVITE with credentials to retry and leaves it unanswered.
// It grants every REGISTER.
type ringingChallenger struct {
	addr      netip.AddrPort
	wire      *wireLog
	challenge chan struct{}
	retry     chan sip.ServerTransaction
	retried   *sip.Request // the INVITE sent on retry
}

func startRingingChallenger(t *testing.T) *ringingChallenger {
	t.Helper()
	conn, err := net.ListenPacket("udp", carrierHost+":0")
	if err != nil {
		t.Skipf("SKIPPING: cannot listen on %s: %v", carrierHost, err)
	}
	ua, srv := carrierUA(t, "test-carrier")
	c := &ringingChallenger{addr: netip.MustParseAddrPort(conn.LocalAddr().String()), wire: newWireLog(conn),
		challenge: make(chan struct{}), retry: make(chan sip.ServerTransaction, 1)}
	a := carrierAuth(trunkPassword)
	srv.OnRegister(func(req *sip.Request, tx sip.ServerTransaction) { _ = tx.Respond(grant(req)) })
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		if req.GetHeader("Proxy-Authorization") != nil {
			c.retried = req.Clone()
			c.retry <- tx // the test answers it, or not
			<-tx.Done()   // sipgo ends a transaction its handler left
			return
		}
		_ = tx.Respond(sip.NewResponseFromRequest(req, 180, "Ringing", nil))
		select {
		case <-c.challenge:
		case <-tx.Done():
			return
		}
		_, res := a.Check(req, "", true)
		_ = tx.Respond(res)
	})
	go srv.ServeUDP(c.wire)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("what crossed the carrier's socket:\n%s", c.wire)
		}
		ua.Close()
		conn.Close()
	})
	return c
}
