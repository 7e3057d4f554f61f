package media

import (
	"net"
	"sync"
	"sync/atomic"
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
// What a socket carries from its last call: datagrams sent to it. A
// party of an ended call that keeps sending (it never heard the BYE)
// must never reach the next call on that socket: parties often share an
// IP (one NAT for a building, a carrier's media gateway, an SBC), which
// latching accepts, so its stream would mix into the new call both ways.
// A socket therefore rests quarantine in the pool, its reader stopped,
// and is handed out only if nothing at all arrived during its rest (one
// read without waiting when it is taken); one that received anything is
// closed instead, for good, and its port goes back to the kernel. A
// party of an old call is then in the next call only if it fell silent
// for longer than the quarantine and spoke again just after the socket
// was taken: what a port picked anew from the range risks too.
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
	tainted atomic.Uint64
}

// pooled is a socket (and its RTCP partner) at rest since at.
type pooled struct {
	a, b PacketConn
	at   time.Time
}

// poolConn is what a pooled socket must do beyond PacketConn: be read
// without waiting (to tell whether anything arrived while it rested) and
// have its reader stopped without closing it (package udp's Conn).
type poolConn interface {
	PacketConn
	ReadsNow() bool
	ReadFromNow(b []byte) (n int, addr net.Addr, ok bool, err error)
	SetReadDeadline(t time.Time) error
}

// Defaults of NewSocketPool.
const (
	// poolQuarantine is how long a socket rests before it is used again:
	// far longer than a datagram is in flight on a site's network, and
	// than the gap between two packets of a stream that is still being
	// sent (20-60 ms for audio, a few hundred for comfort noise), so a
	// party of the ended call that still sends is caught sending. Twice
	// that would need twice the pool (bench/sip at 800 door calls a
	// second: 1 s of rest kept the default range's pool full and cost
	// more than it saved).
	poolQuarantine = 500 * time.Millisecond
	// poolIdle is how long a socket may rest unused before it is closed.
	poolIdle = 30 * time.Second
	// poolMax bounds the pairs at rest: at 800 door calls a second
	// (3 200 pairs released a second) the pool is half a second deep,
	// its quarantine; half a range at most.
	poolMax = 4096
)

// NewSocketPool returns a pool for relays whose sockets come from the
// range portMin-portMax (both zero: ports the kernel picks).
func NewSocketPool(portMin, portMax int) *SocketPool {
	max := poolMax
	if portMin != 0 || portMax != 0 {
		// Half the range's pairs, so that the relays and the voicemail
		// endpoints, which scan the range, still find ports: serve's
		// default range (5 000 pairs) rests 2 500, what 800 door calls
		// a second release in the quarantine with room to spare.
		max = min(max, (portMax-portMin+1)/2/2)
	}
	return newSocketPool(poolQuarantine, poolIdle, max, time.Now)
}

func newSocketPool(quarantine, idle time.Duration, max int, now func() time.Time) *SocketPool {
	return &SocketPool{quarantine: quarantine, idle: idle, max: max, now: now, pairs: map[bool][]pooled{}}
}

// get takes a socket (with rtcp, an RTP/RTCP pair) that rested at least
// the quarantine and received nothing while it rested; ok is false when
// there is none. A pair that received anything is closed, never handed
// out (SocketPool).
func (p *SocketPool) get(rtcp bool) (a, b PacketConn, ok bool) {
	if p == nil {
		return nil, nil, false
	}
	var stale []PacketConn
	defer func() { closeAll(stale) }()
	for {
		p.mu.Lock()
		now := p.now()
		stale = append(stale, p.expire(now)...)
		q := p.pairs[rtcp]
		if len(q) == 0 || now.Sub(q[0].at) < p.quarantine {
			p.mu.Unlock()
			return nil, nil, false
		}
		e := q[0]
		q[0] = pooled{}
		p.pairs[rtcp] = q[1:]
		p.mu.Unlock()
		if quiet(e.a) && (e.b == nil || quiet(e.b)) {
			return e.a, e.b, true
		}
		p.tainted.Add(1)
		stale = append(stale, e.a)
		if e.b != nil {
			stale = append(stale, e.b)
		}
	}
}

// flush closes every socket at rest: the port range is used up, and a
// resting socket is not handed out before its quarantine.
func (p *SocketPool) flush() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
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
	p.mu.Unlock()
	return p.flush()
}

// Tainted is how many sockets (pairs count once) were closed instead of
// handed out because something arrived for them while they rested.
func (p *SocketPool) Tainted() uint64 { return p.tainted.Load() }

// poolable reports whether c can rest in a pool.
func poolable(c PacketConn) bool {
	pc, ok := c.(poolConn)
	return ok && pc.ReadsNow()
}

// quiet reports whether nothing waits in c: one read without waiting.
// What it read, if anything, is lost with c, which is closed.
func quiet(c PacketConn) bool {
	var buf [rtcpBufSize]byte
	_, _, ok, err := c.(poolConn).ReadFromNow(buf[:])
	return !ok && err == nil
}

// stopReader makes the read c's reader waits in return at once, without
// closing c: a deadline in the past (no system call).
func stopReader(c PacketConn) { _ = c.(poolConn).SetReadDeadline(time.Unix(1, 0)) }

// resumeReads clears the deadline stopReader set.
func resumeReads(c PacketConn) { _ = c.(poolConn).SetReadDeadline(time.Time{}) }
