package sipstack

import (
	"bytes"
	"net"
	"runtime"
	"sync/atomic"
	"time"
)

// The priority read path (issue 19, point 4): over UDP the read loop
// takes everything its socket holds into two bounded queues and hands
// sipgo first what continues work already admitted — responses, ACK, BYE,
// CANCEL, PRACK, anything inside a dialog — and only then new requests
// (an INVITE, REGISTER or SUBSCRIBE without a To tag).
//
// A socket is a first-in first-out queue: when the server falls behind,
// the ACKs and answers of calls it admitted wait behind every new INVITE
// that arrived before them, each of which costs at least a scan and a
// send to refuse, or a parse and a challenge. A call crosses that queue
// four or five times while it is set up, so it pays the backlog of new
// calls four or five times, and past T1 (500 ms) its messages are
// retransmitted, more work still. Read in priority order, an admitted
// call's messages wait only for the read loop's next turn; the backlog,
// if any, is new requests, whose wait is then measured exactly: from the
// kernel's receive stamp to the moment the read loop takes it from its
// queue (Admission.Waited), the time in the socket and in ours together.
// A new INVITE that finds that wait standing past the limit is refused
// (503 with Retry-After) from a scan, as before, when it leaves the
// queue.
//
// Memory is bounded: urgentDepth datagrams wait in the urgent queue (when
// it is full the rest stay in the socket, whose own buffer bounds them),
// freshDepth in the new queue, whose oldest request is taken up out of
// its turn when another comes (drain); a slot keeps a buffer of at most
// slotKeep bytes between datagrams. It makes no goroutine: the reads are
// the read loop's, at one system call per datagram and one more to find
// the socket empty.

// urgentDepth and freshDepth bound the two queues, in datagrams: at the
// clean maximum of door calls (about 8 000 datagrams a second) a few tens
// of milliseconds each, beyond which a new request has waited past any
// sensible limit.
const (
	urgentDepth = 512
	freshDepth  = 256
)

// urgentBatch is how many urgent datagrams the read loop hands on
// between yields: well under the 61 goroutines the scheduler runs before
// it looks at its global queue, where a yielding goroutine waits, since
// sipgo may start more than one goroutine for a datagram.
const urgentBatch = 16

// slotKeep is the largest buffer a queue slot keeps for its next
// datagram; a larger datagram's is let go once it has been handed on.
const slotKeep = 4096

// nowReader reads a datagram without waiting for one (package udp's
// Conn.ReadFromNow).
type nowReader interface {
	ReadFromNow(b []byte) (n int, addr net.Addr, ok bool, err error)
}

// datagram is a queued datagram with when the kernel received it.
type datagram struct {
	buf  []byte
	addr net.Addr
	at   time.Time
}

// ring is a bounded first-in first-out queue of datagrams.
type ring struct {
	d       []datagram
	head, n int
}

func newRing(depth int) ring { return ring{d: make([]datagram, depth)} }

func (r *ring) full() bool { return r.n == len(r.d) }

// push copies data into the tail; the ring is not full.
func (r *ring) push(data []byte, addr net.Addr, at time.Time) {
	s := &r.d[(r.head+r.n)%len(r.d)]
	s.buf = append(s.buf[:0], data...)
	s.addr, s.at = addr, at
	r.n++
}

// pop copies the head into b and removes it; the ring is not empty.
func (r *ring) pop(b []byte) (int, net.Addr, time.Time) {
	s := &r.d[r.head]
	n := copy(b, s.buf)
	addr, at := s.addr, s.at
	r.drop()
	return n, addr, at
}

// drop removes the head.
func (r *ring) drop() {
	s := &r.d[r.head]
	if cap(s.buf) > slotKeep {
		s.buf = nil
	}
	s.addr = nil
	r.head = (r.head + 1) % len(r.d)
	r.n--
}

// queues is the read loop's priority path; the read loop's alone.
type queues struct {
	now           nowReader
	urgent, fresh ring
	// handed counts the urgent datagrams handed on since the read loop
	// last yielded.
	handed int
	// overflowed counts new requests taken up early from a full queue.
	overflowed atomic.Int64
}

func newQueues(now nowReader) *queues {
	return &queues{now: now, urgent: newRing(urgentDepth), fresh: newRing(freshDepth)}
}

// next reads into b the datagram to handle next: the oldest urgent one,
// else the oldest new request, after taking what the socket holds. fresh
// reports a new request, at when the kernel received it (zero: unknown).
//
// Before it turns from urgent datagrams to new requests it yields the
// processor (runtime.Gosched), and every urgentBatch urgent datagrams
// too: sipgo handles each datagram it is handed in a goroutine of its
// own, so an urgent datagram handed on is not yet handled, and the read
// loop, left running, would refuse or challenge the new requests first,
// on the same core. Yielding puts the read loop behind the goroutines
// already runnable — up to the scheduler's next look at its global queue,
// every 61 goroutines run, hence the batches — and the time it spends
// there counts in the new requests' wait: the backlog of admitted work
// shows in the measure that refuses new calls.
func (q *queues) next(c *ReadyConn, b []byte) (n int, addr net.Addr, fresh bool, at time.Time, err error) {
	if q.urgent.n == 0 && q.fresh.n == 0 {
		// Nothing queued: wait for the socket, and hand on what
		// arrives when it continues something, as a plain read would.
		if n, addr, err = c.PacketConn.ReadFrom(b); err != nil {
			return 0, nil, false, time.Time{}, err
		}
		if !newRequest(b[:n]) {
			q.handed++
			return n, addr, false, time.Time{}, nil
		}
		q.fresh.push(b[:n], addr, c.stamp())
	}
	for {
		if q.handed >= urgentBatch || (q.handed > 0 && q.urgent.n == 0) {
			q.handed = 0
			runtime.Gosched()
		}
		if err := q.drain(c, b); err != nil {
			return 0, nil, false, time.Time{}, err
		}
		if q.urgent.n > 0 {
			n, addr, _ := q.urgent.pop(b)
			q.handed++
			return n, addr, false, time.Time{}, nil
		}
		if q.handed == 0 {
			break
		}
	}
	n, addr, at = q.fresh.pop(b)
	return n, addr, true, at, nil
}

// drain takes what the socket holds into the queues, while the urgent one
// has room; b is scratch.
//
// When the new queue is full its oldest request is taken up at once, not
// dropped: it has waited long enough for the measure to refuse it (a
// scan and a send), and a request dropped would come back as a
// retransmission, and again, until its caller gives up — the calls that
// failed without an answer, each after 32 s, when a first version
// dropped them (bench/overload, three CPU burners). The urgent datagrams
// keep their priority, so in a standing overload the new requests are
// taken up as they overflow, at the rate they come.
func (q *queues) drain(c *ReadyConn, b []byte) error {
	for !q.urgent.full() {
		if q.fresh.full() {
			n, addr, at := q.fresh.pop(b)
			if q.early(c, b[:n], addr, at) {
				q.urgent.push(b[:n], addr, at)
			}
			continue
		}
		n, addr, ok, err := q.now.ReadFromNow(b)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		at := c.stamp()
		if newRequest(b[:n]) {
			q.fresh.push(b[:n], addr, at)
		} else {
			q.urgent.push(b[:n], addr, at)
		}
	}
	return nil
}

// early takes up data, a new request from addr that arrived at at, out of
// its turn: it measures its wait and offers it to c's serve (which
// refuses, challenges or registers); it reports whether sipgo must still
// have it. Requests read while the server closes are dropped.
func (q *queues) early(c *ReadyConn, data []byte, addr net.Addr, at time.Time) bool {
	q.overflowed.Add(1)
	if c.closing.Load() {
		return false
	}
	c.measure(at)
	return c.serve == nil || !c.serve(c.PacketConn, data, addr)
}

// Methods whose requests outside a dialog start new work.
var freshMethods = [][]byte{invitePrefix, []byte("REGISTER "), subscribePrefix}

// newRequest reports whether data is a request that starts new work: an
// INVITE, REGISTER or SUBSCRIBE without a To tag. Everything else —
// responses, other methods, requests inside a dialog — continues work
// already admitted. It reads the request line's method and the To line,
// nothing more: a datagram it cannot read is new (it waits behind the
// admitted work, and whatever reads it next decides).
func newRequest(data []byte) bool {
	fresh := false
	for _, m := range freshMethods {
		if bytes.HasPrefix(data, m) {
			fresh = true
			break
		}
	}
	if !fresh {
		return false
	}
	end := bytes.Index(data, []byte("\r\n\r\n"))
	if end < 0 {
		return true
	}
	head := data[:end+2]
	eol := bytes.Index(head, []byte("\r\n"))
	for head = head[eol+2:]; len(head) > 0; {
		eol := bytes.Index(head, []byte("\r\n"))
		line := head[:eol]
		head = head[eol+2:]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !is(bytes.TrimRight(line[:colon], " \t"), "to", "t") {
			continue
		}
		// A tag parameter in To, or "tag" anywhere else in it (a URI's):
		// in a dialog, or near enough to be taken for one. A false
		// "in a dialog" costs only the priority: what reads it next
		// still refuses a new call.
		return !containsFold(line[colon+1:], "tag")
	}
	return true
}

// containsFold reports whether s contains sub (lower case ASCII) in any
// case, without allocating.
func containsFold(s []byte, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for ; j < len(sub); j++ {
			if s[i+j]|0x20 != sub[j] {
				break
			}
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}
