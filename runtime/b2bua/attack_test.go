package b2bua_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/icholy/digest"
)

// The attacks of issue 13 on authentication, over real loopback sockets.

// login registers account with password from p: a REGISTER without
// credentials, then one answering its challenge. It returns the final
// status.
func (p *udpPeer) login(account, password, callID string) int {
	p.t.Helper()
	chal := parseResponse(p.t, p.exchange(p.register(account, callID, "z9hG4bK-"+callID+"-1", 1, true, "")))
	if chal.StatusCode != 401 {
		return chal.StatusCode
	}
	c, err := digest.ParseChallenge(chal.GetHeader("WWW-Authenticate").Value())
	if err != nil {
		p.t.Fatal(err)
	}
	cred, err := digest.Digest(c, digest.Options{Method: "REGISTER", URI: "sip:e2e.example", Username: account, Password: password})
	if err != nil {
		p.t.Fatal(err)
	}
	return parseResponse(p.t, p.exchange(p.register(account, callID, "z9hG4bK-"+callID+"-2", 2, true, cred.String()))).StatusCode
}

// peerAt is a udpPeer on the loopback address ip.
func peerAt(t *testing.T, ip, server string) (*udpPeer, bool) {
	conn, err := net.ListenPacket("udp", ip+":0")
	if err != nil {
		return nil, false
	}
	srv, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		t.Fatal(err)
	}
	return &udpPeer{t: t, conn: conn, srv: srv}, true
}

// Finding 4: one-shot failures with a forged nonce from more addresses
// than the failure table holds, none waiting for an answer, used to fill
// the table; after that a new address was never counted and got 401 to
// every wrong guess, never 403. Now the spray makes the server stricter.
func TestSprayDoesNotEmptyThrottle(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 67 000 datagrams")
	}
	h := start(t)
	probe := newUDPPeer(t, h.addr)
	if _, ok := peerAt(t, "127.0.1.1", h.addr); !ok {
		t.Skip("this system cannot bind addresses of 127.0.0.0/8 other than 127.0.0.1")
	}
	const sources = 1<<16 + 1500 // more than the table held
	forged := `Digest username="app.mary", realm="e2e.example", nonce="Zm9yZ2Vk", uri="sip:e2e.example", ` +
		`response="0000000000000000000000000000000000000000000000000000000000000000", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="c"`
	for i := range sources {
		ip := fmt.Sprintf("127.%d.%d.%d", 1+i/(250*250), 1+(i/250)%250, 1+i%250)
		p, ok := peerAt(t, ip, h.addr)
		if !ok {
			t.Fatalf("bind %s", ip)
		}
		msg := p.register("app.mary", fmt.Sprint("spray-", i), fmt.Sprint("z9hG4bK-spray-", i), 1, true, forged)
		if _, err := p.conn.WriteTo(msg, p.srv); err != nil {
			t.Fatal(err)
		}
		p.conn.Close() // no answer is read: the source could be spoofed
		if i%50 == 49 {
			// The server reads one datagram after another: the answer to
			// the probe means it has read the spray so far, and its socket
			// buffer will not overflow.
			probe.exchange(probe.register("app.tom", fmt.Sprint("probe-", i), fmt.Sprint("z9hG4bK-probe-", i), 1, true, ""))
		}
	}

	guesser, _ := peerAt(t, "127.3.0.1", h.addr)
	t.Cleanup(func() { guesser.conn.Close() })
	statuses := map[int]int{}
	for i := range 20 {
		statuses[guesser.login("app.mary", "guess", fmt.Sprint("guess-", i))]++
	}
	if statuses[403] < 10 {
		t.Errorf("a new address after the spray: %v for 20 wrong passwords, want at most 10 answered 401 before 403", statuses)
	}
}

// Finding 8: the devices behind one NAT share its address. Failures of
// some accounts there must not lock out another whose password is right.
func TestNATNotLockedOutByOthersFailures(t *testing.T) {
	h := start(t)
	nat := newUDPPeer(t, h.addr)
	for i := range 60 {
		// Six accounts guessed ten times each: each reaches its own limit.
		nat.login(fmt.Sprintf("app.guess%d", i%6), "wrong", fmt.Sprint("nat-", i))
	}
	if got := nat.login("app.guess1", "wrong", "nat-again"); got != 403 {
		t.Errorf("a guessed account past its limit: %d, want 403", got)
	}
	password, _ := h.secrets.SIPPassword("app.mary")
	if got := nat.login("app.mary", password, "nat-mary"); got != 200 {
		t.Errorf("mary's right password from the same address: %d, want 200", got)
	}
}

// Finding 5: a 407 to an INVITE over UDP without credentials went through
// a sipgo server transaction, which retransmitted it until an ACK or Timer
// H: 11 responses over 32 s for one spoofable datagram. Now it is sent
// once, with no 100 Trying before it, a retransmitted INVITE gets one more,
// and the ACK is absorbed.
func TestUnauthenticatedInviteAnsweredOnce(t *testing.T) {
	h := start(t)
	rc := newRawCaller(t, h, "app.mary")
	inv := rc.invite("sip:102@e2e.example", "once", 1, 70, "")
	if _, err := rc.p.conn.WriteTo(inv, rc.p.srv); err != nil {
		t.Fatal(err)
	}
	got := readFor(t, rc.p.conn, 4*500*time.Millisecond)
	if len(got) != 1 || !bytes.HasPrefix(got[0], []byte("SIP/2.0 407 ")) {
		t.Fatalf("%d datagrams in 4 T1 for one INVITE, want one 407:\n%s", len(got), bytes.Join(got, []byte("\n----\n")))
	}
	chal := parseResponse(t, got[0])
	ack := fmt.Sprintf("ACK sip:102@e2e.example SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-once-1;rport\r\nMax-Forwards: 70\r\n"+
		"From: <sip:app.mary@e2e.example>;tag=g-once\r\nTo: %s\r\nCall-ID: once\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
		rc.port, chal.To().Value())
	if _, err := rc.p.conn.WriteTo([]byte(ack), rc.p.srv); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.p.conn.WriteTo(inv, rc.p.srv); err != nil {
		t.Fatal(err)
	}
	got = readFor(t, rc.p.conn, 2*500*time.Millisecond)
	if len(got) != 1 || !bytes.HasPrefix(got[0], []byte("SIP/2.0 407 ")) {
		t.Errorf("%d datagrams after the ACK and a retransmitted INVITE, want one 407:\n%s", len(got), bytes.Join(got, []byte("\n----\n")))
	}
	// The call still goes through with credentials.
	if res := rc.call("sip:102@e2e.example", "once-call", 70); res.StatusCode >= 300 && res.StatusCode != 480 {
		t.Errorf("INVITE with credentials: %d %s", res.StatusCode, res.Reason)
	}
}

// readFor returns the datagrams conn receives within d.
func readFor(t *testing.T, conn net.PacketConn, d time.Duration) [][]byte {
	t.Helper()
	var out [][]byte
	_ = conn.SetReadDeadline(time.Now().Add(d))
	for {
		buf := make([]byte, 65535)
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
				return out
			}
			t.Fatal(err)
		}
		out = append(out, buf[:n])
	}
}

// Finding 5, the flood: 20 000 INVITEs without credentials each get one
// 407 and no more, and the server's memory stays bounded (it kept every
// transaction for 32 s).
func TestUnauthenticatedInviteFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 20 000 INVITEs")
	}
	h := start(t)
	rc := newRawCaller(t, h, "app.mary")
	const n = 20_000
	const window = 100 // INVITEs sent and not yet answered

	before := heapAndStacks()
	answers := make(chan string, n)
	seen := map[string]int{}
	done := make(chan error, 1)
	go func() {
		// Reads until 6 T1 pass without a datagram once every INVITE was
		// answered, or until a hard limit.
		hard := time.Now().Add(60 * time.Second)
		buf := make([]byte, 65535)
		for {
			_ = rc.p.conn.SetReadDeadline(time.Now().Add(6 * 500 * time.Millisecond))
			m, _, err := rc.p.conn.ReadFrom(buf)
			if err != nil {
				done <- nil
				return
			}
			if !bytes.HasPrefix(buf[:m], []byte("SIP/2.0 407 ")) {
				done <- fmt.Errorf("not a 407:\n%s", buf[:m])
				return
			}
			id := callIDOf(buf[:m])
			if seen[id]++; seen[id] == 1 {
				answers <- id
			}
			if time.Now().After(hard) {
				done <- nil
				return
			}
		}
	}()
	sent := 0
	for answered := 0; answered < n; {
		for sent < n && sent-answered < window {
			if _, err := rc.p.conn.WriteTo(rc.invite("sip:102@e2e.example", fmt.Sprint("flood-", sent), 1, 70, ""), rc.p.srv); err != nil {
				t.Fatal(err)
			}
			sent++
		}
		select {
		case <-answers:
			answered++
		case err := <-done:
			t.Fatalf("after %d of %d answers: reading stopped: %v", answered, n, err)
		}
	}
	after := heapAndStacks()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	extra := 0
	for id, c := range seen {
		if c != 1 {
			extra += c - 1
			if extra < 5 {
				t.Errorf("%s answered %d times", id, c)
			}
		}
	}
	if extra > 0 {
		t.Errorf("%d responses beyond one per INVITE", extra)
	}
	const bound = 40 << 20
	grown := int64(after) - int64(before)
	t.Logf("heap and stacks grew by %d KB", grown>>10)
	if grown > bound {
		t.Errorf("heap and stacks grew by %d MB answering %d INVITEs, want under %d MB", grown>>20, n, bound>>20)
	}
}

func callIDOf(msg []byte) string {
	for line := range strings.SplitSeq(string(msg), "\r\n") {
		if v, ok := strings.CutPrefix(line, "Call-ID: "); ok {
			return v
		}
	}
	return ""
}

// heapAndStacks is the memory in use after a collection.
func heapAndStacks() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}

// A source past its failure limit is refused (403, Retry-After) a
// REGISTER without credentials too, not challenged: such REGISTERs over
// UDP are answered from a scan (sipstack, Register.Challenge), which
// leaves a throttled source's to the registrar.
func TestThrottledSourceRefusedWithoutCredentials(t *testing.T) {
	h := start(t)
	p := newUDPPeer(t, h.addr)
	for i := range 200 { // the source's limit; each account's (10) not reached
		if got := p.login(fmt.Sprintf("app.guess%d", i%40), "wrong", fmt.Sprint("limit-", i)); got != 401 {
			t.Fatalf("wrong password %d: %d, want 401", i, got)
		}
	}
	res := parseResponse(t, p.exchange(p.register("app.mary", "after", "z9hG4bK-after-1", 1, true, "")))
	if res.StatusCode != 403 || res.GetHeader("Retry-After") == nil {
		t.Errorf("REGISTER without credentials from the throttled source: %d %s, want 403 with Retry-After", res.StatusCode, res.Reason)
	}
	other, ok := peerAt(t, "127.0.1.1", h.addr)
	if !ok {
		return // this system binds no loopback address but 127.0.0.1
	}
	t.Cleanup(func() { other.conn.Close() })
	if res := parseResponse(t, other.exchange(other.register("app.mary", "other", "z9hG4bK-other-1", 1, true, ""))); res.StatusCode != 401 {
		t.Errorf("REGISTER without credentials from another source: %d, want 401", res.StatusCode)
	}
}
