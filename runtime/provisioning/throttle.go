package provisioning

import (
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// throttle counts authentication failures per client address. After limit
// failures within window the address is refused for window, whatever it
// sends: a refused address gets no password check at all, so guessing
// stops, right or wrong.
type throttle struct {
	limit  int
	window time.Duration
	max    int // addresses tracked at most

	mu sync.Mutex
	m  map[netip.Addr]*failures
}

type failures struct {
	n     int
	start time.Time // of the counting window
	until time.Time // refused until
}

func newThrottle(limit int, window time.Duration, max int) *throttle {
	return &throttle{limit: limit, window: window, max: max, m: map[netip.Addr]*failures{}}
}

// blocked reports whether ip is refused at now, and for how much longer.
func (t *throttle) blocked(ip netip.Addr, now time.Time) (time.Duration, bool) {
	if t.limit <= 0 {
		return 0, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.m[ip]
	if f == nil || !now.Before(f.until) {
		return 0, false
	}
	return f.until.Sub(now), true
}

// fail counts a failure of ip at now and reports whether ip just became
// refused.
func (t *throttle) fail(ip netip.Addr, now time.Time) bool {
	if t.limit <= 0 {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.m[ip]
	if f == nil {
		if len(t.m) >= t.max {
			t.sweep(now)
		}
		if len(t.m) >= t.max {
			// Every tracked address is refused right now: a wide attack.
			// New addresses still get their first limit tries; the ones
			// already refused stay refused.
			return false
		}
		f = &failures{start: now}
		t.m[ip] = f
	}
	if now.Sub(f.start) >= t.window {
		f.n, f.start = 0, now
	}
	f.n++
	if f.n >= t.limit && !now.Before(f.until) {
		f.until = now.Add(t.window)
		f.n, f.start = 0, f.until
		return true
	}
	return false
}

// sweep drops addresses that are neither refused nor counting.
func (t *throttle) sweep(now time.Time) {
	for ip, f := range t.m {
		if !now.Before(f.until) && now.Sub(f.start) >= t.window {
			delete(t.m, ip)
		}
	}
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
