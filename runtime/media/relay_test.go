package media

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/rtp"

	"switchboard/runtime/clock/clocktest"
	"switchboard/runtime/media/mediatest"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// endpoint is a fake SIP device's media socket.
type endpoint struct {
	t    testing.TB
	conn *net.UDPConn
}

func newEndpoint(t testing.TB) *endpoint {
	t.Helper()
	return newEndpointAt(t, loopback)
}

// strangerIP is a loopback address of no party to the call: packets from
// it are an attacker's.
var strangerIP = netip.MustParseAddr("127.0.0.2")

// newEndpointAt is a socket on ip, a loopback address.
func newEndpointAt(t testing.TB, ip netip.Addr) *endpoint {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &endpoint{t: t, conn: c}
}

func (e *endpoint) addr() netip.AddrPort { return e.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (e *endpoint) send(to netip.AddrPort, b []byte) {
	e.t.Helper()
	if _, err := e.conn.WriteToUDPAddrPort(b, to); err != nil {
		e.t.Fatal(err)
	}
}

// recv waits for the next packet; the deadline only turns a hang into a
// failure.
func (e *endpoint) recv() ([]byte, netip.AddrPort) {
	e.t.Helper()
	buf := make([]byte, 9000)
	e.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := e.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		e.t.Fatalf("%v: no packet: %v", e.addr(), err)
	}
	return buf[:n], from
}

// expectNothing checks that no packet is waiting. Loopback UDP queues a
// datagram at the receiver within the sender's system call, so once a
// later packet of the same relay socket has arrived elsewhere, one sent
// here before it would be queued already. (The deadline is in the future
// so that the read is tried at all: Go fails a read whose deadline has
// passed without looking.)
func (e *endpoint) expectNothing() {
	e.t.Helper()
	e.conn.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	buf := make([]byte, 9000)
	if n, from, err := e.conn.ReadFromUDPAddrPort(buf); err == nil {
		e.t.Fatalf("%v received %x from %v, want nothing", e.addr(), buf[:n], from)
	}
}

// expect receives the next packet and checks it is want.
func (e *endpoint) expect(want []byte) netip.AddrPort {
	e.t.Helper()
	got, from := e.recv()
	if !bytes.Equal(got, want) {
		e.t.Fatalf("%v received %x, want %x", e.addr(), got, want)
	}
	return from
}

// sdpFor is an endpoint's SDP: audio (PCMA, telephone-event 101) at audio,
// and H.264 video at video when valid.
func sdpFor(audio, video netip.AddrPort, extra ...string) []byte {
	lines := []string{
		"v=0",
		"o=dev 100 1 IN IP4 " + audio.Addr().String(),
		"s=-",
		"c=IN IP4 " + audio.Addr().String(),
		"t=0 0",
		fmt.Sprintf("m=audio %d RTP/AVP 8 101", audio.Port()),
		"a=rtpmap:8 PCMA/8000",
		"a=rtpmap:101 telephone-event/8000",
		"a=fmtp:101 0-16",
	}
	lines = append(lines, extra...)
	if video.IsValid() {
		lines = append(lines,
			fmt.Sprintf("m=video %d RTP/AVP 96", video.Port()),
			"c=IN IP4 "+video.Addr().String(),
			"a=rtpmap:96 H264/90000",
		)
	}
	return []byte(sdpText(lines...))
}

// relayAddrs returns where an SDP the relay wrote points, per m-line.
func relayAddrs(t testing.TB, body []byte) []mediaDesc {
	t.Helper()
	_, descs, err := parseSDP(body)
	if err != nil {
		t.Fatalf("relay wrote bad SDP: %v\n%s", err, body)
	}
	for i, d := range descs {
		if d.rtp.IsValid() && d.rtp.Addr() != loopback {
			t.Fatalf("m-line %d points at %v, not the relay", i+1, d.rtp)
		}
	}
	return descs
}

func newTestRelay(t testing.TB, cfg Config) *Relay {
	t.Helper()
	if !cfg.IP.IsValid() {
		cfg.IP = loopback
	}
	r, err := NewRelay(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func rtpPacket(t testing.TB, pt uint8, seq uint16, payload []byte) []byte {
	t.Helper()
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq,
		Timestamp: uint32(seq) * 160, SSRC: 0xfeed}, Payload: payload}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// call sets up a relay between a caller and a callee with audio and video
// through a leg, and returns the relay addresses each side was given.
type call struct {
	r                  *Relay
	leg                *Leg
	caller, callee     *endpoint // audio
	callerV, calleeV   *endpoint // video
	toCaller, toCallee []mediaDesc
}

func newCall(t *testing.T, cfg Config) *call {
	c := &call{r: newTestRelay(t, cfg),
		caller: newEndpoint(t), callee: newEndpoint(t),
		callerV: newEndpoint(t), calleeV: newEndpoint(t)}
	if err := c.r.SetOffer(sdpFor(c.caller.addr(), c.callerV.addr())); err != nil {
		t.Fatal(err)
	}
	leg, offer, err := c.r.NewLeg()
	if err != nil {
		t.Fatal(err)
	}
	c.leg = leg
	c.toCallee = relayAddrs(t, offer)
	answer, err := leg.Answer(sdpFor(c.callee.addr(), c.calleeV.addr()))
	if err != nil {
		t.Fatal(err)
	}
	c.toCaller = relayAddrs(t, answer)
	return c
}

func TestRelayForwardsAudioAndVideo(t *testing.T) {
	c := newCall(t, Config{})
	for i := range 3 {
		a := rtpPacket(t, 8, uint16(i), bytes.Repeat([]byte{0xd5}, 160))
		c.caller.send(c.toCaller[0].rtp, a)
		if from := c.callee.expect(a); from != c.toCallee[0].rtp {
			t.Errorf("callee got audio from %v, want the relay's %v (symmetric RTP)", from, c.toCallee[0].rtp)
		}
		b := rtpPacket(t, 8, uint16(100+i), bytes.Repeat([]byte{0x55}, 160))
		c.callee.send(c.toCallee[0].rtp, b)
		c.caller.expect(b)
	}
	// Video: a door station's H.264 fragment, relayed byte for byte.
	v := rtpPacket(t, 96, 7, append([]byte{0x7c, 0x85}, bytes.Repeat([]byte{0xab, 0xcd}, 600)...))
	c.callerV.send(c.toCaller[1].rtp, v)
	c.calleeV.expect(v)
	// Not even RTP: relayed untouched all the same.
	junk := []byte("not rtp at all")
	c.calleeV.send(c.toCallee[1].rtp, junk)
	c.callerV.expect(junk)

	if s := c.r.Stats(); s.Forwarded != 8 || s.Dropped != 0 {
		t.Errorf("Stats = %+v, want 8 forwarded, 0 dropped", s)
	}
}

func TestRelayRTCP(t *testing.T) {
	r := newTestRelay(t, Config{})
	caller, callerRTCP := newEndpoint(t), newEndpoint(t)
	callee, calleeRTCP := newEndpoint(t), newEndpoint(t)
	if err := r.SetOffer(sdpFor(caller.addr(), netip.AddrPort{}, fmt.Sprintf("a=rtcp:%d", callerRTCP.addr().Port()))); err != nil {
		t.Fatal(err)
	}
	leg, offer, err := r.NewLeg()
	if err != nil {
		t.Fatal(err)
	}
	answer, err := leg.Answer(sdpFor(callee.addr(), netip.AddrPort{}, fmt.Sprintf("a=rtcp:%d IN IP4 127.0.0.1", calleeRTCP.addr().Port())))
	if err != nil {
		t.Fatal(err)
	}
	toCallee, toCaller := relayAddrs(t, offer)[0], relayAddrs(t, answer)[0]
	if toCaller.rtcp == toCaller.rtp || toCallee.rtcp == toCallee.rtp || !toCaller.rtcp.IsValid() {
		t.Fatalf("relay announced RTCP at %v/%v", toCaller.rtcp, toCallee.rtcp)
	}
	sr := []byte{0x80, 200, 0, 6, 0, 0, 0xfe, 0xed, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}
	callerRTCP.send(toCaller.rtcp, sr)
	calleeRTCP.expect(sr)
	rr := []byte{0x80, 201, 0, 1, 0, 0, 0xbe, 0xef}
	calleeRTCP.send(toCallee.rtcp, rr)
	callerRTCP.expect(rr)
}

func TestRelayLatching(t *testing.T) {
	r := newTestRelay(t, Config{})
	// The caller's SDP names one address (its LAN address), but it sends
	// from another (its NAT's, on the IP its INVITE came from): the relay
	// must learn the second.
	callerSDPAddr, callerNAT := newEndpoint(t), newEndpoint(t)
	callee := newEndpoint(t)
	stranger := newEndpointAt(t, strangerIP)
	if err := r.SetOffer(sdpFor(callerSDPAddr.addr(), netip.AddrPort{}), loopback); err != nil {
		t.Fatal(err)
	}
	leg, offer, err := r.NewLeg(loopback)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := leg.Answer(sdpFor(callee.addr(), netip.AddrPort{}))
	if err != nil {
		t.Fatal(err)
	}
	toCallee, toCaller := relayAddrs(t, offer)[0].rtp, relayAddrs(t, answer)[0].rtp
	pkt := func(seq uint16) []byte { return rtpPacket(t, 8, seq, []byte{byte(seq)}) }

	// Before the caller has sent anything, its SDP address is all there is.
	callee.send(toCallee, pkt(1))
	callerSDPAddr.expect(pkt(1))

	// The caller's first packet latches its NAT address.
	callerNAT.send(toCaller, pkt(2))
	callee.expect(pkt(2))
	callee.send(toCallee, pkt(3))
	callerNAT.expect(pkt(3))

	// A stranger's packets are dropped: the callee's next packet is the
	// caller's, sent after the stranger's.
	dropped := r.Stats().Dropped
	stranger.send(toCaller, pkt(4))
	callerNAT.send(toCaller, pkt(5))
	callee.expect(pkt(5))
	if got := r.Stats().Dropped; got != dropped+1 {
		t.Errorf("Dropped = %d, want %d", got, dropped+1)
	}

	// Another port of the caller's IP (its NAT rebound it) takes the
	// latch over.
	callerSDPAddr.send(toCaller, pkt(6))
	callee.expect(pkt(6))
	callee.send(toCallee, pkt(7))
	callerSDPAddr.expect(pkt(7))

	// A re-INVITE from the caller (it moved) re-arms the latch: the next
	// packet from one of its addresses is learned.
	moved := newEndpoint(t)
	if _, err := r.Update(Caller, sdpFor(moved.addr(), netip.AddrPort{}), loopback); err != nil {
		t.Fatal(err)
	}
	callee.send(toCallee, pkt(10))
	moved.expect(pkt(10)) // the new SDP address, until it sends
	stranger.send(toCaller, pkt(11))
	callerNAT.send(toCaller, pkt(12))
	callee.expect(pkt(12))
	callee.send(toCallee, pkt(13))
	callerNAT.expect(pkt(13))
	stranger.expectNothing()
}

func TestRelayForking(t *testing.T) {
	var w readers
	r := newTestRelay(t, Config{Listen: w.listen})
	caller := newEndpoint(t)
	if err := r.SetOffer(sdpFor(caller.addr(), netip.AddrPort{})); err != nil {
		t.Fatal(err)
	}
	phones := []*endpoint{newEndpoint(t), newEndpoint(t), newEndpoint(t)}
	var legs []*Leg
	var toPhone []netip.AddrPort
	for range phones {
		leg, offer, err := r.NewLeg()
		if err != nil {
			t.Fatal(err)
		}
		legs = append(legs, leg)
		toPhone = append(toPhone, relayAddrs(t, offer)[0].rtp)
	}
	if toPhone[0] == toPhone[1] || toPhone[1] == toPhone[2] {
		t.Fatalf("legs share sockets: %v", toPhone)
	}
	// Early media from a branch that has not answered goes nowhere.
	phones[0].send(toPhone[0], rtpPacket(t, 8, 1, []byte("early")))

	// Phone 2 answers; phone 1 answered too late and keeps sending a moment.
	answer, err := legs[1].Answer(sdpFor(phones[1].addr(), netip.AddrPort{}))
	if err != nil {
		t.Fatal(err)
	}
	toCaller := relayAddrs(t, answer)[0].rtp
	phones[0].send(toPhone[0], rtpPacket(t, 8, 2, []byte("loser")))
	phones[1].send(toPhone[1], rtpPacket(t, 8, 3, []byte("winner")))
	caller.expect(rtpPacket(t, 8, 3, []byte("winner")))
	caller.send(toCaller, rtpPacket(t, 8, 4, []byte("hello")))
	phones[1].expect(rtpPacket(t, 8, 4, []byte("hello")))
	waitStats(t, &w, r, func(s Stats) bool { return s.Dropped == 2 }) // early and loser
	for _, l := range []*Leg{legs[0], legs[2]} {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// The cancelled legs' ports are free again.
	for _, a := range []netip.AddrPort{toPhone[0], toPhone[2]} {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(a))
		if err != nil {
			t.Errorf("port of a closed leg still taken: %v", err)
			continue
		}
		c.Close()
	}
	if _, err := legs[0].Answer(sdpFor(phones[0].addr(), netip.AddrPort{})); !errors.Is(err, ErrClosed) {
		t.Errorf("Answer on a closed leg: %v, want ErrClosed", err)
	}
}

// The Offer/Answer shortcut: every branch gets the same offer and shares
// the callee side.
func TestRelaySharedOffer(t *testing.T) {
	r := newTestRelay(t, Config{})
	caller, callee := newEndpoint(t), newEndpoint(t)
	if _, err := r.Answer(sdpFor(callee.addr(), netip.AddrPort{})); !errors.Is(err, ErrNoOffer) {
		t.Errorf("Answer before Offer: %v, want ErrNoOffer", err)
	}
	offer, err := r.Offer(sdpFor(caller.addr(), netip.AddrPort{}))
	if err != nil {
		t.Fatal(err)
	}
	answer, err := r.Answer(sdpFor(callee.addr(), netip.AddrPort{}))
	if err != nil {
		t.Fatal(err)
	}
	toCallee, toCaller := relayAddrs(t, offer)[0].rtp, relayAddrs(t, answer)[0].rtp
	a := rtpPacket(t, 8, 1, []byte("a"))
	caller.send(toCaller, a)
	callee.expect(a)
	b := rtpPacket(t, 8, 2, []byte("b"))
	callee.send(toCallee, b)
	caller.expect(b)
}

// An INVITE without SDP: the winning branch's 2xx carries the offer, the
// caller's ACK the answer.
func TestRelayLateOffer(t *testing.T) {
	r := newTestRelay(t, Config{})
	caller, callee := newEndpoint(t), newEndpoint(t)
	leg, offer, err := r.NewLeg()
	if err != nil || offer != nil {
		t.Fatalf("NewLeg without an offer = %q, %v; want no SDP", offer, err)
	}
	if _, err := r.Update(Caller, sdpFor(caller.addr(), netip.AddrPort{})); !errors.Is(err, ErrNotAnswered) {
		t.Errorf("Update before an answer: %v, want ErrNotAnswered", err)
	}
	toCallerSDP, err := leg.Answer(sdpFor(callee.addr(), netip.AddrPort{}))
	if err != nil {
		t.Fatal(err)
	}
	toCalleeSDP, err := r.Update(Caller, sdpFor(caller.addr(), netip.AddrPort{}))
	if err != nil {
		t.Fatal(err)
	}
	toCaller, toCallee := relayAddrs(t, toCallerSDP)[0].rtp, relayAddrs(t, toCalleeSDP)[0].rtp
	b := rtpPacket(t, 8, 1, []byte("b"))
	callee.send(toCallee, b)
	caller.expect(b)
	a := rtpPacket(t, 8, 2, []byte("a"))
	caller.send(toCaller, a)
	callee.expect(a)
}

func TestRelayHoldAndReject(t *testing.T) {
	var w readers
	c := newCall(t, Config{Listen: w.listen})
	// The callee puts the call on hold, the RFC 2543 way, and rejects video.
	hold := []byte(sdpText(
		"v=0", "o=dev 100 2 IN IP4 127.0.0.1", "s=-", "c=IN IP4 0.0.0.0", "t=0 0",
		fmt.Sprintf("m=audio %d RTP/AVP 8 101", c.callee.addr().Port()), "a=sendonly",
		"m=video 0 RTP/AVP 96"))
	out, err := c.r.Update(Callee, hold)
	if err != nil {
		t.Fatal(err)
	}
	descs := relayAddrs(t, out)
	if !descs[0].hold || !descs[1].off {
		t.Errorf("caller was sent %+v; want audio on hold, video rejected\n%s", descs, out)
	}
	before := c.r.Stats()
	c.caller.send(c.toCaller[0].rtp, rtpPacket(t, 8, 1, nil))   // the held party is sent nothing
	c.callerV.send(c.toCaller[1].rtp, rtpPacket(t, 96, 1, nil)) // rejected stream
	c.calleeV.send(c.toCallee[1].rtp, rtpPacket(t, 96, 2, nil))
	// Three sockets, three goroutines: wait for the count.
	waitStats(t, &w, c.r, func(s Stats) bool { return s.Dropped == before.Dropped+3 })
	// The callee's music on hold still reaches the caller.
	moh := rtpPacket(t, 8, 3, []byte("moh"))
	c.callee.send(c.toCallee[0].rtp, moh)
	c.caller.expect(moh)
	if got := c.r.Stats(); got.Forwarded != before.Forwarded+1 || got.Dropped != before.Dropped+3 {
		t.Errorf("Stats went from %+v to %+v; want 1 forwarded, 3 dropped", before, got)
	}
}

// waitStats waits until cond holds of r's counts, looking again each time
// one of its socket readers (w: r's Config.Listen) is done with a
// datagram: packets on different sockets are handled by different
// goroutines, and the ones it waits for are dropped, which leaves only
// the count and the reader's return to wait on.
func waitStats(t *testing.T, w *readers, r *Relay, cond func(Stats) bool) {
	t.Helper()
	w.until(t, func() bool { return cond(r.Stats()) }, func() string { return fmt.Sprintf("Stats = %+v", r.Stats()) })
}

func TestRelayDTMF(t *testing.T) {
	type digit struct {
		Side  Side
		Digit rune
	}
	var (
		mu  sync.Mutex
		got []digit
	)
	c := newCall(t, Config{OnDigit: func(s Side, d rune, _ time.Time) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, digit{s, d})
	}})
	// The callee keys '5' then '#'; the caller (door station) receives
	// every packet, the retransmitted ends included, intact.
	for _, p := range append(keyPress(t, 1, 8000, 5), keyPress(t, 10, 9600, 11)...) {
		c.callee.send(c.toCallee[0].rtp, p)
		c.caller.expect(p)
	}
	// A stranger injecting a digit is neither relayed nor heard.
	stranger := newEndpointAt(t, strangerIP)
	for _, p := range keyPress(t, 50, 20000, 9) {
		stranger.send(c.toCallee[0].rtp, p)
	}
	after := rtpPacket(t, 8, 60, []byte("after the stranger"))
	c.callee.send(c.toCallee[0].rtp, after)
	c.caller.expect(after)
	// The caller keys 'A'; telephone-event on the video stream is not DTMF.
	for _, p := range keyPress(t, 20, 16000, 12) {
		c.caller.send(c.toCaller[0].rtp, p)
		c.callee.expect(p)
	}
	for _, p := range keyPress(t, 30, 17000, 7) {
		p[1] = p[1]&0x80 | 96
		c.callerV.send(c.toCaller[1].rtp, p)
		c.calleeV.expect(p)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []digit{{Callee, '5'}, {Callee, '#'}, {Caller, 'A'}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("digits (-want +got):\n%s", diff)
	}
}

func TestRelayPortRange(t *testing.T) {
	base := mediatest.FreeUDPRange(t, "127.0.0.1", 11)
	// base+1 … base+10 holds four even/odd pairs: base+2 … base+9.
	r := newTestRelay(t, Config{PortMin: base + 1, PortMax: base + 10})
	caller := newEndpoint(t)
	offer, err := r.Offer(sdpFor(caller.addr(), netip.AddrPort{})) // a caller pair, a callee pair
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(offer, []byte("a=rtcp")) {
		t.Errorf("RTCP on RTP+1 announced anyway:\n%s", offer)
	}
	var used []uint16
	for _, d := range relayAddrs(t, offer) {
		p := d.rtp.Port()
		if p%2 != 0 || int(p) < base+2 || int(p) > base+8 || d.rtcp.Port() != p+1 {
			t.Errorf("RTP/RTCP ports %d/%d outside %d-%d or not an even/odd pair", p, d.rtcp.Port(), base+1, base+10)
		}
		used = append(used, p, p+1)
	}
	full := newTestRelay(t, Config{PortMin: base + 1, PortMax: base + 10})
	if err := full.SetOffer(sdpFor(caller.addr(), caller.addr())); err != nil { // two more pairs
		t.Fatal(err)
	}
	third := newTestRelay(t, Config{PortMin: base + 1, PortMax: base + 10})
	if err := third.SetOffer(sdpFor(caller.addr(), netip.AddrPort{})); !errors.Is(err, ErrNoPorts) {
		t.Errorf("SetOffer with the range exhausted: %v, want ErrNoPorts", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range used {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, p)))
		if err != nil {
			t.Errorf("port %d still taken after Close: %v", p, err)
			continue
		}
		c.Close()
	}
	if _, err := r.Offer(sdpFor(caller.addr(), netip.AddrPort{})); !errors.Is(err, ErrClosed) {
		t.Errorf("Offer after Close: %v, want ErrClosed", err)
	}
}

func TestRelayIdle(t *testing.T) {
	clk := clocktest.New(time.Unix(0, 0))
	idle := 0
	c := newCall(t, Config{Clock: clk, IdleTimeout: 20 * time.Second, OnIdle: func() { idle++ }})
	clk.Advance(15 * time.Second)
	// Media flows: the call is not idle.
	for i := range 3 {
		a := rtpPacket(t, 8, uint16(i), []byte("a"))
		c.caller.send(c.toCaller[0].rtp, a)
		c.callee.expect(a)
		clk.Advance(10 * time.Second)
	}
	if idle != 0 {
		t.Fatalf("idle %d times while media flowed", idle)
	}
	// The last packet; idle is declared between 20s and 25s after it.
	a := rtpPacket(t, 8, 9, []byte("last"))
	c.caller.send(c.toCaller[0].rtp, a)
	c.callee.expect(a)
	clk.Advance(19 * time.Second)
	if idle != 0 {
		t.Fatalf("idle after 19s quiet")
	}
	clk.Advance(6 * time.Second)
	if idle != 1 {
		t.Fatalf("idle called %d times after 25s quiet, want 1", idle)
	}
	clk.Advance(time.Minute)
	if idle != 1 || clk.Pending() != 0 {
		t.Errorf("idle called %d times, %d timers pending; want once, none", idle, clk.Pending())
	}
}

func TestRelayErrors(t *testing.T) {
	if _, err := NewRelay(Config{}); err == nil {
		t.Error("NewRelay without IP succeeded")
	}
	if _, err := NewRelay(Config{IP: netip.IPv4Unspecified()}); err == nil {
		t.Error("NewRelay on 0.0.0.0 without Advertise succeeded")
	}
	if _, err := NewRelay(Config{IP: loopback, PortMin: 5001, PortMax: 5001}); err == nil {
		t.Error("NewRelay with a range without a pair succeeded")
	}
	c := newCall(t, Config{})
	if _, err := c.r.Offer([]byte("v=0\r\nbogus")); !errors.Is(err, ErrSDP) {
		t.Errorf("Offer of garbage: %v, want ErrSDP", err)
	}
	// An answer may not drop m-lines.
	if _, err := c.leg.Answer(sdpFor(c.callee.addr(), netip.AddrPort{})); !errors.Is(err, ErrSDP) {
		t.Errorf("answer with fewer m-lines: %v, want ErrSDP", err)
	}
	// The call survives both.
	a := rtpPacket(t, 8, 1, []byte("still"))
	c.caller.send(c.toCaller[0].rtp, a)
	c.callee.expect(a)
}

// BenchmarkRelay measures one direction of a relayed stream over loopback:
// packets per second through the relay, with a window of packets in
// flight, and packets per CPU-second of the whole process (relay and the
// fake endpoints' own send and receive).
func BenchmarkRelay(b *testing.B) {
	r := newTestRelay(b, Config{})
	caller, callee := newEndpoint(b), newEndpoint(b)
	if err := r.SetOffer(sdpFor(caller.addr(), netip.AddrPort{})); err != nil {
		b.Fatal(err)
	}
	leg, _, err := r.NewLeg()
	if err != nil {
		b.Fatal(err)
	}
	answer, err := leg.Answer(sdpFor(callee.addr(), netip.AddrPort{}))
	if err != nil {
		b.Fatal(err)
	}
	to := relayAddrs(b, answer)[0].rtp
	pkt := rtpPacket(b, 8, 1, bytes.Repeat([]byte{0xd5}, 160)) // 20 ms of G.711

	const window = 32
	tokens := make(chan struct{}, window)
	done := make(chan error, 1)
	n := b.N
	go func() {
		buf := make([]byte, 2048)
		for range n {
			callee.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, _, err := callee.conn.ReadFromUDPAddrPort(buf); err != nil {
				done <- err
				return
			}
			<-tokens
		}
		done <- nil
	}()
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for range n {
		tokens <- struct{}{}
		if _, err := caller.conn.WriteToUDPAddrPort(pkt, to); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatalf("after %d forwarded: %v", r.Stats().Forwarded, err)
	}
	b.StopTimer()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "pkts/s")
	if used := processCPU() - cpu; used > 0 {
		// Per core: what one core, fully busy, would relay — counting the
		// endpoints' send and receive too, so the relay alone does better.
		b.ReportMetric(float64(n)/used.Seconds(), "pkts/cpu-s")
	}
}

// A re-INVITE that adds video mid-call gets new sockets for it.
func TestRelayReofferAddsStream(t *testing.T) {
	r := newTestRelay(t, Config{})
	caller, callee, callerV, calleeV := newEndpoint(t), newEndpoint(t), newEndpoint(t), newEndpoint(t)
	offer, err := r.Offer(sdpFor(caller.addr(), netip.AddrPort{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Answer(sdpFor(callee.addr(), netip.AddrPort{})); err != nil {
		t.Fatal(err)
	}
	toCalleeAudio := relayAddrs(t, offer)[0].rtp

	reoffer, err := r.Update(Caller, sdpFor(caller.addr(), callerV.addr()))
	if err != nil {
		t.Fatal(err)
	}
	reanswer, err := r.Update(Callee, sdpFor(callee.addr(), calleeV.addr()))
	if err != nil {
		t.Fatal(err)
	}
	toCallee, toCaller := relayAddrs(t, reoffer), relayAddrs(t, reanswer)
	if len(toCallee) != 2 || len(toCaller) != 2 {
		t.Fatalf("re-offer has %d m-lines, re-answer %d; want 2", len(toCallee), len(toCaller))
	}
	if toCallee[0].rtp != toCalleeAudio {
		t.Errorf("audio moved from %v to %v on re-offer", toCalleeAudio, toCallee[0].rtp)
	}
	v := rtpPacket(t, 96, 1, []byte("frame"))
	callerV.send(toCaller[1].rtp, v)
	calleeV.expect(v)
	w := rtpPacket(t, 96, 2, []byte("frame back"))
	calleeV.send(toCallee[1].rtp, w)
	callerV.expect(w)
}

// Every leg is offered the caller's SDP rewritten for its own sockets,
// from one parse of the offer: what was rewritten for one leg (ports,
// c= lines, a=rtcp) must not leak into the next.
func TestRelayLegOffersFromOneParse(t *testing.T) {
	r := newTestRelay(t, Config{})
	caller := newEndpoint(t)
	offer := sdpFor(caller.addr(), caller.addr(), "a=rtcp:9999 IN IP4 192.0.2.1")
	if err := r.SetOffer(offer); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		leg, got, err := r.NewLeg()
		if err != nil {
			t.Fatal(err)
		}
		sd, descs, err := parseSDP(offer)
		if err != nil {
			t.Fatal(err)
		}
		want, err := rewrite(sd, loopback, portsOf(&leg.party, len(descs)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("leg %d offered\n%s\nwant\n%s", i, got, want)
		}
	}
}

// A forked leg's sockets are read only once the leg is bound: the
// branches that lose never run a reader. What a leg's party sent before
// its answer still latches its address (a device behind NAT whose first
// packets come before its 200 is processed), and is not forwarded late.
func TestRelayLegReadsWhenBound(t *testing.T) {
	r := newTestRelay(t, Config{})
	caller := newEndpoint(t)
	if err := r.SetOffer(sdpFor(caller.addr(), netip.AddrPort{}), loopback); err != nil {
		t.Fatal(err)
	}
	winner, offer, err := r.NewLeg(loopback)
	if err != nil {
		t.Fatal(err)
	}
	loser, loserOffer, err := r.NewLeg(loopback)
	if err != nil {
		t.Fatal(err)
	}
	toCallee := relayAddrs(t, offer)[0].rtp
	// The winner's SDP names one address; it sends from another of its
	// IP (its NAT's port), before its answer reaches the relay.
	calleeSDP, calleeNAT := newEndpoint(t), newEndpoint(t)
	calleeNAT.send(toCallee, rtpPacket(t, 8, 1, []byte("before the answer")))
	r.mu.Lock()
	waiting := []bool{winner.groups[0].waiting, loser.groups[0].waiting}
	r.mu.Unlock()
	if diff := cmp.Diff([]bool{true, true}, waiting); diff != "" {
		t.Errorf("legs waiting to be read before any answer (-want +got):\n%s", diff)
	}

	answer, err := winner.Answer(sdpFor(calleeSDP.addr(), netip.AddrPort{}))
	if err != nil {
		t.Fatal(err)
	}
	toCaller := relayAddrs(t, answer)[0].rtp
	r.mu.Lock()
	waiting = []bool{winner.groups[0].waiting, loser.groups[0].waiting}
	r.mu.Unlock()
	if diff := cmp.Diff([]bool{false, true}, waiting); diff != "" {
		t.Errorf("legs waiting to be read after the winner's answer (-want +got):\n%s", diff)
	}
	calleeNAT.send(toCallee, rtpPacket(t, 8, 2, []byte("callee audio")))
	caller.expect(rtpPacket(t, 8, 2, []byte("callee audio")))
	caller.send(toCaller, rtpPacket(t, 8, 3, []byte("caller audio")))
	calleeNAT.expect(rtpPacket(t, 8, 3, []byte("caller audio")))
	calleeSDP.expectNothing()

	// A loser that never had a reader is closed all the same.
	toLoser := relayAddrs(t, loserOffer)[0].rtp
	if err := loser.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(toLoser))
	if err != nil {
		t.Fatalf("port of the closed loser still taken: %v", err)
	}
	c.Close()
}
