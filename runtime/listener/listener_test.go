package listener

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/tlstest"
)

// bound is how long any step of these tests may take.
const bound = 5 * time.Second

// serveEcho accepts on l and reads every connection until it ends,
// answering each read with the same bytes, as a SIP stream reader would
// keep a connection open. It returns a channel that gets each accepted
// connection's end.
func serveEcho(t *testing.T, l net.Listener) <-chan error {
	t.Helper()
	ended := make(chan error, 64)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 1024)
				for {
					n, err := c.Read(buf)
					if err != nil {
						c.Close()
						ended <- err
						return
					}
					if _, err := c.Write(buf[:n]); err != nil {
						c.Close()
						ended <- err
						return
					}
				}
			}()
		}
	}()
	return ended
}

func listen(t *testing.T, o Options) *Listener {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(raw, o)
	t.Cleanup(func() { l.Close() })
	return l
}

// closedByServer reports whether the server closed c within bound.
func closedByServer(t *testing.T, c net.Conn) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(bound))
	_, err := c.Read(make([]byte, 1))
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// echoes reports whether a round trip over c works.
func echoes(t *testing.T, c net.Conn) bool {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(bound))
	if _, err := c.Write([]byte("\r\n\r\n")); err != nil {
		return false
	}
	_, err := io.ReadFull(c, make([]byte, 4))
	return err == nil
}

func dial(t *testing.T, addr net.Addr) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr.String(), bound)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestPerSourceLimit opens more idle connections from one address than it
// may hold: the excess is closed at once, those within the limit keep
// working, and a place freed is taken again.
func TestPerSourceLimit(t *testing.T) {
	t.Parallel()
	b := NewBudget(3, 100)
	l := listen(t, Options{Budget: b})
	serveEcho(t, l)
	var held []net.Conn
	for range 3 {
		c := dial(t, l.Addr())
		if !echoes(t, c) {
			t.Fatal("a connection within the limit does not work")
		}
		held = append(held, c)
	}
	for i := range 5 {
		if c := dial(t, l.Addr()); !closedByServer(t, c) {
			t.Fatalf("connection %d over the per-source limit was kept", i+1)
		}
	}
	if got := b.Refused(); got != 5 {
		t.Errorf("refused %d, want 5", got)
	}
	held[0].Close()
	// The server notices the close on its next read and gives the place
	// back; a new connection then fits.
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if err := b.waitOpenAtMost(ctx, 2); err != nil {
		t.Fatalf("%d open after a client left, want 2", b.Open())
	}
	if !echoes(t, dial(t, l.Addr())) {
		t.Error("a connection in a freed place does not work")
	}
	for _, c := range held[1:] {
		if !echoes(t, c) {
			t.Error("a connection within the limit stopped working")
		}
	}
}

// TestTotalLimit: the total is shared by every listener of a budget.
func TestTotalLimit(t *testing.T) {
	t.Parallel()
	b := NewBudget(0, 2)
	l1 := listen(t, Options{Budget: b})
	l2 := listen(t, Options{Budget: b})
	serveEcho(t, l1)
	serveEcho(t, l2)
	if !echoes(t, dial(t, l1.Addr())) || !echoes(t, dial(t, l2.Addr())) {
		t.Fatal("connections within the total do not work")
	}
	if !closedByServer(t, dial(t, l1.Addr())) {
		t.Error("a connection over the total was kept")
	}
}

// TestIdleTimeout: a connection that keeps sending CRLF keep-alives stays
// open past the idle timeout; once silent it is closed after it.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	const idle = 300 * time.Millisecond
	b := NewBudget(0, 0)
	l := listen(t, Options{Budget: b, Idle: idle, Handshake: bound})
	ended := serveEcho(t, l)
	c := dial(t, l.Addr())
	start := time.Now()
	var silent time.Time
	for {
		if !echoes(t, c) {
			t.Fatalf("closed after %v although keep-alives came every %v", time.Since(start), idle/4)
		}
		silent = time.Now() // the server's next read starts about now
		if time.Since(start) > 3*idle {
			break
		}
		time.Sleep(idle / 4) // the client's keep-alive interval
	}
	if !closedByServer(t, c) {
		t.Fatal("a silent connection was not closed")
	}
	if d := time.Since(silent); d < idle*9/10 { // the server's deadline starts a moment before silent

		t.Errorf("closed %v after going silent, before the idle timeout %v", d, idle)
	}
	select {
	case err := <-ended:
		if err != io.EOF {
			t.Errorf("the reader saw %v, want io.EOF", err)
		}
	case <-time.After(bound):
		t.Error("the reader did not end")
	}
	if b.Open() != 0 {
		t.Errorf("%d open after the close, want 0", b.Open())
	}
}

// TestSilentConnection: a connection that sends nothing is closed after
// the handshake deadline, although the idle timeout is long.
func TestSilentConnection(t *testing.T) {
	t.Parallel()
	l := listen(t, Options{Idle: time.Hour, Handshake: 200 * time.Millisecond})
	serveEcho(t, l)
	if !closedByServer(t, dial(t, l.Addr())) {
		t.Error("a connection that never sent a byte was kept")
	}
}

// TestTLSHandshakeDeadline: half-open TLS handshakes (a TCP connection,
// then nothing; or half a ClientHello) are closed after the handshake
// deadline, and a real client still gets through.
func TestTLSHandshakeDeadline(t *testing.T) {
	t.Parallel()
	conf := &tls.Config{Certificates: []tls.Certificate{tlstest.Loopback(t)}, MinVersion: tls.VersionTLS12}
	b := NewBudget(0, 0)
	l := listen(t, Options{Budget: b, Idle: time.Hour, Handshake: 300 * time.Millisecond, TLS: conf})
	serveEcho(t, l)
	silent := dial(t, l.Addr())
	half := dial(t, l.Addr())
	if _, err := half.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}); err != nil { // a record header, and a byte of it
		t.Fatal(err)
	}
	for name, c := range map[string]net.Conn{"silent": silent, "half a ClientHello": half} {
		if !closedByServer(t, c) {
			t.Errorf("%s: the half-open handshake was kept", name)
		}
	}
	raw := dial(t, l.Addr())
	c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
	if !echoes(t, c) {
		t.Error("a real TLS client does not get through")
	}
}

// flaky is a listener whose Accept fails as a process out of descriptors
// does, n times, before it accepts.
type flaky struct {
	net.Listener
	n int
}

func (f *flaky) Accept() (net.Conn, error) {
	if f.n > 0 {
		f.n--
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	return f.Listener.Accept()
}

// TestAcceptErrorsRetried: "too many open files" from accept is retried,
// not returned (sipgo's serve loop ends on the first error it gets).
func TestAcceptErrorsRetried(t *testing.T) {
	t.Parallel()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(&flaky{Listener: raw, n: 4}, Options{})
	defer l.Close()
	dial(t, raw.Addr())
	got, err := l.Accept()
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	got.Close()
	// Closing ends Accept with net.ErrClosed.
	done := make(chan error, 1)
	go func() { _, err := l.Accept(); done <- err }()
	l.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close: %v", err)
		}
	case <-time.After(bound):
		t.Error("Accept did not end on Close")
	}
}

// TestSource: the key connections are counted under.
func TestSource(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"127.0.0.1:5060", "127.0.0.1"},
		{"[::ffff:192.0.2.7]:5060", "192.0.2.7"},
		// One IPv6 host usually holds a /64: its addresses count as one.
		{"[2001:db8:1:2:aaaa::1]:5060", "2001:db8:1:2::"},
		{"[2001:db8:1:2:bbbb::9]:40000", "2001:db8:1:2::"},
	}
	for _, tc := range tests {
		a, err := net.ResolveTCPAddr("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, source(a).String()); diff != "" {
			t.Errorf("source(%s) (-want +got):\n%s", tc.addr, diff)
		}
	}
}
