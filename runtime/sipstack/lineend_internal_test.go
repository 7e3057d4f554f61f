package sipstack

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"
)

func TestBareLineEnd(t *testing.T) {
	for _, tt := range []struct {
		name string
		data string
		want bool
	}{
		{"a clean INVITE with a body", string(invite(doorLines...)), false},
		{"a LF without CR in a value", "INVITE sip:a SIP/2.0\r\nCall-ID: 1\nX: 1\r\n\r\n", true},
		{"a CR without LF in a value", "INVITE sip:a SIP/2.0\r\nCall-ID: 1\rX: 1\r\n\r\n", true},
		{"a LF ending the request line", "INVITE sip:a SIP/2.0\nCall-ID: 1\r\n\r\n", true},
		{"a LF first", "\nINVITE sip:a SIP/2.0\r\n\r\n", true},
		{"LF LF ending the header", "INVITE sip:a SIP/2.0\r\nCall-ID: 1\n\n", true},
		{"a CR last, no end", "INVITE sip:a SIP/2.0\r\nCall-ID: 1\r", true},
		{"cut short, clean", "INVITE sip:a SIP/2.0\r\nCall-ID: 1", false},
		{"CR CR LF", "INVITE sip:a SIP/2.0\r\r\n\r\n", true},
		{"bare LF and CR in the body", "INVITE sip:a SIP/2.0\r\nContent-Length: 4\r\n\r\n\n\r\ra", false},
		{"keep-alives before a clean message", "\r\n\r\nOPTIONS sip:a SIP/2.0\r\n\r\n", false},
		{"keep-alives before a LF", "\r\n\r\nOPTIONS sip:a SIP/2.0\r\nX: 1\nY: 2\r\n\r\n", true},
		{"a keep-alive", "\r\n\r\n", false},
		{"empty", "", false},
	} {
		if got := BareLineEnd([]byte(tt.data)); got != tt.want {
			t.Errorf("%s: BareLineEnd(%q) = %v, want %v", tt.name, tt.data, got, tt.want)
		}
	}
}

// ReadyConn hands neither serve nor sipgo a datagram whose header has a
// CR or LF outside a CRLF: the next clean one is what ReadFrom returns.
func TestReadyConnDropsBareLineEnd(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var closing atomic.Bool
	var served []string
	rc := NewReadyConn(pc, &closing, func(_ net.PacketConn, data []byte, _ net.Addr) bool {
		served = append(served, string(data))
		return false
	})
	peer, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	clean := string(invite(doorLines...))
	for _, m := range [][]byte{
		invite(replace(doorLines, 4, "Call-ID: 1\nX-Injected: 1")...),
		invite(replace(doorLines, 2, "From: <sip:device.door@bench.example>;tag=1\rX-Injected: 1")...),
		[]byte(clean),
	} {
		if _, err := peer.WriteTo(m, pc.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	if err := pc.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 65535)
	n, _, err := rc.ReadFrom(b)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(clean, string(b[:n])); d != "" {
		t.Errorf("ReadFrom (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{clean}, served); d != "" {
		t.Errorf("serve saw (-want +got):\n%s", d)
	}
}

// chunkConn is a net.Conn whose reads return chunks, one a read, then EOF.
type chunkConn struct {
	net.Conn
	chunks [][]byte
	closed bool
}

func (c *chunkConn) Read(b []byte) (int, error) {
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(b, c.chunks[0])
	if c.chunks[0] = c.chunks[0][n:]; len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	return n, nil
}

func (c *chunkConn) Close() error { c.closed = true; return nil }

func (c *chunkConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 5060}
}

// readAll reads c as sipgo does, to its first error: what it was handed
// and whether the connection was refused.
func readAll(c net.Conn) (got []byte, refused bool) {
	b := make([]byte, 65535) // as sipgo reads: a read is a chunk
	for {
		n, err := c.Read(b)
		got = append(got, b[:n]...)
		if err != nil {
			return got, errors.Is(err, errBareLineEnd)
		}
	}
}

// A stream is handed on as it comes until a message header with a CR or
// LF outside a CRLF: the connection is then closed, and the read that
// ends that header is not handed on (sipgo never has the header whole).
// Bodies are skipped by their Content-Length, whatever they hold.
func TestStrictConn(t *testing.T) {
	clean := "OPTIONS sip:a SIP/2.0\r\nCall-ID: 1\r\nContent-Length: 0\r\n\r\n"
	body := "MESSAGE sip:a SIP/2.0\r\nCall-ID: 2\r\nl: 10\r\n\r\n\nX: 1\r\r\n\r\n"
	for _, tt := range []struct {
		name    string
		chunks  []string
		refused bool
		handed  string // what sipgo reads
	}{
		{"clean", []string{clean, "\r\n\r\n", clean}, false, clean + "\r\n\r\n" + clean},
		{"a body with bare LF and CR", []string{body, clean}, false, body + clean},
		{"a LF in the second header", []string{clean, "OPTIONS sip:a SIP/2.0\r\nCall-ID: 3\nX: 1\r\nContent-Length: 0\r\n\r\n"}, true, clean},
		{"a LF, the header ended a read later", []string{"OPTIONS sip:a SIP/2.0\r\nCall-ID: 3\nX: 1\r\n", "Content-Length: 0\r\n\r\n"}, true, "OPTIONS sip:a SIP/2.0\r\nCall-ID: 3\nX: 1\r\n"},
		{"a CR split from its line", []string{"OPTIONS sip:a SIP/2.0\r\nCall-ID: 3\r", "X: 1\r\nContent-Length: 0\r\n\r\n"}, true, "OPTIONS sip:a SIP/2.0\r\nCall-ID: 3\r"},
		{"CRLF CRLF split over reads", []string{"OPTIONS sip:a SIP/2.0\r\nCall-ID: 3\nX: 1\r\nContent-Length: 0\r", "\n\r", "\n"}, true, "OPTIONS sip:a SIP/2.0\r\nCall-ID: 3\nX: 1\r\nContent-Length: 0\r\n\r"},
		{"a keep-alive split over reads", []string{"\r", "\n\r\n", clean}, false, "\r\n\r\n" + clean},
		{"no Content-Length", []string{"OPTIONS sip:a SIP/2.0\r\nCall-ID: 1\r\n\r\n"}, true, ""},
		{"a Content-Length sipgo refuses", []string{"OPTIONS sip:a SIP/2.0\r\nContent-Length: -1\r\n\r\n"}, true, ""},
		{"the last Content-Length counts", []string{"MESSAGE sip:a SIP/2.0\r\nContent-Length: 0\r\nContent-Length: 3\r\n\r\na\nb", clean}, false, "MESSAGE sip:a SIP/2.0\r\nContent-Length: 0\r\nContent-Length: 3\r\n\r\na\nb" + clean},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cc := &chunkConn{}
			for _, c := range tt.chunks {
				cc.chunks = append(cc.chunks, []byte(c))
			}
			got, refused := readAll(&strictConn{Conn: cc})
			type result struct {
				Refused, Closed bool
				Handed          string
			}
			want := result{tt.refused, tt.refused, tt.handed}
			if d := cmp.Diff(want, result{refused, cc.closed, string(got)}); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// FuzzStrictConn feeds a stream, cut into two reads at any point, through
// strictConn, and what it hands on to sipgo's stream parser: no message
// sipgo makes of it has a CR or LF outside a CRLF in its header, which
// every answer would echo.
func FuzzStrictConn(f *testing.F) {
	f.Add([]byte("OPTIONS sip:a SIP/2.0\r\nCall-ID: 1\r\nContent-Length: 0\r\n\r\n"), 10)
	f.Add([]byte("OPTIONS sip:a SIP/2.0\r\nCall-ID: 1\nX: 1\r\nContent-Length: 0\r\n\r\n"), 30)
	f.Add([]byte("MESSAGE sip:a SIP/2.0\r\nl: 3\r\n\r\na\nbOPTIONS sip:a SIP/2.0\r\nCall-ID: 1\rX: 1\r\nl: 0\r\n\r\n"), 40)
	f.Add([]byte("\r\n\r\nINVITE sip:a SIP/2.0\r\nVia: SIP/2.0/TCP 1.2.3.4;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n"), 1)
	f.Fuzz(func(t *testing.T, data []byte, cut int) {
		if len(data) > 4096 {
			return
		}
		cut = min(max(cut, 0), len(data))
		cc := &chunkConn{chunks: [][]byte{data[:cut], data[cut:]}}
		handed, _ := readAll(&strictConn{Conn: cc})
		// The same stream as StrictReads' filter has it from sipgo's
		// reads of a connection it dialled.
		f := &readFilter{streams: map[weak.Pointer[net.TCPAddr]]*streamCheck{}}
		props := sip.TransportReadProps{Transport: "TCP", RemoteAddr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 5060}}
		var filtered []byte
		for _, p := range [][]byte{data[:cut], data[cut:]} {
			if len(p) == 0 {
				continue
			}
			out, err := f.filter(props, p)
			if err != nil {
				break
			}
			filtered = append(filtered, out...)
		}
		for _, in := range [][]byte{handed, filtered} {
			ps := sip.NewParser().NewSIPStream()
			_ = ps.ParseSIPStream(in, func(m sip.Message) {
				if i := bareLineEnd([]byte(m.String())); i >= 0 && i < headerEnd(m.String()) {
					t.Fatalf("sipgo made a message with a CR or LF outside a CRLF at %d: %q", i, m.String())
				}
			})
		}
	})
}

// headerEnd is where s's header ends.
func headerEnd(s string) int {
	if i := bytes.Index([]byte(s), []byte("\r\n\r\n")); i >= 0 {
		return i
	}
	return len(s)
}

// BenchmarkBareLineEnd measures the check every datagram pays, on an
// INVITE of a door (its header some 250 bytes, an SDP body after it not
// read) and on a REGISTER of a desk phone; bytes.Index for the header's
// end, one pass of the kind the check replaces, for scale.
func BenchmarkBareLineEnd(b *testing.B) {
	for _, in := range []struct {
		name string
		data []byte
	}{
		{"INVITE", invite(doorLines...)},
		{"REGISTER", register(phoneLines...)},
	} {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			for b.Loop() {
				if BareLineEnd(in.data) {
					b.Fatal("refused")
				}
			}
		})
		b.Run(in.name+"/IndexHeaderEnd", func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			for b.Loop() {
				if !bytes.Contains(in.data, []byte("\r\n\r\n")) { // one Index pass, as BareLineEnd makes
					b.Fatal("no end")
				}
			}
		})
	}
}
