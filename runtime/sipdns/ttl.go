package sipdns

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// ttls reads the TTLs of the DNS responses one lookup receives: Go's
// resolver parses them and drops the TTLs, so the connections it dials
// are watched instead. The lowest TTL of the answers seen is how long the
// lookup's result may be kept; for a negative answer, the SOA's (RFC 2308
// §5: the smaller of its TTL and its MINIMUM).
type ttls struct {
	mu       sync.Mutex
	pos, neg uint32
	hasPos   bool
	hasNeg   bool
}

// positive is the TTL of a lookup that found records: the lowest seen,
// at most most; none when no response told one (the hosts file answered).
func (t *ttls) positive(none, most time.Duration) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.hasPos {
		return none
	}
	return min(time.Duration(t.pos)*time.Second, most)
}

// negative is the TTL of a lookup that found nothing.
func (t *ttls) negative(none, most time.Duration) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.hasNeg {
		return none
	}
	return min(time.Duration(t.neg)*time.Second, most)
}

// see reads one DNS response. Errors leave it unread: the resolver
// reports a malformed response itself.
func (t *ttls) see(msg []byte) {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil || !h.Response {
		return
	}
	if err := p.SkipAllQuestions(); err != nil {
		return
	}
	var pos uint32
	found := false
	for {
		rh, err := p.AnswerHeader()
		if err != nil {
			break
		}
		if !found || rh.TTL < pos {
			pos = rh.TTL
		}
		found = true
		if p.SkipAnswer() != nil {
			break
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if found {
		if !t.hasPos || pos < t.pos {
			t.pos, t.hasPos = pos, true
		}
		return
	}
	if p.SkipAllAnswers() != nil {
		return
	}
	for {
		rh, err := p.AuthorityHeader()
		if err != nil {
			return
		}
		if rh.Type != dnsmessage.TypeSOA {
			if p.SkipAuthority() != nil {
				return
			}
			continue
		}
		soa, err := p.SOAResource()
		if err != nil {
			return
		}
		neg := min(rh.TTL, soa.MinTTL)
		if !t.hasNeg || neg < t.neg {
			t.neg, t.hasNeg = neg, true
		}
		return
	}
}

// dial wraps the resolver's dial so that what it reads is seen.
func (t *ttls) dial(base func(ctx context.Context, network, address string) (net.Conn, error)) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		c, err := base(ctx, network, address)
		if err != nil {
			return nil, err
		}
		// Go's resolver bounds its reads by the context's deadline only:
		// a caller giving up (a cancelled call) must end them too.
		stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
		// Go's resolver speaks datagrams to a PacketConn and
		// length-prefixed messages to anything else: the wrapper must
		// keep that distinction.
		if pc, ok := c.(packetConn); ok {
			return &watchedPacket{packetConn: pc, t: t, stop: stop}, nil
		}
		return &watchedStream{Conn: c, t: t, stop: stop}, nil
	}
}

type packetConn interface {
	net.Conn
	net.PacketConn
}

// watchedPacket is a datagram connection: each read is one response.
type watchedPacket struct {
	packetConn
	t    *ttls
	stop func() bool
}

func (c *watchedPacket) Close() error {
	c.stop()
	return c.packetConn.Close()
}

func (c *watchedPacket) Read(b []byte) (int, error) {
	n, err := c.packetConn.Read(b)
	if n > 0 {
		c.t.see(b[:n])
	}
	return n, err
}

func (c *watchedPacket) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.packetConn.ReadFrom(b)
	if n > 0 {
		c.t.see(b[:n])
	}
	return n, addr, err
}

// watchedStream is a TCP connection: responses are framed by a two-byte
// length (RFC 1035 §4.2.2), and a read may hold part of one or several.
type watchedStream struct {
	net.Conn
	t      *ttls
	stop   func() bool
	frames frames
}

func (c *watchedStream) Close() error {
	c.stop()
	return c.Conn.Close()
}

func (c *watchedStream) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.frames.feed(b[:n], c.t.see)
	}
	return n, err
}

// frames reassembles length-prefixed DNS messages from a byte stream. It
// holds at most one message (65 535 bytes and its prefix).
type frames struct{ buf []byte }

func (f *frames) feed(b []byte, msg func([]byte)) {
	f.buf = append(f.buf, b...)
	for len(f.buf) >= 2 {
		n := int(binary.BigEndian.Uint16(f.buf))
		if len(f.buf) < 2+n {
			return
		}
		msg(f.buf[2 : 2+n])
		f.buf = f.buf[2+n:]
	}
	if len(f.buf) == 0 {
		f.buf = nil
	}
}
