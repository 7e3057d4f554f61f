package media

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"switchboard/runtime/clock"
)

// Pool keeps relay sockets open from one call to the next. Opening and
// closing a call's eight sockets (a door call: the caller and three
// forked legs, RTP and RTCP) is seven system calls a socket — socket,
// setsockopt, bind, getsockname, epoll_ctl twice, close — with the net
// package's allocations around them: about a third of what a relay costs
// a short call (BenchmarkRelayCall, issue 19). A pooled socket costs two
// deadline changes and a read that finds it empty.
//
// A pair is an RTP socket and the RTCP socket above it (one pair per
// stream and party), kept together, per local address and port range. A
// relay done with a pair stops its readers and gives it back; the pair
// then rests for the quarantine before another call may take it, oldest
// first, so the ports a call used are not handed to the next call while
// packets its parties sent before they heard the BYE are still on their
// way. Whatever reached a resting pair is read out and dropped when it is
// taken: a datagram for the old call never reaches the new one's parties.
// What arrives after that is the new call's, subject to its latching rules
// (only its parties' IPs are accepted, see Relay), as for a fresh socket.
//
// A pool is bounded (a pair given back to a full pool is closed) and
// shrinks when idle: a pair unused for the idle time is closed. When
// every port of the range is taken, or no socket can be opened, a resting
// pair is taken before its quarantine ends rather than refusing the call.
// Close closes every pair it holds, and every pair given back after.
type Pool struct {
	listen     ListenFunc
	clk        clock.Clock
	max        int
	quarantine time.Duration
	idle       time.Duration

	mu     sync.Mutex
	closed bool
	free   map[poolKey][]*pair // per key, oldest first
	n      int                 // pairs in free
	sweep  clock.Timer         // pending while free holds any
}

// PoolConfig sets up a Pool; zero values take the defaults.
type PoolConfig struct {
	// Listen opens the sockets; nil means ListenUDP. Only sockets whose
	// reads can be stopped by a deadline and read without waiting (those
	// of ListenUDP) are kept; others are closed when given back.
	Listen ListenFunc
	// Clock times the quarantine and the idle time; nil means clock.Real.
	Clock clock.Clock
	// Max is how many pairs the pool keeps at most (two sockets each).
	Max int
	// Quarantine is how long a pair given back rests before a call may
	// take it.
	Quarantine time.Duration
	// Idle is how long a pair may rest unused before it is closed.
	Idle time.Duration
}

// Pool defaults. At 400 door calls a second, 1 600 pairs a second come
// back: 2 048 pairs (4 096 sockets, well inside serve's default range of
// 5 000 pairs) let most of them rest out a second's quarantine and be
// taken again; beyond that they are closed as without a pool.
const (
	DefaultPoolMax        = 2048
	DefaultPoolQuarantine = time.Second
	DefaultPoolIdle       = 10 * time.Second
)

// NewPool returns an empty pool.
func NewPool(cfg PoolConfig) *Pool {
	p := &Pool{listen: cfg.Listen, clk: cfg.Clock, max: cfg.Max, quarantine: cfg.Quarantine, idle: cfg.Idle,
		free: map[poolKey][]*pair{}}
	if p.listen == nil {
		p.listen = ListenUDP
	}
	if p.clk == nil {
		p.clk = clock.Real
	}
	if p.max <= 0 {
		p.max = DefaultPoolMax
	}
	if p.quarantine <= 0 {
		p.quarantine = DefaultPoolQuarantine
	}
	if p.idle <= 0 {
		p.idle = DefaultPoolIdle
	}
	p.idle = max(p.idle, p.quarantine)
	return p
}

// poolKey is what a pair must match to serve a relay: its local address
// and the relay's port range.
type poolKey struct {
	ip       netip.Addr
	min, max int
}

// pair is the sockets of one stream for one party: RTP, and RTCP above
// it (nil when not opened: a non-RTP stream of a relay without a pool).
type pair struct {
	rtp, rtcp PacketConn
	key       poolKey
	// pool is where the pair goes back when released; nil: it is closed.
	pool *Pool
	// users is the relay's hold and each running reader; the last to let
	// go gives the pair back.
	users atomic.Int32
	back  time.Time // when it was given back; under the pool's mu
}

// PoolStats is what a pool holds.
type PoolStats struct {
	Resting int // pairs in the pool
}

// Stats reports what the pool holds.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PoolStats{Resting: p.n}
}

// take returns a pair for key: the oldest that has rested out its
// quarantine, else a new one from open, else (open failed: the range is
// used up) the oldest resting one.
func (p *Pool) take(key poolKey) (*pair, error) {
	if pr := p.pop(key, true); pr != nil {
		return pr, nil
	}
	a, b, err := openPair(p.listen, key, true)
	if err != nil {
		if pr := p.pop(key, false); pr != nil {
			return pr, nil
		}
		return nil, err
	}
	pr := &pair{rtp: a, rtcp: b, key: key}
	if poolable(a) && poolable(b) {
		pr.pool = p
	}
	pr.users.Store(1)
	return pr, nil
}

// pop takes key's oldest resting pair, only once its quarantine is over
// when rested, and readies it: what waits in its sockets is dropped.
func (p *Pool) pop(key poolKey, rested bool) *pair {
	p.mu.Lock()
	q := p.free[key]
	if p.closed || len(q) == 0 || (rested && p.clk.Now().Sub(q[0].back) < p.quarantine) {
		p.mu.Unlock()
		return nil
	}
	pr := q[0]
	q[0] = nil
	if len(q) == 1 {
		delete(p.free, key)
	} else {
		p.free[key] = q[1:]
	}
	p.n--
	p.mu.Unlock()
	pr.users.Store(1)
	pr.ready()
	return pr
}

// put gives a pair whose readers have stopped back to the pool, or
// closes it.
func (p *Pool) put(pr *pair) {
	p.mu.Lock()
	if p.closed || p.n >= p.max {
		p.mu.Unlock()
		pr.close()
		return
	}
	pr.back = p.clk.Now()
	p.free[pr.key] = append(p.free[pr.key], pr)
	p.n++
	if p.sweep == nil {
		p.sweep = p.clk.AfterFunc(p.idle, p.sweepIdle)
	}
	p.mu.Unlock()
}

// sweepIdle closes the pairs that rested longer than the idle time.
func (p *Pool) sweepIdle() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	now := p.clk.Now()
	var old []*pair
	next := p.idle
	for key, q := range p.free {
		i := 0
		for i < len(q) && now.Sub(q[i].back) >= p.idle {
			i++
		}
		old = append(old, q[:i]...)
		clear(q[:i])
		if i == len(q) {
			delete(p.free, key)
			continue
		}
		p.free[key] = q[i:]
		next = min(next, p.idle-now.Sub(q[i].back))
	}
	p.n -= len(old)
	p.sweep = nil
	if p.n > 0 {
		p.sweep = p.clk.AfterFunc(next, p.sweepIdle)
	}
	p.mu.Unlock()
	for _, pr := range old {
		pr.close()
	}
}

// Close closes every pair in the pool; pairs in use are closed when
// their relays are done with them.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	if p.sweep != nil {
		p.sweep.Stop()
		p.sweep = nil
	}
	var all []*pair
	for _, q := range p.free {
		all = append(all, q...)
	}
	p.free, p.n = nil, 0
	p.mu.Unlock()
	var errs []error
	for _, pr := range all {
		errs = append(errs, pr.close())
	}
	return errors.Join(errs...)
}

// deadliner is a socket whose reads a deadline can stop.
type deadliner interface {
	SetReadDeadline(t time.Time) error
}

// poolable reports whether c can be kept between calls: its reader can
// be stopped without closing it, and what waits in it read out without
// waiting.
func poolable(c PacketConn) bool {
	if _, ok := c.(HandlerConn); ok {
		return false
	}
	_, ok := c.(deadliner)
	r, now := c.(nowReader)
	return ok && now && r.ReadsNow()
}

// stopReads makes the pair's readers return (a deadline in the past)
// without closing its sockets.
func (pr *pair) stopReads() {
	for _, c := range []PacketConn{pr.rtp, pr.rtcp} {
		if c != nil {
			c.(deadliner).SetReadDeadline(time.Unix(1, 0))
		}
	}
}

// ready makes a pair taken from the pool readable again and drops what
// reached it while it rested, at most a receive buffer's worth a socket
// (maxCatchUp): a flood beyond that is a stranger's, which the new call's
// sockets drop as any stranger's.
func (pr *pair) ready() {
	b := rtcpBufs.Get().(*[rtcpBufSize]byte)
	defer rtcpBufs.Put(b)
	for _, c := range []PacketConn{pr.rtp, pr.rtcp} {
		c.(deadliner).SetReadDeadline(time.Time{})
		r := c.(nowReader)
		for range maxCatchUp {
			if _, _, ok, err := r.ReadFromNow(b[:]); !ok || err != nil {
				break
			}
		}
	}
}

// release is the relay letting go of the pair: a pooled pair's readers
// are stopped, and it goes back once the last has returned; any other is
// closed.
func (pr *pair) release() error {
	var err error
	if pr.pool != nil {
		pr.stopReads()
	} else {
		err = pr.close()
	}
	pr.done()
	return err
}

// done is one user letting go of the pair.
func (pr *pair) done() {
	if pr.users.Add(-1) == 0 && pr.pool != nil {
		pr.pool.put(pr)
	}
}

func (pr *pair) close() error {
	var errs []error
	for _, c := range []PacketConn{pr.rtp, pr.rtcp} {
		if c == nil {
			continue
		}
		if err := c.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
