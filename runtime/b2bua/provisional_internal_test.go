package b2bua

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// A provisional response the ring loop sends once the caller has its
// final one — a callee's 180 it takes from its queue just after the
// caller's CANCEL, whose 487 sipgo sends itself — is not sent (RFC 3261
// §17.2.1). sipgo's server transaction would not send it either, but
// keeps it as its last response and answers a retransmitted INVITE (and
// Timer G) with it: the caller that lost the 487 would hear 180 and wait
// for a final response that never comes. Over loopback, with sipgo's own
// server transaction.
func TestNoProvisionalAfterCallerCancelled(t *testing.T) {
	caller, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	raw := fmt.Sprintf("INVITE sip:1A@pbx.example SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %s;branch=z9hG4bK-late180\r\n"+
		"From: <sip:device.gate@pbx.example>;tag=door\r\n"+
		"To: <sip:1A@pbx.example>\r\n"+
		"Call-ID: late-180\r\n"+
		"CSeq: 1 INVITE\r\n"+
		"Contact: <sip:gate@%[1]s>\r\n"+
		"Content-Length: 0\r\n\r\n", caller.LocalAddr())
	parse := func(s string) *sip.Request {
		m, err := sip.NewParser().ParseSIP([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		req := m.(*sip.Request)
		req.SetSource(caller.LocalAddr().String())
		req.SetTransport("UDP")
		return req
	}
	inv := parse(raw)
	key, err := sip.ServerTxKeyMake(inv)
	if err != nil {
		t.Fatal(err)
	}
	conn := &sip.UDPConnection{PacketConn: pc}
	conn.Ref(1) // the transaction lets go of one at its end
	tx := sip.NewServerTx(key, inv, conn, slog.New(slog.DiscardHandler))
	if err := tx.Init(); err != nil {
		t.Fatal(err)
	}
	defer tx.Terminate()
	c := &call{s: &Server{}, id: "late-180", inv: inv, tx: tx, toTag: "ours", events: make(chan any, 4)}
	if !tx.OnCancel(c.callerCancelled) { // as the ring loop has it
		t.Fatal("the transaction is over before the CANCEL")
	}
	next := func(what string) string {
		t.Helper()
		_ = caller.SetReadDeadline(time.Now().Add(10 * time.Second))
		b := make([]byte, 4096)
		n, _, err := caller.ReadFrom(b)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		line, _, _ := strings.Cut(string(b[:n]), "\r\n")
		return line
	}
	c.respond(100, "Trying", nil)
	if got := next("the 100"); got != "SIP/2.0 100 Trying" {
		t.Fatalf("got %q, want the 100", got)
	}
	cancel := parse(strings.Replace(strings.Replace(raw, "INVITE sip:", "CANCEL sip:", 1), "CSeq: 1 INVITE", "CSeq: 1 CANCEL", 1))
	if err := tx.Receive(cancel); err != nil {
		t.Fatal(err)
	}
	if got := next("the 487"); got != "SIP/2.0 487 Request Terminated" {
		t.Fatalf("got %q, want the 487", got)
	}
	if _, ok := (<-c.events).(evCallerCancel); !ok {
		t.Fatal("the ring loop was not told of the CANCEL")
	}
	// The ring loop's 180, from the event before the CANCEL's.
	c.respond(180, "Ringing", nil)
	// The caller lost the 487 and sends its INVITE again.
	if err := tx.Receive(parse(raw)); err != nil {
		t.Fatal(err)
	}
	if got := next("the answer to the retransmitted INVITE"); got != "SIP/2.0 487 Request Terminated" {
		t.Errorf("the retransmitted INVITE got %q after the 487, want the 487 again", got)
	}
}
