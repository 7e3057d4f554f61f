package sipstack

import (
	"bytes"
	"net"
	goruntime "runtime"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// registerSeeds are datagrams as REGISTER's fast path reads them: what
// phones and SIPp send, and the malformed kinds of the security review
// (cut short, a lying Content-Length, no Via or CSeq, nonsense in the
// headers the registrar reads, a forged Authorization, oversized).
var registerSeeds = []string{
	"REGISTER sip:harbour-view.example.net SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\nMax-Forwards: 70\r\nFrom: <sip:app.mary@harbour-view.example.net>;tag=456248\r\nTo: <sip:app.mary@harbour-view.example.net>\r\nCall-ID: 843817637684230@998sdasdh09\r\nCSeq: 1826 REGISTER\r\nContact: <sip:app.mary@192.0.2.10:5060>;expires=3600\r\nExpires: 7200\r\nContent-Length: 0\r\n\r\n",
	"REGISTER sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-0;rport\r\nMax-Forwards: 70\r\nFrom: <sip:app.u1@bench.example>;tag=1SIPpTag001\r\nTo: <sip:app.u1@bench.example>\r\nCall-ID: 1-1@127.0.0.1\r\nCSeq: 2 REGISTER\r\nContact: <sip:app.u1@127.0.0.1:5061>\r\nAuthorization: Digest username=\"app.u1\",realm=\"bench.example\",cnonce=\"6b8b4567\",nc=00000001,qop=auth,uri=\"sip:127.0.0.1:5060\",nonce=\"forged\",response=\"00000000000000000000000000000000\",algorithm=MD5\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n",
	"REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:6000;branch=z9hG4bKx\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:a@x>\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\nContact: *\r\nExpires: 0\r\nContent-Length: 0\r\n\r\n",
	"REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK4;rport\r\nCall-ID: n4\r\nCSeq: x REGISTER\r\nContact: <<<>>>\r\nExpires: -5\r\nContent-Length: 0\r\n\r\n",
	"REGISTER sip:x SIP/2.0\r\nContent-Length: 99999\r\n\r\nshort",
	"REGISTER sip:x SIP/2.0\r\nCall-ID: 3\r\nContent-Length: 0\r\n\r\n",
	"REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/UDP [::1:9;branch=8\r\nCSeq: 4294967296 REGISTER\r\n\r\n",
	"REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1\r\nCSeq: 1 INVITE\r\nCall-ID: m\r\n\r\n",
	"REGISTER ",
	"INVITE sip:1A@x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK1\r\n\r\n",
	"\x00\x01\x02\x03 garbage \xff\xfe\r\n\r\n",
	"\n", // dropped by the line-end check: consumed, though not a REGISTER
}

// FuzzRegister feeds datagrams to REGISTER's fast path as the UDP read loop
// does, behind its check of line ends (strict). Whatever arrives: no
// answer has a CR or LF outside a CRLF, a datagram whose header has one
// is consumed unanswered; it takes only a REGISTER sipgo would hand a
// handler (with Via and CSeq, so a transaction key), leaves everything else
// to sipgo, sends only what the handler responded, to a valid UDP address,
// and answers a retransmission with the same bytes without running the
// handler again; and no datagram makes it allocate out of proportion to
// its size.
func FuzzRegister(f *testing.F) {
	for _, s := range registerSeeds {
		f.Add([]byte(s))
	}
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	f.Fuzz(func(t *testing.T, data []byte) {
		calls := 0
		var sent *sip.Response
		r := NewRegister(func(req *sip.Request, tx sip.ServerTransaction) {
			calls++
			if req.Method != sip.REGISTER || req.Via() == nil || req.CSeq() == nil {
				t.Fatalf("handler got %s without Via or CSeq", req.Method)
			}
			if req.Source() != src.String() || req.Transport() != "UDP" {
				t.Fatalf("source %q transport %q", req.Source(), req.Transport())
			}
			sent = sip.NewResponseFromRequest(req, 200, "OK", nil)
			_ = tx.Respond(sent)
		})
		defer r.Close()
		conn := &addrRecorder{}
		var served bool
		// As ReadyConn serves it: from a read buffer of maxMessage,
		// given CRLF line ends or dropped.
		buf := make([]byte, 0, maxMessage)
		serve := func() bool {
			msg, ok := CRLF(append(buf[:0], data...))
			return !ok || r.Serve(conn, msg, src)
		}
		if n := allocated(func() { served = serve() }); n > allocBound(len(data)) {
			t.Fatalf("a %d-byte datagram allocated %d bytes", len(data), n)
		}
		for _, a := range conn.sent {
			if i := bareLineEnd(a); i >= 0 {
				t.Fatalf("an answer has a CR or LF outside a CRLF at %d: %q", i, a)
			}
		}
		// A dropped datagram counts as served (consumed), whatever it is.
		if _, _, ok := headerLineEnds(data); !ok || len(data) > maxMessage {
			if !served || calls != 0 || len(conn.sent) != 0 {
				t.Fatalf("a datagram with a lone CR in its header: served %v, handled %d times, %d answers", served, calls, len(conn.sent))
			}
			return
		}
		if served && !bytes.HasPrefix(data, registerPrefix) {
			t.Fatalf("served a datagram that is not a REGISTER: %q", data)
		}
		if served != (calls == 1) || calls > 1 {
			t.Fatalf("served %v, handler ran %d times", served, calls)
		}
		if !served {
			if len(conn.sent) != 0 {
				t.Fatalf("sent %d datagrams for a request left to sipgo", len(conn.sent))
			}
			return
		}
		if len(conn.sent) > 1 {
			t.Fatalf("sent %d datagrams for one response", len(conn.sent))
		}
		if len(conn.sent) == 0 {
			// Respond refused it: too big for UDP (an attacker's huge
			// headers echoed back); nothing is remembered either.
			if len(sent.String()) <= sip.UDPMTUSize-200 {
				t.Fatalf("a %d-byte response was not sent", len(sent.String()))
			}
			return
		}
		for _, a := range conn.to {
			u, ok := a.(*net.UDPAddr)
			if !ok || u.Port <= 0 || u.Port > 65535 || !u.IP.Equal(src.IP) {
				t.Fatalf("response sent to %v, not to the source's address", a)
			}
		}
		// The response echoes the request's headers as sipgo read them,
		// which need not parse again (sipgo takes any SIP version and
		// Via protocol); it is the handler's, whole.
		if want := sent.String(); string(conn.sent[0]) != want {
			t.Fatalf("sent %q, want the handler's %q", conn.sent[0], want)
		}
		// The retransmission: the same bytes again, the handler not run.
		if !serve() || calls != 1 {
			t.Fatalf("retransmission: handler ran %d times", calls)
		}
		if len(conn.sent) != 2 || !bytes.Equal(conn.sent[0], conn.sent[1]) {
			t.Fatalf("retransmission answered with %q, want %q", conn.sent[1:], conn.sent[0])
		}
	})
}

// addrRecorder is a PacketConn that keeps what is written to it and where.
type addrRecorder struct {
	net.PacketConn
	sent [][]byte
	to   []net.Addr
}

func (r *addrRecorder) WriteTo(b []byte, a net.Addr) (int, error) {
	r.sent = append(r.sent, append([]byte(nil), b...))
	r.to = append(r.to, a)
	return len(b), nil
}

func (r *addrRecorder) LocalAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060}
}

// allocated runs f and returns the bytes it allocated (the whole
// process's, so the caller runs nothing else meanwhile).
func allocated(f func()) uint64 {
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	f()
	goruntime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// allocBound is what handling an input of n bytes may allocate: a fixed
// allowance and a small multiple of the input, so that no input makes the
// server allocate out of proportion to what it was sent.
func allocBound(n int) uint64 { return 1<<18 + 64*uint64(n) }

// bareLineEnd is where b has a CR or LF that is not part of a CRLF, -1
// when it has none: what no answer may carry. Byte by byte, unlike
// BareLineEnd, and over the whole of b, body included.
func bareLineEnd(b []byte) int {
	for i, c := range b {
		switch {
		case c == '\r' && (i+1 == len(b) || b[i+1] != '\n'):
			return i
		case c == '\n' && (i == 0 || b[i-1] != '\r'):
			return i
		}
	}
	return -1
}
