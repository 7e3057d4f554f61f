package provisioning

import (
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"switchboard/runtime/throttle"
)

// failures counts authentication failures per client address in a
// throttle.Table, the table behind every limit on guessing. After limit
// failures within a window the address is refused until that window closes,
// whatever it sends: a refused address gets no password check at all, so
// guessing stops, right or wrong.
type failures struct {
	limit  int
	window time.Duration

	mu sync.Mutex
	t  throttle.Table[netip.Addr]
}

// newThrottle returns a throttle tracking at most max addresses; past it,
// new addresses go uncounted (they still get their first limit tries) while
// the ones already refused stay refused.
func newThrottle(limit int, window time.Duration, max int) *failures {
	return &failures{limit: limit, window: window, t: throttle.New[netip.Addr](max)}
}

// blocked reports whether ip is refused at now, and for how much longer.
func (t *failures) blocked(ip netip.Addr, now time.Time) (time.Duration, bool) {
	if t.limit <= 0 {
		return 0, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if n, closes := t.t.Count(ip, now, t.window); n >= t.limit {
		return closes.Sub(now), true
	}
	return 0, false
}

// fail counts a failure of ip at now and reports whether ip just became
// refused.
func (t *failures) fail(ip netip.Addr, now time.Time) bool {
	if t.limit <= 0 {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.t.Add(ip, now, t.window) == t.limit
}

// clientAddr is the address a request comes from: the peer, or, when the
// peer is a trusted proxy, the right-most address of X-Forwarded-For that
// is not a trusted proxy (the left-most when all are). ok is false for a
// malformed forwarding header from a trusted proxy, which is refused rather
// than guessed at.
func clientAddr(r *http.Request, trusted []netip.Prefix) (netip.Addr, bool) {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	var addr netip.Addr
	if err == nil {
		addr = peer.Addr().Unmap()
	} else if addr, err = netip.ParseAddr(r.RemoteAddr); err != nil {
		return netip.Addr{}, false
	} else {
		addr = addr.Unmap()
	}
	if !inPrefixes(addr, trusted) {
		return addr, true
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		for h := range strings.SplitSeq(v, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			return netip.Addr{}, false
		}
		addr = a
		if !inPrefixes(addr, trusted) {
			break
		}
	}
	return addr, true
}

// parseHop parses one X-Forwarded-For element: an address, optionally with
// a port ("[2001:db8::1]:4711", "192.0.2.1:4711").
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
