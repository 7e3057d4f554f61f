package sipstack

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"

	"switchboard/tlstest"
)

// readMessage reads one SIP message off a stream, framed by its
// Content-Length, after rest (what an earlier read brought beyond it).
func readMessage(c net.Conn, rest []byte) (msg, more []byte, err error) {
	buf := rest
	for {
		if end := bytes.Index(buf, []byte("\r\n\r\n")); end >= 0 {
			end += 4
			length := 0
			for line := range strings.SplitSeq(string(buf[:end]), "\r\n") {
				if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
					length, _ = strconv.Atoi(v)
				}
			}
			if len(buf) >= end+length {
				return buf[:end+length], buf[end+length:], nil
			}
		}
		b := make([]byte, 4096)
		n, err := c.Read(b)
		buf = append(buf, b[:n]...)
		if err != nil {
			return nil, nil, err
		}
	}
}

// dialledPeer is a peer that accepts the one connection a sipgo client
// dials to it (over TLS when cert is set), reads its request and answers
// it with respond's bytes; done gets what it read after that, to the
// connection's end, and whether the client closed it.
type dialledPeer struct {
	l    net.Listener
	done chan peerEnd
}

type peerEnd struct {
	after  []byte
	closed bool
	err    error
}

func startDialledPeer(t *testing.T, cert *tls.Certificate, respond func(req []byte) string) *dialledPeer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cert != nil {
		l = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{*cert}})
	}
	t.Cleanup(func() { l.Close() })
	p := &dialledPeer{l: l, done: make(chan peerEnd, 1)}
	go func() {
		c, err := l.Accept()
		if err != nil {
			p.done <- peerEnd{err: err}
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		req, rest, err := readMessage(c, nil)
		if err != nil {
			p.done <- peerEnd{err: err}
			return
		}
		if _, err := io.WriteString(c, respond(req)); err != nil {
			p.done <- peerEnd{err: err}
			return
		}
		// Everything after, to the client's close (or, when it keeps
		// the connection, the deadline).
		after := rest
		b := make([]byte, 4096)
		for {
			n, err := c.Read(b)
			after = append(after, b[:n]...)
			if err != nil {
				p.done <- peerEnd{after: after, closed: errors.Is(err, io.EOF)}
				return
			}
		}
	}()
	return p
}

// answer is a 200 to req (a request's bytes), injected appended to its
// To.
func answer(t *testing.T, req []byte, injected string) string {
	m, err := sip.ParseMessage(req)
	if err != nil {
		t.Error(err)
		return ""
	}
	res := sip.NewResponseFromRequest(m.(*sip.Request), 200, "OK", nil)
	res.To().Params.Add("tag", "peer")
	s := res.String()
	i := strings.Index(s, "\r\nTo: ") + 2
	end := i + strings.Index(s[i:], "\r\n")
	return s[:end] + injected + s[end:]
}

// A response with a lone LF in its header, over a TCP or TLS connection
// sipgo dialled itself, never reaches the client: with StrictReads the
// connection is closed before sipgo parses it (the transaction ends
// without a response), the refusal is counted, and nothing is sent back
// (an ACK or answer would echo the line). A clean response passes.
func TestStrictReadsDialled(t *testing.T) {
	cert := tlstest.Loopback(t)
	for _, transport := range []string{"TCP", "TLS"} {
		for _, tc := range []struct {
			name     string
			injected string
		}{
			{"clean", ""},
			{"a bare LF", "\nX-Injected: 1"},
			{"a bare CR", "\rX-Injected: 1"},
		} {
			t.Run(transport+"/"+tc.name, func(t *testing.T) {
				var c *tls.Certificate
				if transport == "TLS" {
					c = &cert
				}
				peer := startDialledPeer(t, c, func(req []byte) string { return answer(t, req, tc.injected) })
				ua, err := sipgo.NewUA(StrictReads(), sipgo.WithUserAgenTLSConfig(&tls.Config{InsecureSkipVerify: true}))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ua.Close() })
				client, err := sipgo.NewClient(ua)
				if err != nil {
					t.Fatal(err)
				}
				ap := peer.l.Addr().(*net.TCPAddr)
				uri := sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: ap.Port, UriParams: sip.NewParams()}
				uri.UriParams.Add("transport", strings.ToLower(transport))
				req := sip.NewRequest(sip.OPTIONS, uri)
				req.SetTransport(transport)
				before := LineEndsRefused()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				tx, err := client.TransactionRequest(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				defer tx.Terminate()
				if tc.injected == "" {
					select {
					case got := <-tx.Responses():
						if got.StatusCode != 200 {
							t.Fatalf("the clean response reached the client as %s", got.StartLine())
						}
					case <-tx.Done():
						t.Fatalf("the transaction ended without the clean response: %v", tx.Err())
					case <-ctx.Done():
						t.Fatal("the clean response never reached the client")
					}
					if n := LineEndsRefused() - before; n != 0 {
						t.Errorf("%d refusals counted for a clean response", n)
					}
					return
				}
				// The connection's end: sipgo's read loop for it is over,
				// so what it made of the response is known.
				end := <-peer.done
				if end.err != nil {
					t.Fatal(end.err)
				}
				if !end.closed {
					t.Errorf("the client kept the connection; sent %q", end.after)
				}
				if len(end.after) > 0 {
					t.Errorf("the client sent %q after the response", end.after)
				}
				select {
				case got := <-tx.Responses():
					t.Errorf("the client got the response with %q: %s", tc.injected, got.StartLine())
				default:
				}
				if n := LineEndsRefused() - before; n != 1 {
					t.Errorf("%d refusals counted, want 1", n)
				}
			})
		}
	}
}

// The filter refuses a stream it cannot follow rather than let it through
// unchecked; a datagram or WebSocket message with a bare LF is dropped
// (an error would end sipgo's UDP read loop), a clean one passed.
func TestReadFilter(t *testing.T) {
	f := &readFilter{streams: map[weak.Pointer[net.TCPAddr]]*streamCheck{}}
	bad := []byte("OPTIONS sip:a SIP/2.0\r\nCall-ID: 1\nX: 1\r\nContent-Length: 0\r\n\r\n")
	clean := []byte("OPTIONS sip:a SIP/2.0\r\nCall-ID: 1\r\nContent-Length: 0\r\n\r\n")
	cr := []byte("OPTIONS sip:a SIP/2.0\r\nCall-ID: 1\rX: 1\r\nContent-Length: 0\r\n\r\n")
	// bad with a CR before its lone LF: X is a header field of its own.
	mended := "OPTIONS sip:a SIP/2.0\r\nCall-ID: 1\r\nX: 1\r\nContent-Length: 0\r\n\r\n"
	udp := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 5060}
	type result struct {
		Out string
		Err string
	}
	run := func(transport string, ra net.Addr, data []byte) result {
		out, err := f.filter(sip.TransportReadProps{Transport: transport, RemoteAddr: ra}, data)
		r := result{Out: string(out)}
		if err != nil {
			r.Err = err.Error()
		}
		return r
	}
	for _, tc := range []struct {
		name      string
		transport string
		ra        net.Addr
		data      []byte
		want      result
	}{
		{"a clean datagram", "UDP", udp, clean, result{Out: string(clean)}},
		{"a datagram with a bare LF", "UDP", udp, bad, result{Out: mended}},
		{"a WebSocket message with a bare LF", "WS", &net.TCPAddr{}, bad, result{Out: mended}},
		{"a datagram with a bare CR", "UDP", udp, cr, result{}},
		{"a WebSocket message with a bare CR", "WSS", &net.TCPAddr{}, cr, result{}},
		{"a stream of unknown address", "TCP", udp, clean, result{Err: errStreamUnknown.Error()}},
		{"a stream with no address", "TLS", nil, clean, result{Err: errStreamUnknown.Error()}},
		{"a clean stream", "TCP", &net.TCPAddr{Port: 1}, clean, result{Out: string(clean)}},
		{"a stream with a bare LF", "TLS", &net.TCPAddr{Port: 2}, bad, result{Err: errBareLineEnd.Error()}},
	} {
		if d := cmp.Diff(tc.want, run(tc.transport, tc.ra, tc.data)); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}
	// The header split over reads of one connection, and another
	// connection's clean read between them: each stream is followed
	// alone.
	a, b := &net.TCPAddr{Port: 3}, &net.TCPAddr{Port: 3}
	if r := run("TCP", a, bad[:30]); r.Err != "" {
		t.Fatalf("the first part of a header refused: %v", r.Err)
	}
	if r := run("TCP", b, clean); r.Err != "" {
		t.Fatalf("another connection's clean message refused: %v", r.Err)
	}
	if r := run("TCP", a, bad[30:]); r.Err != errBareLineEnd.Error() {
		t.Errorf("the header's end: %+v, want refused", r)
	}
}

// A datagram read on a socket a ReadyConn reads has had its line ends
// seen to: the filter does not walk it again, only lowers its top Via's
// parameter names. Once the ReadyConn is closed, the socket's datagrams
// are walked again.
func TestReadFilterTrustsReadyConn(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var closing atomic.Bool
	rc := NewReadyConn(pc, &closing, nil)
	f := &readFilter{streams: map[weak.Pointer[net.TCPAddr]]*streamCheck{}}
	cr := "OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/UDP a;Rport\r\nCall-ID: 1\rX: 1\r\n\r\n"
	props := sip.TransportReadProps{Transport: "UDP", LocalAddr: rc.LocalAddr(), RemoteAddr: &net.UDPAddr{Port: 1}}
	out, err := f.filter(props, []byte(cr))
	if want := strings.Replace(cr, "Rport", "rport", 1); err != nil || string(out) != want {
		t.Errorf("on the ReadyConn's socket: %q, %v; want %q as it came, its Via lowered", out, err, want)
	}
	// Another socket with an address alike is not the ReadyConn's.
	other := *rc.LocalAddr().(*net.UDPAddr)
	props.LocalAddr = &other
	if out, err := f.filter(props, []byte(cr)); err != nil || out != nil {
		t.Errorf("on another socket: %q, %v; want it dropped", out, err)
	}
	rc.Close()
	props.LocalAddr = pc.LocalAddr()
	if out, err := f.filter(props, []byte(cr)); err != nil || out != nil {
		t.Errorf("after the ReadyConn closed: %q, %v; want it dropped", out, err)
	}
}

// A stream's state goes with its connection: once the remote address it
// is held under is garbage, the filter forgets it.
func TestReadFilterForgetsClosedStreams(t *testing.T) {
	f := &readFilter{streams: map[weak.Pointer[net.TCPAddr]]*streamCheck{}}
	func() {
		for i := range 10 {
			ra := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1000 + i}
			if _, err := f.filter(sip.TransportReadProps{Transport: "TCP", RemoteAddr: ra}, []byte("OPTIONS sip:a SIP/2.0\r\n")); err != nil {
				t.Fatal(err)
			}
		}
	}()
	if n := f.tracked(); n != 10 {
		t.Fatalf("%d streams followed, want 10", n)
	}
	// Cleanups run after a collection, on a goroutine of the runtime's:
	// each round collects and lets it run.
	for i := 0; i < 1000 && f.tracked() > 0; i++ {
		runtime.GC()
		runtime.Gosched()
	}
	if n := f.tracked(); n != 0 {
		t.Errorf("%d streams still followed after their addresses were collected", n)
	}
}

// logRecorder is a slog.Handler that keeps what it is handed.
type logRecorder struct {
	mu  sync.Mutex
	got []slog.Record
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.got = append(r.got, rec.Clone())
	r.mu.Unlock()
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

func (r *logRecorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.got {
		out = append(out, rec.Level.String()+" "+rec.Message)
	}
	return out
}

// The first refusal is logged, once, at WARN, whatever the transport; a
// connection closed for one is not logged again by sipgo, at ERROR, for
// each (its "Read error" and "Read filter error" records go), while its
// other errors are kept.
func TestLineEndRefusalLoggedOnce(t *testing.T) {
	rec := &logRecorder{}
	setLineEndLog(slog.New(rec))
	t.Cleanup(func() { setLineEndLog(nil) })
	h := newSipgoHandler(rec)
	for _, r := range []struct {
		msg string
		err error
	}{
		{"Read error", errBareLineEnd},
		{"Read filter error", errBareLineEnd},
		{"Read error", io.ErrUnexpectedEOF},
	} {
		log := slog.New(h).With("caller", "Transport<TCP>")
		log.Error(r.msg, "error", r.err)
	}
	// Refusals on every path: a datagram, an accepted stream, dialled
	// streams.
	f := &readFilter{streams: map[weak.Pointer[net.TCPAddr]]*streamCheck{}}
	_, _ = f.filter(sip.TransportReadProps{Transport: "UDP", RemoteAddr: &net.UDPAddr{Port: 1}}, []byte("OPTIONS sip:a SIP/2.0\r\nX: 1\rY: 2\r\n\r\n"))
	readAll(&strictConn{Conn: &chunkConn{chunks: [][]byte{[]byte("OPTIONS sip:a SIP/2.0\r\nX: 1\nY: 2\r\nContent-Length: 0\r\n\r\n")}}})
	for i := range 2 {
		_, _ = f.filter(sip.TransportReadProps{Transport: "TCP", RemoteAddr: &net.TCPAddr{Port: i}}, []byte("OPTIONS sip:a SIP/2.0\r\nX: 1\rY: 2\r\nContent-Length: 0\r\n\r\n"))
	}
	want := []string{
		"ERROR Read error",
		"WARN refused a SIP message whose header has a CR or LF outside a CRLF (RFC 3261 §7); the next ones are only counted (line_end_refused in /admin/status)",
	}
	if d := cmp.Diff(want, rec.lines()); d != "" {
		t.Errorf("logged (-want +got):\n%s", d)
	}
}

// BenchmarkReadFilter measures what StrictReads adds to each read sipgo
// makes: a door's INVITE as a datagram (CRLF's walk and the Via's; on a
// socket a ReadyConn reads, which has walked it, the Via's alone) and as
// one read of a stream (the stream's check found by
// its address, the header followed and the body skipped).
func BenchmarkReadFilter(b *testing.B) {
	data := invite(doorLines...)
	listed := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060}
	markChecked(listed, 1)
	defer markChecked(listed, -1)
	for _, transport := range []string{"UDP", "UDP via ReadyConn", "TCP"} {
		b.Run(transport, func(b *testing.B) {
			f := &readFilter{streams: map[weak.Pointer[net.TCPAddr]]*streamCheck{}}
			props := sip.TransportReadProps{Transport: transport, RemoteAddr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 5060}}
			if transport == "UDP via ReadyConn" {
				props.Transport, props.LocalAddr = "UDP", listed
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.filter(props, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// crlfSays is a socket that says whether its reads have CRLF line ends
// already (CRLFReader), as package sites' router's siteConn does.
type crlfSays struct {
	net.PacketConn
	says bool
}

func (c crlfSays) ReadsCRLF() bool { return c.says }

// A ReadyConn does not walk again what its socket says it has seen to
// (CRLFReader), through a trace too: a datagram a many-sites router
// routed is walked once. What no socket vouches for is given its CRs.
func TestReadyConnTrustsCRLFReader(t *testing.T) {
	const lf = "OPTIONS sip:a SIP/2.0\nVia: SIP/2.0/UDP a;rport\nCall-ID: 1\n\n"
	for _, tt := range []struct {
		name string
		wrap func(net.PacketConn) net.PacketConn
		want string
	}{
		{"a socket", func(pc net.PacketConn) net.PacketConn { return pc }, strings.ReplaceAll(lf, "\n", "\r\n")},
		{"one that has not", func(pc net.PacketConn) net.PacketConn { return crlfSays{pc, false} }, strings.ReplaceAll(lf, "\n", "\r\n")},
		{"one that has", func(pc net.PacketConn) net.PacketConn { return crlfSays{pc, true} }, lf},
		{"one that has, traced", func(pc net.PacketConn) net.PacketConn { return TracePacketConn(crlfSays{pc, true}, NewTrace()) }, lf},
	} {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var closing atomic.Bool
		rc := NewReadyConn(tt.wrap(pc), &closing, nil)
		if _, err := pc.WriteTo([]byte(lf), pc.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, maxMessage)
		n, _, err := rc.ReadFrom(buf)
		if err != nil || string(buf[:n]) != tt.want {
			t.Errorf("%s: read %q, %v; want %q", tt.name, buf[:n], err, tt.want)
		}
		rc.Close()
	}
}
