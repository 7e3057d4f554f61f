package memnet_test

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"switchboard/runtime/media"
	"switchboard/simulate/memnet"
)

func sdpAt(ap netip.AddrPort) []byte {
	return fmt.Appendf(nil, "v=0\r\no=- 1 1 IN IP4 %[1]s\r\ns=-\r\nc=IN IP4 %[1]s\r\nt=0 0\r\n"+
		"m=audio %[2]d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n", ap.Addr(), ap.Port())
}

var audioPort = regexp.MustCompile(`m=audio (\d+) `)

// relayPort is the port of the audio m-line of an SDP the relay wrote.
func relayPort(t *testing.T, relayIP netip.Addr, sdp []byte) netip.AddrPort {
	t.Helper()
	m := audioPort.FindSubmatch(sdp)
	if m == nil {
		t.Fatalf("no audio m-line in %q", sdp)
	}
	p, _ := strconv.Atoi(string(m[1]))
	return netip.AddrPortFrom(relayIP, uint16(p))
}

func rtpPacket(pt byte, seq uint16, payload ...byte) []byte {
	b := make([]byte, 12, 12+len(payload))
	b[0], b[1] = 0x80, pt
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[8:], 0x1234)
	return append(b, payload...)
}

// queued reads the datagram c holds already, without waiting for one.
func queued(t *testing.T, c *memnet.Conn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now()) // a queued datagram is read all the same
	buf := make([]byte, 1500)
	n, _, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("nothing queued at %s: %v", c.AddrPort(), err)
	}
	return buf[:n]
}

// Over the in-memory network the relay's sockets take their datagrams in
// a handler: a packet is relayed within its sender's write, and Close
// still returns only once no digit is being reported.
func TestRelayHandlesDatagrams(t *testing.T) {
	n := memnet.New()
	relayIP := netip.MustParseAddr("192.0.2.1")
	caller, err := n.Listen(netip.MustParseAddrPort("192.0.2.2:4000"))
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	callee, err := n.Listen(netip.MustParseAddrPort("192.0.2.3:4000"))
	if err != nil {
		t.Fatal(err)
	}
	defer callee.Close()

	entered, release := make(chan rune, 1), make(chan struct{})
	var reported atomic.Bool
	r, err := media.NewRelay(media.Config{
		IP:     relayIP,
		Listen: func(ap netip.AddrPort) (media.PacketConn, error) { return n.Listen(ap) },
		OnDigit: func(_ media.Side, d rune, _ time.Time) {
			entered <- d
			<-release
			reported.Store(true)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetOffer(sdpAt(caller.AddrPort())); err != nil {
		t.Fatal(err)
	}
	leg, offer, err := r.NewLeg()
	if err != nil {
		t.Fatal(err)
	}
	answer, err := leg.Answer(sdpAt(callee.AddrPort()))
	if err != nil {
		t.Fatal(err)
	}
	toCallee, toCaller := relayPort(t, relayIP, offer), relayPort(t, relayIP, answer)

	voice := rtpPacket(0, 1, 0xff, 0xff)
	caller.WriteToUDPAddrPort(voice, toCaller)
	if got := queued(t, callee); string(got) != string(voice) {
		t.Errorf("callee got %x, want %x", got, voice)
	}
	callee.WriteToUDPAddrPort(voice, toCallee)
	if got := queued(t, caller); string(got) != string(voice) {
		t.Errorf("caller got %x, want %x", got, voice)
	}

	// The callee keys 5 (an end packet completes the digit).
	go callee.WriteToUDPAddrPort(rtpPacket(0x80|101, 2, 5, 0x80|10, 0, 160), toCallee)
	if d := <-entered; d != '5' {
		t.Errorf("digit %q, want '5'", d)
	}
	closed := make(chan bool)
	go func() {
		r.Close()
		closed <- reported.Load()
	}()
	close(release)
	if !<-closed {
		t.Error("Close returned while a digit was being reported")
	}
}
