package media

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// sdpText joins lines with CRLF, as SDP is written.
func sdpText(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n" }

var relayIP = netip.MustParseAddr("203.0.113.7")

// A door station's offer: audio with telephone-event, H.264 video, session
// level c=.
var doorOffer = sdpText(
	"v=0",
	"o=door 1712 1 IN IP4 192.168.1.50",
	"s=call",
	"c=IN IP4 192.168.1.50",
	"t=0 0",
	"m=audio 5004 RTP/AVP 8 0 101",
	"a=rtpmap:8 PCMA/8000",
	"a=rtpmap:0 PCMU/8000",
	"a=rtpmap:101 telephone-event/8000",
	"a=fmtp:101 0-15",
	"a=ptime:20",
	"a=sendrecv",
	"m=video 5006 RTP/AVP 96",
	"b=AS:1024",
	"a=rtpmap:96 H264/90000",
	"a=fmtp:96 profile-level-id=42e01f;packetization-mode=1",
	"a=sendonly",
)

func TestRewriteSDP(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		ports []portPair
		ip    netip.Addr
		want  string
	}{{
		name:  "door station audio and video, session c=",
		in:    doorOffer,
		ports: []portPair{{40000, 40001}, {40002, 40003}},
		want: sdpText(
			"v=0",
			"o=door 1712 1 IN IP4 203.0.113.7",
			"s=call",
			"c=IN IP4 203.0.113.7",
			"t=0 0",
			"m=audio 40000 RTP/AVP 8 0 101",
			"a=rtpmap:8 PCMA/8000",
			"a=rtpmap:0 PCMU/8000",
			"a=rtpmap:101 telephone-event/8000",
			"a=fmtp:101 0-15",
			"a=ptime:20",
			"a=sendrecv",
			"m=video 40002 RTP/AVP 96",
			"b=AS:1024",
			"a=rtpmap:96 H264/90000",
			"a=fmtp:96 profile-level-id=42e01f;packetization-mode=1",
			"a=sendonly",
		),
	}, {
		name: "media-level c= only, IPv6 relay",
		in: sdpText(
			"v=0",
			"o=- 1 2 IN IP4 10.0.0.2",
			"s=-",
			"t=0 0",
			"m=audio 7078 RTP/AVP 0",
			"c=IN IP4 10.0.0.2",
			"a=recvonly",
		),
		ip:    netip.MustParseAddr("2001:db8::7"),
		ports: []portPair{{50000, 50001}},
		want: sdpText(
			"v=0",
			"o=- 1 2 IN IP6 2001:db8::7",
			"s=-",
			"t=0 0",
			"m=audio 50000 RTP/AVP 0",
			"c=IN IP6 2001:db8::7",
			"a=recvonly",
		),
	}, {
		name: "rejected video stays rejected",
		in: sdpText(
			"v=0",
			"o=app 5 5 IN IP4 10.0.0.3",
			"s=-",
			"c=IN IP4 10.0.0.3",
			"t=0 0",
			"m=audio 4000 RTP/AVP 0 101",
			"a=rtpmap:101 telephone-event/8000",
			"m=video 0 RTP/AVP 96",
		),
		ports: []portPair{{40010, 40011}, {0, 0}},
		want: sdpText(
			"v=0",
			"o=app 5 5 IN IP4 203.0.113.7",
			"s=-",
			"c=IN IP4 203.0.113.7",
			"t=0 0",
			"m=audio 40010 RTP/AVP 0 101",
			"a=rtpmap:101 telephone-event/8000",
			"m=video 0 RTP/AVP 96",
		),
	}, {
		name: "stream the relay does not carry gets port 0",
		in: sdpText(
			"v=0",
			"o=- 1 1 IN IP4 10.0.0.3",
			"s=-",
			"c=IN IP4 10.0.0.3",
			"t=0 0",
			"m=audio 4000 RTP/AVP 0",
			"m=application 9 TCP/BFCP *",
		),
		ports: []portPair{{40010, 40011}, {0, 0}},
		want: sdpText(
			"v=0",
			"o=- 1 1 IN IP4 203.0.113.7",
			"s=-",
			"c=IN IP4 203.0.113.7",
			"t=0 0",
			"m=audio 40010 RTP/AVP 0",
			"m=application 0 TCP/BFCP *",
		),
	}, {
		name: "a=rtcp rewritten, with and without address",
		in: sdpText(
			"v=0",
			"o=- 1 1 IN IP4 10.0.0.4",
			"s=-",
			"c=IN IP4 10.0.0.4",
			"t=0 0",
			"m=audio 4000 RTP/AVP 0",
			"a=rtcp:4005 IN IP4 10.0.0.4",
			"m=video 4010 RTP/AVP 96",
			"a=rtcp:4015",
		),
		ports: []portPair{{40020, 40021}, {40022, 40023}},
		want: sdpText(
			"v=0",
			"o=- 1 1 IN IP4 203.0.113.7",
			"s=-",
			"c=IN IP4 203.0.113.7",
			"t=0 0",
			"m=audio 40020 RTP/AVP 0",
			"a=rtcp:40021 IN IP4 203.0.113.7",
			"m=video 40022 RTP/AVP 96",
			"a=rtcp:40023",
		),
	}, {
		name: "RTCP port not RTP+1 is announced",
		in: sdpText(
			"v=0",
			"o=- 1 1 IN IP4 10.0.0.4",
			"s=-",
			"c=IN IP4 10.0.0.4",
			"t=0 0",
			"m=audio 4000 RTP/AVP 0",
			"a=sendrecv",
		),
		ports: []portPair{{41000, 38555}},
		want: sdpText(
			"v=0",
			"o=- 1 1 IN IP4 203.0.113.7",
			"s=-",
			"c=IN IP4 203.0.113.7",
			"t=0 0",
			"m=audio 41000 RTP/AVP 0",
			"a=sendrecv",
			"a=rtcp:38555",
		),
	}, {
		name: "rtcp-mux passes through",
		in: sdpText(
			"v=0",
			"o=- 1 1 IN IP4 10.0.0.4",
			"s=-",
			"c=IN IP4 10.0.0.4",
			"t=0 0",
			"m=audio 4000 RTP/AVPF 111 101",
			"a=rtpmap:111 opus/48000/2",
			"a=rtpmap:101 telephone-event/48000",
			"a=rtcp-mux",
		),
		ports: []portPair{{40030, 40031}},
		want: sdpText(
			"v=0",
			"o=- 1 1 IN IP4 203.0.113.7",
			"s=-",
			"c=IN IP4 203.0.113.7",
			"t=0 0",
			"m=audio 40030 RTP/AVPF 111 101",
			"a=rtpmap:111 opus/48000/2",
			"a=rtpmap:101 telephone-event/48000",
			"a=rtcp-mux",
		),
	}, {
		name: "hold address stays unspecified",
		in: sdpText(
			"v=0",
			"o=- 1 2 IN IP4 10.0.0.5",
			"s=-",
			"c=IN IP4 0.0.0.0",
			"t=0 0",
			"m=audio 4000 RTP/AVP 0",
			"a=sendonly",
		),
		ports: []portPair{{40040, 40041}},
		want: sdpText(
			"v=0",
			"o=- 1 2 IN IP4 203.0.113.7",
			"s=-",
			"c=IN IP4 0.0.0.0",
			"t=0 0",
			"m=audio 40040 RTP/AVP 0",
			"a=sendonly",
		),
	}, {
		name: "LF line ends, port count and multicast TTL dropped",
		in: "v=0\no=- 1 1 IN IP4 10.0.0.6\ns=-\nt=0 0\n" +
			"m=audio 4000/2 RTP/AVP 0\nc=IN IP4 224.2.1.1/127\n",
		ports: []portPair{{40050, 40051}},
		want: sdpText(
			"v=0",
			"o=- 1 1 IN IP4 203.0.113.7",
			"s=-",
			"t=0 0",
			"m=audio 40050 RTP/AVP 0",
			"c=IN IP4 203.0.113.7",
		),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sd, _, err := parseSDP([]byte(tt.in))
			if err != nil {
				t.Fatalf("parseSDP: %v", err)
			}
			ip := tt.ip
			if !ip.IsValid() {
				ip = relayIP
			}
			got, err := rewrite(sd, ip, tt.ports)
			if err != nil {
				t.Fatalf("rewrite: %v", err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseSDP(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name string
		in   string
		want []mediaDesc
	}{{
		name: "door offer",
		in:   doorOffer,
		want: []mediaDesc{
			{kind: "audio", proto: "RTP/AVP", rtpProfile: true,
				rtp: ap("192.168.1.50:5004"), rtcp: ap("192.168.1.50:5005"),
				events: pts(101), other: pts(0, 8)},
			{kind: "video", proto: "RTP/AVP", rtpProfile: true,
				rtp: ap("192.168.1.50:5006"), rtcp: ap("192.168.1.50:5007"),
				other: pts(96)},
		},
	}, {
		name: "rtcp attribute, mux, host name, SRTP, rejected",
		in: sdpText(
			"v=0",
			"o=- 1 1 IN IP4 10.0.0.4",
			"s=-",
			"c=IN IP4 10.0.0.4",
			"t=0 0",
			"m=audio 4000 RTP/AVP 0 96",
			"a=rtcp:4444 IN IP4 10.0.0.9",
			"a=rtpmap:96 Telephone-Event/16000",
			"m=audio 4010 RTP/AVP 0",
			"a=rtcp-mux",
			"m=video 4020 RTP/AVP 96",
			"c=IN IP4 cam.example.net",
			"m=audio 4030 RTP/SAVP 0",
			"m=video 0 RTP/AVP 96",
		),
		want: []mediaDesc{
			{kind: "audio", proto: "RTP/AVP", rtpProfile: true,
				rtp: ap("10.0.0.4:4000"), rtcp: ap("10.0.0.9:4444"), events: pts(96)},
			{kind: "audio", proto: "RTP/AVP", rtpProfile: true, rtcpMux: true,
				rtp: ap("10.0.0.4:4010"), rtcp: ap("10.0.0.4:4011")},
			{kind: "video", proto: "RTP/AVP", rtpProfile: true},
			{kind: "audio", proto: "RTP/SAVP", rtpProfile: true, encrypted: true,
				rtp: ap("10.0.0.4:4030"), rtcp: ap("10.0.0.4:4031")},
			{kind: "video", proto: "RTP/AVP", rtpProfile: true, off: true},
		},
	}, {
		name: "hold",
		in:   sdpText("v=0", "o=- 1 1 IN IP4 10.0.0.4", "s=-", "c=IN IP4 0.0.0.0", "t=0 0", "m=audio 4000 RTP/AVP 0"),
		want: []mediaDesc{{kind: "audio", proto: "RTP/AVP", rtpProfile: true, hold: true}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got, err := parseSDP([]byte(tt.in))
			if err != nil {
				t.Fatalf("parseSDP: %v", err)
			}
			opt := cmp.AllowUnexported(mediaDesc{})
			if diff := cmp.Diff(tt.want, got, opt, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func pts(list ...uint8) ptSet {
	var s ptSet
	for _, pt := range list {
		s.add(pt)
	}
	return s
}

func TestParseSDPErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "bad SDP"},
		{"garbage", "hello\r\n", "bad SDP"},
		{"no connection address", sdpText("v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "t=0 0", "m=audio 4000 RTP/AVP 0"),
			"m-line 1 (audio): no connection address"},
		{"bad rtcp port", sdpText("v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0", "m=audio 4000 RTP/AVP 0", "a=rtcp:99999"),
			"a=rtcp:99999: bad port"},
		{"too many m-lines", sdpText("v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0",
			strings.Repeat("m=audio 4000 RTP/AVP 0\r\n", maxStreams+1)),
			"9 m-lines; at most 8"},
		{"too large", strings.Repeat("x", maxSDPSize+1), "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseSDP([]byte(tt.in))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrSDP) {
				t.Errorf("error %q does not wrap ErrSDP", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// FuzzSDP feeds outside SDP through parsing and rewriting: errors are
// fine, panics are not, and whatever is rewritten parses again with the
// same streams, all pointing at the relay.
func FuzzSDP(f *testing.F) {
	f.Add(doorOffer)
	f.Add(sdpText("v=0", "o=- 1 1 IN IP4 10.0.0.4", "s=-", "c=IN IP4 0.0.0.0", "t=0 0", "m=audio 4000 RTP/AVP 0", "a=rtcp:4005 IN IP4 10.0.0.4", "a=rtcp-mux"))
	f.Add("v=0\no=- 1 1 IN IP4 10.0.0.6\ns=-\nt=0 0\nm=audio 4000/2 RTP/AVP 0\nc=IN IP4 224.2.1.1/127\nm=video 0 RTP/AVP 96\n")
	f.Fuzz(func(t *testing.T, in string) {
		sd, descs, err := parseSDP([]byte(in))
		if err != nil {
			return
		}
		ports := make([]portPair, len(descs))
		for i := range ports {
			ports[i] = portPair{uint16(40000 + 2*i), uint16(40001 + 2*i)}
		}
		out, err := rewrite(sd, relayIP, ports)
		if err != nil {
			t.Fatalf("rewrite of parsed SDP failed: %v", err)
		}
		_, again, err := parseSDP(out)
		if err != nil {
			t.Fatalf("rewritten SDP does not parse: %v\n%s", err, out)
		}
		if len(again) != len(descs) {
			t.Fatalf("%d m-lines became %d", len(descs), len(again))
		}
		for i, d := range again {
			if d.rtp.IsValid() && d.rtp.Addr() != relayIP {
				t.Errorf("m-line %d points at %v, not the relay", i+1, d.rtp)
			}
			if !descs[i].off && !d.off && d.rtp.IsValid() && d.rtp.Port() != ports[i].rtp {
				t.Errorf("m-line %d port %d, want %d", i+1, d.rtp.Port(), ports[i].rtp)
			}
		}
	})
}
