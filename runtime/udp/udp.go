// Package udp sends and receives the server's datagrams — SIP on its
// listener, RTP and RTCP in the media relay — with raw system calls.
//
// Go's net package makes every recvfrom and sendto a blocking-class system
// call: the goroutine's processor is handed to the scheduler on the way in
// and taken back on the way out, and the runtime's monitor thread, asleep
// while the server idles, is woken on the way in and then polls every
// 20 µs for a millisecond before it dozes off again. A UDP socket never
// blocks in recvfrom or sendto — Go opens it non-blocking and waits for it
// through its network poller — so none of that is needed; for a server
// that idles between bursts of small datagrams, it was a sixth of its CPU.
// Conn makes the same calls raw (syscall.RawSyscall6) inside
// syscall.RawConn's Read and Write, which still wait on the poller when
// the socket has nothing to read or no room to write.
//
// Where raw calls are not available (not Linux, not a *net.UDPConn, an
// IPv6 zone), Conn falls back to the socket's own methods.
package udp

import (
	"net"
	"net/netip"
	"time"
)

// Conn is a UDP socket with raw-syscall reads and writes. It is a
// net.PacketConn; Close, LocalAddr and deadlines are the socket's.
// Reads must come from one goroutine at a time; writes may be concurrent.
type Conn struct {
	*net.UDPConn
	raw *raw // nil: the socket's own methods
}

// New wraps c.
func New(c *net.UDPConn) *Conn {
	return &Conn{UDPConn: c, raw: newRaw(c)}
}

// Stamp asks the kernel to stamp every datagram with the time it arrived
// (SO_TIMESTAMPNS), for Received; it reports whether it can. Called once,
// before reading. How long a datagram waited in the socket's receive
// buffer is how far behind its reader is: a measure of overload taken
// where the queue forms (package sipstack, Admission).
func (c *Conn) Stamp() bool { return c.raw != nil && c.raw.stamp() }

// Received is the kernel's receive time of the datagram read last, with
// Stamp; zero without it. Reads come from one goroutine, which asks.
func (c *Conn) Received() time.Time {
	if c.raw == nil {
		return time.Time{}
	}
	return c.raw.received()
}

// ReadFrom reads a datagram into b.
func (c *Conn) ReadFrom(b []byte) (int, net.Addr, error) {
	if c.raw == nil || len(b) == 0 {
		return c.UDPConn.ReadFrom(b)
	}
	n, ap, err := c.raw.read(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(ap), nil
}

// ReadFromNow reads a datagram into b if one is waiting in the socket,
// without waiting for one: ok is false when none is (or when the socket
// cannot be read without waiting: no raw reads here). It lets a reader
// take everything the socket holds and choose what to handle first
// (package sipstack, ReadyConn), at one system call per datagram and
// one more to learn that the socket is empty.
func (c *Conn) ReadFromNow(b []byte) (n int, addr net.Addr, ok bool, err error) {
	if c.raw == nil || len(b) == 0 {
		return 0, nil, false, nil
	}
	n, ap, ok, err := c.raw.readNow(b)
	if !ok || err != nil {
		return 0, nil, false, err
	}
	return n, net.UDPAddrFromAddrPort(ap), true, nil
}

// ReadsNow reports whether ReadFromNow can tell an empty socket from one
// holding a datagram (raw reads); without, it always says empty.
func (c *Conn) ReadsNow() bool { return c.raw != nil }

// ReadFromUDPAddrPort reads a datagram into b.
func (c *Conn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	if c.raw == nil || len(b) == 0 {
		return c.UDPConn.ReadFromUDPAddrPort(b)
	}
	return c.raw.read(b)
}

// WriteTo sends b to addr.
func (c *Conn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.raw != nil {
		if a, ok := addr.(*net.UDPAddr); ok && a.Zone == "" && a.Port >= 0 && a.Port <= 0xffff {
			if ip, ok := netip.AddrFromSlice(a.IP); ok {
				if n, ok, err := c.raw.write(b, netip.AddrPortFrom(ip, uint16(a.Port))); ok {
					return n, err
				}
			}
		}
	}
	return c.UDPConn.WriteTo(b, addr)
}

// WriteToUDPAddrPort sends b to addr.
func (c *Conn) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	if c.raw != nil {
		if n, ok, err := c.raw.write(b, addr); ok {
			return n, err
		}
	}
	return c.UDPConn.WriteToUDPAddrPort(b, addr)
}
