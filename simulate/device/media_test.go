package device

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"

	"switchboard/runtime/audio"
	rtmedia "switchboard/runtime/media"
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

// parseSDP reads what pion's parser reads of the fields a device uses,
// and refuses what pion refuses among the malformed lines it looks at.
func TestParseSDP(t *testing.T) {
	door := &media{ssrc: 42, audioAt: 0}
	door.conn, _ = rtmedia.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	defer door.conn.Close()
	door.listen, door.ip = rtmedia.ListenUDP, netip.MustParseAddr("127.0.0.1")
	if err := door.offerVideo(); err != nil {
		t.Fatal(err)
	}
	defer door.video.conn.Close()
	type mline struct {
		Media, Conn           string
		Port                  int
		Protos, Formats, Attr []string
	}
	type view struct {
		Conn  string
		Attr  []string
		Media []mline
	}
	project := func(s *sdp.SessionDescription) view {
		addr := func(c *sdp.ConnectionInformation) string {
			if c == nil || c.Address == nil {
				return ""
			}
			return c.NetworkType + " " + c.AddressType + " " + c.Address.Address
		}
		attrs := func(as []sdp.Attribute) (out []string) {
			for _, a := range as {
				out = append(out, a.Key+"="+a.Value)
			}
			return out
		}
		v := view{Conn: addr(s.ConnectionInformation), Attr: attrs(s.Attributes)}
		for _, md := range s.MediaDescriptions {
			v.Media = append(v.Media, mline{md.MediaName.Media, addr(md.ConnectionInformation), md.MediaName.Port.Value,
				md.MediaName.Protos, md.MediaName.Formats, attrs(md.Attributes)})
		}
		return v
	}
	for name, body := range map[string]string{
		"a door's offer with video": string(door.sdp(door.ip)),
		"media-level connection, rtcp": "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
			"m=audio 4000 RTP/AVP 8 101\r\nc=IN IP4 192.0.2.7\r\na=rtpmap:8 PCMA/8000\r\na=rtcp:4001 IN IP4 192.0.2.7\r\na=sendrecv\r\n" +
			"m=video 0 RTP/AVP 96\r\nc=IN IP4 192.0.2.7\r\na=inactive\r\n",
		"bare newlines": "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.9\nt=0 0\nm=audio 5004 RTP/AVP 0\na=ptime:20\n",
	} {
		var want sdp.SessionDescription
		if err := want.Unmarshal([]byte(body)); err != nil {
			t.Fatalf("%s: pion: %v", name, err)
		}
		got, err := parseSDP([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(project(&want), project(got)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	for name, body := range map[string]string{
		"no version":        "o=- 1 1 IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\n",
		"short media line":  "v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP\r\n",
		"port not a number": "v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio x RTP/AVP 0\r\n",
		"short connection":  "v=0\r\nc=IN IP4\r\nm=audio 4000 RTP/AVP 0\r\n",
	} {
		var p sdp.SessionDescription
		if p.Unmarshal([]byte(body)) == nil {
			t.Errorf("%s: pion takes it; the case is not malformed", name)
		}
		if _, err := parseSDP([]byte(body)); err == nil {
			t.Errorf("%s: parsed, want an error", name)
		}
	}
}

// hangUpOnDigit is a media socket whose far end hangs up as soon as it
// has a digit: when the first end packet of an RFC 4733 event leaves, it
// runs hangUp, as the device's BYE handler closing the call's media.
type hangUpOnDigit struct {
	rtmedia.PacketConn
	hangUp func()
	sent   int // event packets written
}

func (c *hangUpOnDigit) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	n, err := c.PacketConn.WriteToUDPAddrPort(b, addr)
	var p rtp.Packet
	if err == nil && p.Unmarshal(b) == nil && p.PayloadType == ptEvent {
		c.sent++
		if len(p.Payload) > 1 && p.Payload[1]&0x80 != 0 && c.hangUp != nil {
			hangUp := c.hangUp
			c.hangUp = nil
			hangUp()
		}
	}
	return n, err
}

// A far end that hangs up on the digit it waited for (a ring test's
// confirmation) closes the call while the device still repeats the
// digit's end packet (RFC 4733 §2.5.1.4): the key press went out, so
// SendDTMF reports no error. A key pressed on a call already over does.
func TestSendDTMFFarEndHangsUpOnDigit(t *testing.T) {
	ip := netip.MustParseAddr("127.0.0.1")
	recv, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close()
	var conn *hangUpOnDigit
	listen := func(laddr netip.AddrPort) (rtmedia.PacketConn, error) {
		c, err := rtmedia.ListenUDP(laddr)
		if err != nil {
			return nil, err
		}
		conn = &hangUpOnDigit{PacketConn: c}
		return conn, nil
	}
	m, err := newMedia(listen, ip, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	m.mu.Lock()
	m.remote = recv.LocalAddr().(*net.UDPAddr).AddrPort()
	m.mu.Unlock()
	conn.hangUp = m.close
	c := &Call{media: m}
	if err := c.SendDTMF("5"); err != nil {
		t.Errorf("SendDTMF with the far end hanging up on the digit: %v", err)
	}
	if conn.sent != 2 {
		t.Errorf("%d event packets sent, want 2 (the start and the first end)", conn.sent)
	}
	if err := c.SendDTMF("6"); err == nil {
		t.Error("SendDTMF on a call already over: no error")
	}
}
