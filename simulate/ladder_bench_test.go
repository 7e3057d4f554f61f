package simulate

import (
	"net"
	"strings"
	"testing"
)

// BenchmarkLadderRecord is what recording costs each SIP message the
// server sends or receives: a door's INVITE with its video offer, the
// suite's most common large message, recorded as a case's messages are
// (the ladder reset every 25 of them, as cases are about that long).
func BenchmarkLadderRecord(b *testing.B) {
	msg := []byte(strings.ReplaceAll(`INVITE sip:app.u1@127.255.0.1:32768 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK.Mbg4XhyWaFvpNUVZ
Call-ID: ab10cad2-bb53-4954-99e8-a0a851337515
CSeq: 16678 INVITE
From: "Entrance 1, keypad" <sip:device.door-1@tower.example.net>;tag=pfwbAiGjoIvEfOfh
To: <sip:app.u1@tower.example.net>
Contact: <sip:192.0.2.1:5060>
Max-Forwards: 69
Content-Type: application/sdp
Content-Length: 710

v=0
o=- 3712178314 1 IN IP4 192.0.2.1
s=switchboard-sim
c=IN IP4 192.0.2.1
t=0 0
m=audio 32775 RTP/AVP 0 8 101
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=sendrecv
a=ptime:20
m=video 32777 RTP/AVP 96 97
a=rtpmap:96 H264/90000
a=fmtp:96 profile-level-id=42e01f;packetization-mode=0;max-br=2048;max-mbps=108000;sprop-parameter-sets=Z0LAH9oBQBbsBEAAAAMAQAAADyPGDKg=,aM4G4g==
a=rtcp-fb:96 nack pli
a=rtcp-fb:96 ccm fir
a=rtpmap:97 H264/90000
a=fmtp:97 profile-level-id=42801f;packetization-mode=1;max-br=2048;max-mbps=108000;sprop-parameter-sets=Z0LAH9oBQBbsBEAAAAMAQAAADyPGDKg=,aM4G4g==
a=rtcp-fb:97 nack pli
a=rtcp-fb:97 ccm fir
a=sendrecv
`, "\n", "\r\n"))
	l := &ladder{names: map[string]string{}}
	peer := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 32768}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%25 == 0 {
			l.reset()
		}
		i++
		l.record(dirIn, peer, msg)
	}
}
