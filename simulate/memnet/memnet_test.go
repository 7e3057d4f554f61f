package memnet

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

var (
	ipA = netip.MustParseAddr("192.0.2.1")
	ipB = netip.MustParseAddr("192.0.2.2")
)

func listen(t testing.TB, n *Network, ap netip.AddrPort) *Conn {
	t.Helper()
	c, err := n.Listen(ap)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestDeliver(t *testing.T) {
	n := New()
	a := listen(t, n, netip.AddrPortFrom(ipA, 5060))
	b := listen(t, n, netip.AddrPortFrom(ipB, 0))
	if got := a.LocalAddr().(*net.UDPAddr).String(); got != "192.0.2.1:5060" {
		t.Errorf("LocalAddr = %s", got)
	}
	if b.AddrPort().Port() == 0 {
		t.Fatal("port 0 was not allocated")
	}
	msg := []byte("INVITE")
	if n, err := b.WriteTo(msg, a.LocalAddr()); err != nil || n != len(msg) {
		t.Fatalf("WriteTo = %d, %v", n, err)
	}
	msg[0] = 'X' // the datagram is a copy
	buf := make([]byte, 100)
	k, from, err := a.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if string(buf[:k]) != "INVITE" {
		t.Errorf("read %q", buf[:k])
	}
	if from.String() != b.LocalAddr().String() {
		t.Errorf("from %s, want %s", from, b.LocalAddr())
	}
	if _, ok := from.(*net.UDPAddr); !ok {
		t.Errorf("from is %T, want *net.UDPAddr", from)
	}

	// The AddrPort methods, and a destination given as a string address.
	if _, err := a.WriteToUDPAddrPort([]byte("200 OK"), b.AddrPort()); err != nil {
		t.Fatal(err)
	}
	k, src, err := b.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:k]) != "200 OK" || src != a.AddrPort() {
		t.Fatalf("ReadFromUDPAddrPort = %q, %v, %v", buf[:k], src, err)
	}
	// A short buffer truncates, as UDP does.
	b.WriteTo([]byte("0123456789"), a.LocalAddr())
	k, _, _ = a.ReadFrom(buf[:4])
	if string(buf[:k]) != "0123" {
		t.Errorf("truncated read %q", buf[:k])
	}
}

func TestListenErrors(t *testing.T) {
	n := New()
	listen(t, n, netip.AddrPortFrom(ipA, 5060))
	if _, err := n.Listen(netip.AddrPortFrom(ipA, 5060)); err == nil {
		t.Error("a second listener on the same address was allowed")
	}
	if _, err := n.Listen(netip.AddrPortFrom(netip.IPv4Unspecified(), 0)); err == nil {
		t.Error("an unspecified address was allowed")
	}
	if _, err := n.ListenPacket("tcp", "192.0.2.1:1"); err == nil {
		t.Error("tcp was allowed")
	}
	c, err := n.ListenPacket("udp", "192.0.2.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	// Ports are not reused straight away.
	d := listen(t, n, netip.AddrPortFrom(ipA, 0))
	if d.LocalAddr().String() == c.LocalAddr().String() {
		t.Errorf("port %s handed out again at once", d.LocalAddr())
	}
	// A closed address can be listened on again.
	e, err := n.ListenPacket("udp", c.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
}

func TestDrops(t *testing.T) {
	n := NewWithOptions(Options{Queue: 2})
	a := listen(t, n, netip.AddrPortFrom(ipA, 0))
	b := listen(t, n, netip.AddrPortFrom(ipB, 0))
	for range 3 {
		if _, err := b.WriteTo([]byte("x"), a.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	// Nobody listening: dropped, no error.
	if _, err := b.WriteToUDPAddrPort([]byte("x"), netip.AddrPortFrom(ipA, 1)); err != nil {
		t.Fatal(err)
	}
	if got, want := n.Stats(), (Stats{Delivered: 2, Dropped: 2}); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

func TestCloseUnblocksRead(t *testing.T) {
	n := New()
	a, err := n.Listen(netip.AddrPortFrom(ipA, 0))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error)
	go func() {
		_, _, err := a.ReadFrom(make([]byte, 10))
		errc <- err
	}()
	a.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after Close: %v, want net.ErrClosed", err)
	}
	if _, err := a.WriteTo([]byte("x"), a.LocalAddr()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after Close: %v", err)
	}
	if err := a.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
}

// Every reader waiting on a connection returns when it closes, and when
// the read deadline passes: readers wait on one channel that wakes one of
// them, who passes the signal on.
func TestWakeEveryReader(t *testing.T) {
	for _, end := range []string{"close", "deadline"} {
		t.Run(end, func(t *testing.T) {
			n := New()
			a := listen(t, n, netip.AddrPortFrom(ipA, 0))
			const readers = 8
			errc := make(chan error, readers)
			for range readers {
				go func() {
					_, _, err := a.ReadFrom(make([]byte, 10))
					errc <- err
				}()
			}
			if err := n.WaitRead(context.Background(), a.AddrPort()); err != nil {
				t.Fatal(err)
			}
			want := net.ErrClosed
			if end == "close" {
				a.Close()
			} else {
				want = os.ErrDeadlineExceeded
				a.SetReadDeadline(time.Now().Add(time.Millisecond))
			}
			for range readers {
				select {
				case err := <-errc:
					if !errors.Is(err, want) {
						t.Errorf("read: %v, want %v", err, want)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("a reader still waits after the %s", end)
				}
			}
		})
	}
}

func TestDeadlines(t *testing.T) {
	n := New()
	a := listen(t, n, netip.AddrPortFrom(ipA, 0))
	b := listen(t, n, netip.AddrPortFrom(ipB, 0))
	buf := make([]byte, 10)

	// A past deadline fails at once; a queued datagram is still read first.
	b.WriteTo([]byte("x"), a.LocalAddr())
	a.SetReadDeadline(time.Now().Add(-time.Second))
	if _, _, err := a.ReadFrom(buf); err != nil {
		t.Errorf("queued datagram: %v", err)
	}
	_, _, err := a.ReadFrom(buf)
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("read past deadline: %v", err)
	}

	// A deadline in the future unblocks a read in progress.
	a.SetDeadline(time.Now().Add(20 * time.Millisecond))
	start := time.Now()
	if _, _, err := a.ReadFrom(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read: %v", err)
	}
	if time.Since(start) < 10*time.Millisecond {
		t.Error("the deadline expired early")
	}

	// Clearing it lets reads block again until data arrives.
	a.SetReadDeadline(time.Time{})
	go b.WriteTo([]byte("y"), a.LocalAddr())
	if k, _, err := a.ReadFrom(buf); err != nil || string(buf[:k]) != "y" {
		t.Errorf("read after clearing: %q, %v", buf[:k], err)
	}

	// Moving a pending deadline later keeps the read waiting.
	a.SetReadDeadline(time.Now().Add(time.Hour))
	a.SetReadDeadline(time.Now().Add(time.Hour))
	go func() {
		// Once the read waits: WaitRead sees its reader parked.
		_ = n.WaitRead(context.Background(), a.AddrPort())
		b.WriteTo([]byte("z"), a.LocalAddr())
	}()
	if _, _, err := a.ReadFrom(buf); err != nil {
		t.Errorf("read with a far deadline: %v", err)
	}

	a.SetWriteDeadline(time.Now().Add(-time.Second))
	if _, err := a.WriteTo([]byte("x"), b.LocalAddr()); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("write past deadline: %v", err)
	}
}

func TestConcurrent(t *testing.T) {
	n := New()
	a := listen(t, n, netip.AddrPortFrom(ipA, 0))
	const senders, each = 8, 200
	var wg sync.WaitGroup
	for range senders {
		c := listen(t, n, netip.AddrPortFrom(ipB, 0))
		wg.Go(func() {
			for range each {
				c.WriteTo([]byte("ping"), a.LocalAddr())
			}
		})
	}
	buf := make([]byte, 10)
	for range senders * each {
		if _, _, err := a.ReadFrom(buf); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}

// sipgo serves and sends over a memnet connection: a client's request
// leaves from the listener (WithClientConnectionAddr) and the server's
// response comes back to it.
func TestSipgo(t *testing.T) {
	n := New()
	srvConn := listen(t, n, netip.AddrPortFrom(ipA, 5060))
	cliConn := listen(t, n, netip.AddrPortFrom(ipB, 0))

	srvUA, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	defer srvUA.Close()
	srv, err := sipgo.NewServer(srvUA)
	if err != nil {
		t.Fatal(err)
	}
	srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	go srv.ServeUDP(srvConn)

	cliUA, err := sipgo.NewUA()
	if err != nil {
		t.Fatal(err)
	}
	defer cliUA.Close()
	cliSrv, err := sipgo.NewServer(cliUA)
	if err != nil {
		t.Fatal(err)
	}
	go cliSrv.ServeUDP(cliConn)
	client, err := sipgo.NewClient(cliUA, sipgo.WithClientConnectionAddr(cliConn.LocalAddr().String()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// sipgo adds the listener to its pool before its read loop starts:
	// once the connection's reader waits, the pool has it.
	if err := n.WaitRead(ctx, cliConn.AddrPort()); err != nil {
		t.Fatalf("sipgo never read from its listener: %v", err)
	}
	if _, err := cliUA.TransportLayer().GetConnection("udp", cliConn.LocalAddr().String()); err != nil {
		t.Fatalf("listener not in sipgo's pool: %v", err)
	}
	for range 3 {
		req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", Host: ipA.String(), Port: 5060})
		res, err := client.Do(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 200 {
			t.Fatalf("status %d", res.StatusCode)
		}
		if !bytes.Contains([]byte(res.Via().Host), []byte(ipB.String())) {
			t.Errorf("Via host %s, want the client's memnet address", res.Via().Host)
		}
	}
	if s := n.Stats(); s.Dropped != 0 || s.Delivered != 6 {
		t.Errorf("Stats = %+v, want 6 delivered", s)
	}
}

func BenchmarkWriteRead(b *testing.B) {
	n := New()
	a := listen(b, n, netip.AddrPortFrom(ipA, 0))
	c := listen(b, n, netip.AddrPortFrom(ipB, 0))
	pkt := make([]byte, 172)
	buf := make([]byte, 1500)
	to := a.AddrPort()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.WriteToUDPAddrPort(pkt, to); err != nil {
			b.Fatal(err)
		}
		if _, _, err := a.ReadFromUDPAddrPort(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// WaitRead returns once the reader has taken every datagram and is back
// in ReadFrom: not while a datagram waits, nor while the reader is still
// dealing with the last one.
func TestWaitRead(t *testing.T) {
	n := New()
	a, err := n.Listen(netip.MustParseAddrPort("192.0.2.1:1000"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.Listen(netip.MustParseAddrPort("192.0.2.2:1000"))
	if err != nil {
		t.Fatal(err)
	}
	handled := make(chan string, 10)
	release := make(chan struct{})
	go func() {
		buf := make([]byte, 64)
		for {
			k, _, err := b.ReadFrom(buf)
			if err != nil {
				return
			}
			<-release // the reader is busy with it until released
			handled <- string(buf[:k])
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.WaitRead(ctx, b.AddrPort()); err != nil {
		t.Fatalf("an idle reader: %v", err)
	}
	a.WriteTo([]byte("one"), b.LocalAddr())
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	if err := n.WaitRead(short, b.AddrPort()); err == nil {
		t.Fatal("WaitRead returned while the reader was still busy with the datagram")
	}
	close(release)
	if err := n.WaitRead(ctx, b.AddrPort()); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-handled:
		if got != "one" {
			t.Errorf("handled %q", got)
		}
	default:
		t.Error("WaitRead returned before the reader had dealt with the datagram")
	}
	if err := n.WaitRead(ctx, netip.MustParseAddrPort("192.0.2.9:1")); err != nil {
		t.Errorf("nobody listening: %v", err)
	}
	b.Close()
	a.Close()
}

// TestQuiet: the network is quiet only once no reader holds a datagram it
// took; a reader back in ReadFrom, or no traffic at all, is quiet.
func TestQuiet(t *testing.T) {
	const settle = 10 * time.Millisecond
	n := New()
	a := listen(t, n, netip.AddrPortFrom(ipA, 5060))
	b := listen(t, n, netip.AddrPortFrom(ipB, 0))

	// Nothing sent: quiet.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	select {
	case <-n.Quiet(ctx, settle):
	case <-ctx.Done():
		t.Fatal("an idle network is never quiet")
	}

	// a reads a datagram and holds it: not quiet, however long.
	if _, err := b.WriteTo([]byte("INVITE"), a.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	if _, _, err := a.ReadFrom(buf); err != nil {
		t.Fatal(err)
	}
	held, stop := context.WithTimeout(context.Background(), 20*settle)
	defer stop()
	select {
	case <-n.Quiet(held, settle):
		t.Fatal("quiet while a reader holds a datagram")
	case <-held.Done():
	}
	// AfterQuietOr's limit ends the wait all the same, and not before.
	limited := make(chan time.Time, 1)
	start := time.Now()
	n.AfterQuietOr(settle, 5*settle, func() { limited <- time.Now() })
	select {
	case at := <-limited:
		if at.Sub(start) < 5*settle {
			t.Errorf("the limit of %v ended the wait after %v", 5*settle, at.Sub(start))
		}
	case <-ctx.Done():
		t.Fatal("AfterQuietOr's limit never ended the wait")
	}

	// a comes back for the next datagram: quiet.
	read := make(chan error, 1)
	go func() {
		_, _, err := a.ReadFrom(buf)
		read <- err
	}()
	select {
	case <-n.Quiet(ctx, settle):
	case <-ctx.Done():
		t.Fatal("not quiet with every reader waiting")
	}
	a.Close()
	if err := <-read; !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after close: %v", err)
	}
}

// TestQuietWhileWorking: a goroutine still computing — a handler the SIP
// stack started for a datagram already read, on a machine too busy to
// finish it within the settle time — keeps the network from being quiet,
// though nothing is sent or held.
func TestQuietWhileWorking(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs two Ps: the worker and the watcher")
	}
	const settle = 10 * time.Millisecond
	n := New()
	var stop atomic.Bool
	spun := make(chan struct{})
	go func() {
		defer close(spun)
		for !stop.Load() {
		}
	}()
	busy, cancel := context.WithTimeout(context.Background(), 20*settle)
	defer cancel()
	select {
	case <-n.Quiet(busy, settle):
		t.Error("quiet while a goroutine works")
	case <-busy.Done():
	}
	stop.Store(true)
	<-spun
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	select {
	case <-n.Quiet(ctx, settle):
	case <-ctx.Done():
		t.Fatal("not quiet once the work is done")
	}
}

// blockedIn waits until some goroutine is parked inside fn (a function's
// full name as a stack shows it), by reading the goroutines' stacks: how a
// test knows a waiter is waiting before it acts.
func blockedIn(t *testing.T, fn string) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for i := 0; ; i++ {
		n := runtime.Stack(buf, true)
		for _, g := range bytes.Split(buf[:n], []byte("\n\n")) {
			if bytes.Contains(g, []byte("[select")) && bytes.Contains(g, []byte(fn+"(")) {
				return
			}
		}
		if i == 100000 {
			t.Fatalf("no goroutine waits in %s", fn)
		}
		runtime.Gosched()
	}
}

// Close ends a WaitRead that waits for a reader that will never come.
func TestWaitReadClosed(t *testing.T) {
	n := New()
	a := listen(t, n, netip.AddrPortFrom(ipA, 0))
	b := listen(t, n, netip.AddrPortFrom(ipB, 0))
	a.WriteTo([]byte("unread"), b.LocalAddr()) // nobody reads b
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- n.WaitRead(ctx, b.AddrPort()) }()
	blockedIn(t, "switchboard/simulate/memnet.(*Network).WaitRead")
	b.Close()
	if err := <-done; err != nil {
		t.Fatalf("WaitRead on a connection closed while it waited: %v", err)
	}
}

// A connection's address is one *net.UDPAddr, made when first asked for:
// LocalAddr, the sender's address a read returns and errors share it.
func TestAddrShared(t *testing.T) {
	n := New()
	a := listen(t, n, netip.AddrPortFrom(ipA, 0))
	b := listen(t, n, netip.AddrPortFrom(ipB, 0))
	la := a.LocalAddr().(*net.UDPAddr)
	if la.AddrPort() != a.AddrPort() || a.LocalAddr() != net.Addr(la) {
		t.Fatalf("LocalAddr %v (again %p, first %p), want %v", la, a.LocalAddr(), la, a.AddrPort())
	}
	a.WriteToUDPAddrPort([]byte("x"), b.AddrPort())
	buf := make([]byte, 8)
	_, from, err := b.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if from != net.Addr(la) {
		t.Errorf("read from %v (%p), want a's address %p", from, from, la)
	}
	b.Close()
	_, _, err = b.ReadFrom(buf)
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Addr.String() != b.AddrPort().String() || !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after Close: %v, want a closed error at %v", err, b.AddrPort())
	}
}

// BenchmarkListenClose is a media socket's life as a relay leg has it:
// opened at a free port, handed to a handler, closed.
func BenchmarkListenClose(b *testing.B) {
	n := New()
	ap := netip.AddrPortFrom(ipA, 0)
	b.ReportAllocs()
	for b.Loop() {
		c, err := n.Listen(ap)
		if err != nil {
			b.Fatal(err)
		}
		c.Handle(func([]byte, netip.AddrPort) {}, nil)
		c.Close()
	}
}
