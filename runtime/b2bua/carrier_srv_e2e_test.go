package b2bua_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/runtime/carrier"
	"switchboard/runtime/events"
	"switchboard/runtime/sipdns/sipdnstest"
	"switchboard/simulate/device"
)

// carrierName is the trunk's host in the tests that look the carrier up
// in their own DNS server.
const carrierName = "carrier.test"

// carrierDNS publishes _sip._udp.carrier.test and _sip._tcp.carrier.test
// with one SRV target per server, in the priority order given.
func carrierDNS(t *testing.T, servers ...netip.AddrPort) *sipdnstest.Server {
	dns := sipdnstest.Start(t)
	var recs []net.SRV
	for i, s := range servers {
		name := []string{"one", "two", "three"}[i] + "." + carrierName
		recs = append(recs, net.SRV{Target: name, Port: s.Port(), Priority: uint16(10 * (i + 1)), Weight: 1})
		dns.Addrs(name, 300, s.Addr())
	}
	dns.SRV("_sip._udp."+carrierName, 300, recs...)
	dns.SRV("_sip._tcp."+carrierName, 300, recs...)
	return dns
}

// refusingCarrier is a carrier server that answers every request with
// 503, and hands each to the test.
func refusingCarrier(t *testing.T) (netip.AddrPort, <-chan *sip.Request) {
	t.Helper()
	ua, srv := carrierUA(t, "overloaded-carrier")
	conn, err := net.ListenPacket("udp", carrierHost+":0")
	if err != nil {
		t.Skipf("SKIPPING: cannot listen on %s: %v", carrierHost, err)
	}
	got := make(chan *sip.Request, 16)
	refuse := func(req *sip.Request, tx sip.ServerTransaction) {
		got <- req.Clone()
		_ = tx.Respond(sip.NewResponseFromRequest(req, 503, "Service Unavailable", nil))
	}
	srv.OnInvite(refuse)
	srv.OnRegister(refuse)
	go srv.ServeUDP(conn)
	t.Cleanup(func() { ua.Close(); conn.Close() })
	return netip.MustParseAddrPort(conn.LocalAddr().String()), got
}

// silentCarrier is a carrier server that reads and never answers; each
// datagram's first line goes to the test.
func silentCarrier(t *testing.T) (netip.AddrPort, <-chan string) {
	t.Helper()
	conn, err := net.ListenPacket("udp", carrierHost+":0")
	if err != nil {
		t.Skipf("SKIPPING: cannot listen on %s: %v", carrierHost, err)
	}
	got := make(chan string, 64)
	go func() {
		buf := make([]byte, 65535)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
			select {
			case got <- line:
			default:
			}
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return netip.MustParseAddrPort(conn.LocalAddr().String()), got
}

func received[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitFor):
		t.Fatalf("%s: nothing within %s", what, waitFor)
		var zero T
		return zero
	}
}

// TestTrunkRegistrationSRVFailover: the trunk names its carrier without a
// port; the server registers at the first server the carrier's SRV
// records name, which answers 503, then at the second (RFC 3263 §4.3),
// with a Request-URI of the carrier's name alone.
func TestTrunkRegistrationSRVFailover(t *testing.T) {
	first, refused := refusingCarrier(t)
	second := startRegistrar(t)
	dns := carrierDNS(t, first, second.addr)
	h := startTrunkServer(t, netip.AddrPort{}, serverOptions{vars: siteTrunkVars, dns: dns})
	if req := received(t, refused, "the first server's REGISTER"); req.Recipient.String() != "sip:"+carrierName {
		t.Errorf("Request-URI %s, want sip:%s (no port: SRV located the server)", req.Recipient.String(), carrierName)
	}
	reg, _ := second.exchange(t)
	if reg.Recipient.String() != "sip:"+carrierName {
		t.Errorf("Request-URI at the second server %s, want sip:%s", reg.Recipient.String(), carrierName)
	}
	h.next("trunk_registered", kindOf(events.TrunkRegistered))
	// The withdrawal goes where the binding is.
	h.close()
	if un, _ := second.exchange(t); un.GetHeader("Expires").Value() != "0" {
		t.Errorf("un-REGISTER Expires %s, want 0", un.GetHeader("Expires").Value())
	}
	select {
	case req := <-refused:
		t.Errorf("the first server got another %s after the second took the registration", req.Method)
	default:
	}
}

// TestTrunkRegistrationSilentServer: the first server never answers; once
// carrier.TryNext has passed on the runtime clock with no response, the
// second is tried.
func TestTrunkRegistrationSilentServer(t *testing.T) {
	first, heard := silentCarrier(t)
	second := startRegistrar(t)
	h := startTrunkServer(t, netip.AddrPort{}, serverOptions{vars: siteTrunkVars, dns: carrierDNS(t, first, second.addr)})
	if line := received(t, heard, "the silent server's REGISTER"); !strings.HasPrefix(line, "REGISTER ") {
		t.Fatalf("the silent server got %q, want a REGISTER", line)
	}
	h.clock.Advance(carrier.TryNext)
	second.exchange(t)
	h.next("trunk_registered", kindOf(events.TrunkRegistered))
}

// TestCallOutSRVFailover: a call out goes to the carrier's first SRV
// server, which answers 503, then to the second, which answers it; the
// same INVITE (Call-ID, CSeq) in a new transaction.
func TestCallOutSRVFailover(t *testing.T) {
	first, refused := refusingCarrier(t)
	car, second := startCarrierHub(t, "", false)
	h := startTrunkServer(t, netip.AddrPort{}, serverOptions{noCred: true, dns: carrierDNS(t, first, second)})
	mary := h.device("app.mary")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	call, err := mary.Dial(ctx, "+15550100")
	if err != nil {
		t.Fatal(err)
	}
	defer call.Hangup(ctx)
	inv := received(t, refused, "the first server's INVITE")
	got := car.received()
	if len(got) != 1 {
		t.Fatalf("the second server received %d INVITEs, want 1", len(got))
	}
	if got[0].CallID().Value() != inv.CallID().Value() || got[0].CSeq().SeqNo != inv.CSeq().SeqNo {
		t.Errorf("the second INVITE is not the same request")
	}
	if b1, b2 := inv.Via().Params.GetOr("branch", ""), got[0].Via().Params.GetOr("branch", ""); b1 == b2 {
		t.Errorf("the second INVITE reuses the first's transaction (Via branch)")
	}
	if got[0].Recipient.String() != "sip:+15550100@"+carrierName {
		t.Errorf("Request-URI %s, want sip:+15550100@%s", got[0].Recipient.String(), carrierName)
	}
	if in := car.net.Incoming(); len(in) != 1 || !in[0].Answered {
		t.Errorf("the second server's calls: %+v, want one answered", in)
	}
}

// TestCallOutSilentServer: the first server never answers the INVITE, not
// even with 100 Trying; after carrier.TryNext on the runtime clock the
// second is tried and answers.
func TestCallOutSilentServer(t *testing.T) {
	first, heard := silentCarrier(t)
	car, second := startCarrierHub(t, "", false)
	h := startTrunkServer(t, netip.AddrPort{}, serverOptions{noCred: true, dns: carrierDNS(t, first, second)})
	mary := h.device("app.mary")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	type dialled struct {
		call *device.Call
		err  error
	}
	done := make(chan dialled, 1)
	go func() {
		call, err := mary.Dial(ctx, "+15550100")
		done <- dialled{call, err}
	}()
	if line := received(t, heard, "the silent server's INVITE"); !strings.HasPrefix(line, "INVITE ") {
		t.Fatalf("the silent server got %q, want an INVITE", line)
	}
	h.clock.Advance(carrier.TryNext)
	d := received(t, done, "mary's call")
	if d.err != nil {
		t.Fatal(d.err)
	}
	if err := d.call.Hangup(ctx); err != nil {
		t.Error(err)
	}
	if in := car.net.Incoming(); len(in) != 1 || !in[0].Answered {
		t.Errorf("the second server's calls: %+v, want one answered", in)
	}
}

// TestCarrierLookupTimeout: a name server that never answers ends the
// registration attempt and a call out with an error saying so, within
// the lookup's timeout, instead of holding them.
func TestCarrierLookupTimeout(t *testing.T) {
	dns := sipdnstest.Start(t)
	dns.Silent(true)
	h := startTrunkServer(t, netip.AddrPort{}, serverOptions{vars: siteTrunkVars, dns: dns, dnsTimeout: 200 * time.Millisecond})
	e := h.next("trunk_registration_failed", kindOf(events.TrunkRegistrationFailed))
	if want := "_sip._udp." + carrierName + ": no answer within 200ms"; !strings.Contains(e.Cause, want) {
		t.Errorf("trunk_registration_failed cause %q, want it to say %q", e.Cause, want)
	}
	mary := h.device("app.mary")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if _, err := mary.Dial(ctx, "+15550100"); err == nil || ctx.Err() != nil {
		t.Fatalf("call out with DNS silent: %v (context: %v), want a refusal before the test's deadline", err, ctx.Err())
	}
	h.logMu.Lock()
	defer h.logMu.Unlock()
	if !strings.Contains(h.log.String(), "cannot locate the carrier") {
		t.Errorf("the log does not say the carrier could not be located:\n%s", h.log)
	}
}

// TestCarrierRecognisedAtSRVServer: a carrier located by SRV is known by
// its servers' addresses: its call to a DDI from one of them rings the
// DDI's user without a challenge (an IP-authenticated trunk), as a
// carrier written as an address is.
func TestCarrierRecognisedAtSRVServer(t *testing.T) {
	ua, srv := carrierUA(t, "test-carrier")
	defer ua.Close()
	conn, err := net.ListenPacket("udp", carrierHost+":0")
	if err != nil {
		t.Skipf("SKIPPING: cannot listen on %s: %v", carrierHost, err)
	}
	go srv.ServeUDP(conn)
	defer conn.Close()
	client, err := sipgo.NewClient(ua, sipgo.WithClientConnectionAddr(conn.LocalAddr().String()))
	if err != nil {
		t.Fatal(err)
	}
	server := netip.MustParseAddrPort(conn.LocalAddr().String())
	h := startTrunkServer(t, netip.AddrPort{}, serverOptions{noCred: true, dns: carrierDNS(t, server)})
	mary := h.device("app.mary")
	mary.SetAnswer(device.Decline, 0)

	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "+35315550101", Host: "trunks.example"})
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: "+35315550101", Host: carrierRealm}})
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "+353861234567", Host: carrierRealm}, Params: sip.NewParams()}
	from.Params.Add("tag", "carrier1")
	req.AppendHeader(from)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody([]byte("v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"))
	req.SetDestination(h.addr)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	res, err := client.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 603 {
		t.Fatalf("the carrier's call ended with %d, want mary's 603 (a 407 means the carrier was not recognised)", res.StatusCode)
	}
	if e := h.next("call_started", kindOf(events.CallStarted)); e.From != "trunk.carrier" || e.Target != "user.mary" {
		t.Errorf("call_started = %+v", e)
	}
}

// TestTrunkRegistrationTCPRefused: over TCP, a carrier server that
// refuses the connection is a failure too (RFC 3263 §4.3): the next one
// takes the registration.
func TestTrunkRegistrationTCPRefused(t *testing.T) {
	l, err := net.Listen("tcp", carrierHost+":0")
	if err != nil {
		t.Skipf("SKIPPING: cannot listen on %s: %v", carrierHost, err)
	}
	refusing := netip.MustParseAddrPort(l.Addr().String())
	l.Close() // nobody listens there now: the connection is refused
	second := startRegistrarOn(t, "tcp")
	h := startTrunkServer(t, netip.AddrPort{}, serverOptions{vars: siteTrunkVars, transport: "tcp", dns: carrierDNS(t, refusing, second.addr)})
	second.exchange(t)
	h.next("trunk_registered", kindOf(events.TrunkRegistered))
	h.logMu.Lock()
	defer h.logMu.Unlock()
	if !strings.Contains(h.log.String(), "server="+refusing.String()) {
		t.Errorf("the log does not name the refusing server %s:\n%s", refusing, h.log)
	}
}

// TestCallOutTCPRefused: over TCP, a call out whose first carrier server
// refuses the connection goes to the next one (which answers busy here).
func TestCallOutTCPRefused(t *testing.T) {
	l, err := net.Listen("tcp", carrierHost+":0")
	if err != nil {
		t.Skipf("SKIPPING: cannot listen on %s: %v", carrierHost, err)
	}
	refusing := netip.MustParseAddrPort(l.Addr().String())
	l.Close()
	ua, srv := carrierUA(t, "busy-carrier")
	busy, err := net.Listen("tcp", carrierHost+":0")
	if err != nil {
		t.Fatal(err)
	}
	invites := make(chan *sip.Request, 4)
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		invites <- req.Clone()
		_ = tx.Respond(sip.NewResponseFromRequest(req, 486, "Busy Here", nil))
	})
	go srv.ServeTCP(busy)
	t.Cleanup(func() { ua.Close(); busy.Close() })

	h := startTrunkServer(t, netip.AddrPort{}, serverOptions{noCred: true, transport: "tcp", dns: carrierDNS(t, refusing, netip.MustParseAddrPort(busy.Addr().String()))})
	mary := h.device("app.mary")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, err = mary.Dial(ctx, "+15550100")
	var se *device.StatusError
	if !errors.As(err, &se) || se.Status != 486 {
		t.Fatalf("call out: %v, want the second server's 486", err)
	}
	if inv := received(t, invites, "the second server's INVITE"); inv.Recipient.User != "+15550100" {
		t.Errorf("the second server got an INVITE for %s", inv.Recipient.String())
	}
}
