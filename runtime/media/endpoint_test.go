package media

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"

	"switchboard/runtime/audio"
	"switchboard/runtime/clock/clocktest"
)

// caller is the far end of an endpoint test: a real UDP socket.
type caller struct {
	t    *testing.T
	conn *net.UDPConn
}

func newCaller(t *testing.T) *caller {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &caller{t: t, conn: c}
}

func (c *caller) port() int { return c.conn.LocalAddr().(*net.UDPAddr).Port }

func (c *caller) offer(formats string, rtpmaps ...string) []byte {
	s := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio " + strconv.Itoa(c.port()) + " RTP/AVP " + formats + "\r\n"
	for _, m := range rtpmaps {
		s += "a=rtpmap:" + m + "\r\n"
	}
	s += "m=video 9000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
	return []byte(s)
}

func (c *caller) read() *rtp.Packet {
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	n, err := c.conn.Read(buf)
	if err != nil {
		c.t.Fatalf("no packet from the endpoint: %v", err)
	}
	var p rtp.Packet
	if err := p.Unmarshal(buf[:n]); err != nil {
		c.t.Fatal(err)
	}
	return &p
}

func answered(t *testing.T, offer []byte, clk *clocktest.Fake) (*Endpoint, string) {
	t.Helper()
	cfg := Config{IP: netip.MustParseAddr("127.0.0.1")}
	if clk != nil {
		cfg.Clock = clk
	}
	e := NewEndpoint(cfg)
	t.Cleanup(func() { e.Close() })
	ans, err := e.Answer(offer)
	if err != nil {
		t.Fatal(err)
	}
	return e, string(ans)
}

func TestEndpointAnswer(t *testing.T) {
	c := newCaller(t)
	tests := []struct {
		name    string
		offer   []byte
		codec   audio.Codec
		wantSDP []string
	}{
		{"pcmu with events", c.offer("0 8 101", "0 PCMU/8000", "8 PCMA/8000", "101 telephone-event/8000"), audio.PCMU,
			[]string{"RTP/AVP 0 101\r\n", "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16", "m=video 0 RTP/AVP 96"}},
		{"pcma first", c.offer("8 0 96", "96 telephone-event/8000"), audio.PCMA,
			[]string{"RTP/AVP 8 96\r\n", "a=rtpmap:8 PCMA/8000", "a=rtpmap:96 telephone-event/8000"}},
		{"no events", c.offer("18 0", "18 G729/8000"), audio.PCMU,
			[]string{"RTP/AVP 0\r\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ans := answered(t, tt.offer, nil)
			if e.Codec() != tt.codec {
				t.Errorf("codec %v, want %v", e.Codec(), tt.codec)
			}
			for _, w := range tt.wantSDP {
				if !strings.Contains(ans, w) {
					t.Errorf("answer lacks %q:\n%s", w, ans)
				}
			}
			if got := strings.Count(ans, "m="); got != 2 {
				t.Errorf("answer has %d m-lines, want the offer's 2", got)
			}
		})
	}
	if _, err := NewEndpoint(Config{IP: netip.MustParseAddr("127.0.0.1")}).Answer(c.offer("18", "18 G729/8000")); err == nil {
		t.Error("an offer without G.711 was answered")
	}
}

// The endpoint decodes the caller's audio, reports its digits and plays
// back paced by the clock, to where the caller's packets come from.
func TestEndpointMedia(t *testing.T) {
	c := newCaller(t)
	clk := clocktest.New(time.Unix(0, 0))
	e, ans := answered(t, c.offer("0 101", "101 telephone-event/8000"), clk)
	port := 0
	for _, l := range strings.Split(ans, "\r\n") {
		if strings.HasPrefix(l, "m=audio ") {
			port, _ = strconv.Atoi(strings.Fields(l)[1])
		}
	}
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	tone := audio.Tone(make([]int16, audio.FrameSamples), 1000, 8000, 0)
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 7, Timestamp: 160, SSRC: 1}, Payload: audio.PCMU.Encode(nil, tone)}
	b, _ := pkt.Marshal()
	c.conn.WriteTo(b, dst)
	select {
	case f := <-e.Frames():
		if f.Seq != 7 || len(f.Samples) != audio.FrameSamples || audio.ToneLevel(f.Samples, 1000) < 7000 {
			t.Errorf("frame seq %d, %d samples, 1 kHz level %.0f", f.Seq, len(f.Samples), audio.ToneLevel(f.Samples, 1000))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no frame")
	}
	c.conn.WriteTo(eventPacket(t, 8, 320, true, 11, false, 160), dst)
	c.conn.WriteTo(eventPacket(t, 9, 320, false, 11, true, 800), dst)
	select {
	case d := <-e.Digits():
		if d != '#' {
			t.Errorf("digit %q, want #", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no digit")
	}

	done := make(chan error, 1)
	go func() { done <- e.Play(context.Background(), make([]int16, 3*audio.FrameSamples-10)) }()
	var seq uint16
	for i := range 3 {
		p := c.read()
		if i > 0 && p.SequenceNumber != seq+1 {
			t.Errorf("packet %d: seq %d after %d", i, p.SequenceNumber, seq)
		}
		seq = p.SequenceNumber
		if len(p.Payload) != audio.FrameSamples || p.PayloadType != 0 {
			t.Errorf("packet %d: pt %d, %d bytes", i, p.PayloadType, len(p.Payload))
		}
		waitPending(t, clk)
		clk.Advance(20 * time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	e.Close()
	if err := e.Play(context.Background(), make([]int16, 10)); err == nil {
		t.Error("Play after Close succeeded")
	}
}

func waitPending(t *testing.T, clk *clocktest.Fake) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := clk.WaitPending(ctx, 1); err != nil {
		t.Fatal("Play never waited on the clock")
	}
}

// A call the server places (a ring test): the endpoint offers G.711 and
// telephone-event; a digit the callee keys as soon as it answers, before
// its answer is read, is heard; Accept takes the codec the answer chose,
// and the audio played goes where the answer says.
func TestEndpointOffer(t *testing.T) {
	c := newCaller(t)
	e := NewEndpoint(Config{IP: netip.MustParseAddr("127.0.0.1")})
	defer e.Close()
	offer, err := e.Offer(netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"RTP/AVP 0 8 101\r\n", "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16"} {
		if !strings.Contains(string(offer), w) {
			t.Errorf("offer lacks %q:\n%s", w, offer)
		}
	}
	port := 0
	for _, l := range strings.Split(string(offer), "\r\n") {
		if strings.HasPrefix(l, "m=audio ") {
			port, _ = strconv.Atoi(strings.Fields(l)[1])
		}
	}
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
	c.conn.WriteTo(eventPacket(t, 8, 320, true, 1, false, 160), dst)
	c.conn.WriteTo(eventPacket(t, 9, 320, false, 1, true, 800), dst)
	select {
	case d := <-e.Digits():
		if d != '1' {
			t.Errorf("digit %q, want 1", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no digit before the answer was read")
	}
	if err := e.Accept(c.offer("8 101", "8 PCMA/8000", "101 telephone-event/8000")); err != nil {
		t.Fatal(err)
	}
	if e.Codec() != audio.PCMA {
		t.Errorf("codec %v, want PCMA", e.Codec())
	}
	if err := e.Send(make([]int16, audio.FrameSamples)); err != nil {
		t.Fatal(err)
	}
	if p := c.read(); p.PayloadType != 8 {
		t.Errorf("payload type %d, want 8", p.PayloadType)
	}
	if err := e.Accept(c.offer("18", "18 G729/8000")); err == nil {
		t.Error("an answer without G.711 was accepted")
	}
}
