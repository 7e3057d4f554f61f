package device

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/rtp"

	"switchboard/runtime/audio"
)

// The telephone-event payload type is read from the peer's rtpmap, as
// the server (or a carrier) numbers it; other codecs are not events.
func TestEventPayloadType(t *testing.T) {
	type got struct {
		PT uint8
		OK bool
	}
	for _, tc := range []struct {
		rtpmap string
		want   got
	}{
		{"101 telephone-event/8000", got{101, true}},
		{"96 telephone-event/8000/1", got{96, true}},
		{"0 PCMU/8000", got{0, false}},
		{"telephone-event/8000", got{0, false}},
		{"x telephone-event/8000", got{0, false}},
		{"300 telephone-event/8000", got{0, false}}, // not a 7-bit payload type
	} {
		pt, ok := eventPayloadType(tc.rtpmap)
		if diff := cmp.Diff(tc.want, got{pt, ok}); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tc.rtpmap, diff)
		}
	}
}

// SendTonePacked carries the samples SendTone would, with the timestamps
// of their first samples: 80 ms packets of a message are the same 1 s of
// voice to a recorder that follows RTP time.
func TestSendTonePacked(t *testing.T) {
	ip := netip.MustParseAddr("127.0.0.1")
	recv, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close()
	m, err := newMedia(nil, ip, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	m.mu.Lock()
	m.remote = recv.LocalAddr().(*net.UDPAddr).AddrPort()
	m.mu.Unlock()
	c := &Call{media: m}
	const freq, amp = 440, 6000
	if err := c.SendTone(freq, amp, 1); err != nil { // a frame before, as during the beep
		t.Fatal(err)
	}
	if err := c.SendTonePacked(freq, amp, 10, 4); err != nil {
		t.Fatal(err)
	}
	type packet struct {
		TS      uint32
		Samples int
	}
	var got []packet
	var payload []byte
	buf := make([]byte, 1500)
	for range 4 {
		if err := recv.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		n, err := recv.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		var p rtp.Packet
		if err := p.Unmarshal(buf[:n]); err != nil {
			t.Fatal(err)
		}
		got = append(got, packet{p.Timestamp, len(p.Payload)})
		if len(got) > 1 {
			payload = append(payload, p.Payload...)
		}
	}
	want := []packet{{160, 160}, {320, 640}, {960, 640}, {1600, 320}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("packets (-want +got):\n%s", diff)
	}
	var frames []byte
	for i := range 10 {
		frames = append(frames, toneFrame(freq, amp, (1+i)*audio.FrameSamples)...)
	}
	if diff := cmp.Diff(frames, payload); diff != "" {
		t.Errorf("payload (-want +got):\n%s", diff)
	}
	if err := c.SendTonePacked(freq, amp, 1, maxPack+1); err == nil {
		t.Error("5 frames to a packet: no error")
	}
}
