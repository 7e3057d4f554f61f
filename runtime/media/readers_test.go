package media

import (
	"net/netip"
	"sync"
	"testing"
	"time"
)

// readers watches the sockets of a relay or endpoint (Config.Listen) for
// the moment their readers come back for another datagram: each socket
// has one reading goroutine, and one that asks again is done with the
// datagram before, forwarded or dropped and counted. A dropped packet
// leaves nothing else to wait on.
type readers struct {
	mu   sync.Mutex
	back chan struct{} // closed (and replaced) when a reader asks again
}

// listen is a ListenFunc: ListenUDP's sockets, watched.
func (w *readers) listen(laddr netip.AddrPort) (PacketConn, error) {
	c, err := ListenUDP(laddr)
	if err != nil {
		return nil, err
	}
	return &watchedConn{PacketConn: c, w: w}, nil
}

// next is closed the next time a reader, having read a datagram, asks
// for another.
func (w *readers) next() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.back == nil {
		w.back = make(chan struct{})
	}
	return w.back
}

func (w *readers) asked() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.back != nil {
		close(w.back)
		w.back = nil
	}
}

// until waits until cond holds, looking again each time a reader is done
// with a datagram; what cond looks at changes only while one is handled.
// It fails after 5 s with what(), the state cond saw.
func (w *readers) until(t testing.TB, cond func() bool, what func() string) {
	t.Helper()
	limit := time.NewTimer(5 * time.Second)
	defer limit.Stop()
	for {
		back := w.next()
		if cond() {
			return
		}
		select {
		case <-back:
		case <-limit.C:
			t.Fatalf("not reached: %s", what())
		}
	}
}

type watchedConn struct {
	PacketConn
	w    *readers
	read bool // a datagram was read; only the reading goroutine touches it
}

func (c *watchedConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	if c.read {
		c.w.asked()
	}
	n, from, err := c.PacketConn.ReadFromUDPAddrPort(b)
	c.read = err == nil
	return n, from, err
}
