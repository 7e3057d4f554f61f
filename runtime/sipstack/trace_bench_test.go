package sipstack

import (
	"fmt"
	"net"
	"testing"
)

// loopConn is a PacketConn that reads its datagrams in turn, for ever,
// and drops what is written: the socket without the kernel.
type loopConn struct {
	net.PacketConn
	in []byte
}

func (c *loopConn) ReadFrom(b []byte) (int, net.Addr, error) {
	return copy(b, c.in), gateAddr, nil
}

func (c *loopConn) WriteTo(b []byte, _ net.Addr) (int, error) { return len(b), nil }

// What the trace costs a message at the socket, with no trace ("off")
// and with one ("on"): a REGISTER and its 200, which no call traces (most
// of a server's traffic), and a whole call of ten messages with its
// caller and one forked leg.
func BenchmarkTrace(b *testing.B) {
	reg := msg("REGISTER sip:site.example SIP/2.0", "reg-1", "5 REGISTER", "app.sarah", "app.sarah", "", "Authorization: Digest username=\"app.sarah\"\r\n", "")
	ok := msg("SIP/2.0 200 OK", "reg-1", "5 REGISTER", "app.sarah", "app.sarah", "t", "Contact: <sip:app.sarah@127.0.0.1:5070>;expires=300\r\n", "")
	const sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\n"
	for _, on := range []bool{false, true} {
		name := "off"
		var tr *Trace
		if on {
			name, tr = "on", NewTrace()
		}
		b.Run("register/"+name, func(b *testing.B) {
			pc := TracePacketConn(&loopConn{in: reg}, tr)
			buf := make([]byte, 2048)
			b.ReportAllocs()
			for b.Loop() {
				pc.ReadFrom(buf)
				pc.WriteTo(ok, gateAddr)
			}
		})
		b.Run("call/"+name, func(b *testing.B) {
			lc := &loopConn{}
			pc := TracePacketConn(lc, tr)
			buf := make([]byte, 2048)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				id, leg := fmt.Sprint("call-", i), fmt.Sprint("leg-", i)
				lc.in = msg("INVITE sip:1@site.example SIP/2.0", id, "1 INVITE", "device.gate", "1", "", "", sdp)
				pc.ReadFrom(buf)
				tr.Begin(id, "device.gate")
				pc.WriteTo(msg("SIP/2.0 100 Trying", id, "1 INVITE", "device.gate", "1", "", "", ""), gateAddr)
				tr.Leg(id, leg, "app.sarah")
				pc.WriteTo(msg("INVITE sip:app.sarah@127.0.0.1:5070 SIP/2.0", leg, "1 INVITE", "device.gate", "app.sarah", "", "", sdp), sarahAddr)
				for _, m := range [][]byte{
					msg("SIP/2.0 180 Ringing", leg, "1 INVITE", "device.gate", "app.sarah", "t", "", ""),
					msg("SIP/2.0 200 OK", leg, "1 INVITE", "device.gate", "app.sarah", "t", "", sdp),
				} {
					lc.in = m
					pc.ReadFrom(buf)
				}
				pc.WriteTo(msg("ACK sip:app.sarah@127.0.0.1:5070 SIP/2.0", leg, "1 ACK", "device.gate", "app.sarah", "t", "", ""), sarahAddr)
				pc.WriteTo(msg("SIP/2.0 200 OK", id, "1 INVITE", "device.gate", "1", "b", "", sdp), gateAddr)
				lc.in = msg("ACK sip:1@site.example SIP/2.0", id, "1 ACK", "device.gate", "1", "b", "", "")
				pc.ReadFrom(buf)
				lc.in = msg("BYE sip:1@site.example SIP/2.0", id, "2 BYE", "device.gate", "1", "b", "", "")
				pc.ReadFrom(buf)
				pc.WriteTo(msg("SIP/2.0 200 OK", id, "2 BYE", "device.gate", "1", "b", "", ""), gateAddr)
				tr.End(id)
			}
		})
	}
}
