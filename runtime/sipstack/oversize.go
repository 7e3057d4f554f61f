package sipstack

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// RFC 3261 §18.1.1: "If a request is within 200 bytes of the path MTU, or
// if it is larger than 1300 bytes and the path MTU is not known, the
// request MUST be sent using an RFC 2914 congestion controlled transport
// protocol, such as TCP", and when that connection is refused (a TCP
// reset, ICMP) "the element SHOULD retry the request, using UDP".
//
// The server sends such requests when it forks a call whose offer is long
// (a video door station's H.264 profiles): Oversize carries them. Two
// things keep a door call from waiting on a TCP attempt that cannot work:
//
//   - A device whose registration came through NAT (its packets arrive
//     from another address than its Contact names) is reached only
//     through the UDP flow its REGISTER opened: a NAT maps no TCP for it,
//     and RFC 5626 §5.3 has requests to a registered flow sent over that
//     flow. Such requests stay on UDP, as Kamailio (udp_mtu unset) and
//     Asterisk always do; IP fragments them.
//   - The connection attempt is bounded (ConnectTimeout), and a
//     destination that refused or dropped it is remembered for
//     RefusedFor, so only the first large request to it pays.

// DefaultUDPMTU is the size above which a request to a directly reachable
// UDP contact goes over TCP first: RFC 3261 §18.1.1's 1 300 bytes, for a
// path MTU the server does not know.
const DefaultUDPMTU = 1300

const (
	// ConnectTimeout bounds the TCP attempt: T1, the RFC's estimate of a
	// round trip. A LAN device that refuses answers at once; a silent
	// drop costs a door call at most this once per RefusedFor.
	ConnectTimeout = 500 * time.Millisecond
	// RefusedFor is how long a destination that took no TCP connection
	// gets its large requests over UDP without trying again.
	RefusedFor = 10 * time.Minute
	// maxRefused bounds the destinations remembered; past it the oldest
	// half is forgotten (they are retried, costing one attempt each).
	maxRefused = 4096
	// viaAllowance is what sipgo adds when it builds the request (the
	// Via header with its branch): the size is measured before that.
	viaAllowance = 120
)

// Oversize sends requests the server originates, choosing TCP for large
// ones as RFC 3261 §18.1.1 says. The zero value and nil send everything
// as given.
type Oversize struct {
	// Limit is the size in bytes above which a request to a direct UDP
	// contact is sent over TCP first; 0 never switches.
	Limit int
	// Now is the clock for RefusedFor; nil: time.Now.
	Now func() time.Time

	mu      sync.Mutex
	refused map[string]time.Time // destination host:port → until when UDP is used
}

// Request starts a client transaction for req with build (sipgo's request
// builder or one of ours). direct says that req's destination is the
// contact's own address, not a NAT binding or flow it registered through.
// A UDP request larger than Limit to a direct destination goes over TCP
// when a connection opens within ConnectTimeout, else over UDP; the TCP
// attempt leaves from a socket of its own (build's local address is the
// UDP listener's, which TCP must not bind).
func (o *Oversize) Request(ctx context.Context, c *sipgo.Client, req *sip.Request, direct bool, build sipgo.ClientRequestOption) (sip.ClientTransaction, error) {
	if !o.wantsTCP(req, direct) {
		return c.TransactionRequest(ctx, req, build)
	}
	dest := req.Destination()
	req.SetTransport("TCP")
	tcpCtx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	tx, err := c.TransactionRequest(tcpCtx, req, func(c *sipgo.Client, r *sip.Request) error {
		if err := build(c, r); err != nil {
			return err
		}
		r.Laddr = sip.Addr{}
		return nil
	})
	cancel()
	if err == nil {
		return tx, nil
	}
	o.remember(dest)
	// The retry is a new transaction over UDP: the Via the first attempt
	// added (transport TCP) goes, build adds the UDP one.
	req.RemoveHeader("Via")
	req.Laddr = sip.Addr{}
	req.SetTransport("UDP")
	return c.TransactionRequest(ctx, req, build)
}

// wantsTCP reports whether req is a UDP request to a direct destination,
// larger than Limit, not recently refused.
func (o *Oversize) wantsTCP(req *sip.Request, direct bool) bool {
	if o == nil || o.Limit <= 0 || !direct || !strings.EqualFold(req.Transport(), "UDP") {
		return false
	}
	var n byteCount
	req.StringWrite(&n)
	if int(n)+viaAllowance <= o.Limit {
		return false
	}
	return !o.isRefused(req.Destination())
}

// byteCount counts what is written to it and keeps none of it: a
// request's size on the wire without building the text (sipgo builds it
// as it sends; building it here too cost a call's INVITEs a string each,
// and their growth, issue 19).
type byteCount int

func (n *byteCount) WriteString(s string) (int, error) {
	*n += byteCount(len(s))
	return len(s), nil
}

func (o *Oversize) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Oversize) isRefused(dest string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	until, ok := o.refused[dest]
	if ok && o.now().After(until) {
		delete(o.refused, dest)
		return false
	}
	return ok
}

func (o *Oversize) remember(dest string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	if o.refused == nil {
		o.refused = make(map[string]time.Time)
	}
	if len(o.refused) >= maxRefused {
		// Forget what expires first: expired entries, then the older half.
		cut := now.Add(RefusedFor / 2)
		for d, until := range o.refused {
			if until.Before(cut) {
				delete(o.refused, d)
			}
		}
		if len(o.refused) >= maxRefused {
			clear(o.refused)
		}
	}
	o.refused[dest] = now.Add(RefusedFor)
}
