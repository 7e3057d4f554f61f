package media

import (
	"net"
	"sync"
	"time"
)

// SocketPool keeps the sockets of finished calls open for the next ones.
//
// A door call opens eight sockets (RTP and RTCP for the caller and for
// each of three callees) and closes them a moment later. Opening one is
// four system calls (socket, setsockopt, bind, getsockname) and an entry
// in the runtime's network poller, closing it two more; and the
// setsockopt and the close are blocking-class calls that wake the Go
// runtime's monitor thread whenever the server was idle an instant
// before, which then polls every 20 µs for a millisecond. Measured with
// perf on serve at 200 door calls a second (bench/sip, issue 19):
// opening 3.9 %, closing 4.0 % and the monitor thread 6.1 % of the
// server's CPU. A socket kept here costs none of that when it is used
// again: it is handed over with its port, its buffer emptied first.
//
// What a socket carries from its last call: datagrams that were in
// flight to it. They are read out and dropped when it is taken again
// (Get), and a socket rests quarantine in the pool before it is taken at
// all, so that the stragglers of the call that just ended are in its
// buffer by then, not on their way. A party of an old call that keeps
// sending for longer (it never heard the BYE) meets a socket that
// latches afresh and accepts only the new call's parties, as a port
// picked anew from the range would.
//
// The pool holds at most max pairs and none longer than idle: a server
// that goes quiet keeps a few ports, not the range.
type SocketPool struct {
	quarantine, idle time.Duration
	max              int
	now              func() time.Time

	mu     sync.Mutex
	closed bool
	// pairs are the sockets at rest, oldest first, by whether they are
	// an RTP/RTCP pair (true) or a single socket.
	pairs map[bool][]pooled
	// sweeper closes what rested past idle while nothing is taken or
	// put (a server gone quiet); nil while the pool is empty.
	sweeper *time.Timer
}

// pooled is a socket (and its RTCP partner) at rest since at.
type pooled struct {
	a, b PacketConn
	at   time.Time
}

// poolConn is what a pooled socket must do beyond PacketConn: be read
// without waiting (to empty it) and have its reader stopped without
// closing it (package udp's Conn).
type poolConn interface {
	PacketConn
	ReadFromNow(b []byte) (n int, addr net.Addr, ok bool, err error)
	SetReadDeadline(t time.Time) error
}

// Defaults of NewSocketPool.
const (
	// poolQuarantine is how long a socket rests before it is used again:
	// far longer than a datagram is in flight on a site's network.
	poolQuarantine = 250 * time.Millisecond
	// poolIdle is how long a socket may rest unused before it is closed.
	poolIdle = 30 * time.Second
	// poolMax bounds the pairs at rest: at 800 door calls a second
	// (3 200 pairs released a second) the pool is a quarter of a second
	// deep, its quarantine; a quarter of a small range at most.
	poolMax = 1024
)

// NewSocketPool returns a pool for relays whose sockets come from the
// range portMin-portMax (both zero: ports the kernel picks).
func NewSocketPool(portMin, portMax int) *SocketPool {
	max := poolMax
	if portMin != 0 || portMax != 0 {
		// A quarter of the range's pairs, so that the relays and the
		// voicemail endpoints, which scan the range, still find ports.
		max = min(max, (portMax-portMin+1)/2/4)
	}
	return newSocketPool(poolQuarantine, poolIdle, max, time.Now)
}

func newSocketPool(quarantine, idle time.Duration, max int, now func() time.Time) *SocketPool {
	return &SocketPool{quarantine: quarantine, idle: idle, max: max, now: now, pairs: map[bool][]pooled{}}
}

// get takes a socket (with rtcp, an RTP/RTCP pair) that rested at least
// the quarantine, or with anyway, the oldest at rest; ok is false when
// there is none. Its buffered datagrams are dropped.
func (p *SocketPool) get(rtcp, anyway bool) (a, b PacketConn, ok bool) {
	if p == nil {
		return nil, nil, false
	}
	p.mu.Lock()
	now := p.now()
	stale := p.expire(now)
	q := p.pairs[rtcp]
	if len(q) > 0 && (anyway || now.Sub(q[0].at) >= p.quarantine) {
		e := q[0]
		q[0] = pooled{}
		p.pairs[rtcp] = q[1:]
		a, b, ok = e.a, e.b, true
	}
	p.mu.Unlock()
	closeAll(stale)
	if ok {
		empty(a)
		if b != nil {
			empty(b)
		}
	}
	return a, b, ok
}

// put rests a socket (and its RTCP partner b, nil for none) whose reader
// has stopped; it is closed instead when the pool is full or closed.
func (p *SocketPool) put(a, b PacketConn) {
	p.mu.Lock()
	now := p.now()
	stale := p.expire(now)
	rtcp := b != nil
	if p.closed || len(p.pairs[false])+len(p.pairs[true]) >= p.max {
		stale = append(stale, a)
		if b != nil {
			stale = append(stale, b)
		}
	} else {
		p.pairs[rtcp] = append(p.pairs[rtcp], pooled{a: a, b: b, at: now})
		if p.sweeper == nil {
			p.sweeper = time.AfterFunc(p.idle, p.sweep)
		}
	}
	p.mu.Unlock()
	closeAll(stale)
}

// sweep closes what rested past idle, and comes back while anything
// rests.
func (p *SocketPool) sweep() {
	p.mu.Lock()
	stale := p.expire(p.now())
	if len(p.pairs[false])+len(p.pairs[true]) > 0 && !p.closed {
		p.sweeper.Reset(p.idle)
	} else {
		p.sweeper = nil
	}
	p.mu.Unlock()
	closeAll(stale)
}

// expire takes out of the pool what rested longer than idle, for the
// caller to close once p.mu is released. p.mu is held.
func (p *SocketPool) expire(now time.Time) []PacketConn {
	var out []PacketConn
	for k, q := range p.pairs {
		n := 0
		for n < len(q) && now.Sub(q[n].at) > p.idle {
			out = append(out, q[n].a)
			if q[n].b != nil {
				out = append(out, q[n].b)
			}
			q[n] = pooled{}
			n++
		}
		p.pairs[k] = q[n:]
	}
	return out
}

// Len is how many sockets rest in the pool.
func (p *SocketPool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, q := range p.pairs {
		for _, e := range q {
			n++
			if e.b != nil {
				n++
			}
		}
	}
	return n
}

// Close closes the sockets at rest, and those put later.
func (p *SocketPool) Close() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	p.closed = true
	if p.sweeper != nil {
		p.sweeper.Stop()
		p.sweeper = nil
	}
	var out []PacketConn
	for k, q := range p.pairs {
		for _, e := range q {
			out = append(out, e.a)
			if e.b != nil {
				out = append(out, e.b)
			}
		}
		delete(p.pairs, k)
	}
	p.mu.Unlock()
	return closeAll(out)
}

// poolable reports whether c can rest in a pool.
func poolable(c PacketConn) bool {
	_, ok := c.(poolConn)
	return ok
}

// empty reads out and drops what c holds, without waiting.
func empty(c PacketConn) {
	pc := c.(poolConn)
	var buf [rtcpBufSize]byte
	for {
		if _, _, ok, err := pc.ReadFromNow(buf[:]); !ok || err != nil {
			return
		}
	}
}

// stopReader makes the read c's reader waits in return at once, without
// closing c: a deadline in the past (no system call).
func stopReader(c PacketConn) { _ = c.(poolConn).SetReadDeadline(time.Unix(1, 0)) }

// resumeReads clears the deadline stopReader set.
func resumeReads(c PacketConn) { _ = c.(poolConn).SetReadDeadline(time.Time{}) }
