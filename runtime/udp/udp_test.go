package udp_test

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/udp"
)

func listen(t *testing.T, network, addr string) *udp.Conn {
	t.Helper()
	c, err := net.ListenPacket(network, addr)
	if err != nil {
		t.Skipf("%s %s: %v", network, addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return udp.New(c.(*net.UDPConn))
}

// TestExchange sends datagrams both ways between sockets of every family
// the host has, through every method, and checks what arrives from where.
func TestExchange(t *testing.T) {
	for _, tc := range []struct {
		name          string
		network, a, b string
	}{
		{name: "IPv4", network: "udp4", a: "127.0.0.1:0", b: "127.0.0.1:0"},
		{name: "IPv6", network: "udp6", a: "[::1]:0", b: "[::1]:0"},
		{name: "dual-stack to IPv4", network: "udp", a: "[::]:0", b: "127.0.0.1:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := listen(t, tc.network, tc.a)
			bNet := tc.network
			if tc.name == "dual-stack to IPv4" {
				bNet = "udp4"
			}
			b := listen(t, bNet, tc.b)
			bAddr := b.LocalAddr().(*net.UDPAddr).AddrPort()
			for i, send := range []func(p []byte) (int, error){
				func(p []byte) (int, error) { return a.WriteTo(p, net.UDPAddrFromAddrPort(bAddr)) },
				func(p []byte) (int, error) { return a.WriteToUDPAddrPort(p, bAddr) },
			} {
				msg := []byte{'m', byte('0' + i)}
				if n, err := send(msg); err != nil || n != len(msg) {
					t.Fatalf("send %d: %d, %v", i, n, err)
				}
				_ = b.SetReadDeadline(time.Now().Add(10 * time.Second))
				buf := make([]byte, 64)
				n, from, err := b.ReadFromUDPAddrPort(buf)
				if err != nil || string(buf[:n]) != string(msg) {
					t.Fatalf("received %q, %v; want %q", buf[:n], err, msg)
				}
				if from.Port() != uint16(a.LocalAddr().(*net.UDPAddr).Port) {
					t.Errorf("from %v, want port %d", from, a.LocalAddr().(*net.UDPAddr).Port)
				}
				// And back, to where it came from, read by ReadFrom.
				if _, err := b.WriteTo([]byte("re"), net.UDPAddrFromAddrPort(from)); err != nil {
					t.Fatal(err)
				}
				_ = a.SetReadDeadline(time.Now().Add(10 * time.Second))
				n, addr, err := a.ReadFrom(buf)
				if err != nil || string(buf[:n]) != "re" {
					t.Fatalf("reply: %q, %v", buf[:n], err)
				}
				if got := addr.(*net.UDPAddr).AddrPort(); got.Addr().Unmap() != bAddr.Addr().Unmap() || got.Port() != bAddr.Port() {
					t.Errorf("reply from %v, want %v", got, bAddr)
				}
			}
		})
	}
}

// TestTruncated reads a datagram into a buffer too short for it: the
// start arrives, as with the socket's own reads.
func TestTruncated(t *testing.T) {
	a, b := listen(t, "udp4", "127.0.0.1:0"), listen(t, "udp4", "127.0.0.1:0")
	if _, err := a.WriteTo([]byte("0123456789"), b.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	_ = b.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4)
	n, _, err := b.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "0123" {
		t.Errorf("read %q, %v; want %q", buf[:n], err, "0123")
	}
}

// TestDeadlineAndClose checks that a read waits on the poller: it ends at
// its deadline with a timeout, and when the socket closes with
// net.ErrClosed.
func TestDeadlineAndClose(t *testing.T) {
	c := listen(t, "udp4", "127.0.0.1:0")
	_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
	buf := make([]byte, 16)
	if _, _, err := c.ReadFrom(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read past its deadline: %v, want a timeout", err)
	}
	_ = c.SetReadDeadline(time.Time{})
	var wg sync.WaitGroup
	var err error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _, err = c.ReadFrom(buf)
	}()
	c.Close()
	wg.Wait()
	if !errors.Is(err, net.ErrClosed) {
		t.Errorf("read on a closed socket: %v, want net.ErrClosed", err)
	}
	if _, err := c.WriteToUDPAddrPort([]byte("x"), netip.MustParseAddrPort("127.0.0.1:9")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write on a closed socket: %v, want net.ErrClosed", err)
	}
}

// TestConcurrentWrites sends from many goroutines at once; every datagram
// arrives whole.
func TestConcurrentWrites(t *testing.T) {
	a, b := listen(t, "udp4", "127.0.0.1:0"), listen(t, "udp4", "127.0.0.1:0")
	to := b.LocalAddr().(*net.UDPAddr).AddrPort()
	const senders, each = 8, 16 // within the receiving socket's buffer
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if _, err := a.WriteToUDPAddrPort([]byte{'s', byte(s)}, to); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	got := map[byte]int{}
	buf := make([]byte, 16)
	_ = b.SetReadDeadline(time.Now().Add(10 * time.Second))
	for range senders * each {
		n, _, err := b.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		if n != 2 || buf[0] != 's' {
			t.Fatalf("datagram %q", buf[:n])
		}
		got[buf[1]]++
	}
	wg.Wait()
	for s := range senders {
		if got[byte(s)] != each {
			t.Errorf("sender %d: %d datagrams arrived, want %d", s, got[byte(s)], each)
		}
	}
}

// TestStamp: with Stamp, Received is the kernel's receive time of the
// datagram just read: after it was sent, before it was read, and it
// changes with the next datagram.
func TestStamp(t *testing.T) {
	a := listen(t, "udp4", "127.0.0.1:0")
	b := listen(t, "udp4", "127.0.0.1:0")
	if !b.Stamp() {
		t.Skip("no receive timestamps here")
	}
	if !b.Received().IsZero() {
		t.Fatalf("Received before any read: %v", b.Received())
	}
	_ = b.SetReadDeadline(time.Now().Add(10 * time.Second))
	var last time.Time
	for i := range 2 {
		sent := time.Now().Round(0) // wall clock: the kernel's is wall time
		if _, err := a.WriteTo([]byte{'s', byte('0' + i)}, b.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, _, err := b.ReadFrom(buf)
		read := time.Now().Round(0)
		if err != nil || n != 2 {
			t.Fatalf("read %d, %v", n, err)
		}
		got := b.Received()
		// The kernel stamps with a coarser clock than time.Now: allow it
		// a millisecond before the send.
		if got.Before(sent.Add(-time.Millisecond)) || got.After(read) {
			t.Fatalf("datagram %d: received at %v, sent at %v, read at %v", i, got, sent, read)
		}
		if !got.After(last) {
			t.Fatalf("datagram %d: received at %v, not after the previous one's %v", i, got, last)
		}
		last = got
	}
}

// TestReadFromNow: a read that does not wait takes what the socket holds,
// in order and with each datagram's stamp, and then says it is empty at
// once, where ReadFrom would wait.
func TestReadFromNow(t *testing.T) {
	a := listen(t, "udp4", "127.0.0.1:0")
	b := listen(t, "udp4", "127.0.0.1:0")
	stamped := b.Stamp()
	buf := make([]byte, 64)
	if n, addr, ok, err := b.ReadFromNow(buf); ok || err != nil {
		t.Fatalf("an empty socket read %d from %v (ok %v, %v)", n, addr, ok, err)
	}
	const sent = 3
	for i := range sent {
		if _, err := a.WriteTo([]byte{'n', byte('0' + i)}, b.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	var last time.Time
	for len(got) < sent {
		n, addr, ok, err := b.ReadFromNow(buf)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			// Loopback delivers before WriteTo returns, so every
			// datagram is in by now.
			t.Fatalf("the socket empty after %q, want %d datagrams", got, sent)
		}
		if addr.(*net.UDPAddr).Port != a.LocalAddr().(*net.UDPAddr).Port {
			t.Errorf("from %v, want %v", addr, a.LocalAddr())
		}
		if stamped {
			if r := b.Received(); r.IsZero() || r.Before(last) {
				t.Errorf("datagram %q stamped %v, after %v", buf[:n], r, last)
			} else {
				last = r
			}
		}
		got = append(got, string(buf[:n]))
	}
	if diff := cmp.Diff([]string{"n0", "n1", "n2"}, got); diff != "" {
		t.Errorf("datagrams read (-want +got):\n%s", diff)
	}
	if _, _, ok, err := b.ReadFromNow(buf); ok || err != nil {
		t.Fatalf("a drained socket read something (ok %v, %v)", ok, err)
	}
	b.Close()
	if _, _, ok, err := b.ReadFromNow(buf); ok || !errors.Is(err, net.ErrClosed) {
		t.Errorf("a closed socket: ok %v, %v, want net.ErrClosed", ok, err)
	}
}
