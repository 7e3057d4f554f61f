package sipstack

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
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
// lone CR: the next one is what ReadFrom returns. A datagram whose lines
// end at a lone LF is handed on with a CR before each, its body as sent.
func TestReadyConnLineEnds(t *testing.T) {
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
	head, body, _ := strings.Cut(clean, "\r\n\r\n")
	lf := strings.ReplaceAll(head, "\r\n", "\n") + "\n\n" + body
	for _, m := range [][]byte{
		invite(replace(doorLines, 2, "From: <sip:device.door@bench.example>;tag=1\rX-Injected: 1")...),
		[]byte(lf),
		[]byte(clean),
	} {
		if _, err := peer.WriteTo(m, pc.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	if err := pc.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var read []string
	b := make([]byte, 65535)
	for range 2 {
		n, _, err := rc.ReadFrom(b)
		if err != nil {
			t.Fatal(err)
		}
		read = append(read, string(b[:n]))
	}
	if d := cmp.Diff([]string{clean, clean}, read); d != "" {
		t.Errorf("ReadFrom (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{clean, clean}, served); d != "" {
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

func TestCRLF(t *testing.T) {
	for _, tt := range []struct {
		name, data, want string
		ok               bool
	}{
		{"clean", "OPTIONS sip:a SIP/2.0\r\nX: 1\r\n\r\n", "OPTIONS sip:a SIP/2.0\r\nX: 1\r\n\r\n", true},
		{"every line at LF", "OPTIONS sip:a SIP/2.0\nX: 1\n\n", "OPTIONS sip:a SIP/2.0\r\nX: 1\r\n\r\n", true},
		{"a LF in a value", "OPTIONS sip:a SIP/2.0\r\nCall-ID: 1\nX: 1\r\n\r\n", "OPTIONS sip:a SIP/2.0\r\nCall-ID: 1\r\nX: 1\r\n\r\n", true},
		{"LF then CRLF ending the header", "OPTIONS sip:a SIP/2.0\nX: 1\n\r\n", "OPTIONS sip:a SIP/2.0\r\nX: 1\r\n\r\n", true},
		{"the body as sent", "INVITE sip:a SIP/2.0\nContent-Length: 6\n\nv=0\na\n", "INVITE sip:a SIP/2.0\r\nContent-Length: 6\r\n\r\nv=0\na\n", true},
		{"a LF first", "\nOPTIONS sip:a SIP/2.0\n\n", "\r\nOPTIONS sip:a SIP/2.0\r\n\r\n", true},
		{"cut short at LF", "OPTIONS sip:a SIP/2.0\nX: 1", "OPTIONS sip:a SIP/2.0\r\nX: 1", true},
		{"a CR in a value", "OPTIONS sip:a SIP/2.0\r\nCall-ID: 1\rX: 1\r\n\r\n", "", false},
		{"CR CR LF", "OPTIONS sip:a SIP/2.0\r\r\n\r\n", "", false},
		{"a CR last", "OPTIONS sip:a SIP/2.0\nX: 1\r", "", false},
		{"lines at CR", "OPTIONS sip:a SIP/2.0\rX: 1\r\r", "", false},
		{"empty", "", "", true},
	} {
		// In a read buffer's room, and in a slice with none.
		for _, data := range [][]byte{append(make([]byte, 0, maxMessage), tt.data...), []byte(tt.data)[:len(tt.data):len(tt.data)]} {
			got, ok := CRLF(data)
			if ok != tt.ok || string(got) != tt.want {
				t.Errorf("%s: CRLF(%q) = %q, %v; want %q, %v", tt.name, tt.data, got, ok, tt.want, tt.ok)
			}
		}
	}
	// Past maxMessage with its CRs: refused.
	long := append([]byte("OPTIONS sip:a SIP/2.0\nX: "), bytes.Repeat([]byte("a"), maxMessage-28)...)
	long = append(long, "\n\n"...)
	if _, ok := CRLF(long); ok {
		t.Errorf("a %d-byte message with 3 lone LFs taken, over %d", len(long), maxMessage)
	}
}

// FuzzCRLF: CRLF refuses exactly what has a lone CR in its header (or
// would outgrow maxMessage); what it takes has no lone CR or LF left in
// its header, is data with a CR put before each lone LF of the header
// and nothing else (its body byte for byte), is data itself when there
// was none, and is the same written in data's array or in a new one.
func FuzzCRLF(f *testing.F) {
	for _, s := range []string{
		"OPTIONS sip:a SIP/2.0\r\nX: 1\r\n\r\n",
		"OPTIONS sip:a SIP/2.0\nX: 1\n\nbody\n\r",
		"\n\r\nINVITE sip:a SIP/2.0\r\nCall-ID: 1\nX: 1\n\r\n",
		"OPTIONS sip:a SIP/2.0\r\nCall-ID: 1\rX: 1\r\n\r\n",
		string(invite(doorLines...)),
		"\n\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lone, end, clean := headerLineEnds(data)
		room := append(make([]byte, 0, maxMessage+len(data)), data...)
		out, ok := CRLF(room)
		tight := append([]byte(nil), data...)[:len(data):len(data)]
		out2, ok2 := CRLF(tight)
		if want := clean && len(data)+lone <= maxMessage; ok != want || ok2 != want {
			t.Fatalf("CRLF(%q) took it: %v (in room), %v (no room); want %v", data, ok, ok2, want)
		}
		if !ok {
			return
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("in room %q, in a new array %q", out, out2)
		}
		if lone == 0 && (len(out) != len(data) || len(out) > 0 && &out[0] != &room[0]) {
			t.Fatalf("a clean message copied: %q", out)
		}
		if len(out) != len(data)+lone || BareLineEnd(out) {
			t.Fatalf("CRLF(%q) = %q: %d CRs put, want %d; a lone CR or LF left: %v", data, out, len(out)-len(data), lone, BareLineEnd(out))
		}
		// The CRs taken out again give the header back; the body is
		// the same bytes.
		stripped := bytes.ReplaceAll(out[:end+lone], []byte("\r\n"), []byte("\n"))
		if want := bytes.ReplaceAll(data[:end], []byte("\r\n"), []byte("\n")); !bytes.Equal(stripped, want) {
			t.Fatalf("header %q given CRs is %q", data[:end], out[:end+lone])
		}
		if !bytes.Equal(out[end+lone:], data[end:]) {
			t.Fatalf("body %q moved as %q", data[end:], out[end+lone:])
		}
	})
}
