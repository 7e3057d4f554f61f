//go:build linux

package udp

import (
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// raw makes recvfrom and sendto on one socket as raw system calls.
type raw struct {
	rc    syscall.RawConn
	laddr net.Addr
	inet6 bool // an AF_INET6 socket: IPv4 peers as v4-mapped addresses

	// The reader's state: Conn's reads come one at a time, so readFn (a
	// method value made once) needs no allocation per call.
	rbuf   []byte
	rn     int
	rfrom  netip.AddrPort
	rerr   error
	rsa    syscall.RawSockaddrAny
	readFn func(uintptr) bool
	// nowFn is readFn for a read that does not wait: it reports done
	// whatever the socket had, and rnone says it had nothing.
	nowFn func(uintptr) bool
	rnone bool

	// With stamps, reads are recvmsg with the kernel's receive time
	// (SO_TIMESTAMPNS) in oob, kept in rstamp.
	stamps bool
	oob    [64]byte
	iov    syscall.Iovec
	msg    syscall.Msghdr
	rstamp time.Time
}

// writer is the state of one write; pooled, with its method value. One
// pool for every socket: a relay opens eight sockets a door call, and a
// pool of each socket's own cost a registration with the runtime (under
// its lock) and a per-processor array the first time it was used.
var writers = sync.Pool{New: func() any {
	w := new(writer)
	w.fn = w.doWrite
	return w
}}

// writer is the state of one write.
type writer struct {
	b     []byte
	sa    syscall.RawSockaddrInet6 // or a RawSockaddrInet4 in its first bytes
	salen uintptr
	n     int
	err   error
	fn    func(uintptr) bool
}

func newRaw(c *net.UDPConn) *raw {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	// The socket's family, from the address the net package read with
	// getsockname when it opened the socket: 4 bytes for AF_INET, 16 for
	// AF_INET6 (net.UDPAddr from the kernel's sockaddr), without asking
	// the kernel again for every socket the relay opens.
	la, ok := c.LocalAddr().(*net.UDPAddr)
	if !ok || (len(la.IP) != net.IPv4len && len(la.IP) != net.IPv6len) {
		return nil
	}
	r := &raw{rc: rc, laddr: la, inet6: len(la.IP) == net.IPv6len}
	r.readFn = r.doRead
	r.nowFn = r.doReadNow
	return r
}

// read reads a datagram into b, which is not empty.
func (r *raw) read(b []byte) (int, netip.AddrPort, error) {
	r.rbuf = b
	err := r.rc.Read(r.readFn)
	r.rbuf = nil
	switch {
	case err != nil:
		return 0, netip.AddrPort{}, err
	case r.rerr != nil:
		return 0, netip.AddrPort{}, &net.OpError{Op: "read", Net: "udp", Source: r.laddr, Err: r.rerr}
	}
	return r.rn, r.rfrom, nil
}

// readNow is read without waiting: ok is false when the socket has no
// datagram queued.
func (r *raw) readNow(b []byte) (n int, from netip.AddrPort, ok bool, err error) {
	r.rbuf, r.rnone = b, false
	err = r.rc.Read(r.nowFn)
	r.rbuf = nil
	switch {
	case err != nil:
		return 0, netip.AddrPort{}, false, err
	case r.rnone:
		return 0, netip.AddrPort{}, false, nil
	case r.rerr != nil:
		return 0, netip.AddrPort{}, false, &net.OpError{Op: "read", Net: "udp", Source: r.laddr, Err: r.rerr}
	}
	return r.rn, r.rfrom, true, nil
}

// doReadNow is doRead that never asks the poller to wait.
func (r *raw) doReadNow(fd uintptr) bool {
	if !r.doRead(fd) {
		r.rnone = true
	}
	return true
}

// stamp asks the kernel for the receive time of every datagram read
// from now on.
func (r *raw) stamp() bool {
	var serr error
	if err := r.rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return false
	}
	r.stamps = true
	return true
}

// received is the kernel's receive time of the datagram read last; zero
// when it gave none.
func (r *raw) received() time.Time { return r.rstamp }

func (r *raw) doRead(fd uintptr) bool {
	if r.stamps {
		return r.doReadMsg(fd)
	}
	for {
		salen := uint32(syscall.SizeofSockaddrAny)
		n, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&r.rbuf[0])), uintptr(len(r.rbuf)), 0,
			uintptr(unsafe.Pointer(&r.rsa)), uintptr(unsafe.Pointer(&salen)))
		switch e {
		case 0:
			r.rn, r.rfrom, r.rerr = int(n), addrPort(&r.rsa), nil
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		r.rn, r.rerr = 0, os.NewSyscallError("recvfrom", e)
		return true
	}
}

// doReadMsg is doRead with recvmsg, for the receive time.
func (r *raw) doReadMsg(fd uintptr) bool {
	for {
		r.iov.Base = &r.rbuf[0]
		r.iov.SetLen(len(r.rbuf))
		r.msg = syscall.Msghdr{Name: (*byte)(unsafe.Pointer(&r.rsa)), Namelen: syscall.SizeofSockaddrAny, Iov: &r.iov, Control: &r.oob[0]}
		r.msg.Iovlen = 1
		r.msg.SetControllen(len(r.oob))
		n, _, e := syscall.RawSyscall(syscall.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&r.msg)), 0)
		switch e {
		case 0:
			r.rn, r.rfrom, r.rerr = int(n), addrPort(&r.rsa), nil
			r.rstamp = timestamp(r.oob[:r.msg.Controllen])
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		r.rn, r.rerr, r.rstamp = 0, os.NewSyscallError("recvmsg", e), time.Time{}
		return true
	}
}

// timestamp finds SCM_TIMESTAMPNS in the control messages oob, without
// allocating (syscall.ParseSocketControlMessage would, per datagram).
func timestamp(oob []byte) time.Time {
	hdr := syscall.CmsgLen(0)
	for len(oob) >= hdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdr || l > len(oob) {
			return time.Time{}
		}
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SCM_TIMESTAMPNS && l-hdr >= int(unsafe.Sizeof(syscall.Timespec{})) {
			ts := (*syscall.Timespec)(unsafe.Pointer(&oob[hdr]))
			return time.Unix(int64(ts.Sec), int64(ts.Nsec))
		}
		oob = oob[min(syscall.CmsgSpace(l-hdr), len(oob)):]
	}
	return time.Time{}
}

// addrPort reads the source address recvfrom wrote.
func addrPort(sa *syscall.RawSockaddrAny) netip.AddrPort {
	switch sa.Addr.Family {
	case syscall.AF_INET:
		p := (*syscall.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(p.Addr), port(&p.Port))
	case syscall.AF_INET6:
		p := (*syscall.RawSockaddrInet6)(unsafe.Pointer(sa))
		a := netip.AddrFrom16(p.Addr)
		if p.Scope_id != 0 {
			a = a.WithZone(zoneName(p.Scope_id))
		}
		return netip.AddrPortFrom(a, port(&p.Port))
	}
	return netip.AddrPort{}
}

// port reads a port in network byte order.
func port(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}

func setPort(p *uint16, v uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(v>>8), byte(v)
}

func zoneName(index uint32) string {
	if name, ok := zoneNames.Load(index); ok {
		return name.(string)
	}
	name := strconv.FormatUint(uint64(index), 10)
	if ifi, err := net.InterfaceByIndex(int(index)); err == nil {
		name = ifi.Name
	}
	zoneNames.Store(index, name)
	return name
}

// zoneNames caches interface names by index: InterfaceByIndex asks the
// kernel for every interface, too much for each datagram from a
// link-local peer. (An interface renamed while serving keeps its old name
// here; the numeric zone still works where the name would.)
var zoneNames sync.Map // uint32 → string

// write sends b to ap; ok is false when the raw path cannot address it
// (an IPv6 peer on an IPv4 socket, an empty datagram).
func (r *raw) write(b []byte, ap netip.AddrPort) (n int, ok bool, err error) {
	a := ap.Addr()
	if len(b) == 0 || a.Zone() != "" || (!r.inet6 && !a.Unmap().Is4()) {
		return 0, false, nil
	}
	w := writers.Get().(*writer)
	w.b = b
	if r.inet6 {
		w.sa = syscall.RawSockaddrInet6{Family: syscall.AF_INET6, Addr: a.As16()}
		setPort(&w.sa.Port, ap.Port())
		w.salen = syscall.SizeofSockaddrInet6
	} else {
		sa4 := (*syscall.RawSockaddrInet4)(unsafe.Pointer(&w.sa))
		*sa4 = syscall.RawSockaddrInet4{Family: syscall.AF_INET, Addr: a.Unmap().As4()}
		setPort(&sa4.Port, ap.Port())
		w.salen = syscall.SizeofSockaddrInet4
	}
	werr := r.rc.Write(w.fn)
	n, err = w.n, w.err
	w.b, w.err = nil, nil
	writers.Put(w)
	switch {
	case werr != nil:
		return 0, true, werr
	case err != nil:
		return 0, true, &net.OpError{Op: "write", Net: "udp", Source: r.laddr, Addr: net.UDPAddrFromAddrPort(ap), Err: err}
	}
	return n, true, nil
}

func (w *writer) doWrite(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&w.b[0])), uintptr(len(w.b)), 0,
			uintptr(unsafe.Pointer(&w.sa)), w.salen)
		switch e {
		case 0:
			w.n, w.err = int(n), nil
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		w.n, w.err = 0, os.NewSyscallError("sendto", e)
		return true
	}
}
